/*
 * test_fork_file: fork shares file pages as the kernel's fork(2) does.
 * Two files of 8 MiB (4x the budget), one mapped shared and one private in
 * the parent; both are written in part; then the space forks.
 *   - shared mapping: one page cache - the child sees the parent's writes
 *     and the parent the child's, at once, both ways; after vmk_sync the
 *     file holds both sides' writes;
 *   - private mapping: the child sees the parent's private writes made
 *     before the fork and the file's bytes elsewhere; after the fork each
 *     side's private writes are its own (copy-on-write), survive eviction,
 *     and never reach the file;
 *   - everything read back word by word, through eviction (budget 2 MiB);
 *   - readahead after fork: a third file, mapped private and forked before
 *     anybody read it; the child writes every 37th page, then reads the
 *     file in order: its pages, the file's bytes elsewhere, in runs (at
 *     most a major fault per 8 pages, not one per page); then the parent.
 */
#include <vmkit.h>
#include <fcntl.h>
#include <unistd.h>

#include "check.h"

enum { NPAGES = 2048 };                          /* 8 MiB */

static uint64_t orig(size_t pg, size_t w) { return pattern(0, pg, w); }

static void fill_words(uint64_t *p, uint64_t tag, size_t pg)
{
    p[0] = pattern(tag, pg, 0), p[TWORDS - 1] = pattern(tag, pg, TWORDS - 1);
}

static int page_is(const uint64_t *p, uint64_t tag, size_t pg)
{
    const volatile uint64_t *v = p;
    if (tag == 0)
        return v[0] == orig(pg, 0) && v[1] == orig(pg, 1) && v[TWORDS - 1] == orig(pg, TWORDS - 1);
    return v[0] == pattern(tag, pg, 0) && v[1] == orig(pg, 1) &&
           v[TWORDS - 1] == pattern(tag, pg, TWORDS - 1);
}

/* What each page should hold: 0 = the file's original bytes, else the tag. */
static uint8_t shared_want[NPAGES], priv_p[NPAGES], priv_c[NPAGES];

static void check(const char *what, char *base, const uint8_t *want)
{
    size_t bad = 0, first = NPAGES;
    for (size_t pg = 0; pg < NPAGES; pg++)
        if (!page_is((const uint64_t *)(base + pg * TPAGE), want[pg], pg) && bad++ == 0)
            first = pg;
    CHECK(bad == 0, "%s: %zu pages wrong, the first %zu (want tag %u)", what, bad, first,
          first < NPAGES ? want[first] : 0);
}

/* An unlinked temporary file of NPAGES pages of orig(). */
static int make_file(void)
{
    char path[] = "/tmp/vmk-fork-file-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    unlink(path);
    uint64_t buf[TWORDS];
    for (size_t pg = 0; pg < NPAGES; pg++) {
        for (size_t w = 0; w < TWORDS; w++)
            buf[w] = orig(pg, w);
        CHECK(pwrite(fd, buf, TPAGE, (off_t)(pg * TPAGE)) == (ssize_t)TPAGE, "pwrite");
    }
    return fd;
}

static void readahead_after_fork(void)
{
    int fd = make_file();
    vmk_system *sys = open_system((size_t)2 << 20, NULL);
    vmk_space *p = new_space(sys), *c;
    char *pr = vmk_map_file(p, fd, 0, NPAGES * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE,
                            VMK_MAP_PRIVATE);
    CHECK(pr, "vmk_map_file: %s", strerror(errno));
    CHECK(vmk_space_fork(p, &c) == 0, "fork");
    char *cpr = vmk_space_translate(c, p, pr);
    static uint8_t want_c[NPAGES], want_p[NPAGES];
    for (size_t pg = 0; pg < NPAGES; pg += 37) {
        fill_words((uint64_t *)(cpr + pg * TPAGE), 7, pg);
        want_c[pg] = 7;
    }
    uint64_t before = get_stats(sys).faults_major;
    check("child reading in order after fork", cpr, want_c);
    uint64_t majors = get_stats(sys).faults_major - before;
    CHECK(majors * 8 <= NPAGES, "child's pass: %llu major faults for %d pages: no readahead",
          ULL(majors), NPAGES);
    before = get_stats(sys).faults_major;
    check("parent reading in order after the child", pr, want_p);
    uint64_t pmajors = get_stats(sys).faults_major - before;
    check("child again", cpr, want_c);
    printf("readahead after fork: child read %d pages in %llu major faults, parent in %llu\n",
           NPAGES, ULL(majors), ULL(pmajors));
    vmk_system_close(sys);
    close(fd);
}

