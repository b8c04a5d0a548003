/*
 * reclaim.c - finding frames: direct reclaim and eviction.
 *
 * A faulting thread that needs frames takes them from the free stack.  When
 * the stack is short it reclaims: under reclaim_lock it asks the policy for
 * a batch of victims (each locked: BUSY in its page-table entry), then
 * evicts the batch at once:
 *
 *   1. unmap the victims to be written from the MMU (madvise DONTNEED per
 *      contiguous run).  From here on no thread can write them without
 *      faulting, and a thread that faults waits on BUSY.  Clean victims are
 *      mapped write-protected already; step 3 unmaps them (zap_first).
 *   2. dirty victims (and pages with no swap copy) are copied from the
 *      frame-store and written to swap, in runs of consecutive slots;
 *      clean victims keep the slot they were read from (swap cache).
 *   3. punch the victims out of the frame-store (memory returns to the OS);
 *      the pages of a file mapped once move to the pool with their frames
 *      instead (fileonce.c, pagepool.c), or are dropped from its VMA.
 *   4. each entry becomes SWAP|slot, its frame goes back to the free stack
 *      (a pooled one stays with its page, takeable from here on), BUSY is
 *      cleared and sleepers wake.
 *
 * A victim that cannot be written (swap full, I/O error) stays resident and
 * dirty: data is never dropped.  If nothing at all can be evicted, the
 * thread that needed the frame gets the error, and with it SIGBUS.
 */
#include "internal.h"
#include "fileonce.h"
#include "mmu.h"
#include "pagepool.h"
#include "store.h"
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#define RECLAIM_MAX 256
#define NO_SLOT UINT64_MAX               /* a clean all-zero page: dropped to "never touched" */

struct reclaim_scratch {
    struct victim victims[RECLAIM_MAX];
    struct victim samples[RECLAIM_MAX];
    uint32_t nsamples;
    uint32_t frames[RECLAIM_MAX];
    char *buf;                       /* RECLAIM_MAX pages */
    int last_error;
};

int reclaim_init(struct vmk_system *sys)
{
    struct reclaim_scratch *rs = calloc(1, sizeof *rs);
    if (!rs)
        return -ENOMEM;
    rs->buf = mmap(NULL, (size_t)RECLAIM_MAX * PAGE_SIZE_, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (rs->buf == MAP_FAILED) {
        free(rs);
        return -ENOMEM;
    }
    sys->rs = rs;
    return 0;
}

void reclaim_fini(struct vmk_system *sys)
{
    munmap(sys->rs->buf, (size_t)RECLAIM_MAX * PAGE_SIZE_);
    free(sys->rs);
}

int reclaim_take(struct vmk_system *sys, uint32_t f, struct victim *v)
{
    struct frame *fr = &sys->frames.map[f];
    struct vmk_object *o = atomic_load_explicit(&fr->obj, memory_order_acquire);
    if (!o)
        return 0;
    uint32_t pg = atomic_load_explicit(&fr->page, memory_order_relaxed);
    if (pg >= o->npages)
        return 0;
    pte_t *p = &o->ptes[pg];
    uint64_t val;
    if (!pte_trylock(p, &val))
        return 0;
    if (!(val & PTE_RES) || pte_frame(val) != f) {   /* the frame changed hands */
        pte_unlock(p, val);
        return 0;
    }
    *v = (struct victim){ .obj = o, .pg = pg, .frame = f, .pte = p, .val = val };
    return 1;
}

void reclaim_untake(struct victim *v)
{
    pte_unlock(v->pte, v->val);
}

static int victim_less(const struct victim *x, const struct victim *y)
{
    return x->obj != y->obj ? x->obj < y->obj : x->pg < y->pg;
}

static void sift_down(struct victim *v, uint32_t i, uint32_t n)
{
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n)
            return;
        if (c + 1 < n && victim_less(&v[c], &v[c + 1]))
            c++;
        if (!victim_less(&v[i], &v[c]))
            return;
        struct victim t = v[i];
        v[i] = v[c], v[c] = t;
        i = c;
    }
}

