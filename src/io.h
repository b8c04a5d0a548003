/*
 * io.h - whole-buffer positional I/O: loops over short transfers and EINTR.
 */
#ifndef VMK_IO_H
#define VMK_IO_H

#include <stddef.h>
#include <stdint.h>

/* 0, -errno, or -EIO when the file ends first. */
int io_pread_full(int fd, void *buf, size_t len, uint64_t off);
int io_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);

#endif
