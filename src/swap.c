/*
 * swap.c - swap slots: next-fit allocation of runs, reference counts, growth.
 *
 * Allocation: from the cursor, find the first free slot, then extend the run
 * while the next slots are free, up to n.  The cursor moves past the run, so
 * consecutive batches of evictions land in consecutive slots (sequential
 * writes; read-ahead can later take them back in one request).  When no slot
 * is free before the end, a growable device doubles (at least 16 MiB) with
 * fallocate, so ENOSPC is met at growth time and never as a failed write.
 */
#include "internal.h"
#include "inject.h"
#include "swapdev.h"
#include <stdlib.h>
#include <sys/mman.h>

static int swap_grow_locked(struct swapdev *sw)
{
    if (!sw->growable || sw->nslots >= sw->maxslots)
        return -ENOSPC;
    uint64_t add = sw->nslots < 4096 ? 4096 : sw->nslots;
    if (sw->nslots + add > sw->maxslots)
        add = sw->maxslots - sw->nslots;
    int r = swapdev_extend(sw->fd, sw->nslots, add);
    if (r < 0)
        return r;
    sw->nslots += add;
    return 0;
}

/* First free slot at or after `from`, below `to`; `to` if none. */
static uint64_t find_free(struct swapdev *sw, uint64_t from, uint64_t to)
{
    while (from < to && sw->refs[from] != 0)
        from++;
    return from;
}

int swap_alloc(struct swapdev *sw, uint32_t n, uint64_t *first)
{
    mutex_lock(&sw->lock);
    if (sw->used == sw->nslots && swap_grow_locked(sw) < 0) {
        mutex_unlock(&sw->lock);
        return -ENOSPC;
    }
    uint64_t s = find_free(sw, sw->cursor, sw->nslots);
    if (s == sw->nslots) {
        /* The tail is exhausted.  A device more than 3/4 full grows (runs stay
         * long); otherwise the hand wraps and reuses freed slots. */
        if (sw->used * 4 >= sw->nslots * 3 && swap_grow_locked(sw) == 0)
            s = find_free(sw, s, sw->nslots);
        else
            s = find_free(sw, 0, sw->nslots);
    }
    if (s == sw->nslots) {
        mutex_unlock(&sw->lock);
        return -ENOSPC;
    }
    uint32_t k = 0;
    while (k < n && s + k < sw->nslots && sw->refs[s + k] == 0) {
        sw->refs[s + k] = 1;
        k++;
    }
    sw->used += k;
    sw->cursor = s + k;
    mutex_unlock(&sw->lock);
    *first = s;
    return (int)k;
}

void swap_ref(struct swapdev *sw, uint64_t slot)
{
    mutex_lock(&sw->lock);
    sw->refs[slot]++;
    mutex_unlock(&sw->lock);
}

void swap_put(struct swapdev *sw, uint64_t first, uint32_t n)
{
    mutex_lock(&sw->lock);
    for (uint64_t s = first; s < first + n; s++) {
        if (sw->refs[s] > 0 && --sw->refs[s] == 0)
            sw->used--;
    }
    mutex_unlock(&sw->lock);
}

unsigned swap_refcount(struct swapdev *sw, uint64_t slot)
{
    mutex_lock(&sw->lock);
    unsigned r = slot < sw->nslots ? sw->refs[slot] : 0;
    mutex_unlock(&sw->lock);
    return r;
}

void swap_usage(struct swapdev *sw, uint64_t *used, uint64_t *total)
{
    mutex_lock(&sw->lock);
    *used = sw->used;
    *total = sw->nslots;
    mutex_unlock(&sw->lock);
}

static struct io_via via(struct swapdev *sw, enum io_chan chan, bool direct)
{
    return (struct io_via){ .faults = &sw->inject, .chan = chan, .align = direct ? sw->align : 1 };
}

int swap_write(struct swapdev *sw, uint64_t slot, const void *buf, uint32_t npages)
{
    return swapdev_pwrite(via(sw, IO_SWAP_WRITE, sw->direct), sw->fd, buf,
                          (size_t)npages << PAGE_SHIFT_, slot << PAGE_SHIFT_);
}

