/*
 * test_unmap_protect: vmk_unmap and vmk_protect over ranges, with pages both
 * resident and in swap (kswapd off, so the counters move only when the test
 * does something):
 *   - unmapping the middle half of a mapping releases exactly the frames and
 *     swap slots its pages held (resident and swap_used drop by what
 *     page_info said those pages had), its pages become -EFAULT to
 *     page_info, and the two remaining pieces read back right through
 *     eviction;
 *   - protect(READ) of a range keeps its data (through eviction) and marks
 *     exactly that range READ; protect back to RW allows new writes;
 *   - an unmap straddling the boundary of two VMAs made by protect works and
 *     leaves the neighbours intact;
 *   - a new mapping after unmap reads zeros (never the old data or an old
 *     swap copy), takes data and verifies;
 *   - unmapping everything leaves nothing resident and no swap in use.
 */
#include <vmkit.h>
#include "check.h"

#define LIMIT ((size_t)2 << 20)

static vmk_system *s;
static vmk_space *as;

/* Pages of [lo, hi) holding a frame / a swap slot, per page_info. */
static void holdings(unsigned char *m, size_t lo, size_t hi, uint64_t *res, uint64_t *slots)
{
    *res = *slots = 0;
    for (size_t p = lo; p < hi; p++) {
        struct vmk_page_info pi = get_info(as, m + p * TPAGE);
        *res += pi.state == VMK_PAGE_RESIDENT;
        *slots += pi.swap_slot >= 0;
        CHECK(pi.swap_slot < 0 || pi.swap_refs == 1, "page %zu: slot refs %u", p, pi.swap_refs);
    }
}

static size_t verify_range(unsigned char *m, size_t lo, size_t hi, uint64_t ver, const char *what)
{
    size_t bad = 0;
    for (size_t p = lo; p < hi; p++)
        bad += verify_page(m + p * TPAGE, ver, p, what);
    return bad;
}

