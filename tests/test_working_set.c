/*
 * test_working_set: vmk_stats.working_set estimates Denning's W(t, tau)
 * (tau = 1 s of wall time, the default) per space, on real runs:
 *
 *   1. a space whose thread touches a fixed hot set of H pages over and
 *      over, alone in an 8 MiB budget (no memory pressure: only the
 *      background sampler sees its references), reports H +-25%;
 *   2. the same while a second space scans a region 4x the budget at a
 *      steady rate, one read per page (pressure: the policy samples too):
 *      the hot space still reports H +-25%, and the scanning space reports
 *      the pages it really touched in the last tau (its rate x tau, which
 *      exceeds the frames: the evicted part of the window counts) +-25%;
 *      the system's figure is the sum of the two +-25%;
 *   3. the hot thread stops: 1.6 s later (tau plus the sampling delay) the
 *      hot space's working set has fallen below H/4;
 *   4. a third space cycles over 1.5x the frames, writing every page: it
 *      thrashes, every page is evicted and faulted back many times per
 *      tau, and its working set must still be its T distinct pages +-25%
 *      (each return is recognised by its shadow, not counted anew).
 * Each figure is the median of 5 readings 100 ms apart; the truth for the
 * scan is counted from the scanner's own log of (time, pages touched).
 */
#include <vmkit.h>
#include <pthread.h>
#include <stdatomic.h>
#include "check.h"

#define LIMIT   ((size_t)8 << 20)
#define HOT     256
#define SCAN    (4 * LIMIT / TPAGE)
#define RATE    3000.0                   /* scanned pages per second */
#define TAU     1.0

static unsigned char *hot, *cold;
static _Atomic int hot_run = 1, scan_run = 0, stop_all = 0, cycle_run = 0;
static unsigned char *cyc;
static size_t ncyc;
static _Atomic uint64_t cycles;

static void *cycle_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&cycle_run)) {          /* 0: wait, 1: run, 2: quit */
        struct timespec ts = { 0, 2000000 };
        nanosleep(&ts, NULL);
    }
    while (atomic_load(&cycle_run) == 1) {
        for (size_t p = 0; p < ncyc; p++)
            ((volatile uint64_t *)(cyc + p * TPAGE))[1]++;
        atomic_fetch_add(&cycles, 1);
    }
    return NULL;
}

/* The scanner's log: pages touched by time, one entry per chunk. */
#define LOGN 4096
static double log_t[LOGN];
static size_t log_pages[LOGN];
static _Atomic size_t log_n;

