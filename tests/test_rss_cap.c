/*
 * test_rss_cap: the memory limit holds as the kernel counts it.  The
 * process's VmRSS is read before the system opens (the baseline); then four
 * threads write and read back a region 32x the limit while a monitor thread
 * samples VmRSS every millisecond.  The peak growth must stay within
 *     limit + 8 MiB + 10% of the limit
 * (the slack: vmkit's page tables, core map, bounce and reclaim buffers,
 * thread stacks, stdio).  The kernel's own high-water mark (VmHWM, reset
 * through /proc/self/clear_refs after the baseline) is checked against the
 * same bound, so a spike between two samples is caught too.  Every page is
 * verified.  AddressSanitizer builds get 8 MiB more slack (shadow memory,
 * quarantine).  Under ThreadSanitizer the shadow of every touched byte is itself
 * resident, so the bound is printed but not enforced there.
 */
#include <vmkit.h>
#include "check.h"
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>

#define THREADS 4

static unsigned char *base;
static size_t npages;
static _Atomic int done;
static _Atomic long peak_kb;
static _Atomic long samples;

static void *worker(void *arg)
{
    size_t t = (size_t)(uintptr_t)arg;
    for (int round = 1; round <= 1; round++) {
        for (size_t p = t; p < npages; p += THREADS) {
            uint64_t *w = (uint64_t *)(base + p * TPAGE);
            for (size_t i = 0; i < TWORDS; i += 61)
                w[i] = pattern(round, p, i);
        }
        for (size_t p = t; p < npages; p += THREADS) {
            const volatile uint64_t *w = (const volatile uint64_t *)(base + p * TPAGE);
            for (size_t i = 0; i < TWORDS; i++) {
                uint64_t want = i % 61 == 0 ? pattern(round, p, i) : 0;
                CHECK(w[i] == want, "round %d page %zu word %zu: %#llx want %#llx", round, p, i,
                      ULL(w[i]), ULL(want));
            }
        }
    }
    return NULL;
}

static void *monitor(void *arg)
{
    (void)arg;
    while (!atomic_load(&done)) {
        long r = vmrss_kb();
        if (r > atomic_load(&peak_kb))
            atomic_store(&peak_kb, r);
        atomic_fetch_add(&samples, 1);
        usleep(1000);
    }
    return NULL;
}

/* Reset VmHWM to the current RSS (Linux >= 4.0).  0 on success. */
static int reset_hwm(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY);
    if (fd < 0)
        return -1;
    int ok = write(fd, "5", 1) == 1;
    close(fd);
    return ok ? 0 : -1;
}

int main(void)
{
    size_t limit = ((size_t)8 << 20) * test_scale();
    npages = 32 * limit / TPAGE;
    long slack_kb = 8 * 1024 + (long)(limit / 10 / 1024);
#if defined(VMK_TEST_ASAN)
    slack_kb += 8 * 1024;   /* AddressSanitizer's shadow of the metadata and its quarantine */
#endif
    long allowed_kb = (long)(limit / 1024) + slack_kb;

    /* Warm up what the baseline should include: the monitor's and workers'
     * libc paths (stdio, /proc reads) so that they are not counted as vmkit's. */
    (void)vmrss_kb();
    long before = vmrss_kb();
    CHECK(before > 0, "cannot read VmRSS");
    int hwm_ok = reset_hwm() == 0;

    vmk_system *s = open_system(limit, NULL);
    vmk_space *as = new_space(s);
    base = vmk_map_anon(as, npages * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(base, "vmk_map_anon: %s", strerror(errno));

    pthread_t th[THREADS], mon;
    CHECK(pthread_create(&mon, NULL, monitor, NULL) == 0, "pthread_create");
    for (size_t i = 0; i < THREADS; i++)
        CHECK(pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)i) == 0, "pthread_create");
    for (size_t i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    atomic_store(&done, 1);
    pthread_join(mon, NULL);

    long hwm = proc_status_kb("VmHWM:");
    long grew = atomic_load(&peak_kb) - before, hwm_grew = hwm - before;
    vmk_stats st = get_stats(s);
    printf("limit %zu kB, allowed growth %ld kB (slack %ld kB); VmRSS baseline %ld kB, sampled peak "
           "growth %ld kB over %ld samples; VmHWM growth %ld kB%s; vmkit resident peak %llu kB\n",
           limit / 1024, allowed_kb, slack_kb, before, grew, atomic_load(&samples), hwm_grew,
           hwm_ok ? "" : " (VmHWM could not be reset: not checked)", ULL(st.resident_peak * 4));

    CHECK(st.resident_peak <= st.frames_total, "resident peak %llu over %llu frames",
          ULL(st.resident_peak), ULL(st.frames_total));
    CHECK(st.pages_swapped_out >= npages - st.frames_total, "too little eviction: %llu pages out",
          ULL(st.pages_swapped_out));
    CHECK(st.sigbus == 0, "sigbus %llu", ULL(st.sigbus));
    CHECK(atomic_load(&samples) >= 10, "the monitor took only %ld samples", atomic_load(&samples));
    /* The monitor must have seen the budget in use, or it measured nothing. */
    CHECK(grew >= (long)(limit / 1024) / 4, "VmRSS grew only %ld kB with a %zu kB budget in use: "
          "is the working set really in this process?", grew, limit / 1024);
#if defined(VMK_TEST_TSAN)
    printf("VmRSS bound not enforced under ThreadSanitizer (its shadow memory is resident)\n");
#else
    CHECK(grew <= allowed_kb, "VmRSS grew %ld kB, more than limit + slack = %ld kB", grew, allowed_kb);
    if (hwm_ok)
        CHECK(hwm_grew <= allowed_kb, "VmHWM grew %ld kB, more than limit + slack = %ld kB", hwm_grew,
              allowed_kb);
#endif
    vmk_system_close(s);
    printf("ok: RSS stayed within the limit\n");
    return 0;
}
