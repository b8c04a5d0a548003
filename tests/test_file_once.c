/*
 * test_file_once: a file mapped once, read-only (src/fileonce.c): its pages
 * are recycled anonymous pages moved in and out, and everything a mapping
 * promises still holds.  A 40 MiB file through a 12 MiB budget:
 *   - read in order twice, then at random from four threads: every word of
 *     every page right; pages moved into place counted (when the kernel has
 *     UFFDIO_MOVE); resident pages within the frames, VmRSS within the
 *     budget plus vmkit's own buffers;
 *   - a write to the read-only mapping, to a page in place and to one not
 *     read yet: SIGSEGV (SEGV_ACCERR, the address), and the page unchanged;
 *   - the mode ends, and the data stays right, when the object gets a
 *     second mapping (another space), when its space forks, when a part of
 *     the mapping is unmapped (a split), and when vmk_protect makes a
 *     private one writable (written there, the file unchanged);
 *   - the file truncated under the mapping: SIGBUS past the new end, zeros
 *     after it in the last page.
 * With VMK_FILE_ONCE=0 the same passes run with no page moved.
 */
#include <vmkit.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"

enum { NPAGES = 10240, LIMIT_MB = 12, THREADS = 4 };

static uint64_t word(size_t pg, size_t i) { return ((uint64_t)pg << 32 | i) * 0x9E3779B97F4A7C15ull + 1; }

static int make_file(char *path)
{
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp %s", path);
    static uint64_t buf[256 * TWORDS];
    for (size_t pg = 0; pg < NPAGES; pg += 256) {
        for (size_t k = 0; k < 256; k++)
            for (size_t i = 0; i < TWORDS; i++)
                buf[k * TWORDS + i] = word(pg + k, i);
        CHECK(pwrite(fd, buf, sizeof buf, (off_t)(pg * TPAGE)) == (ssize_t)sizeof buf, "pwrite");
    }
    CHECK(fsync(fd) == 0, "fsync");
    return fd;
}

static int ro(const char *path)
{
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0, "open %s", path);
    return fd;
}

/* Bad words in page pg of m (0: all right). */
static size_t check_page(const volatile uint64_t *m, size_t pg)
{
    size_t bad = 0;
    for (size_t i = 0; i < TWORDS; i += 7)
        bad += m[pg * TWORDS + i] != word(pg, i);
    bad += m[pg * TWORDS + TWORDS - 1] != word(pg, TWORDS - 1);
    return bad;
}

static size_t check_range(const uint64_t *m, size_t lo, size_t hi)
{
    size_t bad = 0;
    for (size_t pg = lo; pg < hi; pg++)
        bad += check_page(m, pg) != 0;
    return bad;
}

/* Does the kernel have UFFDIO_MOVE (Linux 6.8)? */
static bool kernel_moves(void)
{
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | 1 /* UFFD_USER_MODE_ONLY */);
    if (fd < 0)
        fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
    if (fd < 0)
        return false;
    struct uffdio_api api = { .api = UFFD_API, .features = 1ull << 16 /* UFFD_FEATURE_MOVE */ };
    bool ok = ioctl(fd, UFFDIO_API, &api) == 0;
    close(fd);
    return ok;
}

struct reader { const uint64_t *m; uint64_t seed; size_t bad, n; };

static void *random_reader(void *arg)
{
    struct reader *r = arg;
    for (size_t k = 0; k < r->n; k++) {
        size_t pg = splitmix64(&r->seed) % NPAGES;
        r->bad += check_page(r->m, pg) != 0;
    }
    return NULL;
}

static sigjmp_buf jb;
static volatile sig_atomic_t got_sig;
static void *volatile sig_addr;
static volatile int sig_code;

static void on_signal(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    got_sig = sig;
    sig_addr = si->si_addr;
    sig_code = si->si_code;
    siglongjmp(jb, 1);
}

static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
}

/* Write to p: the signal it raised (0: none). */
static int write_sig(volatile uint64_t *p)
{
    got_sig = 0;
    if (sigsetjmp(jb, 1) == 0)
        *p = 42;
    return got_sig;
}

static int read_sig(volatile const uint64_t *p)
{
    got_sig = 0;
    if (sigsetjmp(jb, 1) == 0)
        (void)*p;
    return got_sig;
}

