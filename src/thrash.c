/*
 * thrash.c - thrashing detection and load control.
 *
 * Thrashing is the state in which the working sets of the spaces together
 * no longer fit in the frames: pages are evicted just before they are needed
 * again, every thread waits on faults, and adding faulting threads makes it
 * worse.  Two signals say so, measured over windows of at least 50 ms:
 *
 *   refault share  refaults / major faults (see is_refault in fault.c: pages
 *                  back from swap that a budget's worth more memory would
 *                  have kept) - the working sets do not fit;
 *   stall share    time threads spent resolving faults / wall time - the
 *                  threads wait instead of running (like PSI's "some").
 *
 * Both above their thresholds (documented in vmkit.h: 25% and 50%) for one
 * window: the system is thrashing.  It says so - vmk_stats.thrashing, a
 * callback if one is registered, one line on stderr the first time - and,
 * when load control is on, it acts as the textbook says: fewer active
 * spaces, not more faults.  The lowest-priority space that faults (ties:
 * the one created last) is paused: its faults wait, so it stops competing
 * for frames and its pages age out, and the others' working sets fit.  It
 * resumes when a window passes without thrashing, or after 2 s at most (so
 * no space starves); if thrashing goes on, the choice is made again.
 *
 * The check runs in whichever faulting thread first sees the window expire
 * (a compare-and-swap on the window's start), so it costs one clock read per
 * fault the rest of the time.
 */
#include "internal.h"
#include <stdio.h>
#include <time.h>

#define WINDOW_NS     50000000ull        /* 50 ms */
#define MAX_PAUSE_NS  2000000000ull      /* 2 s */
#define REFAULT_PCT   25
#define STALL_PCT     50

static uint64_t mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* The space to pause: lowest priority, then the one created last (maplock held). */
static struct vmk_space *pick_victim(struct vmk_system *sys)
{
    struct vmk_space *best = NULL;
    for (size_t i = 0; i < sys->nspaces; i++) {
        struct vmk_space *as = sys->spaces[i];
        if (ctr_get(&as->ctr, C_FAULTS) == 0)
            continue;
        if (!best || as->priority < best->priority ||
            (as->priority == best->priority && as->id > best->id))
            best = as;
    }
    return best;
}

/* Evaluate the window that just ended (one thread at a time). */
static void evaluate(struct vmk_system *sys, struct thrash *t, uint64_t now)
{
    uint64_t majors = ctr_get(&sys->ctr, C_FAULTS_MAJOR), refaults = ctr_get(&sys->ctr, C_REFAULTS);
    uint64_t stall = ctr_get(&sys->ctr, C_FAULT_NS);
    uint64_t dm = majors - t->majors, dr = refaults - t->refaults, ds = stall - t->stall;
    uint64_t dt = now - t->window_start;
    t->majors = majors, t->refaults = refaults, t->stall = stall;
    bool thrashing = dm >= 16 && dr * 100 >= dm * REFAULT_PCT && ds * 100 >= dt * STALL_PCT;
    bool was = atomic_load(&t->thrashing);
    atomic_store(&t->thrashing, thrashing);
    if (thrashing && !was) {
        ctr_add(&sys->ctr, C_THRASH_EVENTS, 1);
        report_once(&sys->said_thrash, "vmkit: thrashing: the working sets do not fit in the "
                                       "frames (refaults and fault stalls high)");
        if (sys->cfg.on_thrashing)
            sys->cfg.on_thrashing(sys, 1, sys->cfg.on_thrashing_arg);
    } else if (!thrashing && was && sys->cfg.on_thrashing) {
        sys->cfg.on_thrashing(sys, 0, sys->cfg.on_thrashing_arg);
    }
    if (!sys->cfg.load_control)
        return;
    struct vmk_space *paused = atomic_load(&t->paused);
    if (paused && (!thrashing || now - t->paused_at > MAX_PAUSE_NS)) {
        atomic_store(&t->paused, NULL);           /* resume */
        atomic_fetch_add(&t->resume, 1);
        futex_wake(&t->resume, INT_MAX);
        paused = NULL;
        if (!thrashing)
            return;
    }
    if (thrashing && !paused) {
        struct vmk_space *v = pick_victim(sys);
        if (v && sys->nspaces > 1) {
            t->paused_at = now;
            atomic_store(&t->paused, v);
            ctr_add(&sys->ctr, C_PAUSES, 1);
            ctr_add(&v->ctr, C_PAUSES, 1);
        }
    }
}

/* Called on every fault (maplock shared).  Returns true if the faulting
 * space is paused: the caller drops its locks, waits (thrash_wait) and lets
 * the access fault again. */
bool thrash_check(struct vmk_system *sys, struct vmk_space *as)
{
    struct thrash *t = &sys->thrash;
    uint64_t now = mono(), start = atomic_load_explicit(&t->window_start, memory_order_relaxed);
    if (now - start >= WINDOW_NS &&
        atomic_compare_exchange_strong(&t->window_start, &start, now)) {
        mutex_lock(&t->lock);
        evaluate(sys, t, now);
        mutex_unlock(&t->lock);
    }
    return atomic_load_explicit(&t->paused, memory_order_relaxed) == as;
}

/* Wait while the space is paused (no locks held), a window at a time. */
void thrash_wait(struct vmk_system *sys, struct vmk_space *as)
{
    struct thrash *t = &sys->thrash;
    ctr_add(&as->ctr, C_PAUSED_FAULTS, 1);
    ctr_add(&sys->ctr, C_PAUSED_FAULTS, 1);
    uint32_t gen = atomic_load(&t->resume);
    if (atomic_load(&t->paused) != as)
        return;
    struct timespec ts = { 0, (long)WINDOW_NS };
    syscall(SYS_futex, (uint32_t *)&t->resume, FUTEX_WAIT_PRIVATE, gen, &ts, NULL, 0);
}

bool thrash_now(struct vmk_system *sys)
{
    return atomic_load(&sys->thrash.thrashing);
}

VMK_API int vmk_space_set_priority(vmk_space *as, int priority)
{
    if (!as)
        return -EINVAL;
    as->priority = priority;
    return 0;
}
