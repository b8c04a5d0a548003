/*
 * test_swap_cache: a page read back from swap keeps its slot while clean, so
 * evicting it again costs no write; writing it makes it dirty and the next
 * eviction must write the new data (never drop it for the stale copy).
 *   - fill 4x the limit, read everything back (clean swap-ins); a page just
 *     read in is RESIDENT, not dirty, with its slot;
 *   - read everything again: many clean pages dropped, almost no new writes;
 *   - a first write to a resident clean page is a wp fault and makes the
 *     page dirty;
 *   - write a new version everywhere: at least pages - frames writes; read
 *     it all back twice: the new version, word for word (no stale copies).
 */
#include <vmkit.h>
#include "check.h"

#define LIMIT ((size_t)4 << 20)

static size_t verify_all(unsigned char *m, size_t n, uint64_t v, const char *what)
{
    size_t bad = 0;
    for (size_t p = 0; p < n; p++)
        bad += verify_page(m + p * TPAGE, v, p, what);
    return bad;
}

int main(void)
{
    vmk_system *s = open_system(LIMIT * test_scale(), NULL);
    vmk_space *as = new_space(s);
    vmk_stats st = get_stats(s);
    size_t frames = st.frames_total, n = 4 * frames;
    unsigned char *m = vmk_map_anon(as, n * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(m, "map");
    for (size_t p = 0; p < n; p++)
        fill_page(m + p * TPAGE, 1, p);
    vmk_stats s1 = get_stats(s);

    CHECK(verify_all(m, n, 1, "first read") == 0, "first read wrong");
    vmk_stats s2 = get_stats(s);
    /* The last pages read came in from swap: clean and still in their slots. */
    size_t cached = 0;
    for (size_t p = n - 64; p < n; p++) {
        struct vmk_page_info pi = get_info(as, m + p * TPAGE);
        if (pi.state == VMK_PAGE_RESIDENT && pi.swap_slot >= 0) {
            cached++;
            CHECK(!pi.dirty && pi.swap_refs >= 1, "page %zu read in from swap: dirty %d refs %u", p,
                  pi.dirty, pi.swap_refs);
        }
    }
    CHECK(cached > 0, "none of the last 64 pages read is resident with its swap slot");

    CHECK(verify_all(m, n, 1, "second read") == 0, "second read wrong");
    vmk_stats s3 = get_stats(s);
    uint64_t dropped = s3.pages_dropped_clean - s2.pages_dropped_clean;
    uint64_t written = s3.pages_swapped_out - s2.pages_swapped_out;
    printf("fill: %llu out; first read: %llu in, %llu out, %llu dropped clean; second read: %llu in, "
           "%llu out, %llu dropped clean\n",
           ULL(s1.pages_swapped_out), ULL(s2.pages_swapped_in - s1.pages_swapped_in),
           ULL(s2.pages_swapped_out - s1.pages_swapped_out),
           ULL(s2.pages_dropped_clean - s1.pages_dropped_clean), ULL(s3.pages_swapped_in - s2.pages_swapped_in),
           ULL(written), ULL(dropped));
    CHECK(dropped >= (n - frames) / 2, "second read: only %llu clean drops for %zu pages over %zu frames",
          ULL(dropped), n, frames);
    CHECK(written <= n / 20, "second read of clean pages wrote %llu pages to swap", ULL(written));
    CHECK(s3.pages_swapped_in - s2.pages_swapped_in >= n - frames, "second read swapped in only %llu",
          ULL(s3.pages_swapped_in - s2.pages_swapped_in));

    /* A first write to a resident clean page: wp fault, dirty. */
    size_t tried = 0;
    for (size_t k = 0; k < n && tried < 8; k++) {
        size_t p = n - 1 - k;                          /* the newest pages first */
        (void)*(volatile uint64_t *)(m + p * TPAGE);  /* resident and mapped now, if it can be */
        struct vmk_page_info pi = get_info(as, m + p * TPAGE);
        if (pi.state != VMK_PAGE_RESIDENT || pi.dirty || !pi.mapped)
            continue;
        vmk_stats b = get_stats(s);
        ((uint64_t *)(m + p * TPAGE))[0] = pattern(1, p, 0);        /* same value: still a write */
        vmk_stats a = get_stats(s);
        pi = get_info(as, m + p * TPAGE);
        if (pi.state != VMK_PAGE_RESIDENT)
            continue;                                  /* evicted under us */
        CHECK(pi.dirty, "page %zu after a write: not dirty", p);
        CHECK(a.wp_faults > b.wp_faults, "first write to clean page %zu: no wp fault", p);
        tried++;
    }
    CHECK(tried > 0, "no resident, mapped, clean page to write to");

    /* Version 2 everywhere; every page must be written out again. */
    vmk_stats s4 = get_stats(s);
    for (size_t p = 0; p < n; p++)
        fill_page(m + p * TPAGE, 2, p);
    size_t bad = verify_all(m, n, 2, "version 2, first read");
    bad += verify_all(m, n, 2, "version 2, second read");
    CHECK(bad == 0, "%zu words wrong after rewriting (a stale swap copy?)", bad);
    vmk_stats s5 = get_stats(s);
    CHECK(s5.pages_swapped_out - s4.pages_swapped_out >= n - frames,
          "rewriting %zu pages wrote only %llu to swap", n, ULL(s5.pages_swapped_out - s4.pages_swapped_out));
    CHECK(s5.sigbus == 0 && s5.io_errors == 0 && s5.resident_peak <= s5.frames_total,
          "sigbus %llu io %llu peak %llu", ULL(s5.sigbus), ULL(s5.io_errors), ULL(s5.resident_peak));
    CHECK(s5.swap_used <= n, "swap used %llu for %zu pages", ULL(s5.swap_used), n);
    vmk_system_close(s);
    printf("ok: clean pages dropped, not rewritten; written pages written again and right\n");
    return 0;
}
