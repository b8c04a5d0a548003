/*
 * test_swap_io_error: I/O errors on the swap device never lose data.
 *  - A failed write to swap leaves the pages resident and dirty; they are
 *    written later, and every byte reads back right.
 *  - A failed read from swap gives the faulting thread SIGBUS (here: a child
 *    process that must die of SIGBUS), never wrong data.
 */
#include <vmkit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static uint64_t pio_pattern(size_t page) { return page * 0x9E3779B97F4A7C15ull + 12345; }

static vmk_system *open_small(void)
{
    vmk_config cfg = vmk_config_default();
    cfg.memory_limit = 2 << 20;
    vmk_system *sys;
    int r = vmk_system_open(&sys, &cfg);
    if (r)
        FAIL("vmk_system_open: %s", vmk_strerror(r));
    return sys;
}

static void write_failure_keeps_data(void)
{
    vmk_system *sys = open_small();
    vmk_space *as;
    vmk_space_create(sys, &as);
    size_t npages = 4096;                        /* 16 MiB over 2 MiB */
    uint64_t *base = vmk_map_anon(as, npages * 4096, VMK_PROT_READ | VMK_PROT_WRITE);
    if (!base)
        FAIL("map");
    if (vmk_inject_fault(sys, VMK_INJECT_SWAP_WRITE, 1))
        FAIL("inject");
    for (size_t p = 0; p < npages; p++)
        base[p * 512] = base[p * 512 + 511] = pio_pattern(p);
    for (size_t p = 0; p < npages; p++)
        if (base[p * 512] != pio_pattern(p) || base[p * 512 + 511] != pio_pattern(p))
            FAIL("page %zu wrong after a failed swap write", p);
    vmk_stats st;
    vmk_stats_get(sys, &st);
    if (st.io_errors < 1)
        FAIL("the injected write error was not counted");
    if (st.sigbus)
        FAIL("a write error must not cost a fault its page");
    vmk_system_close(sys);
}

static void read_failure_is_sigbus(void)
{
    pid_t pid = fork();
    if (pid < 0)
        FAIL("fork");
    if (pid == 0) {
        vmk_system *sys = open_small();
        vmk_space *as;
        vmk_space_create(sys, &as);
        size_t npages = 2048;
        volatile uint64_t *base = vmk_map_anon(as, npages * 4096, VMK_PROT_READ | VMK_PROT_WRITE);
        for (size_t p = 0; p < npages; p++)
            base[p * 512] = pio_pattern(p);
        struct vmk_page_info pi;
        vmk_page_info(as, (const void *)base, &pi);
        if (pi.state != VMK_PAGE_SWAPPED)
            _exit(3);
        vmk_inject_fault(sys, VMK_INJECT_SWAP_READ, 1);
        uint64_t v = base[0];                     /* must die here */
        fprintf(stderr, "read %#llx instead of dying\n", (unsigned long long)v);
        _exit(4);
    }
    int status;
    waitpid(pid, &status, 0);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGBUS)
        FAIL("child: status %#x, want death by SIGBUS", status);
}

int main(void)
{
    write_failure_keeps_data();
    read_failure_is_sigbus();
    printf("ok: write errors keep pages, read errors give SIGBUS\n");
    return 0;
}
