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
 *   - a reader thread (fileasync.c) takes pages from the pool (pagepool.c:
 *     pages evicted from such objects, each with its frame), then staging
 *     pages of its own for the rest (the kernel allocates those as the
 *     device writes them), reads the file into them with O_DIRECT, moves
 *     them into the VMA (UFFDIO_MOVE: page-table entries change hands) and
 *     write-protects the run.  A page the kernel still holds a reference on
 *     (a fresh page in a CPU's LRU batch) cannot move: it is copied in
 *     write-protected instead (UFFDIO_COPY).
 *   - eviction moves the victims' pages out into the pool with their frames
 *     (fileonce_evict); the next read reuses them.  So in a long read the
 *     same pages go round: no allocation, no zeroing, no copy.
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

bool fileonce_wanted(struct vmk_system *sys, struct vmk_object *o, int prot)
{
    /* No pool: the kernel has no UFFDIO_MOVE, or VMK_FILE_ONCE=0 (pagepool.c). */
    return sys->pool && prot == VMK_PROT_READ && o->nvmas == 0 && !o->backing && fileasync_for(o);
}

void *fileonce_map(struct vmk_system *sys, size_t len, int *err)
{
    return mmu_map_anon(sys->uffd, len, err);
}

/* Put n pages at src (a piece read from the file) at dst in the VMA,
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
    /* The pieces in file order: the pool's extents, then staging pages. */
    uint32_t done = 0, placed = 0, moved = 0, npieces = next + (m > k);
    bool failed = false, left = false;
    for (uint32_t x = 0; x < npieces && !failed; x++) {
        uintptr_t at = x < next ? pool_addr(sys, ext[x].slot) : (uintptr_t)staging;
        uint32_t cnt = x < next ? ext[x].n : m - k;
        ssize_t got = fileio_read_into(sys, o, pg + done, (char *)at, cnt);
        if (got < 0) {
            failed = placed == 0;
            left = true;
            break;
        }
        uint32_t pages = (uint32_t)(((size_t)got + PAGE_SIZE_ - 1) >> PAGE_SHIFT_);
        uint32_t mv, in = pages ? place(sys, vma_addr(vma, pg + done), at, pages, &mv) : 0;
        placed += in;
        moved += in ? mv : 0;
        done += pages;
        if (in < cnt)
            left = true;                  /* pages (or copies) left behind in the piece */
        if (in < pages || pages < cnt) {
            if (pages < cnt) {
                uint64_t size;
                fileio_size(o, true, &size);  /* the file ended: it may have shrunk */
            }
            break;
        }
    }
    pool_done(sys, ext, next, left || moved < k);
    if (m > k && (left || moved < placed))
        mmu_zap((uintptr_t)staging, (size_t)(m - k) << PAGE_SHIFT_);
    if (m > placed)
        frames_free(&sys->frames, fr + placed, m - placed);
    if (moved)
        fault_count(sys, o->owner, C_FILE_MOVED, moved);
    return failed ? -EIO : (int)placed;
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
