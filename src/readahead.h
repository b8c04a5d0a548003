/*
 * readahead.h - on-demand readahead of file pages (readahead.c).
 *
 * file_fault asks ra_plan which pages to bring in with the faulting one (a
 * run, or every stride-th page), reads and maps them, then tells ra_record
 * how many it got and starts the kernel's reads of the pages the stream
 * will want next (ra_prefetch).  No malloc, no stdio: all of it runs in the
 * SIGBUS handler, on state made by ra_attach when the file is mapped.
 */
#ifndef VMK_READAHEAD_H
#define VMK_READAHEAD_H

#include <stddef.h>
#include <stdint.h>

struct vmk_system;
struct vmk_object;

#define RA_MAX_DEFAULT 64            /* VMK_FILE_READAHEAD's default, pages */

struct ra_plan {
    size_t pg;                       /* the faulting object page */
    int32_t stride;                  /* pages between the window's pages: 1 a run, -1
                                        a run going down, < 0 going down */
    uint32_t n;                      /* pages wanted: pg, pg + stride, ...; 1: just pg */
    int64_t ahead;                   /* first object page to prefetch (readahead(2)) */
    uint32_t ahead_n;                /* pages of the lattice to prefetch from there; 0: none */
    int slot;                        /* the stream, -1: none */
    uint32_t gen;                    /* the stream's generation when planned */
};

/* Give a file object (its file_fd set) readahead state; the maplock is held
 * exclusive.  Reads VMK_FILE_READAHEAD.  0 or -ENOMEM. */
int  ra_attach(struct vmk_object *o);
/* Decide the window of a fault on never-read object page pg (the file has
 * avail pages from there on; the entry of pg is locked). */
void ra_plan(struct vmk_system *sys, struct vmk_object *o, size_t pg, uint64_t avail,
             struct ra_plan *p);
/* The fault brought got pages of the planned window in (got >= 1). */
void ra_record(struct vmk_system *sys, struct vmk_object *o, const struct ra_plan *p,
               uint32_t got);
/* Start the kernel's reads of the pages the plan will want next. */
void ra_prefetch(struct vmk_object *o, const struct ra_plan *p);
/* Ask the kernel to read object pages [pg, pg + n) into its page cache. */
void ra_hint(struct vmk_object *o, int64_t pg, uint32_t n);
/* n pages of the plan's prefetch (going up) went to the readers of
 * fileasync.c: they count as hits when the stream's reader has gone past
 * them.  The readers took the prefetch up to page stop only: the next plan
 * of the stream prefetches from there again. */
void ra_async(struct vmk_object *o, const struct ra_plan *p, uint64_t n, int64_t stop);

#endif
