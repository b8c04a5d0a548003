/*
 * test_file_direct: file pages read ahead by the readers of fileasync.c,
 * straight into frames (O_DIRECT where the file system takes it, through
 * the page cache where it does not), give the bytes the file has.
 *
 *  1. A file of 40 MiB and 1234 bytes under a 16 MiB budget, mapped shared
 *     and private, read in order twice (the second pass after the first was
 *     evicted): every word right, zeros after the end in the last page,
 *     SIGBUS on the page past it; the readers read most pages (counted in
 *     file_readahead, at least 90% of them hits); VmRSS stays within the
 *     budget plus a small slack throughout; the file's pages did not go
 *     through the kernel's page cache (mincore), but for one page in 256.
 *  2. The same file with VMK_FILE_ASYNC=0 (readahead through the page
 *     cache, as before): the same bytes, and the pages went through the
 *     page cache.
 *  3. The same on /dev/shm (tmpfs): the same bytes.
 *  4. Injected EIO on three file reads in the middle of a pass (readers'
 *     requests or a fault's own read): no wrong byte; a page whose own
 *     read failed gives SIGBUS and reads right afterwards.
 *  5. Injected short reads (each call at most one page): bytes right.
 *  6. Unmapping while reads are in flight, 30 times: no crash, nothing left
 *     resident, the next mapping reads right.
 * The files are mapped through read-only descriptors: vmkit's readers read
 * only files that vmkit never writes back.
 *  7. A private mapping of a file truncated after it was mapped (the size
 *     vmkit keeps is stale): the last partial page right, SIGBUS past it.
 */
#include <vmkit.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "check.h"

#define BUDGET ((size_t)16 << 20)
#define FILE_BYTES (((size_t)40 << 20) + 1234)
#define FILE_PAGES ((FILE_BYTES + TPAGE - 1) / TPAGE)
#define TAG 77

/* Word w of page p of the file; the bytes past FILE_BYTES are zero. */
static uint64_t word_at(size_t p, size_t w)
{
    size_t off = p * TPAGE + w * 8;
    if (off >= FILE_BYTES)
        return 0;
    uint64_t v = pattern(TAG, p, w);
    if (off + 8 > FILE_BYTES)                 /* the last word, cut by the end */
        v &= (1ull << (8 * (FILE_BYTES - off))) - 1;
    return v;
}

static int make_file(const char *dir)
{
    char path[256];
    snprintf(path, sizeof path, "%s/vmk-direct-XXXXXX", dir);
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp in %s: %s", dir, strerror(errno));
    unlink(path);
    static uint64_t buf[TWORDS * 256];
    for (size_t p = 0; p < FILE_PAGES; p += 256) {
        size_t n = FILE_PAGES - p < 256 ? FILE_PAGES - p : 256;
        for (size_t q = 0; q < n; q++)
            for (size_t w = 0; w < TWORDS; w++)
                buf[q * TWORDS + w] = word_at(p + q, w);
        size_t len = n * TPAGE;
        if ((p + n) * TPAGE > FILE_BYTES)
            len = FILE_BYTES - p * TPAGE;
        CHECK(pwrite(fd, buf, len, (off_t)(p * TPAGE)) == (ssize_t)len, "write: %s", strerror(errno));
    }
    CHECK(fsync(fd) == 0, "fsync");
    return fd;
}

/* A read-only descriptor of fd's file: vmkit's readers read only files it
 * never writes back (a shared mapping of a file opened O_RDWR is read
 * through the page cache). */
static int ro_fd(int fd)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int r = open(path, O_RDONLY);
    CHECK(r >= 0, "reopen read-only: %s", strerror(errno));
    return r;
}

