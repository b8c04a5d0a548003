/*
 * cow.c - faults on pages a space shares with others since a fork.
 *
 * The VMA's object (its top) has no page of its own here, so the page shows
 * through from the objects under it (fork.c).  The fault walks down the
 * chain, taking each entry BUSY in turn (children before parents, the order
 * every thread takes them in, so sleeping on one is safe) and letting go of
 * the empty ones, to the holder: the first object that has the page, or the
 * bottom of the chain when none has (never touched).  Then:
 *
 *   read, holder resident   map the holder's frame write-protected (the
 *                           VMA maps the holder's offset here: fork.c's
 *                           invariant), so a later write faults; for a
 *                           sequential reader, the following pages too;
 *   read, holder swapped    read the slot into a frame of the holder (where
 *                           every other space that shows it finds it) and
 *                           map it write-protected;
 *   read, nobody has it     the bottom gets the page (zeros, or the file's
 *                           bytes for a private file mapping), clean;
 *   write                   the copy-on-write break: a frame for the top,
 *                           the holder's bytes (from its frame, its slot, the
 *                           file, or zeros) written into the top's own
 *                           frame-store page, that page mapped over the
 *                           holder's with mmap(MAP_FIXED) and registered,
 *                           mapped writable.  The bytes are in place before
 *                           the mapping changes, so a thread that touches the
 *                           page meanwhile sees them.  Then the objects under
 *                           the top learn that it covers the page, which may
 *                           free the holder's copy (fork.c, tree_cover).
 *
 * Counting: the faults count in the faulting space; frames of frozen
 * objects count once, in the system's fork_space.
 */
#include "internal.h"
#include "mmu.h"
#include "store.h"
#include <string.h>

/* Lock entries of pg from top's backing down to the holder (or the bottom,
 * with 0); return it, its entry (without BUSY) in *hv. */
static struct vmk_object *lock_holder(struct vmk_object *top, size_t pg, uint64_t *hv)
{
    struct vmk_object *o = top->backing;
    for (;;) {
        uint64_t v = pte_lock(&o->ptes[pg]);
        if (v || !o->backing) {
            *hv = v;
            return o;
        }
        pte_unlock(&o->ptes[pg], v);   /* stays empty: frozen, and we do not cover it */
        o = o->backing;
    }
}

/* Does page j of top show through from h (no object between has it)? */
static bool shows_from(struct vmk_object *top, struct vmk_object *h, size_t j)
{
    for (struct vmk_object *o = top->backing; o != h; o = o->backing)
        if (pte_read(&o->ptes[j]) & ~(PTE_BUSY | PTE_WAIT))
            return false;
    return true;
}

/*
 * Fault-around for shared pages: as many pages as this space has just
 * mapped from h right below pg (a sequential reader: 1, 2, 4... up to
 * fault_around), the pages after pg that show from h and are resident there
 * are mapped in the same UFFDIO_CONTINUE.  Neighbours are taken with
 * trylock only (top's entry, which must be empty, then h's).  Returns the
 * run's length; tv/hv get the entries.
 */
static uint32_t shared_run(struct vmk_system *sys, struct vmk_vma *vma, size_t pg,
                           struct vmk_object *h, uint64_t *hv)
{
    struct vmk_object *top = vma->obj;
    uint32_t want = 1, max = sys->cfg.fault_around;
    while (want < max && pg >= vma->pgoff + want && !pte_read(&top->ptes[pg - want]) &&
           (pte_read(&h->ptes[pg - want]) & (PTE_RES | PTE_MAPPED)) == (PTE_RES | PTE_MAPPED))
        want++;
    size_t end = vma_page(vma, vma->end);
    uint32_t n = 1;
    while (n < want && pg + n < end) {
        uint64_t tv, v;
        if (!pte_trylock(&top->ptes[pg + n], &tv))
            break;
        if (tv || !shows_from(top, h, pg + n) || !pte_trylock(&h->ptes[pg + n], &v)) {
            pte_unlock(&top->ptes[pg + n], tv);
            break;
        }
        if (!(v & PTE_RES)) {
            pte_unlock(&h->ptes[pg + n], v);
            pte_unlock(&top->ptes[pg + n], tv);
            break;
        }
        hv[n++] = v;
    }
    return n;
}

