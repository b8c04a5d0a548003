/*
 * swapdev.c - opening the swap device and moving pages to and from it.
 *
 * Security: the default swap file is created with O_TMPFILE (or mkstemp and
 * an immediate unlink), mode 0600, so no other user can read swapped pages
 * and nothing is left on disk after a crash.  O_DIRECT is used when the file
 * system supports it, so swapped pages do not also fill the page cache.
 */
#include "internal.h"
#include "io.h"
#include "swapdev.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/fs.h>

static int open_tmp_in(const char *dir, bool *is_tmp)
{
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0) {
        *is_tmp = true;
        return fd;
    }
    char tmpl[4096];
    if (snprintf(tmpl, sizeof tmpl, "%s/vmkit-swap-XXXXXX", dir) >= (int)sizeof tmpl)
        return -ENAMETOOLONG;
    fd = mkostemp(tmpl, O_CLOEXEC);
    if (fd < 0)
        return -errno;
    unlink(tmpl);
    fchmod(fd, 0600);
    *is_tmp = true;
    return fd;
}

/* Re-open fd with O_DIRECT through /proc/self/fd when the file system allows it. */
static int try_direct(int fd, bool *direct)
{
    char p[64];
    snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
    int dfd = open(p, O_RDWR | O_DIRECT | O_CLOEXEC);
    if (dfd < 0) {
        *direct = false;
        return fd;
    }
    close(fd);
    *direct = true;
    return dfd;
}

int swapdev_open(const char *path, int *fdp, bool *direct, bool *is_tmp, uint64_t *devslots,
                 int verbose)
{
    struct stat st;
    int fd;
    *devslots = 0;
    *is_tmp = false;
    if (!path || !*path) {
        const char *dir = getenv("TMPDIR");
        if (!dir || !*dir)
            dir = "/tmp";
        fd = open_tmp_in(dir, is_tmp);
    } else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        fd = open_tmp_in(path, is_tmp);
    } else if (stat(path, &st) == 0 && S_ISBLK(st.st_mode)) {
        fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0)
            return -errno;
        uint64_t bytes = 0;
        if (ioctl(fd, BLKGETSIZE64, &bytes) < 0) {
            int e = -errno;
            close(fd);
            return e;
        }
        *devslots = bytes >> PAGE_SHIFT_;
        if (*devslots == 0) {
            close(fd);
            return -ENOSPC;
        }
    } else {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
            return -errno;
        if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
            close(fd);
            return -EINVAL;
        }
    }
    if (fd < 0)
        return fd;
    fd = try_direct(fd, direct);
    if (verbose)
        fprintf(stderr, "vmkit: swap %s%s%s\n", path ? path : "(temporary file)",
                *direct ? ", O_DIRECT" : ", buffered", *is_tmp ? ", unlinked" : "");
    *fdp = fd;
    return 0;
}

void swapdev_close(int fd)
{
    close(fd);
}

int swapdev_extend(int fd, uint64_t from, uint64_t n)
{
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISBLK(st.st_mode))
        return 0;
    if (fallocate(fd, 0, (off_t)(from << PAGE_SHIFT_), (off_t)(n << PAGE_SHIFT_)) == 0)
        return 0;
    if (errno == EOPNOTSUPP) {           /* no fallocate: size it and hope */
        if (ftruncate(fd, (off_t)((from + n) << PAGE_SHIFT_)) == 0)
            return 0;
    }
    return errno == ENOSPC || errno == EFBIG ? -ENOSPC : -errno;
}

int swapdev_pwrite(struct io_via via, int fd, const void *buf, size_t len, uint64_t off)
{
    return io_pwrite_via(via, fd, buf, len, off);
}

int swapdev_pread(struct io_via via, int fd, void *buf, size_t len, uint64_t off)
{
    return io_pread_via(via, fd, buf, len, off);
}

uint32_t swapdev_dio_align(int fd, bool direct)
{
    if (!direct)
        return 1;
#ifdef STATX_DIOALIGN
    struct statx sx;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 && (sx.stx_mask & STATX_DIOALIGN) &&
        sx.stx_dio_offset_align)
        return sx.stx_dio_offset_align > sx.stx_dio_mem_align ? sx.stx_dio_offset_align
                                                               : sx.stx_dio_mem_align;
#endif
    int ssz = 0;
    if (ioctl(fd, BLKSSZGET, &ssz) == 0 && ssz > 0)
        return (uint32_t)ssz;
    return PAGE_SIZE_;
}

int swapdev_open_cached(int fd)
{
    char p[64];
    snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
    int c = open(p, O_RDONLY | O_CLOEXEC);
    if (c >= 0)
        posix_fadvise(c, 0, 0, POSIX_FADV_SEQUENTIAL);
    return c;
}

void swapdev_readahead(int fd, uint64_t off, size_t len)
{
    readahead(fd, (off64_t)off, len);
}

void swapdev_drop_cached(int fd, uint64_t off, size_t len)
{
    posix_fadvise(fd, (off_t)off, (off_t)len, POSIX_FADV_DONTNEED);
}
