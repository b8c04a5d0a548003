/*
 * space.c - address spaces: create, map, unmap, protect, inspect, destroy.
 *
 * Every call that changes VMAs holds the system's maplock exclusively, so no
 * fault and no reclaim runs in the system meanwhile: frames and slots can be
 * released without racing an eviction.  Arguments are all checked before
 * anything changes, and the only step that can fail half-way (allocating
 * VMA structures for a split) is done first.
 */
#include "internal.h"
#include "fileonce.h"
#include "reap.h"
#include "mmu.h"
#include "store.h"
#include <stdlib.h>

#define PROT_ALL (VMK_PROT_READ | VMK_PROT_WRITE)

VMK_API int vmk_space_create(vmk_system *sys, vmk_space **out)
{
    if (!sys || !out)
        return -EINVAL;
    struct vmk_space *as = calloc(1, sizeof *as);
    if (!as)
        return -ENOMEM;
    as->sys = sys;
    rw_write_lock(&sys->maplock);
    if (sys->nspaces == sys->cap_spaces) {
        size_t cap = sys->cap_spaces ? 2 * sys->cap_spaces : 8;
        struct vmk_space **n = realloc(sys->spaces, cap * sizeof *n);
        if (!n) {
            rw_write_unlock(&sys->maplock);
            free(as);
            return -ENOMEM;
        }
        sys->spaces = n;
        sys->cap_spaces = cap;
    }
    sys->spaces[sys->nspaces++] = as;
    as->id = ++sys->next_space_id;
    rw_write_unlock(&sys->maplock);
    *out = as;
    return 0;
}

/* Drop VMA i (maplock exclusive): write back its dirty shared file pages,
 * unmap it, release its pages (a shared file's pages stay cached for its
 * other mappings until the last one goes).  0 or the writeback's -errno. */
static int unmap_part(struct vmk_system *sys, size_t i)
{
    struct vmk_vma *v = sys->vmas[i];
    size_t n = (v->end - v->start) >> PAGE_SHIFT_;
    int r = file_sync_range(v->obj, v->pgoff, n, false);   /* like munmap: no fsync */
    cow_forget_maps(sys, v);
    /* Pages mapped once live in the mapping itself: released while it is
     * there (a zap after the munmap could hit someone else's new mapping). */
    bool early = v->obj->once && !v->obj->file_shared;
    if (early)
        object_release_pages(v->obj, v->pgoff, n);
    mmu_unmap((void *)v->start, v->end - v->start);
    if (!v->obj->file_shared && !early)
        object_release_pages(v->obj, v->pgoff, n);
    vma_remove_at(sys, i);
    return r;
}

/* Split VMAs so that lo and hi fall on VMA boundaries (maplock held).  The
 * caller reserved room; 0 or -ENOMEM. */
static int split_at(struct vmk_system *sys, uintptr_t addr)
{
    size_t i = vma_index_of(sys, addr);
    if (i < sys->nvmas && sys->vmas[i]->start < addr)
        return vma_split(sys, i, addr);
    return 0;
}

static int check_range(vmk_space *as, void *addr, size_t len, uintptr_t *lo, uintptr_t *hi)
{
    if (!as || !addr || len == 0 || ((uintptr_t)addr & (PAGE_SIZE_ - 1)))
        return -EINVAL;
    size_t rounded = (len + PAGE_SIZE_ - 1) & ~(size_t)(PAGE_SIZE_ - 1);
    if (rounded < len || (uintptr_t)addr + rounded < (uintptr_t)addr)
        return -EINVAL;
    *lo = (uintptr_t)addr;
    *hi = (uintptr_t)addr + rounded;
    return 0;
}

VMK_API void *vmk_map_anon(vmk_space *as, size_t len, int prot)
{
    if (!as || len == 0 || (prot & ~PROT_ALL) || len > (size_t)1 << 46) {
        errno = EINVAL;
        return NULL;
    }
    struct vmk_system *sys = as->sys;
    size_t npages = (len + PAGE_SIZE_ - 1) >> PAGE_SHIFT_;
    struct vmk_vma *v = calloc(1, sizeof *v);
    if (!v) {
        errno = ENOMEM;
        return NULL;
    }
    rw_write_lock(&sys->maplock);
    int err = -ENOMEM;
    struct vmk_object *o = object_create(sys, as, npages);
    void *p = o ? mmu_map(sys->uffd, sys->store_fd, o->base, npages << PAGE_SHIFT_, prot, &err)
                : NULL;
    if (p) {
        *v = (struct vmk_vma){ .start = (uintptr_t)p, .end = (uintptr_t)p + (npages << PAGE_SHIFT_),
                               .prot = prot, .space = as, .obj = o, .pgoff = 0 };
        err = vma_insert(sys, v);
        if (err < 0)
            mmu_unmap(p, npages << PAGE_SHIFT_);
    }
    if (!p || err < 0) {
        if (o && o->nvmas == 0) {
            o->nvmas = 1;                  /* let object_del_vma free it */
            object_del_vma(o, NULL);
        }
        rw_write_unlock(&sys->maplock);
        free(v);
        errno = -err;
        return NULL;
    }
    rw_write_unlock(&sys->maplock);
    return p;
}

