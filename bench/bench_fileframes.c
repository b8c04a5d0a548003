/*
 * bench_fileframes.c - what it costs the CPU to put a file's bytes into
 * memory a process maps, four ways, under a memory budget (issue 6).
 *
 * The kernel's mmap of a file reads into page-cache pages that the device
 * fills: no CPU copy, no zeroing.  vmkit's frames are pages of a memfd, and
 * a new shmem page is zeroed (or filled by a copy) before anything else may
 * see it.  This program streams a file through a window of `--size` bytes
 * under a budget of `--limit` bytes (the oldest MiB is dropped as each new
 * MiB comes in, as eviction would), reading 1 MiB with O_DIRECT at a time,
 * and reports wall time and the process's CPU time per GiB for:
 *
 *   direct    O_DIRECT reads into one reused buffer: the device's rate and
 *             the floor of any way below (no frame at all);
 *   vmkit     what src/fileio.c does: fallocate the MiB in the memfd, map
 *             it in a registered reader window (UFFDIO_CONTINUE: the pages
 *             are zeroed here), O_DIRECT into it, UFFDIO_CONTINUE into the
 *             mapping, drop the reader window's entries; eviction punches;
 *   copy      O_DIRECT into a buffer, UFFDIO_COPY into the memfd mapping
 *             (the copy fills the new page: no zeroing); eviction punches;
 *   move      private anonymous frames recycled with UFFDIO_MOVE (Linux
 *             6.8): the evicted MiB's pages are moved back into the
 *             staging buffer, O_DIRECT fills them, UFFDIO_MOVE puts them
 *             in the mapping.  No allocation, no zeroing, no copy once the
 *             budget is full - but anonymous pages cannot be mapped twice,
 *             so this is a way only for a file mapped once.
 *
 * Every page's first word is checked against the file's pattern.
 *
 *   build/bench_fileframes [--file PATH] [--size 1G] [--limit 128M] [--reps 3]
 *
 * The file (default /var/tmp/vmkit-fileframes) is written once with the
 * pattern and left for the next run; its page cache is dropped before
 * each pass.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "cli.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef UFFD_FEATURE_MINOR_SHMEM
#define UFFD_FEATURE_MINOR_SHMEM (1 << 10)
#endif
#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE (1ull << 16)
#endif
#ifndef UFFDIO_MOVE
struct uffdio_move { __u64 dst, src, len, mode; __s64 move; };
#define UFFDIO_MOVE _IOWR(UFFDIO, 0x05, struct uffdio_move)
#endif

#define CHUNK ((size_t)1 << 20)

static size_t size = (size_t)1 << 30, limit = (size_t)128 << 20;
static int uffd = -1;

static double cpu_s(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (double)(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
           (double)(r.ru_utime.tv_usec + r.ru_stime.tv_usec) * 1e-6;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_fileframes: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void ioc(unsigned long req, void *arg, const char *what)
{
    if (ioctl(uffd, req, arg) < 0)
        die(what);
}

static void reg(void *p, size_t len, __u64 mode)
{
    struct uffdio_register r = { .range = { (uintptr_t)p, len }, .mode = mode };
    ioc(UFFDIO_REGISTER, &r, "UFFDIO_REGISTER");
}

static void cont(char *p, size_t len)
{
    struct uffdio_continue c = { .range = { (uintptr_t)p, len } };
    ioc(UFFDIO_CONTINUE, &c, "UFFDIO_CONTINUE");
}

/* UFFDIO_MOVE refuses (EBUSY) a page with a reference besides its mapping,
 * such as a just-populated page still in the CPU's LRU batch: retried
 * after a yield, counted. */
static unsigned long busy_retries;

static void move(char *dst, char *src, size_t len)
{
    struct uffdio_move m = { .dst = (uintptr_t)dst, .src = (uintptr_t)src, .len = len };
    for (int tries = 0; ioctl(uffd, UFFDIO_MOVE, &m) < 0; tries++) {
        if (errno != EBUSY && errno != EAGAIN)
            die("UFFDIO_MOVE");
        if (tries == 1000)
            die("UFFDIO_MOVE (still busy)");
        size_t done = m.move > 0 ? (size_t)m.move : 0;
        busy_retries++;
        sched_yield();
        m = (struct uffdio_move){ .dst = (uintptr_t)dst + done, .src = (uintptr_t)src + done,
                                  .len = len - done };
    }
}

