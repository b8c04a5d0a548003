/*
 * test_refaults: the refault counter tells thrashing from cold misses.
 * Cycling through a region a little larger than the budget evicts every
 * page shortly before it is needed again: nearly every major fault is a
 * refault.  Cycling through a region eight times the budget brings back
 * pages that were evicted long ago: almost none is.
 */
#include <vmkit.h>
#include "check.h"

static void cycle(size_t budget_pages, size_t region_pages, double *ratio)
{
    vmk_config cfg = vmk_config_default();
    cfg.memory_limit = budget_pages * 4096;
    cfg.fault_around = 1;
    vmk_system *sys;
    int r = vmk_system_open(&sys, &cfg);
    CHECK(r == 0, "open: %s", vmk_strerror(r));
    vmk_space *as;
    vmk_space_create(sys, &as);
    volatile uint64_t *m = vmk_map_anon(as, region_pages * 4096, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(m, "map");
    for (size_t p = 0; p < region_pages; p++)
        m[p * 512] = p;
    vmk_stats a, b;
    vmk_stats_get(sys, &a);
    for (int pass = 0; pass < 3; pass++)
        for (size_t p = 0; p < region_pages; p++)
            CHECK(m[p * 512] == p, "page %zu", p);
    vmk_stats_get(sys, &b);
    uint64_t majors = b.faults_major - a.faults_major, refaults = b.refaults - a.refaults;
    CHECK(majors > region_pages, "too few major faults (%llu) to judge", (unsigned long long)majors);
    *ratio = (double)refaults / (double)majors;
    printf("budget %zu pages, region %zu pages: %llu major faults, %llu refaults (%.0f%%)\n",
           budget_pages, region_pages, (unsigned long long)majors, (unsigned long long)refaults,
           *ratio * 100);
    vmk_system_close(sys);
}

int main(void)
{
    double tight, cold;
    cycle(512, 640, &tight);
    cycle(512, 4096, &cold);
    CHECK(tight > 0.5, "a working set just over the budget: only %.0f%% refaults", tight * 100);
    CHECK(cold < 0.1, "a region 8x the budget: %.0f%% refaults", cold * 100);
    return 0;
}
