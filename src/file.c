/*
 * file.c - file-backed objects: pages that come from a file.
 *
 * A file page is not touched until a thread touches it, like an anonymous
 * one; the difference is where a non-resident page comes from and where a
 * dirty one goes:
 *
 *                     not resident, no slot     dirty at eviction     clean at eviction
 *   anonymous         zero-filled               written to swap       dropped (slot kept)
 *   private file      read from the file        written to swap       dropped
 *   shared file       read from the file        written to the file   dropped
 *
 * So a private file page that was written becomes anonymous (it gets a swap
 * slot, and from then on comes back from swap), and a shared file page never
 * uses swap.  The entry of a clean file page evicted goes back to 0: "read
 * it from the file again".
 *
 * Shared mappings of one file in one system use one object — the system's
 * page cache of that file, object page i = file page i — so two shared
 * mappings (in one space or in two) see each other's writes at once: they
 * map the same frame-store pages.  Its page table is reserved for 1 TiB and
 * backed lazily; pages stay cached until evicted or until the last mapping
 * of the file goes.  A private mapping gets an object of its own, object
 * page 0 = the mapping's first file page.
 *
 * Writeback (eviction, vmk_sync, unmap) first write-protects the pages in
 * every mapping, so a write that races it faults and makes the page dirty
 * again after the copy; a page whose writeback fails stays dirty.
 * End of file: a fault in the last partial page reads zeros past the end;
 * a fault at or past the first page wholly beyond the end is SIGBUS (-ENXIO
 * here), as the kernel does.  Writeback never extends the file.
 */
#include "internal.h"
#include "io.h"
#include "mmu.h"
#include "fileasync.h"
#include "fileio.h"
#include "fileonce.h"
#include "readahead.h"
#include "store.h"
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

#define FILE_SPAN_PAGES (1ull << 28)      /* 1 TiB: a shared file object's reach */

/* The pages of [first, first + n) that a read of got bytes reached. */
static uint32_t pages_read(ssize_t got)
{
    return (uint32_t)(((size_t)got + PAGE_SIZE_ - 1) >> PAGE_SHIFT_);
}

/* How file I/O of a system reaches its fault plans (tests). */
static struct io_via file_via(struct vmk_system *sys, enum io_chan chan)
{
    return (struct io_via){ .faults = &sys->swap.inject, .chan = chan, .align = 1 };
}

/*
 * Start reading what the plan will want next.  A run going up, in a system
 * with readers (fileasync.c), is read straight into frames and mapped as
 * the reads complete, a request per FA_RUN pages, each but the first page
 * of its stretch: that page is left for the reader to fault on - the sign
 * that it has come this far, on which its stream plans the next stretch
 * (readahead.c sees a fault where the stream expects it, every page before
 * resident) - and the kernel is asked for it alone (readahead(2)), so that
 * fault finds it in the page cache.  What the readers cannot take now (too
 * much in flight, no free request) is left for a later fault's plan
 * (ra_async), not asked of the kernel: it would be read twice.  Other
 * plans ask the kernel for everything.
 */
static void prefetch(struct vmk_system *sys, struct vmk_vma *vma, const struct ra_plan *plan)
{
    struct vmk_object *o = vma->obj;
    if (plan->stride != 1 || !plan->ahead_n || !fileasync_for(o) || vma->stand_in) {
        ra_prefetch(o, plan);
        return;
    }
    uint64_t end = (uint64_t)plan->ahead + plan->ahead_n, started = 0, p = (uint64_t)plan->ahead;
    while (p < end) {
        uint32_t n = end - p < FA_RUN ? (uint32_t)(end - p) : FA_RUN;
        uint32_t got = n > 1 ? fileasync_read(sys, vma, p + 1, n - 1) : 0;
        if (n > 1 && got == 0)
            break;
        ra_hint(o, (int64_t)p, 1);
        started += got;
        p += 1 + got;
        if (got < n - 1)
            break;
    }
    ra_async(o, plan, started, (int64_t)p);
}

