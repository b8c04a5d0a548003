/*
 * test_segv_outside_vma: accesses the kernel would refuse are refused the
 * same way - SIGSEGV, the program's own handler runs with the faulting
 * address - never silent garbage.  Each case runs in a child process:
 *   a page inside a mapping after vmk_unmap of it;
 *   a write to a read-only mapping (data written before stays readable);
 *   a read of a PROT_NONE mapping;
 *   a write to pages made read-only by vmk_protect after eviction.
 */
#include <vmkit.h>
#include "check.h"
#include <setjmp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static sigjmp_buf jb;
static void *volatile fault_addr;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)uc;
    fault_addr = si->si_addr;
    siglongjmp(jb, 1);
}

/* In a child: set up, then touch `target` (write or read); exit 0 only if
 * SIGSEGV arrived at exactly that address. */
static void expect_segv(const char *what, int (*setup)(vmk_space *, char **), int write)
{
    pid_t pid = fork();
    if (pid == 0) {
        struct sigaction sa = { 0 };
        sa.sa_sigaction = on_segv;
        sa.sa_flags = SA_SIGINFO;
        sigaction(SIGSEGV, &sa, NULL);
        vmk_config cfg = vmk_config_default();
        cfg.memory_limit = 1 << 20;
        vmk_system *sys;
        if (vmk_system_open(&sys, &cfg))
            _exit(10);
        vmk_space *as;
        vmk_space_create(sys, &as);
        char *target;
        if (setup(as, &target))
            _exit(11);
        if (sigsetjmp(jb, 1) == 0) {
            if (write)
                *(volatile char *)target = 1;
            else
                (void)*(volatile char *)target;
            _exit(12);                           /* no fault: wrong */
        }
        _exit(fault_addr == target ? 0 : 13);
    }
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: child status %#x (12: no SIGSEGV, 13: wrong address)",
          what, st);
}

static int unmapped_page(vmk_space *as, char **t)
{
    char *m = vmk_map_anon(as, 16 * 4096, VMK_PROT_READ | VMK_PROT_WRITE);
    memset(m, 7, 16 * 4096);
    if (vmk_unmap(as, m + 4 * 4096, 4096))
        return 1;
    if (m[3 * 4096] != 7 || m[5 * 4096] != 7)      /* the neighbours survive */
        return 1;
    *t = m + 4 * 4096 + 100;
    return 0;
}

static int read_only(vmk_space *as, char **t)
{
    char *m = vmk_map_anon(as, 4 * 4096, VMK_PROT_READ);
    if (m[0] != 0)
        return 1;
    *t = m + 4096;
    return 0;
}

static int prot_none(vmk_space *as, char **t)
{
    char *m = vmk_map_anon(as, 4 * 4096, VMK_PROT_NONE);
    *t = m + 2 * 4096 + 1;
    return 0;
}

static int protected_after_eviction(vmk_space *as, char **t)
{
    size_t n = 1024;                                  /* 4 MiB over a 1 MiB budget */
    char *m = vmk_map_anon(as, n * 4096, VMK_PROT_READ | VMK_PROT_WRITE);
    for (size_t p = 0; p < n; p++)
        m[p * 4096] = (char)p;
    if (vmk_protect(as, m, n * 4096, VMK_PROT_READ))
        return 1;
    for (size_t p = 0; p < n; p++)
        if (m[p * 4096] != (char)p)
            return 1;
    *t = m + 5 * 4096;
    return 0;
}

int main(void)
{
    expect_segv("unmapped page inside a mapping", unmapped_page, 0);
    expect_segv("write to a read-only mapping", read_only, 1);
    expect_segv("read of a PROT_NONE mapping", prot_none, 0);
    expect_segv("write after vmk_protect(READ), through eviction", protected_after_eviction, 1);
    printf("ok: four kinds of forbidden access gave SIGSEGV at the right address\n");
    return 0;
}
