/*
 * bench_cowprivate.c - what copy-on-write would cost if the kernel did the
 * copying for vmkit ("door 2" of issue 5), against the kernel's own
 * copy-on-write after fork(), in the same run.
 *
 * vmkit's windows are MAP_SHARED mappings of the frame-store memfd, so a
 * page copied on write lives at another memfd offset and needs a mapping
 * of its own (src/cow.c).  The other way would be a MAP_PRIVATE mapping of
 * the memfd: the kernel copies a page into an anonymous one at the first
 * write, as it does after fork(), and vmkit would find the copies later
 * with PAGEMAP_SCAN (present pages that are not file pages).  This program
 * measures, for a region of --size bytes (first word of a random quarter
 * of the pages written, the same order each way):
 *
 *   fork      fork() of a process that has the region resident (anonymous),
 *             the child writes: the kernel's COW, vmkit bench's baseline;
 *   private   a MAP_PRIVATE mapping of a memfd that holds the region, every
 *             page read (mapped) first, then written: the kernel's COW from
 *             a shmem page;
 *   scan      PAGEMAP_SCAN of that mapping for the pages it now owns (what
 *             vmkit would have to do to know them), and their count;
 *   uffd      the same mapping registered with userfaultfd as vmkit's are
 *             (MISSING | MINOR | WP, SIGBUS mode: the faulting thread's
 *             signal handler resolves its own fault), so that vmkit learns
 *             of each copy when it is made - the floor of door 2, before
 *             any bookkeeping of vmkit's:
 *               copy      page not mapped: MINOR fault, UFFDIO_COPY of the
 *                         page from the shared mapping (one copy);
 *               continue  page not mapped: MINOR fault, UFFDIO_CONTINUE
 *                         (read-only), the write faults again and the
 *                         kernel copies;
 *               unprotect page mapped write-protected (read before): WP
 *                         fault, protection lifted, the kernel copies.
 *
 * Every written page and every other page is checked, and the memfd must
 * still hold the original bytes.
 *
 *   build/bench_cowprivate [--size 512M] [--reps 3]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "cli.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/types.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <sys/syscall.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* PAGEMAP_SCAN (Linux 6.7); the installed headers may not have it. */
