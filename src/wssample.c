/*
 * wssample.c - the working-set sampler: a background thread that looks at
 * the pages nobody else has looked at lately.
 *
 * The working-set estimate (workingset.c) learns of references only when
 * someone clears a page's REF bit and unmaps it, so that the next touch
 * faults.  Under memory pressure the replacement policy does that as it
 * hunts for victims; without pressure nothing does, and a page used all the
 * time would look idle.  So every tau/8 this thread (like DAMON's kdamond,
 * or the kernel's idle-page tracking driven from user space) walks the
 * frames and samples each resident page whose last recorded reference is
 * older than tau/4:
 *
 *   REF set    the page was referenced since the last look: record it
 *              (ws_sampled: restamp it, and keep a software copy of the bit
 *              for the policy, which must not lose the reference), clear
 *              REF, unmap it so its next reference faults;
 *   REF clear  not referenced since it was last unmapped: nothing to do
 *              (it is unmapped already; its stamp ages on).
 *
 * A page in use is thus re-sampled every tau/4 to 3tau/8, always within
 * the window; a page no longer used drops out of W at most 3tau/8 late.
 * The cost is one minor fault per page in use per sampling, so each round
 * samples at most WS_ROUND_BUDGET pages (16K per second at the default tau
 * of 1 s, some 50 ms of fault handling per second at the worst); a larger
 * working set is then refreshed less often than tau/4 and W under-counts
 * it - the policies' own sampling still counts, and under memory pressure
 * it dominates.  Pages the policy looked at recently are skipped, so the
 * sampler adds little work when the policy is busy.
 *
 * It holds the system's maplock shared for WS_CHUNK frames at a time (map
 * and unmap wait at most that long), takes pages with trylock only, never
 * touches managed memory, and blocks every signal.
 */
#include "internal.h"
#include "thread.h"
#include "workingset.h"
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#define WS_ROUND_BUDGET 2048            /* pages sampled per round at most */
#define WS_CHUNK        256             /* frames per hold of the maplock */

struct ws_sampler {
    struct vmk_system *sys;
    pthread_t thread;
    _Atomic uint32_t stop;
    uint32_t hand;
};

/* Sample frame f if its last reference is older than age; returns 1 if a
 * page was unmapped.  Maplock held shared. */
static int sample_frame(struct vmk_system *sys, uint32_t f, uint32_t now, uint32_t age)
{
    struct vmk_object *o = atomic_load_explicit(&sys->frames.map[f].obj, memory_order_acquire);
    if (!o || !ws_older_than(sys, f, now, age))
        return 0;
    uint32_t pg = atomic_load_explicit(&sys->frames.map[f].page, memory_order_relaxed);
    if (pg >= o->npages || !(pte_read(&o->ptes[pg]) & PTE_REF))
        return 0;                       /* unreferenced since it was unmapped: no lock needed */
    struct victim v;
    if (!reclaim_take(sys, f, &v))
        return 0;
    if (!(v.val & PTE_REF)) {
        reclaim_untake(&v);
        return 0;
    }
    ws_sampled(sys, &v);
    if (v.val & PTE_MAPPED)
        object_zap(v.obj, v.pg, 1);
    ctr_add(&sys->ctr, C_REF_SAMPLES, 1);
    ctr_add(&v.obj->owner->ctr, C_REF_SAMPLES, 1);
    pte_unlock(v.pte, v.val & ~(PTE_REF | PTE_MAPPED));
    return 1;
}

static void sample_round(struct ws_sampler *s)
{
    struct vmk_system *sys = s->sys;
    uint32_t n = sys->frames.n, tau = ws_tau_ms(sys), age = tau / 4, budget = WS_ROUND_BUDGET;
    uint32_t now = ws_now_ms(sys);
    for (uint32_t done = 0; done < n && budget && !atomic_load(&s->stop);) {
        rw_read_lock(&sys->maplock);
        for (uint32_t k = 0; k < WS_CHUNK && done < n && budget; k++, done++) {
            budget -= (uint32_t)sample_frame(sys, s->hand, now, age);
            s->hand = s->hand + 1 == n ? 0 : s->hand + 1;
        }
        rw_read_unlock(&sys->maplock);
    }
}

static void *sampler_main(void *arg)
{
    struct ws_sampler *s = arg;
    uint32_t period = ws_tau_ms(s->sys) / 8 ? ws_tau_ms(s->sys) / 8 : 1;
    struct timespec ts = { period / 1000, (long)(period % 1000) * 1000000L };
    while (!atomic_load(&s->stop)) {
        syscall(SYS_futex, (uint32_t *)&s->stop, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
        if (!atomic_load(&s->stop))
            sample_round(s);
    }
    return NULL;
}

int ws_sampler_start(struct vmk_system *sys, struct ws_sampler **out)
{
    struct ws_sampler *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->sys = sys;
    int r = thread_start_quiet(&s->thread, sampler_main, s);
    if (r != 0) {
        free(s);
        return -r;
    }
    *out = s;
    return 0;
}

void ws_sampler_stop(struct ws_sampler *s)
{
    if (!s)
        return;
    atomic_store(&s->stop, 1);
    futex_wake(&s->stop, 1);
    pthread_join(s->thread, NULL);
    free(s);
}
