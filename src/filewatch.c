/*
 * filewatch.c - files truncated under their shared mappings.
 *
 * When a mapped file shrinks, the kernel drops its page-cache pages past
 * the new end from every mapping at once: an access there is SIGBUS, and
 * the bytes past the end in the last, partial page read as zeros.  vmkit
 * keeps its own page cache of a shared file (the object's pages in the
 * frame-store) and is not told of the truncation - so it asks inotify.
 * Each shared file object has a watch (IN_MODIFY, which truncate(2) raises,
 * and IN_ATTRIB); a watcher thread, started with the system's first shared
 * file mapping, sleeps in poll(2).  On an event it takes the maplock
 * exclusive (no fault runs meanwhile) and, if the file is now shorter than
 * what the object may cache, unmaps and frees the pages past the end (dirty
 * ones too, as the kernel does) and zeroes the tail of the last page.  The
 * next access past the end faults, finds the page beyond the file, and
 * gets SIGBUS.  Unlike the kernel this happens after the watcher wakes (a
 * few tens of microseconds), not within the truncate call.
 *
 * Private file mappings keep the pages they already read (documented).
 */
#include "internal.h"
#include "thread.h"
#include "store.h"
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

struct filewatch {
    pthread_t thread;
    int ifd;                     /* inotify */
    int efd;                     /* eventfd: stop */
};

/* Pages of o that hold file bytes now (*size: the file's size); -1 on error. */
static int64_t file_end(struct vmk_object *o, uint64_t *size)
{
    struct stat st;
    if (fstat(o->file_fd, &st) < 0)
        return -1;
    *size = (uint64_t)st.st_size;
    uint64_t end = (*size + PAGE_SIZE_ - 1) >> PAGE_SHIFT_;
    return end > o->file_pgoff ? (int64_t)(end - o->file_pgoff) : 0;
}

/* Drop o's pages past the end of its file (maplock exclusive). */
static void truncate_object(struct vmk_object *o)
{
    uint64_t size;
    int64_t e = file_end(o, &size);
    size_t touched = atomic_load(&o->touched_end);
    if (e < 0 || (size_t)e >= touched)
        return;
    size_t end = (size_t)e;
    object_zap(o, end, touched - end);
    object_release_pages(o, end, touched - end);
    atomic_store(&o->touched_end, end);
    size_t tail = size & (PAGE_SIZE_ - 1);
    if (end && tail && (pte_read(&o->ptes[end - 1]) & PTE_RES) && o->once) {
        object_zap(o, end - 1, 1);      /* its own page, write-protected: read again */
        object_release_pages(o, end - 1, 1);
    } else if (end && tail && (pte_read(&o->ptes[end - 1]) & PTE_RES)) {
        static const char zeros[PAGE_SIZE_];
        store_write(o->sys->store_fd, o->base + ((end - 1) << PAGE_SHIFT_) + tail, zeros,
                    PAGE_SIZE_ - tail);
    }
}

/* Did a watched file shrink below what its object may cache?  Every write
 * to the file (vmkit's own writeback too) raises an event, so this looks
 * with the maplock shared and takes it exclusive only to drop pages. */
static bool shrunk(struct vmk_system *sys, const char *buf, ssize_t n)
{
    bool any = false;
    for (const char *p = buf; p < buf + n;) {
        const struct inotify_event *ev = (const struct inotify_event *)p;
        for (struct vmk_object *o = sys->files; o; o = o->next_file) {
            uint64_t size;
            int64_t end = o->watch == ev->wd ? file_end(o, &size) : -1;
            if (end >= 0 && (size_t)end < atomic_load(&o->touched_end))
                any = true;
        }
        p += sizeof *ev + ev->len;
    }
    return any;
}

static void handle_events(struct vmk_system *sys, int ifd)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n = read(ifd, buf, sizeof buf);
    if (n <= 0)
        return;
    rw_read_lock(&sys->maplock);
    bool any = shrunk(sys, buf, n);
    rw_read_unlock(&sys->maplock);
    if (!any)
        return;
    rw_write_lock(&sys->maplock);
    for (struct vmk_object *o = sys->files; o; o = o->next_file)
        truncate_object(o);
    rw_write_unlock(&sys->maplock);
}

static void *watch_main(void *arg)
{
    struct vmk_system *sys = arg;
    struct filewatch *w = sys->filewatch;
    struct pollfd pf[2] = { { .fd = w->ifd, .events = POLLIN }, { .fd = w->efd, .events = POLLIN } };
    for (;;) {
        if (poll(pf, 2, -1) < 0)
            continue;
        if (pf[1].revents)
            return NULL;
        if (pf[0].revents)
            handle_events(sys, w->ifd);
    }
}

static int watch_start(struct vmk_system *sys)
{
    struct filewatch *w = calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (w->ifd < 0 || w->efd < 0) {
        int e = -errno;
        if (w->ifd >= 0)
            close(w->ifd);
        if (w->efd >= 0)
            close(w->efd);
        free(w);
        return e;
    }
    sys->filewatch = w;
    int r = thread_start_quiet(&w->thread, watch_main, sys);
    if (r) {
        close(w->ifd), close(w->efd);
        free(w);
        sys->filewatch = NULL;
        return -r;
    }
    return 0;
}

/* Watch the file of shared object o (maplock exclusive).  0 or -errno; a
 * file inotify cannot watch is mapped all the same (watch -1). */
int filewatch_add(struct vmk_object *o)
{
    struct vmk_system *sys = o->sys;
    o->watch = -1;
    if (!sys->filewatch) {
        int r = watch_start(sys);
        if (r < 0)
            return r;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", o->file_fd);
    o->watch = inotify_add_watch(sys->filewatch->ifd, path, IN_MODIFY | IN_ATTRIB);
    return 0;
}

void filewatch_del(struct vmk_object *o)
{
    if (o->watch >= 0 && o->sys->filewatch)
        inotify_rm_watch(o->sys->filewatch->ifd, o->watch);
    o->watch = -1;
}

void filewatch_stop(struct vmk_system *sys)
{
    struct filewatch *w = sys->filewatch;
    if (!w)
        return;
    uint64_t one = 1;
    if (write(w->efd, &one, sizeof one) < 0)
        return;
    pthread_join(w->thread, NULL);
    close(w->ifd), close(w->efd);
    free(w);
    sys->filewatch = NULL;
}
