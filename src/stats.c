/*
 * stats.c - reading and printing the counters, and the memory stall clock.
 */
#include "internal.h"
#include "statlog.h"
#include <time.h>

uint64_t stats_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/*
 * Memory stall, like Linux's PSI "some": the wall time during which at least
 * one thread of a space (or of the system) was inside a fault - resolving
 * it, waiting for a page another thread holds, for swap I/O, for a frame, or
 * paused by load control.  It is the union of the threads' fault intervals,
 * not their sum (the sum is fault_ns): two threads stalled over the same
 * millisecond count one millisecond, so the share of wall time is at most
 * 100%.
 *
 * One 64-bit word holds both the number of threads in a fault (bits 0..15)
 * and the time that number last changed (bits 16..63, nanoseconds modulo
 * 2^48, i.e. 78 hours).  Every entry and exit replaces the word with a
 * compare-and-swap: count plus or minus one, time = now; and if the count
 * was not 0, the stretch from the old time to now was stalled and is added
 * to C_STALL_SOME_NS.  Because the count and the time change together, no
 * thread can take another's starting time (the race of a separate "start"
 * variable written after a 0 -> 1 increment), and because each change
 * closes the stretch since the one before, a stretch that never ends (a
 * space whose threads overlap forever) is still counted as it goes, and
 * the modulo never wraps within a stretch.
 *
 * The times in a word never go backwards: a caller's clock reading that is
 * older than the word's last change (it read the clock, then another
 * thread changed the word first) is replaced by a fresh reading, taken
 * after the word was loaded.  Each call returns the time it recorded, and
 * the fault path passes it on: it enters the system's word and then its
 * space's with the time the system's got (or later), and leaves the
 * space's and then the system's with the time the space's got (or later).
 * So every thread's interval in the system contains its interval in the
 * space, and the system's stall is at least each space's.
 *
 * A reader adds the open stretch (count > 0: now - time) to the closed sum.
 * It reads the sum before the word, so a change that happens in between can
 * only make it read less, never count a stretch twice; and it returns at
 * least what any earlier read returned (stall_seen), so a series of reads
 * never goes down.
 */
#define STALL_COUNT_MASK 0xffffull
#define STALL_TIME_MASK  ((1ull << 48) - 1)

