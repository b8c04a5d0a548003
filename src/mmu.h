/*
 * mmu.h - the only code that talks to the kernel about user mappings:
 * mmap/mprotect/munmap/madvise and the userfaultfd ioctls.
 */
#ifndef VMK_MMU_H
#define VMK_MMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* *move: the kernel has UFFDIO_MOVE (Linux 6.8). */
int   mmu_uffd_open(int *fd, bool *move);
/* Map len bytes of the frame-store at offset off, register them with uffd. */
void *mmu_map(int uffd, int store_fd, uint64_t off, size_t len, int prot, int *err);
/* Map len bytes of the frame-store at offset off over [addr, addr+len) in
 * place of whatever was there (MAP_FIXED), with the VMA's protection, and
 * register them with uffd if reg.  0 or -errno. */
int   mmu_remap(int uffd, int store_fd, uintptr_t addr, uint64_t off, size_t len, int prot,
                bool reg);
int   mmu_register(int uffd, uintptr_t addr, size_t len);
/* A remap in two halves that no thread can see half-done (collapse.c).
 * mmu_guard maps len bytes of the frame-store at off over [addr, addr+len)
 * with no access (PROT_NONE) and no registration: a touch meanwhile is a
 * SIGSEGV, which fault.c turns into a retry once the maplock is free, never
 * a plain shmem fault.  mmu_open then registers the range with uffd and
 * gives it the VMA's protection.  0 or -errno. */
int   mmu_guard(int store_fd, uintptr_t addr, uint64_t off, size_t len);
int   mmu_open(int uffd, uintptr_t addr, size_t len, int prot);
int   mmu_unmap(void *addr, size_t len);
int   mmu_protect(void *addr, size_t len, int prot);
/* Map pages that are in the frame-store into the MMU.  wp: write-protected,
 * so the first write faults.  Pages already mapped are skipped.  0 or -errno. */
int   mmu_continue(int uffd, uintptr_t addr, size_t len, bool wp);
/* Put len bytes from src into pages that are in no frame yet (they enter the
 * frame-store, shared by every mapping) and map them here; wp as above.
 * One call instead of a write to the frame-store and a CONTINUE, and it does
 * not take the frame-store's inode lock, which hole punching holds. */
int   mmu_copy(int uffd, uintptr_t addr, const void *src, size_t len, bool wp);
/* Set or clear write protection of mapped pages.  0 or -errno. */
int   mmu_writeprotect(int uffd, uintptr_t addr, size_t len, bool wp);
/* Write-protect every range of r[0..n): the fork's one big page-table walk,
 * split over two threads when there is enough of it.  0 or the first
 * -errno (every range is tried even after an error). */
struct mmu_range { uintptr_t addr; size_t len; };
int   mmu_writeprotect_all(int uffd, const struct mmu_range *r, size_t n);
/* Take every page-table entry of [addr, addr+len) out of the window, which
 * stays mapped and registered (a fork's parent: faults refill it).  The
 * entries now live in *scratch (*scratch_len bytes), which the caller must
 * unmap.  0, or -errno and nothing changed (-EFAULT: not one kernel
 * mapping). */
int   mmu_move_out(uintptr_t addr, size_t len, void **scratch, size_t *scratch_len);
/* Private anonymous memory, read-write for the kernel, registered with uffd
 * (missing and write-protect faults): a VMA whose pages are moved in and
 * out (fileonce.c) or the pool they wait in (pagepool.c).  NULL and *err
 * on failure. */
void *mmu_map_anon(int uffd, size_t len, int *err);
/* Move the anonymous pages of [src, src+len) to [dst, dst+len)
 * (UFFDIO_MOVE: page-table entries change hands, no copy).  dst must be
 * registered with uffd and have no page.  Bytes moved (all of len, or
 * fewer: the pages after them stay at src), or -errno if none. */
ssize_t mmu_move(int uffd, uintptr_t dst, uintptr_t src, size_t len);
/* Drop the MMU's mapping of pages (they stay in the frame-store). */
int   mmu_zap(uintptr_t addr, size_t len);

#endif