/* Sort by (object, page).  Heapsort: qsort may call malloc, which a signal
 * handler must not. */
static void victims_sort(struct victim *v, uint32_t n)
{
    for (uint32_t i = n / 2; i-- > 0;)
        sift_down(v, i, n);
    for (uint32_t end = n; end-- > 1;) {
        struct victim t = v[0];
        v[0] = v[end], v[end] = t;
        sift_down(v, 0, end);
    }
}

/* Length of the run of victims from i on: same object, consecutive pages,
 * all satisfying keep(), at most max. */
static uint32_t run_len(const struct victim *v, uint32_t i, uint32_t n, uint32_t max,
                        int (*keep)(const struct victim *))
{
    uint32_t j = i + 1;
    while (j < n && j - i < max && v[j].obj == v[i].obj && v[j].pg == v[j - 1].pg + 1 &&
           keep(&v[j]))
        j++;
    return j - i;
}

static int is_mapped(const struct victim *v) { return (v->val & PTE_MAPPED) != 0; }
/* Dirty, or clean with no copy anywhere above the bottom of a fork tree
 * (there "never touched" would show the page below: it must not drop to 0). */
static int needs_write(const struct victim *v)
{
    return (v->val & PTE_DIRTY) || (!(v->val & PTE_SWAP) && v->obj->backing);
}
static int needs_swap(const struct victim *v) { return needs_write(v) && !v->obj->file_shared; }
static int needs_file(const struct victim *v) { return needs_write(v) && v->obj->file_shared; }
static int is_ok(const struct victim *v) { return v->ok; }

/*
 * Must a victim be unmapped before it leaves?  A page to be written out,
 * yes: no write may land after its copy.  A clean page needs no unmap of
 * its own: it is mapped write-protected (a write faults and waits on its
 * entry), and the hole punch of step 3 unmaps it from every mapping of its
 * frame-store page as it frees it - one pass over the page tables instead
 * of two, and one TLB shoot-down per run instead of two.  A frozen
 * object's pages (a fork's) keep the unmap first: object_zap also walks
 * the children that show them.
 */
static int zap_first(const struct victim *v)
{
    return is_mapped(v) && (needs_write(v) || v->obj->child[0] || v->obj->child[1]);
}

/* Unmap the pages of sorted victims that satisfy keep() from the MMU, one
 * madvise per run. */
static void zap_runs_if(struct victim *v, uint32_t n, int (*keep)(const struct victim *))
{
    for (uint32_t i = 0; i < n;) {
        if (!keep(&v[i])) {
            i++;
            continue;
        }
        uint32_t k = run_len(v, i, n, UINT32_MAX, keep);
        object_zap(v[i].obj, v[i].pg, k);
        for (uint32_t t = i; t < i + k; t++)
            v[t].val &= ~PTE_MAPPED;
        i += k;
    }
}

static void zap_runs(struct victim *v, uint32_t n)
{
    zap_runs_if(v, n, is_mapped);
}

void reclaim_sample(struct vmk_system *sys, struct victim *v)
{
    struct reclaim_scratch *rs = sys->rs;
    v->val &= ~PTE_REF;
    /* Not mapped: the next touch faults anyway.  Mapped once (fileonce.c):
     * an unmap would throw the page away, so it is not sampled. */
    if (!(v->val & PTE_MAPPED) || v->obj->once) {
        reclaim_untake(v);
        return;
    }
    rs->samples[rs->nsamples++] = *v;
    ctr_add(&sys->ctr, C_REF_SAMPLES, 1);
    ctr_add(&v->obj->owner->ctr, C_REF_SAMPLES, 1);
    if (rs->nsamples == RECLAIM_MAX) {
        victims_sort(rs->samples, rs->nsamples);
        zap_runs(rs->samples, rs->nsamples);
        for (uint32_t i = 0; i < rs->nsamples; i++)
            reclaim_untake(&rs->samples[i]);
        rs->nsamples = 0;
    }
}

