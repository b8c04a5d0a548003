/*
 * test_policy_fifo: both replacement policies keep data right, and clock
 * earns its keep.
 *   - the same workload under "fifo" and "clock" (2 MiB budget, 8 MiB
 *     region; a sequential fill, random rewrites tracked in a shadow
 *     version table, random read-verifies, the same from 4 threads, a full
 *     verification: tests/policy_workload.h) is right
 *     word for word under both;
 *   - a hot set (a quarter of the budget, in its own space) is touched
 *     between every chunk of a sequential scan over a cold region 4x the
 *     budget.  FIFO evicts hot pages as they age no matter how used they
 *     are; clock sees their reference bits and keeps them.  The hot space's
 *     major faults under clock must be at most those under fifo (both
 *     printed), and fifo must show some (else the workload proves nothing).
 * Load control is off, so no pause muddies the comparison.
 */
#include "policy_workload.h"

int main(void)
{
    policy_verify("fifo");
    policy_verify("clock");
    uint64_t cold_fifo, cold_clock;
    uint64_t fifo = policy_hot_cold("fifo", &cold_fifo);
    uint64_t clock = policy_hot_cold("clock", &cold_clock);
    printf("hot set of %zu pages between chunks of a cold scan: major faults on the hot set: fifo %llu, "
           "clock %llu (cold region: fifo %llu, clock %llu)\n",
           PW_LIMIT / TPAGE / 4, ULL(fifo), ULL(clock), ULL(cold_fifo), ULL(cold_clock));
    CHECK(fifo > 0, "fifo never evicted the hot set: the workload does not discriminate");
    CHECK(clock <= fifo, "clock took more major faults on the hot set (%llu) than fifo (%llu)", ULL(clock),
          ULL(fifo));
    printf("ok: both policies right; clock kept the hot set better\n");
    return 0;
}
