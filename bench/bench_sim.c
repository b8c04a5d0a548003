/*
 * bench_sim: how fast the policy simulator replays a reference string.
 *
 *   build/bench_sim [REFERENCES [FRAMES]]     (default 100000000 65536)
 *
 * Generates a synthetic trace - REFERENCES page numbers shaped like vmkit's
 * (space id << 48 | page): 70% to a drifting hot set of 16 Ki pages, 10% to
 * sequential scans over 256 Ki pages, 20% uniform over 1 Mi pages - then
 * times the id mapping (sim_prepare), OPT's next-use pass, and each
 * policy's replay with FRAMES frames, printing references/s.
 *
 * Bench programs link only libvmkit, so the simulator core is compiled in.
 */
#include "../tools/sim_core.c"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)                   /* xorshift64* */
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1Dull;
}

static void make_trace(uint64_t *r, size_t n)
{
    uint64_t hot = 0, scan = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t x = rnd(), k = x % 10, page;
        if (i % 100000 == 0)
            hot = rnd() % (1 << 20);        /* the hot set drifts */
        if (k < 7)
            page = (hot + (x >> 8) % (16 << 10)) % (1 << 20);
        else if (k < 8)
            page = scan++ % (256 << 10);
        else
            page = (x >> 8) % (1 << 20);
        r[i] = (1ull << 48) | (0x7f0000000ull + page);
    }
}

static void row(const char *what, size_t frames, uint64_t faults, size_t n, double secs)
{
    printf("%-12s %8zu %12llu %8.4f %9.2f %10.1f\n", what, frames, (unsigned long long)faults,
           n ? (double)faults / (double)n : 0.0, secs, (double)n / secs / 1e6);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000000;
    size_t frames = argc > 2 ? strtoull(argv[2], NULL, 10) : 65536;
    uint64_t *r = malloc(n * sizeof *r);
    if (!r || !frames)
        return fprintf(stderr, "usage: bench_sim [REFERENCES [FRAMES]]\n"), 2;
    make_trace(r, n);
    sim_prepared p;
    double t0 = now_s();
    if (sim_prepare(&p, r, n))
        return fprintf(stderr, "bench_sim: out of memory\n"), 1;
    double t_prep = now_s() - t0;
    free(r);
    printf("%zu references, %u distinct pages, %zu frames\n\n", n, p.npages, frames);
    printf("%-12s %8s %12s %8s %9s %10s\n", "policy", "frames", "faults", "miss", "seconds", "Mrefs/s");
    row("(id map)", 0, 0, n, t_prep);
    t0 = now_s();
    if (opt_prepare(&p))
        return fprintf(stderr, "bench_sim: out of memory\n"), 1;
    double t_next = now_s() - t0;
    row("(opt next)", 0, 0, n, t_next);
    for (const char *const *name = sim_policy_names(); *name; name++) {
        uint64_t faults;
        t0 = now_s();
        if (sim_run_prepared(&p, *name, frames, &faults))
            return fprintf(stderr, "bench_sim: %s failed\n", *name), 1;
        double t = now_s() - t0;
        if (!strcmp(*name, "opt")) {
            row("opt (run)", frames, faults, n, t);
            row("opt (total)", frames, faults, n, t + t_next);
        } else
            row(*name, frames, faults, n, t);
    }
    sim_prepared_free(&p);
    return 0;
}
