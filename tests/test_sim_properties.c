/*
 * test_sim_properties: properties every run must have, on random traces.
 *
 *  - the fast OPT, LRU, FIFO and WSClock agree with naive reference
 *    versions (scan-ahead OPT, timestamp LRU, FIFO by load time, WSClock
 *    stepping its hand frame by frame), and WSClock with window 0 is Clock;
 *  - OPT <= every policy; every policy faults at least once per distinct
 *    page and at most once per reference;
 *  - LRU and OPT are stack algorithms: faults never grow with frames;
 *  - LRU == OPT on a stack-friendly trace (every reference is to one of the
 *    frames most recently used pages, or to a brand-new page);
 *  - aging agrees with a naive version (sort the frames at every tick) and,
 *    with a tick every reference, ranks pages exactly as LRU does;
 *  - the page -> id map keeps pages apart that differ only in high bits;
 *  - on a loop over frames+1 pages, FIFO, Clock, LRU and WSClock fault on
 *    every reference (nothing is re-referenced while resident);
 *  - sim_run_prepared over one prepared trace == sim_run, in any order.
 */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(...) do { fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
                       fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); exit(1); } while (0)

static uint64_t rng_state;

static uint64_t rnd(void)                   /* xorshift64* */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

/*
 * A random trace over `pages` pages with some locality: mostly a drifting
 * hot window, sometimes uniform.  Page numbers are scattered over 64 bits
 * (as space ids and addresses make them) to exercise the id map.
 */
static void random_trace(uint64_t *r, size_t n, uint64_t pages, uint64_t seed)
{
    rng_state = seed * 0x9E3779B97F4A7C15ull + 1;
    uint64_t base = 0;
    for (size_t i = 0; i < n; i++) {
        if (rnd() % 64 == 0)
            base = rnd() % pages;
        uint64_t p = rnd() % 4 ? (base + rnd() % 8) % pages : rnd() % pages;
        r[i] = (p % 3) << 48 | (p * 7919);
    }
}

static size_t distinct(const uint64_t *r, size_t n)
{
    sim_prepared p;
    if (sim_prepare(&p, r, n))
        FAIL("prepare");
    size_t d = p.npages;
    sim_prepared_free(&p);
    return d;
}

/* ------------------------------------------------- naive references */

static int find(const uint64_t *fr, size_t used, uint64_t page)
{
    for (size_t j = 0; j < used; j++)
        if (fr[j] == page)
            return (int)j;
    return -1;
}

/* OPT by scanning ahead at each fault: O(n) per fault. */
static uint64_t naive_opt(const uint64_t *r, size_t n, size_t F)
{
    uint64_t fr[256], nf = 0;
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        if (find(fr, used, r[i]) >= 0)
            continue;
        nf++;
        if (used < F) {
            fr[used++] = r[i];
            continue;
        }
        size_t victim = 0, far = 0;
        for (size_t j = 0; j < used; j++) {
            size_t k = i + 1;
            while (k < n && r[k] != fr[j])
                k++;
            if (k > far) {
                far = k;
                victim = j;
            }
        }
        fr[victim] = r[i];
    }
    return nf;
}

/* LRU by last-use timestamps; FIFO by load timestamps. */
static uint64_t naive_stamped(const uint64_t *r, size_t n, size_t F, int lru)
{
    uint64_t fr[256], stamp[256], nf = 0;
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        int s = find(fr, used, r[i]);
        if (s >= 0) {
            if (lru)
                stamp[s] = i;
            continue;
        }
        nf++;
        if (used < F)
            s = (int)used++;
        else {
            s = 0;
            for (size_t j = 1; j < used; j++)
                if (stamp[j] < stamp[s])
                    s = (int)j;
        }
        fr[s] = r[i];
        stamp[s] = i;
    }
    return nf;
}

/* WSClock moving its hand one frame at a time (see sim_core.c). */
static uint64_t naive_wsclock(const uint64_t *r, size_t n, size_t F, uint64_t tau)
{
    uint64_t fr[256], stamp[256], nf = 0;
    int ref[256];
    size_t used = 0, hand = 0;
    for (size_t i = 0; i < n; i++) {
        int s = find(fr, used, r[i]);
        if (s >= 0) {
            ref[s] = 1;
            continue;
        }
        nf++;
        size_t v = SIZE_MAX;
        if (used < F)
            v = used++;
        else {
            for (size_t step = 0; step < F && v == SIZE_MAX; step++) {
                size_t h = (hand + step) % F;
                if (ref[h]) {
                    ref[h] = 0;
                    stamp[h] = i;
                } else if (i - stamp[h] > tau)
                    v = h;
            }
            if (v == SIZE_MAX)
                v = hand;                       /* a full turn: the page under the hand */
            hand = (v + 1) % F;
        }
        fr[v] = r[i];
        stamp[v] = i;
        ref[v] = 1;
    }
    return nf;
}

