/*
 * test_policy_wsclock: data stays right under "wsclock" through heavy
 * eviction - a region 4x the budget filled, rewritten and verified at
 * random, from one thread and then from four (see policy_workload.h) - with
 * the default window (tau = frames, in faults: mostly the oldest-first
 * fallback under this workload) and with a short one (tau = 16 faults: the
 * working-set rule and the dirty-page scheduling decide).  The policy name
 * takes its window as "wsclock:TAU"; malformed names are refused.
 */
#include "policy_workload.h"

int main(void)
{
    const char *bad[] = { "wsclock:", "wsclock:0", "wsclock:x", "wsclock:12x", "wsclock:1:2",
                          "lru:4", "fifo:1", "wsclock:99999999999999999999" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vmk_config c = vmk_config_default();
        c.memory_limit = PW_LIMIT;
        c.policy = bad[i];
        vmk_system *s = NULL;
        int r = vmk_system_open(&s, &c);
        CHECK(r == -EINVAL, "policy \"%s\": %s, want EINVAL", bad[i], vmk_strerror(r));
    }
    policy_verify("wsclock");
    policy_verify("wsclock:16");
    printf("ok: wsclock keeps every word right (default and short window)\n");
    return 0;
}
