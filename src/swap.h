/*
 * swap.h - the swap device: slots, their reference counts, and the I/O.
 *
 * The device is a file (or block device) cut into page-sized slots.  As in
 * Linux's swap_map, each slot has a small reference count: 0 is free, n is
 * the number of page-table entries that name the slot (fork will share
 * them).  Allocation is next-fit from a cursor, and asks for runs of
 * consecutive slots so that a batch of evicted pages is one sequential write
 * and a later sequential fault reads them back with one request.
 *
 * Locking: swapdev.lock guards refs, cursor, used and nslots.  I/O needs no
 * lock: a slot being written or read is owned by the page that holds it.
 */
#ifndef VMK_SWAP_H
#define VMK_SWAP_H

#include "io.h"
#include "lock.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct swapdev {
    int fd;                /* O_DIRECT when the file system allows */
    int fd_cached;         /* the same file, buffered: read-ahead goes here */
    bool direct;           /* fd is O_DIRECT */
    bool growable;         /* swap_size 0: grow the file on demand */
    bool is_tmp;           /* unlinked file of ours */
    uint64_t nslots;       /* slots usable now; lock */
    uint64_t maxslots;     /* hard ceiling */
    uint64_t used;         /* slots with refs > 0; lock */
    uint64_t cursor;       /* next-fit hand; lock */
    uint16_t *refs;        /* maxslots entries, lazily backed; lock */
    vmk_mutex lock;
    uint32_t align;        /* O_DIRECT alignment of fd (1: buffered) */
    /* The system's I/O fault plans for tests (swap and mapped files alike):
     * vmk_inject_fault, vmk_inject_config, VMK_INJECT (inject.c, io.h). */
    struct io_faults inject;
};

int  swap_open(struct swapdev *sw, const char *path, size_t size, int verbose);
void swap_close(struct swapdev *sw);
/* Allocate up to n consecutive slots (refs 1).  Returns the count (>= 1) with
 * *first set, or -ENOSPC when the device is full and cannot grow. */
int  swap_alloc(struct swapdev *sw, uint32_t n, uint64_t *first);
void swap_ref(struct swapdev *sw, uint64_t slot);
/* Drop n references, one per slot from first on; a slot whose count reaches 0 is free. */
void swap_put(struct swapdev *sw, uint64_t first, uint32_t n);
unsigned swap_refcount(struct swapdev *sw, uint64_t slot);
void swap_usage(struct swapdev *sw, uint64_t *used, uint64_t *total);
/* Page-aligned buf; 0 or -errno (-EIO on a short transfer). */
int  swap_write(struct swapdev *sw, uint64_t slot, const void *buf, uint32_t npages);
int  swap_read(struct swapdev *sw, uint64_t slot, void *buf, uint32_t npages);
/* Sequential read-ahead: read through the page cache (hits what an earlier
 * swap_prefetch started), then drop those cached pages. */
int  swap_read_stream(struct swapdev *sw, uint64_t slot, void *buf, uint32_t npages);
/* Start reading slots [slot, slot+npages) into the page cache, without waiting. */
void swap_prefetch(struct swapdev *sw, uint64_t slot, uint32_t npages);

#endif
