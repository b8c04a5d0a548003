/*
 * policy_lru.c - LRU approximated by aging ("lru").
 *
 * Least-recently-used eviction needs the time of every reference, and vmkit
 * sees references only through the REF bit of the page table: a fault sets
 * it, and the policy learns of the next reference of a mapped page only by
 * sampling it (reclaim_sample clears REF and unmaps the page, so the next
 * touch takes a minor fault that sets REF again).  One bit per page per
 * look is what the MMU's accessed bit gives a kernel, too, and the classic
 * answer is the aging algorithm (Tanenbaum, Modern Operating Systems,
 * "simulating LRU in software"):
 *
 *   Each frame has an 8-bit counter.  At every sampling round, each resident
 *   page's counter is shifted right by one and its REF bit is put in at the
 *   top; REF is then cleared (sampled) so the next round sees only new
 *   references.  The counter is the page's reference history over the last
 *   8 rounds, most recent round in the top bit.  Read as a number, a page
 *   referenced in a later round beats every page that was not, and among
 *   pages last referenced in the same round the one referenced more often
 *   before wins.  The victim is the page with the smallest counter.
 *
 * Two choices make it work on a real system:
 *
 *   - When a round runs.  The counters only have to order pages at the
 *     moment victims are chosen, so rounds follow memory pressure, not the
 *     clock: one round every `frames / 4` victims (8 bits then cover two
 *     budgets' worth of evictions of history), and one more whenever a
 *     selection comes up short.  Without pressure nothing is evicted and
 *     nothing is sampled.  A round costs one trylock per frame plus one
 *     unmap per referenced page (batched by the reclaimer): about four frame
 *     visits per victim.
 *
 *   - Pages referenced since the last round.  A page filled since then has
 *     counter 0 but REF set; evicting it at once would evict the page that
 *     was just faulted in.  So selection passes over pages whose REF is set:
 *     their reference belongs to the next round, which shifts it in.  (This
 *     is the simulator's "lru-aging": the reference bit ranks above the
 *     counter.)
 *
 * Selection, O(frames) per batch: a pass over the counters makes a
 * histogram of the resident pages' counters, from which the threshold T is
 * the smallest counter value with at least 2 * want pages at or below it
 * (room for pages that turn out busy or referenced).  A second pass, from a
 * hand that rotates, lists the frames at or below T; a counting sort orders
 * them by counter, keeping hand order among equals, so pages of equal age
 * leave round-robin, as FIFO would order them.  They are taken in that
 * order until the batch is full.
 *
 * Memory: 1 byte per frame of counters, 4 bytes per frame of scratch.
 * Counters are written by faulting threads (filled) and the reclaimer, so
 * they are relaxed atomics; everything else is under reclaim_lock.
 */
#include "internal.h"
#include <stdlib.h>

#define AGE_BITS 8
#define AGE_TOP  (1u << (AGE_BITS - 1))
#define NAGES    (1u << AGE_BITS)

struct lru_state {
    uint32_t n;
    _Atomic uint8_t *age;          /* per frame */
    uint32_t *cand;                /* scratch: age << 24 | frame; reclaim_lock */
    uint32_t *sorted;              /* scratch */
    uint32_t hand;                 /* reclaim_lock */
    uint32_t period;               /* victims between rounds */
    uint32_t since_round;          /* reclaim_lock */
    uint64_t rounds;               /* reclaim_lock */
};

static int lru_init(struct policy *p, uint32_t nframes)
{
    struct lru_state *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->n = nframes;
    s->age = calloc(nframes, sizeof *s->age);
    s->cand = calloc(nframes, sizeof *s->cand);
    s->sorted = calloc(nframes, sizeof *s->sorted);
    if (!s->age || !s->cand || !s->sorted) {
        free(s->age), free(s->cand), free(s->sorted), free(s);
        return -ENOMEM;
    }
    s->period = nframes / 4 ? nframes / 4 : 1;
    s->since_round = s->period;          /* the first selection starts with a round */
    p->state = s;
    int r = ws_init(p, nframes);
    if (r < 0)
        free((void *)s->age), free(s->cand), free(s->sorted), free(s);
    return r;
}

