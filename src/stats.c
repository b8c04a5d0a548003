/*
 * stats.c - reading and printing the counters.
 */
#include "internal.h"

static void fill(struct vmk_system *sys, struct vmk_counters *c, vmk_stats *out)
{
    out->faults = ctr_get(c, C_FAULTS);
    out->faults_minor = ctr_get(c, C_FAULTS_MINOR);
    out->faults_major = ctr_get(c, C_FAULTS_MAJOR);
    out->pages_zero_filled = ctr_get(c, C_ZERO_FILLED);
    out->pages_swapped_in = ctr_get(c, C_SWAPPED_IN);
    out->pages_swapped_out = ctr_get(c, C_SWAPPED_OUT);
    out->pages_evicted = ctr_get(c, C_EVICTED);
    out->pages_dropped_clean = ctr_get(c, C_DROPPED_CLEAN);
    out->ref_samples = ctr_get(c, C_REF_SAMPLES);
    out->wp_faults = ctr_get(c, C_WP_FAULTS);
    out->sigbus = ctr_get(c, C_SIGBUS);
    out->swap_full = ctr_get(c, C_SWAP_FULL);
    out->io_errors = ctr_get(c, C_IO_ERRORS);
    out->resident = ctr_get(c, C_RESIDENT);
    out->resident_peak = ctr_get(c, C_RESIDENT_PEAK);
    out->fault_ns = ctr_get(c, C_FAULT_NS);
    out->pages_file_read = ctr_get(c, C_FILE_READ);
    out->pages_file_written = ctr_get(c, C_FILE_WRITTEN);
    out->refaults = ctr_get(c, C_REFAULTS);
    out->thrashing = thrash_now(sys);
    out->thrash_events = ctr_get(c, C_THRASH_EVENTS);
    out->pauses = ctr_get(c, C_PAUSES);
    out->paused_faults = ctr_get(c, C_PAUSED_FAULTS);
    out->cow_breaks = ctr_get(c, C_COW_BREAKS);
    out->shared_resident = c == &sys->ctr ? ctr_get(&sys->fork_space.ctr, C_RESIDENT) : 0;
    out->working_set = ws_estimate(sys, c);
    out->working_set_tau_ms = ws_tau_ms(sys);
    out->file_readahead = ctr_get(c, C_FILE_RA);
    out->file_readahead_hits = ctr_get(c, C_FILE_RA_HITS);
    out->file_readahead_waste = ctr_get(c, C_FILE_RA_WASTE);
    swap_usage(&sys->swap, &out->swap_used, &out->swap_total);
    out->frames_total = sys->frames.n;
}

VMK_API int vmk_stats_get(vmk_system *sys, vmk_stats *out)
{
    if (!sys || !out)
        return -EINVAL;
    fill(sys, &sys->ctr, out);
    return 0;
}

/* Swap slots held by the space's pages: counted from its page tables. */
static uint64_t space_swap_used(struct vmk_space *as)
{
    struct vmk_system *sys = as->sys;
    uint64_t n = 0;
    rw_read_lock(&sys->maplock);
    for (size_t i = 0; i < sys->nvmas; i++) {
        struct vmk_vma *v = sys->vmas[i];
        if (v->space != as)
            continue;
        for (size_t pg = v->pgoff; pg < vma_page(v, v->end); pg++)
            if (pte_read(&v->obj->ptes[pg]) & PTE_SWAP)
                n++;
    }
    rw_read_unlock(&sys->maplock);
    return n;
}

VMK_API int vmk_space_stats(vmk_space *as, vmk_stats *out)
{
    if (!as || !out)
        return -EINVAL;
    fill(as->sys, &as->ctr, out);
    out->swap_used = space_swap_used(as);
    return 0;
}

VMK_API void vmk_stats_print(const vmk_stats *s, FILE *f)
{
    if (!s || !f)
        return;
    fprintf(f, "faults            %12llu  (minor %llu, major %llu, write-enable %llu)\n",
            (unsigned long long)s->faults, (unsigned long long)s->faults_minor,
            (unsigned long long)s->faults_major, (unsigned long long)s->wp_faults);
    fprintf(f, "refaults          %12llu  (swapped back within a budget's worth of evictions)\n",
            (unsigned long long)s->refaults);
    fprintf(f, "pages zero-filled %12llu\n", (unsigned long long)s->pages_zero_filled);
    fprintf(f, "pages swapped in  %12llu\n", (unsigned long long)s->pages_swapped_in);
    fprintf(f, "pages swapped out %12llu\n", (unsigned long long)s->pages_swapped_out);
    fprintf(f, "pages evicted     %12llu  (dropped clean %llu)\n",
            (unsigned long long)s->pages_evicted, (unsigned long long)s->pages_dropped_clean);
    fprintf(f, "reference samples %12llu\n", (unsigned long long)s->ref_samples);
    if (s->pages_file_read || s->pages_file_written)
        fprintf(f, "file pages        %12llu read, %llu written back\n",
                (unsigned long long)s->pages_file_read, (unsigned long long)s->pages_file_written);
    if (s->file_readahead) {
        uint64_t settled = s->file_readahead_hits + s->file_readahead_waste;
        fprintf(f, "file readahead    %12llu  (hits %llu, waste %llu, pending %llu)\n",
                (unsigned long long)s->file_readahead, (unsigned long long)s->file_readahead_hits,
                (unsigned long long)s->file_readahead_waste,
                (unsigned long long)(settled < s->file_readahead ? s->file_readahead - settled : 0));
    }
    fprintf(f, "resident          %12llu  (peak %llu of %llu frames)\n",
            (unsigned long long)s->resident, (unsigned long long)s->resident_peak,
            (unsigned long long)s->frames_total);
    if (s->working_set_tau_ms)
        fprintf(f, "working set       %12llu  (pages referenced in the last %llu ms)\n",
                (unsigned long long)s->working_set, (unsigned long long)s->working_set_tau_ms);
    if (s->cow_breaks || s->shared_resident)
        fprintf(f, "fork              %12llu  copy-on-write breaks, %llu resident pages shared\n",
                (unsigned long long)s->cow_breaks, (unsigned long long)s->shared_resident);
    fprintf(f, "swap used         %12llu  (of %llu slots)\n", (unsigned long long)s->swap_used,
            (unsigned long long)s->swap_total);
    fprintf(f, "sigbus            %12llu  (swap full %llu, I/O errors %llu)\n",
            (unsigned long long)s->sigbus, (unsigned long long)s->swap_full,
            (unsigned long long)s->io_errors);
    fprintf(f, "thrashing         %12s  (%llu episodes; load control paused spaces %llu times)\n",
            s->thrashing ? "YES" : "no", (unsigned long long)s->thrash_events,
            (unsigned long long)s->pauses);
    if (s->faults)
        fprintf(f, "fault time        %12.2f us average\n", s->fault_ns / 1e3 / (double)s->faults);
}
