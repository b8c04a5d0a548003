/*
 * test_core_smoke: the core loop end to end.  Four threads write a pattern to
 * a region 16x the frame budget, then every page is read back through
 * eviction and swap-in and compared word by word; page_info and the counters
 * must tell the same story (pages swapped out and in, the peak within the
 * budget, never-touched pages reported NONE).
 */
#include <vmkit.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"

enum { THREADS = 4, WORDS = 512 };
static unsigned char *base;
static size_t npages;

static uint64_t smoke_pattern(size_t page, size_t word) { return (page * 0x9E3779B97F4A7C15ull) ^ (word * 31 + 7); }

static void *writer(void *arg)
{
    long id = (long)arg;
    for (size_t p = (size_t)id; p < npages; p += THREADS) {
        uint64_t *w = (uint64_t *)(base + p * 4096);
        for (size_t i = 0; i < WORDS; i += 37)
            w[i] = smoke_pattern(p, i);
    }
    return NULL;
}

int main(void)
{
    vmk_config cfg = vmk_config_default();
    cfg.memory_limit = 4 << 20;
    vmk_system *sys;
    int r = vmk_system_open(&sys, &cfg);
    if (r)
        FAIL("vmk_system_open: %s", vmk_strerror(r));
    vmk_space *as;
    if ((r = vmk_space_create(sys, &as)))
        FAIL("vmk_space_create: %s", vmk_strerror(r));
    size_t len = (size_t)64 << 20;
    npages = len / 4096;
    base = vmk_map_anon(as, len + 65 * 4096, VMK_PROT_READ | VMK_PROT_WRITE);
    if (!base)
        FAIL("vmk_map_anon failed");

    struct vmk_page_info pi;
    if (vmk_page_info(as, base, &pi) || pi.state != VMK_PAGE_NONE || pi.swap_slot != -1)
        FAIL("untouched page not NONE");

    pthread_t th[THREADS];
    for (long i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, writer, (void *)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);

    if (vmk_page_info(as, base, &pi) || pi.state != VMK_PAGE_SWAPPED || pi.swap_slot < 0 ||
        pi.swap_refs != 1)
        FAIL("page 0 after the fill: state %d slot %lld refs %u (want swapped, one ref)",
             pi.state, (long long)pi.swap_slot, pi.swap_refs);
    /* 64 pages past the last touched one: beyond any fault-around window. */
    if (vmk_page_info(as, base + len + 64 * 4096, &pi) || pi.state != VMK_PAGE_NONE)
        FAIL("the never-touched last page is not NONE");

    size_t bad = 0;
    for (size_t p = 0; p < npages; p++) {
        const uint64_t *w = (const uint64_t *)(base + p * 4096);
        for (size_t i = 0; i < WORDS; i++) {
            uint64_t want = i % 37 == 0 ? smoke_pattern(p, i) : 0;
            if (w[i] != want && bad++ < 5)
                fprintf(stderr, "page %zu word %zu: %#llx, want %#llx\n", p, i,
                        (unsigned long long)w[i], (unsigned long long)want);
        }
    }
    if (bad)
        FAIL("%zu words wrong", bad);

    vmk_stats st;
    vmk_stats_get(sys, &st);
    if (st.pages_swapped_out < npages / 2 || st.pages_swapped_in < npages / 2)
        FAIL("too little paging: out %llu in %llu", (unsigned long long)st.pages_swapped_out,
             (unsigned long long)st.pages_swapped_in);
    if (st.resident_peak > st.frames_total || st.resident > st.frames_total)
        FAIL("resident peak %llu over %llu frames", (unsigned long long)st.resident_peak,
             (unsigned long long)st.frames_total);
    if (st.sigbus || st.io_errors)
        FAIL("sigbus %llu io errors %llu", (unsigned long long)st.sigbus,
             (unsigned long long)st.io_errors);
    /* A second read pass: the pages read back are clean with a valid swap
     * copy, so evicting them must drop them, not write them again. */
    vmk_stats before2;
    vmk_stats_get(sys, &before2);
    volatile uint64_t sink = 0;
    for (size_t p = 0; p < npages; p++)
        sink += ((const uint64_t *)(base + p * 4096))[0];
    vmk_stats_get(sys, &st);
    if (st.pages_dropped_clean - before2.pages_dropped_clean < npages / 2)
        FAIL("clean pages were not dropped: %llu", (unsigned long long)(st.pages_dropped_clean -
                                                                           before2.pages_dropped_clean));
    if (st.pages_swapped_out - before2.pages_swapped_out > npages / 10)
        FAIL("clean pages were written again: %llu", (unsigned long long)(st.pages_swapped_out -
                                                                             before2.pages_swapped_out));
    vmk_stats sp;
    vmk_space_stats(as, &sp);
    if (sp.faults != st.faults || sp.pages_swapped_in != st.pages_swapped_in)
        FAIL("space counters differ from the system's with one space");

    if ((r = vmk_unmap(as, base, len + 65 * 4096)))
        FAIL("vmk_unmap: %s", vmk_strerror(r));
    vmk_stats_get(sys, &st);
    if (st.resident != 0 || st.swap_used != 0)
        FAIL("after unmap: resident %llu swap used %llu", (unsigned long long)st.resident,
             (unsigned long long)st.swap_used);
    vmk_system_close(sys);
    printf("ok: %zu pages through a %zu-frame budget, 4 threads\n", npages, (size_t)(4 << 20) / 4096);
    return 0;
}
