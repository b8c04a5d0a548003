/*
 * test_stall: memory stall time, like PSI's "some" (vmk_stats.stall_some_ns).
 *
 * Phase 1, two spaces at once in one system (load control off):
 *   A: one thread touches random pages of a region 8x the budget, checking
 *      and changing each page's word: it is in a fault nearly all the time,
 *      so its some-stall is most of the wall time (> 50%), and with a single
 *      thread the union of its fault intervals is their sum: some = fault_ns.
 *   B: one thread reads 16 resident pages over and over: its stall is ~0
 *      (only the minor faults of reference sampling: < 1% on a quiet
 *      machine; the test allows 15%, and a quarter of A's, for a loaded one).
 *   The system's some-stall covers both spaces: at least A's, at most A's
 *   plus B's.
 * Phase 2: space C, two threads faulting at random at the same time.  Their
 *   fault times overlap (the sum, fault_ns, exceeds the some-stall by 20%
 *   or more, or the run shows nothing), and the some-stall is the union: at
 *   most the wall time.
 * Last, vmk_stats_print's "memory stall" line shows the share of wall time
 * since the system opened, and wall_ns is that time.
 */
#include <vmkit.h>
#include "check.h"
#include <pthread.h>
#include <stdatomic.h>

enum { BUDGET = 512, REGION = 8 * BUDGET, HOT = 16 };

static double run_s = 0.6;

struct job {
    volatile uint64_t *m;          /* vmkit memory */
    uint64_t *model;               /* expected word of each page (plain memory) */
    size_t pages;
    size_t lo, hi;                 /* this thread's pages: [lo, hi) */
    uint64_t seed, touches;
    int random;                    /* 1: random pages; 0: read the pages in turn */
};

static void *worker(void *arg)
{
    struct job *j = arg;
    double end = now_s() + run_s;
    uint64_t s = j->seed;
    splitmix64(&s);
    size_t span = j->hi - j->lo, i = 0;
    while (now_s() < end) {
        for (int k = 0; k < 64; k++, j->touches++) {
            size_t p = j->lo + (j->random ? (size_t)(xorshift64(&s) % span) : i++ % span);
            uint64_t got = j->m[p * TWORDS];
            if (got != j->model[p])
                FAIL("page %zu: %#llx, want %#llx", p, (unsigned long long)got,
                     (unsigned long long)j->model[p]);
            if (j->random)
                j->m[p * TWORDS] = j->model[p] = got + 1;
        }
    }
    return NULL;
}

static vmk_stats space_stats(vmk_space *as)
{
    vmk_stats st;
    int r = vmk_space_stats(as, &st);
    CHECK(r == 0, "vmk_space_stats: %s", vmk_strerror(r));
    return st;
}

static vmk_stats sys_stats(vmk_system *sys)
{
    vmk_stats st;
    int r = vmk_stats_get(sys, &st);
    CHECK(r == 0, "vmk_stats_get: %s", vmk_strerror(r));
    return st;
}

