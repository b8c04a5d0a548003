/*
 * test_inject_file: injected I/O faults on mapped files (docs/FAULTS.md).
 *  - a failed file read gives the faulting thread SIGBUS (caught here), for
 *    shared and private mappings; the page reads right afterwards;
 *  - EIO / ENOSPC on writeback: vmk_sync returns -EIO / -ENOSPC, the pages
 *    stay dirty and the file keeps its old bytes; a vmk_sync after the
 *    fault is cleared writes the new bytes (checked with pread);
 *  - write errors at eviction (shared mapping 4x the budget): pages stay
 *    dirty, are written later; file and mapping right;
 *  - short reads/writes and delays: data right in the mapping and the file;
 *    the run took at least hits x delay.
 */
#include <vmkit.h>
#include "check.h"
#include <fcntl.h>
#include <setjmp.h>

static uint64_t injected;

static vmk_system *open_cfg(size_t limit, int kswapd)
{
    vmk_config c = vmk_config_default();
    c.memory_limit = limit;
    c.kswapd = kswapd;
    vmk_system *s = NULL;
    int r = vmk_system_open(&s, &c);
    CHECK(r == 0, "vmk_system_open: %s", vmk_strerror(r));
    return s;
}

/* A file of np pages, page p = pattern(tag, p, *); unlinked, open O_RDWR. */
static int make_file(size_t np, uint64_t tag)
{
    char path[] = "/tmp/vmk_inject_file_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    unlink(path);
    static uint64_t buf[TWORDS];
    for (size_t p = 0; p < np; p++) {
        fill_page(buf, tag, p);
        CHECK(pwrite(fd, buf, TPAGE, (off_t)(p * TPAGE)) == (ssize_t)TPAGE, "pwrite");
    }
    return fd;
}

/* The file's own bytes (pread, not the mapping) are pattern(tag). */
static void file_is(int fd, size_t np, uint64_t tag, const char *what)
{
    static uint64_t buf[TWORDS];
    size_t bad = 0;
    for (size_t p = 0; p < np; p++) {
        CHECK(pread(fd, buf, TPAGE, (off_t)(p * TPAGE)) == (ssize_t)TPAGE, "pread");
        bad += verify_page(buf, tag, p, what);
    }
    CHECK(bad == 0, "%s: %zu words of the file wrong", what, bad);
}

static void map_is(const unsigned char *m, size_t np, uint64_t tag, const char *what)
{
    size_t bad = 0;
    for (size_t p = 0; p < np; p++)
        bad += verify_page(m + p * TPAGE, tag, p, what);
    CHECK(bad == 0, "%s: %zu words of the mapping wrong", what, bad);
}

static void map_fill(unsigned char *m, size_t np, uint64_t tag)
{
    for (size_t p = 0; p < np; p++)
        fill_page(m + p * TPAGE, tag, p);
}

static unsigned char *map(vmk_space *as, int fd, size_t np, int prot, int flags)
{
    unsigned char *m = vmk_map_file(as, fd, 0, np * TPAGE, prot, flags);
    CHECK(m, "vmk_map_file: %s", strerror(errno));
    return m;
}

/* 0 right, 1 wrong bytes, -1 SIGBUS while reading. */
static int read_guarded(const unsigned char *pg, uint64_t tag, uint64_t page)
{
    return verify_guarded(pg, tag, page, "file read after an error");
}

static void read_error_on(vmk_system *s, vmk_space *as, int fd, int flags, size_t page)
{
    size_t np = 64;
    unsigned char *m = map(as, fd, np, VMK_PROT_READ, flags);
    uint64_t before = inject_hits(s, VMK_INJECT_FILE_READ);
    inject_arm(s, VMK_INJECT_FILE_READ, 1, 1, 1, 0);
    CHECK(read_guarded(m + page * TPAGE, 10, page) == -1, "a failed file read gave no SIGBUS");
    CHECK(inject_hits(s, VMK_INJECT_FILE_READ) == before + 1, "the read error did not hit once");
    CHECK(get_info(as, m + page * TPAGE).state == VMK_PAGE_NONE, "the failed page became resident");
    for (size_t p = 0; p < np; p++)
        CHECK(read_guarded(m + p * TPAGE, 10, p) == 0, "page %zu wrong or SIGBUS after the error", p);
    CHECK(vmk_unmap(as, m, np * TPAGE) == 0, "unmap");
}

static int read_error_child(void *arg)
{
    (void)arg;
    sigbus_catch();                               /* before vmkit's: it chains */
    vmk_system *s = open_cfg(2 << 20, 1);
    vmk_space *as = new_space(s);
    int fd = make_file(64, 10);
    read_error_on(s, as, fd, VMK_MAP_SHARED, 0);
    read_error_on(s, as, fd, VMK_MAP_PRIVATE, 17);
    CHECK(get_stats(s).sigbus == 2, "want 2 SIGBUS, counted %llu", ULL(get_stats(s).sigbus));
    printf("EIO on file reads (shared, private): SIGBUS each time, then the bytes read right\n");
    fflush(stdout);
    vmk_system_close(s);
    close(fd);
    return 0;
}

