/*
 * policy_s3fifo.c - S3-FIFO (Yang et al., "FIFO queues are all you need for
 * cache eviction", SOSP 2023): "s3fifo".
 *
 * Why this one among the modern policies.  ARC and CLOCK-Pro adapt to the
 * workload too, but both move a page on every hit (ARC between LRU lists,
 * CLOCK-Pro between hot and cold with test periods), and vmkit does not see
 * hits: it sees a REF bit per sampled page, like a kernel's accessed bit.
 * S3-FIFO was designed for exactly that - it never acts on a hit beyond
 * bumping a small counter, and moves pages only when they reach the end of
 * a FIFO queue - so its rules carry over with nothing invented.  It is
 * built of three FIFO queues, O(1) per operation, and it resists scans,
 * which Clock does not: in a scan, every page is referenced once and never
 * again, and S3-FIFO drops such pages after a short probation instead of
 * letting them push the working set out.
 *
 * The observation behind it: most pages referenced once are not referenced
 * again soon (scans, one-hit wonders).  So:
 *
 *   S  small probationary FIFO, ~10% of the frames.  A newly faulted page
 *      goes here.  When it reaches the head of S: referenced while in S ->
 *      moved to M; not referenced -> evicted, its identity kept in G.
 *   M  main FIFO, the rest.  Each page has a 2-bit frequency.  At the head
 *      of M, a page referenced since its last visit gains one (at most 3)
 *      and goes round again; an unreferenced page with frequency > 0 loses
 *      one and goes round again; one with 0 is evicted.
 *   G  ghost FIFO: identities (no frames) of pages evicted from S, as many
 *      as M has frames.  A fault on a page still in G means S was too short
 *      to see its reuse: it goes straight into M.
 *
 * Victims come from S while S holds at least its share, else from M.
 *
 * Adapting it to sampled references (the only change to the paper):
 *
 *   - "Referenced while in S" must not count the fault that filled the page
 *     (the fault sets REF).  So S probes its pages as they pass its middle:
 *     each page in the older half of S is sampled once (reclaim_sample
 *     clears REF and unmaps it), and at the head of S, REF then means a
 *     reference during the second half of its probation.  A page that
 *     reaches the head unprobed (S very short, or it was busy) is probed
 *     there and goes round S once more.
 *   - A hit is a sampled REF bit, so at most one per visit: M's counter is
 *     +1 per visit with REF, -1 per visit without, instead of +1 per hit.
 *
 * G is a hash table of 64-bit fingerprints of (object, page) in buckets of
 * four with their insertion time on G's clock; a fingerprint is in G while
 * fewer than |G| insertions followed it, and a full bucket drops its oldest.
 * That is the paper's own suggestion for a ghost queue in bounded memory.
 *
 * filled() runs in faulting threads: the queues are under the policy's
 * lock (a leaf lock, like FIFO's).  A victim whose eviction fails (swap
 * full) is in no queue; the next selection after a short one puts such
 * orphans back into M.  Memory: ~24 bytes per frame.
 */
#include "internal.h"
#include <stdlib.h>

#define FREQ_MAX 3
#define GWAYS    4

struct q_entry { uint32_t frame, seq; };

struct ring {
    struct q_entry *buf;
    uint32_t cap, head, count;
};

struct s3_state {
    vmk_mutex lock;
    uint32_t n, scap;
    struct ring s, m;              /* lock */
    uint32_t probe;                /* entries of s from its head already probed; lock */
    uint32_t *seq;                 /* per frame: fill number; lock */
    uint32_t *probed;              /* per frame: seq when probed; lock */
    uint8_t *freq;                 /* per frame; lock */
    uint8_t *queued;               /* per frame: 1 if in s or m; lock */
    uint64_t *gfp;                 /* ghost fingerprints, GWAYS per bucket; lock */
    uint32_t *gstamp;              /* lock */
    uint32_t gmask, gcap, gclock;  /* lock */
    int short_last;                /* the last selection came up short */
};

static uint64_t fingerprint(const struct vmk_object *o, uint32_t pg)
{
    uint64_t h = (uint64_t)(uintptr_t)o * 0x9E3779B97F4A7C15ull ^ (uint64_t)pg * 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDull;
    h ^= h >> 33;
    return h ? h : 1;
}

