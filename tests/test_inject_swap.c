/*
 * test_inject_swap: injected swap I/O faults never cost a byte
 * (docs/FAULTS.md lists each kind with its documented result).
 *  - short writes and short reads (direct single-page reads and buffered
 *    read-ahead windows): vmkit carries on with the rest; every page reads
 *    back right and the plans really hit;
 *  - ENOSPC on every swap write: dirty pages stay resident and dirty
 *    (page_info), the system goes on by dropping clean pages; once the
 *    device takes writes again they are written, and read back right;
 *  - EIO on many writes (every third, 20 in all): data right, no SIGBUS;
 *  - delays: data right, and the run took at least hits x delay;
 *  - EIO on a read-ahead window: SIGBUS in the faulting thread (caught
 *    here), the page stays in swap and reads back right afterwards.
 */
#include <vmkit.h>
#include "check.h"
#include <setjmp.h>

static uint64_t injected;                  /* hits over the whole test */

static vmk_system *open_cfg(size_t limit, unsigned fault_around, int kswapd)
{
    vmk_config c = vmk_config_default();
    c.memory_limit = limit;
    c.fault_around = fault_around;
    c.kswapd = kswapd;
    vmk_system *s = NULL;
    int r = vmk_system_open(&s, &c);
    CHECK(r == 0, "vmk_system_open: %s", vmk_strerror(r));
    return s;
}