static void passes(const char *path, bool once)
{
    setenv("VMK_FILE_ONCE", once ? "1" : "0", 1);
    int fd = ro(path);
    long rss0 = vmrss_kb();
    vmk_system *s = open_system((size_t)LIMIT_MB << 20, NULL);
    vmk_space *as = new_space(s);
    const uint64_t *m = vmk_map_file(as, fd, 0, (size_t)NPAGES * TPAGE, VMK_PROT_READ, VMK_MAP_SHARED);
    CHECK(m, "vmk_map_file: %s", strerror(errno));
    long rss_max = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t lo = 0; lo < NPAGES; lo += 512) {
            size_t bad = check_range(m, lo, lo + 512);
            CHECK(bad == 0, "%s: pass %d: %zu bad pages in [%zu, %zu)", once ? "once" : "store", pass,
                  bad, lo, lo + 512);
            long r = vmrss_kb() - rss0;
            rss_max = r > rss_max ? r : rss_max;
        }
    pthread_t t[THREADS];
    struct reader rd[THREADS];
    for (int i = 0; i < THREADS; i++) {
        rd[i] = (struct reader){ .m = m, .seed = 77 + (uint64_t)i, .n = 4000 };
        CHECK(pthread_create(&t[i], NULL, random_reader, &rd[i]) == 0, "pthread_create");
    }
    size_t bad = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        bad += rd[i].bad;
    }
    CHECK(bad == 0, "%s: %zu bad pages read at random by %d threads", once ? "once" : "store", bad,
          THREADS);
    vmk_stats st = get_stats(s);
    CHECK(st.resident_peak <= st.frames_total, "resident peak %llu of %llu frames",
          ULL(st.resident_peak), ULL(st.frames_total));
    if (once && kernel_moves())
        CHECK(st.file_pages_moved > NPAGES, "only %llu pages moved into place", ULL(st.file_pages_moved));
    if (!once)
        CHECK(st.file_pages_moved == 0, "VMK_FILE_ONCE=0 moved %llu pages", ULL(st.file_pages_moved));
#ifndef VMK_TEST_TSAN                  /* TSan's shadow memory counts in VmRSS */
    /* the budget, the readers' staging pages (4 MiB) and bounce buffers (4 MiB) */
    CHECK(rss_max <= (LIMIT_MB + 10) * 1024, "%s: VmRSS grew by %ld kB", once ? "once" : "store",
          rss_max);
#endif
    printf("%s: 2 passes in order and %d x 4000 random pages right; %llu file pages read, %llu moved "
           "into place, resident peak %llu of %llu frames, VmRSS at most %ld kB over the start\n",
           once ? "mapped once" : "frame-store (VMK_FILE_ONCE=0)", THREADS, ULL(st.pages_file_read),
           ULL(st.file_pages_moved), ULL(st.resident_peak), ULL(st.frames_total), rss_max);

    /* Writes to the read-only mapping. */
    size_t far_pg = 0;
    while (far_pg < NPAGES && get_info(as, m + far_pg * TWORDS).state == VMK_PAGE_RESIDENT)
        far_pg++;
    CHECK(far_pg < NPAGES, "every page resident");
    volatile uint64_t *in_place = (volatile uint64_t *)m + (NPAGES - 1) * TWORDS + 3;
    volatile uint64_t *far = (volatile uint64_t *)m + far_pg * TWORDS + 5;
    CHECK(check_page(m, NPAGES - 1) == 0, "last page");
    CHECK(get_info(as, (const void *)in_place).state == VMK_PAGE_RESIDENT, "last page not resident");
    CHECK(write_sig(in_place) == SIGSEGV, "a write to a resident read-only page gave signal %d",
          got_sig);
    CHECK(sig_addr == (void *)in_place && sig_code == SEGV_ACCERR, "SIGSEGV at %p code %d, not %p",
          sig_addr, sig_code, (void *)in_place);
    CHECK(write_sig(far) == SIGSEGV, "a write to a read-only page not read gave signal %d", got_sig);
    CHECK(check_page(m, NPAGES - 1) == 0 && check_page(m, far_pg) == 0, "a refused write landed");
    vmk_system_close(s);
    close(fd);
}