static void *hot_main(void *arg)
{
    (void)arg;
    uint64_t sum = 0;
    while (!atomic_load(&stop_all)) {
        if (!atomic_load(&hot_run)) {
            struct timespec ts = { 0, 5000000 };
            nanosleep(&ts, NULL);
            continue;
        }
        for (size_t p = 0; p < HOT; p++)
            sum += ((volatile uint64_t *)(hot + p * TPAGE))[p % TWORDS];
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    return (void *)(uintptr_t)sum;
}

static void *scan_main(void *arg)
{
    (void)arg;
    size_t done = 0;
    uint64_t sum = 0;
    while (!atomic_load(&scan_run) && !atomic_load(&stop_all)) {
        struct timespec ts = { 0, 2000000 };
        nanosleep(&ts, NULL);
    }
    double t0 = now_s();
    while (!atomic_load(&stop_all) && done < SCAN) {
        size_t due = (size_t)((now_s() - t0) * RATE);
        for (; done < due && done < SCAN; done++)
            sum += ((volatile uint64_t *)(cold + done * TPAGE))[0];
        size_t i = atomic_load(&log_n);
        if (i < LOGN) {
            log_t[i] = now_s();
            log_pages[i] = done;
            atomic_store(&log_n, i + 1);
        }
        struct timespec ts = { 0, 2000000 };
        nanosleep(&ts, NULL);
    }
    return (void *)(uintptr_t)sum;
}

/* Pages the scanner touched in (t - TAU, t]. */
static size_t scanned_within(double t)
{
    size_t n = atomic_load(&log_n), at_t = 0, before = 0;
    for (size_t i = 0; i < n; i++) {
        if (log_t[i] <= t)
            at_t = log_pages[i];
        if (log_t[i] <= t - TAU)
            before = log_pages[i];
    }
    return at_t - before;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct reading { uint64_t hot, scan, sys, truth; };

static struct reading median_reading(vmk_system *s, vmk_space *hs, vmk_space *cs)
{
    uint64_t h[5], c[5], y[5], t[5];
    for (int i = 0; i < 5; i++) {
        h[i] = get_space_stats(hs).working_set;
        c[i] = get_space_stats(cs).working_set;
        y[i] = get_stats(s).working_set;
        t[i] = scanned_within(now_s());
        struct timespec ts = { 0, 100000000 };
        nanosleep(&ts, NULL);
    }
    qsort(h, 5, sizeof h[0], cmp_u64), qsort(c, 5, sizeof c[0], cmp_u64);
    qsort(y, 5, sizeof y[0], cmp_u64), qsort(t, 5, sizeof t[0], cmp_u64);
    return (struct reading){ h[2], c[2], y[2], t[2] };
}

static int within(uint64_t got, double want, double tol)
{
    return (double)got >= want * (1 - tol) && (double)got <= want * (1 + tol);
}

static void sleep_s(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    nanosleep(&ts, NULL);
}

int main(void)
{
    unsetenv("VMK_WS_TAU_MS");
    vmk_config c = vmk_config_default();
    c.memory_limit = LIMIT;
    c.load_control = 0;
    vmk_system *s;
    int r = vmk_system_open(&s, &c);
    CHECK(r == 0, "open: %s", vmk_strerror(r));
    vmk_space *hs = new_space(s), *cs = new_space(s), *ys = new_space(s);
    ncyc = LIMIT / TPAGE * 3 / 2;
    cyc = vmk_map_anon(ys, ncyc * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(cyc, "map");
    hot = vmk_map_anon(hs, HOT * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    cold = vmk_map_anon(cs, SCAN * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(hot && cold, "map");
    for (size_t p = 0; p < HOT; p++)
        fill_page(hot + p * TPAGE, 1, p);
    CHECK(get_stats(s).working_set_tau_ms == 1000, "tau %llu ms, want the default 1000",
          ULL(get_stats(s).working_set_tau_ms));
    pthread_t th, ts, tc;
    CHECK(pthread_create(&tc, NULL, cycle_main, NULL) == 0, "thread");
    CHECK(pthread_create(&th, NULL, hot_main, NULL) == 0, "thread");
    CHECK(pthread_create(&ts, NULL, scan_main, NULL) == 0, "thread");

    sleep_s(1.6);                       /* 1: the hot set alone */
    struct reading a = median_reading(s, hs, cs);
    vmk_stats st = get_stats(s);
    printf("hot set alone (%d pages, %llu resident of %llu frames): working set %llu; "
           "%llu reference samples\n", HOT, ULL(st.resident), ULL(st.frames_total), ULL(a.hot),
           ULL(st.ref_samples));
    EXPECT(within(a.hot, HOT, 0.25), "hot space alone: working set %llu, want %d +-25%%",
           ULL(a.hot), HOT);

    atomic_store(&scan_run, 1);         /* 2: and a steady scan */
    sleep_s(2.0);
    struct reading b = median_reading(s, hs, cs);
    st = get_stats(s);
    printf("with a scan at %.0f pages/s (%llu pages evicted): hot %llu, scan %llu (truth: %llu "
           "touched in the last second), system %llu\n", RATE, ULL(st.pages_evicted), ULL(b.hot),
           ULL(b.scan), ULL(b.truth), ULL(b.sys));
    EXPECT(st.pages_evicted > 0 && b.truth > st.frames_total / 2,
           "the scan must make memory pressure (evicted %llu, truth %llu)", ULL(st.pages_evicted),
           ULL(b.truth));
    EXPECT(within(b.hot, HOT, 0.25), "hot space beside the scan: working set %llu, want %d +-25%%",
           ULL(b.hot), HOT);
    EXPECT(within(b.scan, (double)b.truth, 0.25),
           "scanning space: working set %llu, want %llu (rate x tau) +-25%%", ULL(b.scan),
           ULL(b.truth));
    EXPECT(within(b.sys, (double)(b.hot + b.scan), 0.25), "system working set %llu, spaces %llu",
           ULL(b.sys), ULL(b.hot + b.scan));

    atomic_store(&hot_run, 0);          /* 3: the hot set falls idle */
    sleep_s(1.6);
    struct reading d = median_reading(s, hs, cs);
    printf("hot set idle for 1.6 s: working set %llu\n", ULL(d.hot));
    EXPECT(d.hot < HOT / 4, "idle hot space still has a working set of %llu pages", ULL(d.hot));

    atomic_store(&scan_run, 0);         /* 4: a space that thrashes */
    atomic_store(&stop_all, 1);
    pthread_join(ts, NULL);
    pthread_join(th, NULL);
    atomic_store(&cycle_run, 1);
    sleep_s(1.5);
    uint64_t y[5], c0 = atomic_load(&cycles), f0 = get_space_stats(ys).pages_zero_filled +
                                                     get_space_stats(ys).pages_swapped_in;
    double t0 = now_s();
    for (int i = 0; i < 5; i++) {
        y[i] = get_space_stats(ys).working_set;
        sleep_s(0.1);
    }
    vmk_stats ysst = get_space_stats(ys);
    double fill_rate = (double)(ysst.pages_zero_filled + ysst.pages_swapped_in - f0) / (now_s() - t0);
    uint64_t ncycles = atomic_load(&cycles) - c0;
    qsort(y, 5, sizeof y[0], cmp_u64);
    printf("a space cycling over %zu pages (%.1f cycles/s, %.0f pages filled/s, %llu refaults): "
           "working set %llu\n", ncyc, (double)ncycles / 0.5, fill_rate, ULL(ysst.refaults), ULL(y[2]));
    EXPECT(ncycles >= 1 && fill_rate > (double)ncyc, "the cycling space must refill its pages "
           "more than once per tau (%llu cycles, %.0f fills/s)", ULL(ncycles), fill_rate);
    EXPECT(within(y[2], (double)ncyc, 0.25), "thrashing space: working set %llu, want its %zu pages "
           "+-25%%", ULL(y[2]), ncyc);
    atomic_store(&cycle_run, 2);
    pthread_join(tc, NULL);
    st = get_stats(s);
    vmk_stats_print(&st, stdout);
    vmk_system_close(s);
    EXPECT_DONE();
    printf("ok: working sets of a hot set, a scan and an idle set as expected\n");
    return 0;
}
