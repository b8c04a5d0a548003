/*
 * stats.h - counters, like vmstat, kept per space and per system.
 *
 * Every counter is a relaxed atomic: threads add to it from fault handlers
 * without locks, and a reader gets a value that was true at some moment.
 */
#ifndef VMK_STATS_H
#define VMK_STATS_H

#include <stdatomic.h>
#include <stdint.h>

enum vmk_counter {
    C_FAULTS, C_FAULTS_MINOR, C_FAULTS_MAJOR, C_ZERO_FILLED, C_SWAPPED_IN, C_SWAPPED_OUT,
    C_EVICTED, C_DROPPED_CLEAN, C_REF_SAMPLES, C_WP_FAULTS, C_SIGBUS, C_SWAP_FULL,
    C_IO_ERRORS, C_RESIDENT, C_RESIDENT_PEAK, C_FAULT_NS, C_FILE_READ, C_FILE_WRITTEN, C_REFAULTS,
    C_THRASH_EVENTS, C_PAUSES, C_PAUSED_FAULTS, C_COW_BREAKS, C_COW_AHEAD, C_FORK_COLLAPSES,
    C_FILE_RA, C_FILE_RA_HITS, C_FILE_RA_WASTE, C_FILE_MOVED,
    C_STALL_SOME_NS,             /* closed stretches with a thread in a fault (stall_*) */
    C_NCOUNTERS
};

/* Beside the counters, each space (and the system) keeps the histogram of
 * its working-set estimate: WS_BUCKETS time buckets (workingset.c). */
#define WS_BUCKETS 16

struct vmk_counters {
    _Atomic uint64_t c[C_NCOUNTERS];
    _Atomic uint64_t ws[WS_BUCKETS];
    /* Memory stall (stall_enter/stall_leave in stats.c): the threads of this
     * space (or system) inside a fault, in bits 0..15, and when that number
     * last changed, in bits 16..63 (CLOCK_MONOTONIC ns modulo 2^48). */
    _Atomic uint64_t stall;
    _Atomic uint64_t stall_seen; /* largest stall time read so far: reads are monotone */
    uint64_t opened_ns;          /* system only: CLOCK_MONOTONIC at vmk_system_open */
};

static inline void ctr_add(struct vmk_counters *s, enum vmk_counter k, int64_t n)
{
    atomic_fetch_add_explicit(&s->c[k], (uint64_t)n, memory_order_relaxed);
}

static inline uint64_t ctr_get(struct vmk_counters *s, enum vmk_counter k)
{
    return atomic_load_explicit(&s->c[k], memory_order_relaxed);
}

/* Raise the peak to at least v. */
static inline void ctr_max(struct vmk_counters *s, enum vmk_counter k, uint64_t v)
{
    uint64_t cur = atomic_load_explicit(&s->c[k], memory_order_relaxed);
    while (cur < v && !atomic_compare_exchange_weak_explicit(&s->c[k], &cur, v,
                                                             memory_order_relaxed,
                                                             memory_order_relaxed))
        ;
}

/* Memory stall, like PSI's "some" (stats.c).  A thread entering a fault
 * calls stall_enter on the system's counters and then its space's, and
 * stall_leave on the space's and then the system's, each time passing the
 * time the previous call returned (the first: CLOCK_MONOTONIC in ns).  Each
 * returns the time it recorded (now, or later if the word changed since).
 * Atomics only: safe in the SIGBUS handler. */
__attribute__((visibility("hidden"))) uint64_t stall_enter(struct vmk_counters *c, uint64_t now);
__attribute__((visibility("hidden"))) uint64_t stall_leave(struct vmk_counters *c, uint64_t now);
/* Time so far during which at least one thread was inside a fault, the
 * stretch still open included; never less than an earlier read. */
__attribute__((visibility("hidden"))) uint64_t stall_some_ns(struct vmk_counters *c, uint64_t now);
/* CLOCK_MONOTONIC in ns (async-signal-safe). */
__attribute__((visibility("hidden"))) uint64_t stats_now_ns(void);

#endif
