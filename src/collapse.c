/*
 * collapse.c - keeping the fork tree shallow: a frozen object left with one
 * child takes that child into itself.
 *
 * Every vmk_space_fork freezes the object X behind a mapping and stacks two
 * objects on it, the parent's P and the child's C (fork.c).  When one of
 * them goes - the child destroyed after a checkpoint, or a reset that forks
 * again - X has one child left, and nothing but that child will ever look
 * at X's pages.  Left alone, each round would add a level: a loop of
 * fork / destroy would hit VMK_FORK_DEPTH_MAX after 64 rounds, and every
 * fault would walk a longer chain.  So the survivor merges into X:
 *
 *        B                         B
 *        |                         |
 *        X (frozen)       ==>      X'  = X's pages + P's pages, P's role
 *        |                        / \        (P's VMAs, or P's children)
 *        P                       ...
 *       / \    (P frozen)
 *     ...
 *
 * X keeps its place (its slot in B's child[], its frame-store range, its
 * depth); P goes.  The work is O(P's own pages): the pages P copied since
 * the fork, which in a checkpoint loop are the few the parent changed.
 *
 *   1. Which pages move.  tree_unlink has already freed every page of X
 *      that P covers, so a page P has is one X has not (if X still had one,
 *      it was hidden by P's and is dropped).  Each page of P - resident or
 *      in swap - becomes X's page at the same index.
 *
 *   2. Who maps them.  The invariant (fork.c): a VMA that shows page i from
 *      holder H maps H's frame-store offset of page i.  The VMAs that show
 *      page i from P - P's own if P is a live top, otherwise those of every
 *      live top below P with no object between that has page i - map P's
 *      offset and must map X's from now on.  They are collected as runs of
 *      consecutive pages, one per VMA and stretch.
 *
 *   3. Guard.  Each run is mapped again from X's offsets with no access at
 *      all (mmap MAP_FIXED, PROT_NONE).  The old mapping and its page-table
 *      entries are gone: no thread can write a page of P behind our back
 *      while it is copied.  A thread that touches a guarded page gets
 *      SIGSEGV, which vmkit's handler (fault.c) turns into a wait for the
 *      maplock and a retry.  The new mapping is not registered with
 *      userfaultfd yet, and that is why it must have no access: a plain
 *      mmap over a page the frame-store does not have would let a touching
 *      thread take the kernel's own shmem fault and a fresh zero page (the
 *      cow_block bug of 2026-11-26); over a page it has, a write would go
 *      in unseen.  With PROT_NONE neither can happen, so pages in swap need
 *      no bytes in place: they stay holes, and the next touch faults them
 *      back from X's entry as usual.
 *
 *   4. Move.  Resident pages are copied P.base+i -> X.base+i in the kernel
 *      (runs of up to FA_MAX pages: one copy_file_range, one hole punch),
 *      keeping their frame: the frame's owner becomes (X, i).
 *      Swapped pages move their entry, slot and all.  Entries lose MAPPED:
 *      the old mappings went with step 3.
 *
 *   5. Open.  Each run is registered with userfaultfd and given its VMA's
 *      protection (mprotect); the kernel merges it with its neighbours when
 *      their offsets continue, so the mappings COW breaks added come back.
 *
 *   6. Roles.  If P was a live top, X thaws: it takes P's VMAs, owner,
 *      counters (its resident pages leave the shared count, their
 *      working-set counts go with them: workingset.c), hints, and its
 *      cover map goes.  If P was frozen, X takes P's children and P's cover
 *      map: a page X had that P did not is covered for a child of P exactly
 *      when P's map said so, since P's bits were kept up to date whether or
 *      not P had the page (tree_cover walks down regardless).  The depth of
 *      everything above drops by one.
 *
 * Everything runs with the maplock exclusive: no fault, no reclaim, no
 * sampler runs meanwhile (a thread that faults waits for the lock), and no
 * entry is BUSY.  Application threads may still touch mapped memory; steps
 * 3 and 5 are what keeps them right.  If step 3 fails for a run (the
 * process is at vm.max_map_count), the runs guarded so far get their old
 * mapping back and the chain stays as it was: correct, one level deeper.
 * sys->cow_maps (cow.c) is kept: a thawed X's VMAs forget P's runs of
 * copies and count X's own.
 *
 * Merging up (X's pages into P) would be cheaper when X has few pages and P
 * many; it is not done: in the loops collapsing is for (a checkpoint loop,
 * a window of snapshots, resets), P holds what changed since one fork.
 */
