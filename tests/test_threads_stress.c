/*
 * test_threads_stress: many threads fault on one region 16x the budget.
 * Pages are owned in blocks of 8 by the threads in turn (so fault-around
 * windows and reclaim batches cross owners).  Every page carries a version
 * set only by its owner; the whole page is pattern(version, page, word)
 * (version 0: never written, all zeros).  Each page has a reader-writer
 * lock (striped), so a reader always sees one whole version:
 *   phase 1: every thread writes all of its pages (version 1);
 *   phase 2: for a while, each thread either rewrites one of its own pages
 *            with the next version or read-verifies a random page of any
 *            owner against that page's published version - every word;
 *   phase 3: a full verification of every page.
 * Also: no SIGBUS, no I/O errors, resident peak within the budget.
 */
#include <vmkit.h>
#include "check.h"
#include <pthread.h>
#include <stdatomic.h>

#define THREADS 4
#define BLOCK 8
#define STRIPES 1024

static unsigned char *base;
static size_t npages;
static uint32_t *version;                   /* guarded by the page's stripe */
static pthread_rwlock_t locks[STRIPES];
static pthread_barrier_t barrier;
static double deadline;
static long ops_per_thread;
static _Atomic long verified, rewritten;

static size_t owner(size_t p) { return (p / BLOCK) % THREADS; }
static pthread_rwlock_t *lock_of(size_t p) { return &locks[p % STRIPES]; }

static void write_page(size_t p, uint32_t v)
{
    uint64_t *w = (uint64_t *)(base + p * TPAGE);
    for (size_t i = 0; i < TWORDS; i++)
        w[i] = pattern(v, p, i);
}

static void check_page(size_t p, uint32_t v, const char *what)
{
    const volatile uint64_t *w = (const volatile uint64_t *)(base + p * TPAGE);
    for (size_t i = 0; i < TWORDS; i++) {
        uint64_t want = v ? pattern(v, p, i) : 0;
        if (w[i] != want) {
            /* Which version does the word belong to, if any? */
            long seen = -1;
            for (uint32_t u = 1; u <= v + 2 && seen < 0; u++)
                if (w[i] == pattern(u, p, i))
                    seen = u;
            FAIL("%s: page %zu (owner %zu) word %zu = %#llx, want version %u (%#llx); the word "
                 "is from version %ld",
                 what, p, owner(p), i, ULL(w[i]), v, ULL(want), seen);
        }
    }
}

/* The n-th page (0-based) owned by thread t. */
static size_t own_page(size_t t, size_t n) { return (n / BLOCK) * BLOCK * THREADS + t * BLOCK + n % BLOCK; }

static void *worker(void *arg)
{
    size_t t = (size_t)(uintptr_t)arg;
    size_t mine = npages / THREADS;
    uint64_t seed = 1000 + t, rng = splitmix64(&seed);

    for (size_t n = 0; n < mine; n++) {
        size_t p = own_page(t, n);
        pthread_rwlock_wrlock(lock_of(p));
        write_page(p, 1);
        version[p] = 1;
        pthread_rwlock_unlock(lock_of(p));
    }
    pthread_barrier_wait(&barrier);

    for (long op = 0; op < ops_per_thread; op++) {
        if ((op & 63) == 0 && now_s() > deadline)
            break;
        uint64_t r = xorshift64(&rng);
        if (r % 3 == 0) {
            size_t p = own_page(t, (r >> 8) % mine);
            pthread_rwlock_wrlock(lock_of(p));
            check_page(p, version[p], "owner before rewrite");
            uint32_t v = version[p] + 1;
            write_page(p, v);
            version[p] = v;
            pthread_rwlock_unlock(lock_of(p));
            atomic_fetch_add(&rewritten, 1);
        } else {
            size_t p = (r >> 8) % npages;
            pthread_rwlock_rdlock(lock_of(p));
            check_page(p, version[p], "reader");
            pthread_rwlock_unlock(lock_of(p));
            atomic_fetch_add(&verified, 1);
        }
    }
    return NULL;
}

int main(void)
{
    size_t limit = ((size_t)4 << 20) * test_scale();
    npages = 16 * limit / TPAGE;
    ops_per_thread = 40000L * test_scale();
    vmk_system *s = open_system(limit, NULL);
    vmk_space *as = new_space(s);
    base = vmk_map_anon(as, npages * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(base, "vmk_map_anon: %s", strerror(errno));
    version = calloc(npages, sizeof *version);
    for (int i = 0; i < STRIPES; i++)
        pthread_rwlock_init(&locks[i], NULL);
    pthread_barrier_init(&barrier, NULL, THREADS);

    double t0 = now_s();
    deadline = t0 + 6.0 * test_scale();      /* phase 2 stops here at the latest */
    pthread_t th[THREADS];
    for (size_t i = 0; i < THREADS; i++)
        CHECK(pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)i) == 0, "pthread_create");
    for (size_t i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    double t1 = now_s();

    for (size_t p = 0; p < npages; p++)
        check_page(p, version[p], "final verification");
    size_t multi = 0;
    for (size_t p = 0; p < npages; p++)
        multi += version[p] > 1;

    vmk_stats st = get_stats(s);
    printf("%d threads, %zu pages over %llu frames: %ld verified reads, %ld rewrites (%zu pages "
           "rewritten) in %.1f s; %llu faults, %llu major, %llu out, %llu in\n",
           THREADS, npages, ULL(st.frames_total), atomic_load(&verified), atomic_load(&rewritten),
           multi, t1 - t0, ULL(st.faults), ULL(st.faults_major), ULL(st.pages_swapped_out),
           ULL(st.pages_swapped_in));
    CHECK(atomic_load(&verified) > 1000 && atomic_load(&rewritten) > 500,
          "too little concurrent work to mean anything");
    CHECK(st.sigbus == 0 && st.io_errors == 0, "sigbus %llu io errors %llu", ULL(st.sigbus),
          ULL(st.io_errors));
    CHECK(st.resident_peak <= st.frames_total, "resident peak %llu over %llu frames",
          ULL(st.resident_peak), ULL(st.frames_total));
    CHECK(st.pages_swapped_out >= npages - st.frames_total && st.pages_swapped_in > 0,
          "too little paging: out %llu in %llu", ULL(st.pages_swapped_out), ULL(st.pages_swapped_in));
    vmk_system_close(s);
    free(version);
    printf("ok: every read saw one whole version; final state right\n");
    return 0;
}
