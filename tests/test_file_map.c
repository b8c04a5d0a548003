/*
 * test_file_map: file-backed mappings, checked byte for byte in the file.
 *  - shared: a mapping 16x the budget, written at random, then vmk_sync: the
 *    file holds exactly what was written (read back with pread); two shared
 *    mappings of the file see each other's writes at once;
 *  - private: writes are seen through the mapping, survive eviction (swap),
 *    and never reach the file, not even after unmap and close;
 *  - the edges: offset not page-aligned (EINVAL), read-only fd with
 *    PROT_WRITE + SHARED (EACCES), the last partial page reads zeros past
 *    the end, a page beyond the end is SIGBUS (in a child).
 */
#include <vmkit.h>
#include <fcntl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static uint64_t rnd(uint64_t *s) { *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17; return *s; }
static uint64_t orig(size_t word) { return word * 0x9E3779B97F4A7C15ull ^ 0x5555; }

static int make_file(char *path, size_t bytes)
{
    strcpy(path, "/tmp/vmk-test-file-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        FAIL("mkstemp");
    unlink(path);
    uint64_t buf[512];
    for (size_t off = 0; off < bytes; off += sizeof buf) {
        for (size_t i = 0; i < 512; i++)
            buf[i] = orig(off / 8 + i);
        size_t n = bytes - off < sizeof buf ? bytes - off : sizeof buf;
        if (pwrite(fd, buf, n, (off_t)off) != (ssize_t)n)
            FAIL("pwrite");
    }
    return fd;
}

static vmk_system *open_sys(vmk_space **as)
{
    vmk_config cfg = vmk_config_default();
    cfg.memory_limit = 4 << 20;
    vmk_system *sys;
    int r = vmk_system_open(&sys, &cfg);
    if (r)
        FAIL("open: %s", vmk_strerror(r));
    vmk_space_create(sys, as);
    return sys;
}

static void shared_random_writes(void)
{
    char path[64];
    size_t bytes = 64 << 20, words = bytes / 8;
    int fd = make_file(path, bytes);
    vmk_space *as;
    vmk_system *sys = open_sys(&as);
    uint64_t *m = vmk_map_file(as, fd, 0, bytes, VMK_PROT_READ | VMK_PROT_WRITE, VMK_MAP_SHARED);
    uint64_t *m2 = vmk_map_file(as, fd, 4096, 8192, VMK_PROT_READ, VMK_MAP_SHARED);
    if (!m || !m2)
        FAIL("map shared: %s", strerror(errno));
    uint64_t *want = malloc(bytes);
    for (size_t i = 0; i < words; i++)
        want[i] = orig(i);
    uint64_t s = 42;
    for (int k = 0; k < 50000; k++) {
        size_t w = rnd(&s) % words;
        uint64_t val = rnd(&s);
        if (m[w] != want[w])
            FAIL("word %zu reads %#llx, want %#llx", w, (unsigned long long)m[w],
                 (unsigned long long)want[w]);
        m[w] = want[w] = val;
    }
    m[512 + 7] = want[512 + 7] = 0xabcdef;            /* file page 1, seen through m2 */
    if (m2[7] != 0xabcdef)
        FAIL("the second shared mapping does not see the first's write");
    int r = vmk_sync(as, m, bytes);
    if (r)
        FAIL("vmk_sync: %s", vmk_strerror(r));
    uint64_t buf[512];
    for (size_t off = 0; off < bytes; off += sizeof buf) {
        if (pread(fd, buf, sizeof buf, (off_t)off) != sizeof buf)
            FAIL("pread");
        if (memcmp(buf, &want[off / 8], sizeof buf))
            FAIL("file differs from what was written in the page at %zu", off);
    }
    vmk_stats st;
    vmk_stats_get(sys, &st);
    if (st.pages_file_read == 0 || st.pages_file_written == 0 || st.resident_peak > st.frames_total)
        FAIL("counters: read %llu written %llu peak %llu", (unsigned long long)st.pages_file_read,
             (unsigned long long)st.pages_file_written, (unsigned long long)st.resident_peak);
    vmk_system_close(sys);
    free(want);
    close(fd);
}

static void private_never_reaches_file(void)
{
    char path[64];
    size_t bytes = 32 << 20, words = bytes / 8;
    int fd = make_file(path, bytes);
    vmk_space *as;
    vmk_system *sys = open_sys(&as);
    uint64_t *m = vmk_map_file(as, fd, 0, bytes, VMK_PROT_READ | VMK_PROT_WRITE, VMK_MAP_PRIVATE);
    if (!m)
        FAIL("map private: %s", strerror(errno));
    for (size_t i = 0; i < words; i += 512)
        m[i] = ~orig(i);
    for (size_t i = 0; i < words; i++)
        if (m[i] != (i % 512 ? orig(i) : ~orig(i)))
            FAIL("private word %zu wrong after eviction", i);
    vmk_sync(as, m, bytes);
    vmk_unmap(as, m, bytes);
    vmk_system_close(sys);
    uint64_t v;
    for (size_t i = 0; i < words; i += 512)
        if (pread(fd, &v, 8, (off_t)(i * 8)) != 8 || v != orig(i))
            FAIL("a private write reached the file at word %zu", i);
    close(fd);
}

static void edges(void)
{
    char path[64];
    int fd = make_file(path, 10000);        /* 2 pages and a bit */
    vmk_space *as;
    vmk_system *sys = open_sys(&as);
    errno = 0;
    if (vmk_map_file(as, fd, 100, 4096, VMK_PROT_READ, VMK_MAP_SHARED) || errno != EINVAL)
        FAIL("unaligned offset: errno %d", errno);
    char p2[64];
    snprintf(p2, sizeof p2, "/proc/self/fd/%d", fd);
    int rofd = open(p2, O_RDONLY);
    errno = 0;
    if (vmk_map_file(as, rofd, 0, 4096, VMK_PROT_READ | VMK_PROT_WRITE, VMK_MAP_SHARED) ||
        errno != EACCES)
        FAIL("read-only fd, shared writable: errno %d", errno);
    unsigned char *m = vmk_map_file(as, rofd, 0, 4 * 4096, VMK_PROT_READ, VMK_MAP_SHARED);
    if (!m)
        FAIL("map read-only: %s", strerror(errno));
    if (m[9999] != (unsigned char)(orig(9999 / 8) >> (8 * (9999 % 8))))
        FAIL("last byte of the file wrong");
    for (size_t i = 10000; i < 3 * 4096; i++)
        if (m[i])
            FAIL("byte %zu past the end is %d, want 0", i, m[i]);
    pid_t pid = fork();
    if (pid == 0) {
        vmk_space *cas;
        vmk_system *csys = open_sys(&cas);
        volatile unsigned char *cm = vmk_map_file(cas, rofd, 0, 4 * 4096, VMK_PROT_READ, VMK_MAP_SHARED);
        (void)csys;
        unsigned char c = cm[3 * 4096];      /* a page wholly past the end: SIGBUS */
        _exit(c + 10);
    }
    int status;
    waitpid(pid, &status, 0);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGBUS)
        FAIL("beyond the end of file: status %#x, want SIGBUS", status);
    vmk_system_close(sys);
    close(rofd);
    close(fd);
}

