/*
 * bench_umapsort.c - LLNL umap's "umapsort" workload on vmkit, on the kernel,
 * and (when given its binary) on umap itself, in the same run.
 *
 * The workload, as umap's examples/umapsort/main.cpp does it (rewritten here
 * in C; no umap code is used):
 *   map    a fresh file of SIZE bytes (unlink, create, posix_fallocate),
 *          mapped shared, read-write;
 *   init   T threads (static halves, as `omp parallel for`) write
 *          a[i] = n - i for the n = SIZE / 8 words: a descending sequence;
 *   sort   libstdc++'s __gnu_parallel::sort(..., quicksort_tag) with T
 *          threads: the unbalanced parallel quicksort (a pivot chosen from
 *          100 samples, a parallel partition in chunks of 1000 elements
 *          claimed from both ends, then each side sorted by its share of the
 *          threads; one thread sorts with std::sort's introsort);
 *   valid  T threads (static halves) check a[i] == i + 1;
 *   term   write back and unmap (vmkit: vmk_sync + vmk_unmap + close; the
 *          kernel: msync(MS_SYNC) + munmap; umap: uunmap, which evicts and
 *          writes the buffer).
 * Besides umap's own check (a[i] == i + 1) every run is verified twice: the
 * validate pass also checks the order and a checksum of the multiset (sum
 * and a sum of hashes of the values, against those of 1..n), and after the
 * run the file itself is read back with pread and checked the same way: a
 * fast wrong answer, or one that never reached the file, fails the run.
 *
 * The three sides:
 *   vmkit   vmk_map_file(VMK_MAP_SHARED) under memory_limit = LIMIT (32 MiB),
 *           in a child process;
 *   kernel  mmap(MAP_SHARED | MAP_NORESERVE) of the file, in a child placed
 *           in a memory cgroup of LIMIT plus vmkit's documented overhead
 *           (docs/ARCHITECTURE.md, "Memory overhead"; --cg-limit overrides);
 *   umap    umap's own umapsort binary (--umap PATH), UMAP_PAGESIZE=4096,
 *           UMAP_BUFSIZE = LIMIT / 4096 pages, -p SIZE / 4096 -t T; its
 *           "took" lines are parsed.  --umap also runs the same binary with
 *           --usemmap in the kernel's cgroup: a check that this program's
 *           kernel run does what umap's does.
 * vmkit and umap run in a second memory cgroup with no limit, only to read
 * their peak charge (frames, buffers and any page cache they cause).
 * As root the page cache is dropped before every run and the cgroups are set
 * up, echoed and removed (also on SIGINT/SIGTERM); not root: the kernel side
 * is not limited and the cache is not dropped (said so).
 *
 * scripts/umap.sh builds umap and runs this with --umap; docs/BENCHMARKS-umapsort.md.
 */
#include "cli.h"
#include <vmkit.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static size_t SIZE = (size_t)256 << 20, LIMIT = (size_t)32 << 20, CG_LIMIT;
static int THREADS = 2, REPS = 3, DO_VMKIT = 1, DO_VMKIT_CG = 0, DO_KERNEL = 1, DO_UMAP = 1, DO_USEMMAP = 1;
static const char *DIR_ = "/var/tmp", *UMAP_BIN, *UMAP_LIBDIR, *OUT_DIR = "results", *BLOCKDEV;
static int is_root, KERNEL_ADVICE = -1;   /* --kernel-advice: madvise on the kernel's mapping */
static uint64_t N, EXP_HSUM;      /* words, and the hash sum of the multiset 1..N */

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull; x ^= x >> 33;
    return x;
}

static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ================= the sort: libstdc++'s algorithms, in C ================= */

#define SWAP(x, y) do { uint64_t t_ = (x); (x) = (y); (y) = t_; } while (0)
#define SORT_THRESHOLD 16      /* std::sort's _S_threshold */
#define QS_SAMPLES 100         /* _Settings::sort_qs_num_samples_preset */
#define PART_CHUNK 1000        /* _Settings::partition_chunk_size (share 0.0) */

/* std::sort's heap fallback: __adjust_heap (sink the hole to a leaf, then
 * push the value up), __make_heap, __sort_heap. */
static void adjust_heap(uint64_t *a, int64_t hole, int64_t len, uint64_t v)
{
    int64_t top = hole, child = hole;
    while (child < (len - 1) / 2) {
        child = 2 * (child + 1);
        if (a[child] < a[child - 1])
            child--;
        a[hole] = a[child];
        hole = child;
    }
    if ((len & 1) == 0 && child == (len - 2) / 2) {
        child = 2 * (child + 1);
        a[hole] = a[child - 1];
        hole = child - 1;
    }
    int64_t parent = (hole - 1) / 2;
    while (hole > top && a[parent] < v) {
        a[hole] = a[parent];
        hole = parent;
        parent = (hole - 1) / 2;
    }
    a[hole] = v;
}

static void heap_sort(uint64_t *a, int64_t n)
{
    if (n < 2)
        return;
    for (int64_t p = (n - 2) / 2;; p--) {
        adjust_heap(a, p, n, a[p]);
        if (p == 0)
            break;
    }
    for (int64_t last = n - 1; last > 0; last--) {
        uint64_t v = a[last];
        a[last] = a[0];
        adjust_heap(a, 0, last, v);
    }
}

static void move_median_to_first(uint64_t *r, uint64_t *x, uint64_t *y, uint64_t *z)
{
    if (*x < *y) {
        if (*y < *z) SWAP(*r, *y);
        else if (*x < *z) SWAP(*r, *z);
        else SWAP(*r, *x);
    } else if (*x < *z) SWAP(*r, *x);
    else if (*y < *z) SWAP(*r, *z);
    else SWAP(*r, *y);
}

/* Hoare partition of [lo, hi) around *piv, no bounds checks (a sentinel is
 * known to exist on each side). */
static uint64_t *unguarded_partition(uint64_t *lo, uint64_t *hi, const uint64_t *piv)
{
    for (;;) {
        while (*lo < *piv)
            lo++;
        hi--;
        while (*piv < *hi)
            hi--;
        if (!(lo < hi))
            return lo;
        SWAP(*lo, *hi);
        lo++;
    }
}

static void introsort_loop(uint64_t *lo, uint64_t *hi, int depth)
{
    while (hi - lo > SORT_THRESHOLD) {
        if (depth == 0) {
            heap_sort(lo, hi - lo);
            return;
        }
        depth--;
        uint64_t *mid = lo + (hi - lo) / 2;
        move_median_to_first(lo, lo + 1, mid, hi - 1);
        uint64_t *cut = unguarded_partition(lo + 1, hi, lo);
        introsort_loop(cut, hi, depth);
        hi = cut;
    }
}

static void linear_insert_unguarded(uint64_t *p)
{
    uint64_t v = *p;
    while (v < p[-1]) {
        *p = p[-1];
        p--;
    }
    *p = v;
}

static void insertion_sort(uint64_t *lo, uint64_t *hi)
{
    if (lo == hi)
        return;
    for (uint64_t *i = lo + 1; i < hi; i++) {
        if (*i < *lo) {
            uint64_t v = *i;
            memmove(lo + 1, lo, (size_t)(i - lo) * sizeof *lo);
            *lo = v;
        } else {
            linear_insert_unguarded(i);
        }
    }
}

/* std::sort: introsort down to runs of 16, then one insertion-sort pass. */
static void seq_sort(uint64_t *a, int64_t n)
{
    if (n < 2)
        return;
    int lg = 63 - __builtin_clzll((unsigned long long)n);
    introsort_loop(a, a + n, 2 * lg);
    if (n > SORT_THRESHOLD) {
        insertion_sort(a, a + SORT_THRESHOLD);
        for (uint64_t *i = a + SORT_THRESHOLD; i < a + n; i++)
            linear_insert_unguarded(i);
    } else {
        insertion_sort(a, a + n);
    }
}