#include "internal.h"
#include "mmu.h"
#include "store.h"
#include "workingset.h"
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>

struct run { struct vmk_vma *vma; size_t pg, n; };
struct runs { struct run *r; size_t n, cap; };

static size_t touched(struct vmk_object *o)
{
    return atomic_load_explicit(&o->touched_end, memory_order_relaxed);
}

/* o's entry of page pg (maplock exclusive: nobody holds BUSY). */
static uint64_t entry(struct vmk_object *o, size_t pg)
{
    return pg < touched(o) ? atomic_load_explicit(&o->ptes[pg], memory_order_relaxed) : 0;
}

/* Does page pg of live top t show from p (p has it, nothing between)? */
static bool shows_from(struct vmk_object *t, struct vmk_object *p, size_t pg)
{
    for (struct vmk_object *o = t; o != p; o = o->backing)
        if (entry(o, pg))
            return false;
    return entry(p, pg) != 0;
}

static int runs_add(struct runs *rs, struct vmk_vma *v, size_t pg, size_t n)
{
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? 2 * rs->cap : 16;
        struct run *r = realloc(rs->r, cap * sizeof *r);
        if (!r)
            return -ENOMEM;
        rs->r = r, rs->cap = cap;
    }
    rs->r[rs->n++] = (struct run){ v, pg, n };
    return 0;
}

/* The runs of pages of VMAs of o and of the objects above it that show
 * from p.  0 or -ENOMEM. */
static int collect(struct runs *rs, struct vmk_object *o, struct vmk_object *p)
{
    size_t end = touched(p);
    for (int k = 0; k < o->nvmas; k++) {
        struct vmk_vma *v = o->vmas[k];
        size_t hi = vma_page(v, v->end) < end ? vma_page(v, v->end) : end;
        for (size_t i = v->pgoff; i < hi;) {
            if (!shows_from(o, p, i)) {
                i++;
                continue;
            }
            size_t n = 1;
            while (i + n < hi && shows_from(o, p, i + n))
                n++;
            if (runs_add(rs, v, i, n) < 0)
                return -ENOMEM;
            i += n;
        }
    }
    for (int k = 0; k < 2; k++)
        if (o->child[k] && collect(rs, o->child[k], p) < 0)
            return -ENOMEM;
    return 0;
}

/* Step 3 for run r: PROT_NONE, mapping offsets of o.  0 or -errno. */
static int guard(struct vmk_system *sys, const struct run *r, struct vmk_object *o)
{
    return mmu_guard(sys->store_fd, vma_addr(r->vma, r->pg),
                     o->base + ((uint64_t)r->pg << PAGE_SHIFT_), r->n << PAGE_SHIFT_);
}

/* Step 5 for run r.  A failure here cannot be undone (the pages have
 * moved): try again a few times, then take the run away, so that a touch
 * is a plain SIGSEGV rather than a wrong page, and say so. */
static void open_run(struct vmk_system *sys, const struct run *r)
{
    uintptr_t addr = vma_addr(r->vma, r->pg);
    size_t len = r->n << PAGE_SHIFT_;
    for (int tries = 0; tries < 8; tries++) {
        if (mmu_open(sys->uffd, addr, len, r->vma->prot) == 0)
            return;
        sched_yield();
    }
    mmu_unmap((void *)addr, len);
    report_once(&sys->said_maps, "vmkit: a collapsed fork chain could not be mapped again (the "
                "kernel refused: vm.max_map_count?); its pages read as SIGSEGV");
}

/* Move page pg's entry from p to x; the bytes of a resident page are in
 * place at x already.  Counters follow the frame. */