static int shared_map(struct vmk_system *sys, struct vmk_vma *vma, size_t pg,
                      struct vmk_object *h, uint64_t v)
{
    uint64_t hv[FA_MAX];
    hv[0] = v;
    uint32_t n = shared_run(sys, vma, pg, h, hv);
    int r = mmu_continue(sys->uffd, vma_addr(vma, pg), (size_t)n << PAGE_SHIFT_, true);
    if (vma->fork_moved)
        atomic_fetch_add_explicit(&vma->fork_refilled, n, memory_order_relaxed);
    for (uint32_t i = 0; i < n; i++) {
        pte_unlock(&h->ptes[pg + i], r == 0 ? hv[i] | PTE_MAPPED | PTE_REF : hv[i]);
        if (i)
            pte_unlock(&vma->obj->ptes[pg + i], 0);
    }
    fault_count(sys, vma->obj->owner, C_FAULTS_MINOR, 1);
    return r < 0 ? r : TR_MINOR;
}

static int shared_swapin(struct vmk_system *sys, struct vmk_vma *vma, size_t pg,
                         struct vmk_object *h, uint64_t hv)
{
    uint32_t fr;
    int r = frames_get(sys, 1, 1, &fr);
    if (r < 0) {
        pte_unlock(&h->ptes[pg], hv);
        return r;
    }
    int bi;
    char *buf = bounce_get(sys, &bi);
    r = swap_read(&sys->swap, pte_slot(hv), buf, 1);
    if (r < 0) {
        ctr_add(&sys->ctr, C_IO_ERRORS, 1);
        report_once(&sys->said_io, "vmkit: I/O error reading swap; the faulting thread gets SIGBUS");
    } else {
        r = mmu_copy(sys->uffd, vma_addr(vma, pg), buf, PAGE_SIZE_, true);
    }
    bounce_put(sys, bi);
    if (r < 0)
        return fault_abort(sys, h, pg, 1, &fr, &hv, r);
    uint64_t nv = (hv & ~PTE_DIRTY) | PTE_RES | PTE_MAPPED | PTE_REF;
    fault_publish(sys, h, pg, 1, &fr, &nv);
    fault_count(sys, vma->obj->owner, C_FAULTS_MAJOR, 1);
    fault_count(sys, vma->obj->owner, C_SWAPPED_IN, 1);
    return TR_MAJOR;
}

/*
 * Nobody has the page: the bottom gets it, clean, as a fault of a stand-in
 * VMA of the bottom's own at this address.  For a private file mapping that
 * is a file read, and a reader going through the file after a fork should
 * get readahead as before it: the stand-in also covers the pages after pg
 * that show from the bottom here and that nobody has read either (the top's
 * entry taken with trylock and empty, none between: as shared_run), up to
 * FA_MAX, and the bottom's readahead (readahead.c, file.c) reads the window
 * it wants out of them.  The stand-in lives only in this call, so nothing
 * may keep it: the readers of fileasync.c are not used (stand_in), the
 * kernel is asked to read ahead instead.  Anonymous pages come one at a
 * time (zeros: no I/O to save).
 */
static int bottom_fill(struct vmk_system *sys, struct vmk_vma *vma, size_t pg,
                       struct vmk_object *bot)
{
    struct vmk_object *top = vma->obj;
    uintptr_t addr = vma_addr(vma, pg);
    size_t end = vma_page(vma, vma->end);
    uint32_t n = 1;
    if (bot->file_fd >= 0)
        while (n < FA_MAX && pg + n < end) {
            uint64_t tv;
            if (!pte_trylock(&top->ptes[pg + n], &tv))
                break;
            if (tv || !shows_from(top, bot, pg + n) || pte_read(&bot->ptes[pg + n])) {
                pte_unlock(&top->ptes[pg + n], tv);
                break;
            }
            n++;
        }
    struct vmk_vma one = { .start = addr, .end = addr + ((uintptr_t)n << PAGE_SHIFT_),
                           .prot = vma->prot, .space = vma->space, .obj = bot, .pgoff = pg,
                           .stand_in = true };
    int r = bot->file_fd >= 0 ? file_fault(sys, &one, pg, 0) : fault_zero(sys, &one, pg, 0);
    for (uint32_t i = 1; i < n; i++)
        pte_unlock(&top->ptes[pg + i], 0);
    return r;
}

