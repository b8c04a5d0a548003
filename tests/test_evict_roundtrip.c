/*
 * test_evict_roundtrip: every word written comes back, through eviction to
 * swap and swap-in, on a region 8x the memory limit.
 *   - fill every page with a full-page pattern (every word checked);
 *   - after the fill, early pages are VMK_PAGE_SWAPPED with a slot >= 0, and
 *     no two swapped pages share a slot;
 *   - at least (pages - frames) pages were written out and, after reading
 *     everything back sequentially, at least that many read in;
 *   - a second version written in random order, read back in another random
 *     order, is right too (non-sequential swap-in, dirty re-eviction);
 *   - resident (now and peak) never exceeded frames_total; no SIGBUS, no
 *     I/O errors; after unmap, nothing resident and no swap in use.
 */
#include <vmkit.h>
#include "check.h"

int main(void)
{
    size_t limit = ((size_t)4 << 20) * test_scale();
    size_t npages = 8 * limit / TPAGE;
    vmk_system *s = open_system(limit, NULL);
    vmk_space *as = new_space(s);
    unsigned char *m = vmk_map_anon(as, npages * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(m, "vmk_map_anon(%zu pages): %s", npages, strerror(errno));

    for (size_t p = 0; p < npages; p++)
        fill_page(m + p * TPAGE, 1, p);
    vmk_stats st = get_stats(s);
    uint64_t frames = st.frames_total;
    CHECK(frames == limit / TPAGE, "frames_total %llu, want %zu", ULL(frames), limit / TPAGE);
    CHECK(st.pages_swapped_out >= npages - frames,
          "after writing %zu pages through %llu frames only %llu were written to swap", npages,
          ULL(frames), ULL(st.pages_swapped_out));
    CHECK(st.resident <= frames && st.resident_peak <= frames, "resident %llu peak %llu over %llu frames",
          ULL(st.resident), ULL(st.resident_peak), ULL(frames));

    /* Early pages are out, each in a slot of its own. */
    size_t early = 256, swapped = 0;
    int64_t *slots = calloc(early, sizeof *slots);
    for (size_t p = 0; p < early; p++) {
        struct vmk_page_info pi = get_info(as, m + p * TPAGE);
        CHECK(pi.state == VMK_PAGE_SWAPPED || pi.state == VMK_PAGE_RESIDENT,
              "written page %zu has state %d", p, pi.state);
        if (pi.state == VMK_PAGE_SWAPPED) {
            CHECK(pi.swap_slot >= 0 && (uint64_t)pi.swap_slot < st.swap_total,
                  "swapped page %zu: slot %lld of %llu", p, (long long)pi.swap_slot, ULL(st.swap_total));
            CHECK(pi.swap_refs >= 1, "swapped page %zu: slot refs %u", p, pi.swap_refs);
            CHECK(!pi.mapped && !pi.dirty, "swapped page %zu: mapped %d dirty %d", p, pi.mapped, pi.dirty);
            for (size_t q = 0; q < swapped; q++)
                CHECK(slots[q] != pi.swap_slot, "page %zu shares slot %lld with another page", p,
                      (long long)pi.swap_slot);
            slots[swapped++] = pi.swap_slot;
        }
    }
    free(slots);
    printf("after the fill: %zu of the first %zu pages swapped out\n", swapped, early);
    CHECK(swapped >= early / 2, "only %zu of the first %zu pages are swapped out after writing 8x "
          "the budget", swapped, early);

    size_t bad = 0;
    for (size_t p = 0; p < npages; p++)
        bad += verify_page(m + p * TPAGE, 1, p, "sequential read-back");
    CHECK(bad == 0, "%zu words wrong after the sequential read-back", bad);
    vmk_stats st2 = get_stats(s);
    CHECK(st2.pages_swapped_in >= npages - frames, "reading %zu pages back swapped in only %llu",
          npages, ULL(st2.pages_swapped_in));
    CHECK(st2.faults_major > 0, "no major faults");

    /* Version 2 in a random order, read back in another. */
    size_t *order = malloc(npages * sizeof *order);
    uint64_t seed = 42, rng;
    for (size_t i = 0; i < npages; i++)
        order[i] = i;
    rng = splitmix64(&seed);
    for (size_t i = npages - 1; i > 0; i--) {
        size_t j = xorshift64(&rng) % (i + 1), t = order[i];
        order[i] = order[j], order[j] = t;
    }
    for (size_t i = 0; i < npages; i++)
        fill_page(m + order[i] * TPAGE, 2, order[i]);
    for (size_t i = npages - 1; i > 0; i--) {
        size_t j = xorshift64(&rng) % (i + 1), t = order[i];
        order[i] = order[j], order[j] = t;
    }
    for (size_t i = 0; i < npages; i++)
        bad += verify_page(m + order[i] * TPAGE, 2, order[i], "random read-back of version 2");
    CHECK(bad == 0, "%zu words wrong after the random read-back", bad);
    free(order);
    /* Written pages are never NONE again. */
    for (size_t p = 0; p < npages; p += 7)
        CHECK(get_info(as, m + p * TPAGE).state != VMK_PAGE_NONE, "written page %zu is NONE", p);

    st = get_stats(s);
    vmk_stats_print(&st, stdout);
    CHECK(st.resident_peak <= frames, "resident peak %llu over %llu frames", ULL(st.resident_peak),
          ULL(frames));
    CHECK(st.sigbus == 0 && st.io_errors == 0 && st.swap_full == 0, "sigbus %llu io errors %llu swap "
          "full %llu", ULL(st.sigbus), ULL(st.io_errors), ULL(st.swap_full));
    CHECK(st.pages_swapped_out >= 2 * (npages - frames), "two versions: only %llu pages written out",
          ULL(st.pages_swapped_out));
    CHECK(st.swap_used <= npages, "swap used %llu for %zu pages", ULL(st.swap_used), npages);

    int r = vmk_unmap(as, m, npages * TPAGE);
    CHECK(r == 0, "unmap: %s", vmk_strerror(r));
    st = get_stats(s);
    CHECK(st.resident == 0 && st.swap_used == 0, "after unmapping everything: resident %llu swap used "
          "%llu", ULL(st.resident), ULL(st.swap_used));
    vmk_system_close(s);
    printf("ok: %zu pages (8x the budget) written twice and read back word for word\n", npages);
    return 0;
}
