/*
 * object.c - the pages behind VMAs: a range of the frame-store and its page table.
 *
 * An object is made by vmk_map_anon() for the whole mapping; unmap and
 * protect may split the VMA, and the pieces keep naming the one object at
 * their own page offsets.  When the last VMA goes, the object is freed.
 * All of this runs with the system's maplock held for writing, so no fault
 * or reclaim runs beside it.
 */
#include "internal.h"
#include "fileonce.h"
#include "mmu.h"
#include "store.h"
#include <stdlib.h>
#include <sys/mman.h>

static size_t pt_bytes(size_t npages)
{
    return (npages * sizeof(pte_t) + PAGE_SIZE_ - 1) & ~(size_t)(PAGE_SIZE_ - 1);
}

/*
 * Frame-store offsets.  Each object owns a range (plus a guard page) for its
 * life; ranges of freed objects go back on a sorted, coalesced free list
 * and are handed out again first-fit, so a program that maps and unmaps
 * (or forks) forever does not run out of offsets.  Maplock exclusive.
 */
static uint64_t store_alloc(struct vmk_system *sys, uint64_t len)
{
    for (size_t i = 0; i < sys->nstore_free; i++) {
        struct store_range *r = &sys->store_free[i];
        if (r->len < len)
            continue;
        uint64_t off = r->off;
        r->off += len, r->len -= len;
        if (!r->len) {
            memmove(r, r + 1, (sys->nstore_free - i - 1) * sizeof *r);
            sys->nstore_free--;
        }
        return off;
    }
    if (sys->store_next + len > STORE_SIZE)
        return UINT64_MAX;
    uint64_t off = sys->store_next;
    sys->store_next += len;
    return off;
}

static void store_release(struct vmk_system *sys, uint64_t off, uint64_t len)
{
    if (off + len == sys->store_next) {           /* the top: give it back to the bump */
        sys->store_next = off;
        while (sys->nstore_free && sys->store_free[sys->nstore_free - 1].off +
                                           sys->store_free[sys->nstore_free - 1].len == sys->store_next)
            sys->store_next = sys->store_free[--sys->nstore_free].off;
        return;
    }
    size_t i = 0;
    while (i < sys->nstore_free && sys->store_free[i].off < off)
        i++;
    struct store_range *f = sys->store_free;
    if (i > 0 && f[i - 1].off + f[i - 1].len == off) {           /* join the one below */
        f[i - 1].len += len;
        if (i < sys->nstore_free && off + len == f[i].off) {
            f[i - 1].len += f[i].len;
            memmove(&f[i], &f[i + 1], (sys->nstore_free - i - 1) * sizeof *f);
            sys->nstore_free--;
        }
        return;
    }
    if (i < sys->nstore_free && off + len == f[i].off) {          /* join the one above */
        f[i].off = off, f[i].len += len;
        return;
    }
    if (sys->nstore_free == sys->cap_store_free) {
        size_t cap = sys->cap_store_free ? 2 * sys->cap_store_free : 16;
        struct store_range *n = realloc(f, cap * sizeof *n);
        if (!n)
            return;                    /* the range is lost to reuse, nothing else */
        sys->store_free = f = n;
        sys->cap_store_free = cap;
    }
    memmove(&f[i + 1], &f[i], (sys->nstore_free - i) * sizeof *f);
    f[i] = (struct store_range){ off, len };
    sys->nstore_free++;
}

