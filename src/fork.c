/*
 * fork.c - copy-on-write fork of an address space: the object tree.
 *
 * How a frame is shared.  Every VMA is a window on the frame-store memfd,
 * and two windows on the same offsets are two virtual addresses of one
 * physical page: the one way Linux lets a process map a page twice that
 * vmkit can still manage (evict, swap, count).  So vmk_space_fork copies no
 * data.  For each object X behind the parent's VMAs it
 *
 *   1. freezes X: from now on X is a read-only snapshot;
 *   2. stacks two empty objects on it, one for the parent (which takes over
 *      X's VMAs) and one for the child.  A page neither has shows through
 *      from X (and from X's own backing, down the chain);
 *   3. write-protects the parent's mapped pages (one ioctl per VMA) and maps
 *      the child's VMA on the same offsets the parent's VMA maps: the range
 *      of the tree's bottom object, with, run by run, the ranges of objects
 *      above the bottom that hold pages of their own (earlier forks' copies).
 *
 * Time O(VMAs), plus the page tables of objects above the bottom for forks
 * of forks.  The invariant the fault path (cow.c) keeps: a VMA that shows
 * page i from object H maps H's frame-store offset of page i.  A read fault
 * maps H's frame write-protected; a write copies the page into the
 * writer's own object and maps that one page of the writer's own range over
 * H's (mmap MAP_FIXED): the copy-on-write break.
 *
 * Garbage.  A frozen object's page is needed while one of its (at most two)
 * children still shows it.  A child covers page i when it has a page of its
 * own there, or when it is frozen and all its live children cover i.  The
 * frozen object keeps a bit per child and page (cover[i]); once every live
 * child covers i, the page is freed at once, frame and slot, as the kernel
 * frees a page with its last mapping.  When a child goes (its space is
 * destroyed), the pages the other child covers are freed; a frozen object
 * left with no child is freed whole, and so on down the chain; one left
 * with a single child takes that child into itself (collapse.c), so the
 * chain only ever holds as many frozen levels as there are live forks:
 * VMK_FORK_DEPTH_MAX limits live nesting, not the number of forks.
 *
 * Swap.  A frozen page evicted to swap has one slot whatever the number of
 * spaces that show it; the first of them to fault it back reads it into
 * the frozen object's frame, where the others find it (swap cache).
 *
 * Everything here (and in collapse.c) runs with the maplock exclusive (no
 * fault, no reclaim), except tree_cover, called by a copy-on-write fault
 * (maplock shared).
 */
#include "internal.h"
#include "fileonce.h"
#include "workingset.h"
#include "mmu.h"
#include "reap.h"
#include "store.h"
#include <stdlib.h>
#include <sys/mman.h>

static size_t cover_bytes(size_t npages)
{
    return (npages + PAGE_SIZE_ - 1) & ~(size_t)(PAGE_SIZE_ - 1);
}

static bool page_dead(const struct vmk_object *b, uint8_t bits)
{
    for (int k = 0; k < 2; k++)
        if (b->child[k] && !(bits & (1u << k)))
            return false;
    return true;
}

static void cover_bump_end(struct vmk_object *b, size_t pg)
{
    size_t cur = atomic_load_explicit(&b->cover_end, memory_order_relaxed);
    while (cur <= pg && !atomic_compare_exchange_weak_explicit(&b->cover_end, &cur, pg + 1,
                                                               memory_order_relaxed,
                                                               memory_order_relaxed))
        ;
}

/*
 * o has a page of its own at pg now (a copy-on-write fault, holding o's
 * entry and the holder's).  Walk down: set o's bit in its backing; if that
 * makes the backing's page dead, free it (its entry is taken BUSY: children
 * before parents is the order every fault takes them in) and go on, since
 * the backing now covers pg for the object under it.
 */
void tree_cover(struct vmk_object *o, size_t pg)
{
    for (struct vmk_object *c = o, *b; (b = c->backing); c = b) {
        uint8_t bit = (uint8_t)(1u << c->slot);
        uint8_t old = atomic_fetch_or_explicit(&b->cover[pg], bit, memory_order_acq_rel);
        cover_bump_end(b, pg);
        if ((old & bit) || !page_dead(b, old | bit))
            return;
        uint64_t v = pte_lock(&b->ptes[pg]);
        if (v)
            object_drop_page(b, pg, v);
        pte_unlock(&b->ptes[pg], 0);
    }
}

