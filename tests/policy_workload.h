/*
 * policy_workload.h - the workloads the replacement-policy tests share.
 *
 *   policy_verify(policy)   a 2 MiB budget under an 8 MiB region: a
 *       sequential fill, random rewrites tracked in a version table, random
 *       read-verifies, then the same from 4 threads at once on slices of
 *       their own, and a full verification.  Every word must be right, the
 *       budget never exceeded, and the region must really have been paged.
 *   policy_hot_cold(policy, &cold_major)
 *       a hot set (a quarter of the budget, in its own space) touched
 *       between every chunk of a sequential scan over a cold region 4x the
 *       budget, three sweeps.  Returns the hot space's major faults (and the
 *       cold space's in *cold_major); the data must be right.  A policy that
 *       uses references keeps the hot set; FIFO evicts it as it ages.
 * Load control is off in the hot/cold run, so no pause muddies the
 * comparison.
 */
#ifndef VMK_TEST_POLICY_WORKLOAD_H
#define VMK_TEST_POLICY_WORKLOAD_H

#include <vmkit.h>
#include <pthread.h>
#include "check.h"

#define PW_LIMIT ((size_t)2 << 20)

static inline vmk_system *pw_open(const char *policy, int load_control)
{
    vmk_config c = vmk_config_default();
    c.memory_limit = PW_LIMIT;
    c.policy = policy;
    c.load_control = load_control;
    vmk_system *s;
    int r = vmk_system_open(&s, &c);
    CHECK(r == 0, "open with policy %s: %s", policy, vmk_strerror(r));
    return s;
}

struct pw_thread {
    unsigned char *m;
    uint32_t *ver;
    size_t first, n;
    uint64_t seed;
    const char *policy;
    size_t bad;
};

static void *pw_thread_main(void *arg)
{
    struct pw_thread *t = arg;
    uint64_t seed = t->seed, rng = splitmix64(&seed);
    for (int op = 0; op < 6000; op++) {
        uint64_t r = xorshift64(&rng);
        size_t p = t->first + (r >> 4) % t->n;
        if (r % 3 == 0)
            fill_page(t->m + p * TPAGE, ++t->ver[p], p);
        else
            t->bad += verify_page(t->m + p * TPAGE, t->ver[p], p, t->policy);
    }
    return NULL;
}

static inline void policy_verify(const char *policy)
{
    vmk_system *s = pw_open(policy, 1);
    vmk_space *as = new_space(s);
    size_t n = 4 * PW_LIMIT / TPAGE;
    unsigned char *m = vmk_map_anon(as, n * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(m, "map");
    uint32_t *ver = calloc(n, sizeof *ver);
    CHECK(ver, "calloc");
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
    enum { NT = 4 };
    pthread_t th[NT];
    struct pw_thread t[NT];
    for (int i = 0; i < NT; i++) {
        t[i] = (struct pw_thread){ m, ver, i * (n / NT), n / NT, 100 + (uint64_t)i, policy, 0 };
        CHECK(pthread_create(&th[i], NULL, pw_thread_main, &t[i]) == 0, "pthread_create");
    }
    for (int i = 0; i < NT; i++) {
        pthread_join(th[i], NULL);
        bad += t[i].bad;
    }
    for (size_t p = 0; p < n; p++)
        bad += verify_page(m + p * TPAGE, ver[p], p, policy);
    CHECK(bad == 0, "policy %s: %zu words wrong", policy, bad);
    vmk_stats st = get_stats(s);
    CHECK(st.resident_peak <= st.frames_total && st.sigbus == 0, "policy %s: peak %llu sigbus %llu",
          policy, ULL(st.resident_peak), ULL(st.sigbus));
    CHECK(st.pages_swapped_out >= n - st.frames_total, "policy %s: too little paging", policy);
    printf("policy %s: workload right (%llu faults, %llu major, %llu out, %llu samples)\n", policy,
           ULL(st.faults), ULL(st.faults_major), ULL(st.pages_swapped_out), ULL(st.ref_samples));
    free(ver);
    vmk_system_close(s);
}

static inline uint64_t policy_hot_cold(const char *policy, uint64_t *cold_major)
{
    vmk_system *s = pw_open(policy, 0);
    vmk_space *hot_as = new_space(s), *cold_as = new_space(s);
    size_t frames = PW_LIMIT / TPAGE, hot = frames / 4, cold = 4 * frames, chunk = 32;
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

#endif