/* __gnu_parallel::__parallel_partition: threads claim chunks of PART_CHUNK
 * elements from the left and from the right end and swap within them; the
 * chunks left half done are moved into place at the end of each round; the
 * middle that is too small for the threads is finished by the caller. */
struct part {
    uint64_t *a, pivot;
    int64_t n, chunk;
    int nt;
    _Atomic int64_t left, right, dist, leftover_left, leftover_right;
    _Atomic int *res_left, *res_right;
    pthread_barrier_t bar;
};
struct part_arg { struct part *p; int id; };

#define PRED(x) ((x) < p->pivot)

static void *part_worker(void *arg)
{
    struct part *p = ((struct part_arg *)arg)->p;
    int id = ((struct part_arg *)arg)->id;
    uint64_t *a = p->a;
    const int64_t chunk = p->chunk;
    while (atomic_load(&p->dist) >= 2 * p->nt * chunk) {
        if (id == 0) {                                  /* omp single */
            for (int r = 0; r < p->nt; r++)
                atomic_store(&p->res_left[r], 0), atomic_store(&p->res_right[r], 0);
            atomic_store(&p->leftover_left, 0);
            atomic_store(&p->leftover_right, 0);
        }
        pthread_barrier_wait(&p->bar);
        int64_t tl = atomic_load(&p->left) + 1, tlb = tl - 1;
        int64_t tr = p->n - 1, trb = tr + 1;
        for (;;) {
            if (tl > tlb) {
                if (atomic_fetch_add(&p->dist, -chunk) < chunk) {
                    atomic_fetch_add(&p->dist, chunk);
                    break;
                }
                tl = atomic_fetch_add(&p->left, chunk);
                tlb = tl + (chunk - 1);
            }
            if (tr < trb) {
                if (atomic_fetch_add(&p->dist, -chunk) < chunk) {
                    atomic_fetch_add(&p->dist, chunk);
                    break;
                }
                tr = atomic_fetch_add(&p->right, -chunk);
                trb = tr - (chunk - 1);
            }
            while (tl < tr) {
                while (PRED(a[tl]) && tl <= tlb)
                    tl++;
                while (!PRED(a[tr]) && tr >= trb)
                    tr--;
                if (tl > tlb || tr < trb)
                    break;                              /* fetch a new chunk */
                SWAP(a[tl], a[tr]);
                tl++;
                tr--;
            }
        }
        if (tl <= tlb)
            atomic_fetch_add(&p->leftover_left, 1);
        if (tr >= trb)
            atomic_fetch_add(&p->leftover_right, 1);
        pthread_barrier_wait(&p->bar);
        int64_t left = atomic_load(&p->left), right = atomic_load(&p->right);
        int64_t lol = atomic_load(&p->leftover_left), lor = atomic_load(&p->leftover_right);
        int64_t leftnew = left - lol * chunk, rightnew = right + lor * chunk;
        if (tl <= tlb && tlb >= leftnew)               /* chunk already in place */
            atomic_store(&p->res_left[(left - (tlb + 1)) / chunk], 1);
        if (tr >= trb && trb <= rightnew)
            atomic_store(&p->res_right[((trb - 1) - right) / chunk], 1);
        pthread_barrier_wait(&p->bar);
        if (tl <= tlb && tlb < leftnew) {              /* find a spot and swap */
            int64_t start = -1;
            for (int r = 0; r < lol; r++) {
                int zero = 0;
                if (atomic_load(&p->res_left[r]) == 0 &&
                    atomic_compare_exchange_strong(&p->res_left[r], &zero, 1)) {
                    start = left - (r + 1) * chunk;
                    break;
                }
            }
            for (int64_t k = 0; start >= 0 && k < chunk; k++)
                SWAP(a[tlb - (chunk - 1) + k], a[start + k]);
        }
        if (tr >= trb && trb > rightnew) {
            int64_t start = -1;
            for (int r = 0; r < lor; r++) {
                int zero = 0;
                if (atomic_load(&p->res_right[r]) == 0 &&
                    atomic_compare_exchange_strong(&p->res_right[r], &zero, 1)) {
                    start = right + r * chunk + 1;
                    break;
                }
            }
            for (int64_t k = 0; start >= 0 && k < chunk; k++)
                SWAP(a[trb + k], a[start + k]);
        }
        /* Every thread computed the same new bounds; libstdc++ lets each
         * store them, here thread 0 does, between two barriers. */
        pthread_barrier_wait(&p->bar);
        if (id == 0) {
            atomic_store(&p->left, leftnew);
            atomic_store(&p->right, rightnew);
            atomic_store(&p->dist, rightnew - leftnew + 1);
        }
        pthread_barrier_wait(&p->bar);
    }
    return NULL;
}

/* Elements < pivot end up first; returns how many. */
static int64_t parallel_partition(uint64_t *a, int64_t n, uint64_t pivot, int nt)
{
    struct part s = { .a = a, .pivot = pivot, .n = n, .chunk = PART_CHUNK, .nt = nt };
    struct part *p = &s;
    atomic_init(&s.left, 0);
    atomic_init(&s.right, n - 1);
    atomic_init(&s.dist, n);
    if (n >= 2 * nt * PART_CHUNK) {
        pthread_t th[64];
        struct part_arg args[64];
        s.res_left = calloc((size_t)nt, sizeof(_Atomic int));
        s.res_right = calloc((size_t)nt, sizeof(_Atomic int));
        pthread_barrier_init(&s.bar, NULL, (unsigned)nt);
        for (int i = 0; i < nt; i++)
            args[i] = (struct part_arg){ &s, i };
        for (int i = 1; i < nt; i++)
            pthread_create(&th[i], NULL, part_worker, &args[i]);
        part_worker(&args[0]);
        for (int i = 1; i < nt; i++)
            pthread_join(th[i], NULL);
        pthread_barrier_destroy(&s.bar);
        free((void *)s.res_left);
        free((void *)s.res_right);
    }
    int64_t fl = atomic_load(&s.left), fr = atomic_load(&s.right);
    while (fl < fr) {
        while (PRED(a[fl]) && fl < fr)
            fl++;
        while (!PRED(a[fr]) && fl < fr)
            fr--;
        if (fl == fr)
            break;
        SWAP(a[fl], a[fr]);
        fl++;
        fr--;
    }
    return fl < n && !PRED(a[fl]) ? fl : fl + 1;
}

/* __parallel_sort_qs_divide: pivot of the wanted rank among QS_SAMPLES
 * evenly spaced samples, then the parallel partition. */
static int64_t qs_divide(uint64_t *a, int64_t n, int64_t pivot_rank, int nt)
{
    int64_t ns = n < QS_SAMPLES ? n : QS_SAMPLES;
    uint64_t samples[QS_SAMPLES];
    for (int64_t s = 0; s < ns; s++)
        samples[s] = a[(unsigned long long)s * (unsigned long long)n / (unsigned long long)ns];
    seq_sort(samples, ns);
    return parallel_partition(a, n, samples[pivot_rank * ns / n], nt);
}

struct conquer { uint64_t *a; int64_t n; int nt; };
static void qs_conquer(uint64_t *a, int64_t n, int nt);
static void *conquer_thread(void *arg)
{
    struct conquer *c = arg;
    qs_conquer(c->a, c->n, c->nt);
    return NULL;
}

/* __parallel_sort_qs_conquer: split the threads (odd: one more left), split
 * the data at the matching rank, both sides at once (omp sections). */
static void qs_conquer(uint64_t *a, int64_t n, int nt)
{
    if (nt <= 1) {
        seq_sort(a, n);
        return;
    }
    if (n <= 1)
        return;
    int ntl = nt % 2 ? nt / 2 + 1 : nt / 2;
    int64_t split = qs_divide(a, n, n * ntl / nt, nt);
    pthread_t th;
    struct conquer right = { a + split, n - split, nt - ntl };
    pthread_create(&th, NULL, conquer_thread, &right);
    qs_conquer(a, split, ntl);
    pthread_join(th, NULL);
}