/*
 * The pages of the run [first, first + n) a read of got bytes reached, the
 * others (locked, frames fr) given up: a read short of the run means the
 * file shrank (its size as last seen is stale), so the file's size is seen
 * again.  -ENXIO (everything given up) if the faulting page is past it.
 */
static int run_keep(struct vmk_system *sys, struct vmk_object *o, const struct ra_plan *plan,
                    size_t first, uint32_t n, ssize_t got, const uint32_t *fr, uint64_t *vals)
{
    uint32_t keep = pages_read(got);
    if (keep >= n)
        return (int)n;
    uint64_t size;
    fileio_size(o, true, &size);
    if (plan->pg - first >= keep)
        return -ENXIO;
    fault_abort(sys, o, first + keep, n - keep, fr + keep, vals + keep, 0);
    return (int)keep;
}

/*
 * Bring in the run [first, first + n) (locked, frames fr) around the
 * faulting page plan->pg, and start the plan's prefetch.  The pages are
 * clean and write-protected but for the faulting page of a write, dirty at
 * once.  Returns the pages brought in (fewer than n if the file shrank; see
 * run_keep), or -errno with the pages unlocked.
 *
 * Two ways, and a third.  With readers (fileasync.c) a run is read straight into the
 * frame-store (fileio.c, O_DIRECT) and mapped with UFFDIO_CONTINUE: the
 * kernel's page cache is not used, so it starts no readahead of its own
 * beside the readers' (a sequential pread would, and the file would be
 * read twice).  Without them, and for a single page (the page a stream's
 * reader faults on, which the prefetch asked the kernel for), one read
 * through the page cache into a bounce buffer and one UFFDIO_COPY: two
 * copies of every byte, but in the faulting thread this is the faster way
 * when the page is in the page cache already (a direct read waits for the
 * device).  A stand-in VMA's run (cow.c: a private file page read after a
 * fork) goes through the page cache too: it has no readers, and the
 * kernel was asked to read ahead into the page cache for it.  A run of an
 * object mapped once (fileonce.c) has no frame-store pages to read into:
 * it is read with O_DIRECT into a bounce buffer and copied in place.
 */
static int run_in(struct vmk_system *sys, struct vmk_vma *vma, const struct ra_plan *plan,
                  size_t first, uint32_t n, const uint32_t *fr, uint64_t *vals, int write)
{
    struct vmk_object *o = vma->obj;
    bool direct = n > 1 && fileasync_for(o) && !vma->stand_in;
    bool into = direct && o->once;      /* O_DIRECT into a bounce buffer, copied in place */
    int bi = -1, r = 0;
    char *buf = direct && !into ? NULL : bounce_get(sys, &bi);
    ssize_t got = into ? fileio_read_into(sys, o, first, buf, n)
                  : direct ? fileio_read(sys, o, first, n, true) : fileio_read_buf(sys, o, first, buf, n);
    if (got < 0)
        r = -EIO;
    else if ((r = run_keep(sys, o, plan, first, n, got, fr, vals)) > 0)
        n = (uint32_t)r;
    if (r > 0) {
        prefetch(sys, vma, plan);
        r = buf ? mmu_copy(sys->uffd, vma_addr(vma, first), buf, (size_t)n << PAGE_SHIFT_, true)
                : mmu_continue(sys->uffd, vma_addr(vma, first), (size_t)n << PAGE_SHIFT_, true);
    }
    if (bi >= 0)
        bounce_put(sys, bi);
    if (r < 0) {
        if (r != -ENXIO)
            ctr_add(&sys->ctr, C_IO_ERRORS, 1);
        return fault_abort(sys, o, first, n, fr, vals, r);
    }
    for (uint32_t i = 0; i < n; i++)
        vals[i] = PTE_RES | PTE_MAPPED | PTE_REF;
    if (write) {
        vals[plan->pg - first] |= PTE_DIRTY;
        mmu_writeprotect(sys->uffd, vma_addr(vma, plan->pg), PAGE_SIZE_, false);
    }
    fault_publish(sys, o, first, n, fr, vals);
    return (int)n;
}

