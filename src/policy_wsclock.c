/*
 * policy_wsclock.c - WSClock (Carr and Hennessy, 1981): "wsclock[:TAU]".
 *
 * Denning's working set W(t, tau) of a program is the set of pages it
 * referenced in the last tau units of its virtual time; a page outside it
 * is not worth a frame.  WSClock brings that rule to a clock: the frames
 * stand in a circle, each with the virtual time of its page's last use as
 * the hand saw it, and the hand evicts the first page that is both
 * unreferenced and older than tau.
 *
 * Virtual time here is the system's fault count.  Faults are the references
 * vmkit sees (a first touch, a swap-in, a sampled reference, a first
 * write), and they are exactly the reference string of a recorded trace, so
 * `vmkit sim -p wsclock:TAU` replays the same rule with the same clock.
 * (Wall time would make tau mean "seconds", and a program that stops to
 * compute would see its working set shrink; fault count is the program's
 * own paging time, as Denning's virtual time is its own CPU time.)  TAU is
 * in faults; the default is the number of frames, as in the simulator.
 *
 * At each frame under the hand:
 *
 *   - free, or busy (being faulted or evicted)        -> pass on;
 *   - REF set: referenced since the hand last came     -> stamp the frame
 *     with the current virtual time, clear REF and unmap the page
 *     (reclaim_sample) so the next reference is seen;
 *   - REF clear, last use within tau: in the working set -> pass on;
 *   - REF clear, older than tau, clean                  -> evict: a clean
 *     page costs no write (its swap copy is valid, or it is all zero);
 *   - REF clear, older than tau, dirty                  -> schedule its
 *     write and pass on, hoping for clean pages first.
 *
 * Carr and Hennessy's hand starts the write of an old dirty page and moves
 * on; by its next visit the page is clean and goes without a wait.  vmkit
 * writes evicted pages in one batch per reclaim pass, so "scheduling" means:
 * an old dirty page is kept aside (taken) while the hand looks a little
 * further for old clean ones - up to 4 batches' worth of frames past the
 * point where the batch could have been filled - and the batch is completed
 * with the kept dirty pages, whose writes the reclaimer then issues
 * together.  Kept pages not needed are given back and come round again.
 *
 * If a whole revolution finds too few pages outside the working set (the
 * working sets fill memory - the mark of overcommitment, which load control
 * is for - or tau is longer than the hand's revolutions), Carr and
 * Hennessy's hand "claims any clean page" it saw on the way.  In batches
 * that becomes: the pages seen unreferenced but inside the window are
 * taken oldest last use first, clean before dirty at equal age.  Pages the
 * hand found referenced on the way are not among them (their second
 * chance, as in Clock), nor is the order the hand's: a sweep that evicted
 * in hand order would throw away the references it just collected.  The
 * `want` oldest are kept in a max-heap during the sweep, O(log want) per
 * frame.  A page filled by a fault is stamped at that fault's virtual time.
 *
 * Stamps are written by faulting threads (filled) and the reclaimer:
 * relaxed atomics.  The hand and the kept list are under reclaim_lock.
 */
#include "internal.h"
#include <stdlib.h>

#define LOOKAHEAD 4                 /* batches' worth of frames searched for clean pages */
#define BATCH_MAX 256               /* the reclaimer asks for at most this many */

struct cand { uint64_t key; uint32_t frame; };   /* key: last use << 1 | dirty */

struct wsclock_state {
    struct vmk_system *sys;
    uint32_t n;
    uint64_t tau;                   /* in faults */
    _Atomic uint64_t *last;         /* per frame: virtual time of last use seen */
    struct victim *dirty;           /* kept old dirty pages; reclaim_lock */
    struct cand *heap;              /* oldest pages inside the window; reclaim_lock */
    uint32_t hand;                  /* reclaim_lock */
};

static uint64_t vtime(struct vmk_system *sys)
{
    return ctr_get(&sys->ctr, C_FAULTS);
}

static int wsclock_init(struct policy *p, uint32_t nframes)
{
    struct wsclock_state *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->sys = policy_system(p);
    s->n = nframes;
    s->tau = nframes;
    policy_param(s->sys->policy_name, &s->tau);
    s->last = calloc(nframes, sizeof *s->last);
    s->dirty = calloc(BATCH_MAX, sizeof *s->dirty);
    s->heap = calloc(BATCH_MAX, sizeof *s->heap);
    if (!s->last || !s->dirty || !s->heap) {
        free((void *)s->last), free(s->dirty), free(s->heap), free(s);
        return -ENOMEM;
    }
    p->state = s;
    int r = ws_init(p, nframes);
    if (r < 0)
        free((void *)s->last), free(s->dirty), free(s->heap), free(s);
    return r;
}

