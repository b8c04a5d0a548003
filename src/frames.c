/*
 * frames.c - the frame budget: a core map and a stack of free frames.
 */
#include "internal.h"
#include <sys/mman.h>

/* Allocate the core map and push every frame on the free stack.  0 or -ENOMEM. */
int frames_init(struct frames *fr, uint32_t n)
{
    fr->n = n;
    fr->map = mmap(NULL, (size_t)n * sizeof(struct frame), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (fr->map == MAP_FAILED)
        return -ENOMEM;
    fr->free_stack = mmap(NULL, (size_t)n * sizeof(uint32_t), PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (fr->free_stack == MAP_FAILED) {
        munmap(fr->map, (size_t)n * sizeof(struct frame));
        return -ENOMEM;
    }
    /* Lowest frame on top so a fresh system fills frames in order. */
    for (uint32_t i = 0; i < n; i++)
        fr->free_stack[i] = n - 1 - i;
    fr->nfree = n;
    return 0;
}

void frames_fini(struct frames *fr)
{
    munmap(fr->map, (size_t)fr->n * sizeof(struct frame));
    munmap(fr->free_stack, (size_t)fr->n * sizeof(uint32_t));
}

uint32_t frames_alloc(struct frames *fr, uint32_t n, uint32_t *out)
{
    mutex_lock(&fr->lock);
    uint32_t k = n < fr->nfree ? n : fr->nfree;
    for (uint32_t i = 0; i < k; i++)
        out[i] = fr->free_stack[--fr->nfree];
    mutex_unlock(&fr->lock);
    return k;
}

void frames_free(struct frames *fr, const uint32_t *f, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        atomic_store_explicit(&fr->map[f[i]].obj, NULL, memory_order_release);
    mutex_lock(&fr->lock);
    /* Push in reverse so the next allocation pops them in their old order. */
    for (uint32_t i = n; i-- > 0;)
        fr->free_stack[fr->nfree++] = f[i];
    mutex_unlock(&fr->lock);
}

uint32_t frames_nfree(struct frames *fr)
{
    mutex_lock(&fr->lock);
    uint32_t k = fr->nfree;
    mutex_unlock(&fr->lock);
    return k;
}
