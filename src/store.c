/*
 * store.c - the frame-store memfd.
 */
#include "internal.h"
#include "io.h"
#include "store.h"
#include <fcntl.h>
#include <sys/mman.h>

int store_open(int *fdp)
{
    int fd = memfd_create("vmkit-frames", MFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (ftruncate(fd, (off_t)STORE_SIZE) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    *fdp = fd;
    return 0;
}

int store_zero(int fd, uint64_t off, size_t len)
{
    for (;;) {
        if (fallocate(fd, 0, (off_t)off, (off_t)len) == 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

int store_punch(int fd, uint64_t off, size_t len)
{
    for (;;) {
        if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

int store_read(int fd, uint64_t off, void *buf, size_t len)
{
    return io_pread_full(fd, buf, len, off);
}

int store_write(int fd, uint64_t off, const void *buf, size_t len)
{
    return io_pwrite_full(fd, buf, len, off);
}

int store_copy(int fd, uint64_t from, uint64_t to, size_t len, void *buf)
{
    size_t done = 0;
    while (done < len) {
        loff_t in = (loff_t)(from + done), out = (loff_t)(to + done);
        ssize_t k = copy_file_range(fd, &in, fd, &out, len - done, 0);
        if (k > 0) {
            done += (size_t)k;
            continue;
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && errno != EINVAL && errno != EXDEV && errno != ENOSYS && errno != EOPNOTSUPP)
            return -errno;
        break;                          /* refused (or no progress): copy through buf */
    }
    if (done == len)
        return 0;
    int r = store_read(fd, from + done, buf, len - done);
    return r < 0 ? r : store_write(fd, to + done, buf, len - done);
}

void *store_window(int fd, uint64_t off, size_t len, int *err)
{
    void *w = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, (off_t)off);
    if (w == MAP_FAILED) {
        *err = -errno;
        return NULL;
    }
    return w;
}

void store_window_drop(void *w, size_t len)
{
    munmap(w, len);
}

void *store_alias(int fd, uint64_t off, size_t len, int *err)
{
    void *w = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, (off_t)off);
    if (w == MAP_FAILED) {
        *err = -errno;
        return NULL;
    }
    madvise(w, len, MADV_DONTFORK);        /* like every vmkit mapping */
    return w;
}

void store_window_clear(void *w, size_t len)
{
    madvise(w, len, MADV_DONTNEED);
}