struct vmk_page_region { __u64 start, end, categories; };
struct vmk_pm_scan_arg {
    __u64 size, flags, start, end, walk_end, vec, vec_len, max_pages;
    __u64 category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define VMK_PAGEMAP_SCAN _IOWR('f', 16, struct vmk_pm_scan_arg)
#define VMK_PAGE_IS_FILE    (1 << 2)
#define VMK_PAGE_IS_PRESENT (1 << 3)
/* userfaultfd on shmem (Linux 5.13 / 5.19); maybe not in the headers. */
#define VMK_UFFD_FEATURE_MINOR_SHMEM (1 << 10)
#define VMK_UFFD_FEATURE_WP_SHMEM    (1 << 12)
#define VMK_UFFDIO_REGISTER_MODE_MINOR (1 << 2)
#define VMK_UFFDIO_CONTINUE_MODE_WP  (1 << 1)
#ifndef UFFDIO_CONTINUE
struct uffdio_continue { struct uffdio_range range; __u64 mode; __s64 mapped; };
#define UFFDIO_CONTINUE _IOWR(UFFDIO, 0x07, struct uffdio_continue)
#endif

static size_t size = (size_t)512 << 20;

static void die(const char *what)
{
    fprintf(stderr, "bench_cowprivate: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* A random permutation of [0, n), the one vmkit bench uses. */
static uint32_t *shuffled(size_t n)
{
    uint32_t *o = malloc(n * sizeof *o);
    if (!o)
        die("malloc");
    cli_shuffle(o, n);
    return o;
}

static void fill(char *b, size_t np)
{
    for (size_t p = 0; p < np; p++)
        ((uint64_t *)(b + p * 4096))[0] = p;
}

/* Write the first word of pages order[0..n): µs per page. */
static double write_pass(char *b, const uint32_t *order, size_t n)
{
    double t = cli_now();
    for (size_t i = 0; i < n; i++)
        ((uint64_t *)(b + (size_t)order[i] * 4096))[0] = (uint64_t)order[i] | 1ull << 40;
    return (cli_now() - t) * 1e6 / (double)n;
}

/* Pages wrong: written ones (order[0..n)) must have the mark, others not. */
static size_t check(const char *b, size_t np, const uint32_t *order, size_t n)
{
    char *w = calloc(np, 1);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        w[order[i]] = 1;
    for (size_t p = 0; p < np; p++)
        bad += ((const uint64_t *)(b + p * 4096))[0] != (p | (w[p] ? 1ull << 40 : 0));
    free(w);
    return bad;
}

/* A memfd holding the region (page p's first word = p), mapped MAP_SHARED
 * (sh) and MAP_PRIVATE (pv); no huge pages, as vmkit's windows. */
struct pair { int mfd; char *sh, *pv; };

static struct pair pair_open(size_t np)
{
    struct pair m;
    m.mfd = memfd_create("cowprivate", MFD_CLOEXEC);
    if (m.mfd < 0 || ftruncate(m.mfd, (off_t)size) < 0)
        die("memfd");
    m.sh = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, m.mfd, 0);
    m.pv = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, m.mfd, 0);
    if (m.sh == MAP_FAILED || m.pv == MAP_FAILED)
        die("mmap");
    madvise(m.sh, size, MADV_NOHUGEPAGE);
    madvise(m.pv, size, MADV_NOHUGEPAGE);
    fill(m.sh, np);
    return m;
}

/* Pages of the memfd no longer original (the private copies must never
 * reach it); then unmapped and closed. */
static size_t pair_close(struct pair *m, size_t np)
{
    size_t bad = 0;
    for (size_t p = 0; p < np; p++)
        bad += ((uint64_t *)(m->sh + p * 4096))[0] != p;
    munmap(m->pv, size);
    munmap(m->sh, size);
    close(m->mfd);
    return bad;
}

static double kernel_fork(const uint32_t *order, size_t np, size_t n, size_t *bad)
{
    char *b = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (b == MAP_FAILED)
        die("mmap");
    madvise(b, size, MADV_NOHUGEPAGE);
    fill(b, np);
    int fd[2];
    if (pipe(fd) < 0)
        die("pipe");
    pid_t pid = fork();
    if (pid == 0) {
        double r[2];
        r[0] = write_pass(b, order, n);
        r[1] = (double)check(b, np, order, n);
        _exit(write(fd[1], r, sizeof r) == sizeof r ? 0 : 1);
    }
    double r[2] = { 0, 1 };
    if (pid < 0 || read(fd[0], r, sizeof r) != sizeof r)
        r[1] = 1;
    waitpid(pid, NULL, 0);
    close(fd[0]);
    close(fd[1]);
    for (size_t p = 0; p < np; p++)           /* the parent's copy is untouched */
        *bad += ((uint64_t *)(b + p * 4096))[0] != p;
    *bad += (size_t)r[1];
    munmap(b, size);
    return r[0];
}

static double private_map(const uint32_t *order, size_t np, size_t n, double *scan_ms,
                          size_t *found, size_t *bad)
{
    struct pair m = pair_open(np);
    char *pv = m.pv;
    volatile uint64_t sum = 0;
    for (size_t p = 0; p < np; p++)           /* mapped, as a forked space's reads map */
        sum += ((volatile uint64_t *)(pv + p * 4096))[0];
    double us = write_pass(pv, order, n);
    *bad += check(pv, np, order, n);
    int pm = open("/proc/self/pagemap", O_RDONLY);
    struct vmk_page_region *vec = malloc(np * sizeof *vec);
    if (pm < 0 || !vec)
        die("pagemap");
    struct vmk_pm_scan_arg a = {
        .size = sizeof a, .start = (uintptr_t)pv, .end = (uintptr_t)pv + size,
        .vec = (uintptr_t)vec, .vec_len = np,
        .category_inverted = VMK_PAGE_IS_FILE,
        .category_mask = VMK_PAGE_IS_FILE | VMK_PAGE_IS_PRESENT,
        .return_mask = VMK_PAGE_IS_PRESENT,
    };
    double t = cli_now();
    long r = ioctl(pm, VMK_PAGEMAP_SCAN, &a);
    *scan_ms = (cli_now() - t) * 1e3;
    if (r < 0)
        die("PAGEMAP_SCAN (Linux 6.7 or later)");
    *found = 0;
    for (long i = 0; i < r; i++)
        *found += (size_t)((vec[i].end - vec[i].start) / 4096);
    *bad += *found != n;
    free(vec);
    close(pm);
    *bad += pair_close(&m, np);
    return us;
}

/* ---- the same mapping under userfaultfd, faults resolved in SIGBUS handlers ---- */
enum { U_COPY, U_CONTINUE, U_UNPROTECT, U_WAYS };
static const char *const u_name[U_WAYS] = {
    "MINOR fault, UFFDIO_COPY from the memfd",
    "MINOR fault, UFFDIO_CONTINUE, kernel copy",
    "mapped WP, WP fault, unprotect, kernel copy",
};
static int u_fd, u_how;
static char *u_pv, *u_sh;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)uc;
    uintptr_t a = (uintptr_t)si->si_addr & ~(uintptr_t)4095;
    int r;
    if (u_how == U_COPY) {
        struct uffdio_copy c = { .dst = a, .src = (uintptr_t)u_sh + (a - (uintptr_t)u_pv),
                                 .len = 4096 };
        r = ioctl(u_fd, UFFDIO_COPY, &c);
    } else if (u_how == U_CONTINUE) {
        struct uffdio_continue c = { .range = { a, 4096 } };
        r = ioctl(u_fd, UFFDIO_CONTINUE, &c);
    } else {
        struct uffdio_writeprotect w = { .range = { a, 4096 }, .mode = 0 };
        r = ioctl(u_fd, UFFDIO_WRITEPROTECT, &w);
    }
    if (r < 0 && errno != EEXIST) {        /* the write would fault forever */
        static const char msg[] = "bench_cowprivate: a userfaultfd ioctl failed in the handler\n";
        ssize_t k = write(2, msg, sizeof msg - 1);
        (void)k;
        _exit(3);
    }
}

