/*
 * fuse_disk.h - a disk image with a bad range, for machines without
 * device-mapper: a one-file FUSE file system served by a child process over
 * the raw /dev/fuse protocol (no libfuse).  Its file "disk" is size bytes
 * of memory; a read or write that touches the error range [lo, hi) fails
 * with EIO, as device-mapper's `error` target does.  A loop device over
 * mnt/disk is then a real block device whose range fails in the kernel.
 *
 *   fuse_disk_start(&d, dir, size, why)   mount at dir, start the server
 *   fuse_disk_set_error(&d, lo, hi)       bytes; lo == hi: no errors
 *   fuse_disk_stop(&d)                    unmount, stop the server
 */
#ifndef VMK_TEST_FUSE_DISK_H
#define VMK_TEST_FUSE_DISK_H

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

struct fuse_disk_bad { _Atomic uint64_t lo, hi; };

struct fuse_disk {
    char mnt[256];
    uint64_t size;
    pid_t pid;                     /* the server, 0 if none */
    int mounted;
    struct fuse_disk_bad *bad;     /* shared with the server */
};

#define FD_MAX_WRITE (128u << 10)
#define FD_BUF (FD_MAX_WRITE + 4096)

static void fd_reply(int fd, uint64_t unique, int err, const void *data, size_t len)
{
    struct fuse_out_header out = { .len = (uint32_t)(sizeof out + len), .error = err, .unique = unique };
    struct iovec iov[2] = { { &out, sizeof out }, { (void *)data, len } };
    if (writev(fd, iov, len ? 2 : 1) < 0 && errno != ENOENT)
        _exit(3);                   /* ENOENT: the request was interrupted */
}

static struct fuse_attr fd_attr(uint64_t node, uint64_t size)
{
    struct fuse_attr a;
    memset(&a, 0, sizeof a);
    a.ino = node;
    a.blksize = 4096;
    if (node == FUSE_ROOT_ID) {
        a.mode = S_IFDIR | 0755;
        a.nlink = 2;
    } else {
        a.mode = S_IFREG | 0600;
        a.nlink = 1;
        a.size = size;
        a.blocks = size / 512;
    }
    return a;
}

static int fd_overlaps_bad(struct fuse_disk_bad *b, uint64_t off, uint64_t len)
{
    uint64_t lo = atomic_load(&b->lo), hi = atomic_load(&b->hi);
    return lo < hi && off < hi && off + len > lo;
}

static void fd_init(int fd, const struct fuse_in_header *in)
{
    const struct fuse_init_in *ii = (const void *)(in + 1);
    struct fuse_init_out o;
    memset(&o, 0, sizeof o);
    o.major = FUSE_KERNEL_VERSION;
    o.minor = ii->minor < FUSE_KERNEL_MINOR_VERSION ? ii->minor : FUSE_KERNEL_MINOR_VERSION;
    o.max_readahead = ii->max_readahead;
    o.max_background = 16;
    o.congestion_threshold = 12;
    o.max_write = FD_MAX_WRITE;
    o.time_gran = 1;
    fd_reply(fd, in->unique, ii->major == FUSE_KERNEL_VERSION ? 0 : -EPROTO, &o, sizeof o);
}

static void fd_lookup(int fd, const struct fuse_in_header *in, uint64_t size)
{
    struct fuse_entry_out e;
    memset(&e, 0, sizeof e);
    if (in->nodeid != FUSE_ROOT_ID || strcmp((const char *)(in + 1), "disk") != 0) {
        fd_reply(fd, in->unique, -ENOENT, NULL, 0);
        return;
    }
    e.nodeid = 2;
    e.generation = 1;
    e.entry_valid = e.attr_valid = 3600;
    e.attr = fd_attr(2, size);
    fd_reply(fd, in->unique, 0, &e, sizeof e);
}

static void fd_getattr(int fd, const struct fuse_in_header *in, uint64_t size)
{
    struct fuse_attr_out a;
    memset(&a, 0, sizeof a);
    a.attr_valid = 3600;
    a.attr = fd_attr(in->nodeid, size);
    fd_reply(fd, in->unique, 0, &a, sizeof a);
}

static void fd_open(int fd, const struct fuse_in_header *in)
{
    struct fuse_open_out o = { .fh = 1, .open_flags = in->opcode == FUSE_OPEN ? FOPEN_DIRECT_IO : 0 };
    fd_reply(fd, in->unique, 0, &o, sizeof o);
}

static void fd_read(int fd, const struct fuse_in_header *in, const char *img, uint64_t size,
                    struct fuse_disk_bad *bad)
{
    const struct fuse_read_in *r = (const void *)(in + 1);
    uint64_t off = r->offset, n = r->size;
    if (fd_overlaps_bad(bad, off, n)) {
        fd_reply(fd, in->unique, -EIO, NULL, 0);
        return;
    }
    n = off >= size ? 0 : off + n > size ? size - off : n;
    fd_reply(fd, in->unique, 0, img + off, n);
}

