/*
 * test_file_readahead: readahead of mapped files (src/readahead.c), every
 * byte read through the mapping checked against the file's pattern.
 *  - sequential: a file 8x the budget read in order, shared and private,
 *    and from the end down: read-ahead hits >= 90% of the pages read ahead,
 *    few faults per page;
 *  - strided: every 4th (up and down) and every 7th page: the stride is
 *    detected (far fewer faults than pages touched), the pages in between
 *    are never read (pages read ~ pages touched), little waste;
 *  - partition: a cursor up from the start and one down from the end, in
 *    turns (quicksort): both read ahead;
 *  - random: the window stays small (pages read ~ faults), little waste;
 *  - several readers: 6 threads each reading their own part in order, and
 *    4 threads sharing one sequential scan (thread t reads pages t, t+4,
 *    ...): bytes right, hits >= 80%, at least 16 pages per read;
 *  - thrashing: a window evicted before its reader gets there counts waste
 *    (readahead larger than the budget can keep), bytes still right;
 *  - VMK_FILE_READAHEAD=0: one page per fault, no readahead.
 */
#include <vmkit.h>
#include "check.h"
#include <fcntl.h>
#include <pthread.h>

#define BUDGET ((size_t)4 << 20)                 /* 1024 frames */
#define FILE_PAGES (8 * BUDGET / TPAGE)          /* 8x the budget */

/* A file of np pages, page p = pattern(tag, p, *); unlinked, open O_RDWR. */
static int make_file(size_t np, uint64_t tag)
{
    char path[] = "/tmp/vmk_test_ra_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    unlink(path);
    static uint64_t buf[64 * TWORDS];
    for (size_t p = 0; p < np; p += 64) {
        size_t k = np - p < 64 ? np - p : 64;
        for (size_t i = 0; i < k; i++)
            fill_page(buf + i * TWORDS, tag, p + i);
        CHECK(pwrite(fd, buf, k * TPAGE, (off_t)(p * TPAGE)) == (ssize_t)(k * TPAGE), "pwrite");
    }
    return fd;
}

struct run {
    vmk_system *sys;
    vmk_space *as;
    const char *base;
    int fd;
};

static struct run open_run(size_t np, uint64_t tag, int flags)
{
    struct run r;
    r.fd = make_file(np, tag);
    r.sys = open_system(BUDGET, NULL);
    r.as = new_space(r.sys);
    r.base = vmk_map_file(r.as, r.fd, 0, np * TPAGE, VMK_PROT_READ, flags);
    CHECK(r.base, "vmk_map_file: %s", strerror(errno));
    return r;
}

static void close_run(struct run *r)
{
    vmk_system_close(r->sys);
    close(r->fd);
}

static void check_page(const struct run *r, uint64_t tag, size_t p, const char *what)
{
    CHECK(verify_page(r->base + p * TPAGE, tag, p, what) == 0, "%s: page %zu wrong", what, p);
}

static void show(const char *what, const vmk_stats *s, size_t touched)
{
    printf("%-22s touched %6zu  faults %6llu (major %6llu)  read %6llu  readahead %6llu  hits %6llu  waste %5llu\n",
           what, touched, ULL(s->faults), ULL(s->faults_major), ULL(s->pages_file_read), ULL(s->file_readahead),
           ULL(s->file_readahead_hits), ULL(s->file_readahead_waste));
}

/* Every page in order, up from page 0 or down from the last one. */
static void sequential(int flags, int down, const char *what)
{
    struct run r = open_run(FILE_PAGES, 11, flags);
    for (size_t i = 0; i < FILE_PAGES; i++)
        check_page(&r, 11, down ? FILE_PAGES - 1 - i : i, what);
    vmk_stats s = get_stats(r.sys);
    show(what, &s, FILE_PAGES);
    CHECK(s.pages_file_read == FILE_PAGES, "%s: %llu pages read, want %zu", what,
          ULL(s.pages_file_read), FILE_PAGES);
    CHECK(s.file_readahead >= FILE_PAGES * 9 / 10, "%s: only %llu pages read ahead", what,
          ULL(s.file_readahead));
    CHECK(s.file_readahead_hits * 10 >= s.file_readahead * 9, "%s: hits %llu of %llu", what,
          ULL(s.file_readahead_hits), ULL(s.file_readahead));
    /* Reads: one fault per window.  (Minor faults come on top when the
     * policy unmaps pages to sample references before the reader is there,
     * as under sanitizers.) */
    CHECK(s.faults_major * 32 <= FILE_PAGES && s.faults * 16 <= FILE_PAGES,
          "%s: %llu faults (%llu major) for %zu pages", what, ULL(s.faults), ULL(s.faults_major),
          FILE_PAGES);
    CHECK(s.file_readahead_waste * 100 <= s.file_readahead, "%s: waste %llu", what,
          ULL(s.file_readahead_waste));
    CHECK(s.resident_peak <= BUDGET / TPAGE, "%s: resident peak %llu", what, ULL(s.resident_peak));
    close_run(&r);
}