static void wsclock_fini(struct policy *p)
{
    struct wsclock_state *s = p->state;
    ws_fini(p);
    free((void *)s->last), free(s->dirty), free(s->heap), free(s);
}

static void wsclock_filled(struct policy *p, uint32_t f)
{
    struct wsclock_state *s = p->state;
    ws_filled(p, f);
    atomic_store_explicit(&s->last[f], vtime(s->sys), memory_order_relaxed);
}

/* Max-heap on key of at most cap entries: keeps the cap smallest keys. */
static void heap_sift_down(struct cand *h, uint32_t n, uint32_t i)
{
    for (uint32_t c; (c = 2 * i + 1) < n; i = c) {
        if (c + 1 < n && h[c + 1].key > h[c].key)
            c++;
        if (h[c].key <= h[i].key)
            return;
        struct cand t = h[i];
        h[i] = h[c], h[c] = t;
    }
}

static void heap_offer(struct cand *h, uint32_t *n, uint32_t cap, struct cand x)
{
    if (*n < cap) {
        uint32_t i = (*n)++;
        h[i] = x;
        while (i > 0 && h[(i - 1) / 2].key < h[i].key) {
            struct cand t = h[i];
            h[i] = h[(i - 1) / 2], h[(i - 1) / 2] = t;
            i = (i - 1) / 2;
        }
    } else if (x.key < h[0].key) {
        h[0] = x;
        heap_sift_down(h, *n, 0);
    }
}

static uint32_t wsclock_select(struct policy *p, struct vmk_system *sys, uint32_t want,
                               struct victim *out)
{
    struct wsclock_state *s = p->state;
    uint32_t got = 0, ndirty = 0, ncand = 0;
    uint64_t now = vtime(sys), full_at = 0;
    if (want > BATCH_MAX)
        want = BATCH_MAX;
    for (uint64_t steps = 0; got < want && steps < s->n; steps++) {
        if (got + ndirty >= want) {     /* the batch could be made: look a little further */
            if (!full_at)
                full_at = steps;
            if (steps - full_at >= (uint64_t)LOOKAHEAD * want)
                break;
        }
        uint32_t f = s->hand;
        s->hand = f + 1 == s->n ? 0 : f + 1;
        struct victim v;
        if (!reclaim_take(sys, f, &v))
            continue;
        if (ws_referenced(sys, &v)) {
            atomic_store_explicit(&s->last[f], now, memory_order_relaxed);
            reclaim_sample(sys, &v);
            continue;
        }
        uint64_t last = atomic_load_explicit(&s->last[f], memory_order_relaxed);
        int dirty = (v.val & PTE_DIRTY) != 0;
        if (last >= now || now - last <= s->tau) {          /* in the working set */
            heap_offer(s->heap, &ncand, want, (struct cand){ last << 1 | (uint64_t)dirty, f });
            reclaim_untake(&v);
        } else if (!dirty) {
            out[got++] = ws_victim(sys, v);
        } else if (ndirty < want) {
            s->dirty[ndirty++] = v;     /* its write is scheduled with this batch */
        } else {
            reclaim_untake(&v);
        }
    }
    uint32_t i = 0;
    for (; i < ndirty && got < want; i++)
        out[got++] = ws_victim(sys, s->dirty[i]);
    for (; i < ndirty; i++)
        reclaim_untake(&s->dirty[i]);
    /* Too few outside the window: the oldest inside it, oldest first. */
    for (uint32_t n = ncand; n > 0; n--) {          /* heap sort, ascending */
        struct cand t = s->heap[0];
        s->heap[0] = s->heap[n - 1], s->heap[n - 1] = t;
        heap_sift_down(s->heap, n - 1, 0);
    }
    for (i = 0; i < ncand && got < want; i++) {
        struct victim v;
        uint32_t f = s->heap[i].frame;
        if (!reclaim_take(sys, f, &v))
            continue;
        if (ws_peek(sys, &v) ||
            atomic_load_explicit(&s->last[f], memory_order_relaxed) != s->heap[i].key >> 1)
            reclaim_untake(&v);          /* used, or another page, since the hand passed */
        else
            out[got++] = ws_victim(sys, v);
    }
    return got;
}

const struct policy_ops policy_wsclock_ops = {
    .name = "wsclock",
    .init = wsclock_init,
    .fini = wsclock_fini,
    .filled = wsclock_filled,
    .select = wsclock_select,
    .param = "TAU",
};