static void fd_write(int fd, const struct fuse_in_header *in, char *img, uint64_t size,
                     struct fuse_disk_bad *bad)
{
    const struct fuse_write_in *w = (const void *)(in + 1);
    if (fd_overlaps_bad(bad, w->offset, w->size)) {
        fd_reply(fd, in->unique, -EIO, NULL, 0);
        return;
    }
    if (w->offset > size || w->size > size - w->offset) {
        fd_reply(fd, in->unique, -EFBIG, NULL, 0);
        return;
    }
    memcpy(img + w->offset, (const char *)(w + 1), w->size);
    struct fuse_write_out o = { .size = w->size };
    fd_reply(fd, in->unique, 0, &o, sizeof o);
}

static void fd_statfs(int fd, const struct fuse_in_header *in, uint64_t size)
{
    struct fuse_statfs_out s;
    memset(&s, 0, sizeof s);
    s.st.blocks = size / 4096;
    s.st.bsize = s.st.frsize = 4096;
    s.st.namelen = 255;
    fd_reply(fd, in->unique, 0, &s, sizeof s);
}

/* One request.  0 to go on, 1 when the file system is going away. */
static int fd_dispatch(int fd, const struct fuse_in_header *in, char *img, uint64_t size,
                       struct fuse_disk_bad *bad)
{
    switch (in->opcode) {
    case FUSE_INIT: fd_init(fd, in); break;
    case FUSE_LOOKUP: fd_lookup(fd, in, size); break;
    case FUSE_GETATTR: case FUSE_SETATTR: fd_getattr(fd, in, size); break;
    case FUSE_OPEN: case FUSE_OPENDIR: fd_open(fd, in); break;
    case FUSE_READ: fd_read(fd, in, img, size, bad); break;
    case FUSE_WRITE: fd_write(fd, in, img, size, bad); break;
    case FUSE_STATFS: fd_statfs(fd, in, size); break;
    case FUSE_READDIR: case FUSE_FLUSH: case FUSE_RELEASE: case FUSE_RELEASEDIR: case FUSE_FSYNC:
    case FUSE_FSYNCDIR: case FUSE_ACCESS:
        fd_reply(fd, in->unique, 0, NULL, 0);
        break;
    case FUSE_FORGET: case FUSE_BATCH_FORGET: case FUSE_INTERRUPT: break;   /* no reply */
    case FUSE_DESTROY: fd_reply(fd, in->unique, 0, NULL, 0); return 1;
    default: fd_reply(fd, in->unique, -ENOSYS, NULL, 0); break;
    }
    return 0;
}

static void fd_serve(int fd, uint64_t size, struct fuse_disk_bad *bad)
{
    char *img = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *buf = malloc(FD_BUF);
    if (img == MAP_FAILED || !buf)
        _exit(2);
    for (;;) {
        ssize_t n = read(fd, buf, FD_BUF);
        if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == ENOENT))
            continue;
        if (n < (ssize_t)sizeof(struct fuse_in_header))
            _exit(0);                               /* ENODEV: unmounted */
        if (fd_dispatch(fd, (const struct fuse_in_header *)buf, img, size, bad))
            _exit(0);
    }
}

static void fuse_disk_set_error(struct fuse_disk *d, uint64_t lo, uint64_t hi)
{
    atomic_store(&d->bad->lo, lo);
    atomic_store(&d->bad->hi, hi);
}

static void fuse_disk_stop(struct fuse_disk *d)
{
    if (d->mounted && umount2(d->mnt, MNT_DETACH) == 0)
        d->mounted = 0;
    if (d->pid > 0) {
        kill(d->pid, SIGKILL);
        waitpid(d->pid, NULL, 0);
        d->pid = 0;
    }
    if (d->bad) {
        munmap(d->bad, sizeof *d->bad);
        d->bad = NULL;
    }
}

/* 0, or -1 with why filled in. */
static int fuse_disk_start(struct fuse_disk *d, const char *dir, uint64_t size, char *why,
                           size_t whylen)
{
    memset(d, 0, sizeof *d);
    snprintf(d->mnt, sizeof d->mnt, "%s", dir);
    d->size = size;
    d->bad = mmap(NULL, sizeof *d->bad, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (d->bad == MAP_FAILED) {
        d->bad = NULL;
        snprintf(why, whylen, "mmap: %s", strerror(errno));
        return -1;
    }
    int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
    char opts[128];
    snprintf(opts, sizeof opts, "fd=%d,rootmode=40000,user_id=0,group_id=0", fd);
    if (fd < 0 || mount("vmk-fuse-disk", dir, "fuse", MS_NOSUID | MS_NODEV, opts) < 0) {
        snprintf(why, whylen, "%s: %s", fd < 0 ? "open /dev/fuse" : "mount fuse", strerror(errno));
        if (fd >= 0)
            close(fd);
        fuse_disk_stop(d);
        return -1;
    }
    d->mounted = 1;
    fflush(NULL);
    d->pid = fork();
    if (d->pid == 0)
        fd_serve(fd, size, d->bad);
    close(fd);
    if (d->pid < 0) {
        snprintf(why, whylen, "fork: %s", strerror(errno));
        fuse_disk_stop(d);
        return -1;
    }
    return 0;
}

#endif