/* A run up: the faulting page (locked) and the never-read pages after it. */
static int fault_run(struct vmk_system *sys, struct vmk_vma *vma, const struct ra_plan *plan,
                     int write)
{
    uint64_t vals[FA_MAX];
    uint32_t fr[FA_MAX];
    uint32_t n = fault_lock_none(vma, plan->pg, plan->n, vals);
    int got = fault_frames(sys, vma->obj, plan->pg, n, vals, fr);
    return got < 0 ? got : run_in(sys, vma, plan, plan->pg, (uint32_t)got, fr, vals, write);
}

/* A run down: the faulting page (locked) and the never-read pages below it,
 * as far as they are free (trylock) and in the VMA; frames for as many as
 * can be had, the faulting page first. */
static int fault_run_down(struct vmk_system *sys, struct vmk_vma *vma, const struct ra_plan *plan,
                          int write)
{
    struct vmk_object *o = vma->obj;
    size_t pg = plan->pg;
    uint64_t vals[FA_MAX] = { 0 };
    uint32_t fr[FA_MAX], n = 1;
    while (n < plan->n && n <= pg - vma->pgoff) {
        uint64_t v;
        if (!pte_trylock(&o->ptes[pg - n], &v))
            break;
        if (v) {
            pte_unlock(&o->ptes[pg - n], v);
            break;
        }
        n++;
    }
    int got = frames_get(sys, 1, n, fr);
    fault_unlock_run(o, pg + 1 - n, n - (got < 0 ? 0 : (uint32_t)got), vals);
    if (got < 0)
        return got;
    return run_in(sys, vma, plan, pg + 1 - (uint32_t)got, (uint32_t)got, fr, vals, write);
}

/* Page i of the plan's lattice. */
static size_t lattice(const struct ra_plan *plan, uint32_t i)
{
    return (size_t)((int64_t)plan->pg + (int64_t)plan->stride * i);
}

/* Lock the lattice's pages after pg (pg itself is locked by the caller)
 * while never touched, free of BUSY and in the VMA.  Returns the count, pg
 * included. */
static uint32_t lock_lattice(struct vmk_vma *vma, const struct ra_plan *plan)
{
    int64_t lo = (int64_t)vma->pgoff, end = (int64_t)vma_page(vma, vma->end);
    uint32_t n = 1;
    while (n < plan->n) {
        int64_t p = (int64_t)lattice(plan, n);
        uint64_t v;
        if (p < lo || p >= end || !pte_trylock(&vma->obj->ptes[p], &v))
            break;
        if (v) {
            pte_unlock(&vma->obj->ptes[p], v);
            break;
        }
        n++;
    }
    return n;
}

static void unlock_lattice(struct vmk_object *o, const struct ra_plan *plan, uint32_t from,
                           uint32_t to)
{
    for (uint32_t i = from; i < to; i++)
        pte_unlock(&o->ptes[lattice(plan, i)], 0);
}

/* Drop lattice pages [from, to) (frames fr[from..]) back to never read. */
static void drop_lattice(struct vmk_system *sys, struct vmk_object *o, const struct ra_plan *plan,
                         uint32_t from, uint32_t to, const uint32_t *fr)
{
    for (uint32_t i = from; i < to; i++)
        object_punch(o, lattice(plan, i), 1);
    frames_free(&sys->frames, fr + from, to - from);
    unlock_lattice(o, plan, from, to);
}

/* Read the n pages of the lattice into buf, one request each (the plan's
 * prefetch has usually put them in the kernel's page cache), then map them
 * one by one.  The pages read (fewer at the end of a file that shrank: its
 * size is then seen again; -ENXIO if the faulting page is past it), or
 * -errno. */