/* Two spaces share a file's page cache; the first to map it goes first. */
static void shared_outlives_first_space(void)
{
    char path[64];
    size_t bytes = 8 << 20;
    int fd = make_file(path, bytes);
    vmk_space *a;
    vmk_system *sys = open_sys(&a);
    vmk_space *b;
    vmk_space_create(sys, &b);
    uint64_t *ma = vmk_map_file(a, fd, 0, bytes, VMK_PROT_READ | VMK_PROT_WRITE, VMK_MAP_SHARED);
    uint64_t *mb = vmk_map_file(b, fd, 0, bytes, VMK_PROT_READ | VMK_PROT_WRITE, VMK_MAP_SHARED);
    if (!ma || !mb)
        FAIL("map");
    for (size_t w = 0; w < bytes / 8; w += 512)
        ma[w] = ~orig(w);
    vmk_space_destroy(a);
    for (size_t w = 0; w < bytes / 8; w += 512)
        if (mb[w] != ~orig(w))
            FAIL("space b does not see space a's write at word %zu", w);
    if (vmk_sync(b, mb, bytes))
        FAIL("sync");
    uint64_t v;
    if (pread(fd, &v, 8, 512 * 8 * 3) != 8 || v != ~orig(512 * 3))
        FAIL("file not written");
    vmk_system_close(sys);
    close(fd);
}

int main(void)
{
    shared_outlives_first_space();
    shared_random_writes();
    private_never_reaches_file();
    edges();
    printf("ok: shared, private and edge cases\n");
    return 0;
}