/* Drop the file's pages from the kernel's page cache. */
static void uncache(int fd)
{
    fdatasync(fd);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

/* Pages of the file in the kernel's page cache. */
static size_t cached_pages(int fd)
{
    void *m = mmap(NULL, FILE_PAGES * TPAGE, PROT_READ, MAP_SHARED, fd, 0);
    CHECK(m != MAP_FAILED, "mmap for mincore");
    static unsigned char vec[FILE_PAGES];
    CHECK(mincore(m, FILE_PAGES * TPAGE, vec) == 0, "mincore");
    size_t n = 0;
    for (size_t i = 0; i < FILE_PAGES; i++)
        n += vec[i] & 1;
    munmap(m, FILE_PAGES * TPAGE);
    return n;
}

/* Wrong words of page p in the mapping; -1 if reading it gave SIGBUS. */
static long check_page(const unsigned char *m, size_t p)
{
    if (sigsetjmp(check_jb, 1)) {
        check_jump_ok = 0;
        return -1;
    }
    check_jump_ok = 1;
    const volatile uint64_t *w = (const volatile uint64_t *)(m + p * TPAGE);
    long bad = 0;
    for (size_t i = 0; i < TWORDS; i++)
        if (w[i] != word_at(p, i) && bad++ == 0)
            fprintf(stderr, "page %zu word %zu: %#llx, want %#llx\n", p, i, ULL(w[i]),
                    ULL(word_at(p, i)));
    check_jump_ok = 0;
    return bad;
}

/* 0, or -1 if reading p gave SIGBUS. */
static int touch(const unsigned char *p)
{
    if (sigsetjmp(check_jb, 1)) {
        check_jump_ok = 0;
        return -1;
    }
    check_jump_ok = 1;
    (void)*(const volatile unsigned char *)p;
    check_jump_ok = 0;
    return 0;
}

/* Read every page in order: wrong words (SIGBUS counts in *sigbus), and
 * the largest VmRSS seen, in kB. */
static size_t read_all(const unsigned char *m, size_t *sigbus, long *rss_max)
{
    size_t bad = 0;
    for (size_t p = 0; p < FILE_PAGES; p++) {
        long b = check_page(m, p);
        if (b < 0)
            ++*sigbus;
        else
            bad += (size_t)b;
        if (rss_max && (p & 255) == 0) {
            long r = vmrss_kb();
            *rss_max = r > *rss_max ? r : *rss_max;
        }
    }
    return bad;
}

static vmk_system *open_async(int on)
{
    setenv("VMK_FILE_ASYNC", on ? "1" : "0", 1);
    return open_system(BUDGET, NULL);
}

/* 1-3: two passes over the file, shared then private; returns the pages
 * cached by the kernel after the shared passes. */
static size_t passes(int fd, int async, const char *what)
{
    vmk_system *s = open_async(async);
    vmk_space *as = new_space(s);
    long rss0 = vmrss_kb(), rss_max = 0;
    size_t cached = 0;
    for (int k = 0; k < 2; k++) {
        int flags = k == 0 ? VMK_MAP_SHARED : VMK_MAP_PRIVATE;
        uncache(fd);
        /* one page more than the file: the page past its end */
        const unsigned char *m = vmk_map_file(as, fd, 0, (FILE_PAGES + 1) * TPAGE, VMK_PROT_READ, flags);
        CHECK(m, "%s: vmk_map_file: %s", what, strerror(errno));
        for (int pass = 0; pass < 2; pass++) {
            size_t sigbus = 0, bad = read_all(m, &sigbus, &rss_max);
            CHECK(bad == 0 && sigbus == 0, "%s %s pass %d: %zu words wrong, %zu SIGBUS", what,
                  k ? "private" : "shared", pass, bad, sigbus);
        }
        CHECK(touch(m + FILE_PAGES * TPAGE) == -1, "%s: no SIGBUS past the end", what);
        if (k == 0)
            cached = cached_pages(fd);
        CHECK(vmk_unmap(as, (void *)m, (FILE_PAGES + 1) * TPAGE) == 0, "unmap");
    }
    vmk_stats st = get_stats(s);
    printf("%s: 2 x 2 passes right; file pages read %llu, readahead %llu (hits %llu, waste %llu), "
           "major faults %llu, VmRSS at most %ld kB over the start, page cache %zu of %zu pages\n",
           what, ULL(st.pages_file_read), ULL(st.file_readahead), ULL(st.file_readahead_hits),
           ULL(st.file_readahead_waste), ULL(st.faults_major), rss_max - rss0, cached,
           (size_t)FILE_PAGES);
    /* the budget, 4 MiB of bounce buffers, a window per reader in flight
     * (ThreadSanitizer's shadow of the windows counts too: not there) */
#ifndef VMK_TEST_TSAN
    CHECK(rss_max - rss0 <= (long)(BUDGET >> 10) + 10 * 1024, "%s: VmRSS %ld kB over the start",
          what, rss_max - rss0);
#endif
    if (async) {
        CHECK(st.file_readahead >= st.pages_file_read / 2, "%s: the readers read little", what);
        CHECK(st.file_readahead_hits >= st.file_readahead * 9 / 10, "%s: hits %llu of %llu", what,
              ULL(st.file_readahead_hits), ULL(st.file_readahead));
        CHECK(st.faults_major <= st.pages_file_read / 64, "%s: %llu major faults", what,
              ULL(st.faults_major));
    }
    vmk_system_close(s);
    return cached;
}

/* 4, 5: injected faults on the readers' path. */
static void injected(int fd)
{
    vmk_system *s = open_async(1);
    vmk_space *as = new_space(s);
    uncache(fd);
    const unsigned char *m = vmk_map_file(as, fd, 0, FILE_PAGES * TPAGE, VMK_PROT_READ, VMK_MAP_SHARED);
    CHECK(m, "vmk_map_file");
    inject_arm(s, VMK_INJECT_FILE_READ, 20, 3, 1, 0);          /* requests 20, 21, 22 fail */
    size_t sigbus = 0, bad = read_all(m, &sigbus, NULL);
    CHECK(bad == 0, "EIO: %zu words wrong", bad);
    CHECK(inject_hits(s, VMK_INJECT_FILE_READ) == 3, "EIO hit %llu requests",
          ULL(inject_hits(s, VMK_INJECT_FILE_READ)));
    size_t again = 0;
    CHECK(read_all(m, &again, NULL) == 0 && again == 0, "after the errors: wrong bytes or SIGBUS");
    vmk_stats st = get_stats(s);
    CHECK(st.io_errors >= 1, "no I/O error counted");
    printf("EIO on 3 file reads: %zu SIGBUS, %llu I/O errors, no wrong byte, all right after\n",
           sigbus, ULL(st.io_errors));
    CHECK(vmk_unmap(as, (void *)m, FILE_PAGES * TPAGE) == 0, "unmap");

    uncache(fd);
    m = vmk_map_file(as, fd, 0, FILE_PAGES * TPAGE, VMK_PROT_READ, VMK_MAP_PRIVATE);
    CHECK(m, "vmk_map_file");
    uint64_t h0 = inject_hits(s, VMK_INJECT_FILE_READ_SHORT);
    inject_arm(s, VMK_INJECT_FILE_READ_SHORT, 1, -1, 1, 5000);  /* a page per call */
    sigbus = 0;
    bad = read_all(m, &sigbus, NULL);
    CHECK(bad == 0 && sigbus == 0, "short reads: %zu words wrong, %zu SIGBUS", bad, sigbus);
    uint64_t h = inject_hits(s, VMK_INJECT_FILE_READ_SHORT) - h0;
    CHECK(h > 10, "short reads hit %llu requests", ULL(h));
    inject_arm(s, VMK_INJECT_FILE_READ_SHORT, 0, 0, 0, 0);
    printf("short reads on %llu file reads: data right\n", ULL(h));
    CHECK(vmk_unmap(as, (void *)m, FILE_PAGES * TPAGE) == 0, "unmap");
    vmk_system_close(s);
}

/* 6: unmap with reads in flight. */
static void unmap_in_flight(int fd)
{
    vmk_system *s = open_async(1);
    vmk_space *as = new_space(s);
    for (int i = 0; i < 30; i++) {
        const unsigned char *m = vmk_map_file(as, fd, 0, FILE_PAGES * TPAGE, VMK_PROT_READ,
                                              i & 1 ? VMK_MAP_PRIVATE : VMK_MAP_SHARED);
        CHECK(m, "vmk_map_file");
        size_t upto = 64 + (size_t)i * 37;            /* enough for the readers to start */
        for (size_t p = 0; p < upto; p++)
            CHECK(check_page(m, p) == 0, "round %d page %zu wrong", i, p);
        CHECK(vmk_unmap(as, (void *)m, FILE_PAGES * TPAGE) == 0, "unmap in round %d", i);
        CHECK(get_stats(s).resident == 0, "round %d: %llu pages resident after unmap", i,
              ULL(get_stats(s).resident));
    }
    const unsigned char *m = vmk_map_file(as, fd, 0, FILE_PAGES * TPAGE, VMK_PROT_READ, VMK_MAP_SHARED);
    size_t sigbus = 0;
    CHECK(m && read_all(m, &sigbus, NULL) == 0 && sigbus == 0, "reading after the unmaps");
    vmk_system_close(s);
    printf("30 unmaps with reads in flight: nothing left resident, the file reads right after\n");
}

/* 7: a private mapping of a file that shrinks after it was mapped. */
static void truncated(const char *dir)
{
    int fd = make_file(dir);
    vmk_system *s = open_async(1);
    vmk_space *as = new_space(s);
    const unsigned char *m = vmk_map_file(as, fd, 0, FILE_PAGES * TPAGE, VMK_PROT_READ, VMK_MAP_PRIVATE);
    CHECK(m, "vmk_map_file");
    size_t keep = 1000, tail = 100;                    /* pages, and bytes of the next one */
    CHECK(ftruncate(fd, (off_t)(keep * TPAGE + tail)) == 0, "ftruncate");
    for (size_t p = 0; p < keep; p++)
        CHECK(check_page(m, p) == 0, "page %zu wrong after the truncation", p);
    const unsigned char *last = m + keep * TPAGE;
    CHECK(touch(last) == 0, "SIGBUS in the last, partial page");
    for (size_t i = 0; i < TPAGE; i++) {
        uint64_t w = pattern(TAG, keep, i / 8);
        unsigned char want = i < tail ? (unsigned char)(w >> (8 * (i % 8))) : 0;
        CHECK(last[i] == want, "byte %zu of the last page is %d, not %d", i, last[i], want);
    }
    CHECK(touch(last + TPAGE) == -1, "no SIGBUS past the new end");
    CHECK(touch(last + 300 * TPAGE) == -1, "no SIGBUS far past the new end");
    vmk_system_close(s);
    close(fd);
    printf("a private mapping of a file truncated after mapping: last page right, SIGBUS past it\n");
}

int main(void)
{
    sigbus_catch();
    int wfd = make_file("/var/tmp"), fd = ro_fd(wfd);
    close(wfd);
    size_t direct = passes(fd, 1, "readers (O_DIRECT on /var/tmp)");
    size_t buffered = passes(fd, 0, "page cache (VMK_FILE_ASYNC=0)");
    CHECK(direct <= FILE_PAGES / 64, "the readers' pages went through the page cache (%zu)", direct);
    CHECK(buffered >= FILE_PAGES / 2, "VMK_FILE_ASYNC=0 did not use the page cache (%zu)", buffered);
    int wshm = make_file("/dev/shm"), shm = ro_fd(wshm);
    close(wshm);
    passes(shm, 1, "readers on tmpfs (/dev/shm)");
    close(shm);
    injected(fd);
    unmap_in_flight(fd);
    close(fd);
    truncated("/var/tmp");
    printf("ok\n");
    return 0;
}
