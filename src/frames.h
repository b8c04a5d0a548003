/*
 * frames.h - the physical-frame budget and its core map.
 *
 * A frame is one page's worth of the memory budget.  The frame-store memfd
 * holds the bytes; this table says which (object, page) owns each frame so
 * the replacement policy can walk frames as a kernel walks its core map.
 * Free frames sit on a stack (lock: frames.lock).  owner/page of a frame are
 * written by the thread that holds the page's BUSY bit and read by the
 * policy, which checks them against the page's entry before it trusts them.
 */
#ifndef VMK_FRAMES_H
#define VMK_FRAMES_H

#include "lock.h"
#include <stddef.h>
#include <stdint.h>

struct vmk_object;

struct frame {
    _Atomic(struct vmk_object *) obj;   /* NULL when free */
    _Atomic uint32_t page;              /* page index within obj */
};

struct frames {
    uint32_t n;                 /* memory_limit / page size */
    struct frame *map;          /* n entries */
    uint32_t *free_stack;       /* lock */
    uint32_t nfree;             /* lock */
    vmk_mutex lock;
};

int      frames_init(struct frames *fr, uint32_t n);
void     frames_fini(struct frames *fr);
/* Pop up to n free frames into out; returns how many. */
uint32_t frames_alloc(struct frames *fr, uint32_t n, uint32_t *out);
void     frames_free(struct frames *fr, const uint32_t *f, uint32_t n);
uint32_t frames_nfree(struct frames *fr);
static inline void frame_set_owner(struct frames *fr, uint32_t f, struct vmk_object *o, uint32_t pg)
{
    atomic_store_explicit(&fr->map[f].page, pg, memory_order_relaxed);
    atomic_store_explicit(&fr->map[f].obj, o, memory_order_release);
}

#endif
