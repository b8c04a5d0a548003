/*
 * reap.h - unmapping, on a thread of its own, the page tables a fork moved
 * out of the parent's windows (fork.c, mmu_move_out).
 */
#ifndef VMK_REAP_H
#define VMK_REAP_H

#include <stddef.h>

struct vmk_system;

/* The system's reaper will munmap [addr, addr+len) (which holds nothing
 * anybody uses any more).  Without a reaper thread (it could not start),
 * the caller unmaps it at once. */
void reap_defer(struct vmk_system *sys, void *addr, size_t len);
/* Wait until everything handed over so far is unmapped. */
void reap_drain(struct vmk_system *sys);
/* Drain and end the thread (vmk_system_close). */
void reap_stop(struct vmk_system *sys);

#endif