static void map_job(vmk_space *as, struct job *j, size_t pages)
{
    j->m = vmk_map_anon(as, pages * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(j->m, "map %zu pages", pages);
    j->model = calloc(pages, sizeof *j->model);
    CHECK(j->model, "calloc");
    j->pages = pages;
    j->lo = 0;
    j->hi = pages;
}

#define MS(ns) ((double)(ns) / 1e6)

int main(void)
{
#ifdef VMK_TEST_TSAN
    run_s = 1.0;                   /* slower code: a longer run for the same counts */
#endif
    vmk_config cfg = vmk_config_default();
    cfg.memory_limit = BUDGET * TPAGE;
    cfg.load_control = 0;          /* no pauses: phase 2 must fault, not wait */
    double opened = now_s();
    vmk_system *sys;
    int r = vmk_system_open(&sys, &cfg);
    CHECK(r == 0, "open: %s", vmk_strerror(r));
    vmk_space *a, *b, *c;
    CHECK(vmk_space_create(sys, &a) == 0 && vmk_space_create(sys, &b) == 0 &&
          vmk_space_create(sys, &c) == 0, "space_create");

    /* Phase 1. */
    struct job ja = { .seed = 1, .random = 1 }, jb = { .seed = 2, .random = 0 };
    map_job(a, &ja, REGION);
    map_job(b, &jb, HOT);
    for (size_t p = 0; p < HOT; p++)
        CHECK(jb.m[p * TWORDS] == 0, "B page %zu not zero", p);    /* resident from now on */
    vmk_stats a0 = space_stats(a), b0 = space_stats(b), s0 = sys_stats(sys);
    double t0 = now_s();
    pthread_t ta, tb;
    pthread_create(&ta, NULL, worker, &ja);
    pthread_create(&tb, NULL, worker, &jb);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    double wall1 = now_s() - t0;
    vmk_stats a1 = space_stats(a), b1 = space_stats(b), s1 = sys_stats(sys);
    uint64_t some_a = a1.stall_some_ns - a0.stall_some_ns, fns_a = a1.fault_ns - a0.fault_ns;
    uint64_t some_b = b1.stall_some_ns - b0.stall_some_ns, some_s = s1.stall_some_ns - s0.stall_some_ns;
    printf("phase 1 (%.3f s): A %llu touches, %llu faults (%llu major), some %.1f ms = %.1f%%, "
           "fault time %.1f ms\n", wall1, (unsigned long long)ja.touches,
           (unsigned long long)(a1.faults - a0.faults),
           (unsigned long long)(a1.faults_major - a0.faults_major), MS(some_a),
           100 * MS(some_a) / (wall1 * 1e3), MS(fns_a));
    printf("                   B %llu touches, %llu faults, some %.3f ms = %.2f%%; system some %.1f ms\n",
           (unsigned long long)jb.touches, (unsigned long long)(b1.faults - b0.faults), MS(some_b),
           100 * MS(some_b) / (wall1 * 1e3), MS(some_s));
    EXPECT(a1.faults_major - a0.faults_major > 100, "A should fault from swap (%llu majors)",
           (unsigned long long)(a1.faults_major - a0.faults_major));
    EXPECT(MS(some_a) > 0.5 * wall1 * 1e3, "A's stall %.1f ms is not > 50%% of %.1f ms", MS(some_a),
           wall1 * 1e3);
    EXPECT(MS(some_a) <= wall1 * 1e3, "A's stall %.1f ms exceeds the wall time %.1f ms", MS(some_a),
           wall1 * 1e3);
    EXPECT(some_a == fns_a, "one thread: some (%llu ns) should equal the fault time (%llu ns)",
           (unsigned long long)some_a, (unsigned long long)fns_a);
    /* B's few faults are the minor faults of reference sampling, a few us
     * each - unless the thread is preempted inside one, or waits there for
     * the kernel's mm lock while A's faults hold it: on a loaded machine
     * (sanitizers, parallel tests) that has reached 8%. */
    EXPECT(MS(some_b) < 0.15 * wall1 * 1e3 && some_b < some_a / 4,
           "B runs from memory, yet stalls %.2f ms of %.1f ms (A: %.1f ms)", MS(some_b),
           wall1 * 1e3, MS(some_a));
    EXPECT(jb.touches > 1000, "B hardly ran (%llu touches)", (unsigned long long)jb.touches);
    EXPECT(some_s >= some_a && some_s >= some_b, "system some %.2f ms < a space's (A %.2f, B %.2f)",
           MS(some_s), MS(some_a), MS(some_b));
    EXPECT(some_s <= some_a + some_b, "system some %.3f ms > A + B = %.3f ms", MS(some_s),
           MS(some_a + some_b));

    /* Phase 2: two threads of C fault at once, on halves of C's region. */
    struct job jc[2];
    map_job(c, &jc[0], REGION);
    jc[1] = jc[0];
    jc[0].hi = jc[1].lo = REGION / 2;
    jc[0].seed = 3, jc[1].seed = 4;
    jc[0].random = jc[1].random = 1;
    jc[0].touches = jc[1].touches = 0;
    vmk_stats c0 = space_stats(c), a2 = space_stats(a);
    s0 = sys_stats(sys);
    t0 = now_s();
    pthread_t tc[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&tc[i], NULL, worker, &jc[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(tc[i], NULL);
    double wall2 = now_s() - t0;
    vmk_stats c1 = space_stats(c), a3 = space_stats(a);
    s1 = sys_stats(sys);
    uint64_t some_c = c1.stall_some_ns - c0.stall_some_ns, fns_c = c1.fault_ns - c0.fault_ns;
    some_s = s1.stall_some_ns - s0.stall_some_ns;
    printf("phase 2 (%.3f s): C 2 threads, %llu faults (%llu major), some %.1f ms = %.1f%%, "
           "fault time (sum) %.1f ms = %.1f%%; system some %.1f ms\n",
           wall2, (unsigned long long)(c1.faults - c0.faults),
           (unsigned long long)(c1.faults_major - c0.faults_major), MS(some_c),
           100 * MS(some_c) / (wall2 * 1e3), MS(fns_c), 100 * MS(fns_c) / (wall2 * 1e3), MS(some_s));
    EXPECT(MS(some_c) <= wall2 * 1e3, "C's some %.2f ms exceeds the wall time %.2f ms: counted twice",
           MS(some_c), wall2 * 1e3);
    EXPECT(MS(some_s) <= wall2 * 1e3, "system some %.2f ms exceeds the wall time %.2f ms",
           MS(some_s), wall2 * 1e3);
    EXPECT(fns_c > some_c + some_c / 5,
           "the two threads' faults hardly overlapped (sum %.1f ms, some %.1f ms): nothing shown",
           MS(fns_c), MS(some_c));
    EXPECT(MS(some_c) > 0.5 * wall2 * 1e3, "C's stall %.1f ms is not > 50%% of %.1f ms", MS(some_c),
           wall2 * 1e3);
    EXPECT(some_s >= some_c, "system some %.2f ms < C's %.2f ms", MS(some_s), MS(some_c));
    EXPECT(a3.stall_some_ns == a2.stall_some_ns, "A did not run in phase 2, yet its stall grew");

    /* The share as vmk_stats_print shows it, and wall_ns. */
    vmk_stats st = sys_stats(sys);
    double since_open = now_s() - opened;
    EXPECT(st.wall_ns > 0 && MS(st.wall_ns) <= since_open * 1e3 + 1 &&
           MS(st.wall_ns) > since_open * 1e3 - 50,
           "wall_ns %.1f ms, but the system opened %.1f ms ago", MS(st.wall_ns), since_open * 1e3);
    EXPECT(st.stall_some_ns <= st.wall_ns, "system some %.1f ms > wall %.1f ms", MS(st.stall_some_ns),
           MS(st.wall_ns));
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CHECK(f, "open_memstream");
    vmk_stats_print(&st, f);
    fclose(f);
    const char *line = strstr(text, "memory stall");
    double pct = -1;
    CHECK(line && sscanf(line, "memory stall %lf%%", &pct) == 1, "no memory stall line in:\n%s", text);
    double want = 100.0 * (double)st.stall_some_ns / (double)st.wall_ns;
    EXPECT(pct >= want - 0.051 && pct <= want + 0.051, "printed %.1f%%, want %.2f%%", pct, want);
    fputs(line, stdout);
    free(text);

    free(ja.model), free(jb.model), free(jc[0].model);
    vmk_system_close(sys);
    EXPECT_DONE();
    printf("ok\n");
    return 0;
}