static int read_lattice(struct vmk_system *sys, struct vmk_vma *vma, const struct ra_plan *plan,
                        uint32_t n, char *buf, int write)
{
    struct vmk_object *o = vma->obj;
    uint32_t i = 0;
    for (; i < n; i++) {
        ssize_t got = fileio_read_buf(sys, o, lattice(plan, i), buf + ((size_t)i << PAGE_SHIFT_), 1);
        if (got < 0)
            return -EIO;
        if (got == 0) {
            uint64_t size;
            fileio_size(o, true, &size);
            if (i == 0)
                return -ENXIO;
            break;
        }
    }
    prefetch(sys, vma, plan);
    for (uint32_t k = 0; k < i; k++) {
        int r = mmu_copy(sys->uffd, vma_addr(vma, lattice(plan, k)), buf + ((size_t)k << PAGE_SHIFT_),
                         PAGE_SIZE_, !(write && k == 0));
        if (r < 0)
            return r;
    }
    return (int)i;
}

/*
 * Strided: pg (locked) and every stride-th page from it, up or down,
 * plan->n at most, as far as they are never read and free.  Returns the
 * pages brought in, or -errno with every page unlocked and nothing left in
 * the frame-store.
 */
static int fault_strided(struct vmk_system *sys, struct vmk_vma *vma, const struct ra_plan *plan,
                         int write)
{
    struct vmk_object *o = vma->obj;
    uint32_t fr[FA_MAX];
    uint32_t n = lock_lattice(vma, plan);
    int got = frames_get(sys, 1, n, fr);
    unlock_lattice(o, plan, got < 0 ? 0 : (uint32_t)got, n);
    if (got < 0)
        return got;
    n = (uint32_t)got;
    int bi;
    char *buf = bounce_get(sys, &bi);
    int r = read_lattice(sys, vma, plan, n, buf, write);
    bounce_put(sys, bi);
    if (r < 0) {
        if (r != -ENXIO)
            ctr_add(&sys->ctr, C_IO_ERRORS, 1);
        drop_lattice(sys, o, plan, 0, n, fr);
        return r == -ENXIO ? r : -EIO;
    }
    drop_lattice(sys, o, plan, (uint32_t)r, n, fr);
    for (uint32_t i = 0; i < (uint32_t)r; i++) {
        uint64_t v = PTE_RES | PTE_MAPPED | PTE_REF | (write && i == 0 ? PTE_DIRTY : 0);
        fault_publish(sys, o, lattice(plan, i), 1, &fr[i], &v);
    }
    return r;
}

/*
 * Fault on a never-read page of a file object (entry locked, 0).  The
 * readahead of its stream (readahead.c) says which pages come with it: a
 * run up or down, every stride-th page, or just this one.
 */
int file_fault(struct vmk_system *sys, struct vmk_vma *vma, size_t pg, int write)
{
    struct vmk_object *o = vma->obj;
    uint64_t size = 0, fpage = o->file_pgoff + pg;
    int r = fileio_size(o, false, &size);
    if (r == 0 && (fpage << PAGE_SHIFT_) >= size)     /* past the size last seen: */
        r = fileio_size(o, true, &size);              /* has the file grown? */
    if (r == 0 && (fpage << PAGE_SHIFT_) >= size)
        r = -ENXIO;                                   /* beyond the end: SIGBUS */
    if (r < 0) {
        pte_unlock(&o->ptes[pg], 0);
        return r;
    }
    struct ra_plan plan;
    ra_plan(sys, o, pg, ((size + PAGE_SIZE_ - 1) >> PAGE_SHIFT_) - fpage, &plan);
    int got = plan.stride == 1    ? fault_run(sys, vma, &plan, write)
              : plan.stride == -1 ? fault_run_down(sys, vma, &plan, write)
                                  : fault_strided(sys, vma, &plan, write);
    if (got < 0)
        return got;
    ra_record(sys, o, &plan, (uint32_t)got);
    fault_count(sys, o->owner, C_FAULTS_MAJOR, 1);
    fault_count(sys, o->owner, C_FILE_READ, got);
    return TR_MAJOR;
}