/* Every stride-th page from page 1 up, or from the last page down. */
static void strided(size_t stride, int down)
{
    char what[32];
    snprintf(what, sizeof what, "strided (every %zu%s)", stride, down ? ", down" : "");
    struct run r = open_run(FILE_PAGES, 12 + stride, VMK_MAP_SHARED);
    size_t touched = 0;
    for (size_t i = 1; i < FILE_PAGES; i += stride, touched++)
        check_page(&r, 12 + stride, down ? FILE_PAGES - i : i, what);
    vmk_stats s = get_stats(r.sys);
    show(what, &s, touched);
    CHECK(s.faults_major * 8 <= touched, "%s: %llu reads for %zu pages touched: stride not detected",
          what, ULL(s.faults_major), touched);
    CHECK(s.pages_file_read <= touched + 64, "%s: %llu pages read for %zu touched", what,
          ULL(s.pages_file_read), touched);
    CHECK(s.file_readahead_hits * 10 >= s.file_readahead * 9, "%s: hits %llu of %llu", what,
          ULL(s.file_readahead_hits), ULL(s.file_readahead));
    CHECK(s.file_readahead_waste * 50 <= s.file_readahead, "%s: waste %llu", what,
          ULL(s.file_readahead_waste));
    /* The pages in between were never read: still "never touched". */
    for (size_t i = 2; i < FILE_PAGES; i += stride)
        CHECK(get_info(r.as, r.base + (down ? FILE_PAGES - i : i) * TPAGE).state == VMK_PAGE_NONE,
              "%s: page %zu between the strides was read", what, down ? FILE_PAGES - i : i);
    close_run(&r);
}

/* Quicksort's partition: one cursor up from the start, one down from the
 * end, in turns, until they meet: two streams of one object, both read ahead. */
static void partition(void)
{
    struct run r = open_run(FILE_PAGES, 17, VMK_MAP_SHARED);
    for (size_t lo = 0, hi = FILE_PAGES - 1; lo < hi; lo++, hi--) {
        check_page(&r, 17, lo, "partition");
        check_page(&r, 17, hi, "partition");
    }
    vmk_stats s = get_stats(r.sys);
    show("partition (up + down)", &s, FILE_PAGES);
    CHECK(s.faults_major * 32 <= FILE_PAGES, "partition: %llu reads", ULL(s.faults_major));
    CHECK(s.file_readahead_hits * 10 >= s.file_readahead * 9, "partition: hits %llu of %llu",
          ULL(s.file_readahead_hits), ULL(s.file_readahead));
    close_run(&r);
}

static void random_access(void)
{
    struct run r = open_run(FILE_PAGES, 13, VMK_MAP_SHARED);
    uint64_t seed = 7;
    size_t touches = 4 * FILE_PAGES / 2;
    for (size_t i = 0; i < touches; i++) {
        size_t p = splitmix64(&seed) % FILE_PAGES;
        check_page(&r, 13, p, "random");
    }
    vmk_stats s = get_stats(r.sys);
    show("random", &s, touches);
    CHECK(s.pages_file_read * 10 <= s.faults * 11, "random: %llu pages read for %llu faults",
          ULL(s.pages_file_read), ULL(s.faults));
    CHECK(s.file_readahead_waste * 100 <= s.faults, "random: waste %llu for %llu faults",
          ULL(s.file_readahead_waste), ULL(s.faults));
    close_run(&r);
}

struct reader { struct run *r; uint64_t tag; size_t first, end, step; };