int main(void)
{
    vmk_config c = vmk_config_default();
    c.memory_limit = LIMIT;
    c.kswapd = 0;
    int r = vmk_system_open(&s, &c);
    CHECK(r == 0, "open: %s", vmk_strerror(r));
    as = new_space(s);
    size_t n = 8 * LIMIT / TPAGE;                 /* 4096 pages over 512 frames */
    unsigned char *m = vmk_map_anon(as, n * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(m, "map");
    for (size_t p = 0; p < n; p++)
        fill_page(m + p * TPAGE, 1, p);
    /* Read the middle back so that it holds clean pages with swap-cache
     * slots as well as dirty ones. */
    size_t lo = n / 4, hi = 3 * n / 4;
    CHECK(verify_range(m, hi - 300, hi, 1, "middle") == 0, "middle wrong before unmap");

    vmk_stats a = get_stats(s);
    uint64_t res_mid, slots_mid, res_all, slots_all;
    holdings(m, lo, hi, &res_mid, &slots_mid);
    holdings(m, 0, n, &res_all, &slots_all);
    CHECK(res_all == a.resident && slots_all == a.swap_used, "page_info disagrees with the counters: "
          "%llu resident / %llu slots by page_info, %llu / %llu by stats", ULL(res_all),
          ULL(slots_all), ULL(a.resident), ULL(a.swap_used));
    CHECK(res_mid > 0 && slots_mid > 0, "the middle holds %llu frames and %llu slots: set-up too small",
          ULL(res_mid), ULL(slots_mid));

    r = vmk_unmap(as, m + lo * TPAGE, (hi - lo) * TPAGE);
    CHECK(r == 0, "unmap the middle: %s", vmk_strerror(r));
    vmk_stats b = get_stats(s);
    printf("unmapping the middle (%llu resident, %llu slots): resident %llu -> %llu, swap used %llu -> %llu\n",
           ULL(res_mid), ULL(slots_mid), ULL(a.resident), ULL(b.resident), ULL(a.swap_used), ULL(b.swap_used));
    CHECK(b.resident == a.resident - res_mid, "resident %llu -> %llu, want a drop of %llu", ULL(a.resident),
          ULL(b.resident), ULL(res_mid));
    CHECK(b.swap_used == a.swap_used - slots_mid, "swap used %llu -> %llu, want a drop of %llu",
          ULL(a.swap_used), ULL(b.swap_used), ULL(slots_mid));
    struct vmk_page_info pi;
    for (size_t p = lo; p < hi; p += 17)
        CHECK(vmk_page_info(as, m + p * TPAGE, &pi) == -EFAULT, "unmapped page %zu still has page_info", p);
    CHECK(vmk_page_info(as, m + (lo - 1) * TPAGE, &pi) == 0 && vmk_page_info(as, m + hi * TPAGE, &pi) == 0,
          "the pages beside the hole are gone");
    size_t bad = verify_range(m, 0, lo, 1, "low piece") + verify_range(m, hi, n, 1, "high piece");
    bad += verify_range(m, 0, lo, 1, "low piece again");
    CHECK(bad == 0, "%zu words wrong in the pieces around the hole", bad);

    /* Protect a range read-only: the data stays, through eviction. */
    size_t plo = 100, phi = 600;
    r = vmk_protect(as, m + plo * TPAGE, (phi - plo) * TPAGE, VMK_PROT_READ);
    CHECK(r == 0, "protect READ: %s", vmk_strerror(r));
    for (size_t p = 0; p < lo; p++)
        CHECK(get_info(as, m + p * TPAGE).prot == (p >= plo && p < phi ? VMK_PROT_READ
                                                                      : VMK_PROT_READ | VMK_PROT_WRITE),
              "page %zu: prot %d after protecting [%zu, %zu)", p, get_info(as, m + p * TPAGE).prot, plo, phi);
    bad = verify_range(m, hi, n, 1, "high piece (evicts the protected range)") +
          verify_range(m, 0, lo, 1, "low piece with a read-only part");
    CHECK(bad == 0, "%zu words wrong after protect", bad);
    r = vmk_protect(as, m + plo * TPAGE, (phi - plo) * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(r == 0, "protect RW: %s", vmk_strerror(r));
    for (size_t p = plo; p < phi; p++)
        fill_page(m + p * TPAGE, 2, p);
    bad = verify_range(m, hi, n, 1, "high piece") + verify_range(m, 0, plo, 1, "below") +
          verify_range(m, plo, phi, 2, "rewritten after protect RW") + verify_range(m, phi, lo, 1, "above");
    CHECK(bad == 0, "%zu words wrong after protect RW and rewrite", bad);

    /* An unmap across a VMA boundary made by protect. */
    r = vmk_protect(as, m, 200 * TPAGE, VMK_PROT_READ);
    CHECK(r == 0, "protect [0,200): %s", vmk_strerror(r));
    r = vmk_unmap(as, m + 190 * TPAGE, 20 * TPAGE);
    CHECK(r == 0, "unmap [190,210) across the protect boundary: %s", vmk_strerror(r));
    CHECK(vmk_page_info(as, m + 189 * TPAGE, &pi) == 0 && pi.prot == VMK_PROT_READ, "page 189 after the unmap");
    CHECK(vmk_page_info(as, m + 210 * TPAGE, &pi) == 0 && pi.prot == (VMK_PROT_READ | VMK_PROT_WRITE),
          "page 210 after the unmap");
    CHECK(vmk_page_info(as, m + 200 * TPAGE, &pi) == -EFAULT, "page 200 still mapped");
    bad = verify_range(m, 0, 100, 1, "[0,100)") + verify_range(m, 100, 190, 2, "[100,190)") +
          verify_range(m, 210, 600, 2, "[210,600)") + verify_range(m, 600, lo, 1, "[600,lo)");
    CHECK(bad == 0, "%zu words wrong around the straddling unmap", bad);

    /* Map again: zeros, not old data. */
    vmk_stats c1 = get_stats(s);
    unsigned char *m2 = vmk_map_anon(as, (hi - lo) * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(m2, "map after unmap: %s", strerror(errno));
    for (size_t p = 0; p < hi - lo; p++) {
        const volatile uint64_t *w = (const volatile uint64_t *)(m2 + p * TPAGE);
        for (size_t i = 0; i < TWORDS; i++)
            CHECK(w[i] == 0, "new mapping page %zu word %zu is %#llx (%s)", p, i, ULL(w[i]),
                  (m2 == m + lo * TPAGE && w[i] == pattern(1, lo + p, i)) ? "the old data" : "not zero");
    }
    for (size_t p = 0; p < hi - lo; p++)
        fill_page(m2 + p * TPAGE, 3, p);
    bad = 0;
    for (size_t p = 0; p < hi - lo; p++)
        bad += verify_page(m2 + p * TPAGE, 3, p, "new mapping");
    bad += verify_range(m, hi, n, 1, "high piece, last");
    CHECK(bad == 0, "%zu words wrong in the new mapping", bad);
    vmk_stats c2 = get_stats(s);
    CHECK(c2.pages_zero_filled - c1.pages_zero_filled >= hi - lo, "the new mapping was not zero-filled "
          "(%llu fills for %zu pages)", ULL(c2.pages_zero_filled - c1.pages_zero_filled), hi - lo);

    /* Unmap everything, piece by piece. */
    CHECK(vmk_unmap(as, m, 190 * TPAGE) == 0 && vmk_unmap(as, m + 210 * TPAGE, (lo - 210) * TPAGE) == 0 &&
              vmk_unmap(as, m + hi * TPAGE, (n - hi) * TPAGE) == 0 &&
              vmk_unmap(as, m2, (hi - lo) * TPAGE) == 0,
          "unmapping the rest");
    vmk_stats z = get_stats(s);
    CHECK(z.resident == 0 && z.swap_used == 0, "after unmapping everything: resident %llu swap used %llu",
          ULL(z.resident), ULL(z.swap_used));
    CHECK(z.sigbus == 0 && z.io_errors == 0, "sigbus %llu io errors %llu", ULL(z.sigbus), ULL(z.io_errors));
    /* And the space still works. */
    unsigned char *m3 = vmk_map_anon(as, 64 * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(m3, "map at the end");
    for (size_t p = 0; p < 64; p++)
        fill_page(m3 + p * TPAGE, 4, p);
    CHECK(verify_range(m3, 0, 64, 4, "last mapping") == 0, "last mapping wrong");
    vmk_system_close(s);
    printf("ok: unmap releases exactly what the range held; protect keeps data; remap reads zeros\n");
    return 0;
}
