/*
 * test_swap_full_sigbus: when swap is full and no frame can be freed, the
 * faulting thread gets SIGBUS (here its own handler, installed before
 * vmk_system_open, which vmkit chains to) - never wrong data - and once
 * memory is freed (unmap of the newest pages), what was written before
 * comes back from swap right.
 */
#include <vmkit.h>
#include "check.h"
#include <setjmp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static sigjmp_buf jb;

static void on_bus(int sig) { (void)sig; siglongjmp(jb, 1); }

int main(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        struct sigaction sa = { 0 };
        sa.sa_handler = on_bus;
        sigaction(SIGBUS, &sa, NULL);                    /* before vmkit's */
        vmk_config cfg = vmk_config_default();
        cfg.memory_limit = 2 << 20;
        cfg.swap_size = 4 << 20;
        vmk_system *sys;
        if (vmk_system_open(&sys, &cfg))
            _exit(10);
        vmk_space *as;
        vmk_space_create(sys, &as);
        size_t n = 4096;                                 /* 16 MiB > 2 + 4 MiB */
        uint64_t *m = vmk_map_anon(as, n * 4096, VMK_PROT_READ | VMK_PROT_WRITE);
        volatile size_t p = 0;
        if (sigsetjmp(jb, 1) == 0) {
            for (; p < n; p++)
                m[p * 512] = p + 1;
            _exit(11);                                   /* everything fit: wrong */
        }
        size_t written = p;                              /* page p got SIGBUS */
        if (written < 1024)                              /* at least the swap's worth */
            _exit(12);
        /* Memory and swap are full of dirty pages: free the newest ones (they
         * are resident), then the older ones can come back from swap. */
        size_t keep = written - 600;
        if (vmk_unmap(as, (char *)m + keep * 4096, (n - keep) * 4096))
            _exit(15);
        for (size_t q = 0; q < keep; q++)
            if (m[q * 512] != q + 1)
                _exit(13);
        vmk_stats st;
        vmk_stats_get(sys, &st);
        if (st.sigbus < 1 || st.swap_full < 1)
            _exit(14);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
          "child status %#x (11 no SIGBUS, 12 too early, 13 wrong data, 14 not counted, 15 unmap)", st);
    printf("ok: swap full gave SIGBUS, and what fit reads back right\n");
    return 0;
}