static void flush_samples(struct vmk_system *sys)
{
    struct reclaim_scratch *rs = sys->rs;
    if (!rs->nsamples)
        return;
    victims_sort(rs->samples, rs->nsamples);
    zap_runs(rs->samples, rs->nsamples);
    for (uint32_t i = 0; i < rs->nsamples; i++)
        reclaim_untake(&rs->samples[i]);
    rs->nsamples = 0;
}

/*
 * Write the dirty victims (sorted by page) to swap with as few requests as
 * the slot allocator allows: all of them are copied side by side into one
 * buffer and written to one run of consecutive slots.  Pages that were
 * consecutive in memory so get consecutive slots, which read-ahead needs.
 */
static void write_dirty(struct vmk_system *sys, struct victim *v, uint32_t n)
{
    struct reclaim_scratch *rs = sys->rs;
    uint32_t idx[RECLAIM_MAX], k = 0;
    for (uint32_t i = 0; i < n; i++)
        if (needs_swap(&v[i]))
            idx[k++] = i;
    for (uint32_t done = 0; done < k;) {
        uint64_t slot;
        int got = swap_alloc(&sys->swap, k - done, &slot);
        if (got < 0) {
            rs->last_error = -ENOSPC;
            ctr_add(&sys->ctr, C_SWAP_FULL, k - done);
            return;
        }
        int r = 0;
        for (int t = 0; t < got && r == 0;) {        /* gather runs of pages */
            struct victim *a = &v[idx[done + t]];
            int len = 1;
            while (t + len < got && idx[done + t + len] == idx[done + t] + len &&
                   v[idx[done + t + len]].obj == a->obj && v[idx[done + t + len]].pg == a->pg + len)
                len++;
            r = store_read(sys->store_fd, a->obj->base + ((uint64_t)a->pg << PAGE_SHIFT_),
                           rs->buf + ((size_t)t << PAGE_SHIFT_), (size_t)len << PAGE_SHIFT_);
            t += len;
        }
        if (r == 0)
            r = swap_write(&sys->swap, slot, rs->buf, (uint32_t)got);
        if (r < 0) {
            swap_put(&sys->swap, slot, (uint32_t)got);
            rs->last_error = -EIO;
            ctr_add(&sys->ctr, C_IO_ERRORS, 1);
            report_once(&sys->said_io, "vmkit: I/O error writing to swap; pages stay resident");
            return;
        }
        for (int t = 0; t < got; t++) {
            struct victim *a = &v[idx[done + (uint32_t)t]];
            a->slot = slot + (uint64_t)t;
            a->ok = 1;
            ctr_add(&a->obj->owner->ctr, C_SWAPPED_OUT, 1);
        }
        ctr_add(&sys->ctr, C_SWAPPED_OUT, got);
        done += (uint32_t)got;
    }
}

/* Write dirty pages of shared file mappings back to their files, a run of
 * consecutive pages per request.  Written pages leave with no slot: the
 * next fault reads them from the file again. */
static void write_files(struct vmk_system *sys, struct victim *v, uint32_t n)
{
    struct reclaim_scratch *rs = sys->rs;
    for (uint32_t i = 0; i < n;) {
        if (!needs_file(&v[i])) {
            i++;
            continue;
        }
        uint32_t k = run_len(v, i, n, RECLAIM_MAX, needs_file);
        int r = store_read(sys->store_fd, v[i].obj->base + ((uint64_t)v[i].pg << PAGE_SHIFT_),
                           rs->buf, (size_t)k << PAGE_SHIFT_);
        if (r == 0)
            r = file_writeback(sys, v[i].obj, v[i].pg, rs->buf, k);
        if (r < 0) {
            rs->last_error = r;
            ctr_add(&sys->ctr, C_IO_ERRORS, 1);
            report_once(&sys->said_io, "vmkit: writeback to a mapped file failed; the pages stay dirty");
        } else {
            for (uint32_t t = i; t < i + k; t++) {
                v[t].ok = 1;
                v[t].slot = NO_SLOT;
            }
        }
        i += k;
    }
}

