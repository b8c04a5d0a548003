/*
 * policy_clock.c - Clock (second chance), the default.
 *
 * The frames stand in a circle and a hand sweeps it.  At each frame:
 *
 *   - not in use, or busy (being faulted or evicted)   -> pass on;
 *   - REF set   (referenced since the hand last passed) -> clear REF and
 *     unmap the page (reclaim_sample), so that a later touch faults and sets
 *     REF again: the page gets a second chance, one revolution long;
 *   - REF clear (not touched for a whole revolution)    -> evict it.
 *
 * A page filled by a fault starts with REF set, as a freshly loaded page
 * does in the textbook, so it survives at least one revolution.  This
 * approximates LRU: a page is evicted only if it went unreferenced for a
 * full sweep, and pages referenced often keep winning their second chance.
 * The sweep stops after two revolutions without finding enough victims
 * (everything busy), and the reclaimer retries.
 */
#include "internal.h"
#include <stdlib.h>

struct clock_state {
    uint32_t n;
    uint32_t hand;          /* reclaim_lock */
};

static int clock_init(struct policy *p, uint32_t nframes)
{
    struct clock_state *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->n = nframes;
    p->state = s;
    int r = ws_init(p, nframes);
    if (r < 0)
        free(s);
    return r;
}

static void clock_fini(struct policy *p)
{
    ws_fini(p);
    free(p->state);
}

static void clock_filled(struct policy *p, uint32_t f)
{
    ws_filled(p, f);        /* REF is set by the fault path */
}

static uint32_t clock_select(struct policy *p, struct vmk_system *sys, uint32_t want,
                             struct victim *out)
{
    struct clock_state *s = p->state;
    uint32_t got = 0;
    for (uint64_t steps = 0; got < want && steps < 2ull * s->n + want; steps++) {
        uint32_t f = s->hand;
        s->hand = f + 1 == s->n ? 0 : f + 1;
        struct victim v;
        if (!reclaim_take(sys, f, &v))
            continue;
        if (ws_referenced(sys, &v)) {
            reclaim_sample(sys, &v);
            continue;
        }
        out[got++] = ws_victim(sys, v);
    }
    return got;
}

const struct policy_ops policy_clock_ops = {
    .name = "clock",
    .init = clock_init,
    .fini = clock_fini,
    .filled = clock_filled,
    .select = clock_select,
};
