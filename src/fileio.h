/*
 * fileio.h - how a mapped file's bytes reach the frame-store (fileio.c).
 *
 * file.c decides which pages a fault brings in; this layer moves them: from
 * the file straight into the object's frame-store pages (no bounce buffer,
 * no UFFDIO_COPY), with O_DIRECT where the file system allows it.  It also
 * keeps the file's size, so a fault does not ask the file for it.
 * No malloc, no stdio: it runs in the SIGBUS handler.
 */
#ifndef VMK_FILEIO_H
#define VMK_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct vmk_system;
struct vmk_object;

/* Give file object o (file_fd set) its size and, if the file system takes
 * it, an O_DIRECT descriptor of the file.  Maplock exclusive.  0 or -errno. */
int  fileio_open(struct vmk_object *o);
/* Close what fileio_open opened, and file_fd. */
void fileio_close(struct vmk_object *o);
/* The file's size: as last seen, or (refresh) asked of the file now. */
int  fileio_size(struct vmk_object *o, bool refresh, uint64_t *size);
/* Read the file's bytes of object pages [pg, pg+n) into their frame-store
 * pages (which hold nothing: the entries are locked, never read).  direct:
 * with O_DIRECT where possible (the whole pages inside the file), else
 * through the kernel's page cache.  Zeros past the end of the file.  One
 * request for the fault plans.  The bytes read (fewer than n pages only at
 * the end of the file), or -errno. */
ssize_t fileio_read(struct vmk_system *sys, struct vmk_object *o, size_t pg, uint32_t n,
                    bool direct);
/* The same into dst, memory of vmkit's own that no VMA maps (fileonce.c:
 * pool slots and a reader's staging pages): no window, O_DIRECT where
 * possible, one request for the fault plans; zeros past the end. */
ssize_t fileio_read_into(struct vmk_system *sys, struct vmk_object *o, size_t pg, char *dst,
                         uint32_t n);
/* The same into buf (a copy-on-write break), through the page cache. */
ssize_t fileio_read_buf(struct vmk_system *sys, struct vmk_object *o, size_t pg, void *buf,
                        uint32_t n);

#endif
