/*
 * io.c - whole-buffer positional I/O (the frame-store and the swap device).
 */
#include "io.h"
#include <errno.h>
#include <unistd.h>

int io_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
    char *p = buf;
    while (len > 0) {
        ssize_t k = pread(fd, p, len, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return k < 0 ? -errno : -EIO;
        p += k, len -= (size_t)k, off += (uint64_t)k;
    }
    return 0;
}

int io_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t k = pwrite(fd, p, len, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return k < 0 ? -errno : -EIO;
        p += k, len -= (size_t)k, off += (uint64_t)k;
    }
    return 0;
}
