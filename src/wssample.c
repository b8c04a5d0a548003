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
 * A block at a time.  Unmapping a page costs a TLB shoot-down: an
 * inter-processor interrupt to every CPU that runs one of the process's
 * threads, ~19 us here (a VM: the IPI exits to the hypervisor), and Linux
 * has no call that unmaps scattered pages with one shoot-down
 * (process_madvise does one per range on this kernel, measured).  Pages
 * sampled one by one made it ~20% of all CPU under random access with 8
 * threads.  So a page that is due takes its aligned block of WS_BLOCK
 * object pages with it: every mapped page of the block that can be locked
 * is sampled as above, and one unmap of the block's span serves them all.
 * Its neighbours are sampled early, not more often: a page in use is due
 * every tau/4 anyway, and the faults they take are counted in the round's
 * budget.  A neighbour that cannot be locked (a thread is faulting it in,
 * evicting it) may be unmapped while its entry still says MAPPED, which
 * costs nothing but a fault: the entry is the truth about what the page
 * holds, the MMU only a cache of it, and an unmapped page faults back in
 * from the entry.
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
#define WS_BLOCK        64              /* object pages sampled with one unmap */

struct ws_sampler {
    struct vmk_system *sys;
    pthread_t thread;
    _Atomic uint32_t stop;
    uint32_t hand;
};

/* The mapped pages of v's block besides v, locked (trylock), into nb, at
 * most max; returns how many. */
static uint32_t lock_block(const struct victim *v, struct victim *nb, uint32_t max)
{
    struct vmk_object *o = v->obj;
    size_t lo = v->pg & ~(size_t)(WS_BLOCK - 1), hi = lo + WS_BLOCK < o->npages ? lo + WS_BLOCK : o->npages;
    uint32_t k = 0;
    for (size_t p = lo; p < hi && k < max; p++) {
        uint64_t val;
        if (p == v->pg || !(pte_read(&o->ptes[p]) & PTE_MAPPED) || !pte_trylock(&o->ptes[p], &val))
            continue;
        if ((val & (PTE_RES | PTE_MAPPED)) != (PTE_RES | PTE_MAPPED)) {
            pte_unlock(&o->ptes[p], val);
            continue;
        }
        nb[k++] = (struct victim){ .obj = o, .pg = (uint32_t)p, .frame = pte_frame(val),
                                   .pte = &o->ptes[p], .val = val };
    }
    return k;
}

/* v (taken) is referenced and due: sample it, its block's mapped pages
 * with it (one unmap), budget pages at most (>= 1).  Returns the pages
 * sampled. */
static uint32_t sample_block(struct vmk_system *sys, struct victim *v, uint32_t budget)
{
    struct victim nb[WS_BLOCK];
    uint32_t k = lock_block(v, nb, budget - 1), lo = v->pg, hi = v->pg + 1;
    for (uint32_t i = 0; i < k; i++) {
        lo = nb[i].pg < lo ? nb[i].pg : lo;
        hi = nb[i].pg + 1 > hi ? nb[i].pg + 1 : hi;
    }
    if ((v->val & PTE_MAPPED) || k)
        object_zap(v->obj, lo, hi - lo);
    nb[k++] = *v;
    for (uint32_t i = 0; i < k; i++) {
        if (nb[i].val & PTE_REF)
            ws_sampled(sys, &nb[i]);
        pte_unlock(nb[i].pte, nb[i].val & ~(PTE_REF | PTE_MAPPED));
    }
    ctr_add(&sys->ctr, C_REF_SAMPLES, k);
    ctr_add(&v->obj->owner->ctr, C_REF_SAMPLES, k);
    return k;
}

/* Sample frame f if its last reference is older than age, with its block,
 * budget pages at most (>= 1); returns the pages sampled (0: none).
 * Maplock held shared. */
static uint32_t sample_frame(struct vmk_system *sys, uint32_t f, uint32_t now, uint32_t age,
                             uint32_t budget)
{
    struct vmk_object *o = atomic_load_explicit(&sys->frames.map[f].obj, memory_order_acquire);
    if (!o || o->once || !ws_older_than(sys, f, now, age))   /* once: an unmap drops it */
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
    return sample_block(sys, &v, budget);
}

static void sample_round(struct ws_sampler *s)
{
    struct vmk_system *sys = s->sys;
    uint32_t n = sys->frames.n, tau = ws_tau_ms(sys), age = tau / 4, budget = WS_ROUND_BUDGET;
    uint32_t now = ws_now_ms(sys);
    for (uint32_t done = 0; done < n && budget && !atomic_load(&s->stop);) {
        rw_read_lock(&sys->maplock);
        for (uint32_t k = 0; k < WS_CHUNK && done < n && budget; k++, done++) {
            budget -= sample_frame(sys, s->hand, now, age, budget);
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
