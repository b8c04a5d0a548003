/*
 * fileio.c - a mapped file's bytes into the frame-store, without a copy.
 *
 * A file page used to come in as the kernel's page-cache page copied into a
 * bounce buffer (pread), then copied again into the frame-store by
 * UFFDIO_COPY, which also allocates the frame-store page: two copies of
 * every byte on the faulting thread, plus a page-cache page the budget never
 * sees.  The kernel's own mmap maps its page-cache page and copies nothing.
 *
 * Here the file is read straight into the object's own frame-store pages.
 * The application's mapping of them is registered with userfaultfd, and the
 * kernel must not touch registered memory on our behalf (a read(2) into it
 * is refused with EFAULT).  So the read goes through a *window*: a second
 * mapping of the same frame-store range, MAP_SHARED and not registered.
 * Each file object read by fileasync.c's readers has a lasting one over its
 * pages that are in the file (store_alias, made when the file is mapped; at
 * most 64 GiB of address space), and pages past it (a file that grew) get a short-lived one per
 * read (store_window).  The lasting window is registered with userfaultfd
 * like a VMA (nothing but the kernel's I/O touches it): before a read, one
 * fallocate allocates the run's pages in the frame-store and one
 * UFFDIO_CONTINUE maps them in the window (zeroing them, the only CPU pass
 * over the bytes), so the read's get_user_pages finds every page mapped
 * instead of faulting each in (a shmem fault per 4 KiB page was 40% of the
 * readers' CPU).  The read fills them; then the window drops them
 * (MADV_DONTNEED, or munmap), so the pages
 * count in VmRSS only through the application's mapping, and the caller
 * maps them there with UFFDIO_CONTINUE (the pages are present in the memfd
 * now: a minor fault's resolution).  The entries stay locked throughout, as
 * for any fault.  A window per read costs an mmap and a munmap, which take
 * the process's mmap lock for writing: measured, 200 and 130 us per 256 KiB
 * read with four readers, against nothing and 60 us for the lasting one.
 *
 *   file ──O_DIRECT (DMA)──> frame-store pages, through the window
 *                              └─ UFFDIO_CONTINUE ──> application's mapping
 *
 * With a direct read the device writes the pages itself: no CPU copy, and
 * no page-cache page either.  Each file object has a second descriptor of
 * its file opened O_DIRECT (fileio_open reopens it through /proc/self/fd,
 * so it has its own file status flags).  A file system that refuses
 * O_DIRECT (or a read it refuses: EINVAL) is read through the page cache,
 * and so is the last partial page of a file, whose length is not aligned;
 * past the end of the file the pages are zero.  Direct reads are worth it
 * only for long runs: a single page read directly waits for the device,
 * where the page cache may already have it (readahead(2) hints), so
 * file.c asks for direct reads only for runs read ahead.
 *
 * The size of the file is kept in the object (file_size) instead of an
 * fstat per fault.  It is refreshed when a fault lies past it (the file may
 * have grown) and when a read comes back short of it (the file shrank: a
 * truncation under a private mapping, or under a shared one before the
 * watcher of filewatch.c has dropped the pages): the caller then asks again
 * and faults past the new end get SIGBUS, as before.
 *
 * Fault injection: each fileio_read is one request of the IO_FILE_READ
 * plans, applied once (io_via_start) to the direct part and the buffered
 * tail together; a SHORT plan caps each call at its size rounded down to
 * the page (the direct descriptor's alignment).
 */
#include "internal.h"
#include "fileasync.h"
#include "fileio.h"
#include "io.h"
#include "mmu.h"
#include "store.h"
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#define DIO_ALIGN PAGE_SIZE_
#define ALIAS_MAX (1ull << 24)   /* pages of a lasting window, at most (64 GiB) */

int fileio_open(struct vmk_object *o)
{
    struct stat st;
    if (fstat(o->file_fd, &st) < 0)
        return -errno;
    atomic_store_explicit(&o->file_size, (uint64_t)st.st_size, memory_order_relaxed);
    if (o->file_dio_fd >= 0)
        return 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", o->file_fd);
    o->file_dio_fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);  /* -1: buffered only */
    uint64_t np = ((uint64_t)st.st_size + PAGE_SIZE_ - 1) >> PAGE_SHIFT_;
    np = np > o->file_pgoff ? np - o->file_pgoff : 0;                /* object pages in the file */
    np = np < o->npages ? np : o->npages;
    np = np < ALIAS_MAX ? np : ALIAS_MAX;
    int err;
    if (np && fileasync_for(o) &&
        (o->file_alias = store_alias(o->sys->store_fd, o->base, np << PAGE_SHIFT_, &err))) {
        if (mmu_register(o->sys->uffd, (uintptr_t)o->file_alias, np << PAGE_SHIFT_) == 0) {
            o->file_alias_pages = np;
        } else {                                                     /* windows per read */
            store_window_drop(o->file_alias, np << PAGE_SHIFT_);
            o->file_alias = NULL;
        }
    }
    return 0;
}

