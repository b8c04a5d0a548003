/*
 * bench_segments.c - how fast the disk reads a file into physically
 * contiguous memory against 4 KiB pages scattered in memory (issue 6).
 *
 * vmkit's recycled frames are 4 KiB pages wherever the kernel put them, so
 * a 1 MiB O_DIRECT read into them is a request of 256 segments; a read into
 * a transparent huge page is one segment.  This program reads a file with
 * `--threads` threads, 1 MiB O_DIRECT requests each (a shared counter hands
 * out the offsets, so the device sees that many requests at a time), two
 * ways per pass, alternating:
 *
 *   huge       each thread's buffer is one 2 MiB-aligned huge page
 *              (MADV_HUGEPAGE; 4 KiB pages where the kernel gives none);
 *   scattered  each thread's buffer is 1 MiB of a 64 MiB region whose pages
 *              were touched in random order (MADV_NOHUGEPAGE): neighbours
 *              in the buffer are not neighbours in physical memory.
 *
 *   build/bench_segments [--file PATH] [--threads 4] [--reps 3]
 *
 * The file (default /var/tmp/vmkit-fileframes, 1 GiB; made by
 * bench_fileframes) has its page cache dropped before each pass.  Prints
 * GB/s per pass; the setup of the buffers is not timed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "cli.h"
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define REQ ((size_t)1 << 20)
#define HUGE ((size_t)2 << 20)
#define SCATTER ((size_t)64 << 20)

struct pass {
    int fd, huge;
    size_t size;
    _Atomic size_t next;
    pthread_barrier_t start;
    double t0;
    _Atomic int failed;
};

/* A buffer of REQ bytes as the pass wants it; *map, *len: what to unmap. */
static char *buffer(int huge, void **map, size_t *len)
{
    *len = huge ? 2 * HUGE : SCATTER;
    char *p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    *map = p;
    if (huge) {
        char *a = (char *)(((uintptr_t)p + HUGE - 1) & ~(uintptr_t)(HUGE - 1));
        madvise(a, HUGE, MADV_HUGEPAGE);
        memset(a, 1, HUGE);
        return a;
    }
    madvise(p, *len, MADV_NOHUGEPAGE);
    size_t n = *len / 4096;
    uint32_t *order = malloc(n * sizeof *order);
    if (!order)
        return NULL;
    for (size_t i = 0; i < n; i++)
        order[i] = (uint32_t)i;
    uint64_t s = 88172645463325252ull;
    for (size_t i = n - 1; i > 0; i--) {           /* touched in random order */
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        size_t j = s % (i + 1);
        uint32_t t = order[i];
        order[i] = order[j], order[j] = t;
    }
    for (size_t i = 0; i < n; i++)
        p[(size_t)order[i] * 4096] = 1;
    free(order);
    return p + *len / 2;
}

static void *reader(void *arg)
{
    struct pass *ps = arg;
    void *map = NULL;
    size_t len = 0;
    char *buf = buffer(ps->huge, &map, &len);
    if (!buf)
        atomic_store(&ps->failed, 1);
    if (pthread_barrier_wait(&ps->start) == PTHREAD_BARRIER_SERIAL_THREAD)
        ps->t0 = cli_now();
    for (size_t off; buf && (off = atomic_fetch_add(&ps->next, REQ)) + REQ <= ps->size;)
        if (pread(ps->fd, buf, REQ, (off_t)off) != (ssize_t)REQ) {
            atomic_store(&ps->failed, 1);
            break;
        }
    if (map)
        munmap(map, len);
    return NULL;
}

/* One pass over the file: GB/s, or -1. */
static double one_pass(const char *path, int threads, int huge)
{
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
    }
    struct pass ps = { .huge = huge };
    ps.fd = open(path, O_RDONLY | O_DIRECT);
    if (ps.fd < 0)
        return -1;
    ps.size = (size_t)lseek(ps.fd, 0, SEEK_END) & ~(REQ - 1);
    pthread_barrier_init(&ps.start, NULL, (unsigned)threads);
    pthread_t t[64];
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, reader, &ps);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    double dt = cli_now() - ps.t0;
    pthread_barrier_destroy(&ps.start);
    close(ps.fd);
    return atomic_load(&ps.failed) || !ps.size ? -1 : (double)ps.size / dt / 1e9;
}

int main(int argc, char **argv)
{
    const char *path = "/var/tmp/vmkit-fileframes";
    int threads = 4, reps = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--file") && i + 1 < argc)
            path = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_segments [--file PATH] [--threads 4] [--reps 3]\n");
            return 2;
        }
    }
    if (threads < 1 || threads > 64 || reps < 1) {
        fprintf(stderr, "bench_segments: need 1 <= --threads <= 64, --reps >= 1\n");
        return 2;
    }
    printf("%s: %d threads, 1 MiB O_DIRECT requests, %d passes each (alternating)\n", path, threads,
           reps);
    for (int r = 0; r < reps; r++)
        for (int huge = 1; huge >= 0; huge--) {
            double g = one_pass(path, threads, huge);
            if (g < 0) {
                fprintf(stderr, "bench_segments: %s: a read failed (run bench_fileframes once to "
                                "make the file)\n", path);
                return 1;
            }
            printf("%-10s %6.2f GB/s\n", huge ? "huge" : "scattered", g);
        }
    return 0;
}
