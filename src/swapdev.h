/*
 * swapdev.h - the only code that talks to the swap file or block device.
 */
#ifndef VMK_SWAPDEV_H
#define VMK_SWAPDEV_H

#include "io.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Open path (NULL: $TMPDIR or /tmp; a directory: an unlinked 0600 file in it;
 * a block device; else a regular file, created 0600).  *devslots is set for a
 * block device (its size in pages), else 0.  0 or -errno. */
int  swapdev_open(const char *path, int *fd, bool *direct, bool *is_tmp, uint64_t *devslots,
                  int verbose);
void swapdev_close(int fd);
/* Allocate disk space for slots [from, from+n).  0 or -errno (-ENOSPC). */
int  swapdev_extend(int fd, uint64_t from, uint64_t n);
/* Whole-buffer I/O through the fault plans of via (io.h).  0 or -errno. */
int  swapdev_pwrite(struct io_via via, int fd, const void *buf, size_t len, uint64_t off);
int  swapdev_pread(struct io_via via, int fd, void *buf, size_t len, uint64_t off);
/* The alignment O_DIRECT requires of fd's offsets and lengths (1: buffered). */
uint32_t swapdev_dio_align(int fd, bool direct);
/* A buffered descriptor of the same file (for read-ahead), or -1. */
int  swapdev_open_cached(int fd);
void swapdev_readahead(int fd, uint64_t off, size_t len);
void swapdev_drop_cached(int fd, uint64_t off, size_t len);

#endif