/* __gnu_parallel::sort(..., quicksort_tag) with nt threads. */
static void parallel_quicksort(uint64_t *a, int64_t n, int nt)
{
    if (n < 1000 || nt < 2) {                           /* sort_minimal_n */
        seq_sort(a, n);
        return;
    }
    qs_conquer(a, n, nt > n ? (int)n : nt);
}

/* --self-test: the parallel quicksort against qsort on random, sorted,
 * reversed and few-distinct inputs, 1 to 4 threads, in plain memory. */
static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static int self_test(void)
{
    int64_t sizes[] = { 0, 1, 2, 17, 999, 1000, 4001, 20000, 100003, 1000000 };
    int bad = 0;
    for (unsigned k = 0; k < sizeof sizes / sizeof *sizes; k++)
        for (int kind = 0; kind < 5; kind++)
            for (int nt = 1; nt <= 4; nt++) {
                int64_t n = sizes[k];
                uint64_t *a = malloc((size_t)(n + 1) * 8), *b = malloc((size_t)(n + 1) * 8);
                for (int64_t i = 0; i < n; i++)
                    a[i] = kind == 0 ? mix((uint64_t)i * 31 + (uint64_t)k) : kind == 1 ? (uint64_t)i
                         : kind == 2 ? (uint64_t)(n - i) : kind == 3 ? mix((uint64_t)i) % 3
                         : (uint64_t)(i % 1000);
                memcpy(b, a, (size_t)n * 8);
                parallel_quicksort(a, n, nt);
                qsort(b, (size_t)n, 8, cmp_u64);
                if (n && memcmp(a, b, (size_t)n * 8)) {
                    say("self-test: n %lld kind %d threads %d: WRONG", (long long)n, kind, nt);
                    bad = 1;
                }
                free(a);
                free(b);
            }
    /* std::sort's heap fallback, directly. */
    uint64_t h[5000];
    for (int i = 0; i < 5000; i++)
        h[i] = mix((uint64_t)i) % 777;
    heap_sort(h, 5000);
    for (int i = 1; i < 5000; i++)
        bad |= h[i - 1] > h[i];
    say("self-test: %s", bad ? "FAILED" : "parallel quicksort = qsort on every input");
    return bad;
}

/* ================= init and validate, T threads, static halves ================= */

struct span { uint64_t *a; uint64_t lo, hi; int validate;
              uint64_t wrong, unsorted, sum, hsum, first, last; };

static void *span_thread(void *arg)
{
    struct span *s = arg;
    uint64_t *a = s->a;
    if (!s->validate) {
        for (uint64_t i = s->lo; i < s->hi; i++)
            a[i] = N - i;
        return NULL;
    }
    uint64_t prev = 0;
    for (uint64_t i = s->lo; i < s->hi; i++) {
        uint64_t v = a[i];
        s->wrong += v != i + 1;
        s->unsorted += i > s->lo && v < prev;
        s->sum += v;
        s->hsum += mix(v);
        prev = v;
    }
    if (s->hi > s->lo)
        s->first = a[s->lo], s->last = a[s->hi - 1];
    return NULL;
}

/* `omp parallel for` with the static schedule: thread t gets one block. */
static uint64_t run_spans(uint64_t *a, int validate)
{
    pthread_t th[64];
    struct span sp[64];
    uint64_t q = N / (uint64_t)THREADS, r = N % (uint64_t)THREADS, lo = 0;
    for (int t = 0; t < THREADS; t++) {
        uint64_t len = q + ((uint64_t)t < r);
        sp[t] = (struct span){ .a = a, .lo = lo, .hi = lo + len, .validate = validate };
        lo += len;
        if (t)
            pthread_create(&th[t], NULL, span_thread, &sp[t]);
    }
    span_thread(&sp[0]);
    for (int t = 1; t < THREADS; t++)
        pthread_join(th[t], NULL);
    if (!validate)
        return 0;
    uint64_t bad = 0, sum = 0, hsum = 0;
    for (int t = 0; t < THREADS; t++) {
        bad += sp[t].wrong + sp[t].unsorted;
        bad += t > 0 && sp[t].hi > sp[t].lo && sp[t].first < sp[t - 1].last;
        sum += sp[t].sum;
        hsum += sp[t].hsum;
    }
    /* The multiset: sum and hash sum of the values against those of 1..N. */
    bad += sum != N * (N + 1) / 2;
    bad += hsum != EXP_HSUM;
    return bad;
}

