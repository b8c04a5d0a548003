/*
 * workingset.c - the working-set estimate W(t, tau) of each space.
 *
 * Denning's working set W(t, tau) is the set of pages a program referenced
 * in the interval (t - tau, t]; its size is how much memory the program
 * needs right now, and when the working sets of all spaces together exceed
 * the frames, the system thrashes.  vmkit estimates |W| per space, with
 * tau = 1 s of *wall* time by default (VMK_WS_TAU_MS).  Denning's tau is in
 * the program's virtual time (its own CPU time); vmkit cannot attribute CPU
 * time to a space - threads are not bound to spaces - so wall time it is:
 * a space that is idle or paused by load control sees its working set
 * shrink while it waits, which is also what its frames are then worth.
 *
 * What is seen.  vmkit learns of references only from the REF bit that
 * every fault sets, and a mapped page takes no faults: its references are
 * seen only when someone samples it (clears REF and unmaps it; the next
 * touch takes a minor fault and sets REF again).  The replacement policies
 * sample as they look for victims, and the sampler (wssample.c) samples the
 * pages nobody has looked at for tau/4, so even without memory pressure
 * every resident page is looked at about every tau/4 to 3tau/8.  All of
 * them report here, so this file adds to a fault only a coarse clock read,
 * two atomic adds and two shadow-table probes (below) per page it fills:
 *
 *   - a fault fills frame f:  the page was referenced now.  Its frame is
 *     stamped with the time, and the page counts in the time bucket of now.
 *   - an observer finds REF set on the page in frame f (policy or sampler,
 *     which then clears it): the page was referenced since the frame's last
 *     look, so it is moved from the bucket of its old stamp to the bucket of
 *     now, and restamped.  Except at the first look after the fill: that
 *     REF may be the filling fault's own, whose time is already recorded,
 *     so the stamp stays (a page touched once is then counted for exactly
 *     tau after its fault, not tau after whenever someone first looked).
 *   - a page leaves (eviction, unmap): nothing happens.  It was referenced
 *     at its stamp and stays counted until that falls out of the window -
 *     which is what lets W exceed the frames: a scan at r pages/s has
 *     |W| = r * tau however little of it stays resident.
 *   - a page comes back (faulted in again while its old reference is still
 *     counted): it must not count twice, or a thrashing space, whose pages
 *     cycle through the frames many times per tau, would report every
 *     fill.  Like Linux's shadow entries, the departed page leaves a
 *     shadow: when the policy picks it as a victim (ws_victim), its 32-bit
 *     fingerprint of object and page (kept per frame) goes into a shadow
 *     table with its stamp - as does, when a frame is refilled, a page that
 *     left it otherwise (unmap).  A page being filled looks itself up
 *     there, and if found, its old count is removed from its old bucket
 *     before the new one is added.  The table has 4 x frames entries in
 *     buckets of eight (a cache line), each a 64-bit word (fingerprint,
 *     stamp) claimed and cleared with compare-and-swap; a full bucket drops
 *     the entry with the oldest stamp.  So a page coming back after fewer
 *     than about 4 x frames other evictions is counted once - the refault distance that matters for
 *     thrashing is at most the frame count - and one coming back later is
 *     counted twice, an overestimate bounded by the refills within tau.
 *
 * So |W(t, tau)| = the number of pages whose last recorded reference falls
 * in (t - tau, t].  It is kept per space as a histogram of such pages by
 * time bucket: WS_BUCKETS buckets of tau/8 each, in a ring beside the
 * space's counters (struct vmk_counters).  Each bucket is one 64-bit word,
 * a 24-bit tag naming its bucket number and a 40-bit count, updated with
 * compare-and-swap, so no lock is taken and a stale bucket (its tag from
 * two ring turns ago) reads as empty and is reset by the first add of its
 * new turn.  W = the 8 newest buckets, plus the oldest one weighted by the
 * part of it still inside the window (linear interpolation: exact for
 * references spread evenly in time).  The system keeps the same histogram
 * over all its spaces, and each object one over its own pages: a page's
 * count is in the space that owns its object, as its resident count is, so
 * when a fork freezes an object (its pages now the snapshot's, counted in
 * fork_space) or a collapse thaws one (fork.c, collapse.c), the object's
 * ring says what to move - WS_BUCKETS words, not a walk of its pages.
 *
 * A fill looks for a shadow only in an object a page of which has left a
 * frame before (ws_left): the look is a random cache line in a table of
 * 4 x frames entries, ~8% of a first-touch fill when done for every page.
 *
 * Errors, all bounded: a reference is dated at the look that found it, up
 * to one sampling interval late (a page leaving the working set is counted
 * up to ~3tau/8 longer); a page faulted back after its shadow was dropped
 * is counted twice (a victim whose eviction then fails - swap full - keeps
 * a stale shadow, which at worst moves one count between two buckets);
 * fault-around and read-ahead pages count as referenced by the fault that
 * brought them, as the policies see them.
 *
 * Per frame: a 32-bit stamp (milliseconds since the system opened, + 1; 0:
 * none), the 32-bit fingerprint of its page, and a byte of flags - SOFT, "REF was set and the sampler cleared
 * it": the policy's reference, kept for it until it asks (ws_referenced);
 * FRESH, "filled and not looked at since".  Both are atomics: faulting
 * threads, the reclaimer and the sampler write them, each while holding
 * the page's BUSY bit.
 */
