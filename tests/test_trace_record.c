/*
 * test_trace_record: a real run's fault trace is complete and well formed.
 * Touch pages in a known order over a small budget; the trace must hold the
 * header, one fault record per fault vmkit counted (zero-fill, swap-in,
 * minor, write-enable), an eviction record per page evicted, and the pages
 * of the fault records must be the touched pages, in order.
 */
#include <vmkit.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

struct rec { uint64_t page; uint32_t event; uint32_t time_us; };

int main(void)
{
    char path[] = "/tmp/vmk-trace-XXXXXX";
    int tfd = mkstemp(path);
    if (tfd < 0)
        FAIL("mkstemp");
    close(tfd);
    vmk_config cfg = vmk_config_default();
    cfg.memory_limit = 1 << 20;
    cfg.fault_around = 1;                   /* one fault per page: an exact reference string */
    vmk_system *sys;
    int r = vmk_system_open(&sys, &cfg);
    if (r)
        FAIL("open: %s", vmk_strerror(r));
    vmk_space *as;
    vmk_space_create(sys, &as);
    size_t npages = 1024;                   /* 4x the budget */
    volatile char *m = vmk_map_anon(as, npages * 4096, VMK_PROT_READ | VMK_PROT_WRITE);
    if ((r = vmk_trace_start(sys, path)))
        FAIL("trace start: %s", vmk_strerror(r));
    if (vmk_trace_start(sys, path) != -EBUSY)
        FAIL("a second trace start must be -EBUSY");
    for (size_t p = 0; p < npages; p++)
        m[p * 4096] = 1;
    for (size_t p = 0; p < npages; p++)
        (void)m[p * 4096];
    vmk_stats st;
    vmk_stats_get(sys, &st);
    if ((r = vmk_trace_stop(sys)))
        FAIL("trace stop: %s", vmk_strerror(r));

    FILE *f = fopen(path, "rb");
    char hdr[16];
    if (!f || fread(hdr, 1, 16, f) != 16 || memcmp(hdr, "VMKTRC01", 8))
        FAIL("bad header");
    uint32_t psize;
    memcpy(&psize, hdr + 8, 4);
    if (psize != 4096)
        FAIL("page size %u", psize);
    struct rec rc;
    uint64_t faults = 0, evictions = 0, first_touch = 0;
    uint64_t base_page = (uintptr_t)m >> 12;
    while (fread(&rc, sizeof rc, 1, f) == 1) {
        if (rc.event < 1 || rc.event > 5)
            FAIL("event %u", rc.event);
        if (rc.page >> 48 != 1)
            FAIL("space id %llu, want 1", (unsigned long long)(rc.page >> 48));
        uint64_t pg = (rc.page & ((1ull << 48) - 1)) - base_page;
        if (pg >= npages)
            FAIL("page %llu outside the mapping", (unsigned long long)pg);
        if (rc.event == 5) {
            evictions++;
            continue;
        }
        if (rc.event == 1 && pg != first_touch++)
            FAIL("zero-fill fault on page %llu, want %llu", (unsigned long long)pg,
                 (unsigned long long)(first_touch - 1));
        faults++;
    }
    fclose(f);
    unlink(path);
    if (first_touch != npages)
        FAIL("%llu zero-fill records, want %zu", (unsigned long long)first_touch, npages);
    if (faults != st.faults)
        FAIL("%llu fault records, vmkit counted %llu faults", (unsigned long long)faults,
             (unsigned long long)st.faults);
    if (evictions != st.pages_evicted)
        FAIL("%llu eviction records, %llu evictions", (unsigned long long)evictions,
             (unsigned long long)st.pages_evicted);
    vmk_system_close(sys);
    printf("ok: %llu faults and %llu evictions recorded\n", (unsigned long long)faults,
           (unsigned long long)evictions);
    return 0;
}
