/*
 * test_policy_fifo: both replacement policies keep data right, and clock
 * earns its keep.
 *   - the same workload under "fifo" and "clock" (2 MiB budget, 8 MiB
 *     region; a sequential fill, random rewrites tracked in a shadow
 *     version table, random read-verifies, a full verification) is right
 *     word for word under both;
 *   - a hot set (a quarter of the budget, in its own space) is touched
 *     between every chunk of a sequential scan over a cold region 4x the
 *     budget.  FIFO evicts hot pages as they age no matter how used they
 *     are; clock sees their reference bits and keeps them.  The hot space's
 *     major faults under clock must be at most those under fifo (both
 *     printed), and fifo must show some (else the workload proves nothing).
 * Load control is off, so no pause muddies the comparison.
 */
#include <vmkit.h>
#include "check.h"

#define LIMIT ((size_t)2 << 20)

static vmk_system *open_policy(const char *policy, int load_control)
{
    vmk_config c = vmk_config_default();
    c.memory_limit = LIMIT;
    c.policy = policy;
    c.load_control = load_control;
    vmk_system *s;
    int r = vmk_system_open(&s, &c);
    CHECK(r == 0, "open with policy %s: %s", policy, vmk_strerror(r));
    return s;
}

static void verify_workload(const char *policy)
{
    vmk_system *s = open_policy(policy, 1);
    vmk_space *as = new_space(s);
    size_t n = 4 * LIMIT / TPAGE;
    unsigned char *m = vmk_map_anon(as, n * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(m, "map");
    uint32_t *ver = calloc(n, sizeof *ver);
    for (size_t p = 0; p < n; p++)
        fill_page(m + p * TPAGE, ver[p] = 1, p);
    uint64_t seed = 7, rng = splitmix64(&seed);
    size_t bad = 0;
    for (int op = 0; op < 20000; op++) {
        uint64_t r = xorshift64(&rng);
        size_t p = (r >> 4) % n;
        if (r % 4 == 0)
            fill_page(m + p * TPAGE, ++ver[p], p);
        else
            bad += verify_page(m + p * TPAGE, ver[p], p, policy);
    }
    for (size_t p = 0; p < n; p++)
        bad += verify_page(m + p * TPAGE, ver[p], p, policy);
    CHECK(bad == 0, "policy %s: %zu words wrong", policy, bad);
    vmk_stats st = get_stats(s);
    CHECK(st.resident_peak <= st.frames_total && st.sigbus == 0, "policy %s: peak %llu sigbus %llu",
          policy, ULL(st.resident_peak), ULL(st.sigbus));
    CHECK(st.pages_swapped_out >= n - st.frames_total, "policy %s: too little paging", policy);
    printf("policy %s: workload right (%llu faults, %llu major, %llu out)\n", policy, ULL(st.faults),
           ULL(st.faults_major), ULL(st.pages_swapped_out));
    free(ver);
    vmk_system_close(s);
}

/* Major faults of the hot space under the policy. */
static uint64_t hot_cold(const char *policy, uint64_t *cold_major)
{
    vmk_system *s = open_policy(policy, 0);
    vmk_space *hot_as = new_space(s), *cold_as = new_space(s);
    size_t frames = LIMIT / TPAGE, hot = frames / 4, cold = 4 * frames, chunk = 32;
    unsigned char *h = vmk_map_anon(hot_as, hot * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    unsigned char *c = vmk_map_anon(cold_as, cold * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(h && c, "map");
    for (size_t p = 0; p < hot; p++)
        fill_page(h + p * TPAGE, 1, p);
    for (size_t p = 0; p < cold; p++)
        ((uint64_t *)(c + p * TPAGE))[1] = pattern(2, p, 1);
    vmk_stats h0 = get_space_stats(hot_as), c0 = get_space_stats(cold_as);
    size_t bad = 0;
    for (int sweep = 0; sweep < 3; sweep++)
        for (size_t start = 0; start < cold; start += chunk) {
            for (size_t p = 0; p < hot; p++) {
                const volatile uint64_t *w = (const volatile uint64_t *)(h + p * TPAGE);
                bad += w[p % TWORDS] != pattern(1, p, p % TWORDS);
            }
            for (size_t p = start; p < start + chunk; p++) {
                const volatile uint64_t *w = (const volatile uint64_t *)(c + p * TPAGE);
                bad += w[1] != pattern(2, p, 1) || w[0] != 0;
            }
        }
    for (size_t p = 0; p < hot; p++)
        bad += verify_page(h + p * TPAGE, 1, p, "hot set at the end");
    CHECK(bad == 0, "policy %s: %zu wrong words in the hot/cold workload", policy, bad);
    vmk_stats h1 = get_space_stats(hot_as), c1 = get_space_stats(cold_as);
    *cold_major = c1.faults_major - c0.faults_major;
    vmk_system_close(s);
    return h1.faults_major - h0.faults_major;
}

int main(void)
{
    verify_workload("fifo");
    verify_workload("clock");
    uint64_t cold_fifo, cold_clock;
    uint64_t fifo = hot_cold("fifo", &cold_fifo);
    uint64_t clock = hot_cold("clock", &cold_clock);
    printf("hot set of %zu pages between chunks of a cold scan: major faults on the hot set: fifo %llu, "
           "clock %llu (cold region: fifo %llu, clock %llu)\n",
           LIMIT / TPAGE / 4, ULL(fifo), ULL(clock), ULL(cold_fifo), ULL(cold_clock));
    CHECK(fifo > 0, "fifo never evicted the hot set: the workload does not discriminate");
    CHECK(clock <= fifo, "clock took more major faults on the hot set (%llu) than fifo (%llu)", ULL(clock),
          ULL(fifo));
    printf("ok: both policies right; clock kept the hot set better\n");
    return 0;
}