/* Record the eviction of a victim at the address of the first VMA mapping it. */
static void trace_eviction(struct vmk_system *sys, const struct victim *v)
{
    struct vmk_object *o = v->obj;
    for (int i = 0; i < o->nvmas; i++) {
        struct vmk_vma *m = o->vmas[i];
        if (v->pg >= m->pgoff && v->pg < vma_page(m, m->end)) {
            trace_record(sys, m->space->id, vma_addr(m, v->pg), TR_EVICT);
            return;
        }
    }
}

/* Evict n taken victims; returns how many frames were freed. */
static uint32_t evict(struct vmk_system *sys, struct victim *v, uint32_t n)
{
    struct reclaim_scratch *rs = sys->rs;
    victims_sort(v, n);
    zap_runs_if(v, n, zap_first);                         /* 1 */
    for (uint32_t i = 0; i < n; i++) {                    /* 2 */
        if (!needs_write(&v[i])) {     /* clean: its swap copy is valid, or it is all zero */
            if (v[i].val & PTE_SWAP)   /* read back from swap and never written */
                hint_add(&v[i].obj->write_hint, -1);
            v[i].ok = 1;
            v[i].slot = v[i].val & PTE_SWAP ? pte_slot(v[i].val) : NO_SLOT;
            ctr_add(&sys->ctr, C_DROPPED_CLEAN, 1);
            ctr_add(&v[i].obj->owner->ctr, C_DROPPED_CLEAN, 1);
        }
    }
    write_dirty(sys, v, n);
    write_files(sys, v, n);
    for (uint32_t i = 0; i < n;) {                        /* 3 */
        if (!v[i].ok) {
            i++;
            continue;
        }
        uint32_t k = run_len(v, i, n, UINT32_MAX, is_ok);
        if (v[i].obj->once)
            fileonce_evict(sys, v + i, k);   /* pages to the pool, or dropped */
        else if (store_punch(sys->store_fd, v[i].obj->base + ((uint64_t)v[i].pg << PAGE_SHIFT_),
                        (size_t)k << PAGE_SHIFT_) < 0)
            zap_runs(v + i, k);        /* no page may stay mapped once its entry is gone */
        i += k;
    }
    uint32_t freed = 0, nfree = 0;
    for (uint32_t i = 0; i < n; i++) {                    /* 4 */
        if (!v[i].ok) {
            reclaim_untake(&v[i]);
            continue;
        }
        if (!v[i].pooled) {                /* a pooled frame stays with its page */
            rs->frames[nfree++] = v[i].frame;
            atomic_store_explicit(&sys->frames.map[v[i].frame].obj, NULL, memory_order_relaxed);
        }
        freed++;
        if (atomic_load_explicit(&sys->trace, memory_order_relaxed))
            trace_eviction(sys, &v[i]);
        ctr_add(&v[i].obj->owner->ctr, C_RESIDENT, -1);
        atomic_fetch_sub_explicit(&v[i].obj->resident, 1, memory_order_relaxed);
        ctr_add(&v[i].obj->owner->ctr, C_EVICTED, 1);
        uint64_t stamp = atomic_fetch_add_explicit(&sys->evict_clock, 1, memory_order_relaxed);
        pte_unlock(v[i].pte, v[i].slot == NO_SLOT ? 0
                             : pte_with_frame(pte_with_slot(0, v[i].slot),
                                              (uint32_t)(stamp & PTE_FRAME_MASK)));
    }
    ctr_add(&sys->ctr, C_RESIDENT, -(int64_t)freed);
    ctr_add(&sys->ctr, C_EVICTED, freed);
    frames_free(&sys->frames, rs->frames, nfree);
    pool_commit(sys);                  /* the pooled frames may serve now */
    return freed;
}

