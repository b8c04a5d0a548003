/*
 * test_demand_zero: fresh anonymous memory is demand-zero.
 *   - every page of a new mapping is VMK_PAGE_NONE (no slot, no refs, not
 *     mapped) before it is touched, and reads as zeros;
 *   - an isolated touch makes that page RESIDENT and, as the header promises,
 *     only that page (its neighbours stay NONE);
 *   - the counters show zero-fill faults and no I/O;
 *   - with fault_around 1, N sequential first reads are N faults and N zero
 *     fills; with the default window the same scan needs far fewer faults;
 *   - a read-only mapping reads zeros;
 *   - a region 4x the budget, only read, reads zeros all through eviction,
 *     and writes into zero pages land where they were made (everything else
 *     still zero).
 */
#include <vmkit.h>
#include "check.h"

#define LIMIT ((size_t)4 << 20)

static void expect_zero(const unsigned char *p, size_t pages, const char *what)
{
    for (size_t pg = 0; pg < pages; pg++) {
        const volatile uint64_t *w = (const volatile uint64_t *)(p + pg * TPAGE);
        for (size_t i = 0; i < TWORDS; i++)
            CHECK(w[i] == 0, "%s: page %zu word %zu is %#llx, not zero", what, pg, i, ULL(w[i]));
    }
}

static vmk_system *open_fa(unsigned fault_around)
{
    vmk_config c = vmk_config_default();
    c.memory_limit = LIMIT;
    c.fault_around = fault_around;
    vmk_system *s;
    int r = vmk_system_open(&s, &c);
    CHECK(r == 0, "open(fault_around %u): %s", fault_around, vmk_strerror(r));
    return s;
}

