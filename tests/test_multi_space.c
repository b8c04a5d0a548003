/*
 * test_multi_space: several spaces of one system, and two systems at once.
 * System A (4 MiB, clock, kswapd) has three spaces, system B (2 MiB, fifo,
 * no kswapd) two; each space maps 8 MiB and gets its own thread, which
 * writes pattern(space id, page, word), verifies, rewrites half in another
 * version and verifies again - all five at the same time, so each system's
 * frames are fought over by its spaces.  Then:
 *   - every page of every space holds its own space's data (nothing crossed);
 *   - a space cannot see another's pages (page_info -EFAULT, unmap -EINVAL);
 *   - per-space counters sum to the system's (taken when quiet);
 *   - destroying one space of A releases its frames and slots (A's resident
 *     and swap_used equal the sum of the remaining spaces) and leaves the
 *     others intact;
 *   - closing A leaves B's data intact.
 */
#include <vmkit.h>
#include "check.h"
#include <pthread.h>

#define NA 3
#define NB 2
#define NS (NA + NB)

static struct sp {
    vmk_system *sys;
    vmk_space *as;
    unsigned char *m;
    size_t n;
    uint64_t id;
} sp[NS];

static uint64_t ver(size_t s, size_t p) { return p % 2 ? sp[s].id : sp[s].id + 100; }

static void *worker(void *arg)
{
    struct sp *x = arg;
    for (size_t p = 0; p < x->n; p++)
        fill_page(x->m + p * TPAGE, x->id, p);
    size_t bad = 0;
    for (size_t p = 0; p < x->n; p++)
        bad += verify_page(x->m + p * TPAGE, x->id, p, "worker pass 1");
    for (size_t p = 0; p < x->n; p += 2)
        fill_page(x->m + p * TPAGE, x->id + 100, p);
    for (size_t p = x->n; p-- > 0;)
        bad += verify_page(x->m + p * TPAGE, p % 2 ? x->id : x->id + 100, p, "worker pass 2");
    CHECK(bad == 0, "space %llu: %zu words wrong", ULL(x->id), bad);
    return NULL;
}

static size_t verify_space(size_t s, const char *what)
{
    size_t bad = 0;
    for (size_t p = 0; p < sp[s].n; p++)
        bad += verify_page(sp[s].m + p * TPAGE, ver(s, p), p, what);
    return bad;
}

#define FIELDS(X) X(faults) X(faults_minor) X(faults_major) X(pages_zero_filled) X(pages_swapped_in) \
    X(pages_swapped_out) X(pages_evicted) X(pages_dropped_clean) X(wp_faults) X(sigbus) X(resident)  \
    X(swap_used) X(refaults)

/* Per-space counters of the spaces [from, to) sum to the system's.  Retried
 * until the system's counters are the same before and after the space reads
 * (kswapd may still be finishing a batch). */
static void sums_match(vmk_system *sys, size_t from, size_t to, const char *name)
{
    for (int attempt = 0;; attempt++) {
        vmk_stats s1 = get_stats(sys), sum, s2;
        memset(&sum, 0, sizeof sum);
        for (size_t s = from; s < to; s++) {
            if (!sp[s].as)
                continue;
            vmk_stats x = get_space_stats(sp[s].as);
            CHECK(x.frames_total == s1.frames_total && x.swap_total == s1.swap_total,
                  "space stats frames/swap totals are not the system's");
#define ADD(f) sum.f += x.f;
            FIELDS(ADD)
#undef ADD
        }
        s2 = get_stats(sys);
        int stable = 1;
#define SAME(f) stable &= s1.f == s2.f;
        FIELDS(SAME)
#undef SAME
        if (!stable) {
            CHECK(attempt < 200, "system %s never quiet", name);
            usleep(20000);
            continue;
        }
#define CMP(f) CHECK(sum.f == s1.f, "system %s: spaces' " #f " sum to %llu, the system says %llu", name, \
                     ULL(sum.f), ULL(s1.f));
        FIELDS(CMP)
#undef CMP
        printf("system %s: per-space counters sum to the system's (faults %llu, out %llu, in %llu, "
               "resident %llu)\n", name, ULL(s1.faults), ULL(s1.pages_swapped_out),
               ULL(s1.pages_swapped_in), ULL(s1.resident));
        return;
    }
}