struct vmk_object *object_create(struct vmk_system *sys, struct vmk_space *owner, size_t npages)
{
    struct vmk_object *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    /* A guard page between objects keeps their offsets from ever touching. */
    uint64_t span = ((uint64_t)npages + 1) << PAGE_SHIFT_;
    uint64_t base = store_alloc(sys, span);
    if (base == UINT64_MAX) {
        free(o);
        return NULL;
    }
    /* The page table is backed lazily: untouched stretches cost nothing. */
    o->ptes = mmap(NULL, pt_bytes(npages), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (o->ptes == MAP_FAILED) {
        store_release(sys, base, span);
        free(o);
        return NULL;
    }
    o->sys = sys;
    o->owner = owner;
    o->file_fd = -1;
    o->file_dio_fd = -1;
    o->watch = -1;
    o->npages = npages;
    o->base = base;
    o->bottom = o;
    return o;
}

/* Free an object with no VMA and no child: its pages, its place in the
 * fork tree (which may free the objects under it), its memory. */
void object_free(struct vmk_object *o)
{
    if (o->file_shared)            /* the file's page cache goes with its last mapping */
        file_object_unlink(o);
    size_t end = atomic_load(&o->touched_end);
    if (end)
        object_release_pages(o, 0, end);
    if (o->backing)
        tree_unlink(o);
    if (o->file_fd >= 0)
        file_object_close(o);
    if (o->cover)
        munmap((void *)o->cover, (o->npages + PAGE_SIZE_ - 1) & ~(size_t)(PAGE_SIZE_ - 1));
    munmap(o->ptes, pt_bytes(o->npages));
    store_release(o->sys, o->base, ((uint64_t)o->npages + 1) << PAGE_SHIFT_);
    free(o->vmas);
    free(o);
}

int object_add_vma(struct vmk_object *o, struct vmk_vma *v)
{
    if (o->once && o->nvmas > 0) {     /* a second mapping, or a split of the one */
        int r = fileonce_end(o);
        if (r < 0)
            return r;
    }
    if (o->nvmas == o->cap_vmas) {
        int cap = o->cap_vmas ? 2 * o->cap_vmas : 2;
        struct vmk_vma **n = realloc(o->vmas, (size_t)cap * sizeof *n);
        if (!n)
            return -ENOMEM;
        o->vmas = n;
        o->cap_vmas = cap;
    }
    o->vmas[o->nvmas++] = v;
    return 0;
}

/* Forget v; the object is freed with its last VMA. */
void object_del_vma(struct vmk_object *o, struct vmk_vma *v)
{
    for (int i = 0; i < o->nvmas; i++) {
        if (o->vmas[i] == v) {
            o->vmas[i] = o->vmas[--o->nvmas];
            break;
        }
    }
    if (o->nvmas == 0)
        object_free(o);
}

/* Pages [pg, pg+n) leave memory: punched out of the frame-store, or for an
 * object mapped once (fileonce.c), whose pages are its VMA's own memory,
 * dropped from the VMA.  No entry may say they are resident afterwards. */
void object_punch(struct vmk_object *o, size_t pg, size_t n)
{
    if (!o->once) {
        store_punch(o->sys->store_fd, o->base + ((uint64_t)pg << PAGE_SHIFT_), n << PAGE_SHIFT_);
        return;
    }
    for (int i = 0; i < o->nvmas; i++) {
        struct vmk_vma *v = o->vmas[i];
        size_t vend = vma_page(v, v->end), lo = pg > v->pgoff ? pg : v->pgoff;
        size_t hi = pg + n < vend ? pg + n : vend;
        if (lo < hi)
            mmu_zap(vma_addr(v, lo), (hi - lo) << PAGE_SHIFT_);
    }
}

/* Free what entry v of page pg holds (frame, swap slot) and punch the page
 * out of the frame-store.  The caller holds the entry (BUSY, or the maplock
 * exclusive) and sets it to 0. */
void object_drop_page(struct vmk_object *o, size_t pg, uint64_t v)
{
    struct vmk_system *sys = o->sys;
    if (v & PTE_RES) {
        uint32_t f = pte_frame(v);
        ws_left(o);
        frames_free(&sys->frames, &f, 1);
        ctr_add(&sys->ctr, C_RESIDENT, -1);
        ctr_add(&o->owner->ctr, C_RESIDENT, -1);
        atomic_fetch_sub_explicit(&o->resident, 1, memory_order_relaxed);
        object_punch(o, pg, 1);
    }
    if (v & PTE_SWAP)
        swap_put(&sys->swap, pte_slot(v), 1);
}

/*
 * Release pages [first, first+n): frames back to the free stack, swap slots
 * dropped, entries back to "never touched", the frame-store range punched
 * and the page-table memory of whole pages returned to the OS.
 */
void object_release_pages(struct vmk_object *o, size_t first, size_t n)
{
    struct vmk_system *sys = o->sys;
    uint64_t freed = 0;
    for (size_t pg = first; pg < first + n; pg++) {
        uint64_t v = atomic_load_explicit(&o->ptes[pg], memory_order_relaxed);
        if (!v)
            continue;
        if (v & PTE_RES) {
            uint32_t f = pte_frame(v);
            ws_left(o);
            frames_free(&sys->frames, &f, 1);
            freed++;
        }
        if (v & PTE_SWAP)
            swap_put(&sys->swap, pte_slot(v), 1);
        atomic_store_explicit(&o->ptes[pg], 0, memory_order_relaxed);
    }
    ctr_add(&sys->ctr, C_RESIDENT, -(int64_t)freed);
    ctr_add(&o->owner->ctr, C_RESIDENT, -(int64_t)freed);
    atomic_fetch_sub_explicit(&o->resident, (int64_t)freed, memory_order_relaxed);
    object_punch(o, first, n);
    uintptr_t lo = ((uintptr_t)&o->ptes[first] + PAGE_SIZE_ - 1) & ~(uintptr_t)(PAGE_SIZE_ - 1);
    uintptr_t hi = (uintptr_t)&o->ptes[first + n] & ~(uintptr_t)(PAGE_SIZE_ - 1);
    if (hi > lo)
        madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/*
 * Unmap pages [pg, pg+n) of the object from the MMU wherever they are
 * mapped: in the object's own VMAs and, for a frozen object, in every VMA
 * of the objects above it that shows these pages through (those that have
 * no page of their own there).
 */
void object_zap(struct vmk_object *o, size_t pg, size_t n)
{
    for (int i = 0; i < o->nvmas; i++) {
        struct vmk_vma *v = o->vmas[i];
        size_t vfirst = v->pgoff, vend = v->pgoff + ((v->end - v->start) >> PAGE_SHIFT_);
        size_t lo = pg > vfirst ? pg : vfirst, hi = pg + n < vend ? pg + n : vend;
        if (lo < hi)
            mmu_zap(vma_addr(v, lo), (hi - lo) << PAGE_SHIFT_);
    }
    for (int k = 0; k < 2; k++) {
        struct vmk_object *c = o->child[k];
        if (!c)
            continue;
        for (size_t i = pg; i < pg + n;) {        /* runs the child shows through */
            if (pte_read(&c->ptes[i]) & ~(PTE_BUSY | PTE_WAIT)) {
                i++;
                continue;
            }
            size_t j = i + 1;
            while (j < pg + n && !(pte_read(&c->ptes[j]) & ~(PTE_BUSY | PTE_WAIT)))
                j++;
            object_zap(c, i, j - i);
            i = j;
        }
    }
}
