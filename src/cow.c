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

/* Nobody has the page: the bottom gets it, clean, as a one-page fault of a
 * VMA of the bottom's own at this address. */
static int bottom_fill(struct vmk_system *sys, struct vmk_vma *vma, size_t pg,
                       struct vmk_object *bot)
{
    uintptr_t addr = vma_addr(vma, pg);
    struct vmk_vma one = { .start = addr, .end = addr + PAGE_SIZE_, .prot = vma->prot,
                           .space = vma->space, .obj = bot, .pgoff = pg };
    if (bot->file_fd >= 0)
        return file_fault(sys, &one, pg, 0);
    return fault_zero(sys, &one, pg, 0);
}

/* The holder's bytes of page pg into buf. */
static int holder_bytes(struct vmk_system *sys, struct vmk_object *h, size_t pg, uint64_t hv,
                        char *buf)
{
    if (hv & PTE_RES)
        return store_read(sys->store_fd, h->base + ((uint64_t)pg << PAGE_SHIFT_), buf, PAGE_SIZE_);
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

/* The copy-on-write break (top's entry and the holder's locked). */
static int cow_break(struct vmk_system *sys, struct vmk_vma *vma, size_t pg,
                     struct vmk_object *h, uint64_t hv)
{
    struct vmk_object *top = vma->obj;
    uintptr_t addr = vma_addr(vma, pg);
    uint64_t off = top->base + ((uint64_t)pg << PAGE_SHIFT_);
    uint64_t zero = 0;
    uint32_t fr;
    int r = frames_get(sys, 1, 1, &fr);
    if (r < 0) {
        pte_unlock(&h->ptes[pg], hv);
        pte_unlock(&top->ptes[pg], 0);
        return r;
    }
    int bi;
    char *buf = bounce_get(sys, &bi);
    r = holder_bytes(sys, h, pg, hv, buf);
    if (r == 0)
        r = store_write(sys->store_fd, off, buf, PAGE_SIZE_);
    bounce_put(sys, bi);
    if (r == 0) {
        r = mmu_remap(sys->uffd, sys->store_fd, addr, off, PAGE_SIZE_, vma->prot, true);
        if (r == -ENOMEM)
            report_once(&sys->said_maps, "vmkit: copy-on-write needs a kernel mapping per run of "
                        "copied pages and the process has vm.max_map_count of them; raise it "
                        "(sysctl vm.max_map_count=1048576); the faulting thread gets SIGBUS");
        if (r == 0 && (r = mmu_continue(sys->uffd, addr, PAGE_SIZE_, false)) < 0)
            mmu_remap(sys->uffd, sys->store_fd, addr, h->base + ((uint64_t)pg << PAGE_SHIFT_),
                      PAGE_SIZE_, vma->prot, true);   /* back as it was */
    }
    if (r < 0) {
        pte_unlock(&h->ptes[pg], hv);
        return fault_abort(sys, top, pg, 1, &fr, &zero, r);
    }
    bool major = !(hv & PTE_RES) && (hv & PTE_SWAP);
    pte_unlock(&h->ptes[pg], hv);
    tree_cover(sys, top, pg);
    uint64_t nv = PTE_RES | PTE_DIRTY | PTE_MAPPED | PTE_REF;
    fault_publish(sys, top, pg, 1, &fr, &nv);
    fault_count(sys, top->owner, major ? C_FAULTS_MAJOR : C_FAULTS_MINOR, 1);
    fault_count(sys, top->owner, C_COW_BREAKS, 1);
    return major ? TR_MAJOR : TR_WP;
}

/* A fault at page pg of vma, whose object has a backing and no page pg of
 * its own (its entry is locked, 0). */
int cow_fault(struct vmk_system *sys, struct vmk_vma *vma, size_t pg, int write)
{
    struct vmk_object *top = vma->obj;
    uint64_t hv;
    struct vmk_object *h = lock_holder(top, pg, &hv);
    if (write)
        return cow_break(sys, vma, pg, h, hv);
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