/* Write n pages (object pages pg..) from buf to the file, never past its end. */
int file_writeback(struct vmk_system *sys, struct vmk_object *o, uint32_t pg, const void *buf,
                   uint32_t n)
{
    uint64_t size;
    int r = fileio_size(o, true, &size);          /* never extend the file */
    if (r < 0)
        return r;
    uint64_t off = (o->file_pgoff + pg) << PAGE_SHIFT_;
    uint64_t len = (uint64_t)n << PAGE_SHIFT_;
    if (off >= size)
        return 0;                                  /* truncated away: nothing to keep */
    if (off + len > size)
        len = size - off;
    r = io_pwrite_via(file_via(sys, IO_FILE_WRITE), o->file_fd, buf, len, off);
    if (r < 0)
        return r == -ENOSPC || r == -EDQUOT ? -ENOSPC : -EIO;
    ctr_add(&sys->ctr, C_FILE_WRITTEN, n);
    ctr_add(&o->owner->ctr, C_FILE_WRITTEN, n);
    return 0;
}

/* Write-protect object pages [pg, pg+n) in every VMA that maps them. */
static void object_writeprotect(struct vmk_object *o, size_t pg, size_t n)
{
    for (int i = 0; i < o->nvmas; i++) {
        struct vmk_vma *v = o->vmas[i];
        size_t vfirst = v->pgoff, vend = v->pgoff + ((v->end - v->start) >> PAGE_SHIFT_);
        size_t lo = pg > vfirst ? pg : vfirst, hi = pg + n < vend ? pg + n : vend;
        if (lo < hi)
            mmu_writeprotect(o->sys->uffd, vma_addr(v, lo), (hi - lo) << PAGE_SHIFT_, true);
    }
}

/* Write back one run of locked dirty pages; they stay locked.  0 or -errno. */
static int sync_run(struct vmk_object *o, size_t pg, uint32_t n, uint64_t *vals)
{
    struct vmk_system *sys = o->sys;
    object_writeprotect(o, pg, n);
    int bi;
    char *buf = bounce_get(sys, &bi);
    int r = store_read(sys->store_fd, o->base + ((uint64_t)pg << PAGE_SHIFT_), buf,
                       (size_t)n << PAGE_SHIFT_);
    if (r == 0)
        r = file_writeback(sys, o, (uint32_t)pg, buf, n);
    bounce_put(sys, bi);
    if (r == 0)
        for (uint32_t i = 0; i < n; i++)
            vals[i] &= ~PTE_DIRTY;
    return r;
}

/*
 * Write back the dirty pages of a shared file object in [first, first+n) and
 * wait for the device.  The caller holds the maplock (shared or exclusive).
 * Pages whose writeback fails stay dirty.  0 or the first -errno.
 */
int file_sync_range(struct vmk_object *o, size_t first, size_t n, bool durable)
{
    if (!o->file_shared)
        return 0;
    int err = 0;
    uint64_t vals[FA_MAX];
    for (size_t pg = first; pg < first + n;) {
        if (!(pte_read(&o->ptes[pg]) & PTE_DIRTY)) {
            pg++;
            continue;
        }
        uint32_t k = 0;
        while (k < FA_MAX && pg + k < first + n) {
            uint64_t v = pte_lock(&o->ptes[pg + k]);
            if (!(v & PTE_RES) || !(v & PTE_DIRTY)) {
                pte_unlock(&o->ptes[pg + k], v);
                break;
            }
            vals[k++] = v;
        }
        if (k == 0) {
            pg++;
            continue;
        }
        int r = sync_run(o, pg, k, vals);
        if (r < 0 && !err)
            err = r;
        fault_unlock_run(o, pg, k, vals);
        pg += k;
    }
    if (durable && fdatasync(o->file_fd) < 0 && !err)
        err = -EIO;
    if (err) {
        ctr_add(&o->sys->ctr, C_IO_ERRORS, 1);
        report_once(&o->sys->said_io, "vmkit: writeback to a mapped file failed; the pages stay dirty");
    }
    return err;
}