static void lru_fini(struct policy *p)
{
    struct lru_state *s = p->state;
    ws_fini(p);
    free((void *)s->age), free(s->cand), free(s->sorted), free(s);
}

/* A page was made resident: its history starts empty (its REF is set). */
static void lru_filled(struct policy *p, uint32_t f)
{
    struct lru_state *s = p->state;
    ws_filled(p, f);
    atomic_store_explicit(&s->age[f], 0, memory_order_relaxed);
}

static int in_use(struct vmk_system *sys, uint32_t f)
{
    return atomic_load_explicit(&sys->frames.map[f].obj, memory_order_relaxed) != NULL;
}

/* A sampling round: shift every resident page's counter, REF in at the top. */
static void lru_round(struct lru_state *s, struct vmk_system *sys)
{
    for (uint32_t f = 0; f < s->n; f++) {
        struct victim v;
        if (!in_use(sys, f) || !reclaim_take(sys, f, &v))
            continue;                    /* free, or busy: its turn comes next round */
        int ref = ws_referenced(sys, &v);
        uint8_t a = atomic_load_explicit(&s->age[f], memory_order_relaxed);
        atomic_store_explicit(&s->age[f], (uint8_t)(a >> 1 | (ref ? AGE_TOP : 0)),
                              memory_order_relaxed);
        if (ref)
            reclaim_sample(sys, &v);
        else
            reclaim_untake(&v);
    }
    s->since_round = 0;
    s->rounds++;
}

/* Up to want victims of the smallest counters (see the comment above). */
static uint32_t lru_pick(struct lru_state *s, struct vmk_system *sys, uint32_t want,
                         struct victim *out)
{
    uint32_t hist[NAGES] = { 0 };
    for (uint32_t f = 0; f < s->n; f++)
        if (in_use(sys, f))
            hist[atomic_load_explicit(&s->age[f], memory_order_relaxed)]++;
    uint32_t T = NAGES - 1;
    uint64_t cum = 0;
    for (uint32_t a = 0; a < NAGES; a++) {
        cum += hist[a];
        if (cum >= 2ull * want) {
            T = a;
            break;
        }
    }
    uint32_t n = 0, count[NAGES + 1] = { 0 };
    for (uint32_t i = 0, f = s->hand; i < s->n; i++, f = f + 1 == s->n ? 0 : f + 1) {
        uint8_t a = atomic_load_explicit(&s->age[f], memory_order_relaxed);
        if (a <= T && in_use(sys, f)) {
            s->cand[n++] = (uint32_t)a << 24 | f;
            count[a + 1]++;
        }
    }
    for (uint32_t a = 1; a <= NAGES; a++)            /* counting sort, stable */
        count[a] += count[a - 1];
    for (uint32_t i = 0; i < n; i++)
        s->sorted[count[s->cand[i] >> 24]++] = s->cand[i];
    uint32_t got = 0;
    for (uint32_t i = 0; i < n && got < want; i++) {
        uint32_t f = s->sorted[i] & PTE_FRAME_MASK;
        struct victim v;
        if (!reclaim_take(sys, f, &v))
            continue;
        if (ws_peek(sys, &v)) {         /* referenced since the last round */
            reclaim_untake(&v);
            continue;
        }
        out[got++] = ws_victim(sys, v);
        s->hand = f + 1 == s->n ? 0 : f + 1;
    }
    return got;
}

static uint32_t lru_select(struct policy *p, struct vmk_system *sys, uint32_t want,
                           struct victim *out)
{
    struct lru_state *s = p->state;
    if (s->since_round >= s->period)
        lru_round(s, sys);
    uint32_t got = lru_pick(s, sys, want, out);
    if (got < want && s->since_round > 0) {
        /* Everything cheap is referenced: a round ages them, then look again. */
        lru_round(s, sys);
        got += lru_pick(s, sys, want - got, out + got);
    }
    s->since_round += got;
    return got;
}

const struct policy_ops policy_lru_ops = {
    .name = "lru",
    .init = lru_init,
    .fini = lru_fini,
    .filled = lru_filled,
    .select = lru_select,
};
