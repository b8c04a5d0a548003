/*
 * vma.c - the system's VMAs, sorted by address (maplock held by the caller:
 * shared for lookups, exclusive for changes).
 */
#include "internal.h"
#include <stdlib.h>

/* Index of the first VMA whose end is above addr (nvmas if none). */
size_t vma_index_of(struct vmk_system *sys, uintptr_t addr)
{
    size_t lo = 0, hi = sys->nvmas;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (sys->vmas[mid]->end <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

struct vmk_vma *vma_find(struct vmk_system *sys, uintptr_t addr)
{
    size_t i = vma_index_of(sys, addr);
    if (i < sys->nvmas && sys->vmas[i]->start <= addr)
        return sys->vmas[i];
    return NULL;
}

/* Make room for `extra` more VMAs so a later insert or split cannot fail. */
int vma_reserve(struct vmk_system *sys, size_t extra)
{
    if (sys->nvmas + extra <= sys->cap_vmas)
        return 0;
    size_t cap = sys->cap_vmas ? sys->cap_vmas : 16;
    while (cap < sys->nvmas + extra)
        cap *= 2;
    struct vmk_vma **n = realloc(sys->vmas, cap * sizeof *n);
    if (!n)
        return -ENOMEM;
    sys->vmas = n;
    sys->cap_vmas = cap;
    return 0;
}

int vma_insert(struct vmk_system *sys, struct vmk_vma *v)
{
    int r = vma_reserve(sys, 1);
    if (r < 0)
        return r;
    r = object_add_vma(v->obj, v);
    if (r < 0)
        return r;
    size_t i = vma_index_of(sys, v->start);
    memmove(&sys->vmas[i + 1], &sys->vmas[i], (sys->nvmas - i) * sizeof *sys->vmas);
    sys->vmas[i] = v;
    sys->nvmas++;
    return 0;
}

/* Remove the VMA at index i from the list and its object, and free it. */
void vma_remove_at(struct vmk_system *sys, size_t i)
{
    struct vmk_vma *v = sys->vmas[i];
    memmove(&sys->vmas[i], &sys->vmas[i + 1], (sys->nvmas - i - 1) * sizeof *sys->vmas);
    sys->nvmas--;
    object_del_vma(v->obj, v);
    free(v);
}

/* Split the VMA at index i at address `at` (strictly inside it): the upper
 * part becomes a new VMA at i+1.  0 or -ENOMEM (nothing changed). */
int vma_split(struct vmk_system *sys, size_t i, uintptr_t at)
{
    struct vmk_vma *v = sys->vmas[i];
    struct vmk_vma *n = malloc(sizeof *n);
    if (!n || vma_reserve(sys, 1) < 0 || object_add_vma(v->obj, n) < 0) {
        free(n);
        return -ENOMEM;
    }
    *n = *v;
    n->start = at;
    n->pgoff = vma_page(v, at);
    v->end = at;
    memmove(&sys->vmas[i + 2], &sys->vmas[i + 1], (sys->nvmas - i - 1) * sizeof *sys->vmas);
    sys->vmas[i + 1] = n;
    sys->nvmas++;
    return 0;
}

/* 1 if [lo, hi) is covered, without holes, by VMAs of space as. */
int vma_range_covered(struct vmk_system *sys, struct vmk_space *as, uintptr_t lo, uintptr_t hi)
{
    size_t i = vma_index_of(sys, lo);
    uintptr_t at = lo;
    while (at < hi) {
        if (i >= sys->nvmas || sys->vmas[i]->start > at || sys->vmas[i]->space != as)
            return 0;
        at = sys->vmas[i]->end;
        i++;
    }
    return 1;
}