/*
 * Aging the slow way: scan the frames for the smallest (counter, arrival)
 * at each fault, sort the frames by it at each tick.  "Arrival" is when the
 * frame got its current key - the FIFO order sim_core.c keeps within a key.
 */
static void naive_aging_tick(unsigned *key, uint64_t *seq, size_t used, unsigned k, uint64_t *counter)
{
    size_t idx[256];
    for (size_t j = 0; j < used; j++) {
        size_t m = j;
        while (m > 0 && (key[idx[m - 1]] > key[j] || (key[idx[m - 1]] == key[j] && seq[idx[m - 1]] > seq[j]))) {
            idx[m] = idx[m - 1];
            m--;
        }
        idx[m] = j;
    }
    for (size_t j = 0; j < used; j++) {
        unsigned old = key[idx[j]];
        key[idx[j]] = (old & ((1u << k) - 1)) >> 1 | (old >> k) << (k - 1);
        seq[idx[j]] = (*counter)++;
    }
}

static uint64_t naive_aging(const uint64_t *r, size_t n, size_t F, unsigned k, uint64_t S)
{
    uint64_t fr[256], seq[256], counter = 0, nf = 0, since = 0;
    unsigned key[256], refbit = 1u << k;
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        int s = find(fr, used, r[i]);
        if (s >= 0 && key[s] < refbit) {
            key[s] |= refbit;
            seq[s] = counter++;
        } else if (s < 0) {
            nf++;
            if (used < F)
                s = (int)used++;
            else {
                s = 0;
                for (size_t j = 1; j < used; j++)
                    if (key[j] < key[s] || (key[j] == key[s] && seq[j] < seq[s]))
                        s = (int)j;
            }
            fr[s] = r[i];
            key[s] = refbit;
            seq[s] = counter++;
        }
        if (++since == S) {
            since = 0;
            naive_aging_tick(key, seq, used, k, &counter);
        }
    }
    return nf;
}

static uint64_t run(const char *pol, const uint64_t *r, size_t n, size_t F)
{
    uint64_t f = sim_run(pol, r, n, F);
    if (f == UINT64_MAX)
        FAIL("%s failed", pol);
    return f;
}

static void test_against_naive(void)
{
    static uint64_t r[3000];
    static const uint64_t pages[] = { 4, 12, 40, 150 };
    for (uint64_t seed = 1; seed <= 6; seed++)
        for (size_t pi = 0; pi < 4; pi++) {
            random_trace(r, 3000, pages[pi], seed);
            for (size_t F = 1; F <= 64 && F <= pages[pi]; F = F * 2 + 1) {
                if (run("opt", r, 3000, F) != naive_opt(r, 3000, F))
                    FAIL("opt != naive opt: seed %llu, %zu frames", (unsigned long long)seed, F);
                if (run("lru", r, 3000, F) != naive_stamped(r, 3000, F, 1))
                    FAIL("lru != naive lru: seed %llu, %zu frames", (unsigned long long)seed, F);
                if (run("fifo", r, 3000, F) != naive_stamped(r, 3000, F, 0))
                    FAIL("fifo != naive fifo: seed %llu, %zu frames", (unsigned long long)seed, F);
                static const uint64_t taus[] = { 0, 1, 3, 10, 50, 1000 };
                for (size_t t = 0; t < 6; t++) {
                    char pol[32];
                    snprintf(pol, sizeof pol, "wsclock:%llu", (unsigned long long)taus[t]);
                    if (run(pol, r, 3000, F) != naive_wsclock(r, 3000, F, taus[t]))
                        FAIL("%s != naive: seed %llu, %zu frames", pol, (unsigned long long)seed, F);
                }
                if (run("wsclock:0", r, 3000, F) != run("clock", r, 3000, F))
                    FAIL("wsclock:0 != clock: seed %llu, %zu frames", (unsigned long long)seed, F);
            }
        }
}

