/*
 * test_fork_collapse: forks without end.  A frozen object left with one
 * child merges that child into itself (src/collapse.c), so a space can be
 * forked and its children destroyed forever, with no growth in depth,
 * memory, swap slots or kernel mappings.  Checked on data:
 *   - checkpoint loop: 1000 x (fork, the parent writes a round's pattern on
 *     300 random pages, the child still shows the pre-fork bytes, destroy
 *     the child) on 32 MiB under a 24 MiB budget (pages go through swap);
 *     no -EMLINK, depth back to 0 after each destroy, every page as the
 *     model says at the end, and frames, swap slots and kernel mappings
 *     (/proc/self/maps) as after round 1; the same on a private file
 *     mapping (the file never changes);
 *   - rolling window: 4 live children, a fork every round and the oldest
 *     child destroyed (after it is checked against its snapshot, its own
 *     writes included), 500 rounds: the depth never passes the window;
 *   - reset loop: 500 x (both sides write, vmk_space_reset, the child equals
 *     the parent);
 *   - collapses while 2 threads write and check their own pages of the
 *     parent: no byte wrong (the guarded remap, collapse.c step 3);
 *   - figures: a fork + destroy round, and a collapse of N changed pages;
 *   - working-set counts move with the pages at fork and at collapse.
 * The depth and the estimate of kernel mappings copy-on-write added
 * (sys->cow_maps) are read from vmkit's objects (white box: src/internal.h).
 */
#include "vmkit.h"
#include "check.h"
#include "../src/internal.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

enum { NPAGES = 8192 };                    /* 32 MiB */

/* Deepest backing chain under the space's mappings (0: no fork in them). */
static uint32_t space_depth(vmk_space *as)
{
    struct vmk_system *sys = as->sys;
    uint32_t d = 0;
    rw_read_lock(&sys->maplock);
    for (size_t i = 0; i < sys->nvmas; i++)
        if (sys->vmas[i]->space == as && sys->vmas[i]->obj->depth > d)
            d = sys->vmas[i]->obj->depth;
    rw_read_unlock(&sys->maplock);
    return d;
}


/* A few words of the page (first, second, middle, last): a page of another
 * index or version shows in all of them. */
static bool quick_ok(const char *p, uint64_t ver, size_t pg)
{
    static const size_t ws[] = { 0, 1, 255, TWORDS - 1 };
    const volatile uint64_t *w = (const volatile uint64_t *)p;
    for (size_t k = 0; k < sizeof ws / sizeof ws[0]; k++)
        if (w[ws[k]] != pattern(ver, pg, ws[k]))
            return false;
    return true;
}

/* Pages of base that do not hold ver[pg] (every word if full, else a few). */
static size_t check_pages(const char *what, const char *base, const uint64_t *ver, size_t n,
                          bool full)
{
    size_t bad = 0;
    for (size_t pg = 0; pg < n; pg++) {
        const char *p = base + pg * TPAGE;
        bool ok = full ? verify_page(p, ver[pg], pg, what) == 0 : quick_ok(p, ver[pg], pg);
        if (!ok && bad++ == 0 && !full)
            fprintf(stderr, "%s: page %zu does not hold version %llu\n", what, pg, ULL(ver[pg]));
    }
    return bad;
}

static double elapsed_us(double t0) { return (now_s() - t0) * 1e6; }

/* A file of n pages, page pg holding pattern(ver, pg, *). */
static int pattern_file(size_t n, uint64_t ver)
{
    char path[] = "/tmp/vmk_collapse_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    unlink(path);
    uint64_t buf[TWORDS];
    for (size_t pg = 0; pg < n; pg++) {
        fill_page(buf, ver, pg);
        CHECK(pwrite(fd, buf, TPAGE, (off_t)(pg * TPAGE)) == (ssize_t)TPAGE, "pwrite");
    }
    return fd;
}

/*
 * The checkpoint loop: fork, change, look at the child, destroy it.
 */