VMK_API int vmk_unmap(vmk_space *as, void *addr, size_t len)
{
    uintptr_t lo, hi;
    int r = check_range(as, addr, len, &lo, &hi);
    if (r < 0)
        return r;
    struct vmk_system *sys = as->sys;
    rw_write_lock(&sys->maplock);
    if (!vma_range_covered(sys, as, lo, hi)) {
        rw_write_unlock(&sys->maplock);
        return -EINVAL;
    }
    if ((r = vma_reserve(sys, 2)) < 0 || (r = split_at(sys, lo)) < 0 || (r = split_at(sys, hi)) < 0) {
        rw_write_unlock(&sys->maplock);
        return r;
    }
    size_t i = vma_index_of(sys, lo);
    int err = 0;
    while (i < sys->nvmas && sys->vmas[i]->start < hi) {
        int e = unmap_part(sys, i);
        if (e < 0 && !err)
            err = e;
    }
    rw_write_unlock(&sys->maplock);
    return err;
}

VMK_API int vmk_protect(vmk_space *as, void *addr, size_t len, int prot)
{
    uintptr_t lo, hi;
    int r = check_range(as, addr, len, &lo, &hi);
    if (r < 0)
        return r;
    if (prot & ~PROT_ALL)
        return -EINVAL;
    struct vmk_system *sys = as->sys;
    rw_write_lock(&sys->maplock);
    if (!vma_range_covered(sys, as, lo, hi)) {
        rw_write_unlock(&sys->maplock);
        return -EINVAL;
    }
    for (size_t i = vma_index_of(sys, lo); i < sys->nvmas && sys->vmas[i]->start < hi; i++) {
        struct vmk_object *o = sys->vmas[i]->obj;
        if ((prot & VMK_PROT_WRITE) && o->file_shared && !o->file_writable) {
            rw_write_unlock(&sys->maplock);
            return -EACCES;
        }
    }
    for (size_t i = vma_index_of(sys, lo); i < sys->nvmas && sys->vmas[i]->start < hi; i++) {
        struct vmk_object *o = sys->vmas[i]->obj;
        if (o->once && (r = fileonce_end(o)) < 0) {  /* its kernel mapping is read-write */
            rw_write_unlock(&sys->maplock);
            return r;
        }
    }
    if ((r = vma_reserve(sys, 2)) < 0 || (r = split_at(sys, lo)) < 0 || (r = split_at(sys, hi)) < 0) {
        rw_write_unlock(&sys->maplock);
        return r;
    }
    r = mmu_protect((void *)lo, hi - lo, prot);
    if (r == 0)
        for (size_t i = vma_index_of(sys, lo); i < sys->nvmas && sys->vmas[i]->start < hi; i++)
            sys->vmas[i]->prot = prot;
    rw_write_unlock(&sys->maplock);
    return r;
}

VMK_API int vmk_page_info(vmk_space *as, const void *addr, struct vmk_page_info *out)
{
    if (!as || !out)
        return -EINVAL;
    struct vmk_system *sys = as->sys;
    rw_read_lock(&sys->maplock);
    struct vmk_vma *v = vma_find(sys, (uintptr_t)addr);
    if (!v || v->space != as) {
        rw_read_unlock(&sys->maplock);
        return -EFAULT;
    }
    size_t pg = vma_page(v, (uintptr_t)addr);
    uint64_t e = pte_read(&v->obj->ptes[pg]) & ~(PTE_BUSY | PTE_WAIT);
    out->shared = 0;
    for (struct vmk_object *o = v->obj->backing; !e && o; o = o->backing) {
        e = pte_read(&o->ptes[pg]) & ~(PTE_BUSY | PTE_WAIT);   /* shows through (fork) */
        out->shared = e != 0;
    }
    out->state = e & PTE_RES ? VMK_PAGE_RESIDENT : e & PTE_SWAP ? VMK_PAGE_SWAPPED : VMK_PAGE_NONE;
    out->swap_slot = e & PTE_SWAP ? (int64_t)pte_slot(e) : -1;
    out->swap_refs = e & PTE_SWAP ? swap_refcount(&sys->swap, pte_slot(e)) : 0;
    out->dirty = (e & PTE_RES) && (e & PTE_DIRTY);
    out->referenced = (e & PTE_REF) != 0;
    out->mapped = (e & PTE_MAPPED) != 0;
    out->prot = v->prot;
    rw_read_unlock(&sys->maplock);
    return 0;
}

VMK_API void vmk_space_destroy(vmk_space *as)
{
    if (!as)
        return;
    struct vmk_system *sys = as->sys;
    rw_write_lock(&sys->maplock);
    for (size_t i = 0; i < sys->nvmas;) {
        if (sys->vmas[i]->space == as)
            unmap_part(sys, i);
        else
            i++;
    }
    for (size_t i = 0; i < sys->nspaces; i++)
        if (sys->spaces[i]->parent == as)
            sys->spaces[i]->parent = NULL;
    for (size_t i = 0; i < sys->nspaces; i++) {
        if (sys->spaces[i] == as) {
            sys->spaces[i] = sys->spaces[--sys->nspaces];
            break;
        }
    }
    rw_write_unlock(&sys->maplock);
    reap_drain(sys);                 /* no mapping of a fork of as left behind */
    free(as);
}