/* The file itself, read back: 0 if it holds 1..N in order. */
static uint64_t check_file(const char *path)
{
    int fd = open(path, O_RDONLY);
    size_t bl = (size_t)1 << 20;
    uint64_t *buf = malloc(bl);
    if (fd < 0 || !buf) {
        say("bench_umapsort: %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        free(buf);
        return 1;
    }
    uint64_t bad = 0, sum = 0, hsum = 0, prev = 0, i = 0;
    for (off_t off = 0; off < (off_t)SIZE; off += (off_t)bl) {
        ssize_t k = pread(fd, buf, bl, off);
        if (k != (ssize_t)bl && k != (ssize_t)(SIZE - (size_t)off)) {
            bad++;
            break;
        }
        for (size_t j = 0; j < (size_t)k / 8; j++, i++) {
            uint64_t v = buf[j];
            bad += v != i + 1;
            bad += i > 0 && v < prev;
            sum += v;
            hsum += mix(v);
            prev = v;
        }
    }
    bad += i != N || sum != N * (N + 1) / 2 || hsum != EXP_HSUM;
    close(fd);
    free(buf);
    return bad;
}

/* ================= one run ================= */

struct run {
    int ok;                          /* the run finished (its figures are valid) */
    int oom;                         /* killed by its memory cgroup's OOM killer */
    double t_map, t_init, t_sort, t_valid, t_term;
    uint64_t bad;                    /* wrong words or checksums seen by the run */
    uint64_t file_bad;               /* the same, in the file read back after it */
    /* vmkit's counters (vmkit runs) */
    uint64_t faults, major, file_read, file_written, evicted, fault_ns, resident_peak;
    uint64_t ra, ra_hits, ra_waste;  /* vmkit's file readahead: pages, hits, waste */
    /* /proc/self/io of the child (our children) */
    uint64_t syscr, syscw, rchar, wchar, read_bytes, write_bytes;
    /* filled in by the parent */
    long maxrss_kb, minflt, majflt, nvcsw, nivcsw;
    double utime, stime, cg_peak_mib, load;
    uint64_t dev_rd_ios, dev_rd_sect, dev_wr_ios, dev_wr_sect;
};

static char datafile[300];

static void proc_io(struct run *r)
{
    FILE *f = fopen("/proc/self/io", "r");
    char k[64];
    unsigned long long v;
    while (f && fscanf(f, "%63[^:]: %llu\n", k, &v) == 2) {
        if (!strcmp(k, "syscr")) r->syscr = v;
        else if (!strcmp(k, "syscw")) r->syscw = v;
        else if (!strcmp(k, "rchar")) r->rchar = v;
        else if (!strcmp(k, "wchar")) r->wchar = v;
        else if (!strcmp(k, "read_bytes")) r->read_bytes = v;
        else if (!strcmp(k, "write_bytes")) r->write_bytes = v;
    }
    if (f)
        fclose(f);
}

/* A fresh file of SIZE bytes, allocated, as umapsort makes it. */
static int make_file(void)
{
    unlink(datafile);
    int fd = open(datafile, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        say("bench_umapsort: %s: %s", datafile, strerror(errno));
        return -1;
    }
    int e = posix_fallocate(fd, 0, (off_t)SIZE);
    if (e) {
        say("bench_umapsort: posix_fallocate %s: %s", datafile, strerror(e));
        close(fd);
        return -1;
    }
    return fd;
}

static void phases(uint64_t *a, struct run *r)
{
    double t = cli_now();
    run_spans(a, 0);
    r->t_init = cli_now() - t;
    t = cli_now();
    parallel_quicksort(a, (int64_t)N, THREADS);
    r->t_sort = cli_now() - t;
    t = cli_now();
    r->bad = run_spans(a, 1);
    r->t_valid = cli_now() - t;
}

static void vmkit_run(struct run *r)
{
    double t = cli_now();
    vmk_config c = vmk_config_default();
    c.memory_limit = LIMIT;
    vmk_system *sys;
    vmk_space *as;
    int e = vmk_system_open(&sys, &c);
    if (!e)
        e = vmk_space_create(sys, &as);
    if (e) {
        say("bench_umapsort: vmkit: %s", vmk_strerror(e));
        return;
    }
    int fd = make_file();
    if (fd < 0)
        return;
    uint64_t *a = vmk_map_file(as, fd, 0, SIZE, VMK_PROT_READ | VMK_PROT_WRITE, VMK_MAP_SHARED);
    close(fd);
    if (!a) {
        say("bench_umapsort: vmk_map_file: %s", strerror(errno));
        return;
    }
    r->t_map = cli_now() - t;
    phases(a, r);
    t = cli_now();
    e = vmk_sync(as, a, SIZE);
    if (!e)
        e = vmk_unmap(as, a, SIZE);
    vmk_stats st;
    vmk_stats_get(sys, &st);
    vmk_system_close(sys);
    r->t_term = cli_now() - t;
    if (e) {
        say("bench_umapsort: vmk_sync/vmk_unmap: %s", vmk_strerror(e));
        return;
    }
    r->faults = st.faults, r->major = st.faults_major, r->file_read = st.pages_file_read;
    r->file_written = st.pages_file_written, r->evicted = st.pages_evicted;
    r->fault_ns = st.fault_ns, r->resident_peak = st.resident_peak;
    r->ra = st.file_readahead, r->ra_hits = st.file_readahead_hits, r->ra_waste = st.file_readahead_waste;
    proc_io(r);
    r->ok = 1;
}

static void kernel_run(struct run *r)
{
    double t = cli_now();
    int fd = make_file();
    if (fd < 0)
        return;
    uint64_t *a = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
    close(fd);
    if (a == MAP_FAILED) {
        say("bench_umapsort: mmap: %s", strerror(errno));
        return;
    }
    if (KERNEL_ADVICE >= 0 && madvise(a, SIZE, KERNEL_ADVICE) < 0)
        say("bench_umapsort: madvise: %s", strerror(errno));
    r->t_map = cli_now() - t;
    phases(a, r);
    t = cli_now();
    int e = msync(a, SIZE, MS_SYNC);
    munmap(a, SIZE);
    r->t_term = cli_now() - t;
    if (e) {
        say("bench_umapsort: msync: %s", strerror(errno));
        return;
    }
    proc_io(r);
    r->ok = 1;
}

/* ================= cgroups, clean-up, children ================= */

static char cg_limited[256], cg_acct[256], cg_peak_file[32];
static _Atomic pid_t child_pid;
/* The signal thread takes spawn_lock, sets stopping and kills the child of
 * the moment; the main thread forks only under spawn_lock and not once
 * stopping is set, so nothing new starts while the run is being undone. */
static pthread_mutex_t spawn_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int stopping;

static pid_t spawn(void)
{
    pthread_mutex_lock(&spawn_lock);
    pid_t pid = atomic_load(&stopping) ? -1 : fork();
    if (pid > 0)
        atomic_store(&child_pid, pid);
    if (pid != 0)
        pthread_mutex_unlock(&spawn_lock);
    return pid;
}

static int sh(const char *cmd)
{
    say("+ %s", cmd);
    return system(cmd);
}

static void cleanup(void)
{
    char cmd[600];
    for (char *cg = cg_limited; cg; cg = cg == cg_limited ? cg_acct : NULL)
        if (cg[0]) {
            snprintf(cmd, sizeof cmd, "rmdir %s", cg);
            cg[0] = 0;
            sh(cmd);
        }
    if (datafile[0]) {
        unlink(datafile);
        datafile[0] = 0;
    }
}

static void *signal_thread(void *arg)
{
    int sig = SIGTERM;
    sigwait(arg, &sig);
    pthread_mutex_lock(&spawn_lock);
    atomic_store(&stopping, 1);
    say("\nbench_umapsort: signal %d: stopping and cleaning up", sig);
    pid_t c = atomic_load(&child_pid);
    if (c > 0)
        kill(c, SIGKILL);
    pthread_mutex_unlock(&spawn_lock);
    sleep(1);                          /* let the main thread reap it */
    cleanup();
    _exit(128 + sig);
}

/* vmkit's own memory beside its frames, by docs/ARCHITECTURE.md: page table
 * 8 B per touched page, core map 16 B and free stack 4 B per frame, bounce
 * buffers up to 4 MiB, reclaim buffer 1 MiB. */
static size_t vmkit_overhead(void)
{
    return SIZE / 4096 * 8 + LIMIT / 4096 * 20 + ((size_t)5 << 20);
}

static int cgroup_setup(char *what, size_t len)
{
    char cmd[700];
    const char *limit_file, *root;
    if (access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) == 0) {
        root = "/sys/fs/cgroup/memory";
        limit_file = "memory.limit_in_bytes";
        snprintf(cg_peak_file, sizeof cg_peak_file, "memory.max_usage_in_bytes");
    } else if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0) {
        root = "/sys/fs/cgroup";
        sh("echo +memory > /sys/fs/cgroup/cgroup.subtree_control");
        limit_file = "memory.max";
        snprintf(cg_peak_file, sizeof cg_peak_file, "memory.peak");
    } else {
        snprintf(what, len, "none (no memory cgroup controller): the kernel runs unlimited");
        return -1;
    }
    snprintf(cg_limited, sizeof cg_limited, "%s/vmkit-umapsort-%d", root, getpid());
    snprintf(cmd, sizeof cmd, "mkdir %s && echo %zu > %s/%s", cg_limited, CG_LIMIT, cg_limited,
             limit_file);
    if (sh(cmd) != 0) {
        cg_limited[0] = 0;
        snprintf(what, len, "none (cgroup set-up failed): the kernel runs unlimited");
        return -1;
    }
    snprintf(cg_acct, sizeof cg_acct, "%s/vmkit-umapsort-acct-%d", root, getpid());
    snprintf(cmd, sizeof cmd, "mkdir %s", cg_acct);
    if (sh(cmd) != 0)
        cg_acct[0] = 0;
    snprintf(what, len, "child in a memory cgroup, %s = %zu bytes (%.1f MiB)", limit_file, CG_LIMIT,
             CG_LIMIT / 1048576.0);
    return 0;
}

static void cg_enter(const char *cg)
{
    char path[300];
    snprintf(path, sizeof path, "%s/cgroup.procs", cg);
    int c = open(path, O_WRONLY);
    if (c < 0 || dprintf(c, "%d\n", getpid()) < 0 || close(c) < 0)
        _exit(2);
}

/* v1: reset max_usage_in_bytes; v2 memory.peak accepts a reset since 6.x
 * (write any string); errors are ignored (the figure is informative). */
static void cg_peak_reset(const char *cg)
{
    char path[300];
    snprintf(path, sizeof path, "%s/%s", cg, cg_peak_file);
    int fd = open(path, O_WRONLY);
    if (fd >= 0) {
        if (write(fd, "0\n", 2) < 0) { /* not resettable: the figure is the run's high mark */ }
        close(fd);
    }
}

static double cg_peak(const char *cg)
{
    char path[300];
    snprintf(path, sizeof path, "%s/%s", cg, cg_peak_file);
    FILE *f = fopen(path, "r");
    unsigned long long v = 0;
    if (!f || fscanf(f, "%llu", &v) != 1)
        v = 0;
    if (f)
        fclose(f);
    return v / 1048576.0;
}