static void punch(int fd, size_t off)
{
    if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, CHUNK) < 0)
        die("punch");
}

static void read_at(int fd, void *buf, size_t off)
{
    if (pread(fd, buf, CHUNK, (off_t)off) != (ssize_t)CHUNK)
        die("O_DIRECT pread");
}

/* Pages of [p, p+CHUNK) whose first word is not the pattern for off. */
static size_t check(const char *p, size_t off)
{
    size_t bad = 0;
    for (size_t i = 0; i < CHUNK; i += 4096)
        bad += *(const volatile uint64_t *)(p + i) != (uint64_t)(off + i);
    return bad;
}

static void make_file(const char *path)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && (size_t)st.st_size >= size) {
        close(fd);
        return;
    }
    if (fd >= 0)
        close(fd);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        die(path);
    char *b = malloc(CHUNK);
    for (size_t off = 0; off < size; off += CHUNK) {
        for (size_t i = 0; i < CHUNK; i += 8)
            *(uint64_t *)(b + i) = off + i;
        if (pwrite(fd, b, CHUNK, (off_t)off) != (ssize_t)CHUNK)
            die("writing the file");
    }
    free(b);
    fsync(fd);
    close(fd);
}

enum way { DIRECT, VMKIT, COPY, MOVE, NWAYS };
static const char *names[NWAYS] = { "direct", "vmkit", "copy", "move" };

/* One pass of way w over the file: wall seconds, CPU seconds, bad pages. */
static void pass(enum way w, const char *path, double *wall, double *cpu, size_t *bad)
{
    int dfd = open(path, O_RDONLY);
    if (dfd >= 0) {
        posix_fadvise(dfd, 0, 0, POSIX_FADV_DONTNEED);
        close(dfd);
    }
    int fd = open(path, O_RDONLY | O_DIRECT);
    if (fd < 0)
        die(path);
    char *buf = aligned_alloc(4096, CHUNK);
    memset(buf, 0, CHUNK);
    int mfd = -1;
    char *map, *win = NULL, *pool = NULL;
    if (w == MOVE) {
        map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
        pool = mmap(NULL, limit, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (map == MAP_FAILED || pool == MAP_FAILED)
            die("mmap");
        madvise(map, size, MADV_NOHUGEPAGE);
        madvise(pool, limit, MADV_NOHUGEPAGE);
        free(buf);                            /* a mapping of its own, populated */
        buf = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (buf == MAP_FAILED)
            die("mmap");
        madvise(buf, CHUNK, MADV_NOHUGEPAGE);
        memset(buf, 1, CHUNK);
        memset(pool, 1, limit);               /* the budget's frames, allocated once */
        reg(map, size, UFFDIO_REGISTER_MODE_MISSING);
        reg(pool, limit, UFFDIO_REGISTER_MODE_MISSING);
        reg(buf, CHUNK, UFFDIO_REGISTER_MODE_MISSING);
    } else {
        mfd = memfd_create("fileframes", MFD_CLOEXEC);
        if (mfd < 0 || ftruncate(mfd, (off_t)size) < 0)
            die("memfd");
        map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, mfd, 0);
        win = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, mfd, 0);
        if (map == MAP_FAILED || win == MAP_FAILED)
            die("mmap");
        reg(map, size, UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_MINOR);
        reg(win, size, UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_MINOR);
    }
    *bad = 0;
    double t = cli_now(), c = cpu_s();
    for (size_t off = 0; off < size; off += CHUNK) {
        switch (w) {
        case DIRECT:
            read_at(fd, buf, off);
            *bad += check(buf, off);
            continue;
        case VMKIT:
            if (off >= limit)
                punch(mfd, off - limit);
            if (fallocate(mfd, 0, (off_t)off, CHUNK) < 0)
                die("fallocate");
            cont(win + off, CHUNK);
            read_at(fd, win + off, off);
            cont(map + off, CHUNK);
            madvise(win + off, CHUNK, MADV_DONTNEED);
            break;
        case COPY: {
            if (off >= limit)
                punch(mfd, off - limit);
            read_at(fd, buf, off);
            struct uffdio_copy cp = { .dst = (uintptr_t)(map + off), .src = (uintptr_t)buf,
                                      .len = CHUNK };
            ioc(UFFDIO_COPY, &cp, "UFFDIO_COPY");
            break;
        }
        case MOVE:
            /* Frames for this MiB: the evicted MiB's, or the pool's while
             * the budget is not full yet. */
            if (off)                          /* buf was emptied by the last move */
                move(buf, off >= limit ? map + off - limit : pool + off, CHUNK);
            read_at(fd, buf, off);
            move(map + off, buf, CHUNK);
            break;
        default:
            break;
        }
        *bad += check(map + off, off);
    }
    *wall = cli_now() - t;
    *cpu = cpu_s() - c;
    munmap(map, size);
    if (win)
        munmap(win, size);
    if (pool)
        munmap(pool, limit);
    if (mfd >= 0)
        close(mfd);
    if (w == MOVE)
        munmap(buf, CHUNK);
    else
        free(buf);
    close(fd);
}