/* ---------------------------------------------------------------- ghost */

static uint64_t *gbucket(struct s3_state *s, uint64_t fp, uint32_t **stamp)
{
    uint32_t b = (uint32_t)(fp >> 20) & s->gmask;
    *stamp = s->gstamp + (size_t)b * GWAYS;
    return s->gfp + (size_t)b * GWAYS;
}

static void ghost_insert(struct s3_state *s, uint64_t fp)
{
    uint32_t *st, now = ++s->gclock;
    uint64_t *fps = gbucket(s, fp, &st);
    int w = 0;
    for (int i = 0; i < GWAYS; i++) {
        if (fps[i] == fp || !fps[i]) {
            w = i;
            break;
        }
        if (now - st[i] > now - st[w])          /* oldest */
            w = i;
    }
    fps[w] = fp;
    st[w] = now;
}

/* Is fp in G?  If so, remove it. */
static int ghost_take(struct s3_state *s, uint64_t fp)
{
    uint32_t *st;
    uint64_t *fps = gbucket(s, fp, &st);
    for (int i = 0; i < GWAYS; i++) {
        if (fps[i] == fp) {
            fps[i] = 0;
            return s->gclock - st[i] < s->gcap;
        }
    }
    return 0;
}

/* --------------------------------------------------------------- queues */

static int stale(const struct s3_state *s, struct q_entry e)
{
    return e.seq != s->seq[e.frame];
}

/* Drop stale entries everywhere in r (rare: only when r is full). */
static void ring_compact(struct s3_state *s, struct ring *r)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < r->count; i++) {
        struct q_entry e = r->buf[(r->head + i) % r->cap];
        if (!stale(s, e))
            r->buf[(r->head + k++) % r->cap] = e;
    }
    r->count = k;
    if (r == &s->s)
        s->probe = 0;
}

static void push(struct s3_state *s, struct ring *r, uint32_t f)
{
    if (r->count == r->cap)
        ring_compact(s, r);            /* live entries <= frames < cap */
    r->buf[(r->head + r->count) % r->cap] = (struct q_entry){ f, s->seq[f] };
    r->count++;
    s->queued[f] = 1;
}

static struct q_entry pop(struct s3_state *s, struct ring *r)
{
    struct q_entry e = r->buf[r->head];
    r->head = r->head + 1 == r->cap ? 0 : r->head + 1;
    r->count--;
    if (r == &s->s && s->probe)
        s->probe--;
    if (!stale(s, e))
        s->queued[e.frame] = 0;
    return e;
}

/* ------------------------------------------------------------ interface */

static void s3_free(struct s3_state *s)
{
    free(s->s.buf), free(s->m.buf), free(s->seq), free(s->probed), free(s->freq);
    free(s->queued), free(s->gfp), free(s->gstamp), free(s);
}

static int s3_init(struct policy *p, uint32_t nframes)
{
    struct s3_state *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->n = nframes;
    s->scap = nframes / 10 ? nframes / 10 : 1;
    s->gcap = nframes - s->scap ? nframes - s->scap : 1;
    uint32_t nb = 1;
    while ((uint64_t)nb * GWAYS < 2ull * s->gcap)
        nb *= 2;
    s->gmask = nb - 1;
    s->s.cap = s->m.cap = 2 * nframes + 16;
    s->s.buf = calloc(s->s.cap, sizeof *s->s.buf);
    s->m.buf = calloc(s->m.cap, sizeof *s->m.buf);
    s->seq = calloc(nframes, sizeof *s->seq);
    s->probed = calloc(nframes, sizeof *s->probed);
    s->freq = calloc(nframes, 1);
    s->queued = calloc(nframes, 1);
    s->gfp = calloc((size_t)nb * GWAYS, sizeof *s->gfp);
    s->gstamp = calloc((size_t)nb * GWAYS, sizeof *s->gstamp);
    if (!s->s.buf || !s->m.buf || !s->seq || !s->probed || !s->freq || !s->queued || !s->gfp ||
        !s->gstamp) {
        s3_free(s);
        return -ENOMEM;
    }
    p->state = s;
    int r = ws_init(p, nframes);
    if (r < 0)
        s3_free(s);
    return r;
}

static void s3_fini(struct policy *p)
{
    ws_fini(p);
    s3_free(p->state);
}