/* The mode ends, and the data stays right. */
static void endings(const char *path)
{
    setenv("VMK_FILE_ONCE", "1", 1);
    int fd = ro(path);
    vmk_system *s = open_system((size_t)LIMIT_MB << 20, NULL);
    vmk_space *a = new_space(s), *b = new_space(s);
    size_t len = (size_t)NPAGES * TPAGE;

    /* A second mapping of the file, in another space. */
    const uint64_t *m = vmk_map_file(a, fd, 0, len, VMK_PROT_READ, VMK_MAP_SHARED);
    CHECK(m, "vmk_map_file");
    CHECK(check_range(m, 0, 3000) == 0, "first mapping");
    const uint64_t *m2 = vmk_map_file(b, fd, 0, len, VMK_PROT_READ, VMK_MAP_SHARED);
    CHECK(m2, "second vmk_map_file");
    CHECK(check_range(m, 0, NPAGES) == 0 && check_range(m2, 0, NPAGES) == 0,
          "two mappings of the file disagree with it");
    CHECK(vmk_unmap(b, (void *)m2, len) == 0 && vmk_unmap(a, (void *)m, len) == 0, "vmk_unmap");

    /* A private mapping once, unmapped whole with its pages in place, then again. */
    for (int k = 0; k < 2; k++) {
        m = vmk_map_file(a, fd, 0, len, VMK_PROT_READ, VMK_MAP_PRIVATE);
        CHECK(m, "vmk_map_file private");
        CHECK(check_range(m, 0, 2000) == 0, "private mapping %d", k);
        CHECK(vmk_unmap(a, (void *)m, len) == 0, "vmk_unmap");
    }
    CHECK(get_stats(s).resident == 0, "pages left resident after the unmaps");

    /* A fork of the space. */
    m = vmk_map_file(a, fd, 0, len, VMK_PROT_READ, VMK_MAP_PRIVATE);
    CHECK(m, "vmk_map_file private");
    CHECK(check_range(m, 0, 3000) == 0, "before the fork");
    vmk_space *c;
    CHECK(vmk_space_fork(a, &c) == 0, "vmk_space_fork");
    const uint64_t *mc = vmk_space_translate(c, a, m);
    CHECK(mc, "vmk_space_translate");
    CHECK(check_range(mc, 0, NPAGES) == 0, "the fork's child reads wrong");
    CHECK(check_range(m, 0, NPAGES) == 0, "the parent reads wrong after the fork");
    vmk_space_destroy(c);

    /* A split: half of the mapping unmapped. */
    CHECK(vmk_unmap(a, (void *)(m + (size_t)(NPAGES / 2) * TWORDS), len / 2) == 0, "half unmap");
    CHECK(check_range(m, 0, NPAGES / 2) == 0, "the half left reads wrong");
    CHECK(vmk_unmap(a, (void *)m, len / 2) == 0, "vmk_unmap");

    /* Made writable: a private mapping takes writes, the file does not. */
    uint64_t *w = vmk_map_file(a, fd, 0, len, VMK_PROT_READ, VMK_MAP_PRIVATE);
    CHECK(w, "vmk_map_file");
    CHECK(check_range(w, 0, 2000) == 0, "before vmk_protect");
    CHECK(vmk_protect(a, w, len, VMK_PROT_READ | VMK_PROT_WRITE) == 0, "vmk_protect");
    for (size_t pg = 0; pg < NPAGES; pg += 3)
        w[pg * TWORDS + 1] = ~word(pg, 1);
    size_t bad = 0;
    for (size_t pg = 0; pg < NPAGES; pg++) {
        uint64_t want1 = pg % 3 ? word(pg, 1) : ~word(pg, 1);
        bad += w[pg * TWORDS + 1] != want1 || w[pg * TWORDS + 2] != word(pg, 2);
    }
    CHECK(bad == 0, "%zu pages wrong after writes through the made-writable mapping", bad);
    uint64_t f;
    CHECK(pread(fd, &f, sizeof f, 3 * (off_t)TPAGE + 8) == sizeof f && f == word(3, 1),
          "a private write reached the file");
    vmk_system_close(s);
    close(fd);
    printf("mapped once no more, data right: a second mapping, a fork, a split, vmk_protect\n");
}

/* The file truncated under the mapping. */
static void truncation(const char *path)
{
    setenv("VMK_FILE_ONCE", "1", 1);
    int wfd = open(path, O_RDWR), fd = ro(path);
    CHECK(wfd >= 0, "open rw");
    vmk_system *s = open_system((size_t)LIMIT_MB << 20, NULL);
    vmk_space *as = new_space(s);
    const uint64_t *m = vmk_map_file(as, fd, 0, (size_t)NPAGES * TPAGE, VMK_PROT_READ, VMK_MAP_SHARED);
    CHECK(m, "vmk_map_file");
    CHECK(check_range(m, 0, 1000) == 0, "before truncation");
    size_t keep = 600, tail = 200;
    CHECK(ftruncate(wfd, (off_t)(keep * TPAGE + tail)) == 0, "ftruncate");
    double t0 = now_s();
    while (read_sig(m + 800 * TWORDS) != SIGBUS && now_s() - t0 < 2)
        usleep(200);
    CHECK(got_sig == SIGBUS, "a page past the new end still reads after 2 s");
    CHECK(check_range(m, 0, keep) == 0, "pages before the new end changed");
    const volatile unsigned char *last = (const volatile unsigned char *)(m + keep * TWORDS);
    size_t bad = 0;
    for (size_t i = 0; i < TPAGE; i++) {
        uint64_t w = word(keep, i / 8);
        bad += last[i] != (i < tail ? (unsigned char)(w >> (8 * (i % 8))) : 0);
    }
    CHECK(bad == 0, "%zu bytes of the last page wrong", bad);
    CHECK(read_sig(m + (keep + 1) * TWORDS) == SIGBUS, "no SIGBUS past the new end");
    vmk_system_close(s);
    close(fd);
    close(wfd);
    printf("truncated under the mapping: SIGBUS past the end, zeros after it in the last page\n");
}

int main(void)
{
    catch_signals();
    char path[] = "/var/tmp/vmk-once-XXXXXX";
    int fd = make_file(path);
    passes(path, true);
    passes(path, false);
    endings(path);
    truncation(path);
    close(fd);
    unlink(path);
    printf("ok\n");
    return 0;
}