static void *read_part(void *a)
{
    struct reader *rd = a;
    for (size_t p = rd->first; p < rd->end; p += rd->step)
        check_page(rd->r, rd->tag, p, "threads");
    return NULL;
}

/* T threads; thread t reads pages first(t), first(t) + step, ... < end(t). */
static void threads(int T, int interleaved, const char *what)
{
    struct run r = open_run(FILE_PAGES, 14, VMK_MAP_SHARED);
    pthread_t th[8];
    struct reader rd[8];
    for (int t = 0; t < T; t++) {
        size_t part = FILE_PAGES / (size_t)T;
        rd[t] = interleaved ? (struct reader){ &r, 14, (size_t)t, FILE_PAGES, (size_t)T }
                            : (struct reader){ &r, 14, part * (size_t)t, part * (size_t)(t + 1), 1 };
        CHECK(pthread_create(&th[t], NULL, read_part, &rd[t]) == 0, "pthread_create");
    }
    for (int t = 0; t < T; t++)
        pthread_join(th[t], NULL);
    vmk_stats s = get_stats(r.sys);
    show(what, &s, FILE_PAGES);
    CHECK(s.faults_major * 16 <= FILE_PAGES, "%s: %llu reads", what, ULL(s.faults_major));
    CHECK(s.file_readahead_hits * 10 >= s.file_readahead * 8, "%s: hits %llu of %llu", what,
          ULL(s.file_readahead_hits), ULL(s.file_readahead));
    close_run(&r);
}

/* Two readers far apart, in lockstep, over a budget of 1 MiB with windows of
 * 64 pages: readahead still wins (few faults), bytes right; what the budget
 * could not keep is counted as waste, never as a hit. */
static void thrashing(void)
{
    int fd = make_file(FILE_PAGES, 15);
    vmk_system *sys = open_system(1 << 20, NULL);
    vmk_space *as = new_space(sys);
    const char *b = vmk_map_file(as, fd, 0, FILE_PAGES * TPAGE, VMK_PROT_READ, VMK_MAP_SHARED);
    CHECK(b, "vmk_map_file: %s", strerror(errno));
    struct run r = { sys, as, b, fd };
    size_t half = FILE_PAGES / 2;
    for (size_t p = 0; p < half; p++) {
        check_page(&r, 15, p, "thrashing");
        check_page(&r, 15, half + p, "thrashing");
    }
    vmk_stats s = get_stats(sys);
    show("two readers, 1 MiB", &s, FILE_PAGES);
    CHECK(s.file_readahead_hits + s.file_readahead_waste <= s.file_readahead,
          "thrashing: hits %llu + waste %llu > readahead %llu", ULL(s.file_readahead_hits),
          ULL(s.file_readahead_waste), ULL(s.file_readahead));
    CHECK(s.faults_major * 4 <= FILE_PAGES, "thrashing: %llu reads", ULL(s.faults_major));
    close_run(&r);
}

static void off(void)
{
    setenv("VMK_FILE_READAHEAD", "0", 1);
    struct run r = open_run(FILE_PAGES / 8, 16, VMK_MAP_SHARED);
    unsetenv("VMK_FILE_READAHEAD");
    for (size_t p = 0; p < FILE_PAGES / 8; p++)
        check_page(&r, 16, p, "off");
    vmk_stats s = get_stats(r.sys);
    show("VMK_FILE_READAHEAD=0", &s, FILE_PAGES / 8);
    CHECK(s.faults_major == FILE_PAGES / 8 && s.pages_file_read == FILE_PAGES / 8 &&
          s.file_readahead == 0, "readahead off: %llu reads of %llu pages, %llu read ahead",
          ULL(s.faults_major), ULL(s.pages_file_read), ULL(s.file_readahead));
    close_run(&r);
}

int main(void)
{
    sequential(VMK_MAP_SHARED, 0, "sequential, shared");
    sequential(VMK_MAP_PRIVATE, 0, "sequential, private");
    sequential(VMK_MAP_SHARED, 1, "sequential down");
    strided(4, 0);
    strided(7, 0);
    strided(4, 1);
    partition();
    random_access();
    threads(6, 0, "6 threads, own parts");
    threads(4, 1, "4 threads, one scan");
    thrashing();
    off();
    printf("ok\n");
    return 0;
}