/* The bytes of page pg, which its holder h does not have resident (hv: in
 * swap, or never read: the file's bytes or zeros), into buf.  A resident
 * page is copied inside the frame-store instead (store_copy). */
static int holder_bytes(struct vmk_system *sys, struct vmk_object *h, size_t pg, uint64_t hv,
                        char *buf)
{
    if (hv & PTE_SWAP) {
        int r = swap_read(&sys->swap, pte_slot(hv), buf, 1);
        if (r < 0) {
            ctr_add(&sys->ctr, C_IO_ERRORS, 1);
            report_once(&sys->said_io, "vmkit: I/O error reading swap; the faulting thread gets SIGBUS");
        }
        return r;
    }
    if (h->file_fd >= 0)
        return file_page_read(sys, h, pg, buf);
    memset(buf, 0, PAGE_SIZE_);
    return 0;
}

/*
 * Kernel mappings.  Each run of copied pages is a kernel mapping of its own
 * (a VMA), and Linux allows a process vm.max_map_count of them (65530 by
 * default): scattered copy-on-write breaks split a window into up to two
 * more per page.  sys->cow_maps estimates how many the breaks have added
 * (from whether each copied page's neighbours were copied already: a page
 * between two copied ones joins them, -2; next to one, 0; alone, +2).  Past
 * half the limit, a break copies the page's whole aligned block of
 * COW_BLOCK pages (those it cheaply can: resident in a holder, or zeros)
 * and maps the block as one run, which merges with its copied neighbours:
 * more frames per break, but the count of mappings stops growing.
 */
#define COW_BLOCK 16

static bool own(struct vmk_vma *vma, size_t j)
{
    return j >= vma->pgoff && j < vma_page(vma, vma->end) &&
           (pte_read(&vma->obj->ptes[j]) & ~(PTE_BUSY | PTE_WAIT));
}

/* Boundaries between copied and shown-through pages over [lo-1, hi]. */
static int64_t boundaries(struct vmk_vma *vma, size_t lo, size_t hi)
{
    int64_t n = 0;
    bool prev = lo > 0 && own(vma, lo - 1);
    for (size_t j = lo; j <= hi; j++) {
        bool cur = own(vma, j);
        n += cur != prev;
        prev = cur;
    }
    return n;
}

/* vma is going away: its copied runs no longer count (maplock exclusive). */
void cow_forget_maps(struct vmk_system *sys, struct vmk_vma *vma)
{
    if (!vma->obj->backing)
        return;
    size_t lo = vma->pgoff, hi = vma_page(vma, vma->end);
    int64_t n = boundaries(vma, lo, hi);
    int64_t cur = atomic_load_explicit(&sys->cow_maps, memory_order_relaxed);
    atomic_fetch_sub_explicit(&sys->cow_maps, n < cur ? n : cur, memory_order_relaxed);
}

/* vma has a new object (collapse.c): its runs of own pages count (maplock
 * exclusive; cow_forget_maps forgot the old ones). */
void cow_count_maps(struct vmk_system *sys, struct vmk_vma *vma)
{
    if (vma->obj->backing)
        atomic_fetch_add_explicit(&sys->cow_maps, boundaries(vma, vma->pgoff, vma_page(vma, vma->end)),
                                  memory_order_relaxed);
}

static void count_maps(struct vmk_system *sys, struct vmk_vma *vma, size_t pg)
{
    bool l = pg > 0 && own(vma, pg - 1), r = own(vma, pg + 1);
    int64_t d = l && r ? -2 : l || r ? 0 : 2;
    atomic_fetch_add_explicit(&sys->cow_maps, d, memory_order_relaxed);
}

