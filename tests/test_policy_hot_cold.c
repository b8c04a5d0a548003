/*
 * test_policy_hot_cold: every policy that uses references keeps a hot set
 * that FIFO loses.  A hot set (a quarter of the budget, in its own space) is
 * touched between every chunk of a sequential scan over a cold region 4x
 * the budget (policy_workload.h).  FIFO evicts hot pages as they age,
 * however much they are used, so the hot space takes major faults; clock,
 * lru (aging), wsclock and s3fifo see the hot pages' reference bits and must
 * each take strictly fewer major faults on the hot set than FIFO.  All the
 * figures are printed.
 */
#include "policy_workload.h"

int main(void)
{
    const char *pol[] = { "clock", "lru", "wsclock", "s3fifo" };
    uint64_t cold_fifo, fifo = policy_hot_cold("fifo", &cold_fifo);
    printf("hot set of %zu pages between chunks of a cold scan of %zu pages, 3 sweeps:\n",
           PW_LIMIT / TPAGE / 4, 4 * PW_LIMIT / TPAGE);
    printf("  %-8s hot-set major faults %6llu   (cold region %llu)\n", "fifo", ULL(fifo),
           ULL(cold_fifo));
    CHECK(fifo > 0, "fifo never evicted the hot set: the workload does not discriminate");
    for (size_t i = 0; i < sizeof pol / sizeof pol[0]; i++) {
        uint64_t cold, hot = policy_hot_cold(pol[i], &cold);
        printf("  %-8s hot-set major faults %6llu   (cold region %llu)\n", pol[i], ULL(hot),
               ULL(cold));
        EXPECT(hot < fifo, "%s took %llu major faults on the hot set, fifo %llu", pol[i], ULL(hot),
               ULL(fifo));
    }
    EXPECT_DONE();
    printf("ok: every reference-using policy kept the hot set better than fifo\n");
    return 0;
}