static void move_entry(struct vmk_system *sys, struct vmk_object *p, struct vmk_object *x,
                       size_t pg, uint64_t v)
{
    if (v & PTE_RES) {
        frame_set_owner(&sys->frames, pte_frame(v), x, (uint32_t)pg);
        ws_moved(sys, pte_frame(v), p, x, (uint32_t)pg);
        atomic_fetch_sub_explicit(&p->resident, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&x->resident, 1, memory_order_relaxed);
        ctr_add(&p->owner->ctr, C_RESIDENT, -1);
        ctr_add(&x->owner->ctr, C_RESIDENT, 1);
        /* "Resident, never written" would read as zeros in an object with
         * no backing: a page copied from above is data, keep it dirty. */
        if (!(v & (PTE_DIRTY | PTE_SWAP)))
            v |= PTE_DIRTY;
    }
    atomic_store_explicit(&x->ptes[pg], v & ~(PTE_MAPPED | PTE_BUSY | PTE_WAIT),
                          memory_order_relaxed);
    atomic_store_explicit(&p->ptes[pg], 0, memory_order_relaxed);
}

/* Resident page pg of p that the frame-store would not take at x: to swap,
 * as an eviction would send it (its frame is freed).  -EIO if that fails
 * too: the page is lost (said once). */
static int page_to_swap(struct vmk_system *sys, struct vmk_object *p, struct vmk_object *x,
                        size_t pg, char *buf)
{
    uint64_t v = entry(p, pg), slot;
    uint32_t f = pte_frame(v);
    int r = store_read(sys->store_fd, p->base + ((uint64_t)pg << PAGE_SHIFT_), buf, PAGE_SIZE_);
    if (r == 0 && (r = swap_alloc(&sys->swap, 1, &slot)) == 1 &&
        (r = swap_write(&sys->swap, slot, buf, 1)) < 0)
        swap_put(&sys->swap, slot, 1);
    if (r < 0)
        report_once(&sys->said_io, "vmkit: a page of a collapsed fork chain could be neither "
                    "copied nor swapped; it is lost");
    if (v & PTE_SWAP)
        swap_put(&sys->swap, pte_slot(v), 1);
    ws_left(x);
    frames_free(&sys->frames, &f, 1);
    atomic_fetch_sub_explicit(&p->resident, 1, memory_order_relaxed);
    ctr_add(&p->owner->ctr, C_RESIDENT, -1);
    ctr_add(&sys->ctr, C_RESIDENT, -1);
    store_punch(sys->store_fd, p->base + ((uint64_t)pg << PAGE_SHIFT_), PAGE_SIZE_);
    move_entry(sys, p, x, pg, r < 0 ? 0 : pte_with_slot(0, slot));
    return r < 0 ? -EIO : 0;
}

/*
 * Copy resident pages [pg, pg+n) (n <= FA_MAX) of p to x in the frame-store
 * and punch them out of p; their frames stay.  If the frame-store cannot
 * take them (out of memory), they go to swap instead.
 */
static void copy_run(struct vmk_system *sys, struct vmk_object *p, struct vmk_object *x,
                     size_t pg, size_t n, char *buf)
{
    uint64_t from = p->base + ((uint64_t)pg << PAGE_SHIFT_), to = x->base + ((uint64_t)pg << PAGE_SHIFT_);
    size_t len = n << PAGE_SHIFT_;
    if (store_copy(sys->store_fd, from, to, len, buf) == 0) {
        store_punch(sys->store_fd, from, len);
        for (size_t i = pg; i < pg + n; i++)
            move_entry(sys, p, x, i, entry(p, i));
        return;
    }
    store_punch(sys->store_fd, to, len);
    for (size_t i = pg; i < pg + n; i++)
        page_to_swap(sys, p, x, i, buf);
}

/* Step 4: every page of p becomes x's. */
static void move_pages(struct vmk_system *sys, struct vmk_object *p, struct vmk_object *x)
{
    int bi;
    char *buf = bounce_get(sys, &bi);
    size_t end = touched(p);
    for (size_t i = 0; i < end;) {
        uint64_t v = entry(p, i);
        if (!v) {
            i++;
            continue;
        }
        uint64_t xv = entry(x, i);
        if (xv) {                        /* hidden by p's page: garbage */
            object_drop_page(x, i, xv);
            atomic_store_explicit(&x->ptes[i], 0, memory_order_relaxed);
        }
        if (!(v & PTE_RES)) {
            move_entry(sys, p, x, i, v);
            i++;
            continue;
        }
        size_t n = 1;
        while (n < FA_MAX && i + n < end && (entry(p, i + n) & PTE_RES) && !entry(x, i + n))
            n++;
        copy_run(sys, p, x, i, n, buf);
        i += n;
    }
    bounce_put(sys, bi);
    size_t cur = touched(x);
    if (end > cur)
        atomic_store_explicit(&x->touched_end, end, memory_order_relaxed);
}

