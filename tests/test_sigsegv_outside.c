/*
 * test_sigsegv_outside: accesses the kernel would refuse give SIGSEGV, as the
 * kernel gives it.  Each case runs in a forked child that opens its own
 * system (the parent checks the wait status):
 *   - with SIGSEGV at its default action, the child dies by SIGSEGV for:
 *       a read of a page vmk_unmap'ed from the middle of a mapping,
 *       a read just past the end of a mapping (its last page unmapped),
 *       a write to a VMK_PROT_READ mapping,
 *       a read of a VMK_PROT_NONE mapping,
 *       a write to a resident page after vmk_protect(READ),
 *       a read after vmk_protect(NONE) of written, evicted pages;
 *   - with a SA_SIGINFO handler, si_addr is exactly the bad address and
 *     si_code is SEGV_MAPERR for an unmapped page, SEGV_ACCERR for a
 *     protection violation (as the kernel reports them);
 *   - vmkit memory is not inherited by fork: the child of a process using
 *     vmkit dies by SIGSEGV touching it, and the parent's data is intact.
 * In process: data written, then made read-only, survives eviction and reads
 * back right (page_info says prot READ); PROT_NONE and back keeps it too.
 */
#include <vmkit.h>
#include "check.h"
#include <setjmp.h>

#define LIMIT ((size_t)1 << 20)

static vmk_system *child_system(void)
{
    vmk_config c = vmk_config_default();
    c.memory_limit = LIMIT;
    vmk_system *s;
    if (vmk_system_open(&s, &c))
        _exit(90);
    return s;
}

/* --- set-ups: each returns the bad address and whether to write it --- */
struct target { char *addr; int write; int code; };