static double uffd_private(int how, const uint32_t *order, size_t np, size_t n, size_t *bad)
{
    struct pair m = pair_open(np);
    u_sh = m.sh, u_pv = m.pv;
    u_fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_SIGBUS |
                              VMK_UFFD_FEATURE_MINOR_SHMEM | VMK_UFFD_FEATURE_WP_SHMEM };
    if (u_fd < 0 || ioctl(u_fd, UFFDIO_API, &api) < 0)
        die("userfaultfd (root, or UFFD_USER_MODE_ONLY)");
    struct uffdio_register reg = { .range = { (uintptr_t)u_pv, size },
                                   .mode = UFFDIO_REGISTER_MODE_MISSING |
                                           VMK_UFFDIO_REGISTER_MODE_MINOR |
                                           UFFDIO_REGISTER_MODE_WP };
    if (ioctl(u_fd, UFFDIO_REGISTER, &reg) < 0)
        die("UFFDIO_REGISTER");
    if (how == U_UNPROTECT) {                 /* every page mapped, write-protected */
        struct uffdio_continue c = { .range = { (uintptr_t)u_pv, size },
                                     .mode = VMK_UFFDIO_CONTINUE_MODE_WP };
        if (ioctl(u_fd, UFFDIO_CONTINUE, &c) < 0)
            die("UFFDIO_CONTINUE");
    }
    struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO }, old;
    sigaction(SIGBUS, &sa, &old);
    u_how = how;
    double us = write_pass(u_pv, order, n);
    *bad += check(u_pv, np, order, n);     /* reads fault too: resolved the same way */
    sigaction(SIGBUS, &old, NULL);
    close(u_fd);
    *bad += pair_close(&m, np);
    return us;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int reps = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--size") && i + 1 < argc)
            size = cli_parse_size(argv[++i]) & ~(size_t)4095;
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_cowprivate [--size 512M] [--reps 3]\n");
            return 2;
        }
    }
    if (size < ((size_t)1 << 20) || reps < 1 || reps > 16) {
        fprintf(stderr, "bench_cowprivate: --size >= 1M, 1 <= --reps <= 16\n");
        return 2;
    }
    size_t np = size / 4096, n = np / 4, bad = 0, found = 0;
    uint32_t *order = shuffled(np);
    double kf[16], pr[16], sc[16], uf[U_WAYS][16];
    for (int r = 0; r < reps; r++) {
        kf[r] = kernel_fork(order, np, n, &bad);
        pr[r] = private_map(order, np, n, &sc[r], &found, &bad);
        for (int w = 0; w < U_WAYS; w++)
            uf[w][r] = uffd_private(w, order, np, n, &bad);
    }
    qsort(kf, (size_t)reps, sizeof *kf, cmp);
    qsort(pr, (size_t)reps, sizeof *pr, cmp);
    qsort(sc, (size_t)reps, sizeof *sc, cmp);
    for (int w = 0; w < U_WAYS; w++)
        qsort(uf[w], (size_t)reps, sizeof *uf[w], cmp);
    printf("%zu MiB, a random quarter of the pages written (%zu), median of %d:\n", size >> 20, n,
           reps);
    printf("  kernel COW after fork() (anonymous)         %6.2f us/page\n", kf[reps / 2]);
    printf("  kernel COW in a MAP_PRIVATE memfd mapping   %6.2f us/page  (%.2fx the first)\n",
           pr[reps / 2], pr[reps / 2] / kf[reps / 2]);
    printf("  PAGEMAP_SCAN for its %zu private pages     %6.2f ms\n", found, sc[reps / 2]);
    printf("  the same mapping under userfaultfd (SIGBUS handler):\n");
    for (int w = 0; w < U_WAYS; w++)
        printf("    %-44s %6.2f us/page  (%.2fx the first)\n", u_name[w], uf[w][reps / 2],
               uf[w][reps / 2] / kf[reps / 2]);
    if (bad)
        printf("bench_cowprivate: %zu pages wrong\n", bad);
    free(order);
    return bad ? 1 : 0;
}