/* Lock page j of a run: top's entry, and, if empty, its holder's (which
 * must be resident, or in swap if swap_ok, or the anonymous bottom's empty
 * page: zeros).  Trylock only.  *hj is the holder (NULL: top has the page
 * already). */
static bool run_lock(struct vmk_object *top, size_t j, bool swap_ok, struct vmk_object **hj,
                     uint64_t *tv, uint64_t *hv)
{
    if (!pte_trylock(&top->ptes[j], tv))
        return false;
    *hj = NULL;
    /* Top's already, resident and not mapped: nobody writes it now, and the
     * new mapping shows the same page.  Not resident (in swap): it must stay
     * out of the run - between the mmap and the UFFDIO_REGISTER of the run,
     * a thread touching it would get a plain shmem fault, and a hole reads
     * as a fresh zero page.  Mapped (maybe writable): left where it is. */
    if ((*tv & (PTE_RES | PTE_MAPPED)) == PTE_RES)
        return true;
    if (*tv) {
        pte_unlock(&top->ptes[j], *tv);
        return false;
    }
    for (struct vmk_object *o = top->backing; o; o = o->backing) {
        uint64_t v = pte_read(&o->ptes[j]) & ~(PTE_BUSY | PTE_WAIT);
        if (!v && o->backing)
            continue;
        if ((v && !(v & PTE_RES) && !swap_ok) || (!v && o->file_fd >= 0) ||
            !pte_trylock(&o->ptes[j], hv))
            break;                       /* swapped, a file page, or busy: not cheap */
        if (*hv != v) {
            pte_unlock(&o->ptes[j], *hv);
            break;
        }
        *hj = o;
        return true;
    }
    pte_unlock(&top->ptes[j], *tv);
    return false;
}

/* A run of pages [lo, hi) taken for one break; index k is page base + k. */
struct run {
    size_t base, lo, hi;
    struct vmk_object *h[FA_MAX];
    uint64_t tv[FA_MAX], hv[FA_MAX];
    uint32_t fr[FA_MAX];
};

/* Take the run of pages around pg (pg itself is taken, holder h) that
 * run_lock gets, within [first, last) (at most FA_MAX pages) and the VMA. */
static void run_take(struct vmk_vma *vma, size_t pg, struct vmk_object *h, uint64_t hv,
                     size_t first, size_t last, bool swap_ok, struct run *b)
{
    struct vmk_object *top = vma->obj;
    b->base = first;
    if (first < vma->pgoff)
        first = vma->pgoff;
    if (last > vma_page(vma, vma->end))
        last = vma_page(vma, vma->end);
    size_t k = pg - b->base;
    b->h[k] = h, b->hv[k] = hv, b->tv[k] = 0;
    b->lo = pg, b->hi = pg + 1;
    while (b->lo > first && (k = b->lo - 1 - b->base,
                             run_lock(top, b->lo - 1, swap_ok, &b->h[k], &b->tv[k], &b->hv[k])))
        b->lo--;
    while (b->hi < last && (k = b->hi - b->base,
                            run_lock(top, b->hi, swap_ok, &b->h[k], &b->tv[k], &b->hv[k])))
        b->hi++;
}

/* Unlock the run's pages (and pg's too unless keep_pg). */
static void run_release(struct vmk_object *top, struct run *b, size_t pg, bool keep_pg)
{
    for (size_t j = b->lo; j < b->hi; j++) {
        size_t k = j - b->base;
        if (keep_pg && j == pg)
            continue;
        if (b->h[k])
            pte_unlock(&b->h[k]->ptes[j], b->hv[k]);
        pte_unlock(&top->ptes[j], b->tv[k]);
    }
}

/* The run's pages that top does not have yet into top's frame-store pages:
 * a stretch of one holder's resident pages copied inside the frame-store
 * (one copy_file_range), a stretch of pages in swap, zeros or the file read
 * page by page and written in one piece. */
