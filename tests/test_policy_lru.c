/*
 * test_policy_lru: data stays right under the "lru" policy through heavy
 * eviction - a region 4x the budget filled, rewritten and verified at
 * random, from one thread and then from four (see policy_workload.h).
 */
#include "policy_workload.h"

int main(void)
{
    policy_verify("lru");
    printf("ok: lru keeps every word right\n");
    return 0;
}