static const char *const all[] = {
    "fifo", "clock", "lru", "lru-aging", "lru-aging:2:7", "lru-aging:8:1000",
    "wsclock", "wsclock:1", "wsclock:100000", "s3fifo",
};
#define NALL (sizeof all / sizeof all[0])

static void test_bounds(void)
{
    static const size_t sizes[] = { 50, 1000, 20000 };
    static const uint64_t pages[] = { 5, 64, 1000 };
    static uint64_t r[20000];
    for (uint64_t seed = 1; seed <= 4; seed++)
        for (size_t si = 0; si < 3; si++)
            for (size_t pi = 0; pi < 3; pi++) {
                size_t n = sizes[si];
                random_trace(r, n, pages[pi], seed * 31 + si);
                uint64_t d = distinct(r, n);
                for (size_t F = 1; F <= d + 1; F = F < 8 ? F + 1 : F * 3 / 2) {
                    uint64_t opt = run("opt", r, n, F);
                    if (opt < d || opt > n)
                        FAIL("opt %llu outside [%llu, %zu]", (unsigned long long)opt, (unsigned long long)d, n);
                    for (size_t a = 0; a < NALL; a++) {
                        uint64_t f = run(all[a], r, n, F);
                        if (f < opt || f > n)
                            FAIL("%s: %llu faults, opt %llu, n %zu (seed %llu, %zu frames)", all[a],
                                 (unsigned long long)f, (unsigned long long)opt, n,
                                 (unsigned long long)seed, F);
                    }
                }
            }
}

/* Stack algorithms: the resident set with F frames is contained in the one
   with F+1, so faults are non-increasing in F. */
static void test_stack_property(void)
{
    static uint64_t r[20000];
    for (uint64_t seed = 1; seed <= 5; seed++) {
        random_trace(r, 20000, 300, seed + 100);
        sim_prepared p;
        if (sim_prepare(&p, r, 20000))
            FAIL("prepare");
        uint64_t prev_lru = UINT64_MAX, prev_opt = UINT64_MAX, f;
        for (size_t F = 1; F <= p.npages; F++) {
            if (sim_run_prepared(&p, "lru", F, &f) || f > prev_lru)
                FAIL("lru: %llu faults with %zu frames, %llu with one less", (unsigned long long)f, F,
                     (unsigned long long)prev_lru);
            prev_lru = f;
            if (sim_run_prepared(&p, "opt", F, &f) || f > prev_opt)
                FAIL("opt not monotone at %zu frames", F);
            prev_opt = f;
        }
        if (prev_lru != p.npages)
            FAIL("lru with all frames: %llu", (unsigned long long)prev_lru);
        sim_prepared_free(&p);
    }
}

/*
 * Stack-friendly: each reference goes to one of the F most recently used
 * pages or to a new page, so LRU faults only on new pages - the compulsory
 * misses no policy avoids - and must equal OPT; the pages LRU drops are
 * never referenced again.  FIFO, which ignores recency, does worse.
 */
static void test_lru_equals_opt(void)
{
    enum { F = 16, NREF = 50000 };
    static uint64_t r[NREF];
    uint64_t stack[F], next_page = 1000;
    rng_state = 42;
    size_t depth = 0;
    for (size_t i = 0; i < NREF; i++) {
        size_t k;
        if (depth < F || rnd() % 10 == 0) {
            k = depth < F ? depth++ : F - 1;            /* bottom falls off */
            stack[k] = next_page++;
        } else
            k = (size_t)(rnd() % F);
        uint64_t p = stack[k];
        memmove(stack + 1, stack, k * sizeof *stack);   /* move to the top */
        stack[0] = p;
        r[i] = p;
    }
    uint64_t d = distinct(r, NREF), lru = run("lru", r, NREF, F), opt = run("opt", r, NREF, F);
    if (lru != d || opt != d)
        FAIL("stack-friendly trace: lru %llu, opt %llu, distinct %llu", (unsigned long long)lru,
             (unsigned long long)opt, (unsigned long long)d);
    if (run("fifo", r, NREF, F) <= d)
        FAIL("fifo should lose to lru here");
}

/* A tick every reference: each counter holds the last K references exactly,
   and pages that aged to 0 leave in the order they did so, i.e. by last
   use.  Exact LRU, for any K and any frame count. */
