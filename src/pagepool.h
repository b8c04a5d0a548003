/*
 * pagepool.h - free frames that keep their page (pagepool.c).
 */
#ifndef VMK_PAGEPOOL_H
#define VMK_PAGEPOOL_H

#include <stdbool.h>
#include <stdint.h>

struct vmk_system;

/* A run of pool slots: slots [slot, slot + n). */
struct pool_ext { uint32_t slot, n; };

#define POOL_EXTS 16             /* extents one take returns, at most */
#define POOL_STAGED 256          /* extents put and not yet committed, at most */

int      pool_init(struct vmk_system *sys);
void     pool_fini(struct vmk_system *sys);
/* Pages waiting in the pool, each with its frame: free memory in waiting. */
uint32_t pool_count(struct vmk_system *sys);
/* Frames free or waiting in the pool: what kswapd and reclaim count as free. */
uint32_t pool_frames_free(struct vmk_system *sys);
/* Move the n pages at addr (consecutive pages of a registered anonymous
 * mapping, frames fr) into the pool with their frames.  Returns how many
 * of the first pages went; the caller drops the others itself.  They are
 * staged: nobody takes them before pool_commit (an eviction commits once
 * its victims' entries and counters say they left).  One putter at a time
 * (reclaim_lock). */
uint32_t pool_put(struct vmk_system *sys, uintptr_t addr, const uint32_t *fr, uint32_t n);
void     pool_commit(struct vmk_system *sys);
/* Take up to n pages with their frames: frames into fr, the slots (in the
 * same order) as extents into ext (*next of them).  The pages stay in
 * their slots, which stay reserved, until pool_done.  Returns the count. */
uint32_t pool_take(struct vmk_system *sys, uint32_t n, uint32_t *fr, struct pool_ext *ext,
                   uint32_t *next);
/* The taker is done with the slots of ext: it moved their pages out, or
 * (drop) the pages still there are freed. */
void     pool_done(struct vmk_system *sys, const struct pool_ext *ext, uint32_t next, bool drop);
/* Up to n frames out of the pool for any use, their pages freed. */
uint32_t pool_drain(struct vmk_system *sys, uint32_t n, uint32_t *fr);
/* Address of slot i. */
uintptr_t pool_addr(struct vmk_system *sys, uint32_t slot);

#endif
