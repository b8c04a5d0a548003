/*
 * report.c - the library's only output: one line on stderr per kind of
 * trouble, the first time it happens (async-signal-safe: write(2) only).
 */
#include "internal.h"
#include <string.h>

void report_once(_Atomic int *flag, const char *msg)
{
    int expect = 0;
    if (!atomic_compare_exchange_strong(flag, &expect, 1))
        return;
    size_t n = strlen(msg);
    ssize_t r = write(2, msg, n);
    r = write(2, "\n", 1);
    (void)r;
}