int main(int argc, char **argv)
{
    const char *path = "/var/tmp/vmkit-fileframes";
    int reps = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--file") && i + 1 < argc)
            path = argv[++i];
        else if (!strcmp(argv[i], "--size") && i + 1 < argc)
            size = cli_parse_size(argv[++i]) & ~(CHUNK - 1);
        else if (!strcmp(argv[i], "--limit") && i + 1 < argc)
            limit = cli_parse_size(argv[++i]) & ~(CHUNK - 1);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_fileframes [--file PATH] [--size 1G] [--limit 128M] "
                            "[--reps 3]\n");
            return 2;
        }
    }
    if (!size || !limit || limit > size || reps < 1) {
        fprintf(stderr, "bench_fileframes: need 0 < --limit <= --size, --reps >= 1\n");
        return 2;
    }
    uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | 1 /* UFFD_USER_MODE_ONLY */);
    if (uffd < 0)
        uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    struct uffdio_api api = { .api = UFFD_API,
                              .features = UFFD_FEATURE_SIGBUS | UFFD_FEATURE_MISSING_SHMEM |
                                          UFFD_FEATURE_MINOR_SHMEM | UFFD_FEATURE_MOVE };
    if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) < 0)
        die("userfaultfd (Linux 6.8 or later for UFFDIO_MOVE)");
    make_file(path);
    printf("%s: %zu MiB through %zu MiB, 1 MiB O_DIRECT reads, %d passes each (interleaved)\n",
           path, size >> 20, limit >> 20, reps);
    double wall[NWAYS][16], cpu[NWAYS][16];
    size_t bad = 0;
    if (reps > 16)
        reps = 16;
    for (int r = 0; r < reps; r++)
        for (int w = 0; w < NWAYS; w++) {
            size_t b;
            pass((enum way)w, path, &wall[w][r], &cpu[w][r], &b);
            bad += b;
        }
    double gib = (double)size / (double)(1u << 30);
    printf("%-8s %12s %18s\n", "way", "GB/s", "CPU s per GiB");
    for (int w = 0; w < NWAYS; w++) {
        double wl = 1e9, wh = 0, cl = 1e9, ch = 0;
        for (int r = 0; r < reps; r++) {
            double g = (double)size / wall[w][r] / 1e9, c = cpu[w][r] / gib;
            wl = g < wl ? g : wl, wh = g > wh ? g : wh;
            cl = c < cl ? c : cl, ch = c > ch ? c : ch;
        }
        printf("%-8s %5.2f - %-5.2f %8.3f - %-6.3f\n", names[w], wl, wh, cl, ch);
    }
    if (busy_retries)
        printf("(UFFDIO_MOVE retried %lu times on a busy page)\n", busy_retries);
    if (bad)
        printf("bench_fileframes: %zu pages read wrong\n", bad);
    return bad ? 1 : 0;
}