#include "internal.h"
#include "workingset.h"
#include <stdlib.h>
#include <time.h>

#define WS_WINDOW   8                   /* buckets per tau */
#define TAG_BITS    24
#define TAG_MASK    ((1u << TAG_BITS) - 1)
#define CNT_BITS    40
#define CNT_MASK    ((1ull << CNT_BITS) - 1)

#define F_SOFT      1u
#define F_FRESH     2u

#define SH_WAYS     8                   /* 64 bytes: a bucket is a cache line */
#define SH_PER_FRAME 4
#define SH_MAX      (1u << 23)          /* shadow entries at most (64 MiB) */

_Static_assert(WS_BUCKETS > WS_WINDOW + 1, "the ring must hold the window and a spare");

struct workingset {
    struct vmk_system *sys;
    uint32_t n;
    uint32_t tau_ms, bucket_ms;
    uint64_t start_ns;
    _Atomic uint32_t *stamp;            /* per frame */
    _Atomic uint8_t *flags;             /* per frame */
    _Atomic uint32_t *who;              /* per frame: fingerprint of its page */
    _Atomic uint64_t *shadow;           /* fingerprint << 32 | stamp; 0: empty */
    uint32_t shmask;                    /* shadow buckets - 1 */
    struct ws_sampler *sampler;
};

static uint64_t coarse_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static struct workingset *ws_of(struct vmk_system *sys)
{
    return sys->policy.ws;
}

static uint32_t now_ms(const struct workingset *ws)
{
    return (uint32_t)((coarse_ns() - ws->start_ns) / 1000000u);
}

uint32_t ws_now_ms(struct vmk_system *sys)
{
    struct workingset *ws = ws_of(sys);
    return ws ? now_ms(ws) : 0;
}

uint32_t ws_tau_ms(struct vmk_system *sys)
{
    struct workingset *ws = ws_of(sys);
    return ws ? ws->tau_ms : 0;
}

/* ---------------------------------------------------------- the buckets */

/* Add delta to the count of bucket number b.  If the word holds an older
 * bucket, create: reset it to b first; otherwise (a removal from a bucket
 * already recycled, or a bucket newer than b) the delta is dropped. */
static void bucket_add(_Atomic uint64_t *ring, uint32_t b, int64_t delta, bool create)
{
    _Atomic uint64_t *w = &ring[b % WS_BUCKETS];
    uint32_t tag = b & TAG_MASK;
    uint64_t old = atomic_load_explicit(w, memory_order_relaxed), nw;
    do {
        uint32_t have = (uint32_t)(old >> CNT_BITS);
        if (have == tag)
            nw = (old & ~CNT_MASK) | ((old + (uint64_t)delta) & CNT_MASK);
        else if (create && ((tag - have) & TAG_MASK) < (1u << (TAG_BITS - 1)))
            nw = (uint64_t)tag << CNT_BITS | ((uint64_t)delta & CNT_MASK);
        else
            return;
    } while (!atomic_compare_exchange_weak_explicit(w, &old, nw, memory_order_relaxed,
                                                    memory_order_relaxed));
}