/* Forget a shared file object (maplock exclusive). */
void file_object_unlink(struct vmk_object *o)
{
    filewatch_del(o);
    struct vmk_object **pp = &o->sys->files;
    while (*pp && *pp != o)
        pp = &(*pp)->next_file;
    if (*pp)
        *pp = o->next_file;
}

static int check_file(int fd, int prot, int flags, struct stat *st, bool *writable)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fstat(fd, st) < 0)
        return -EBADF;
    if (!S_ISREG(st->st_mode))
        return -ENODEV;
    int acc = fl & O_ACCMODE;
    if (acc == O_WRONLY)
        return -EACCES;
    *writable = acc == O_RDWR;
    if (flags == VMK_MAP_SHARED && (prot & VMK_PROT_WRITE) && !*writable)
        return -EACCES;
    return 0;
}

/* The shared object of this file, made if need be (maplock exclusive). */
static struct vmk_object *shared_object(struct vmk_space *as, int fd, const struct stat *st,
                                        bool writable, int *err)
{
    struct vmk_system *sys = as->sys;
    for (struct vmk_object *o = sys->files; o; o = o->next_file) {
        if (o->dev != st->st_dev || o->ino != st->st_ino)
            continue;
        if (writable && !o->file_writable) {      /* upgrade to a writable descriptor */
            int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
            if (nfd < 0) {
                *err = -errno;
                return NULL;
            }
            close(o->file_fd);
            o->file_fd = nfd;
            o->file_writable = true;
            ra_attach(o);          /* readahead state follows the descriptor; none if it fails */
        }
        return o;
    }
    /* The page cache of a shared file outlives any one space that maps it:
     * its counters are charged to the system's own file space. */
    struct vmk_object *o = object_create(sys, &sys->file_space, FILE_SPAN_PAGES);
    if (!o) {
        *err = -ENOMEM;
        return NULL;
    }
    o->file_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    o->file_shared = true;
    o->file_writable = writable;
    *err = o->file_fd < 0 ? -errno : fileio_open(o);
    if (*err == 0)
        *err = ra_attach(o);
    if (*err < 0) {
        o->nvmas = 1;
        object_del_vma(o, NULL);
        return NULL;
    }
    o->file_shared = true;
    o->file_writable = writable;
    o->dev = st->st_dev;
    o->ino = st->st_ino;
    o->next_file = sys->files;
    sys->files = o;
    filewatch_add(o);                  /* truncation; mapped all the same if it fails */
    return o;
}

