/*
 * test_policy_s3fifo: data stays right under the "s3fifo" policy through heavy
 * eviction - a region 4x the budget filled, rewritten and verified at
 * random, from one thread and then from four (see policy_workload.h).
 */
#include "policy_workload.h"

int main(void)
{
    policy_verify("s3fifo");
    printf("ok: s3fifo keeps every word right\n");
    return 0;
}