/* The (signed) count a bucket word holds. */
static int64_t word_count(uint64_t w)
{
    uint64_t v = w & CNT_MASK;
    return v & (1ull << (CNT_BITS - 1)) ? (int64_t)(v | ~CNT_MASK) : (int64_t)v;
}

/* The count of bucket number b, 0 if its word holds another bucket. */
static int64_t bucket_count(_Atomic uint64_t *ring, uint32_t b)
{
    uint64_t w = atomic_load_explicit(&ring[b % WS_BUCKETS], memory_order_relaxed);
    return (uint32_t)(w >> CNT_BITS) == (b & TAG_MASK) ? word_count(w) : 0;
}

static void count_ref(struct workingset *ws, struct vmk_object *o, uint32_t b, int64_t delta,
                      bool create)
{
    bucket_add(o->ws, b, delta, create);
    bucket_add(o->owner->ctr.ws, b, delta, create);
    bucket_add(ws->sys->ctr.ws, b, delta, create);
}

/* The page in frame f (of object o) was referenced at t: move it from the
 * bucket of its old stamp to t's. */
static void restamp(struct workingset *ws, struct vmk_object *o, uint32_t f, uint32_t t)
{
    uint32_t old = atomic_exchange_explicit(&ws->stamp[f], t + 1, memory_order_relaxed);
    uint32_t bo = old ? (old - 1) / ws->bucket_ms : 0, bn = t / ws->bucket_ms;
    if (old && bo == bn)
        return;
    if (old)
        count_ref(ws, o, bo, -1, false);
    count_ref(ws, o, bn, 1, true);
}

/* ------------------------------------------------------------ shadows */

static uint32_t page_fp(const struct vmk_object *o, uint32_t pg)
{
    uint64_t h = (uint64_t)(uintptr_t)o * 0x9E3779B97F4A7C15ull ^ (uint64_t)pg * 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 32;
    return (uint32_t)h ? (uint32_t)h : 1;
}

static _Atomic uint64_t *sh_bucket(struct workingset *ws, uint32_t fp)
{
    uint32_t b = (fp * 0x9E3779B1u) >> 7 & ws->shmask;
    return ws->shadow + (size_t)b * SH_WAYS;
}

/* Record that the page fp, last referenced at stamp (+1), left. */
static void shadow_put(struct workingset *ws, uint32_t fp, uint32_t stamp)
{
    _Atomic uint64_t *w = sh_bucket(ws, fp);
    uint64_t nw = (uint64_t)fp << 32 | stamp;
    for (int tries = 0; tries < 4; tries++) {
        int victim = 0;
        uint64_t cur[SH_WAYS];
        for (int i = 0; i < SH_WAYS; i++) {
            cur[i] = atomic_load_explicit(&w[i], memory_order_relaxed);
            if (!cur[i] || (uint32_t)(cur[i] >> 32) == fp) {
                victim = i;
                break;
            }
            if ((uint32_t)cur[i] < (uint32_t)cur[victim])
                victim = i;                             /* the oldest stamp */
        }
        if (atomic_compare_exchange_strong_explicit(&w[victim], &cur[victim], nw,
                                                    memory_order_relaxed, memory_order_relaxed))
            return;
    }
}

/* The stamp (+1) the page fp left with, removing its shadow; 0 if none. */
static uint32_t shadow_take(struct workingset *ws, uint32_t fp)
{
    _Atomic uint64_t *w = sh_bucket(ws, fp);
    for (int i = 0; i < SH_WAYS; i++) {
        uint64_t cur = atomic_load_explicit(&w[i], memory_order_relaxed);
        if (cur && (uint32_t)(cur >> 32) == fp &&
            atomic_compare_exchange_strong_explicit(&w[i], &cur, 0, memory_order_relaxed,
                                                    memory_order_relaxed))
            return (uint32_t)cur;
    }
    return 0;
}

/* ------------------------------------------------------------ the feeds */

