/*
 * pagepool.c - free frames that keep their page.
 *
 * A frame of the frame-store is freed by punching its page out of the memfd
 * and taken again by allocating a new one, which the kernel zeroes: for a
 * file streamed through a small budget that is most of vmkit's CPU per page
 * (docs/BENCHMARKS.md, bench_fileframes).  A file object mapped once and
 * read-only (fileonce.c) keeps its pages as private anonymous memory of its
 * one VMA instead, and those pages can change hands whole: UFFDIO_MOVE
 * (Linux 6.8) moves a page-table entry from one address to another, no copy,
 * no allocation.  So an evicted page of such an object is not freed: it is
 * moved here, into a slot of the pool, and keeps its frame.  A reader that
 * needs pages for the next run of the file takes them from the pool with
 * their frames, lets the device write the file's bytes into them, and moves
 * them into place.
 *
 * The budget stays exact: a page in the pool holds its frame, so resident
 * pages + pooled pages never exceed the frames.  A pooled frame is free
 * memory in waiting: kswapd and reclaim count it as free (pool_frames_free),
 * and anyone who needs frames and finds the free stack empty drains the
 * pool (its pages freed) before reclaiming (frames_get).
 *
 * The pool is one registered anonymous mapping of a slot per frame (a
 * move's destination must be registered with the userfaultfd; no access
 * ever touches it, so it never faults).  Two bitmaps under one lock say
 * which slots are taken (a page in it, or on its way in or out) and which
 * are full (a page and its frame ready to take).  Puts fill slots going up
 * from where the last put stopped, takes empty them going up from where
 * the last take stopped: evicted runs come back out in the order they went
 * in, in as few extents (and moves, and iovecs) as possible.
 */
#include "internal.h"
#include "mmu.h"
#include "pagepool.h"
#include <stdlib.h>
#include <sys/mman.h>

struct pagepool {
    char *base;                  /* nslots pages */
    uint32_t nslots;
    vmk_mutex lock;
    uint64_t *used;              /* slot taken (lock) */
    uint64_t *full;              /* slot holds a page and its frame (lock) */
    uint32_t *frame;             /* a full slot's frame (lock) */
    uint32_t put_at, take_at;    /* where the next put / take looks first (lock) */
    _Atomic uint32_t count;      /* full slots */
    struct pool_ext staged[POOL_STAGED];  /* put, not full until pool_commit (lock) */
    uint32_t nstaged;
};

static bool bit(const uint64_t *m, uint32_t i) { return (m[i >> 6] >> (i & 63)) & 1; }
static void set(uint64_t *m, uint32_t i) { m[i >> 6] |= 1ull << (i & 63); }
static void clr(uint64_t *m, uint32_t i) { m[i >> 6] &= ~(1ull << (i & 63)); }

int pool_init(struct vmk_system *sys)
{
    const char *e = getenv("VMK_FILE_ONCE");       /* 0: no file is mapped once */
    if (!sys->uffd_move || sys->pool || (e && *e && strtoul(e, NULL, 10) == 0))
        return 0;
    struct pagepool *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    int err = 0;
    p->nslots = sys->frames.n;
    size_t words = ((size_t)p->nslots + 63) / 64;
    p->used = calloc(words, sizeof *p->used);
    p->full = calloc(words, sizeof *p->full);
    p->frame = calloc(p->nslots, sizeof *p->frame);
    p->base = mmu_map_anon(sys->uffd, (size_t)p->nslots << PAGE_SHIFT_, &err);
    if (!p->used || !p->full || !p->frame || !p->base) {
        free(p->used), free(p->full), free(p->frame), free(p);
        return err < 0 ? err : -ENOMEM;
    }
    sys->pool = p;
    return 0;
}

void pool_fini(struct vmk_system *sys)
{
    struct pagepool *p = sys->pool;
    if (!p)
        return;
    munmap(p->base, (size_t)p->nslots << PAGE_SHIFT_);
    free(p->used), free(p->full), free(p->frame), free(p);
    sys->pool = NULL;
}

uint32_t pool_count(struct vmk_system *sys)
{
    struct pagepool *p = sys->pool;
    return p ? atomic_load_explicit(&p->count, memory_order_relaxed) : 0;
}

uint32_t pool_frames_free(struct vmk_system *sys)
{
    return frames_nfree(&sys->frames) + pool_count(sys);
}

uintptr_t pool_addr(struct vmk_system *sys, uint32_t slot)
{
    return (uintptr_t)sys->pool->base + ((uintptr_t)slot << PAGE_SHIFT_);
}

/* Reserve up to n free slots going up from put_at (lock held), as extents
 * in order; returns the count. */
static uint32_t reserve(struct pagepool *p, uint32_t n, struct pool_ext *ext, uint32_t *next)
{
    uint32_t got = 0, seen = 0, i = p->put_at;
    *next = 0;
    while (got < n && seen < p->nslots && *next < POOL_EXTS) {
        if (i == p->nslots)
            i = 0;
        if (!bit(p->used, i)) {
            set(p->used, i);
            if (*next && ext[*next - 1].slot + ext[*next - 1].n == i)
                ext[*next - 1].n++;
            else
                ext[(*next)++] = (struct pool_ext){ i, 1 };
            got++;
        }
        i++, seen++;
    }
    p->put_at = i == p->nslots ? 0 : i;
    return got;
}