static struct target unmapped_middle(vmk_space *as)
{
    char *m = vmk_map_anon(as, 16 * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    if (!m) _exit(91);
    memset(m, 7, 16 * TPAGE);
    if (vmk_unmap(as, m + 5 * TPAGE, TPAGE)) _exit(92);
    if (m[4 * TPAGE + 4095] != 7 || m[6 * TPAGE] != 7) _exit(93);     /* neighbours live */
    return (struct target){ m + 5 * TPAGE + 123, 0, SEGV_MAPERR };
}

static struct target past_end(vmk_space *as)
{
    char *m = vmk_map_anon(as, 9 * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    if (!m) _exit(91);
    if (vmk_unmap(as, m + 8 * TPAGE, TPAGE)) _exit(92);
    memset(m, 3, 8 * TPAGE);                         /* the whole remaining mapping */
    return (struct target){ m + 8 * TPAGE, 0, SEGV_MAPERR };
}

static struct target write_read_only(vmk_space *as)
{
    char *m = vmk_map_anon(as, 4 * TPAGE, VMK_PROT_READ);
    if (!m) _exit(91);
    if (m[TPAGE] != 0) _exit(93);                    /* readable, zero, resident */
    return (struct target){ m + TPAGE + 8, 1, SEGV_ACCERR };
}

static struct target read_prot_none(vmk_space *as)
{
    char *m = vmk_map_anon(as, 4 * TPAGE, VMK_PROT_NONE);
    if (!m) _exit(91);
    return (struct target){ m + 2 * TPAGE + 1, 0, SEGV_ACCERR };
}

static struct target write_after_protect(vmk_space *as)
{
    char *m = vmk_map_anon(as, 4 * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    if (!m) _exit(91);
    memset(m, 5, 4 * TPAGE);                         /* resident, dirty, writable */
    if (vmk_protect(as, m, 4 * TPAGE, VMK_PROT_READ)) _exit(92);
    if (m[3 * TPAGE] != 5) _exit(93);
    return (struct target){ m + 3 * TPAGE + 17, 1, SEGV_ACCERR };
}

static struct target read_after_protect_none(vmk_space *as)
{
    size_t n = 3 * LIMIT / TPAGE;                    /* evicts the early pages */
    char *m = vmk_map_anon(as, n * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    if (!m) _exit(91);
    for (size_t p = 0; p < n; p++)
        m[p * TPAGE] = (char)p;
    if (vmk_protect(as, m, n * TPAGE, VMK_PROT_NONE)) _exit(92);
    return (struct target){ m + 2 * TPAGE + 100, 0, SEGV_ACCERR };
}

typedef struct target (*setup_fn)(vmk_space *);
static setup_fn cur_setup;

/* Child: default action for SIGSEGV; touching the target must kill us. */
static int child_default(void *arg)
{
    (void)arg;
    default_signal(SIGSEGV);
    vmk_system *s = child_system();
    vmk_space *as;
    if (vmk_space_create(s, &as)) _exit(90);
    struct target t = cur_setup(as);
    if (t.write)
        *(volatile char *)t.addr = 1;
    else
        (void)*(volatile char *)t.addr;
    return 99;                                       /* survived: wrong */
}

static sigjmp_buf jb;
static void *volatile seen_addr;
static volatile int seen_code;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)uc;
    seen_addr = si->si_addr;
    seen_code = si->si_code;
    siglongjmp(jb, 1);
}

/* Child: a handler; exit 0 if it ran with si_addr == target; 20 + ... otherwise. */
static int child_handler(void *arg)
{
    int check_code = *(int *)arg;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    vmk_system *s = child_system();
    vmk_space *as;
    if (vmk_space_create(s, &as)) _exit(90);
    struct target t = cur_setup(as);
    if (sigsetjmp(jb, 1) == 0) {
        if (t.write)
            *(volatile char *)t.addr = 1;
        else
            (void)*(volatile char *)t.addr;
        return 99;
    }
    if (seen_addr != t.addr)
        return 21;
    if (check_code && seen_code != t.code)
        return seen_code == SEGV_MAPERR ? 22 : seen_code == SEGV_ACCERR ? 23 : 24;
    /* The process goes on: vmkit still works after the signal. */
    vmk_stats st;
    if (vmk_stats_get(s, &st) || st.sigbus)
        return 25;
    vmk_system_close(s);
    return 0;
}

static int si_code_failures;

static void run_case(const char *what, setup_fn fn)
{
    cur_setup = fn;
    int st = child_run(child_default, NULL);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "%s: child %s, want death by SIGSEGV "
          "(99: the access succeeded, 9x: set-up failed)", what, status_str(st));
    int check_code = 1;
    st = child_run(child_handler, &check_code);
    if (WIFEXITED(st) && (WEXITSTATUS(st) == 22 || WEXITSTATUS(st) == 23 || WEXITSTATUS(st) == 24)) {
        fprintf(stderr, "%s: si_code is %s, the kernel would give %s\n", what,
                WEXITSTATUS(st) == 22 ? "SEGV_MAPERR" : WEXITSTATUS(st) == 23 ? "SEGV_ACCERR" : "other",
                fn == unmapped_middle || fn == past_end ? "SEGV_MAPERR" : "SEGV_ACCERR");
        si_code_failures++;
        check_code = 0;
        st = child_run(child_handler, &check_code);
    }
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s (handler): child %s (99: no SIGSEGV, 21: wrong "
          "si_addr, 25: vmkit broken after the signal)", what, status_str(st));
}

/* Data written, made read-only, survives eviction; NONE and back too. */
static void read_only_keeps_data(void)
{
    vmk_system *s = open_system(LIMIT, NULL);
    vmk_space *as = new_space(s);
    size_t n = 4 * LIMIT / TPAGE;
    unsigned char *m = vmk_map_anon(as, n * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(m, "map");
    for (size_t p = 0; p < n; p++)
        fill_page(m + p * TPAGE, 5, p);
    int r = vmk_protect(as, m, n * TPAGE, VMK_PROT_READ);
    CHECK(r == 0, "protect READ: %s", vmk_strerror(r));
    for (size_t p = 0; p < n; p++)
        CHECK(get_info(as, m + p * TPAGE).prot == VMK_PROT_READ, "page %zu: prot %d after protect", p,
              get_info(as, m + p * TPAGE).prot);
    size_t bad = 0;
    for (int pass = 0; pass < 2; pass++)             /* 4x the budget: all evicted between */
        for (size_t p = 0; p < n; p++)
            bad += verify_page(m + p * TPAGE, 5, p, "read-only after protect");
    CHECK(bad == 0, "%zu words wrong in the read-only mapping", bad);
    r = vmk_protect(as, m, n * TPAGE, VMK_PROT_NONE);
    CHECK(r == 0, "protect NONE: %s", vmk_strerror(r));
    unsigned char *other = vmk_map_anon(as, n * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(other, "map other");
    for (size_t p = 0; p < n; p++)                   /* pressure while NONE */
        fill_page(other + p * TPAGE, 6, p);
    r = vmk_protect(as, m, n * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(r == 0, "protect RW: %s", vmk_strerror(r));
    for (size_t p = 0; p < n; p++)
        bad += verify_page(m + p * TPAGE, 5, p, "after NONE and back");
    for (size_t p = 0; p < n; p += 3)
        fill_page(m + p * TPAGE, 7, p);
    for (size_t p = 0; p < n; p++)
        bad += verify_page(m + p * TPAGE, p % 3 ? 5 : 7, p, "rewritten after protect RW");
    for (size_t p = 0; p < n; p++)
        bad += verify_page(other + p * TPAGE, 6, p, "the other mapping");
    CHECK(bad == 0, "%zu words wrong", bad);
    vmk_stats st = get_stats(s);
    CHECK(st.pages_swapped_out > 0 && st.pages_swapped_in > 0 && st.sigbus == 0,
          "no paging happened (out %llu in %llu) or sigbus %llu", ULL(st.pages_swapped_out),
          ULL(st.pages_swapped_in), ULL(st.sigbus));
    vmk_system_close(s);
}

/* vmkit memory is not inherited by fork. */
static unsigned char *inherited;
static int touch_inherited(void *arg)
{
    (void)arg;
    default_signal(SIGSEGV);
    (void)*(volatile unsigned char *)(inherited + 3 * TPAGE);
    return 99;
}

static void fork_not_inherited(void)
{
    vmk_system *s = open_system(LIMIT, NULL);
    vmk_space *as = new_space(s);
    inherited = vmk_map_anon(as, 8 * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(inherited, "map");
    for (size_t p = 0; p < 8; p++)
        fill_page(inherited + p * TPAGE, 8, p);
    int st = child_run(touch_inherited, NULL);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "fork child touching vmkit memory: %s, want "
          "SIGSEGV", status_str(st));
    for (size_t p = 0; p < 8; p++)
        CHECK(verify_page(inherited + p * TPAGE, 8, p, "parent after fork") == 0, "parent data changed");
    vmk_system_close(s);
}

int main(void)
{
    run_case("read of a page unmapped from the middle", unmapped_middle);
    run_case("read just past the end of a mapping", past_end);
    run_case("write to a VMK_PROT_READ mapping", write_read_only);
    run_case("read of a VMK_PROT_NONE mapping", read_prot_none);
    run_case("write after vmk_protect(READ) of resident pages", write_after_protect);
    run_case("read after vmk_protect(NONE) of evicted pages", read_after_protect_none);
    read_only_keeps_data();
    fork_not_inherited();
    CHECK(si_code_failures == 0, "%d case(s) gave SIGSEGV with a si_code the kernel would not give",
          si_code_failures);
    printf("ok: six forbidden accesses gave SIGSEGV at the right address with the right si_code; "
           "read-only data survives eviction; fork children do not inherit vmkit memory\n");
    return 0;
}