void fileio_close(struct vmk_object *o)
{
    if (o->file_alias)
        store_window_drop(o->file_alias, o->file_alias_pages << PAGE_SHIFT_);
    o->file_alias = NULL;
    if (o->file_dio_fd >= 0)
        close(o->file_dio_fd);
    if (o->file_fd >= 0)
        close(o->file_fd);
    o->file_dio_fd = o->file_fd = -1;
}

int fileio_size(struct vmk_object *o, bool refresh, uint64_t *size)
{
    if (refresh) {
        struct stat st;
        if (fstat(o->file_fd, &st) < 0)
            return -errno;
        atomic_store_explicit(&o->file_size, (uint64_t)st.st_size, memory_order_relaxed);
    }
    *size = atomic_load_explicit(&o->file_size, memory_order_relaxed);
    return 0;
}

static struct io_via read_via(struct vmk_system *sys, bool direct)
{
    return (struct io_via){ .faults = &sys->swap.inject, .chan = IO_FILE_READ,
                            .align = direct ? DIO_ALIGN : 1 };
}

/* Read len bytes at file offset off into dst: the whole pages inside the
 * file (as last seen) with O_DIRECT if direct, the rest buffered.  The
 * count (short only at the end of the file) or -errno. */
static ssize_t read_parts(struct vmk_object *o, char *dst, size_t len, uint64_t off, size_t cap,
                          bool direct)
{
    size_t done = 0;
    uint64_t size = atomic_load_explicit(&o->file_size, memory_order_relaxed);
    uint64_t whole = size & ~(uint64_t)(DIO_ALIGN - 1);
    if (direct && off < whole) {
        size_t dlen = whole - off < len ? (size_t)(whole - off) : len;
        ssize_t k = io_pread_upto(o->file_dio_fd, dst, dlen, off, cap);
        if (k < 0 && k != -EINVAL)
            return k;
        if (k > 0)                    /* EINVAL: refused, the page cache reads it all */
            done = (size_t)k & ~(size_t)(DIO_ALIGN - 1);
        if (k >= 0 && (size_t)k < dlen)
            return (ssize_t)k;        /* the file ended first: it shrank */
    }
    ssize_t k = io_pread_upto(o->file_fd, dst + done, len - done, off + done, cap);
    return k < 0 ? k : (ssize_t)(done + (size_t)k);
}

/* The lasting window's pages [pg, pg + len/4096), allocated in the
 * frame-store at once (one fallocate) and mapped in the window at once
 * (UFFDIO_CONTINUE: the window is registered, so nothing faults them in
 * one by one).  The window's address, or NULL and *err. */
static char *alias_fill(struct vmk_system *sys, struct vmk_object *o, size_t pg, size_t len,
                        int *err)
{
    char *w = o->file_alias + (pg << PAGE_SHIFT_);
    *err = store_zero(sys->store_fd, o->base + ((uint64_t)pg << PAGE_SHIFT_), len);
    if (*err == 0)
        *err = mmu_continue(sys->uffd, (uintptr_t)w, len, false);
    return *err == 0 ? w : NULL;
}

ssize_t fileio_read(struct vmk_system *sys, struct vmk_object *o, size_t pg, uint32_t n,
                    bool direct)
{
    size_t len = (size_t)n << PAGE_SHIFT_, cap;
    uint64_t off = (o->file_pgoff + pg) << PAGE_SHIFT_;
    direct = direct && o->file_dio_fd >= 0;
    int r = io_via_start(read_via(sys, direct), len, &cap);
    if (r < 0)
        return r;
    bool lasting = o->file_alias && pg + n <= o->file_alias_pages;
    char *w = lasting ? alias_fill(sys, o, pg, len, &r)
                      : store_window(sys->store_fd, o->base + ((uint64_t)pg << PAGE_SHIFT_), len, &r);
    if (!w)
        return r;
    ssize_t got = read_parts(o, w, len, off, cap, direct);
    if (got >= 0 && (size_t)got < len)             /* past the end: zeros */
        memset(w + got, 0, len - (size_t)got);
    if (lasting)
        store_window_clear(w, len);
    else
        store_window_drop(w, len);
    return got;
}

ssize_t fileio_read_into(struct vmk_system *sys, struct vmk_object *o, size_t pg, char *dst,
                         uint32_t n)
{
    size_t len = (size_t)n << PAGE_SHIFT_, cap;
    uint64_t off = (o->file_pgoff + pg) << PAGE_SHIFT_;
    bool direct = o->file_dio_fd >= 0;
    int r = io_via_start(read_via(sys, direct), len, &cap);
    if (r < 0)
        return r;
    ssize_t got = read_parts(o, dst, len, off, cap, direct);
    if (got >= 0 && (size_t)got < len)             /* past the end: zeros */
        memset(dst + got, 0, len - (size_t)got);
    return got;
}

ssize_t fileio_read_buf(struct vmk_system *sys, struct vmk_object *o, size_t pg, void *buf,
                        uint32_t n)
{
    size_t len = (size_t)n << PAGE_SHIFT_;
    ssize_t got = io_pread_upto_via(read_via(sys, false), o->file_fd, buf, len,
                                    (o->file_pgoff + pg) << PAGE_SHIFT_);
    if (got >= 0 && (size_t)got < len)
        memset((char *)buf + got, 0, len - (size_t)got);
    return got;
}