int swap_read(struct swapdev *sw, uint64_t slot, void *buf, uint32_t npages)
{
    return swapdev_pread(via(sw, IO_SWAP_READ, sw->direct), sw->fd, buf,
                         (size_t)npages << PAGE_SHIFT_, slot << PAGE_SHIFT_);
}

int swap_read_stream(struct swapdev *sw, uint64_t slot, void *buf, uint32_t npages)
{
    if (sw->fd_cached < 0)
        return swap_read(sw, slot, buf, npages);
    size_t len = (size_t)npages << PAGE_SHIFT_;
    int r = swapdev_pread(via(sw, IO_SWAP_READ, false), sw->fd_cached, buf, len, slot << PAGE_SHIFT_);
    swapdev_drop_cached(sw->fd_cached, slot << PAGE_SHIFT_, len);
    return r;
}

void swap_prefetch(struct swapdev *sw, uint64_t slot, uint32_t npages)
{
    if (sw->fd_cached >= 0)
        swapdev_readahead(sw->fd_cached, slot << PAGE_SHIFT_, (size_t)npages << PAGE_SHIFT_);
}

/* Write a page to slot 0 and read it back: an unusable device fails at open,
 * not at the first eviction. */
static int swap_probe(struct swapdev *sw)
{
    char *buf = mmap(NULL, 2 * PAGE_SIZE_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED)
        return -ENOMEM;
    memset(buf, 0xa5, PAGE_SIZE_);
    struct io_via none = { .faults = NULL, .chan = IO_SWAP_WRITE, .align = 1 };
    int r = swapdev_pwrite(none, sw->fd, buf, PAGE_SIZE_, 0);
    if (r == 0)
        r = swapdev_pread(none, sw->fd, buf + PAGE_SIZE_, PAGE_SIZE_, 0);
    if (r == 0 && memcmp(buf, buf + PAGE_SIZE_, PAGE_SIZE_) != 0)
        r = -EIO;
    munmap(buf, 2 * PAGE_SIZE_);
    return r;
}

int swap_open(struct swapdev *sw, const char *path, size_t size, int verbose)
{
    uint64_t devslots = 0;
    int r = inject_parse(&sw->inject, getenv("VMK_INJECT"));     /* tests: fault plans */
    if (r == 0)
        r = swapdev_open(path, &sw->fd, &sw->direct, &sw->is_tmp, &devslots, verbose);
    if (r < 0)
        return r;
    sw->fd_cached = sw->direct ? swapdev_open_cached(sw->fd) : -1;
    sw->align = swapdev_dio_align(sw->fd, sw->direct);
    sw->maxslots = PTE_MAX_SLOTS;
    if (devslots) {                     /* a block device: its size is the limit */
        sw->maxslots = devslots;
        sw->growable = false;
        sw->nslots = size ? size >> PAGE_SHIFT_ : devslots;
        if (sw->nslots > devslots)
            sw->nslots = devslots;
    } else if (size) {
        sw->growable = false;
        sw->nslots = size >> PAGE_SHIFT_;
        if (sw->nslots == 0 || sw->nslots > sw->maxslots) {
            swapdev_close(sw->fd);
            if (sw->fd_cached >= 0)
                close(sw->fd_cached);
            return -EINVAL;
        }
        r = swapdev_extend(sw->fd, 0, sw->nslots);
        if (r < 0) {
            if (sw->fd_cached >= 0)
                close(sw->fd_cached);
            swapdev_close(sw->fd);
            return r;
        }
        sw->maxslots = sw->nslots;
    } else {
        sw->growable = true;
        sw->nslots = 0;
    }
    r = sw->growable ? swap_grow_locked(sw) : 0;
    if (r == 0)
        r = swap_probe(sw);
    if (r < 0) {
        if (sw->fd_cached >= 0)
            close(sw->fd_cached);
        swapdev_close(sw->fd);
        return r;
    }
    sw->refs = mmap(NULL, sw->maxslots * sizeof(uint16_t), PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (sw->refs == MAP_FAILED) {
        if (sw->fd_cached >= 0)
            close(sw->fd_cached);
        swapdev_close(sw->fd);
        return -ENOMEM;
    }
    return 0;
}

void swap_close(struct swapdev *sw)
{
    if (sw->fd_cached >= 0)
        close(sw->fd_cached);
    munmap(sw->refs, sw->maxslots * sizeof(uint16_t));
    swapdev_close(sw->fd);
}