int main(void)
{
    readahead_after_fork();
    /* Two files: whether a private mapping sees later writes through a
     * shared one is unspecified (POSIX), so they do not overlap here. */
    int fd = make_file(), pfd = make_file();
    uint64_t buf[TWORDS];
    vmk_system *sys = open_system((size_t)2 << 20, NULL);
    vmk_space *p = new_space(sys), *c;
    int rw = VMK_PROT_READ | VMK_PROT_WRITE;
    char *sh = vmk_map_file(p, fd, 0, NPAGES * TPAGE, rw, VMK_MAP_SHARED);
    char *pr = vmk_map_file(p, pfd, 0, NPAGES * TPAGE, rw, VMK_MAP_PRIVATE);
    CHECK(sh && pr, "vmk_map_file: %s", strerror(errno));
    for (size_t pg = 0; pg < NPAGES; pg += 3) {
        fill_words((uint64_t *)(sh + pg * TPAGE), 1, pg);
        shared_want[pg] = 1;
    }
    for (size_t pg = 0; pg < NPAGES; pg += 5) {
        fill_words((uint64_t *)(pr + pg * TPAGE), 2, pg);
        priv_p[pg] = priv_c[pg] = 2;
    }
    CHECK(vmk_space_fork(p, &c) == 0, "fork");
    char *csh = vmk_space_translate(c, p, sh), *cpr = vmk_space_translate(c, p, pr);
    CHECK(csh && cpr, "translate");
    check("child shared after fork", csh, shared_want);
    check("child private after fork", cpr, priv_c);

    /* Shared: each side's writes seen by the other at once. */
    for (size_t pg = 1; pg < NPAGES; pg += 4) {
        fill_words((uint64_t *)(csh + pg * TPAGE), 3, pg);
        shared_want[pg] = 3;
        CHECK(page_is((const uint64_t *)(sh + pg * TPAGE), 3, pg), "parent does not see the "
              "child's shared write to page %zu at once", pg);
    }
    for (size_t pg = 2; pg < NPAGES; pg += 7) {
        fill_words((uint64_t *)(sh + pg * TPAGE), 4, pg);
        shared_want[pg] = 4;
        CHECK(page_is((const uint64_t *)(csh + pg * TPAGE), 4, pg), "child does not see the "
              "parent's shared write to page %zu at once", pg);
    }
    /* Private: copy-on-write both ways. */
    for (size_t pg = 0; pg < NPAGES; pg += 2) {
        fill_words((uint64_t *)(cpr + pg * TPAGE), 5, pg);
        priv_c[pg] = 5;
    }
    for (size_t pg = 1; pg < NPAGES; pg += 6) {
        fill_words((uint64_t *)(pr + pg * TPAGE), 6, pg);
        priv_p[pg] = 6;
    }
    check("parent shared", sh, shared_want);
    check("child shared", csh, shared_want);
    check("parent private", pr, priv_p);
    check("child private", cpr, priv_c);

    CHECK(vmk_sync(p, sh, NPAGES * TPAGE) == 0, "vmk_sync");
    for (size_t pg = 0; pg < NPAGES; pg++) {
        CHECK(pread(fd, buf, TPAGE, (off_t)(pg * TPAGE)) == (ssize_t)TPAGE, "pread");
        CHECK(page_is(buf, shared_want[pg], pg), "file page %zu after sync: want tag %u", pg,
              shared_want[pg]);
    }
    vmk_space_destroy(c);
    check("parent private after the child went", pr, priv_p);
    vmk_space_destroy(p);
    for (size_t pg = 0; pg < NPAGES; pg++) {    /* private writes never reached it */
        CHECK(pread(pfd, buf, TPAGE, (off_t)(pg * TPAGE)) == (ssize_t)TPAGE, "pread");
        CHECK(page_is(buf, 0, pg), "private file page %zu changed", pg);
    }
    vmk_stats st = get_stats(sys);
    CHECK(st.sigbus == 0 && st.io_errors == 0, "sigbus %llu io %llu", ULL(st.sigbus),
          ULL(st.io_errors));
    CHECK(st.pages_evicted > 0, "no eviction: the test proves less than it says");
    printf("ok: shared file pages shared across fork both ways, private ones copy-on-write; "
           "%llu COW breaks, %llu evicted, %llu file pages read\n", ULL(st.cow_breaks),
           ULL(st.pages_evicted), ULL(st.pages_file_read));
    vmk_system_close(sys);
    close(fd), close(pfd);
    return 0;
}