static void sync_error(int kind, int want)
{
    size_t np = 32;
    vmk_system *s = open_cfg(2 << 20, 1);
    vmk_space *as = new_space(s);
    int fd = make_file(np, 20);
    unsigned char *m = map(as, fd, np, VMK_PROT_READ | VMK_PROT_WRITE, VMK_MAP_SHARED);
    map_fill(m, np, 21);
    inject_arm(s, kind, 1, -1, 1, 0);
    int r = vmk_sync(as, m, np * TPAGE);
    CHECK(r == want, "vmk_sync under kind %d: %d (%s), want %d", kind, r, vmk_strerror(r), want);
    for (size_t p = 0; p < np; p++)
        CHECK(get_info(as, m + p * TPAGE).dirty, "page %zu not dirty after a failed sync", p);
    file_is(fd, np, 20, "file after a failed sync");
    uint64_t h = inject_hits(s, kind);
    inject_arm(s, kind, 0, 0, 0, 0);                          /* the fault clears */
    r = vmk_sync(as, m, np * TPAGE);
    CHECK(r == 0, "vmk_sync after the fault cleared: %s", vmk_strerror(r));
    for (size_t p = 0; p < np; p++)
        CHECK(!get_info(as, m + p * TPAGE).dirty, "page %zu dirty after a good sync", p);
    file_is(fd, np, 21, "file after the retried sync");
    map_is(m, np, 21, "mapping after the retried sync");
    printf("%s on %llu writebacks: vmk_sync %d, pages dirty, file old; retried sync wrote it\n",
           want == -EIO ? "EIO" : "ENOSPC", ULL(h), want);
    injected += h;
    vmk_system_close(s);
    close(fd);
}

static void eviction_errors(void)
{
    size_t np = 1024;                                   /* 4 MiB over 1 MiB */
    vmk_system *s = open_cfg(1 << 20, 1);
    vmk_space *as = new_space(s);
    int fd = make_file(np, 30);
    unsigned char *m = map(as, fd, np, VMK_PROT_READ | VMK_PROT_WRITE, VMK_MAP_SHARED);
    inject_arm(s, VMK_INJECT_FILE_WRITE, 1, 10, 2, 0);
    inject_arm(s, VMK_INJECT_FILE_WRITE_NOSPC, 2, 5, 3, 0);
    map_is(m, np, 30, "mapping before the writes");
    map_fill(m, np, 31);
    map_is(m, np, 31, "mapping after write errors at eviction");
    uint64_t e = inject_hits(s, VMK_INJECT_FILE_WRITE), n = inject_hits(s, VMK_INJECT_FILE_WRITE_NOSPC);
    CHECK(e == 10 && n == 5, "eviction writeback errors hit %llu EIO, %llu ENOSPC; want 10, 5",
          ULL(e), ULL(n));
    int r = vmk_sync(as, m, np * TPAGE);
    CHECK(r == 0, "vmk_sync: %s", vmk_strerror(r));
    file_is(fd, np, 31, "file after write errors at eviction");
    vmk_stats st = get_stats(s);
    CHECK(st.io_errors >= 15 && st.sigbus == 0, "io_errors %llu, sigbus %llu", ULL(st.io_errors),
          ULL(st.sigbus));
    printf("%llu EIO + %llu ENOSPC on eviction writebacks: file and mapping right\n", ULL(e), ULL(n));
    injected += e + n;
    vmk_system_close(s);
    close(fd);
}

static void short_and_delay(void)
{
    const uint32_t us = 2000;
    size_t np = 512;                                    /* 2 MiB over 1 MiB */
    vmk_system *s = open_cfg(1 << 20, 0);               /* all I/O in this thread */
    vmk_space *as = new_space(s);
    int fd = make_file(np, 40);
    int kinds[] = { VMK_INJECT_FILE_READ_SHORT, VMK_INJECT_FILE_WRITE_SHORT,
                    VMK_INJECT_FILE_READ_DELAY, VMK_INJECT_FILE_WRITE_DELAY };
    uint32_t args[] = { 1000, 700, us, us };
    for (int k = 0; k < 4; k++)
        inject_arm(s, kinds[k], 1, -1, 1, args[k]);
    double t0 = now_s();
    unsigned char *m = map(as, fd, np, VMK_PROT_READ | VMK_PROT_WRITE, VMK_MAP_SHARED);
    map_is(m, np, 40, "shared mapping, short reads");
    map_fill(m, np, 41);
    CHECK(vmk_sync(as, m, np * TPAGE) == 0, "vmk_sync with short writes");
    file_is(fd, np, 41, "file after short writes");
    unsigned char *pm = map(as, fd, np, VMK_PROT_READ, VMK_MAP_PRIVATE);
    map_is(pm, np, 41, "private mapping, short reads");
    double dt = now_s() - t0;
    uint64_t h[4];
    for (int k = 0; k < 4; k++) {
        h[k] = inject_hits(s, kinds[k]);
        CHECK(h[k] > 0, "kind %d never hit", kinds[k]);
    }
    CHECK(dt >= (double)(h[2] + h[3]) * us * 1e-6, "%llu delayed requests of %u us took %.3f s",
          ULL(h[2] + h[3]), us, dt);
    printf("file I/O: %llu short reads, %llu short writes, %llu+%llu delayed (%.3f s): data right\n",
           ULL(h[0]), ULL(h[1]), ULL(h[2]), ULL(h[3]), dt);
    injected += h[0] + h[1] + h[2] + h[3];
    vmk_system_close(s);
    close(fd);
}

int main(void)
{
    int st = child_run(read_error_child, NULL);   /* first: see test_inject_swap */
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "read error child: %s", status_str(st));
    injected += 2;
    sync_error(VMK_INJECT_FILE_WRITE, -EIO);
    sync_error(VMK_INJECT_FILE_WRITE_NOSPC, -ENOSPC);
    eviction_errors();
    short_and_delay();
    printf("ok: %llu file I/O faults injected, no byte wrong\n", ULL(injected));
    return 0;
}