static int run_copy(struct vmk_system *sys, struct vmk_object *top, struct run *b)
{
    int bi;
    char *buf = bounce_get(sys, &bi);
    int r = 0;
    for (size_t j = b->lo; r == 0 && j < b->hi;) {
        size_t k = j - b->base, n = 1;
        struct vmk_object *h = b->h[k];
        uint64_t to = top->base + ((uint64_t)j << PAGE_SHIFT_);
        if (!h) {
            j++;
            continue;
        }
        if (b->hv[k] & PTE_RES) {
            while (j + n < b->hi && b->h[k + n] == h && (b->hv[k + n] & PTE_RES))
                n++;
            r = store_copy(sys->store_fd, h->base + ((uint64_t)j << PAGE_SHIFT_), to,
                           n << PAGE_SHIFT_, buf);
        } else {
            r = holder_bytes(sys, h, j, b->hv[k], buf);
            for (; r == 0 && j + n < b->hi && b->h[k + n] && !(b->hv[k + n] & PTE_RES); n++)
                r = holder_bytes(sys, b->h[k + n], j + n, b->hv[k + n], buf + (n << PAGE_SHIFT_));
            if (r == 0)
                r = store_write(sys->store_fd, to, buf, n << PAGE_SHIFT_);
        }
        j += n;
    }
    bounce_put(sys, bi);
    return r;
}

/* Map the copied pages of the run writable (the others stay unmapped). */
static int run_map(struct vmk_system *sys, struct vmk_vma *vma, struct run *b)
{
    int r = 0;
    for (size_t j = b->lo; r == 0 && j < b->hi;) {
        size_t n = 0;
        while (j + n < b->hi && b->h[j + n - b->base])
            n++;
        if (n)
            r = mmu_continue(sys->uffd, vma_addr(vma, j), n << PAGE_SHIFT_, false);
        j += n + 1;
    }
    return r;
}

/*
 * A break of several pages at once: copy every page of the run [first,
 * last) around pg that top does not have yet and that it cheaply can (see
 * run_lock), map the run from top's range as one mapping, map the copies
 * writable, publish.  0 (done), or 1: nothing but pg could be taken (the
 * caller does a plain break), or -errno with everything released.
 */
static int cow_run(struct vmk_system *sys, struct vmk_vma *vma, size_t pg,
                   struct vmk_object *h, uint64_t hv, size_t first, size_t last, bool swap_ok)
{
    struct vmk_object *top = vma->obj;
    struct run b;
    run_take(vma, pg, h, hv, first, last, swap_ok, &b);
    if (b.hi - b.lo == 1)
        return 1;
    uint32_t ncopy = 0;
    for (size_t j = b.lo; j < b.hi; j++)
        ncopy += b.h[j - b.base] != NULL;
    int64_t before = boundaries(vma, b.lo, b.hi);
    int r = frames_get(sys, 1, ncopy, b.fr);
    if (r >= 0 && (uint32_t)r < ncopy)          /* short of frames: copy pg alone */
        frames_free(&sys->frames, b.fr, (uint32_t)r);
    if (r < 0 || (uint32_t)r < ncopy) {
        run_release(top, &b, pg, r >= 0);
        return r < 0 ? r : 1;
    }
    r = run_copy(sys, top, &b);
    if (r < 0) {
        /* A read failed (swap I/O): maybe of a page copied ahead, which is
         * no reason to fail this write.  Back out; pg alone is broken next
         * (and fails only if its own bytes cannot be read). */
        for (size_t j = b.lo; j < b.hi; j++)
            if (b.h[j - b.base])
                store_punch(sys->store_fd, top->base + ((uint64_t)j << PAGE_SHIFT_), PAGE_SIZE_);
        frames_free(&sys->frames, b.fr, ncopy);
        run_release(top, &b, pg, true);
        return 1;
    }
    uintptr_t addr = vma_addr(vma, b.lo);
    size_t len = (b.hi - b.lo) << PAGE_SHIFT_;
    if (r == 0)
        r = mmu_remap(sys->uffd, sys->store_fd, addr, top->base + ((uint64_t)b.lo << PAGE_SHIFT_),
                      len, vma->prot, true);
    if (r == 0)
        r = run_map(sys, vma, &b);
    if (r < 0) {                      /* the copies are not mapped: put things back */
        for (size_t j = b.lo; j < b.hi; j++)
            if (b.h[j - b.base])
                store_punch(sys->store_fd, top->base + ((uint64_t)j << PAGE_SHIFT_), PAGE_SIZE_);
        frames_free(&sys->frames, b.fr, ncopy);
        run_release(top, &b, pg, false);
        return r;
    }
    /* Holders first (tree_cover may take them), then publish top's pages. */
    uint32_t k = 0;
    for (size_t j = b.lo; j < b.hi; j++) {
        struct vmk_object *hj = b.h[j - b.base];
        if (!hj) {
            /* Top's already, not mapped.  Between the mmap and the
             * UFFDIO_REGISTER a thread could have written it through a
             * plain mapping, unseen: count it dirty. */
            uint64_t tv = b.tv[j - b.base];
            if (!(tv & PTE_DIRTY) && (tv & PTE_SWAP)) {
                swap_put(&sys->swap, pte_slot(tv), 1);
                tv = pte_without_slot(tv);
            }
            pte_unlock(&top->ptes[j], tv | PTE_DIRTY);
            continue;
        }
        pte_unlock(&hj->ptes[j], b.hv[j - b.base]);
        tree_cover(top, j);
        uint64_t nv = PTE_RES | PTE_DIRTY | PTE_MAPPED | PTE_REF;
        fault_publish(sys, top, j, 1, &b.fr[k++], &nv);
    }
    atomic_fetch_add_explicit(&sys->cow_maps, boundaries(vma, b.lo, b.hi) - before,
                              memory_order_relaxed);
    atomic_store_explicit(&vma->cow_next, b.hi, memory_order_relaxed);
    atomic_store_explicit(&vma->cow_window, (uint32_t)(b.hi - pg), memory_order_relaxed);
    fault_count(sys, top->owner, (hv & (PTE_RES | PTE_SWAP)) == PTE_SWAP ? C_FAULTS_MAJOR
                                                                         : C_FAULTS_MINOR, 1);
    fault_count(sys, top->owner, C_COW_BREAKS, ncopy);
    fault_count(sys, top->owner, C_COW_AHEAD, ncopy - 1);
    return 0;
}