void ws_filled(struct policy *p, uint32_t f)
{
    struct workingset *ws = p->ws;
    if (!ws)
        return;
    struct frame *fr = &ws->sys->frames.map[f];
    struct vmk_object *o = atomic_load_explicit(&fr->obj, memory_order_acquire);
    if (!o)
        return;
    uint32_t t = now_ms(ws), fp = page_fp(o, atomic_load_explicit(&fr->page, memory_order_relaxed));
    /* The page that held the frame before left; its count stays, its shadow
     * remembers where (a victim's shadow is already there: who[f] was
     * cleared then). */
    uint32_t old_fp = atomic_exchange_explicit(&ws->who[f], fp, memory_order_relaxed);
    uint32_t old = atomic_exchange_explicit(&ws->stamp[f], t + 1, memory_order_relaxed);
    if (old_fp && old)
        shadow_put(ws, old_fp, old);
    atomic_store_explicit(&ws->flags[f], F_FRESH, memory_order_relaxed);
    /* Back within the window: move its count rather than add one (no
     * shadow to look for if no page of o ever left). */
    uint32_t was = atomic_load_explicit(&o->ws_left, memory_order_relaxed) ? shadow_take(ws, fp) : 0;
    uint32_t bo = was ? (was - 1) / ws->bucket_ms : 0, bn = t / ws->bucket_ms;
    if (was && was - 1 <= t && bo == bn)
        return;
    if (was)
        count_ref(ws, o, bo, -1, false);
    count_ref(ws, o, bn, 1, true);
}

bool ws_referenced(struct vmk_system *sys, struct victim *v)
{
    struct workingset *ws = ws_of(sys);
    bool ref = (v->val & PTE_REF) != 0;
    if (!ws)
        return ref;
    uint8_t fl = atomic_exchange_explicit(&ws->flags[v->frame], 0, memory_order_relaxed);
    if (ref && !(fl & F_FRESH))
        restamp(ws, v->obj, v->frame, now_ms(ws));
    return ref || (fl & F_SOFT);
}

struct victim ws_victim(struct vmk_system *sys, struct victim v)
{
    struct workingset *ws = ws_of(sys);
    if (!ws)
        return v;
    ws_left(v.obj);
    uint32_t fp = atomic_exchange_explicit(&ws->who[v.frame], 0, memory_order_relaxed);
    uint32_t st = atomic_load_explicit(&ws->stamp[v.frame], memory_order_relaxed);
    if (fp && st)
        shadow_put(ws, fp, st);
    return v;
}

bool ws_peek(struct vmk_system *sys, const struct victim *v)
{
    struct workingset *ws = ws_of(sys);
    if (v->val & PTE_REF)
        return true;
    return ws && (atomic_load_explicit(&ws->flags[v->frame], memory_order_relaxed) & F_SOFT);
}

void ws_sampled(struct vmk_system *sys, struct victim *v)
{
    struct workingset *ws = ws_of(sys);
    uint8_t fl = atomic_exchange_explicit(&ws->flags[v->frame], F_SOFT, memory_order_relaxed);
    if (!(fl & F_FRESH))
        restamp(ws, v->obj, v->frame, now_ms(ws));
}

bool ws_older_than(struct vmk_system *sys, uint32_t f, uint32_t now, uint32_t age_ms)
{
    struct workingset *ws = ws_of(sys);
    uint32_t s = atomic_load_explicit(&ws->stamp[f], memory_order_relaxed);
    return s == 0 || (s - 1 <= now && now - (s - 1) > age_ms);
}

void ws_moved(struct vmk_system *sys, uint32_t f, struct vmk_object *from, struct vmk_object *o,
              uint32_t pg)
{
    struct workingset *ws = ws_of(sys);
    if (!ws)
        return;
    if (atomic_load_explicit(&ws->who[f], memory_order_relaxed))
        atomic_store_explicit(&ws->who[f], page_fp(o, pg), memory_order_relaxed);
    uint32_t st = atomic_load_explicit(&ws->stamp[f], memory_order_relaxed);
    if (!st)
        return;
    uint32_t b = (st - 1) / ws->bucket_ms;
    bucket_add(from->ws, b, -1, false);
    bucket_add(o->ws, b, 1, true);
    if (from->owner != o->owner) {
        bucket_add(from->owner->ctr.ws, b, -1, false);
        bucket_add(o->owner->ctr.ws, b, 1, true);
    }
}