/* sectors and I/Os of the block device under DIR_, for request sizes. */
static void dev_stat(uint64_t v[4])
{
    v[0] = v[1] = v[2] = v[3] = 0;
    if (!BLOCKDEV)
        return;
    char path[300];
    snprintf(path, sizeof path, "/sys/block/%s/stat", BLOCKDEV);
    FILE *f = fopen(path, "r");
    unsigned long long x[8];
    if (f && fscanf(f, "%llu %llu %llu %llu %llu %llu %llu %llu", &x[0], &x[1], &x[2], &x[3], &x[4],
                    &x[5], &x[6], &x[7]) == 8)
        v[0] = x[0], v[1] = x[2], v[2] = x[4], v[3] = x[6];
    if (f)
        fclose(f);
}

static void drop_caches(void)
{
    if (is_root)
        sh("sync; echo 3 > /proc/sys/vm/drop_caches");
}


/* What every side's run records once its child is done: the child's
 * resource use, the device's I/O over the run, the cgroup's peak. */
static int finish_run(struct run *r, const struct rusage *ru, const uint64_t *d0,
                      const uint64_t *d1, const char *cg)
{
    r->maxrss_kb = ru->ru_maxrss, r->minflt = ru->ru_minflt, r->majflt = ru->ru_majflt;
    r->nvcsw = ru->ru_nvcsw, r->nivcsw = ru->ru_nivcsw;
    r->utime = ru->ru_utime.tv_sec + ru->ru_utime.tv_usec * 1e-6;
    r->stime = ru->ru_stime.tv_sec + ru->ru_stime.tv_usec * 1e-6;
    r->dev_rd_ios = d1[0] - d0[0], r->dev_rd_sect = d1[1] - d0[1];
    r->dev_wr_ios = d1[2] - d0[2], r->dev_wr_sect = d1[3] - d0[3];
    if (cg && cg[0])
        r->cg_peak_mib = cg_peak(cg);
    return r->ok ? 0 : -1;
}

/* Run fn in a child (in cgroup cg if set), get its struct run back. */
static int in_child(const char *cg, void (*fn)(struct run *), struct run *r)
{
    int fd[2];
    memset(r, 0, sizeof *r);
    if (pipe(fd) < 0)
        return -1;
    if (cg && cg[0])
        cg_peak_reset(cg);
    uint64_t d0[4], d1[4];
    dev_stat(d0);
    pid_t pid = spawn();
    if (pid == 0) {
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_UNBLOCK, &all, NULL);
        close(fd[0]);
        if (cg && cg[0])
            cg_enter(cg);
        fn(r);
        _exit(write(fd[1], r, sizeof *r) == (ssize_t)sizeof *r ? 0 : 3);
    }
    close(fd[1]);
    if (pid < 0) {
        close(fd[0]);
        return -1;
    }
    struct run got;
    ssize_t k = read(fd[0], &got, sizeof got);
    close(fd[0]);
    int st;
    struct rusage ru;
    wait4(pid, &st, 0, &ru);
    atomic_store(&child_pid, 0);
    dev_stat(d1);
    if (k == (ssize_t)sizeof got)
        *r = got;
    else
        r->ok = 0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        r->ok = 0;
        r->oom = cg && cg[0] && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL && !atomic_load(&stopping);
        say("bench_umapsort: the child %s %d%s", WIFSIGNALED(st) ? "died of signal" : "exited with",
            WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st),
            r->oom ? ": the memory cgroup's OOM killer (dmesg says what it held)" : "");
    }
    return finish_run(r, &ru, d0, d1, cg);
}

/* umap's umapsort binary (usemmap: its --usemmap mode, the kernel's mmap):
 * parse "umap INIT took", "INIT took", "Sort took", "Validate took",
 * "umap TERM took" from its output. */
static int umap_usemmap;
static void umap_exec(struct run *r)
{
    (void)r;
    char p[32], t[16], buf[64];
    snprintf(p, sizeof p, "%zu", SIZE / 4096);
    snprintf(t, sizeof t, "%d", THREADS);
    snprintf(buf, sizeof buf, "%zu", LIMIT / 4096);
    setenv("UMAP_PAGESIZE", "4096", 1);
    setenv("UMAP_BUFSIZE", buf, 1);
    if (UMAP_LIBDIR) {
        const char *old = getenv("LD_LIBRARY_PATH");
        char lp[1200];
        snprintf(lp, sizeof lp, "%s%s%s", UMAP_LIBDIR, old ? ":" : "", old ? old : "");
        setenv("LD_LIBRARY_PATH", lp, 1);
    }
    if (umap_usemmap)
        execl(UMAP_BIN, UMAP_BIN, "-f", datafile, "-p", p, "-t", t, "--usemmap", (char *)NULL);
    else
        execl(UMAP_BIN, UMAP_BIN, "-f", datafile, "-p", p, "-t", t, (char *)NULL);
    _exit(127);
}

static int umap_run(const char *cg, int usemmap, struct run *r)
{
    memset(r, 0, sizeof *r);
    int fd[2];
    if (pipe(fd) < 0)
        return -1;
    if (cg && cg[0])
        cg_peak_reset(cg);
    uint64_t d0[4], d1[4];
    dev_stat(d0);
    umap_usemmap = usemmap;
    pid_t pid = spawn();
    if (pid == 0) {
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_UNBLOCK, &all, NULL);
        close(fd[0]);
        dup2(fd[1], 1);
        dup2(fd[1], 2);
        close(fd[1]);
        if (cg && cg[0])
            cg_enter(cg);
        umap_exec(r);
    }
    close(fd[1]);
    if (pid < 0) {
        close(fd[0]);
        return -1;
    }
    FILE *f = fdopen(fd[0], "r");
    char line[1024];
    int seen = 0;
    while (f && fgets(line, sizeof line, f)) {
        double v;
        char *s;
        if ((s = strstr(line, "umap INIT took ")) && sscanf(s + 15, "%lf", &v) == 1)
            r->t_map = v, seen |= 1;
        else if ((s = strstr(line, "umap TERM took ")) && sscanf(s + 15, "%lf", &v) == 1)
            r->t_term = v, seen |= 2;
        else if ((s = strstr(line, "INIT took ")) && sscanf(s + 10, "%lf", &v) == 1)
            r->t_init = v, seen |= 4;
        else if ((s = strstr(line, "Sort took ")) && sscanf(s + 10, "%lf", &v) == 1)
            r->t_sort = v, seen |= 8;
        else if ((s = strstr(line, "Validate took ")) && sscanf(s + 14, "%lf", &v) == 1)
            r->t_valid = v, seen |= 16;
        else if (strstr(line, "found an error") || strstr(line, "rror"))
            say("    umapsort: %s", strtok(line, "\n"));
    }
    if (f)
        fclose(f);
    int st;
    struct rusage ru;
    wait4(pid, &st, 0, &ru);
    atomic_store(&child_pid, 0);
    dev_stat(d1);
    r->ok = WIFEXITED(st) && WEXITSTATUS(st) == 0 && seen == 31;
    r->oom = cg && cg[0] && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL && !atomic_load(&stopping);
    if (!r->ok) {
        say("bench_umapsort: umapsort %s (status 0x%x, output lines seen 0x%x)%s",
            WIFSIGNALED(st) ? "was killed" : "failed", st, seen,
            r->oom ? ": the memory cgroup's OOM killer (dmesg says what it held)" : "");
        if (!r->oom)
            r->bad = 1;               /* its own validation exits 1 on a wrong word */
    }
    return finish_run(r, &ru, d0, d1, cg);
}

/* ================= report ================= */