/* The same with the maplock exclusive (no locks needed), from object b whose
 * page pg has just become dead. */
static void cover_dead_page(struct vmk_object *b, size_t pg)
{
    for (;;) {
        uint64_t v = atomic_load_explicit(&b->ptes[pg], memory_order_relaxed);
        if (v) {
            object_drop_page(b, pg, v);
            atomic_store_explicit(&b->ptes[pg], 0, memory_order_relaxed);
        }
        struct vmk_object *n = b->backing;
        if (!n)
            return;
        uint8_t bit = (uint8_t)(1u << b->slot);
        uint8_t old = atomic_fetch_or_explicit(&n->cover[pg], bit, memory_order_relaxed);
        cover_bump_end(n, pg);
        if ((old & bit) || !page_dead(n, old | bit))
            return;
        b = n;
    }
}

/*
 * o (with no VMA and no child left) leaves its backing b.  If b has no child
 * left it goes too; otherwise the pages its other child covers are dead,
 * and b, left with that one child, takes it into itself (collapse.c).
 */
void tree_unlink(struct vmk_object *o)
{
    struct vmk_object *b = o->backing;
    b->child[o->slot] = NULL;
    o->backing = NULL;
    if (!b->child[0] && !b->child[1]) {
        object_free(b);
        return;
    }
    size_t end = atomic_load_explicit(&b->cover_end, memory_order_relaxed);
    for (size_t pg = 0; pg < end; pg++) {
        uint8_t bits = atomic_load_explicit(&b->cover[pg], memory_order_relaxed);
        if (bits && page_dead(b, bits))
            cover_dead_page(b, pg);
    }
    tree_collapse(b);
}

/* An empty object over b for owner, as b's child number slot. */
static struct vmk_object *shadow_create(struct vmk_object *b, struct vmk_space *owner, int slot)
{
    struct vmk_object *o = object_create(b->sys, owner, b->npages);
    if (!o)
        return NULL;
    o->bottom = b->bottom;
    o->depth = b->depth + 1;
    o->slot = slot;
    return o;
}

/* Make x a frozen snapshot under two new objects: *xp takes over x's VMAs
 * (the parent's), *xc is the child's.  0, -ENOMEM or -EMLINK (nothing
 * changed). */
