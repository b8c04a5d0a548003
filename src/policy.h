/*
 * policy.h - the replacement-policy interface.
 *
 * A policy decides which resident pages to evict.  It sees frames (the core
 * map), is told when a frame is filled, and is asked for victims by the
 * reclaimer (one at a time: reclaim_lock is held).  It learns of references
 * only from the page table's REF bit, which the fault path sets on every
 * fault.  To observe the *next* reference of a mapped page, a policy calls
 * reclaim_sample(): the page's REF is cleared and its MMU mapping dropped,
 * so the next touch takes a cheap minor fault that sets REF again.  That is
 * the real reference signal (the MMU's accessed bit is not visible from user
 * space).
 *
 * Adding a policy: a file policy_NAME.c with a `const struct policy_ops
 * policy_NAME_ops`, and a line in policy_table[] (policy.c).  Its init,
 * fini and filled call ws_init, ws_fini and ws_filled (workingset.h), and
 * it reads a taken page's REF bit only through ws_referenced (then samples
 * the page if it returns true) or ws_peek, and returns each victim as
 * ws_victim(sys, v): that feeds the working-set estimate, returns the
 * references the sampler cleared meanwhile, and leaves the shadows that
 * recognise a page coming back.
 *
 * The policies: clock (default), fifo, lru (aging), wsclock[:TAU], s3fifo.
 * docs/CONCEPTS.md maps each to its file and its counters.
 */
#ifndef VMK_POLICY_H
#define VMK_POLICY_H

#include "lock.h"
#include "pte.h"
#include "workingset.h"
#include <stdint.h>

struct vmk_system;
struct vmk_object;

/* A page the reclaimer is looking at.  Taken pages have BUSY set. */
struct victim {
    struct vmk_object *obj;
    uint32_t pg;
    uint32_t frame;
    pte_t *pte;
    uint64_t val;        /* entry when taken (without BUSY) */
    uint64_t slot;       /* where it was written */
    int ok;              /* evicted */
    int pooled;          /* its page and frame went to the pool (fileonce.c) */
};

struct policy;

struct policy_ops {
    const char *name;
    int  (*init)(struct policy *p, uint32_t nframes);
    void (*fini)(struct policy *p);
    /* A page was made resident in frame f (any thread, any time). */
    void (*filled)(struct policy *p, uint32_t f);
    /* Up to want victims into out, each taken with reclaim_take(). */
    uint32_t (*select)(struct policy *p, struct vmk_system *sys, uint32_t want, struct victim *out);
    /* The name of its one numeric parameter ("NAME:N"), or NULL if none. */
    const char *param;
};

struct workingset;

struct policy {
    const struct policy_ops *ops;
    void *state;
    struct workingset *ws;   /* the working-set estimate the policy feeds */
};

/* The policy named name ("NAME" or "NAME:N"), NULL if unknown or if the
 * parameter is not a positive decimal number or is not taken. */
const struct policy_ops *policy_find(const char *name);
const char *policy_names(void);
/* The ":N" of a policy name into *val: 1, or 0 if there is none. */
int  policy_param(const char *name, uint64_t *val);
/* The system a policy belongs to (struct policy is embedded in it). */
struct vmk_system *policy_system(struct policy *p);

/* Helpers the policies use (reclaim.c).  reclaim_take: lock the page that
 * frame f holds, if any and not busy; false otherwise. */
int  reclaim_take(struct vmk_system *sys, uint32_t f, struct victim *v);
/* Give a taken page back unchanged. */
void reclaim_untake(struct victim *v);
/* Second chance for a taken, referenced page: clear REF, unmap it so the
 * next reference faults; the page is released by the reclaimer. */
void reclaim_sample(struct vmk_system *sys, struct victim *v);

#endif