enum { S_VMKIT, S_VMKIT_CG, S_KERNEL, S_UMAP, S_USEMMAP, NSIDES };
static const char *side_name[NSIDES] = { "vmkit", "vmkit in the memcg", "kernel", "umap",
                                         "umapsort --usemmap" };
static char side_desc[NSIDES][200];
static struct run runs[NSIDES][16];
static int nruns[NSIDES];
static int failed;

static double total(const struct run *r)
{
    return r->t_map + r->t_init + r->t_sort + r->t_valid + r->t_term;
}

static int cmp_d(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static double median_of(int s, double (*get)(const struct run *))
{
    double v[16];
    int n = 0;
    for (int i = 0; i < nruns[s]; i++)
        if (runs[s][i].ok)
            v[n++] = get(&runs[s][i]);
    if (!n)
        return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double g_total(const struct run *r) { return total(r); }
static double g_init(const struct run *r) { return r->t_init; }
static double g_sort(const struct run *r) { return r->t_sort; }
static double g_valid(const struct run *r) { return r->t_valid; }
static double g_term(const struct run *r) { return r->t_term; }
static double g_map(const struct run *r) { return r->t_map; }
static double g_peak(const struct run *r) { return r->cg_peak_mib; }
static double g_rss(const struct run *r) { return r->maxrss_kb / 1024.0; }
static double g_sys(const struct run *r) { return r->stime; }
static double g_usr(const struct run *r) { return r->utime; }

static void record(int s, const struct run *r, int rep)
{
    runs[s][nruns[s]++] = *r;
    say("    %-19s rep %d: total %7.2f s = map %.3f + init %.2f + sort %.2f + validate %.2f + term %.2f"
        "  [%s; load %.1f]",
        side_name[s], rep + 1, total(r), r->t_map, r->t_init, r->t_sort, r->t_valid, r->t_term,
        r->oom ? "OOM-KILLED" : !r->ok ? "FAILED" : r->bad || r->file_bad ? "WRONG" : "data ok", r->load);
    say("      user %.2f s, sys %.2f s, maxrss %.1f MiB, cgroup peak %.1f MiB, minflt %ld, majflt %ld, "
        "ctxsw %ld/%ld",
        r->utime, r->stime, r->maxrss_kb / 1024.0, r->cg_peak_mib, r->minflt, r->majflt, r->nvcsw,
        r->nivcsw);
    if (r->dev_rd_ios || r->dev_wr_ios)
        say("      device %s: %llu reads, %.1f MiB (%.1f KiB each); %llu writes, %.1f MiB (%.1f KiB each)"
            " [whole device: other processes count too]",
            BLOCKDEV, (unsigned long long)r->dev_rd_ios, r->dev_rd_sect / 2048.0,
            r->dev_rd_ios ? r->dev_rd_sect / 2.0 / r->dev_rd_ios : 0,
            (unsigned long long)r->dev_wr_ios, r->dev_wr_sect / 2048.0,
            r->dev_wr_ios ? r->dev_wr_sect / 2.0 / r->dev_wr_ios : 0);
    if (r->syscr || r->syscw)
        say("      process I/O: %llu read calls (%.1f MiB, %.1f MiB from the device), %llu write calls "
            "(%.1f MiB, %.1f MiB to the device)",
            (unsigned long long)r->syscr, r->rchar / 1048576.0, r->read_bytes / 1048576.0,
            (unsigned long long)r->syscw, r->wchar / 1048576.0, r->write_bytes / 1048576.0);
    if ((s == S_VMKIT || s == S_VMKIT_CG) && r->ok)
        say("      vmkit: %llu faults (%llu major), %llu pages read from the file, %llu written back, "
            "%llu evicted, fault time %.2f s, resident peak %.1f MiB",
            (unsigned long long)r->faults, (unsigned long long)r->major,
            (unsigned long long)r->file_read, (unsigned long long)r->file_written,
            (unsigned long long)r->evicted, r->fault_ns * 1e-9, r->resident_peak / 256.0);
    if ((s == S_VMKIT || s == S_VMKIT_CG) && r->ok)
        say("      vmkit readahead: %llu pages read ahead, %llu hits, %llu wasted",
            (unsigned long long)r->ra, (unsigned long long)r->ra_hits, (unsigned long long)r->ra_waste);
    if (r->oom) {
        say("      %s: killed for memory in its cgroup (%zu bytes): not counted as a failure of the run",
            side_name[s], CG_LIMIT);
    } else if (!r->ok || r->bad || r->file_bad) {
        failed = 1;
        say("      %s: %llu wrong in the run, %llu wrong in the file", side_name[s],
            (unsigned long long)r->bad, (unsigned long long)r->file_bad);
    }
}

static void ratio_line(FILE *f, const char *what, double v, double o)
{
    if (v > 0 && o > 0)
        fprintf(f, "| %s | %.3f | %.2fx %s |\n", what, v / o, v < o ? o / v : v / o,
                v < o ? "faster" : "slower");
    else
        fprintf(f, "| %s | n/a | n/a |\n", what);
}

static void report(FILE *f, const char *cmdline, const char *date, double load0, double load1)
{
    struct utsname u;
    uname(&u);
    fprintf(f, "# umapsort: vmkit, the kernel, umap\n\n");
    fprintf(f, "`%s`, %s, %s %s, %ld CPUs, load average %.2f at the start, %.2f at the end.\n\n",
            cmdline, date, u.sysname, u.release, sysconf(_SC_NPROCESSORS_ONLN), load0, load1);
    fprintf(f, "%zu MiB of uint64 (%llu words), a[i] = n - i, parallel quicksort with %d threads, "
               "%zu MiB budget; medians of the runs that finished, seconds.\n\n",
            SIZE >> 20, (unsigned long long)N, THREADS, LIMIT >> 20);
    for (int s = 0; s < NSIDES; s++)
        if (nruns[s])
            fprintf(f, "- %s: %s\n", side_name[s], side_desc[s]);
    fprintf(f, "\n| side | runs ok | total | map | init | sort | validate | term | user | sys | "
               "peak RSS MiB | cgroup peak MiB |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int s = 0; s < NSIDES; s++) {
        if (!nruns[s])
            continue;
        int ok = 0;
        for (int i = 0; i < nruns[s]; i++)
            ok += runs[s][i].ok && !runs[s][i].bad && !runs[s][i].file_bad;
        fprintf(f, "| %s | %d/%d | %.2f | %.3f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.1f | %.1f |\n",
                side_name[s], ok, nruns[s], median_of(s, g_total), median_of(s, g_map),
                median_of(s, g_init), median_of(s, g_sort), median_of(s, g_valid),
                median_of(s, g_term), median_of(s, g_usr), median_of(s, g_sys), median_of(s, g_rss),
                median_of(s, g_peak));
    }
    fprintf(f, "\nTime ratios (vmkit's seconds over the other side's; below 1: vmkit is faster):\n\n"
               "| ratio | value | vmkit is |\n|---|---:|---|\n");
    double v = median_of(S_VMKIT, g_total), vc = median_of(S_VMKIT_CG, g_total);
    double k = median_of(S_KERNEL, g_total), um = median_of(S_UMAP, g_total);
    ratio_line(f, "vmkit in the memcg / kernel (same memcg), total", vc, k);
    ratio_line(f, "vmkit in the memcg / kernel (same memcg), sort", median_of(S_VMKIT_CG, g_sort),
               median_of(S_KERNEL, g_sort));
    ratio_line(f, "vmkit in the memcg / umap, total", vc, um);
    ratio_line(f, "vmkit (page cache not capped) / kernel, total", v, k);
    ratio_line(f, "vmkit (page cache not capped) / kernel, sort", median_of(S_VMKIT, g_sort),
               median_of(S_KERNEL, g_sort));
    ratio_line(f, "vmkit (page cache not capped) / umap, total", v, um);
    ratio_line(f, "vmkit (page cache not capped) / umap, sort", median_of(S_VMKIT, g_sort),
               median_of(S_UMAP, g_sort));
    if (nruns[S_USEMMAP])
        ratio_line(f, "this kernel run / umapsort --usemmap (same cgroup), total",
                   median_of(S_KERNEL, g_total), median_of(S_USEMMAP, g_total));
    fprintf(f, "\nEvery run:\n\n| side | rep | total | init | sort | validate | term | data | load |\n"
               "|---|---:|---:|---:|---:|---:|---:|---|---:|\n");
    for (int s = 0; s < NSIDES; s++)
        for (int i = 0; i < nruns[s]; i++) {
            const struct run *r = &runs[s][i];
            fprintf(f, "| %s | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %s | %.1f |\n", side_name[s],
                    i + 1, total(r), r->t_init, r->t_sort, r->t_valid, r->t_term,
                    r->oom ? "OOM-killed" : !r->ok ? "FAILED" : r->bad || r->file_bad ? "WRONG" : "ok",
                    r->load);
        }
}

static void json(FILE *f, const char *cmdline, const char *date, double load0, double load1)
{
    fprintf(f, "{\n  \"command\": \"%s\", \"date\": \"%s\", \"size\": %zu, \"limit\": %zu, "
               "\"cgroup_limit\": %zu, \"threads\": %d, \"load\": [%.2f, %.2f],\n  \"sides\": {",
            cmdline, date, SIZE, LIMIT, CG_LIMIT, THREADS, load0, load1);
    int first = 1;
    for (int s = 0; s < NSIDES; s++) {
        if (!nruns[s])
            continue;
        fprintf(f, "%s\n    \"%s\": {\"what\": \"%s\", \"median_total\": %.3f, \"runs\": [", first ? "" : ",",
                side_name[s], side_desc[s], median_of(s, g_total));
        first = 0;
        for (int i = 0; i < nruns[s]; i++) {
            const struct run *r = &runs[s][i];
            fprintf(f, "%s\n      {\"ok\": %d, \"oom\": %d, \"bad\": %llu, \"file_bad\": %llu, \"map\": %.4f, "
                       "\"init\": %.3f, \"sort\": %.3f, \"validate\": %.3f, \"term\": %.3f, "
                       "\"user\": %.2f, \"sys\": %.2f, \"maxrss_kb\": %ld, \"cgroup_peak_mib\": %.1f, "
                       "\"minflt\": %ld, \"majflt\": %ld, \"dev_reads\": %llu, \"dev_read_sectors\": %llu, "
                       "\"dev_writes\": %llu, \"dev_write_sectors\": %llu, \"vmkit_faults\": %llu, "
                       "\"vmkit_major\": %llu, \"vmkit_file_read\": %llu, \"vmkit_file_written\": %llu, "
                       "\"vmkit_fault_ns\": %llu, \"vmkit_readahead\": %llu, \"vmkit_readahead_hits\": %llu, "
                       "\"vmkit_readahead_waste\": %llu, \"load\": %.2f}",
                    i ? "," : "", r->ok, r->oom, (unsigned long long)r->bad, (unsigned long long)r->file_bad,
                    r->t_map, r->t_init, r->t_sort, r->t_valid, r->t_term, r->utime, r->stime,
                    r->maxrss_kb, r->cg_peak_mib, r->minflt, r->majflt,
                    (unsigned long long)r->dev_rd_ios, (unsigned long long)r->dev_rd_sect,
                    (unsigned long long)r->dev_wr_ios, (unsigned long long)r->dev_wr_sect,
                    (unsigned long long)r->faults, (unsigned long long)r->major,
                    (unsigned long long)r->file_read, (unsigned long long)r->file_written,
                    (unsigned long long)r->fault_ns, (unsigned long long)r->ra,
                    (unsigned long long)r->ra_hits, (unsigned long long)r->ra_waste, r->load);
        }
        fprintf(f, "\n    ]}");
    }
    fprintf(f, "\n  }\n}\n");
}

/* ================= main ================= */

static int usage(FILE *f)
{
    fprintf(f,
            "usage: bench_umapsort [--size 256M] [--limit 32M] [--cg-limit auto|SIZE] [--threads 2]\n"
            "                      [--reps 3] [--dir /var/tmp] [--only vmkit,vmkit-cg,kernel,umap,usemmap]\n"
            "                      [--umap PATH/umapsort [--umap-lib DIR]] [--out-dir results]\n"
            "                      [--kernel-advice normal|random|sequential]\n"
            "       bench_umapsort --check-file FILE [--size 256M]\n"
            "umap's umapsort workload (LLNL/umap examples/umapsort) on vmkit (vmk_map_file,\n"
            "shared, memory_limit --limit), on the kernel (mmap MAP_SHARED in a memory cgroup of\n"
            "--cg-limit: default the limit plus vmkit's documented overhead) and, with --umap,\n"
            "on umap's own binary (UMAP_BUFSIZE = limit / 4096 pages).  Root: cgroups and\n"
            "drop_caches (every step echoed, undone at the end).  Reports: OUT_DIR/umapsort.md, .json\n"
            "default sides: vmkit, kernel, and umap + usemmap with --umap; vmkit-cg: vmkit inside\n"
            "the kernel's cgroup (an OOM kill there is reported, not counted as a failure)\n"
            "--kernel-advice: madvise the kernel's mapping (random: no read-around; an experiment)\n"
            "--check-file: is FILE the sorted 1..n of the workload?  (exit 0 if so)\n");
    return f == stderr ? 2 : 0;
}

static void find_blockdev(void)
{
    struct stat st;
    static char name[64];
    if (stat(DIR_, &st) < 0)
        return;
    char path[128], link[256];
    snprintf(path, sizeof path, "/sys/dev/block/%u:%u", major(st.st_dev), minor(st.st_dev));
    ssize_t k = readlink(path, link, sizeof link - 1);
    if (k <= 0)
        return;
    link[k] = 0;
    /* .../block/vda or .../block/vda/vda1: the whole device has the stat we want */
    char *b = strstr(link, "/block/");
    if (!b)
        return;
    b += 7;
    size_t n = strcspn(b, "/");
    if (n >= sizeof name)
        return;
    memcpy(name, b, n);
    name[n] = 0;
    BLOCKDEV = name;
}

int main(int argc, char **argv)
{
    char cmdline[600] = "bench_umapsort";
    const char *check = NULL, *cg_arg = "auto";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        strncat(cmdline, " ", sizeof cmdline - strlen(cmdline) - 1);
        strncat(cmdline, a, sizeof cmdline - strlen(cmdline) - 1);
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return usage(stdout);
        if (!strcmp(a, "--self-test"))
            return self_test();
        if (!v)
            return usage(stderr);
        strncat(cmdline, " ", sizeof cmdline - strlen(cmdline) - 1);
        strncat(cmdline, v, sizeof cmdline - strlen(cmdline) - 1);
        i++;
        if (!strcmp(a, "--size")) SIZE = cli_parse_size(v) & ~(size_t)4095;
        else if (!strcmp(a, "--limit")) LIMIT = cli_parse_size(v);
        else if (!strcmp(a, "--cg-limit")) cg_arg = v;
        else if (!strcmp(a, "--threads")) THREADS = atoi(v);
        else if (!strcmp(a, "--reps")) REPS = atoi(v);
        else if (!strcmp(a, "--dir")) DIR_ = v;
        else if (!strcmp(a, "--umap")) UMAP_BIN = v;
        else if (!strcmp(a, "--umap-lib")) UMAP_LIBDIR = v;
        else if (!strcmp(a, "--out-dir")) OUT_DIR = v;
        else if (!strcmp(a, "--check-file")) check = v;
        else if (!strcmp(a, "--kernel-advice"))     /* an experiment: the kernel without read-around */
            KERNEL_ADVICE = !strcmp(v, "random") ? MADV_RANDOM : !strcmp(v, "sequential") ? MADV_SEQUENTIAL
                          : MADV_NORMAL;
        else if (!strcmp(a, "--only")) {
            DO_VMKIT = DO_VMKIT_CG = DO_KERNEL = DO_UMAP = DO_USEMMAP = 0;
            char list[200];
            snprintf(list, sizeof list, "%s", v);
            for (char *sv, *t = strtok_r(list, ",", &sv); t; t = strtok_r(NULL, ",", &sv)) {
                int *w = !strcmp(t, "vmkit") ? &DO_VMKIT : !strcmp(t, "vmkit-cg") ? &DO_VMKIT_CG
                       : !strcmp(t, "kernel") ? &DO_KERNEL : !strcmp(t, "umap") ? &DO_UMAP
                       : !strcmp(t, "usemmap") ? &DO_USEMMAP : NULL;
                if (!w)
                    return usage(stderr);
                *w = 1;
            }
        } else return usage(stderr);
    }
    if (SIZE < 65536 || LIMIT < VMK_MIN_MEMORY_LIMIT || THREADS < 1 || THREADS > 64 || REPS < 1 ||
        REPS > 16)
        return usage(stderr);
    N = SIZE / 8;
    for (uint64_t v = 1; v <= N; v++)
        EXP_HSUM += mix(v);
    if (check) {
        uint64_t bad = check_file(check);
        printf("%s: %s (%llu wrong)\n", check, bad ? "WRONG" : "sorted, 1..n, checksum ok",
               (unsigned long long)bad);
        return bad != 0;
    }
    CG_LIMIT = !strcmp(cg_arg, "auto") ? (LIMIT + vmkit_overhead() + ((size_t)1 << 20) - 1) & ~(((size_t)1 << 20) - 1)
                                       : cli_parse_size(cg_arg);
    if (!UMAP_BIN)
        DO_UMAP = DO_USEMMAP = 0;
    if (UMAP_BIN && access(UMAP_BIN, X_OK) != 0) {
        say("bench_umapsort: %s: not an executable: the umap rows are skipped", UMAP_BIN);
        DO_UMAP = DO_USEMMAP = 0;
    }
    is_root = geteuid() == 0;
    find_blockdev();
    snprintf(datafile, sizeof datafile, "%s/vmkit-umapsort-%d.dat", DIR_, getpid());

    static sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    pthread_t th;
    pthread_create(&th, NULL, signal_thread, &sigs);
    pthread_detach(th);

    double load0, load1;
    getloadavg(&load0, 1);
    time_t now = time(NULL);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    say("bench_umapsort: %zu MiB of uint64, %d threads, budget %zu MiB, %d reps, file %s (device %s), "
        "load average %.2f",
        SIZE >> 20, THREADS, LIMIT >> 20, REPS, datafile, BLOCKDEV ? BLOCKDEV : "?", load0);
    say("bench_umapsort: the kernel's cgroup limit: %zu bytes (%.2f MiB)%s", CG_LIMIT, CG_LIMIT / 1048576.0,
        strcmp(cg_arg, "auto") ? " (--cg-limit)"
                               : " = the budget + vmkit's documented overhead (page table 8 B x pages, "
                                 "core map + free stack 20 B x frames, 4 MiB bounce + 1 MiB reclaim "
                                 "buffers), rounded up to a MiB");
    char kwhat[200] = "no cgroup (not root): the kernel side is not limited";
    int cg_ok = 0;
    if (is_root && (DO_KERNEL || DO_USEMMAP || DO_VMKIT_CG))
        cg_ok = cgroup_setup(kwhat, sizeof kwhat) == 0;
    else if (is_root) {
        char dummy[200];
        size_t save = CG_LIMIT;
        cg_ok = cgroup_setup(dummy, sizeof dummy) == 0;  /* for the accounting cgroup */
        CG_LIMIT = save;
    } else
        say("bench_umapsort: not root: no cgroup, the page cache is not dropped between runs");
    snprintf(side_desc[S_VMKIT], sizeof side_desc[0],
             "vmk_map_file(VMK_MAP_SHARED), memory_limit %zu MiB (vmkit's file I/O is buffered: the "
             "kernel's page cache of the file is not in that budget)", LIMIT >> 20);
    snprintf(side_desc[S_VMKIT_CG], sizeof side_desc[0],
             "the same, in the kernel's memory cgroup (frames, vmkit's own memory and the page cache "
             "its file I/O causes all within it)");
    if (!cg_ok)
        DO_VMKIT_CG = 0;
    snprintf(side_desc[S_KERNEL], sizeof side_desc[0], "mmap(MAP_SHARED|MAP_NORESERVE)%s, %s",
             KERNEL_ADVICE == MADV_RANDOM ? " + MADV_RANDOM" : KERNEL_ADVICE == MADV_SEQUENTIAL
             ? " + MADV_SEQUENTIAL" : "", kwhat);
    snprintf(side_desc[S_UMAP], sizeof side_desc[0],
             "umap's umapsort, UMAP_PAGESIZE=4096 UMAP_BUFSIZE=%zu (%zu MiB), its O_DIRECT file I/O",
             LIMIT / 4096, LIMIT >> 20);
    snprintf(side_desc[S_USEMMAP], sizeof side_desc[0], "umap's umapsort --usemmap (kernel mmap), %s",
             kwhat);

    /* Each side, each repetition: caches dropped, the load noted, the run in
     * a child (in the cgroup the side names), the file checked after. */
    const struct side_run {
        int *on, side;
        const char *what;
        const char *cg;                /* NULL: no cgroup */
        void (*fn)(struct run *);      /* NULL: umap's own binary */
        int usemmap;
    } sides[] = {
        { &DO_VMKIT, S_VMKIT, "vmkit", cg_ok ? cg_acct : NULL, vmkit_run, 0 },
        { &DO_VMKIT_CG, S_VMKIT_CG, "vmkit in the kernel's memory cgroup", cg_limited, vmkit_run, 0 },
        { &DO_KERNEL, S_KERNEL, "kernel", cg_ok ? cg_limited : NULL, kernel_run, 0 },
        { &DO_UMAP, S_UMAP, "umap", cg_ok ? cg_acct : NULL, NULL, 0 },
        { &DO_USEMMAP, S_USEMMAP, "umapsort --usemmap in the kernel's cgroup",
          cg_ok ? cg_limited : NULL, NULL, 1 },
    };
    for (int rep = 0; rep < REPS && !atomic_load(&stopping); rep++) {
        for (size_t k = 0; k < sizeof sides / sizeof sides[0]; k++) {
            const struct side_run *sr = &sides[k];
            if (!*sr->on)
                continue;
            say("bench_umapsort: rep %d/%d, %s", rep + 1, REPS, sr->what);
            drop_caches();
            struct run r;
            double l;
            getloadavg(&l, 1);
            if (sr->fn)
                in_child(sr->cg, sr->fn, &r);
            else
                umap_run(sr->cg, sr->usemmap, &r);
            r.load = l;
            if (r.ok)
                r.file_bad = check_file(datafile);
            record(sr->side, &r, rep);
        }
    }
    while (atomic_load(&stopping))
        pause();                       /* the signal thread undoes the run and exits */
    cleanup();
    getloadavg(&load1, 1);
    report(stdout, cmdline, date, load0, load1);
    char path[600];
    mkdir(OUT_DIR, 0755);
    snprintf(path, sizeof path, "%s/umapsort.md", OUT_DIR);
    FILE *f = fopen(path, "w");
    if (f) {
        report(f, cmdline, date, load0, load1);
        fclose(f);
    }
    snprintf(path, sizeof path, "%s/umapsort.json", OUT_DIR);
    f = fopen(path, "w");
    if (f) {
        json(f, cmdline, date, load0, load1);
        fclose(f);
        say("bench_umapsort: wrote %s/umapsort.md and .json", OUT_DIR);
    }
    if (failed)
        say("bench_umapsort: WRONG DATA or a failed run: the run fails");
    return failed;
}