static void checkpoint_loop(int rounds, bool file)
{
    enum { WRITES = 300 };
    vmk_system *sys = open_system((size_t)24 << 20, NULL);
    vmk_space *p = new_space(sys);
    uint64_t *ver = malloc(NPAGES * sizeof *ver);
    int fd = -1;
    char *a;
    if (file) {
        fd = pattern_file(NPAGES, 1);
        a = vmk_map_file(p, fd, 0, NPAGES * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE, VMK_MAP_PRIVATE);
        CHECK(a, "vmk_map_file");
        for (size_t pg = 0; pg < NPAGES; pg++)
            ver[pg] = 1;
    } else {
        a = vmk_map_anon(p, NPAGES * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
        CHECK(a, "vmk_map_anon");
        for (size_t pg = 0; pg < NPAGES; pg++)
            fill_page(a + pg * TPAGE, ver[pg] = 1, pg);
    }
    size_t idx[WRITES];
    uint64_t seed = 0xc011a95e + (uint64_t)file;
    double t_fork = 0, t_destroy = 0;
    int maps1 = 0;
    vmk_stats st1 = { 0 };
    for (int r = 1; r <= rounds; r++) {
        vmk_space *c;
        double t0 = now_s();
        int e = vmk_space_fork(p, &c);
        t_fork += elapsed_us(t0);
        CHECK(e == 0, "round %d: fork: %s", r, vmk_strerror(e));
        CHECK(space_depth(p) == 1 && space_depth(c) == 1, "round %d: depth %u / %u after fork", r,
              space_depth(p), space_depth(c));
        char *b = vmk_space_translate(c, p, a);
        CHECK(b, "round %d: translate", r);
        uint64_t v = (uint64_t)r + 1;
        for (int k = 0; k < WRITES; k++) {
            idx[k] = splitmix64(&seed) % NPAGES;
            fill_page(a + idx[k] * TPAGE, v, idx[k]);
        }
        /* The child shows the snapshot: the changed pages in full, 256
         * others at a few words, and every 100 rounds every page in full
         * (reading all of it every round would be a test of swap-in). */
        size_t bad = 0;
        for (int k = 0; k < WRITES; k++)
            bad += verify_page(b + idx[k] * TPAGE, ver[idx[k]], idx[k], "child") != 0;
        for (int k = 0; k < 256; k++) {
            size_t pg = splitmix64(&seed) % NPAGES;
            bad += !quick_ok(b + pg * TPAGE, ver[pg], pg);
        }
        if (r % 100 == 1)
            bad += check_pages("child", b, ver, NPAGES, true);
        CHECK(bad == 0, "round %d: %zu pages of the child differ from the snapshot", r, bad);
        t0 = now_s();
        vmk_space_destroy(c);
        t_destroy += elapsed_us(t0);
        for (int k = 0; k < WRITES; k++)
            ver[idx[k]] = v;
        CHECK(space_depth(p) == 0, "round %d: depth %u after the child went", r, space_depth(p));
        /* No fork left, so no kernel mapping added by copy-on-write. */
        CHECK(atomic_load(&sys->cow_maps) == 0, "round %d: cow_maps %lld with no fork left", r,
              (long long)atomic_load(&sys->cow_maps));
        if (r == 1) {
            maps1 = count_maps();
            st1 = get_stats(sys);
        }
    }
    CHECK(check_pages("parent", a, ver, NPAGES, true) == 0, "the parent differs from the model");
    vmk_stats st = get_stats(sys);
    int maps = count_maps();
    CHECK(st.shared_resident == 0, "%llu shared pages with no child left", ULL(st.shared_resident));
    CHECK(st.fork_collapses - st1.fork_collapses == (uint64_t)rounds - 1,
          "%llu collapses in %d rounds", ULL(st.fork_collapses - st1.fork_collapses), rounds - 1);
    CHECK(st.sigbus == 0 && st.io_errors == 0, "sigbus %llu, I/O errors %llu", ULL(st.sigbus),
          ULL(st.io_errors));
    /* A page has one slot at most; an anonymous page has had one since
     * round 1 (a file page gets one when first written and evicted). */
    CHECK(st.swap_used <= NPAGES + 64 && (file || st.swap_used <= st1.swap_used + NPAGES / 16),
          "swap slots grew: %llu after round 1, %llu after %d rounds", ULL(st1.swap_used),
          ULL(st.swap_used), rounds);
    CHECK(st.resident <= st.frames_total, "resident %llu of %llu frames", ULL(st.resident),
          ULL(st.frames_total));
#if !defined(VMK_TEST_ASAN) && !defined(VMK_TEST_TSAN)  /* their runtimes map as they go */
    CHECK(maps <= maps1 + 8, "kernel mappings grew: %d after round 1, %d after %d rounds", maps1,
          maps, rounds);
#endif
    if (file) {
        uint64_t buf[TWORDS];
        size_t bad = 0;
        for (size_t pg = 0; pg < NPAGES; pg++) {
            CHECK(pread(fd, buf, TPAGE, (off_t)(pg * TPAGE)) == (ssize_t)TPAGE, "pread");
            bad += verify_page(buf, 1, pg, "file") != 0;
        }
        CHECK(bad == 0, "%zu pages of the privately mapped file changed", bad);
    }
    printf("checkpoint loop (%s, 32 MiB, 24 MiB budget): %d rounds, %llu collapses; fork %.0f us, "
           "destroy with collapse %.0f us per round; resident %llu -> %llu, swap %llu -> %llu, "
           "kernel mappings %d -> %d\n", file ? "private file" : "anonymous", rounds,
           ULL(st.fork_collapses), t_fork / rounds, t_destroy / rounds, ULL(st1.resident),
           ULL(st.resident), ULL(st1.swap_used), ULL(st.swap_used), maps1, maps);
    vmk_space_destroy(p);
    st = get_stats(sys);
    CHECK(st.resident == 0 && st.swap_used == 0, "leak: resident %llu, swap %llu", ULL(st.resident),
          ULL(st.swap_used));
    vmk_system_close(sys);
    if (fd >= 0)
        close(fd);
    free(ver);
}

/*
 * A rolling window of K live snapshots.
 */
static void rolling_window(int rounds)
{
    enum { K = 4, N = 4096, PW = 100, CWR = 20 };   /* 16 MiB under 12 MiB */
    vmk_system *sys = open_system((size_t)12 << 20, NULL);
    vmk_space *p = new_space(sys);
    char *a = vmk_map_anon(p, N * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(a, "map");
    uint64_t *ver = malloc(N * sizeof *ver);
    for (size_t pg = 0; pg < N; pg++)
        fill_page(a + pg * TPAGE, ver[pg] = 1, pg);
    struct snap { vmk_space *c; char *b; uint64_t *ver; } ring[K] = { { 0 } };
    uint64_t seed = 77;
    uint32_t deepest = 0;
    for (int r = 1; r <= rounds; r++) {
        struct snap *s = &ring[r % K];
        if (s->c) {                        /* the oldest: check, then destroy */
            size_t bad = r % 10 == 0 ? check_pages("snapshot", s->b, s->ver, N, r % 50 == 0) : 0;
            for (int k = 0; k < 256; k++) {
                size_t pg = splitmix64(&seed) % N;
                bad += !quick_ok(s->b + pg * TPAGE, s->ver[pg], pg);
            }
            CHECK(bad == 0, "round %d: %zu pages of a snapshot %d rounds old are wrong", r, bad, K);
            vmk_space_destroy(s->c);
            s->c = NULL;
            uint32_t d = space_depth(p);
            CHECK(d <= K - 1, "round %d: parent depth %u with %d children live", r, d, K - 1);
        }
        int e = vmk_space_fork(p, &s->c);
        CHECK(e == 0, "round %d: fork: %s", r, vmk_strerror(e));
        s->b = vmk_space_translate(s->c, p, a);
        CHECK(s->b, "translate");
        if (!s->ver)
            s->ver = malloc(N * sizeof *s->ver);
        memcpy(s->ver, ver, N * sizeof *ver);
        for (int k = 0; k < CWR; k++) {    /* the child's own changes */
            size_t pg = splitmix64(&seed) % N;
            fill_page(s->b + pg * TPAGE, s->ver[pg] = 1000000 + (uint64_t)r, pg);
        }
        for (int k = 0; k < PW; k++) {
            size_t pg = splitmix64(&seed) % N;
            fill_page(a + pg * TPAGE, ver[pg] = (uint64_t)r + 1, pg);
        }
        uint32_t d = space_depth(p);
        deepest = d > deepest ? d : deepest;
    }
    CHECK(check_pages("parent", a, ver, N, true) == 0, "the parent differs from the model");
    for (int k = 0; k < K; k++) {
        CHECK(check_pages("snapshot", ring[k].b, ring[k].ver, N, true) == 0, "a snapshot is wrong");
        vmk_space_destroy(ring[k].c);
        free(ring[k].ver);
    }
    CHECK(space_depth(p) == 0, "depth %u with no child left", space_depth(p));
    vmk_stats st = get_stats(sys);
    CHECK(st.shared_resident == 0 && st.sigbus == 0, "shared %llu, sigbus %llu",
          ULL(st.shared_resident), ULL(st.sigbus));
    printf("rolling window: %d rounds, %d live snapshots, deepest chain %u\n", rounds, K, deepest);
    vmk_space_destroy(p);
    st = get_stats(sys);
    CHECK(st.resident == 0 && st.swap_used == 0, "leak: resident %llu, swap %llu", ULL(st.resident),
          ULL(st.swap_used));
    vmk_system_close(sys);
    free(ver);
}

/*
 * vmk_space_reset over and over: both sides write, the child goes back.
 */
static void reset_loop(int rounds)
{
    enum { N = 2048, PW = 30, CWR = 10 };       /* 8 MiB under 4 MiB */
    vmk_system *sys = open_system((size_t)4 << 20, NULL);
    vmk_space *p = new_space(sys), *c;
    char *a = vmk_map_anon(p, N * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(a, "map");
    uint64_t *ver = malloc(N * sizeof *ver);
    for (size_t pg = 0; pg < N; pg++)
        fill_page(a + pg * TPAGE, ver[pg] = 1, pg);
    CHECK(vmk_space_fork(p, &c) == 0, "fork");
    char *b = vmk_space_translate(c, p, a);
    uint64_t seed = 99;
    double t_reset = 0;
    for (int r = 1; r <= rounds; r++) {
        size_t touched[PW + CWR];
        for (int k = 0; k < CWR; k++) {
            size_t pg = touched[k] = splitmix64(&seed) % N;
            fill_page(b + pg * TPAGE, 5000000 + (uint64_t)r, pg);
        }
        for (int k = 0; k < PW; k++) {
            size_t pg = touched[CWR + k] = splitmix64(&seed) % N;
            fill_page(a + pg * TPAGE, ver[pg] = (uint64_t)r + 1, pg);
        }
        double t0 = now_s();
        int e = vmk_space_reset(c);
        t_reset += elapsed_us(t0);
        CHECK(e == 0, "round %d: reset: %s", r, vmk_strerror(e));
        CHECK(b == vmk_space_translate(c, p, a), "round %d: the child moved", r);
        size_t bad = 0;
        for (int k = 0; k < PW + CWR; k++)
            bad += verify_page(b + touched[k] * TPAGE, ver[touched[k]], touched[k], "child") != 0;
        if (r % 10 == 0)
            bad += check_pages("child", b, ver, N, r % 100 == 0);
        CHECK(bad == 0, "round %d: %zu pages of the child differ from the parent after reset", r,
              bad);
        CHECK(space_depth(p) == 1 && space_depth(c) == 1, "round %d: depth %u / %u", r,
              space_depth(p), space_depth(c));
    }
    CHECK(check_pages("parent", a, ver, N, true) == 0, "the parent differs from the model");
    printf("reset loop: %d rounds, reset %.0f us per round, depth 1\n", rounds, t_reset / rounds);
    vmk_space_destroy(c);
    vmk_space_destroy(p);
    vmk_stats st = get_stats(sys);
    CHECK(st.resident == 0 && st.swap_used == 0 && st.sigbus == 0, "resident %llu, swap %llu, "
          "sigbus %llu", ULL(st.resident), ULL(st.swap_used), ULL(st.sigbus));
    vmk_system_close(sys);
    free(ver);
}

/*
 * Collapses while other threads write the parent: thread t owns the pages
 * pg % 4 == t, writes one, checks it and another of its own, again and
 * again; pages pg % 4 >= 2 never change, and every child shows them.
 */
enum { TN = 4096, TTHREADS = 2 };
static char *t_base;
static uint64_t *t_ver;
static _Atomic int t_stop;
static _Atomic uint64_t t_writes;

static void *owner_thread(void *arg)
{
    size_t t = (size_t)(uintptr_t)arg;
    uint64_t seed = 1234 + t, n = 0;
    while (!atomic_load_explicit(&t_stop, memory_order_relaxed)) {
        size_t pg = (splitmix64(&seed) % (TN / 4)) * 4 + t;
        t_ver[pg]++;
        fill_page(t_base + pg * TPAGE, t_ver[pg], pg);
        if (verify_page(t_base + pg * TPAGE, t_ver[pg], pg, "writer") != 0)
            FAIL("thread %zu: page %zu wrong right after it was written", t, pg);
        size_t other = (splitmix64(&seed) % (TN / 4)) * 4 + t;
        if (verify_page(t_base + other * TPAGE, t_ver[other], other, "writer") != 0)
            FAIL("thread %zu: page %zu lost a write", t, other);
        n++;
    }
    atomic_fetch_add(&t_writes, n);
    return NULL;
}

static void threads_while_collapsing(int rounds)
{
    vmk_system *sys = open_system((size_t)64 << 20, NULL);    /* 16 MiB, resident */
    vmk_space *p = new_space(sys);
    t_base = vmk_map_anon(p, TN * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(t_base, "map");
    t_ver = malloc(TN * sizeof *t_ver);
    for (size_t pg = 0; pg < TN; pg++)
        fill_page(t_base + pg * TPAGE, t_ver[pg] = 1, pg);
    pthread_t th[TTHREADS];
    for (size_t t = 0; t < TTHREADS; t++)
        CHECK(pthread_create(&th[t], NULL, owner_thread, (void *)(uintptr_t)t) == 0, "thread");
    for (int r = 1; r <= rounds; r++) {
        vmk_space *c;
        int e = vmk_space_fork(p, &c);
        CHECK(e == 0, "round %d: fork: %s", r, vmk_strerror(e));
        char *b = vmk_space_translate(c, p, t_base);
        size_t bad = 0;
        for (size_t pg = 2; pg < TN; pg += 4) {
            bad += !quick_ok(b + pg * TPAGE, 1, pg);
            bad += !quick_ok(b + (pg + 1) * TPAGE, 1, pg + 1);
        }
        CHECK(bad == 0, "round %d: %zu unchanging pages wrong in the child", r, bad);
        vmk_space_destroy(c);
    }
    atomic_store(&t_stop, 1);
    for (size_t t = 0; t < TTHREADS; t++)
        pthread_join(th[t], NULL);
    CHECK(check_pages("parent", t_base, t_ver, TN, true) == 0, "the parent differs from the model");
    CHECK(space_depth(p) == 0, "depth %u", space_depth(p));
    vmk_stats st = get_stats(sys);
    CHECK(st.sigbus == 0, "sigbus %llu", ULL(st.sigbus));
    printf("threads: %d fork/destroy rounds while %d threads wrote %llu pages, none wrong\n",
           rounds, TTHREADS, ULL(atomic_load(&t_writes)));
    vmk_space_destroy(p);
    vmk_system_close(sys);
    free(t_ver);
}

/* The cost of a collapse: destroy a child after the parent changed n pages. */
static void collapse_cost(void)
{
    vmk_system *sys = open_system((size_t)256 << 20, NULL);
    vmk_space *p = new_space(sys);
    char *a = vmk_map_anon(p, NPAGES * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(a, "map");
    for (size_t pg = 0; pg < NPAGES; pg++)
        fill_page(a + pg * TPAGE, 1, pg);
    static const size_t ns[] = { 0, 10, 100, 1000, NPAGES };
    printf("collapse of a 32 MiB mapping, resident:");
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        vmk_space *c;
        CHECK(vmk_space_fork(p, &c) == 0, "fork");
        uint64_t seed = k;
        for (size_t i = 0; i < ns[k]; i++) {
            size_t pg = ns[k] == NPAGES ? i : splitmix64(&seed) % NPAGES;
            ((volatile char *)a)[pg * TPAGE] = 1;
        }
        double t0 = now_s();
        vmk_space_destroy(c);
        printf(" %zu pages changed %.0f us%s", ns[k], elapsed_us(t0), k + 1 < sizeof ns / sizeof ns[0] ? "," : "\n");
        CHECK(space_depth(p) == 0, "depth");
    }
    vmk_space_destroy(p);
    vmk_system_close(sys);
}

/*
 * Working-set counts follow the pages (collapse.c, fork.c).  A thread reads
 * HOT pages of the parent every millisecond while a child lives for 3 tau:
 * the pages are the snapshot's, so their references count in fork_space
 * and the parent's own counts age out.  Destroying the child merges the
 * snapshot back into the parent, and its working set must be HOT at once
 * (not only after the sampler has seen the pages again), the snapshot's 0;
 * the spaces' figures add up to the system's.
 */
enum { HOT = 256 };
static _Atomic int ws_stop;
static char *ws_base;

static void *ws_reader(void *arg)
{
    uint64_t sum = 0;
    (void)arg;
    while (!atomic_load(&ws_stop)) {
        for (size_t pg = 0; pg < HOT; pg++)
            sum += ((volatile char *)ws_base)[pg * TPAGE + pg % 64];
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    return (void *)(uintptr_t)sum;
}

static uint64_t ws_of_space(vmk_space *as)
{
    vmk_stats st;
    CHECK(vmk_space_stats(as, &st) == 0, "vmk_space_stats");
    return st.working_set;
}

static void working_set_follows(void)
{
    setenv("VMK_WS_TAU_MS", "300", 1);
    vmk_system *sys = open_system((size_t)16 << 20, NULL);
    unsetenv("VMK_WS_TAU_MS");
    vmk_space *p = new_space(sys), *c;
    ws_base = vmk_map_anon(p, HOT * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(ws_base, "map");
    for (size_t pg = 0; pg < HOT; pg++)
        fill_page(ws_base + pg * TPAGE, 1, pg);
    pthread_t th;
    atomic_store(&ws_stop, 0);
    CHECK(pthread_create(&th, NULL, ws_reader, NULL) == 0, "pthread_create");
    usleep(400000);
    uint64_t before = ws_of_space(p);
    CHECK(vmk_space_fork(p, &c) == 0, "fork");
    usleep(900000);
    uint64_t during = ws_of_space(p), snap = ws_of_space(&sys->fork_space);
    vmk_space_destroy(c);
    uint64_t after = ws_of_space(p), left = ws_of_space(&sys->fork_space);
    vmk_stats all;
    CHECK(vmk_stats_get(sys, &all) == 0, "vmk_stats_get");
    atomic_store(&ws_stop, 1);
    pthread_join(th, NULL);
    printf("working set of %d hot pages: parent %llu before the fork, %llu during it (snapshot %llu), "
           "%llu right after the child went (snapshot %llu, system %llu)\n", HOT, ULL(before),
           ULL(during), ULL(snap), ULL(after), ULL(left), ULL(all.working_set));
    CHECK(before >= HOT * 3 / 4 && before <= HOT * 5 / 4, "before the fork: %llu, want %d +-25%%",
          ULL(before), HOT);
    CHECK(snap >= HOT * 3 / 4, "the snapshot's pages, read during the fork: %llu, want ~%d", ULL(snap), HOT);
    CHECK(after >= HOT * 3 / 4 && after <= HOT * 5 / 4,
          "right after the collapse: %llu, want %d +-25%% (the snapshot's counts come back)", ULL(after), HOT);
    CHECK(left <= HOT / 4, "the snapshot keeps %llu of the counts after the collapse", ULL(left));
    CHECK(after + left <= all.working_set + HOT / 8 && all.working_set <= after + left + HOT / 8,
          "parent %llu + snapshot %llu, system %llu", ULL(after), ULL(left), ULL(all.working_set));
    vmk_space_destroy(p);
    vmk_system_close(sys);
}

/* test_fork_collapse [part]: every part, or the one named. */
int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *only = argc > 1 ? argv[1] : "";
    int n = (int)test_scale();
#define PART(name, call) do { if (!*only || !strcmp(only, name)) { double t0_ = now_s(); call; \
                              printf("  (%s: %.1f s)\n", name, now_s() - t0_); } } while (0)
    PART("cost", collapse_cost());
    PART("ws", working_set_follows());
    PART("checkpoint", checkpoint_loop(1000 * n, false));
    PART("file", checkpoint_loop(250 * n, true));
    PART("window", rolling_window(500 * n));
    PART("reset", reset_loop(500 * n));
    PART("threads", threads_while_collapsing(300 * n));
    printf("ok: fork/destroy and reset loops with no growth in depth, memory, slots or mappings\n");
    return 0;
}
