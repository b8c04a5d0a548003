/*
 * inject.h - I/O fault injection: the public calls, the kinds, VMK_INJECT.
 */
#ifndef VMK_INJECT_H
#define VMK_INJECT_H

#include "io.h"

/* Arm the plans that the string spec (VMK_INJECT syntax, docs/FAULTS.md)
 * names; NULL or empty arms nothing.  0, or -EINVAL for a malformed spec
 * (then nothing is armed). */
int inject_parse(struct io_faults *f, const char *spec);

#endif