static int freeze(struct vmk_object *x, struct vmk_space *child, struct vmk_object **xp,
                  struct vmk_object **xc)
{
    struct vmk_system *sys = x->sys;
    if (x->depth + 1 > VMK_FORK_DEPTH_MAX)
        return -EMLINK;
    void *cov = mmap(NULL, cover_bytes(x->npages), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (cov == MAP_FAILED)
        return -ENOMEM;
    struct vmk_object *p = shadow_create(x, x->owner, 0), *c = shadow_create(x, child, 1);
    if (!p || !c) {
        munmap(cov, cover_bytes(x->npages));
        if (p)
            object_free(p);
        if (c)
            object_free(c);
        return -ENOMEM;
    }
    x->cover = cov;
    p->backing = c->backing = x;
    x->child[0] = p, x->child[1] = c;
    x->frozen = true;
    p->vmas = x->vmas, p->nvmas = x->nvmas, p->cap_vmas = x->cap_vmas;
    x->vmas = NULL, x->nvmas = x->cap_vmas = 0;
    for (int i = 0; i < p->nvmas; i++)
        p->vmas[i]->obj = p;
    atomic_store(&p->write_hint, atomic_load(&x->write_hint));
    /* x's frames are now the snapshot's: count them once, in fork_space. */
    int64_t res = atomic_load_explicit(&x->resident, memory_order_relaxed);
    ctr_add(&x->owner->ctr, C_RESIDENT, -(int64_t)res);
    ctr_add(&sys->fork_space.ctr, C_RESIDENT, (int64_t)res);
    ws_move_object(sys, x, x->owner, &sys->fork_space);   /* so are their working-set counts */
    x->owner = &sys->fork_space;
    *xp = p, *xc = c;
    return 0;
}

/* The object above the bottom, from o down, that holds page pg; NULL: none
 * (the VMA maps the bottom's offset there). */
static struct vmk_object *holder_above_bottom(struct vmk_object *o, size_t pg)
{
    for (; o && o != o->bottom; o = o->backing)
        if (pg < atomic_load_explicit(&o->touched_end, memory_order_relaxed) &&
            (atomic_load_explicit(&o->ptes[pg], memory_order_relaxed) & ~(PTE_BUSY | PTE_WAIT)))
            return o;
    return NULL;
}

/*
 * Map [addr, addr+len), which shows pages pgoff.. of top, as the invariant
 * wants: the bottom's window, then the runs of pages held above it.  addr 0:
 * anywhere.  Returns the address, or NULL with *err.
 */
static void *map_tree_window(struct vmk_system *sys, struct vmk_object *top, uintptr_t addr,
                             size_t pgoff, size_t len, int prot, int *err)
{
    struct vmk_object *bot = top->bottom;
    uint64_t off = bot->base + ((uint64_t)pgoff << PAGE_SHIFT_);
    void *p;
    if (addr) {
        int r = mmu_remap(sys->uffd, sys->store_fd, addr, off, len, prot, true);
        p = r == 0 ? (void *)addr : NULL;
        *err = r;
    } else {
        p = mmu_map(sys->uffd, sys->store_fd, off, len, prot, err);
    }
    if (!p || top->depth == 0)
        return p;
    size_t n = len >> PAGE_SHIFT_;
    for (size_t i = 0; i < n;) {
        struct vmk_object *h = holder_above_bottom(top, pgoff + i);
        if (!h) {
            i++;
            continue;
        }
        size_t k = 1;
        while (i + k < n && holder_above_bottom(top, pgoff + i + k) == h)
            k++;
        int r = mmu_remap(sys->uffd, sys->store_fd, (uintptr_t)p + (i << PAGE_SHIFT_),
                          h->base + ((uint64_t)(pgoff + i) << PAGE_SHIFT_), k << PAGE_SHIFT_,
                          prot, true);
        if (r < 0) {
            mmu_unmap(p, len);
            *err = r;
            return NULL;
        }
        i += k;
    }
    return p;
}

/* A VMA of child showing what pv shows (its object now obj), at addr (0:
 * anywhere).  0 or -errno. */
static int map_child_vma(struct vmk_system *sys, struct vmk_vma *pv, struct vmk_space *child,
                         struct vmk_object *obj, uintptr_t addr)
{
    struct vmk_vma *cv = calloc(1, sizeof *cv);
    if (!cv)
        return -ENOMEM;
    size_t len = pv->end - pv->start;
    int err = 0;
    void *p = map_tree_window(sys, obj, addr, pv->pgoff, len, pv->prot, &err);
    if (!p) {
        free(cv);
        return err;
    }
    *cv = (struct vmk_vma){ .start = (uintptr_t)p, .end = (uintptr_t)p + len, .prot = pv->prot,
                            .space = child, .obj = obj, .pgoff = pv->pgoff };
    err = vma_insert(sys, cv);
    if (err < 0) {
        mmu_unmap(p, len);
        free(cv);
    }
    return err;
}

struct fork_pair { struct vmk_object *parent_top, *child_top; };

/* VMK_FORK_MOVE: 0 always write-protects the parent's entries, 1 (the
 * default) chooses per VMA, 2 moves every VMA out that is one kernel
 * mapping, whatever its size (tests, experiments). */
static unsigned move_mode(void)
{
    static _Atomic unsigned cached;            /* mode + 1; 0 unknown */
    unsigned c = atomic_load_explicit(&cached, memory_order_relaxed);
    if (!c) {
        const char *e = getenv("VMK_FORK_MOVE");
        unsigned long m = e && *e ? strtoul(e, NULL, 10) : 1;
        c = (m > 2 ? 1 : (unsigned)m) + 1;
        atomic_store_explicit(&cached, c, memory_order_relaxed);
    }
    return c - 1;
}

/*
 * Take write access from the parent's mapped pages in its frozen VMAs
 * v[0..n).  Two ways (mmu.c):
 *
 *   write-protect  UFFDIO_WRITEPROTECT of every entry: ~25 ns an entry,
 *                  split over two threads; the parent reads on for free.
 *   move out       mmu_move_out moves the VMA's page tables away (~8 ns an
 *                  entry, one thread; the reaper thread unmaps them later,
 *                  reap.c) and the parent faults its pages back in,
 *                  write-protected, up to fault_around pages a fault: ~0.3
 *                  us a page, but only for the pages it reads again (a write
 *                  faults either way).
 *
 * Moving out is the fork the caller waits for least, and the right one
 * when the parent touches little of its memory before the next fork (a
 * fuzzing or what-if loop, a writer of a few hot pages); a parent that
 * reads all of it back pays more than the walk it saved.  So each VMA
 * keeps a running estimate of the share of moved-out pages its space read
 * back (the mean of the old estimate and the last fork's share), and is
 * write-protected while that is at least half; each fork that
 * write-protects it lowers the estimate by 5 points, so moving out is tried
 * again now and then.  VMAs under MOVE_MIN (where the walk costs less than
 * the scratch mapping) and VMAs that are not one kernel mapping (runs
 * copied since an earlier fork) are write-protected; VMK_FORK_MOVE (see
 * move_mode) overrides the choice.  0 or the first -errno.
 */
#define MOVE_MIN ((size_t)4 << 20)

static bool move_chosen(struct vmk_vma *v)
{
    if (v->fork_moved) {
        size_t got = atomic_load_explicit(&v->fork_refilled, memory_order_relaxed);
        unsigned pct = got >= v->fork_moved ? 100 : (unsigned)(got * 100 / v->fork_moved);
        v->fork_reread = (v->fork_reread + pct) / 2;
    } else {
        v->fork_reread = v->fork_reread > 5 ? v->fork_reread - 5 : 0;
    }
    v->fork_moved = 0;
    unsigned m = move_mode();
    return m == 2 || (m == 1 && v->end - v->start >= MOVE_MIN && v->fork_reread < 50);
}

/* Pages whose entries a move of v takes out, about: the frozen object's
 * resident pages if v is its only VMA, else all of v's. */
static size_t moved_estimate(struct vmk_vma *v)
{
    size_t pages = (v->end - v->start) >> PAGE_SHIFT_;
    struct vmk_object *x = v->obj->backing;
    int64_t res = x ? atomic_load_explicit(&x->resident, memory_order_relaxed) : 0;
    if (v->obj->nvmas == 1 && res >= 0 && (size_t)res < pages)
        pages = (size_t)res;
    return pages ? pages : 1;
}

static int take_write_access(struct vmk_system *sys, struct vmk_vma **v, size_t n)
{
    int err = 0;
    struct mmu_range *wp = malloc(n * sizeof *wp);
    if (!wp) {                                /* no memory: one walk at a time */
        for (size_t i = 0; i < n; i++) {
            int e = mmu_writeprotect(sys->uffd, v[i]->start, v[i]->end - v[i]->start, true);
            if (e < 0 && !err)
                err = e;
        }
        return err;
    }
    size_t left = 0;
    for (size_t i = 0; i < n; i++) {
        void *scratch;
        size_t slen;
        if (move_chosen(v[i]) &&
            mmu_move_out(v[i]->start, v[i]->end - v[i]->start, &scratch, &slen) == 0) {
            reap_defer(sys, scratch, slen);
            v[i]->fork_moved = moved_estimate(v[i]);
            atomic_store_explicit(&v[i]->fork_refilled, 0, memory_order_relaxed);
        } else {
            wp[left++] = (struct mmu_range){ v[i]->start, v[i]->end - v[i]->start };
        }
    }
    err = left ? mmu_writeprotect_all(sys->uffd, wp, left) : 0;
    free(wp);
    return err;
}

/* Give child a VMA for each of parent's; addrs[i] (if addrs) says where the
 * i-th goes (0: anywhere).  Maplock exclusive.  0 or -errno. */
static int fork_vmas(struct vmk_system *sys, struct vmk_space *parent, struct vmk_space *child,
                     const uintptr_t *addrs)
{
    size_t n = 0;
    for (size_t i = 0; i < sys->nvmas; i++)
        n += sys->vmas[i]->space == parent;
    struct vmk_vma **pv = malloc((n + 1) * sizeof *pv);
    struct fork_pair *pairs = malloc((n + 1) * sizeof *pairs);
    struct vmk_vma **wp = malloc((n + 1) * sizeof *wp);
    int r = pv && pairs && wp ? vma_reserve(sys, n) : -ENOMEM;
    size_t np = 0, nwp = 0;
    for (size_t i = 0, k = 0; r == 0 && i < sys->nvmas; i++)
        if (sys->vmas[i]->space == parent)
            pv[k++] = sys->vmas[i];
    for (size_t i = 0; r == 0 && i < n; i++) {
        struct vmk_vma *v = pv[i];
        struct vmk_object *x = v->obj, *cobj = NULL;
        if (x->once && (r = fileonce_end(x)) < 0)   /* its pages cannot be shared */
            break;
        if (x->file_shared) {              /* one page cache: stays shared */
            cobj = x;
        } else {
            for (size_t k = 0; k < np && !cobj; k++)
                if (pairs[k].parent_top == x)
                    cobj = pairs[k].child_top;
            if (!cobj) {
                struct vmk_object *xp;
                if ((r = freeze(x, child, &xp, &cobj)) < 0)
                    break;
                pairs[np++] = (struct fork_pair){ xp, cobj };
            }
            wp[nwp++] = v;
        }
        r = map_child_vma(sys, v, child, cobj, addrs ? addrs[i] : 0);
    }
    /* Writes to the parent's pages mapped now must fault from here on (also
     * after an error: what is frozen must never be written through an old
     * writable entry): at the end, each frozen VMA's entries moved out, or
     * all of those that cannot be write-protected in one walk. */
    int e = nwp ? take_write_access(sys, wp, nwp) : 0;
    free(pv);
    free(pairs);
    free(wp);
    return r < 0 ? r : e;
}

VMK_API int vmk_space_fork(vmk_space *parent, vmk_space **childp)
{
    if (!parent || !childp)
        return -EINVAL;
    struct vmk_system *sys = parent->sys;
    vmk_space *child;
    int r = vmk_space_create(sys, &child);
    if (r < 0)
        return r;
    rw_write_lock(&sys->maplock);
    child->priority = parent->priority;
    child->parent = parent;
    child->forked = true;
    r = fork_vmas(sys, parent, child, NULL);
    rw_write_unlock(&sys->maplock);
    if (r < 0) {
        vmk_space_destroy(child);
        return r;
    }
    *childp = child;
    return 0;
}

/* The VMA of `to` that shows page pg of the tree with bottom bot (maplock). */
static struct vmk_vma *vma_of_tree(struct vmk_system *sys, struct vmk_space *to,
                                   const struct vmk_object *bot, size_t pg)
{
    for (size_t i = 0; i < sys->nvmas; i++) {
        struct vmk_vma *v = sys->vmas[i];
        if (v->space == to && v->obj->bottom == bot && pg >= v->pgoff && pg < vma_page(v, v->end))
            return v;
    }
    return NULL;
}

VMK_API void *vmk_space_translate(vmk_space *to, vmk_space *from, const void *addr)
{
    if (!to || !from || to->sys != from->sys) {
        errno = EINVAL;
        return NULL;
    }
    struct vmk_system *sys = from->sys;
    rw_read_lock(&sys->maplock);
    void *res = NULL;
    struct vmk_vma *fv = vma_find(sys, (uintptr_t)addr);
    if (fv && fv->space == from) {
        size_t pg = vma_page(fv, (uintptr_t)addr);
        struct vmk_vma *tv = vma_of_tree(sys, to, fv->obj->bottom, pg);
        if (tv)
            res = (void *)(vma_addr(tv, pg) + ((uintptr_t)addr & (PAGE_SIZE_ - 1)));
    }
    rw_read_unlock(&sys->maplock);
    if (!res)
        errno = EFAULT;
    return res;
}

/* Has o (a parent's top) any page of its own? */
static bool object_has_pages(struct vmk_object *o)
{
    size_t end = atomic_load(&o->touched_end);
    for (size_t pg = 0; pg < end; pg++)
        if (atomic_load_explicit(&o->ptes[pg], memory_order_relaxed))
            return true;
    return false;
}

/*
 * Fast reset of child VMA cv: its object t and the parent's sibling object
 * are both children of one frozen object, and the parent's has no page of
 * its own, so every page t copied still has its original under it (the
 * sibling covers nothing, so no page of the frozen object was freed).
 * Drop t's pages and map the holders' pages again, run by run.
 */
static int reset_fast(struct vmk_system *sys, struct vmk_vma *cv)
{
    struct vmk_object *t = cv->obj, *b = t->backing;
    size_t first = cv->pgoff, n = (cv->end - cv->start) >> PAGE_SHIFT_;
    size_t end = atomic_load(&t->touched_end);
    uint8_t bit = (uint8_t)(1u << t->slot);
    for (size_t i = first; i < first + n && i < end;) {
        if (!atomic_load_explicit(&t->ptes[i], memory_order_relaxed)) {
            i++;
            continue;
        }
        size_t k = 0;
        while (i + k < first + n && i + k < end &&
               atomic_load_explicit(&t->ptes[i + k], memory_order_relaxed)) {
            uint64_t v = atomic_load_explicit(&t->ptes[i + k], memory_order_relaxed);
            object_drop_page(t, i + k, v);
            atomic_store_explicit(&t->ptes[i + k], 0, memory_order_relaxed);
            atomic_fetch_and_explicit(&b->cover[i + k], (uint8_t)~bit, memory_order_relaxed);
            k++;
        }
        /* Map the run again as the tree shows it (bottom, then holders). */
        struct vmk_vma tmp = *cv;
        tmp.start = vma_addr(cv, i), tmp.end = vma_addr(cv, i + k), tmp.pgoff = i;
        int err = 0;
        if (!map_tree_window(sys, t, tmp.start, i, tmp.end - tmp.start, cv->prot, &err))
            return err;
        i += k;
    }
    return 0;
}

/* The parent VMA that shows the same pages as cv (same tree, same range). */
static struct vmk_vma *parent_twin(struct vmk_system *sys, struct vmk_space *parent,
                                   struct vmk_vma *cv)
{
    struct vmk_vma *pv = vma_of_tree(sys, parent, cv->obj->bottom, cv->pgoff);
    if (pv && pv->pgoff == cv->pgoff && pv->end - pv->start == cv->end - cv->start)
        return pv;
    return NULL;
}

VMK_API int vmk_space_reset(vmk_space *child)
{
    if (!child)
        return -EINVAL;
    struct vmk_system *sys = child->sys;
    rw_write_lock(&sys->maplock);
    struct vmk_space *parent = child->parent;
    int r = !child->forked ? -EINVAL : parent ? 0 : -ESRCH;
    bool fast = true, any = false;
    /* Fast when every child VMA's object is the sibling of an untouched
     * top of the parent with the same range. */
    for (size_t i = 0; r == 0 && i < sys->nvmas; i++) {
        struct vmk_vma *cv = sys->vmas[i];
        if (cv->space != child)
            continue;
        any = true;
        struct vmk_object *t = cv->obj, *b = t->backing;
        struct vmk_vma *pv = parent_twin(sys, parent, cv);
        if (t->file_shared && pv && pv->obj == t)
            continue;
        if (!b || !pv || pv->obj->backing != b || object_has_pages(pv->obj))
            fast = false;
    }
    if (r == 0 && fast && any) {
        for (size_t i = 0; r == 0 && i < sys->nvmas; i++)
            if (sys->vmas[i]->space == child && !sys->vmas[i]->obj->file_shared)
                r = reset_fast(sys, sys->vmas[i]);
    } else if (r == 0) {
        /* General: fork the parent again into the child, each mapping at
         * the address its counterpart had (where there was one). */
        size_t n = 0;
        for (size_t i = 0; i < sys->nvmas; i++)
            n += sys->vmas[i]->space == parent;
        uintptr_t *addrs = calloc(n + 1, sizeof *addrs);
        size_t *lens = calloc(n + 1, sizeof *lens);
        if (!addrs || !lens) {
            free(addrs);
            r = -ENOMEM;
        } else {
            for (size_t i = 0, k = 0; i < sys->nvmas; i++) {
                struct vmk_vma *pv = sys->vmas[i];
                if (pv->space != parent)
                    continue;
                for (size_t j = 0; j < sys->nvmas; j++) {
                    struct vmk_vma *cv = sys->vmas[j];
                    if (cv->space == child && parent_twin(sys, parent, cv) == pv)
                        addrs[k] = cv->start, lens[k] = cv->end - cv->start;
                }
                k++;
            }
            /* Drop the child's VMAs but keep their address ranges reserved
             * (PROT_NONE) until the new ones take their place. */
            for (size_t i = 0; i < sys->nvmas;) {
                struct vmk_vma *cv = sys->vmas[i];
                if (cv->space != child) {
                    i++;
                    continue;
                }
                if (!cv->obj->file_shared)
                    object_release_pages(cv->obj, cv->pgoff, (cv->end - cv->start) >> PAGE_SHIFT_);
                mmap((void *)cv->start, cv->end - cv->start, PROT_NONE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
                vma_remove_at(sys, i);
            }
            r = fork_vmas(sys, parent, child, addrs);
            /* Reserved ranges no new VMA took are given back. */
            for (size_t k = 0; k < n; k++)
                if (addrs[k] && !vma_find(sys, addrs[k]))
                    munmap((void *)addrs[k], lens[k]);
            free(addrs);
            free(lens);
        }
    }
    rw_write_unlock(&sys->maplock);
    return r;
}
