/*
 * fileonce.c - a file mapped once, read-only: its pages move, nothing
 * zeroes or copies them.
 *
 * The common way to read a big file through a small budget is one mapping,
 * read-only, read in order.  vmkit's frames are pages of the frame-store
 * (a memfd), and there each page costs an allocation, a zeroing, a hole
 * punch and the shmem bookkeeping around them: ~1 s of CPU per GiB with the
 * readers and eviction, where the kernel's own mmap lets the device fill
 * its page cache and spends a third of that (docs/BENCHMARKS.md).  A page
 * that only one mapping shows and nobody may write needs none of what the
 * frame-store gives (sharing between mappings, fork, a place to write
 * back from), so such an object is "mapped once":
 *
 *   - its VMA is private anonymous memory, read-write for the kernel but
 *     registered with the userfaultfd for missing and write-protect faults:
 *     a read of a page not there faults (MISSING) as usual, every page in
 *     place is write-protected, so a write faults (WP) and fault.c delivers
 *     SIGSEGV, as the kernel does for a read-only mapping.  UFFDIO_MOVE
 *     works only between writable anonymous mappings; that is why the
 *     kernel's protection is not PROT_READ.
 *   - a reader thread (fileasync.c) reads a run of the file with O_DIRECT
 *     in one request into its staging pages (huge pages: this machine's
 *     disk reads into scattered 4 KiB pages at half the rate, fileasync.c),
 *     takes pages from the pool (pagepool.c: pages evicted from such
 *     objects, each with its frame), copies the bytes into them, moves
 *     them into the VMA (UFFDIO_MOVE: page-table entries change hands) and
 *     write-protects the run.  What the pool cannot give is copied in from
 *     the staging pages (UFFDIO_COPY, write-protected: new pages), and so
 *     is a pool page the kernel refuses to move.
 *   - eviction moves the victims' pages out into the pool with their frames
 *     (fileonce_evict); the next read reuses them.  So in a long read the
 *     same pages go round: no allocation, no zeroing, no hole punch, one
 *     copy of the bytes from the staging pages (memcpy, ~0.1 s per GiB).
 *   - faults that the readers do not serve read through a bounce buffer and
 *     UFFDIO_COPY, as for any file object (file.c): that works on anonymous
 *     memory as well.
 *
 * What such pages cannot do: be mapped twice (an anonymous page has one
 * address), be shared with a fork, be written.  So an object stays mapped
 * once only while it has one VMA, with read-only protection, in a space
 * that has not forked since; the first change of any of these ends it
 * (fileonce_end: a second mapping of the file or a split of the VMA in
 * object_add_vma, a fork in fork.c, a new protection in vmk_protect).  Its
 * pages are then dropped - they are clean, the file has every byte - and
 * its VMA becomes a frame-store window like any other; the next touches
 * read the file again.
 *
 * What the policy cannot do with them: unmap one to see whether it is
 * used again (that would throw it away).  So reference sampling passes
 * them by: a page mapped once is counted referenced when it faults in and
 * never after, and the clock evicts such pages in the order they came.  For
 * a file read in order that is the right order; a file read again and
 * again through a budget smaller than it gets the policy's second chances
 * only after a second mapping or a fork ends the mode.
 *
 * One gap the kernel's semantics would not have: between a run's move into
 * the VMA and its write-protection (a few microseconds), a write by the
 * application to a page of that run lands instead of faulting.  The page is
 * clean as far as vmkit knows, so such a write (to a read-only mapping,
 * into a page the application has not read yet) is lost at eviction.
 *
 * VMK_FILE_ONCE=0 when a system opens turns the mode off for it (no pool:
 * every file object in the frame-store).
 */
#include "internal.h"
#include "fileasync.h"
#include "fileio.h"
#include "fileonce.h"
#include "mmu.h"
#include "pagepool.h"
#include "policy.h"
#include <stdlib.h>
#include <string.h>

bool fileonce_wanted(struct vmk_system *sys, struct vmk_object *o, int prot)
{
    /* No pool: the kernel has no UFFDIO_MOVE, or VMK_FILE_ONCE=0 (pagepool.c). */
    return sys->pool && prot == VMK_PROT_READ && o->nvmas == 0 && !o->backing && fileasync_for(o);
}

void *fileonce_map(struct vmk_system *sys, size_t len, int *err)
{
    return mmu_map_anon(sys->uffd, len, err);
}

/* Put the n pool pages at src (their bytes in) at dst in the VMA,
 * write-protected: moved, or copied where the move stops.  Returns how many
 * of the first pages are in place; *moved of them were moved. */