static uint64_t stall_move(struct vmk_counters *c, int d, uint64_t now)
{
    uint64_t old = atomic_load_explicit(&c->stall, memory_order_relaxed);
    for (;;) {
        uint64_t n = old & STALL_COUNT_MASK, then = old >> 16;
        uint64_t dt = ((now & STALL_TIME_MASK) - then) & STALL_TIME_MASK;
        if (dt > STALL_TIME_MASK / 2) {   /* read before the last change */
            now = stats_now_ns();
            dt = ((now & STALL_TIME_MASK) - then) & STALL_TIME_MASK;
            if (dt > STALL_TIME_MASK / 2) {   /* a clock that went back: hold it */
                now += STALL_TIME_MASK + 1 - dt;
                dt = 0;
            }
        }
        if (d < 0 && n == 0)
            return now;                    /* unbalanced: never happens */
        uint64_t next = (now & STALL_TIME_MASK) << 16 | (n + (uint64_t)(int64_t)d);
        if (atomic_compare_exchange_weak_explicit(&c->stall, &old, next, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            if (n && dt)
                atomic_fetch_add_explicit(&c->c[C_STALL_SOME_NS], dt, memory_order_release);
            return now;
        }
    }
}

uint64_t stall_enter(struct vmk_counters *c, uint64_t now) { return stall_move(c, 1, now); }
uint64_t stall_leave(struct vmk_counters *c, uint64_t now) { return stall_move(c, -1, now); }

uint64_t stall_some_ns(struct vmk_counters *c, uint64_t now)
{
    uint64_t v = atomic_load_explicit(&c->c[C_STALL_SOME_NS], memory_order_acquire);
    uint64_t w = atomic_load_explicit(&c->stall, memory_order_acquire);
    if (w & STALL_COUNT_MASK) {
        uint64_t dt = ((now & STALL_TIME_MASK) - (w >> 16)) & STALL_TIME_MASK;
        if (dt <= STALL_TIME_MASK / 2)
            v += dt;
    }
    uint64_t seen = atomic_load_explicit(&c->stall_seen, memory_order_relaxed);
    while (seen < v && !atomic_compare_exchange_weak_explicit(&c->stall_seen, &seen, v,
                                                              memory_order_relaxed,
                                                              memory_order_relaxed))
        ;
    return seen > v ? seen : v;
}

static void fill(struct vmk_system *sys, struct vmk_counters *c, vmk_stats *out)
{
    out->faults = ctr_get(c, C_FAULTS);
    out->faults_minor = ctr_get(c, C_FAULTS_MINOR);
    out->faults_major = ctr_get(c, C_FAULTS_MAJOR);
    out->pages_zero_filled = ctr_get(c, C_ZERO_FILLED);
    out->pages_swapped_in = ctr_get(c, C_SWAPPED_IN);
    out->pages_swapped_out = ctr_get(c, C_SWAPPED_OUT);
    out->pages_evicted = ctr_get(c, C_EVICTED);
    out->pages_dropped_clean = ctr_get(c, C_DROPPED_CLEAN);
    out->ref_samples = ctr_get(c, C_REF_SAMPLES);
    out->wp_faults = ctr_get(c, C_WP_FAULTS);
    out->sigbus = ctr_get(c, C_SIGBUS);
    out->swap_full = ctr_get(c, C_SWAP_FULL);
    out->io_errors = ctr_get(c, C_IO_ERRORS);
    out->resident = ctr_get(c, C_RESIDENT);
    out->resident_peak = ctr_get(c, C_RESIDENT_PEAK);
    out->fault_ns = ctr_get(c, C_FAULT_NS);
    out->pages_file_read = ctr_get(c, C_FILE_READ);
    out->pages_file_written = ctr_get(c, C_FILE_WRITTEN);
    out->refaults = ctr_get(c, C_REFAULTS);
    out->thrashing = thrash_now(sys);
    out->thrash_events = ctr_get(c, C_THRASH_EVENTS);
    out->pauses = ctr_get(c, C_PAUSES);
    out->paused_faults = ctr_get(c, C_PAUSED_FAULTS);
    out->cow_breaks = ctr_get(c, C_COW_BREAKS);
    out->cow_ahead = ctr_get(c, C_COW_AHEAD);
    out->fork_collapses = ctr_get(c, C_FORK_COLLAPSES);
    out->shared_resident = c == &sys->ctr ? ctr_get(&sys->fork_space.ctr, C_RESIDENT) : 0;
    out->working_set = ws_estimate(sys, c);
    out->working_set_tau_ms = ws_tau_ms(sys);
    out->file_readahead = ctr_get(c, C_FILE_RA);
    out->file_readahead_hits = ctr_get(c, C_FILE_RA_HITS);
    out->file_readahead_waste = ctr_get(c, C_FILE_RA_WASTE);
    out->file_pages_moved = ctr_get(c, C_FILE_MOVED);
    uint64_t now = stats_now_ns();
    out->stall_some_ns = stall_some_ns(c, now);
    out->wall_ns = now - sys->ctr.opened_ns;
    swap_usage(&sys->swap, &out->swap_used, &out->swap_total);
    out->frames_total = sys->frames.n;
}

VMK_API int vmk_stats_get(vmk_system *sys, vmk_stats *out)
{
    if (!sys || !out)
        return -EINVAL;
    fill(sys, &sys->ctr, out);
    return 0;
}

/* Swap slots held by the space's pages: counted from its page tables
 * (maplock held). */
static uint64_t space_swap_used(struct vmk_space *as)
{
    struct vmk_system *sys = as->sys;
    uint64_t n = 0;
    for (size_t i = 0; i < sys->nvmas; i++) {
        struct vmk_vma *v = sys->vmas[i];
        if (v->space != as)
            continue;
        for (size_t pg = v->pgoff; pg < vma_page(v, v->end); pg++)
            if (pte_read(&v->obj->ptes[pg]) & PTE_SWAP)
                n++;
    }
    return n;
}

void stats_space_locked(struct vmk_space *as, vmk_stats *out)
{
    fill(as->sys, &as->ctr, out);
    out->swap_used = space_swap_used(as);
}

VMK_API int vmk_space_stats(vmk_space *as, vmk_stats *out)
{
    if (!as || !out)
        return -EINVAL;
    rw_read_lock(&as->sys->maplock);
    stats_space_locked(as, out);
    rw_read_unlock(&as->sys->maplock);
    return 0;
}

VMK_API void vmk_stats_print(const vmk_stats *s, FILE *f)
{
    if (!s || !f)
        return;
    fprintf(f, "faults            %12llu  (minor %llu, major %llu, write-enable %llu)\n",
            (unsigned long long)s->faults, (unsigned long long)s->faults_minor,
            (unsigned long long)s->faults_major, (unsigned long long)s->wp_faults);
    fprintf(f, "refaults          %12llu  (swapped back within a budget's worth of evictions)\n",
            (unsigned long long)s->refaults);
    fprintf(f, "pages zero-filled %12llu\n", (unsigned long long)s->pages_zero_filled);
    fprintf(f, "pages swapped in  %12llu\n", (unsigned long long)s->pages_swapped_in);
    fprintf(f, "pages swapped out %12llu\n", (unsigned long long)s->pages_swapped_out);
    fprintf(f, "pages evicted     %12llu  (dropped clean %llu)\n",
            (unsigned long long)s->pages_evicted, (unsigned long long)s->pages_dropped_clean);
    fprintf(f, "reference samples %12llu\n", (unsigned long long)s->ref_samples);
    if (s->pages_file_read || s->pages_file_written)
        fprintf(f, "file pages        %12llu read, %llu written back\n",
                (unsigned long long)s->pages_file_read, (unsigned long long)s->pages_file_written);
    if (s->file_readahead) {
        uint64_t settled = s->file_readahead_hits + s->file_readahead_waste;
        fprintf(f, "file readahead    %12llu  (hits %llu, waste %llu, pending %llu)\n",
                (unsigned long long)s->file_readahead, (unsigned long long)s->file_readahead_hits,
                (unsigned long long)s->file_readahead_waste,
                (unsigned long long)(settled < s->file_readahead ? s->file_readahead - settled : 0));
    }
    if (s->file_pages_moved)
        fprintf(f, "file pages moved  %12llu  (recycled pages moved into place: files mapped once)\n",
                (unsigned long long)s->file_pages_moved);
    fprintf(f, "resident          %12llu  (peak %llu of %llu frames)\n",
            (unsigned long long)s->resident, (unsigned long long)s->resident_peak,
            (unsigned long long)s->frames_total);
    if (s->working_set_tau_ms)
        fprintf(f, "working set       %12llu  (pages referenced in the last %llu ms)\n",
                (unsigned long long)s->working_set, (unsigned long long)s->working_set_tau_ms);
    if (s->cow_breaks || s->shared_resident || s->fork_collapses)
        fprintf(f, "fork              %12llu  pages copied on write (%llu ahead), %llu resident pages shared, "
                "%llu snapshots collapsed\n",
                (unsigned long long)s->cow_breaks, (unsigned long long)s->cow_ahead,
                (unsigned long long)s->shared_resident, (unsigned long long)s->fork_collapses);
    fprintf(f, "swap used         %12llu  (of %llu slots)\n", (unsigned long long)s->swap_used,
            (unsigned long long)s->swap_total);
    fprintf(f, "sigbus            %12llu  (swap full %llu, I/O errors %llu)\n",
            (unsigned long long)s->sigbus, (unsigned long long)s->swap_full,
            (unsigned long long)s->io_errors);
    fprintf(f, "thrashing         %12s  (%llu episodes; load control paused spaces %llu times)\n",
            s->thrashing ? "YES" : "no", (unsigned long long)s->thrash_events,
            (unsigned long long)s->pauses);
    if (s->faults)
        fprintf(f, "fault time        %12.2f us average\n", s->fault_ns / 1e3 / (double)s->faults);
    if (s->wall_ns)
        fprintf(f, "memory stall      %11.1f%%  (some: %.3f s with a thread in a fault, of %.3f s "
                   "since the system opened; fault time of all threads %.3f s)\n",
                100.0 * (double)s->stall_some_ns / (double)s->wall_ns, s->stall_some_ns / 1e9,
                s->wall_ns / 1e9, s->fault_ns / 1e9);
}