/*
 * Copy-on-write around.  A write that lands just past the pages the last
 * break of this VMA copied is a sequential writer (a parent rewriting its
 * buffer after a checkpoint fork, a child filling its copy): like the read
 * fault-around, the next break copies twice as many pages as the last one
 * did, from the faulting page up (2, 4, ... up to fault_around), so one
 * signal, one mmap and one registration serve many pages.  Any other write
 * breaks one page.  Pages copied ahead and never written are the price (at
 * most one window at the end of a sequential run); stats count them
 * (cow_ahead).  The kernel copies page by page; so does vmkit for random
 * writes.
 */
static uint32_t cow_window(struct vmk_system *sys, struct vmk_vma *vma, size_t pg)
{
    uint32_t max = sys->cfg.fault_around < FA_MAX ? sys->cfg.fault_around : FA_MAX;
    if (max < 2 || pg != atomic_load_explicit(&vma->cow_next, memory_order_relaxed))
        return 1;
    uint32_t w = 2 * atomic_load_explicit(&vma->cow_window, memory_order_relaxed);
    return w < 2 ? 2 : w > max ? max : w;
}

/* The copy-on-write break (top's entry and the holder's locked).  how:
 * FAULT_PRESENT if the page was mapped (write-protected) at the address. */
static int cow_break(struct vmk_system *sys, struct vmk_vma *vma, size_t pg,
                     struct vmk_object *h, uint64_t hv, int how)
{
    struct vmk_object *top = vma->obj;
    uintptr_t addr = vma_addr(vma, pg);
    uint64_t off = top->base + ((uint64_t)pg << PAGE_SHIFT_);
    uint64_t zero = 0;
    uint32_t fr;
    int r;
    uint32_t w = cow_window(sys, vma, pg);
    bool major = !(hv & PTE_RES) && (hv & PTE_SWAP);
    if (w > 1) {                                /* a sequential writer */
        if ((r = cow_run(sys, vma, pg, h, hv, pg, pg + w, true)) <= 0)
            return r < 0 ? r : major ? TR_MAJOR : TR_WP;
    } else if (atomic_load_explicit(&sys->cow_maps, memory_order_relaxed) > sys->cow_map_budget) {
        size_t first = pg & ~(size_t)(COW_BLOCK - 1);
        if ((r = cow_run(sys, vma, pg, h, hv, first, first + COW_BLOCK, false)) <= 0)
            return r < 0 ? r : major ? TR_MAJOR : TR_WP;
    }
    r = frames_get(sys, 1, 1, &fr);
    if (r < 0) {
        pte_unlock(&h->ptes[pg], hv);
        pte_unlock(&top->ptes[pg], 0);
        return r;
    }
    /* The holder's page mapped here is the source as it is: one copy. */
    r = -EFAULT;
    if ((how & FAULT_PRESENT) && (hv & PTE_RES))
        r = store_write(sys->store_fd, off, (const void *)addr, PAGE_SIZE_);
    if (r == -EFAULT) {
        int bi;
        char *buf = bounce_get(sys, &bi);
        if (hv & PTE_RES)                       /* frame-store to frame-store: one copy */
            r = store_copy(sys->store_fd, h->base + ((uint64_t)pg << PAGE_SHIFT_), off,
                           PAGE_SIZE_, buf);
        else if ((r = holder_bytes(sys, h, pg, hv, buf)) == 0)
            r = store_write(sys->store_fd, off, buf, PAGE_SIZE_);
        bounce_put(sys, bi);
    }
    if (r == 0) {
        r = mmu_remap(sys->uffd, sys->store_fd, addr, off, PAGE_SIZE_, vma->prot, true);
        if (r == -ENOMEM)
            report_once(&sys->said_maps, "vmkit: copy-on-write needs a kernel mapping per run of "
                        "copied pages and the process has vm.max_map_count of them; raise it "
                        "(sysctl vm.max_map_count=1048576); the faulting thread gets SIGBUS");
        if (r == 0)
            count_maps(sys, vma, pg);
        if (r == 0 && (r = mmu_continue(sys->uffd, addr, PAGE_SIZE_, false)) < 0)
            mmu_remap(sys->uffd, sys->store_fd, addr, h->base + ((uint64_t)pg << PAGE_SHIFT_),
                      PAGE_SIZE_, vma->prot, true);   /* back as it was */
    }
    if (r < 0) {
        pte_unlock(&h->ptes[pg], hv);
        return fault_abort(sys, top, pg, 1, &fr, &zero, r);
    }
    pte_unlock(&h->ptes[pg], hv);
    tree_cover(top, pg);
    uint64_t nv = PTE_RES | PTE_DIRTY | PTE_MAPPED | PTE_REF;
    fault_publish(sys, top, pg, 1, &fr, &nv);
    atomic_store_explicit(&vma->cow_next, pg + 1, memory_order_relaxed);
    atomic_store_explicit(&vma->cow_window, 1, memory_order_relaxed);
    fault_count(sys, top->owner, major ? C_FAULTS_MAJOR : C_FAULTS_MINOR, 1);
    fault_count(sys, top->owner, C_COW_BREAKS, 1);
    return major ? TR_MAJOR : TR_WP;
}

/* A fault at page pg of vma, whose object has a backing and no page pg of
 * its own (its entry is locked, 0).  how: FAULT_WRITE, FAULT_PRESENT. */
int cow_fault(struct vmk_system *sys, struct vmk_vma *vma, size_t pg, int how)
{
    struct vmk_object *top = vma->obj;
    uint64_t hv;
    struct vmk_object *h = lock_holder(top, pg, &hv);
    if (how & FAULT_WRITE)
        return cow_break(sys, vma, pg, h, hv, how);
    int r;
    if (hv & PTE_RES)
        r = shared_map(sys, vma, pg, h, hv);
    else if (hv & PTE_SWAP)
        r = shared_swapin(sys, vma, pg, h, hv);
    else
        r = bottom_fill(sys, vma, pg, h);
    pte_unlock(&top->ptes[pg], 0);
    return r;
}