/* One reclaim pass (reclaim_lock held).  Returns frames freed, or 0 with
 * rs->last_error telling why none could be. */
static int reclaim_locked(struct vmk_system *sys, uint32_t want)
{
    struct reclaim_scratch *rs = sys->rs;
    uint32_t batch = sys->cfg.reclaim_batch;
    if (batch < want)
        batch = want;
    if (batch > RECLAIM_MAX)
        batch = RECLAIM_MAX;
    rs->last_error = 0;
    uint32_t n = sys->policy.ops->select(&sys->policy, sys, batch, rs->victims);
    flush_samples(sys);
    uint32_t freed = n ? evict(sys, rs->victims, n) : 0;
    return freed ? (int)freed : rs->last_error;
}

/* End a pass: release the lock and wake everybody waiting for frames. */
static void reclaim_done(struct vmk_system *sys)
{
    mutex_unlock(&sys->reclaim_lock);
    atomic_fetch_add_explicit(&sys->reclaim_gen, 1, memory_order_release);
    futex_wake(&sys->reclaim_gen, INT_MAX);
}

/*
 * Direct reclaim: reclaim for want frames, or wait for the thread (or
 * kswapd) that is reclaiming.  Only one reclaims at a time; the others sleep
 * on reclaim_gen and are all woken together when the pass ends (one wake-up
 * for everybody rather than a convoy through a mutex: each cross-CPU wake-up
 * costs ~50 us here).  Returns > 0 when frames may now be free, 0 or -errno
 * when none could be.
 */
static int reclaim(struct vmk_system *sys, uint32_t want)
{
    uint32_t gen = atomic_load_explicit(&sys->reclaim_gen, memory_order_acquire);
    if (!mutex_trylock(&sys->reclaim_lock)) {
        futex_wait(&sys->reclaim_gen, gen);
        return 1;
    }
    int r = pool_frames_free(sys) >= want ? 1 : reclaim_locked(sys, want);
    reclaim_done(sys);
    return r;
}

int reclaim_background_pass(struct vmk_system *sys)
{
    mutex_lock(&sys->reclaim_lock);
    int r = reclaim_locked(sys, 0);
    reclaim_done(sys);
    return r;
}

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/*
 * Get at least min and at most want frames into out (the extra ones are for
 * fault-around and read-ahead, taken only if reclaim found them).  Returns
 * the count, or -ENOSPC (swap full), -EIO, -ENOMEM (every frame busy for
 * too long) when not even min can be had.
 */
int frames_get(struct vmk_system *sys, size_t min, size_t want, uint32_t *out)
{
    uint32_t got = frames_alloc(&sys->frames, (uint32_t)want, out);
    kswapd_poke(sys);
    if (got < min)              /* frames waiting in the pool, their pages freed */
        got += pool_drain(sys, (uint32_t)(want - got), out + got);
    if (got >= min)
        return (int)got;
    uint64_t start = 0;
    int err = -ENOMEM, failures = 0;
    while (got < min) {
        int r = reclaim(sys, (uint32_t)(want - got));
        if (r > 0) {
            failures = 0;
        } else {
            /* Swap full or I/O errors: a few more passes may find clean
             * pages; everything busy: wait up to 2 s for the holders. */
            if (r < 0)
                err = r;
            if (!start)
                start = now_ns();
            if ((r < 0 && ++failures > 8) || now_ns() - start > 2000000000ull) {
                frames_free(&sys->frames, out, got);
                return err;
            }
            sched_yield();
        }
        got += frames_alloc(&sys->frames, (uint32_t)(want - got), out + got);
        if (got < min)
            got += pool_drain(sys, (uint32_t)(want - got), out + got);
    }
    return (int)got;
}