VMK_API void *vmk_map_file(vmk_space *as, int fd, off_t offset, size_t len, int prot, int flags)
{
    if (!as || len == 0 || len > ((size_t)FILE_SPAN_PAGES << PAGE_SHIFT_) || offset < 0 ||
        (offset & (PAGE_SIZE_ - 1)) || (prot & ~(VMK_PROT_READ | VMK_PROT_WRITE)) ||
        (flags != VMK_MAP_SHARED && flags != VMK_MAP_PRIVATE)) {
        errno = EINVAL;
        return NULL;
    }
    size_t npages = (len + PAGE_SIZE_ - 1) >> PAGE_SHIFT_;
    uint64_t fpage = (uint64_t)offset >> PAGE_SHIFT_;
    if (flags == VMK_MAP_SHARED && fpage + npages > FILE_SPAN_PAGES) {
        errno = EINVAL;
        return NULL;
    }
    struct stat st;
    bool writable;
    int err = check_file(fd, prot, flags, &st, &writable);
    if (err < 0) {
        errno = -err;
        return NULL;
    }
    struct vmk_system *sys = as->sys;
    struct vmk_vma *v = calloc(1, sizeof *v);
    if (!v) {
        errno = ENOMEM;
        return NULL;
    }
    rw_write_lock(&sys->maplock);
    fileasync_start(sys);              /* readers; readahead via the page cache if none */
    struct vmk_object *o;
    size_t pgoff = 0;
    if (flags == VMK_MAP_SHARED) {
        o = shared_object(as, fd, &st, writable, &err);
        pgoff = fpage;
    } else {
        o = object_create(sys, as, npages);
        err = -ENOMEM;
        if (o) {
            o->file_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
            o->file_pgoff = fpage;
            o->file_writable = writable;
            err = o->file_fd < 0 ? -errno : fileio_open(o);
            if (err == 0)
                err = ra_attach(o);
        }
    }
    void *p = NULL;
    bool once = o && o->file_fd >= 0 && err == 0 && fileonce_wanted(sys, o, prot);
    if (once)                          /* read-only and alone on its file: fileonce.c */
        p = fileonce_map(sys, npages << PAGE_SHIFT_, &err);
    else if (o && o->file_fd >= 0 && err == 0)
        p = mmu_map(sys->uffd, sys->store_fd, o->base + ((uint64_t)pgoff << PAGE_SHIFT_),
                    npages << PAGE_SHIFT_, prot, &err);
    if (p) {
        *v = (struct vmk_vma){ .start = (uintptr_t)p, .end = (uintptr_t)p + (npages << PAGE_SHIFT_),
                               .prot = prot, .space = as, .obj = o, .pgoff = pgoff };
        err = vma_insert(sys, v);
        if (err < 0) {
            mmu_unmap(p, npages << PAGE_SHIFT_);
            p = NULL;
        } else {
            o->once = once;
        }
    }
    if (!p) {
        if (o && o->nvmas == 0) {
            o->nvmas = 1;                  /* let object_del_vma free it */
            object_del_vma(o, NULL);
        }
        rw_write_unlock(&sys->maplock);
        free(v);
        errno = err < 0 ? -err : ENOMEM;
        return NULL;
    }
    rw_write_unlock(&sys->maplock);
    return p;
}

VMK_API int vmk_sync(vmk_space *as, void *addr, size_t len)
{
    if (!as || !addr || len == 0 || ((uintptr_t)addr & (PAGE_SIZE_ - 1)) ||
        (uintptr_t)addr + len < (uintptr_t)addr)
        return -EINVAL;
    struct vmk_system *sys = as->sys;
    uintptr_t lo = (uintptr_t)addr, hi = lo + ((len + PAGE_SIZE_ - 1) & ~(size_t)(PAGE_SIZE_ - 1));
    rw_read_lock(&sys->maplock);
    if (!vma_range_covered(sys, as, lo, hi)) {
        rw_read_unlock(&sys->maplock);
        return -EINVAL;
    }
    int err = 0;
    for (size_t i = vma_index_of(sys, lo); i < sys->nvmas && sys->vmas[i]->start < hi; i++) {
        struct vmk_vma *v = sys->vmas[i];
        uintptr_t a = v->start > lo ? v->start : lo, b = v->end < hi ? v->end : hi;
        int r = file_sync_range(v->obj, vma_page(v, a), (b - a) >> PAGE_SHIFT_, true);
        if (r < 0 && !err)
            err = r;
    }
    rw_read_unlock(&sys->maplock);
    return err;
}

/* The bytes of page pg of private file object o as the file has them (zeros
 * past the end in the last page), for a copy-on-write break.  -ENXIO past
 * the end of the file (SIGBUS, as the kernel), -EIO. */
int file_page_read(struct vmk_system *sys, struct vmk_object *o, size_t pg, void *buf)
{
    uint64_t size, fpage = o->file_pgoff + pg;
    int r = fileio_size(o, true, &size);
    if (r == 0 && (fpage << PAGE_SHIFT_) >= size)
        r = -ENXIO;
    if (r < 0)
        return r;
    ssize_t got = fileio_read_buf(sys, o, pg, buf, 1);
    return got < 0 ? -EIO : got == 0 ? -ENXIO : 0;
}

/* Close a file object's descriptors (object_free). */
void file_object_close(struct vmk_object *o)
{
    fileio_close(o);
}
