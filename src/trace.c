/*
 * trace.c - the fault trace: records appended under a futex lock into a
 * 64 KiB buffer, written out with write(2) when it fills and at close.
 * Both are async-signal-safe, so the fault handler records directly.
 */
#include "internal.h"
#include "io.h"
#include "trace.h"
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>

#define TRACE_BUF 4096                  /* records per buffer (64 KiB) */

struct trace_rec { uint64_t page; uint32_t event; uint32_t time_us; };

struct trace {
    int fd;
    vmk_mutex lock;
    uint32_t n;                          /* lock */
    uint64_t start_ns;
    int error;                           /* lock: the first write error */
    struct trace_rec buf[TRACE_BUF];     /* lock */
};

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void flush_locked(struct trace *t)
{
    int r = io_write_full(t->fd, t->buf, t->n * sizeof t->buf[0]);
    if (r < 0 && !t->error)
        t->error = r;
    t->n = 0;
}

int trace_open(struct vmk_system *sys, const char *path)
{
    if (sys->trace)
        return -EBUSY;
    struct trace *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (t->fd < 0) {
        int e = -errno;
        free(t);
        return e;
    }
    struct { char magic[8]; uint32_t page_size, flags; } hdr = { "VMKTRC01", PAGE_SIZE_, 0 };
    memcpy(hdr.magic, "VMKTRC01", 8);
    int r = io_write_full(t->fd, &hdr, sizeof hdr);
    if (r < 0) {
        close(t->fd);
        free(t);
        return r;
    }
    t->start_ns = now_ns();
    atomic_store_explicit(&sys->trace, t, memory_order_release);
    return 0;
}

int trace_close(struct vmk_system *sys)
{
    struct trace *t = atomic_exchange(&sys->trace, NULL);
    if (!t)
        return -EINVAL;
    /* Wait out recorders that loaded the pointer before it was cleared. */
    rw_write_lock(&sys->maplock);
    rw_write_unlock(&sys->maplock);
    mutex_lock(&t->lock);
    flush_locked(t);
    int err = t->error;
    mutex_unlock(&t->lock);
    if (close(t->fd) < 0 && !err)
        err = -errno;
    free(t);
    return err;
}

void trace_record(struct vmk_system *sys, uint32_t space_id, uintptr_t addr, enum trace_event ev)
{
    struct trace *t = atomic_load_explicit(&sys->trace, memory_order_acquire);
    if (!t)
        return;
    uint32_t us = (uint32_t)((now_ns() - t->start_ns) / 1000);
    mutex_lock(&t->lock);
    t->buf[t->n++] = (struct trace_rec){ ((uint64_t)space_id << 48) | (addr >> PAGE_SHIFT_), ev, us };
    if (t->n == TRACE_BUF)
        flush_locked(t);
    mutex_unlock(&t->lock);
}

VMK_API int vmk_trace_start(vmk_system *sys, const char *path)
{
    if (!sys || !path || !*path)
        return -EINVAL;
    return trace_open(sys, path);
}

VMK_API int vmk_trace_stop(vmk_system *sys)
{
    if (!sys)
        return -EINVAL;
    return trace_close(sys);
}
