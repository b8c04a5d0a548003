/*
 * test_file_truncate: a file truncated under a shared mapping gives what
 * the kernel gives.  In a child (its own SIGBUS handler, installed before
 * vmk_system_open, which vmkit chains to): map a 64-page file shared, read
 * every page (all resident, cached by vmkit), ftruncate it to 20 pages and
 * 100 bytes, then
 *   - a page past the new end gives SIGBUS (vmkit learns of the truncation
 *     through inotify: the test waits up to 2 s and prints how long it took);
 *   - the last, partial page keeps its first 100 bytes and reads zeros after;
 *   - the pages before it keep their bytes;
 *   - a page that had been written (dirty) past the end is gone too, and
 *     growing the file again shows zeros there, not the old bytes.
 * Then the same with a page written while cached (dirty) in the dropped
 * range: it must not come back.
 */
#include <vmkit.h>
#include <fcntl.h>
#include <setjmp.h>
#include <unistd.h>

#include "check.h"

enum { NPAGES = 64, KEEP = 20, TAIL = 100 };

static sigjmp_buf jb;
static volatile sig_atomic_t got_sigbus;

static void on_sigbus(int sig)
{
    (void)sig;
    got_sigbus = 1;
    siglongjmp(jb, 1);
}

static uint8_t byte_at(size_t off) { return (uint8_t)(off * 131 + 7) | 1; }

/* Touch p; 1 if that gave SIGBUS. */
static int touch_faults(volatile const char *p)
{
    got_sigbus = 0;
    if (sigsetjmp(jb, 1) == 0)
        (void)*p;
    return got_sigbus;
}

static int body(void *arg)
{
    (void)arg;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigbus;
    sa.sa_flags = SA_NODEFER;
    sigaction(SIGBUS, &sa, NULL);
    char path[] = "/tmp/vmk-trunc-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    unlink(path);
    static char buf[NPAGES * 4096];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (char)byte_at(i);
    CHECK(pwrite(fd, buf, sizeof buf, 0) == (ssize_t)sizeof buf, "pwrite");
    vmk_system *sys = open_system((size_t)8 << 20, NULL);
    vmk_space *as = new_space(sys);
    char *m = vmk_map_file(as, fd, 0, sizeof buf, VMK_PROT_READ | VMK_PROT_WRITE, VMK_MAP_SHARED);
    CHECK(m, "vmk_map_file");
    for (size_t i = 0; i < sizeof buf; i += 512)
        CHECK((uint8_t)m[i] == byte_at(i), "byte %zu before truncation", i);
    m[40 * 4096 + 8] = 0x55;                         /* a dirty page past the new end */
    CHECK(get_info(as, m + 50 * 4096).state == VMK_PAGE_RESIDENT, "page 50 not cached");
    CHECK(ftruncate(fd, KEEP * 4096 + TAIL) == 0, "ftruncate");
    double t0 = now_s();
    while (!touch_faults(m + 50 * 4096) && now_s() - t0 < 2)
        usleep(200);
    double dt = now_s() - t0;
    CHECK(got_sigbus, "a page past the new end still reads after 2 s");
    printf("SIGBUS past the new end %.0f us after the truncation\n", dt * 1e6);
    fflush(stdout);
    CHECK(touch_faults(m + 40 * 4096 + 8), "the dirty page past the end is still there");
    CHECK(touch_faults(m + (KEEP + 1) * 4096), "the first whole page past the end reads");
    for (size_t i = 0; i < KEEP * 4096 + TAIL; i += 64)
        CHECK(!touch_faults(m + i) && (uint8_t)m[i] == byte_at(i), "byte %zu kept", i);
    for (size_t i = KEEP * 4096 + TAIL; i < (KEEP + 1) * 4096; i++)
        CHECK(!touch_faults(m + i) && m[i] == 0, "byte %zu past the end of the last page: %#x", i,
              (unsigned)(uint8_t)m[i]);
    CHECK(ftruncate(fd, sizeof buf) == 0, "grow");
    usleep(10000);
    CHECK(!touch_faults(m + 40 * 4096 + 8) && m[40 * 4096 + 8] == 0,
          "after growing again the dropped page shows old bytes");
    vmk_system_close(sys);
    char check[4096];
    CHECK(pread(fd, check, sizeof check, 40 * 4096) == (ssize_t)sizeof check, "pread");
    for (size_t i = 0; i < sizeof check; i++)
        CHECK(check[i] == 0, "the file got bytes of a dropped page back at %zu", i);
    return 0;
}

int main(void)
{
    int st = child_run(body, NULL);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: %s", status_str(st));
    printf("ok: truncation seen: SIGBUS past the end, zeros after the end in the last page, the "
           "rest kept, dropped pages never come back\n");
    return 0;
}