/* Sequential first reads of n pages; returns the faults they took. */
static uint64_t sequential_scan_faults(unsigned fault_around, size_t n, uint64_t *zero_filled)
{
    vmk_system *s = open_fa(fault_around);
    vmk_space *as = new_space(s);
    unsigned char *m = vmk_map_anon(as, n * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(m, "map");
    vmk_stats a = get_stats(s);
    for (size_t p = 0; p < n; p++)
        CHECK(((volatile uint64_t *)(m + p * TPAGE))[7] == 0, "fa %u: page %zu not zero", fault_around, p);
    vmk_stats b = get_stats(s);
    for (size_t p = 0; p < n; p++)
        CHECK(get_info(as, m + p * TPAGE).state == VMK_PAGE_RESIDENT,
              "fa %u: page %zu not resident after a scan that fits the budget", fault_around, p);
    expect_zero(m, n, "sequential scan");
    *zero_filled = b.pages_zero_filled - a.pages_zero_filled;
    CHECK(b.faults_major == a.faults_major && b.pages_swapped_in == a.pages_swapped_in,
          "fa %u: zero pages needed swap reads", fault_around);
    vmk_system_close(s);
    return b.faults - a.faults;
}

int main(void)
{
    vmk_system *s = open_fa(64);
    vmk_space *as = new_space(s);
    size_t n = 256;
    unsigned char *m = vmk_map_anon(as, n * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(m, "vmk_map_anon: %s", strerror(errno));
    CHECK(((uintptr_t)m & (TPAGE - 1)) == 0, "mapping %p not page-aligned", (void *)m);

    for (size_t p = 0; p < n; p++) {
        struct vmk_page_info pi = get_info(as, m + p * TPAGE + (p % TPAGE));
        CHECK(pi.state == VMK_PAGE_NONE, "untouched page %zu: state %d, want NONE", p, pi.state);
        CHECK(pi.swap_slot == -1 && pi.swap_refs == 0, "untouched page %zu: slot %lld refs %u", p,
              (long long)pi.swap_slot, pi.swap_refs);
        CHECK(!pi.mapped && !pi.dirty, "untouched page %zu: mapped %d dirty %d", p, pi.mapped, pi.dirty);
        CHECK(pi.prot == (VMK_PROT_READ | VMK_PROT_WRITE), "page %zu: prot %d", p, pi.prot);
    }
    vmk_stats st0 = get_stats(s);
    CHECK(st0.resident == 0 && st0.pages_zero_filled == 0 && st0.faults == 0,
          "a fresh system has resident %llu zero-filled %llu faults %llu", ULL(st0.resident),
          ULL(st0.pages_zero_filled), ULL(st0.faults));

    /* One isolated read in the middle. */
    size_t mid = 100;
    CHECK(((volatile uint64_t *)(m + mid * TPAGE))[3] == 0, "first read of page %zu not zero", mid);
    struct vmk_page_info pi = get_info(as, m + mid * TPAGE);
    CHECK(pi.state == VMK_PAGE_RESIDENT, "touched page: state %d, want RESIDENT", pi.state);
    CHECK(pi.swap_slot == -1, "a zero-filled page has swap slot %lld", (long long)pi.swap_slot);
    for (size_t p = 0; p < n; p++)
        if (p != mid)
            CHECK(get_info(as, m + p * TPAGE).state == VMK_PAGE_NONE,
                  "isolated touch of page %zu made page %zu resident too", mid, p);
    vmk_stats st1 = get_stats(s);
    CHECK(st1.pages_zero_filled == 1, "isolated touch: %llu pages zero-filled, want 1",
          ULL(st1.pages_zero_filled));
    CHECK(st1.faults >= 1 && st1.faults_minor >= 1 && st1.faults_major == 0,
          "isolated touch: faults %llu minor %llu major %llu", ULL(st1.faults), ULL(st1.faults_minor),
          ULL(st1.faults_major));
    CHECK(st1.resident >= 1 && st1.pages_swapped_in == 0 && st1.pages_swapped_out == 0,
          "isolated touch: resident %llu in %llu out %llu", ULL(st1.resident),
          ULL(st1.pages_swapped_in), ULL(st1.pages_swapped_out));
    vmk_stats sp = get_space_stats(as);
    CHECK(sp.pages_zero_filled == 1 && sp.faults == st1.faults, "space counters: zero %llu faults %llu",
          ULL(sp.pages_zero_filled), ULL(sp.faults));

    /* A write into the touched page, then the whole mapping: only the
     * written words are non-zero. */
    uint64_t *w = (uint64_t *)(m + mid * TPAGE);
    w[5] = pattern(1, mid, 5);
    w[TWORDS - 1] = pattern(1, mid, TWORDS - 1);
    for (size_t p = 0; p < n; p++) {
        const volatile uint64_t *q = (const volatile uint64_t *)(m + p * TPAGE);
        for (size_t i = 0; i < TWORDS; i++) {
            uint64_t want = (p == mid && (i == 5 || i == TWORDS - 1)) ? pattern(1, mid, i) : 0;
            CHECK(q[i] == want, "page %zu word %zu: %#llx want %#llx", p, i, ULL(q[i]), ULL(want));
        }
    }
    vmk_stats st2 = get_stats(s);
    CHECK(st2.pages_zero_filled >= n && st2.pages_zero_filled <= n + 64,
          "reading %zu pages zero-filled %llu", n, ULL(st2.pages_zero_filled));
    CHECK(get_info(as, m + mid * TPAGE).dirty == 1 || get_info(as, m + mid * TPAGE).swap_slot == -1,
          "written page neither dirty nor slotless");

    /* A read-only mapping reads zeros. */
    unsigned char *ro = vmk_map_anon(as, 16 * TPAGE, VMK_PROT_READ);
    CHECK(ro, "map read-only");
    CHECK(get_info(as, ro).prot == VMK_PROT_READ, "read-only mapping: prot %d", get_info(as, ro).prot);
    expect_zero(ro, 16, "read-only mapping");
    vmk_system_close(s);

    /* Strict demand paging against the default fault-around window. */
    size_t scan = 512;
    uint64_t z1, z64;
    uint64_t f1 = sequential_scan_faults(1, scan, &z1);
    uint64_t f64 = sequential_scan_faults(64, scan, &z64);
    printf("sequential first reads of %zu pages: %llu faults with fault_around 1, %llu with 64\n",
           scan, ULL(f1), ULL(f64));
    CHECK(f1 == scan && z1 == scan, "fault_around 1: %llu faults, %llu zero fills, want %zu each",
          ULL(f1), ULL(z1), scan);
    CHECK(z64 == scan, "fault_around 64: %llu zero fills for %zu pages", ULL(z64), scan);
    CHECK(f64 <= scan / 4, "fault_around 64 did not batch a sequential scan: %llu faults", ULL(f64));

    /* Zeros through eviction: read a region 4x the budget, twice, with a few
     * writes sprinkled in. */
    s = open_fa(64);
    as = new_space(s);
    size_t big = 4 * LIMIT / TPAGE;
    m = vmk_map_anon(as, big * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(m, "map big");
    expect_zero(m, big, "big region, first read");
    for (size_t p = 0; p < big; p += 97)
        ((uint64_t *)(m + p * TPAGE))[p % TWORDS] = pattern(2, p, p % TWORDS);
    for (size_t p = 0; p < big; p++) {
        const volatile uint64_t *q = (const volatile uint64_t *)(m + p * TPAGE);
        for (size_t i = 0; i < TWORDS; i++) {
            uint64_t want = (p % 97 == 0 && i == p % TWORDS) ? pattern(2, p, i) : 0;
            CHECK(q[i] == want, "big region page %zu word %zu: %#llx want %#llx", p, i, ULL(q[i]),
                  ULL(want));
        }
    }
    vmk_stats st = get_stats(s);
    CHECK(st.pages_evicted > 0, "a region 4x the budget caused no eviction");
    CHECK(st.resident_peak <= st.frames_total, "resident peak %llu over %llu frames",
          ULL(st.resident_peak), ULL(st.frames_total));
    CHECK(st.sigbus == 0 && st.io_errors == 0, "sigbus %llu io errors %llu", ULL(st.sigbus),
          ULL(st.io_errors));
    printf("ok: demand zero (%llu zero fills, %llu evictions, %llu pages written to swap over %zu "
           "pages mostly never written)\n",
           ULL(st.pages_zero_filled), ULL(st.pages_evicted), ULL(st.pages_swapped_out), big);
    vmk_system_close(s);
    return 0;
}