static void set_depth(struct vmk_object *o, uint32_t depth)
{
    o->depth = depth;
    for (int k = 0; k < 2; k++)
        if (o->child[k])
            set_depth(o->child[k], depth + 1);
}

/* Step 6, P a live top: x thaws and takes p's place. */
static void take_top(struct vmk_system *sys, struct vmk_object *x, struct vmk_object *p)
{
    munmap((void *)x->cover, (x->npages + PAGE_SIZE_ - 1) & ~(size_t)(PAGE_SIZE_ - 1));
    x->cover = NULL;
    atomic_store_explicit(&x->cover_end, 0, memory_order_relaxed);
    x->child[0] = x->child[1] = NULL;
    x->frozen = false;
    /* x's own frames were the snapshot's, counted once in fork_space. */
    int64_t res = atomic_load_explicit(&x->resident, memory_order_relaxed);
    ctr_add(&x->owner->ctr, C_RESIDENT, -res);
    ctr_add(&p->owner->ctr, C_RESIDENT, res);
    ws_move_object(sys, x, x->owner, p->owner);     /* and its working-set counts */
    x->owner = p->owner;
    free(x->vmas);
    x->vmas = p->vmas, x->nvmas = p->nvmas, x->cap_vmas = p->cap_vmas;
    p->vmas = NULL, p->nvmas = p->cap_vmas = 0;
    for (int k = 0; k < x->nvmas; k++)
        x->vmas[k]->obj = x;
    atomic_store(&x->write_hint, atomic_load(&p->write_hint));
}

/* Step 6, P frozen: x takes p's children and cover map. */
static void take_children(struct vmk_object *x, struct vmk_object *p)
{
    munmap((void *)x->cover, (x->npages + PAGE_SIZE_ - 1) & ~(size_t)(PAGE_SIZE_ - 1));
    x->cover = p->cover;
    atomic_store_explicit(&x->cover_end, atomic_load(&p->cover_end), memory_order_relaxed);
    p->cover = NULL;
    for (int k = 0; k < 2; k++) {
        x->child[k] = p->child[k];
        p->child[k] = NULL;
        if (x->child[k]) {
            x->child[k]->backing = x;
            set_depth(x->child[k], x->depth + 1);
        }
    }
}

/*
 * x is frozen and has exactly one child: merge the child into x (above).
 * Maplock exclusive.  Nothing is changed if a run cannot be guarded.
 */
void tree_collapse(struct vmk_object *x)
{
    struct vmk_system *sys = x->sys;
    struct vmk_object *p = x->child[0] ? x->child[0] : x->child[1];
    if (!x->frozen || !p || (x->child[0] && x->child[1]))
        return;
    struct runs rs = { 0 };
    if (collect(&rs, p, p) < 0) {
        free(rs.r);
        return;
    }
    for (size_t k = 0; k < rs.n; k++) {                       /* 3 */
        if (guard(sys, &rs.r[k], x) == 0)
            continue;
        for (size_t j = 0; j <= k; j++) {  /* put the old mappings back */
            guard(sys, &rs.r[j], p);
            open_run(sys, &rs.r[j]);
        }
        free(rs.r);
        return;
    }
    bool live = !p->frozen;
    if (live)
        for (int k = 0; k < p->nvmas; k++)
            cow_forget_maps(sys, p->vmas[k]);
    move_pages(sys, p, x);                                    /* 4 */
    for (size_t k = 0; k < rs.n; k++)                         /* 5 */
        open_run(sys, &rs.r[k]);
    free(rs.r);
    if (live) {                                               /* 6 */
        take_top(sys, x, p);
        for (int k = 0; k < x->nvmas; k++)
            cow_count_maps(sys, x->vmas[k]);
    } else {
        take_children(x, p);
    }
    ctr_add(&sys->ctr, C_FORK_COLLAPSES, 1);
    ctr_add(&x->owner->ctr, C_FORK_COLLAPSES, 1);
    p->backing = NULL;
    p->child[0] = p->child[1] = NULL;
    object_free(p);
}