static uint32_t place(struct vmk_system *sys, uintptr_t dst, uintptr_t src, uint32_t n,
                      uint32_t *moved)
{
    size_t len = (size_t)n << PAGE_SHIFT_;
    ssize_t k = mmu_move(sys->uffd, dst, src, len);
    size_t m = k > 0 ? (size_t)k : 0;
    *moved = (uint32_t)(m >> PAGE_SHIFT_);
    if (m && mmu_writeprotect(sys->uffd, dst, m, true) < 0) {
        mmu_zap(dst, m);                  /* never leave a writable page behind */
        *moved = 0;
        return 0;
    }
    if (m < len && mmu_copy(sys->uffd, dst + m, (const void *)(src + m), len - m, true) < 0) {
        mmu_zap(dst + m, len - m);        /* a partial copy: none of it counts */
        return *moved;
    }
    return n;
}

int fileonce_read(struct vmk_system *sys, struct vmk_vma *vma, size_t pg, uint32_t n,
                  uint32_t *fr, char *staging)
{
    struct vmk_object *o = vma->obj;
    struct pool_ext ext[POOL_EXTS];
    uint32_t next;
    uint32_t k = pool_take(sys, n, fr, ext, &next);
    int extra = k < n ? frames_get(sys, n - k, n - k, fr + k) : 0;
    uint32_t m = k + (extra > 0 ? (uint32_t)extra : 0);
    if (!m)
        return 0;
    /* One request for the run, into the staging pages. */
    ssize_t got = fileio_read_into(sys, o, pg, staging, m);
    uint32_t pages = got > 0 ? (uint32_t)(((size_t)got + PAGE_SIZE_ - 1) >> PAGE_SHIFT_) : 0;
    if (got >= 0 && pages < m) {
        uint64_t size;
        fileio_size(o, true, &size);      /* the file ended: it may have shrunk */
    }
    /* The pool's pages take the first bytes and move into place; the
     * staging pages give the rest by copy (new pages). */
    uint32_t done = 0, placed = 0, from_pool = 0;
    for (uint32_t x = 0; x < next && done < pages && placed == done; x++) {
        uint32_t cnt = ext[x].n < pages - done ? ext[x].n : pages - done, mv;
        uintptr_t slot = pool_addr(sys, ext[x].slot);
        memcpy((void *)slot, staging + ((size_t)done << PAGE_SHIFT_), (size_t)cnt << PAGE_SHIFT_);
        placed += place(sys, vma_addr(vma, pg + done), slot, cnt, &mv);
        from_pool += mv;
        done += cnt;
    }
    if (placed == done && done < pages && done >= k) {
        size_t len = (size_t)(pages - done) << PAGE_SHIFT_;
        uintptr_t dst = vma_addr(vma, pg + done);
        if (mmu_copy(sys->uffd, dst, staging + ((size_t)done << PAGE_SHIFT_), len, true) == 0)
            placed = pages;
        else
            mmu_zap(dst, len);            /* a partial copy: none of it counts */
    }
    pool_done(sys, ext, next, from_pool < k);      /* pages left in slots are freed */
    if (m > placed)
        frames_free(&sys->frames, fr + placed, m - placed);
    if (from_pool)
        fault_count(sys, o->owner, C_FILE_MOVED, from_pool);
    return got < 0 && !placed ? -EIO : (int)placed;
}

void fileonce_evict(struct vmk_system *sys, struct victim *v, uint32_t k)
{
    struct vmk_vma *vma = v[0].obj->vmas[0];
    uint32_t fr[256];
    for (uint32_t done = 0; done < k;) {
        uint32_t n = k - done < 256 ? k - done : 256;
        for (uint32_t i = 0; i < n; i++) {
            fr[i] = v[done + i].frame;        /* no owner before the pool may hand it out */
            atomic_store_explicit(&sys->frames.map[fr[i]].obj, NULL, memory_order_relaxed);
        }
        uintptr_t addr = vma_addr(vma, v[done].pg);
        uint32_t in = pool_put(sys, addr, fr, n);
        if (in < n)
            mmu_zap(addr + ((uintptr_t)in << PAGE_SHIFT_), (size_t)(n - in) << PAGE_SHIFT_);
        for (uint32_t i = 0; i < in; i++)
            v[done + i].pooled = 1;
        done += n;
    }
}

int fileonce_end(struct vmk_object *o)
{
    struct vmk_system *sys = o->sys;
    if (!o->once)
        return 0;
    if (o->nvmas == 0) {
        o->once = false;
        return 0;
    }
    struct vmk_vma *v = o->vmas[0];
    size_t len = v->end - v->start;
    object_release_pages(o, v->pgoff, len >> PAGE_SHIFT_);   /* entries 0, frames free */
    int r = mmu_remap(sys->uffd, sys->store_fd, v->start,
                      o->base + ((uint64_t)v->pgoff << PAGE_SHIFT_), len, v->prot, true);
    if (r < 0) {
        mmu_zap(v->start, len);           /* still mapped once, with nothing resident */
        return r;
    }
    o->once = false;
    return 0;
}