void ws_move_object(struct vmk_system *sys, struct vmk_object *o, struct vmk_space *from,
                    struct vmk_space *to)
{
    if (!ws_of(sys) || from == to)
        return;
    for (uint32_t i = 0; i < WS_BUCKETS; i++) {
        uint64_t w = atomic_load_explicit(&o->ws[i], memory_order_relaxed);
        uint32_t b = (uint32_t)(w >> CNT_BITS);     /* the bucket number modulo 2^24 */
        int64_t n = word_count(w);
        if (n) {
            bucket_add(from->ctr.ws, b, -n, false);
            bucket_add(to->ctr.ws, b, n, true);
        }
    }
}

/* ------------------------------------------------------------- the read */

uint64_t ws_estimate(struct vmk_system *sys, struct vmk_counters *c)
{
    struct workingset *ws = ws_of(sys);
    if (!ws)
        return 0;
    uint32_t t = now_ms(ws), b = t / ws->bucket_ms, into = t % ws->bucket_ms;
    int64_t sum = 0;
    for (uint32_t k = 0; k < WS_WINDOW && k <= b; k++)
        sum += bucket_count(c->ws, b - k);
    double w = (double)sum;
    if (b >= WS_WINDOW)      /* the part of the oldest bucket still in the window */
        w += (double)bucket_count(c->ws, b - WS_WINDOW) * (double)(ws->bucket_ms - into) /
             (double)ws->bucket_ms;
    return w > 0 ? (uint64_t)(w + 0.5) : 0;
}

/* ------------------------------------------------------ set-up, tear-down */

static uint32_t env_tau_ms(void)
{
    const char *s = getenv("VMK_WS_TAU_MS");
    if (!s || !*s)
        return WS_DEFAULT_TAU_MS;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || v > 3600u * 1000u)
        return WS_DEFAULT_TAU_MS;
    return (uint32_t)v;
}

static void ws_free(struct workingset *ws)
{
    free((void *)ws->stamp), free((void *)ws->flags), free((void *)ws->who);
    free((void *)ws->shadow), free(ws);
}

int ws_init(struct policy *p, uint32_t nframes)
{
    p->ws = NULL;
    uint32_t tau = env_tau_ms();
    if (!tau)
        return 0;                       /* off */
    struct workingset *ws = calloc(1, sizeof *ws);
    if (!ws)
        return -ENOMEM;
    ws->sys = policy_system(p);
    ws->n = nframes;
    ws->tau_ms = tau;
    ws->bucket_ms = tau / WS_WINDOW ? tau / WS_WINDOW : 1;
    ws->start_ns = coarse_ns();
    ws->stamp = calloc(nframes, sizeof *ws->stamp);
    ws->flags = calloc(nframes, sizeof *ws->flags);
    ws->who = calloc(nframes, sizeof *ws->who);
    uint32_t nb = 1;
    while ((uint64_t)nb * SH_WAYS < (uint64_t)SH_PER_FRAME * nframes &&
           (uint64_t)nb * SH_WAYS < SH_MAX)
        nb *= 2;
    ws->shmask = nb - 1;
    ws->shadow = aligned_alloc(64, (size_t)nb * SH_WAYS * sizeof *ws->shadow);
    if (ws->shadow)
        memset((void *)ws->shadow, 0, (size_t)nb * SH_WAYS * sizeof *ws->shadow);
    if (!ws->stamp || !ws->flags || !ws->who || !ws->shadow) {
        ws_free(ws);
        return -ENOMEM;
    }
    p->ws = ws;
    int r = ws_sampler_start(ws->sys, &ws->sampler);
    if (r < 0) {
        p->ws = NULL;
        ws_free(ws);
    }
    return r;
}

void ws_fini(struct policy *p)
{
    struct workingset *ws = p->ws;
    if (!ws)
        return;
    ws_sampler_stop(ws->sampler);
    p->ws = NULL;
    ws_free(ws);
}
