/*
 * io.c - whole-buffer positional I/O (the frame-store, the swap device and
 * mapped files), and the fault plans of io.h.
 */
#include "io.h"
#include <errno.h>
#include <time.h>
#include <unistd.h>

#define NO_CAP ((size_t)-1)

/* Read up to len bytes in calls of at most cap; stops early only at the end
 * of the file.  The count, or -errno. */
static ssize_t pread_loop(int fd, char *p, size_t len, uint64_t off, size_t cap)
{
    size_t done = 0;
    while (done < len) {
        size_t want = len - done < cap ? len - done : cap;
        ssize_t k = pread(fd, p + done, want, (off_t)(off + done));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        if (k == 0)
            break;
        done += (size_t)k;
    }
    return (ssize_t)done;
}

static int pwrite_loop(int fd, const char *p, size_t len, uint64_t off, size_t cap)
{
    while (len > 0) {
        ssize_t k = pwrite(fd, p, len < cap ? len : cap, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return k < 0 ? -errno : -EIO;
        p += k, len -= (size_t)k, off += (uint64_t)k;
    }
    return 0;
}

int io_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
    ssize_t k = pread_loop(fd, buf, len, off, NO_CAP);
    return k < 0 ? (int)k : (size_t)k < len ? -EIO : 0;
}

int io_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
    return pwrite_loop(fd, buf, len, off, NO_CAP);
}

int io_write_full(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t k = write(fd, p, len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return k < 0 ? -errno : -EIO;
        p += k, len -= (size_t)k;
    }
    return 0;
}

void io_plan_set(struct io_plan *p, int64_t after, int64_t every, int64_t count, uint32_t arg)
{
    atomic_store(&p->armed, 0);
    atomic_store(&p->after, after);
    atomic_store(&p->every, every > 0 ? every : 1);
    atomic_store(&p->left, count);
    atomic_store(&p->arg, arg);
    atomic_store(&p->seen, 0);
    atomic_store(&p->armed, after > 0 && count != 0);
}

/* Count one request against the plan; true when the plan hits it. */
static int plan_hit(struct io_plan *p)
{
    if (!atomic_load(&p->armed))
        return 0;
    int64_t i = atomic_fetch_add(&p->seen, 1) + 1;
    int64_t after = atomic_load(&p->after), every = atomic_load(&p->every);
    if (i < after || (i - after) % every != 0)
        return 0;
    int64_t left = atomic_load(&p->left);
    while (left != 0) {
        if (left < 0 || atomic_compare_exchange_weak(&p->left, &left, left - 1)) {
            atomic_fetch_add(&p->hits, 1);
            return 1;
        }
    }
    return 0;
}

static void sleep_us(uint32_t us)
{
    struct timespec t = { .tv_sec = us / 1000000u, .tv_nsec = (long)(us % 1000000u) * 1000 };
    while (nanosleep(&t, &t) < 0 && errno == EINTR)
        ;
}

/* The largest transfer per call a SHORT plan allows: arg rounded down to the
 * alignment, at least one unit. */
static size_t short_cap(uint32_t arg, uint32_t align)
{
    size_t a = align ? align : 1;
    size_t cap = (size_t)arg / a * a;
    return cap ? cap : a;
}

/* Apply the plans of via's channel to a request of len bytes: sleep, fail
 * (-EIO/-ENOSPC), or set *cap.  0 when the request goes ahead. */
static int plans_apply(struct io_via via, size_t len, size_t *cap)
{
    *cap = NO_CAP;
    if (!via.faults)
        return 0;
    struct io_plan *pl = via.faults->plan[via.chan];
    int saved = errno;
    if (plan_hit(&pl[IO_DELAY]))
        sleep_us(atomic_load(&pl[IO_DELAY].arg));
    errno = saved;
    if (plan_hit(&pl[IO_EIO]))
        return -EIO;
    if (plan_hit(&pl[IO_ENOSPC]))
        return -ENOSPC;
    size_t c = short_cap(atomic_load(&pl[IO_SHORT].arg), via.align);
    if (len > c && plan_hit(&pl[IO_SHORT]))
        *cap = c;
    return 0;
}

int io_pread_via(struct io_via via, int fd, void *buf, size_t len, uint64_t off)
{
    size_t cap;
    int r = plans_apply(via, len, &cap);
    if (r < 0)
        return r;
    ssize_t k = pread_loop(fd, buf, len, off, cap);
    return k < 0 ? (int)k : (size_t)k < len ? -EIO : 0;
}

int io_pwrite_via(struct io_via via, int fd, const void *buf, size_t len, uint64_t off)
{
    size_t cap;
    int r = plans_apply(via, len, &cap);
    return r < 0 ? r : pwrite_loop(fd, buf, len, off, cap);
}

ssize_t io_pread_upto_via(struct io_via via, int fd, void *buf, size_t len, uint64_t off)
{
    size_t cap;
    int r = plans_apply(via, len, &cap);
    return r < 0 ? r : pread_loop(fd, buf, len, off, cap);
}

int io_via_start(struct io_via via, size_t len, size_t *cap)
{
    return plans_apply(via, len, cap);
}

ssize_t io_pread_upto(int fd, void *buf, size_t len, uint64_t off, size_t cap)
{
    return pread_loop(fd, buf, len, off, cap);
}
