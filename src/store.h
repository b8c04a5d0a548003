/*
 * store.h - the frame-store: one memfd whose pages are the system's frames.
 *
 * Each object owns a range of offsets.  A page is resident when the memfd
 * has it; eviction punches it out, which also removes it from every MMU
 * mapping at once.  Only the page table and the frame budget decide what may
 * be here; this file just moves bytes.
 */
#ifndef VMK_STORE_H
#define VMK_STORE_H

#include <stddef.h>
#include <stdint.h>

#define STORE_SIZE (1ull << 56)   /* offset space handed out to objects (sparse) */

int store_open(int *fd);
/* Allocate zeroed pages at [off, off+len).  0 or -errno. */
int store_zero(int fd, uint64_t off, size_t len);
/* Free the pages at [off, off+len) (and unmap them everywhere). */
int store_punch(int fd, uint64_t off, size_t len);
int store_read(int fd, uint64_t off, void *buf, size_t len);
int store_write(int fd, uint64_t off, const void *buf, size_t len);
/* Copy [from, from+len) to [to, to+len) (apart): in the kernel, one copy
 * (copy_file_range), or through buf (len bytes) where it refuses.  0 or
 * -errno. */
int store_copy(int fd, uint64_t from, uint64_t to, size_t len, void *buf);
/* A window on [off, off+len) of the frame-store for I/O: mapped MAP_SHARED
 * at an address of the kernel's choice, never registered with userfaultfd,
 * its pages allocated (zero) where there were holes, so the kernel may read
 * a file straight into them (O_DIRECT included).  NULL + *err on failure.
 * Drop it as soon as the I/O is done: its pages count in VmRSS while it
 * maps them, beside the frame budget. */
void *store_window(int fd, uint64_t off, size_t len, int *err);
void  store_window_drop(void *w, size_t len);
/* A lasting window: the same, but its pages are allocated only as I/O
 * touches them, and it stays; store_window_clear drops its pages from it
 * (not from the frame-store) after each I/O, for the same reason. */
void *store_alias(int fd, uint64_t off, size_t len, int *err);
void  store_window_clear(void *w, size_t len);

#endif