int main(void)
{
    vmk_config ca = vmk_config_default(), cb = vmk_config_default();
    ca.memory_limit = (size_t)4 << 20;
    ca.policy = "clock";
    cb.memory_limit = (size_t)2 << 20;
    cb.policy = "fifo";
    cb.kswapd = 0;
    vmk_system *A, *B;
    int r = vmk_system_open(&A, &ca);
    CHECK(r == 0, "open A: %s", vmk_strerror(r));
    r = vmk_system_open(&B, &cb);
    CHECK(r == 0, "open B: %s", vmk_strerror(r));
    size_t n = ((size_t)8 << 20) / TPAGE * test_scale();
    for (size_t s = 0; s < NS; s++) {
        sp[s].sys = s < NA ? A : B;
        sp[s].as = new_space(sp[s].sys);
        sp[s].n = n;
        sp[s].id = s + 1;
        sp[s].m = vmk_map_anon(sp[s].as, n * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
        CHECK(sp[s].m, "map space %zu", s);
        for (size_t t = 0; t < s; t++)
            CHECK(sp[s].m + n * TPAGE <= sp[t].m || sp[t].m + n * TPAGE <= sp[s].m,
                  "mappings of spaces %zu and %zu overlap", s, t);
    }
    pthread_t th[NS];
    for (size_t s = 0; s < NS; s++)
        CHECK(pthread_create(&th[s], NULL, worker, &sp[s]) == 0, "pthread_create");
    for (size_t s = 0; s < NS; s++)
        pthread_join(th[s], NULL);

    size_t bad = 0;
    for (size_t s = 0; s < NS; s++)
        bad += verify_space(s, "main thread");
    CHECK(bad == 0, "%zu words wrong", bad);

    struct vmk_page_info pi;
    for (size_t s = 0; s < NS; s++)
        for (size_t t = 0; t < NS; t++)
            if (s != t) {
                CHECK(vmk_page_info(sp[s].as, sp[t].m, &pi) == -EFAULT,
                      "space %zu sees page_info of space %zu's page", s, t);
                CHECK(vmk_unmap(sp[s].as, sp[t].m, TPAGE) == -EINVAL,
                      "space %zu could unmap space %zu's page", s, t);
                CHECK(vmk_protect(sp[s].as, sp[t].m, TPAGE, VMK_PROT_NONE) == -EINVAL,
                      "space %zu could protect space %zu's page", s, t);
            }

    vmk_stats sa = get_stats(A), sb = get_stats(B);
    CHECK(sa.frames_total == 1024 && sb.frames_total == 512, "frames_total %llu / %llu",
          ULL(sa.frames_total), ULL(sb.frames_total));
    CHECK(sa.resident_peak <= sa.frames_total && sb.resident_peak <= sb.frames_total,
          "resident peak over budget: A %llu B %llu", ULL(sa.resident_peak), ULL(sb.resident_peak));
    CHECK(sa.sigbus == 0 && sb.sigbus == 0, "sigbus A %llu B %llu", ULL(sa.sigbus), ULL(sb.sigbus));
    CHECK(sa.pages_swapped_out > 0 && sb.pages_swapped_out > 0, "no paging in one system");
    for (size_t s = 0; s < NS; s++) {
        vmk_stats x = get_space_stats(sp[s].as);
        CHECK(x.pages_zero_filled >= n && x.pages_zero_filled <= 2 * n,
              "space %zu zero-filled %llu of its %zu pages", s, ULL(x.pages_zero_filled), n);
        CHECK(x.pages_swapped_in > 0, "space %zu has no swap-ins of its own", s);
    }
    sums_match(A, 0, NA, "A");
    sums_match(B, NA, NS, "B");

    /* Destroy the middle space of A. */
    vmk_space_destroy(sp[1].as);
    sp[1].as = NULL;
    for (int attempt = 0;; attempt++) {
        vmk_stats a = get_stats(A), x0 = get_space_stats(sp[0].as), x2 = get_space_stats(sp[2].as);
        vmk_stats a2 = get_stats(A);
        if (a.resident != a2.resident || a.swap_used != a2.swap_used) {
            CHECK(attempt < 200, "A never quiet");
            usleep(20000);
            continue;
        }
        CHECK(a.resident == x0.resident + x2.resident && a.swap_used == x0.swap_used + x2.swap_used,
              "after destroying a space: A resident %llu swap used %llu, the two left hold %llu / %llu",
              ULL(a.resident), ULL(a.swap_used), ULL(x0.resident + x2.resident),
              ULL(x0.swap_used + x2.swap_used));
        break;
    }
    bad = verify_space(0, "A after a destroy") + verify_space(2, "A after a destroy") +
          verify_space(3, "B after A's destroy");
    CHECK(bad == 0, "%zu words wrong after destroying a space", bad);

    /* A new space in A gets fresh zeros, not the destroyed one's data. */
    vmk_space *fresh = new_space(A);
    unsigned char *fm = vmk_map_anon(fresh, n * TPAGE, VMK_PROT_READ);
    CHECK(fm, "map fresh");
    for (size_t p = 0; p < n; p++)
        for (size_t i = 0; i < TWORDS; i += 64)
            CHECK(((volatile uint64_t *)(fm + p * TPAGE))[i] == 0, "fresh space page %zu not zero", p);

    vmk_system_close(A);
    bad = verify_space(3, "B after closing A") + verify_space(4, "B after closing A");
    CHECK(bad == 0, "%zu words wrong in B after closing A", bad);
    vmk_system_close(B);
    printf("ok: %d spaces in two systems, %zu pages each, nothing crossed\n", NS, n);
    return 0;
}
