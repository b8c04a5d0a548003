/*
 * policy_fifo.c - First-In First-Out.
 *
 * Evict the page that became resident longest ago, whatever its use since.
 * A ring of frame numbers in fill order; each frame also carries the sequence
 * number of its latest fill, so an entry left behind by a page that was
 * freed (unmap) and whose frame was refilled is recognised as stale and
 * skipped.  A page that is busy when its turn comes goes to the back.
 * FIFO ignores references, so it never samples them: it is the baseline the
 * other policies must beat (and it shows Belady's anomaly).
 */
#include "internal.h"
#include <stdlib.h>

struct fifo_entry { uint32_t frame; uint32_t seq; };

struct fifo_state {
    vmk_mutex lock;
    uint32_t n, cap;
    uint32_t head, count;          /* lock */
    struct fifo_entry *ring;       /* lock */
    uint32_t *seq;                 /* per frame; lock */
};

static int fifo_init(struct policy *p, uint32_t nframes)
{
    struct fifo_state *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->n = nframes;
    s->cap = 2 * nframes + 16;
    s->ring = calloc(s->cap, sizeof *s->ring);
    s->seq = calloc(nframes, sizeof *s->seq);
    if (!s->ring || !s->seq) {
        free(s->ring), free(s->seq), free(s);
        return -ENOMEM;
    }
    p->state = s;
    int r = ws_init(p, nframes);
    if (r < 0)
        free(s->ring), free(s->seq), free(s);
    return r;
}

static void fifo_fini(struct policy *p)
{
    struct fifo_state *s = p->state;
    ws_fini(p);
    free(s->ring), free(s->seq), free(s);
}

/* Drop stale entries from the head (lock held). */
static void fifo_trim(struct fifo_state *s)
{
    while (s->count) {
        struct fifo_entry e = s->ring[s->head];
        if (e.seq == s->seq[e.frame])
            break;
        s->head = (s->head + 1) % s->cap;
        s->count--;
    }
}

static void fifo_push(struct fifo_state *s, uint32_t f, uint32_t seq)
{
    if (s->count == s->cap)
        fifo_trim(s);
    if (s->count == s->cap)            /* cannot happen: live entries <= n */
        return;
    s->ring[(s->head + s->count) % s->cap] = (struct fifo_entry){ f, seq };
    s->count++;
}

static void fifo_filled(struct policy *p, uint32_t f)
{
    struct fifo_state *s = p->state;
    ws_filled(p, f);
    mutex_lock(&s->lock);
    fifo_push(s, f, ++s->seq[f]);
    mutex_unlock(&s->lock);
}

static uint32_t fifo_select(struct policy *p, struct vmk_system *sys, uint32_t want,
                            struct victim *out)
{
    struct fifo_state *s = p->state;
    uint32_t got = 0;
    mutex_lock(&s->lock);
    for (uint32_t tries = s->count; got < want && tries > 0 && s->count; tries--) {
        struct fifo_entry e = s->ring[s->head];
        s->head = (s->head + 1) % s->cap;
        s->count--;
        if (e.seq != s->seq[e.frame])
            continue;                           /* stale */
        struct victim v;
        if (reclaim_take(sys, e.frame, &v))
            out[got++] = ws_victim(sys, v);
        else if (atomic_load_explicit(&sys->frames.map[e.frame].obj, memory_order_acquire))
            fifo_push(s, e.frame, e.seq);       /* busy: try it later */
    }
    mutex_unlock(&s->lock);
    return got;
}

const struct policy_ops policy_fifo_ops = {
    .name = "fifo",
    .init = fifo_init,
    .fini = fifo_fini,
    .filled = fifo_filled,
    .select = fifo_select,
};