static void s3_filled(struct policy *p, uint32_t f)
{
    struct s3_state *s = p->state;
    struct vmk_system *sys = policy_system(p);
    struct frame *fr = &sys->frames.map[f];
    struct vmk_object *o = atomic_load_explicit(&fr->obj, memory_order_acquire);
    uint64_t fp = fingerprint(o, atomic_load_explicit(&fr->page, memory_order_relaxed));
    ws_filled(p, f);
    mutex_lock(&s->lock);
    s->seq[f]++;
    s->freq[f] = 0;
    push(s, ghost_take(s, fp) ? &s->m : &s->s, f);
    mutex_unlock(&s->lock);
}

/* Sample the pages of the older half of S once each (lock held). */
static void probe_s(struct s3_state *s, struct vmk_system *sys)
{
    while (s->probe < s->s.count / 2) {
        struct q_entry e = s->s.buf[(s->s.head + s->probe) % s->s.cap];
        s->probe++;
        if (stale(s, e) || s->probed[e.frame] == e.seq)
            continue;
        struct victim v;
        if (!reclaim_take(sys, e.frame, &v))
            continue;                   /* busy: probed at the head instead */
        s->probed[e.frame] = e.seq;
        if (ws_referenced(sys, &v))
            reclaim_sample(sys, &v);
        else
            reclaim_untake(&v);
    }
}

/* Frames holding a page but in no queue (their eviction failed): into M. */
static void requeue_orphans(struct s3_state *s, struct vmk_system *sys)
{
    for (uint32_t f = 0; f < s->n; f++)
        if (!s->queued[f] && atomic_load_explicit(&sys->frames.map[f].obj, memory_order_relaxed))
            push(s, &s->m, f);
}

static int frame_in_use(struct vmk_system *sys, uint32_t f)
{
    return atomic_load_explicit(&sys->frames.map[f].obj, memory_order_relaxed) != NULL;
}

static uint32_t s3_select(struct policy *p, struct vmk_system *sys, uint32_t want,
                          struct victim *out)
{
    struct s3_state *s = p->state;
    uint32_t got = 0;
    mutex_lock(&s->lock);
    if (s->short_last)
        requeue_orphans(s, sys);
    probe_s(s, sys);
    /* Each page can be passed over at most FREQ_MAX + 2 times before it
     * goes (promotion, counter down to 0, eviction): a bound on the work. */
    uint64_t budget = (uint64_t)(FREQ_MAX + 2) * (s->s.count + s->m.count) + want;
    while (got < want && budget-- && (s->s.count || s->m.count)) {
        int from_s = s->s.count && (s->s.count >= s->scap || !s->m.count);
        struct ring *r = from_s ? &s->s : &s->m;
        struct q_entry e = pop(s, r);
        if (stale(s, e))
            continue;
        uint32_t f = e.frame;
        struct victim v;
        if (!reclaim_take(sys, f, &v)) {
            if (frame_in_use(sys, f))
                push(s, r, f);          /* busy: its turn comes again */
            continue;
        }
        int ref = ws_referenced(sys, &v);
        if (from_s) {
            if (s->probed[f] != e.seq) {        /* REF may be the filling fault's */
                s->probed[f] = e.seq;
                if (ref)
                    reclaim_sample(sys, &v);
                else
                    reclaim_untake(&v);
                push(s, &s->s, f);
            } else if (ref) {                   /* reused on probation: promote */
                reclaim_sample(sys, &v);
                s->freq[f] = 0;
                push(s, &s->m, f);
            } else {
                ghost_insert(s, fingerprint(v.obj, v.pg));
                out[got++] = ws_victim(sys, v);
            }
        } else if (ref) {
            if (s->freq[f] < FREQ_MAX)
                s->freq[f]++;
            reclaim_sample(sys, &v);
            push(s, &s->m, f);
        } else if (s->freq[f]) {
            s->freq[f]--;
            reclaim_untake(&v);
            push(s, &s->m, f);
        } else {
            out[got++] = ws_victim(sys, v);
        }
    }
    s->short_last = got < want;
    mutex_unlock(&s->lock);
    return got;
}

const struct policy_ops policy_s3fifo_ops = {
    .name = "s3fifo",
    .init = s3_init,
    .fini = s3_fini,
    .filled = s3_filled,
    .select = s3_select,
};