uint32_t pool_put(struct vmk_system *sys, uintptr_t addr, const uint32_t *fr, uint32_t n)
{
    struct pagepool *p = sys->pool;
    if (!p || !n)
        return 0;
    struct pool_ext ext[POOL_EXTS];
    uint32_t next, moved = 0;
    mutex_lock(&p->lock);
    reserve(p, n, ext, &next);
    mutex_unlock(&p->lock);
    for (uint32_t e = 0; e < next; e++) {        /* in order: stop at the first short move */
        ssize_t k = mmu_move(sys->uffd, pool_addr(sys, ext[e].slot),
                             addr + ((uintptr_t)moved << PAGE_SHIFT_),
                             (size_t)ext[e].n << PAGE_SHIFT_);
        uint32_t pages = k > 0 ? (uint32_t)((size_t)k >> PAGE_SHIFT_) : 0;
        moved += pages;
        if (pages < ext[e].n)
            break;
    }
    mutex_lock(&p->lock);
    uint32_t at = 0, kept = 0;
    for (uint32_t x = 0; x < next; x++) {
        uint32_t in = at < moved ? (moved - at < ext[x].n ? moved - at : ext[x].n) : 0;
        if (in && kept == at && p->nstaged < POOL_STAGED)
            p->staged[p->nstaged++] = (struct pool_ext){ ext[x].slot, in };
        else
            in = 0;
        kept += in;
        for (uint32_t s = ext[x].slot; s < ext[x].slot + ext[x].n; s++, at++) {
            if (s < ext[x].slot + in)
                p->frame[s] = fr[at];
            else if (at < moved)
                mmu_zap(pool_addr(sys, s), PAGE_SIZE_);   /* no room to stage it: dropped */
            if (s >= ext[x].slot + in)
                clr(p->used, s);
        }
    }
    mutex_unlock(&p->lock);
    return kept;
}

void pool_commit(struct vmk_system *sys)
{
    struct pagepool *p = sys->pool;
    if (!p || !p->nstaged)
        return;
    mutex_lock(&p->lock);
    uint32_t n = 0;
    for (uint32_t x = 0; x < p->nstaged; x++) {
        for (uint32_t s = p->staged[x].slot; s < p->staged[x].slot + p->staged[x].n; s++)
            set(p->full, s);
        n += p->staged[x].n;
    }
    p->nstaged = 0;
    atomic_fetch_add_explicit(&p->count, n, memory_order_relaxed);
    mutex_unlock(&p->lock);
}

uint32_t pool_take(struct vmk_system *sys, uint32_t n, uint32_t *fr, struct pool_ext *ext,
                   uint32_t *next)
{
    struct pagepool *p = sys->pool;
    *next = 0;
    if (!p || !n || !atomic_load_explicit(&p->count, memory_order_relaxed))
        return 0;
    uint32_t got = 0, seen = 0;
    mutex_lock(&p->lock);
    uint32_t i = p->take_at;
    while (got < n && seen < p->nslots && p->count > got) {
        if (i == p->nslots)
            i = 0;
        if (bit(p->full, i)) {
            bool joins = *next && ext[*next - 1].slot + ext[*next - 1].n == i;
            if (!joins && *next == POOL_EXTS)
                break;
            clr(p->full, i);
            fr[got++] = p->frame[i];
            if (joins)
                ext[*next - 1].n++;
            else
                ext[(*next)++] = (struct pool_ext){ i, 1 };
        }
        i++, seen++;
    }
    p->take_at = i == p->nslots ? 0 : i;
    atomic_fetch_sub_explicit(&p->count, got, memory_order_relaxed);
    mutex_unlock(&p->lock);
    return got;
}

void pool_done(struct vmk_system *sys, const struct pool_ext *ext, uint32_t next, bool drop)
{
    struct pagepool *p = sys->pool;
    if (!p || !next)
        return;
    if (drop)
        for (uint32_t x = 0; x < next; x++)
            mmu_zap(pool_addr(sys, ext[x].slot), (size_t)ext[x].n << PAGE_SHIFT_);
    mutex_lock(&p->lock);
    for (uint32_t x = 0; x < next; x++)
        for (uint32_t s = ext[x].slot; s < ext[x].slot + ext[x].n; s++)
            clr(p->used, s);
    mutex_unlock(&p->lock);
}

uint32_t pool_drain(struct vmk_system *sys, uint32_t n, uint32_t *fr)
{
    struct pool_ext ext[POOL_EXTS];
    uint32_t next, got = 0;
    while (got < n) {
        uint32_t k = pool_take(sys, n - got, fr + got, ext, &next);
        if (!k)
            break;
        pool_done(sys, ext, next, true);
        got += k;
    }
    return got;
}
