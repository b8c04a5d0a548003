/*
 * test_swap_full: a system with a 2 MiB limit and a 4 MiB swap device holds
 * at most 6 MiB of dirty pages.
 *   - In a forked child with SIGBUS at its default action (set before
 *     vmk_system_open; vmkit chains to it), writing 12 MiB kills the child
 *     by SIGBUS; the child reports its progress through shared memory, and
 *     it got at least the swap's worth of pages written and no more than
 *     limit + swap.
 *   - In a second child with its own SA_SIGINFO handler (installed before
 *     vmk_system_open), the handler sees si_addr inside the page being
 *     written; afterwards the pages written before read back right, and
 *     vmk_stats counts the sigbus and the refused eviction.
 *   - In process: writing 5 MiB (less than limit + swap) succeeds and
 *     every word reads back right, twice; the device never grows past 4 MiB.
 */
#include <vmkit.h>
#include "check.h"
#include <setjmp.h>
#include <sys/mman.h>

#define LIMIT ((size_t)2 << 20)
#define SWAP ((size_t)4 << 20)

static volatile size_t *progress;             /* shared with the children */

static vmk_system *small_system(void)
{
    vmk_config c = vmk_config_default();
    c.memory_limit = LIMIT;
    c.swap_size = SWAP;
    vmk_system *s;
    int r = vmk_system_open(&s, &c);
    if (r) {
        fprintf(stderr, "child: open: %s\n", vmk_strerror(r));
        _exit(90);
    }
    return s;
}

static int child_default(void *arg)
{
    (void)arg;
    default_signal(SIGBUS);                    /* before vmk_system_open */
    vmk_system *s = small_system();
    vmk_space *as;
    if (vmk_space_create(s, &as)) _exit(91);
    size_t n = 3 * (LIMIT + SWAP) / TPAGE;
    unsigned char *m = vmk_map_anon(as, n * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    if (!m) _exit(92);
    for (size_t p = 0; p < n; p++) {
        *progress = p;
        fill_page(m + p * TPAGE, 1, p);
    }
    *progress = n;
    return 99;                                 /* everything fit: wrong */
}

static sigjmp_buf jb;
static void *volatile bus_addr;
static volatile int bus_count;

static void on_bus(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)uc;
    bus_addr = si->si_addr;
    bus_count++;
    siglongjmp(jb, 1);
}

static int child_handler(void *arg)
{
    (void)arg;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_bus;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGBUS, &sa, NULL);              /* before vmk_system_open */
    vmk_system *s = small_system();
    vmk_space *as;
    if (vmk_space_create(s, &as)) _exit(91);
    size_t n = 3 * (LIMIT + SWAP) / TPAGE;
    unsigned char *m = vmk_map_anon(as, n * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    if (!m) _exit(92);
    volatile size_t p = 0;
    if (sigsetjmp(jb, 1) == 0) {
        for (; p < n; p++) {
            *progress = p;
            fill_page(m + p * TPAGE, 2, p);
        }
        return 99;
    }
    size_t failed = p;
    if (bus_count != 1)
        return 20;
    if ((unsigned char *)bus_addr < m + failed * TPAGE || (unsigned char *)bus_addr >= m + (failed + 1) * TPAGE)
        return 21;                             /* si_addr not in the page being written */
    vmk_stats st;
    if (vmk_stats_get(s, &st) || st.sigbus < 1 || st.swap_full < 1)
        return 22;
    if (st.swap_used > SWAP / TPAGE || st.resident_peak > LIMIT / TPAGE)
        return 23;
    /* Free the newest pages (resident ones), then everything older must read
     * back right: never wrong data. */
    size_t keep = failed > 700 ? failed - 700 : 0;
    if (vmk_unmap(as, m + keep * TPAGE, (n - keep) * TPAGE))
        return 24;
    for (size_t q = 0; q < keep; q++)
        if (verify_page(m + q * TPAGE, 2, q, "after SIGBUS"))
            return 25;
    if (bus_count != 1)
        return 26;
    vmk_system_close(s);
    return 0;
}

int main(void)
{
    progress = mmap(NULL, TPAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(progress != MAP_FAILED, "mmap shared");
    size_t cap = (LIMIT + SWAP) / TPAGE, swap_pages = SWAP / TPAGE;

    *progress = 0;
    int st = child_run(child_default, NULL);
    size_t got = *progress;
    printf("default action: child %s after %zu pages (limit + swap = %zu pages)\n", status_str(st), got, cap);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS, "writing 3x limit+swap: child %s, want death by "
          "SIGBUS (99: all writes succeeded, 9x: set-up failed)", status_str(st));
    CHECK(got >= swap_pages && got <= cap, "SIGBUS at page %zu: outside [%zu, %zu]", got, swap_pages, cap);

    *progress = 0;
    st = child_run(child_handler, NULL);
    got = *progress;
    printf("own handler: child %s, SIGBUS at page %zu\n", status_str(st), got);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "handler child: %s (99: no SIGBUS, 20: handler ran "
          "%d times, 21: si_addr wrong, 22: not counted, 23: over the budget, 24: unmap failed, 25: "
          "wrong data, 26: a second SIGBUS)", status_str(st), -1);
    CHECK(got >= swap_pages && got <= cap, "SIGBUS at page %zu: outside [%zu, %zu]", got, swap_pages, cap);

    /* In process: 5 MiB of 6 fits. */
    vmk_config c = vmk_config_default();
    c.memory_limit = LIMIT;
    c.swap_size = SWAP;
    vmk_system *s;
    int r = vmk_system_open(&s, &c);
    CHECK(r == 0, "open: %s", vmk_strerror(r));
    vmk_space *as = new_space(s);
    size_t n = (LIMIT + SWAP - ((size_t)1 << 20)) / TPAGE;
    unsigned char *m = vmk_map_anon(as, n * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(m, "map");
    for (size_t p = 0; p < n; p++)
        fill_page(m + p * TPAGE, 3, p);
    size_t bad = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t p = 0; p < n; p++)
            bad += verify_page(m + p * TPAGE, 3, p, "5 MiB in 2 + 4");
    for (size_t p = n; p-- > 0;)                   /* rewrite backwards, verify forwards */
        fill_page(m + p * TPAGE, 4, p);
    for (size_t p = 0; p < n; p++)
        bad += verify_page(m + p * TPAGE, 4, p, "rewritten");
    CHECK(bad == 0, "%zu words wrong", bad);
    vmk_stats vs = get_stats(s);
    CHECK(vs.sigbus == 0, "sigbus %llu with less than limit + swap written", ULL(vs.sigbus));
    CHECK(vs.swap_total <= swap_pages, "swap device grew to %llu slots past swap_size %zu",
          ULL(vs.swap_total), swap_pages);
    CHECK(vs.swap_used <= swap_pages && vs.pages_swapped_out >= n - LIMIT / TPAGE,
          "swap used %llu, pages out %llu", ULL(vs.swap_used), ULL(vs.pages_swapped_out));
    vmk_system_close(s);
    printf("ok: over limit + swap gives SIGBUS (never wrong data); under it everything fits\n");
    return 0;
}