static unsigned char *fill(vmk_space *as, size_t np, uint64_t tag)
{
    unsigned char *m = vmk_map_anon(as, np * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(m, "vmk_map_anon: %s", strerror(errno));
    for (size_t p = 0; p < np; p++)
        fill_page(m + p * TPAGE, tag, p);
    return m;
}

static void verify(const unsigned char *m, size_t np, uint64_t tag, const char *what)
{
    size_t bad = 0;
    for (size_t p = 0; p < np; p++)
        bad += verify_page(m + p * TPAGE, tag, p, what);
    CHECK(bad == 0, "%s: %zu words wrong", what, bad);
}

static void no_errors(vmk_system *s, const char *what)
{
    vmk_stats st = get_stats(s);
    CHECK(st.sigbus == 0, "%s: %llu SIGBUS", what, ULL(st.sigbus));
    CHECK(st.pages_swapped_out > 0 && st.pages_swapped_in > 0, "%s: no swap traffic", what);
}

/* Short writes and reads: fault_around 1 reads single pages (O_DIRECT
 * descriptor), 64 reads windows through the buffered one. */
static void short_io(unsigned fault_around)
{
    vmk_system *s = open_cfg(2 << 20, fault_around, 1);
    vmk_space *as = new_space(s);
    inject_arm(s, VMK_INJECT_SWAP_WRITE_SHORT, 1, -1, 1, 1536);
    inject_arm(s, VMK_INJECT_SWAP_READ_SHORT, 1, -1, 1, 2560);
    size_t np = 4096;                                   /* 16 MiB over 2 MiB */
    unsigned char *m = fill(as, np, 1);
    verify(m, np, 1, "short I/O, first pass");
    verify(m, np, 1, "short I/O, second pass");
    uint64_t w = inject_hits(s, VMK_INJECT_SWAP_WRITE_SHORT), r = inject_hits(s, VMK_INJECT_SWAP_READ_SHORT);
    CHECK(w > 0 && r > 0, "fault_around %u: short writes hit %llu, short reads %llu", fault_around,
          ULL(w), ULL(r));
    CHECK(get_stats(s).io_errors == 0, "short transfers counted as I/O errors");
    no_errors(s, "short I/O");
    printf("short I/O, fault_around %u: %llu short writes, %llu short reads, data right\n",
           fault_around, ULL(w), ULL(r));
    injected += w + r;
    vmk_system_close(s);
}

/* Count pages of m[0..np) in a state; dirty: also require dirty. */
static size_t count_state(vmk_space *as, const unsigned char *m, size_t np, vmk_page_state st,
                          int dirty)
{
    size_t n = 0;
    for (size_t p = 0; p < np; p++) {
        struct vmk_page_info pi = get_info(as, m + p * TPAGE);
        n += pi.state == st && (!dirty || pi.dirty);
    }
    return n;
}

/* Read one byte of each of np fresh pages (clean zero pages: the pressure
 * that makes reclaim run); each must read 0. */
static void read_zeros(vmk_space *as, size_t np)
{
    volatile unsigned char *z = vmk_map_anon(as, np * TPAGE, VMK_PROT_READ);
    CHECK(z, "vmk_map_anon");
    for (size_t p = 0; p < np; p++)
        CHECK(z[p * TPAGE + (p % TPAGE)] == 0, "fresh page %zu not zero", p);
}

static void nospc_retried(void)
{
    vmk_system *s = open_cfg(1 << 20, 1, 0);            /* 256 frames, no kswapd */
    vmk_space *as = new_space(s);
    size_t nd = 64;
    unsigned char *d = fill(as, nd, 2);
    inject_arm(s, VMK_INJECT_SWAP_WRITE_NOSPC, 1, -1, 1, 0);  /* every swap write: ENOSPC */
    read_zeros(as, 1024);
    uint64_t h = inject_hits(s, VMK_INJECT_SWAP_WRITE_NOSPC);
    CHECK(h > 0, "no swap write was attempted under ENOSPC: the test proves nothing");
    CHECK(count_state(as, d, nd, VMK_PAGE_RESIDENT, 1) == nd,
          "a page whose swap write failed with ENOSPC is not resident and dirty");
    vmk_stats st = get_stats(s);
    CHECK(st.io_errors >= h && st.sigbus == 0 && st.pages_swapped_out == 0,
          "ENOSPC: io_errors %llu (hits %llu), sigbus %llu, swapped out %llu", ULL(st.io_errors),
          ULL(h), ULL(st.sigbus), ULL(st.pages_swapped_out));
    inject_arm(s, VMK_INJECT_SWAP_WRITE_NOSPC, 0, 0, 0, 0);   /* the device has room again */
    read_zeros(as, 1024);
    size_t out = count_state(as, d, nd, VMK_PAGE_SWAPPED, 0);
    CHECK(out > 0, "the dirty pages were never retried once the device had room");
    verify(d, nd, 2, "after ENOSPC");
    printf("ENOSPC on %llu swap writes: %zu pages stayed dirty, %zu then went to swap, data right\n",
           ULL(h), nd, out);
    injected += h;
    vmk_system_close(s);
}

static void many_write_errors(void)
{
    vmk_system *s = open_cfg(2 << 20, 64, 1);
    vmk_space *as = new_space(s);
    inject_arm(s, VMK_INJECT_SWAP_WRITE, 2, 20, 3, 0);         /* writes 2, 5, 8, ... 59 */
    size_t np = 4096;
    unsigned char *m = fill(as, np, 3);
    verify(m, np, 3, "after write errors");
    verify(m, np, 3, "after write errors, second pass");
    uint64_t h = inject_hits(s, VMK_INJECT_SWAP_WRITE);
    CHECK(h == 20, "write EIO hit %llu times, want 20", ULL(h));
    CHECK(get_stats(s).io_errors >= 20, "write errors not counted");
    no_errors(s, "write errors");
    printf("EIO on %llu swap writes: data right, no SIGBUS\n", ULL(h));
    injected += h;
    vmk_system_close(s);
}

static void delays(void)
{
    const uint32_t us = 3000;
    vmk_system *s = open_cfg(2 << 20, 64, 0);           /* all I/O in this thread */
    vmk_space *as = new_space(s);
    inject_arm(s, VMK_INJECT_SWAP_WRITE_DELAY, 1, -1, 1, us);
    inject_arm(s, VMK_INJECT_SWAP_READ_DELAY, 1, -1, 1, us);
    double t0 = now_s();
    size_t np = 2048;
    unsigned char *m = fill(as, np, 4);
    verify(m, np, 4, "with delays");
    double dt = now_s() - t0;
    uint64_t w = inject_hits(s, VMK_INJECT_SWAP_WRITE_DELAY), r = inject_hits(s, VMK_INJECT_SWAP_READ_DELAY);
    CHECK(w > 0 && r > 0, "delays hit %llu writes, %llu reads", ULL(w), ULL(r));
    CHECK(dt >= (double)(w + r) * us * 1e-6, "%llu delayed requests of %u us took only %.3f s",
          ULL(w + r), us, dt);
    no_errors(s, "delays");
    printf("delay %u us on %llu writes and %llu reads: %.3f s, data right\n", us, ULL(w), ULL(r), dt);
    injected += w + r;
    vmk_system_close(s);
}

/* 0 right, 1 wrong bytes, -1 SIGBUS while reading. */
static int read_guarded(const unsigned char *pg, uint64_t tag, uint64_t page)
{
    return verify_guarded(pg, tag, page, "read after a read error");
}

static int read_error_child(void *arg)
{
    (void)arg;
    sigbus_catch();                               /* before vmkit's: it chains */
    vmk_system *s = open_cfg(2 << 20, 64, 1);
    vmk_space *as = new_space(s);
    size_t np = 2048, sigbus_at = SIZE_MAX;
    unsigned char *m = fill(as, np, 5);
    CHECK(get_info(as, m).state == VMK_PAGE_SWAPPED, "page 0 not in swap");
    inject_arm(s, VMK_INJECT_SWAP_READ, 3, 1, 1, 0);        /* the third read: a read-ahead window */
    for (size_t p = 0; p < np; p++) {
        int r = read_guarded(m + p * TPAGE, 5, p);
        if (r == -1 && sigbus_at == SIZE_MAX) {
            sigbus_at = p;
            CHECK(get_info(as, m + p * TPAGE).state == VMK_PAGE_SWAPPED, "the page left swap");
            r = read_guarded(m + p * TPAGE, 5, p);   /* again: the device reads now */
        }
        CHECK(r == 0, "page %zu: %s", p, r < 0 ? "a second SIGBUS" : "wrong data");
    }
    CHECK(sigbus_at != SIZE_MAX && sigbus_at > 0, "the read error gave no SIGBUS (at %zu)", sigbus_at);
    CHECK(inject_hits(s, VMK_INJECT_SWAP_READ) == 1 && get_stats(s).sigbus == 1, "one error, one SIGBUS");
    printf("EIO on a read-ahead window: SIGBUS at page %zu, then the page read back right\n",
           sigbus_at);
    vmk_system_close(s);
    fflush(stdout);
    return 0;
}

int main(void)
{
    /* First: the child's SIGBUS handler must come before vmkit's, which a
     * system opened here would install for the process (and the child). */
    int st = child_run(read_error_child, NULL);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "read error child: %s", status_str(st));
    injected += 1;
    short_io(1);
    short_io(64);
    nospc_retried();
    many_write_errors();
    delays();
    printf("ok: %llu swap I/O faults injected, no byte wrong\n", ULL(injected));
    return 0;
}