static void test_aging_tick_one_is_lru(void)
{
    static uint64_t r[10000];
    static const char *const pol[] = { "lru-aging:1:1", "lru-aging:3:1", "lru-aging:8:1" };
    for (uint64_t seed = 1; seed <= 4; seed++) {
        random_trace(r, 10000, 200, seed + 7);
        for (size_t F = 1; F < 200; F = F * 2 + 1)
            for (size_t a = 0; a < 3; a++)
                if (run(pol[a], r, 10000, F) != run("lru", r, 10000, F))
                    FAIL("%s != lru with %zu frames (seed %llu)", pol[a], F, (unsigned long long)seed);
    }
}

static void test_aging_against_naive(void)
{
    static uint64_t r[4000];
    static const struct { unsigned k; uint64_t S; } ks[] = {
        { 1, 2 }, { 2, 3 }, { 3, 5 }, { 8, 4 }, { 8, 16 }, { 4, 100 }, { 8, 1 },
    };
    for (uint64_t seed = 1; seed <= 4; seed++) {
        random_trace(r, 4000, 120, seed + 50);
        for (size_t F = 2; F <= 64; F = F * 2 + 1)
            for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++) {
                char pol[40];
                snprintf(pol, sizeof pol, "lru-aging:%u:%llu", ks[j].k, (unsigned long long)ks[j].S);
                if (run(pol, r, 4000, F) != naive_aging(r, 4000, F, ks[j].k, ks[j].S))
                    FAIL("%s != naive, %zu frames, seed %llu", pol, F, (unsigned long long)seed);
            }
        /* The default S is frames/4. */
        if (run("lru-aging", r, 4000, 40) != naive_aging(r, 4000, 40, 8, 10))
            FAIL("lru-aging defaults");
    }
}

/* Pages that differ only above bit 32 (space ids): 5000 of them, twice. */
static void test_id_map(void)
{
    enum { P = 5000 };
    static uint64_t r[2 * P];
    for (size_t i = 0; i < 2 * P; i++)
        r[i] = (uint64_t)(i % P) << 40 | 7;
    sim_prepared p;
    if (sim_prepare(&p, r, 2 * P))
        FAIL("prepare");
    if (p.npages != P)
        FAIL("%u distinct pages, expected %d", p.npages, P);
    for (size_t i = 0; i < 2 * P; i++)
        if (p.ids[i] != i % P)
            FAIL("id of reference %zu: %u", i, p.ids[i]);
    sim_prepared_free(&p);
}

static void test_loop(void)
{
    enum { F = 10, NREF = 5500 };
    static uint64_t r[NREF];
    for (size_t i = 0; i < NREF; i++)
        r[i] = i % (F + 1);
    static const char *const pol[] = { "fifo", "clock", "lru", "wsclock", "lru-aging:8:1" };
    for (size_t a = 0; a < 5; a++)
        if (run(pol[a], r, NREF, F) != NREF)
            FAIL("%s on a loop of frames+1 pages: must fault every time", pol[a]);
    /* OPT: after the first F, one fault per F references (keeps F-1 of the
       loop, evicts the page needed farthest ahead). */
    uint64_t opt = run("opt", r, NREF, F);
    if (opt != naive_opt(r, NREF, F) || opt >= NREF / 5)
        FAIL("opt on a loop: %llu", (unsigned long long)opt);
}

static void test_prepared_reuse(void)
{
    static uint64_t r[5000];
    random_trace(r, 5000, 500, 99);
    sim_prepared p;
    if (sim_prepare(&p, r, 5000))
        FAIL("prepare");
    const char *const *names = sim_policy_names();
    for (size_t F = 200; F >= 1; F /= 3)                /* OPT's table built once, reused */
        for (size_t a = 0; names[a]; a++) {
            uint64_t f;
            if (sim_run_prepared(&p, names[a], F, &f) || f != sim_run(names[a], r, 5000, F))
                FAIL("%s: prepared run differs, %zu frames", names[a], F);
        }
    sim_prepared_free(&p);
}

int main(void)
{
    test_against_naive();
    test_bounds();
    test_stack_property();
    test_lru_equals_opt();
    test_aging_tick_one_is_lru();
    test_aging_against_naive();
    test_id_map();
    test_loop();
    test_prepared_reuse();
    printf("test_sim_properties: ok\n");
    return 0;
}
