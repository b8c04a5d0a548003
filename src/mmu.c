/*
 * mmu.c - userfaultfd and the kernel's view of vmkit mappings.
 *
 * Every VMA is a MAP_SHARED window on the frame-store memfd, registered for
 * three kinds of userfault, all delivered as SIGBUS to the faulting thread
 * (UFFD_FEATURE_SIGBUS: no handler thread, no cross-CPU wake-up):
 *   MISSING  the page is not in the frame-store (never touched, or evicted);
 *   MINOR    the page is in the frame-store but the MMU does not map it here
 *            (the policy unmapped it to observe the next reference);
 *   WP       a write to a page mapped write-protected (clean in swap cache).
 * UFFDIO_CONTINUE maps frame-store pages into the MMU, a range at a time.
 *
 * The installed kernel headers may be older than the running kernel: the
 * newer constants are defined here.
 */
#include "internal.h"
#include "mmu.h"
#include "thread.h"
#include <fcntl.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/userfaultfd.h>

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef UFFDIO_CONTINUE_MODE_WP
#define UFFDIO_CONTINUE_MODE_WP ((__u64)1 << 1)
#endif
#ifndef UFFD_FEATURE_MINOR_SHMEM
#define UFFD_FEATURE_MINOR_SHMEM (1 << 10)
#endif
#ifndef UFFD_FEATURE_WP_HUGETLBFS_SHMEM
#define UFFD_FEATURE_WP_HUGETLBFS_SHMEM (1 << 12)
#endif

#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE (1ull << 16)
#endif
#ifndef UFFDIO_MOVE
struct uffdio_move { __u64 dst, src, len, mode; __s64 move; };
#define UFFDIO_MOVE _IOWR(UFFDIO, 0x05, struct uffdio_move)
#endif

#define NEEDED_FEATURES (UFFD_FEATURE_SIGBUS | UFFD_FEATURE_MISSING_SHMEM | \
                         UFFD_FEATURE_MINOR_SHMEM | UFFD_FEATURE_WP_HUGETLBFS_SHMEM)

static int uffd_try(uint64_t features, int *fdp)
{
    /* User-mode-only faults need no privilege; root may use either. */
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    if (fd < 0)
        fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return errno == ENOSYS ? -ENOSYS : -errno;
    struct uffdio_api api = { .api = UFFD_API, .features = features };
    if (ioctl(fd, UFFDIO_API, &api) < 0) {
        int e = errno;
        close(fd);
        return e == EINVAL ? -ENOTSUP : -e;
    }
    *fdp = fd;
    return 0;
}

int mmu_uffd_open(int *fdp, bool *move)
{
    /* UFFDIO_MOVE (Linux 6.8) if the kernel has it: a feature the kernel
     * does not know fails the handshake, so ask again without it. */
    *move = uffd_try(NEEDED_FEATURES | UFFD_FEATURE_MOVE, fdp) == 0;
    return *move ? 0 : uffd_try(NEEDED_FEATURES, fdp);
}

static int to_prot(int vprot)
{
    return (vprot & VMK_PROT_READ ? PROT_READ : 0) | (vprot & VMK_PROT_WRITE ? PROT_WRITE : 0);
}

int mmu_register(int uffd, uintptr_t addr, size_t len)
{
    struct uffdio_register reg = {
        .range = { .start = addr, .len = len },
        .mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_MINOR |
                UFFDIO_REGISTER_MODE_WP,
    };
    return ioctl(uffd, UFFDIO_REGISTER, &reg) == 0 ? 0 : -errno;
}

/* Can shmem get transparent huge pages without asking (madvise)?  Then
 * every window must say no: vmkit manages 4 KiB pages.  Read once; a
 * mode vmkit cannot read counts as yes. */
static bool shmem_thp_unasked(void)
{
    static _Atomic int cached;             /* 0 unknown, 1 no, 2 yes */
    int c = atomic_load_explicit(&cached, memory_order_relaxed);
    if (c)
        return c == 2;
    char buf[128] = "";
    int fd = open("/sys/kernel/mm/transparent_hugepage/shmem_enabled", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof buf - 1);
        buf[n > 0 ? n : 0] = 0;
        close(fd);
    }
    c = strstr(buf, "[never]") || strstr(buf, "[deny]") || strstr(buf, "[advise]") ? 1 : 2;
    atomic_store_explicit(&cached, c, memory_order_relaxed);
    return c == 2;
}

/* mmap at addr (anywhere if 0) and the advice every vmkit mapping gets. */
static void *map_window(uintptr_t addr, int store_fd, uint64_t off, size_t len, int prot)
{
    void *p = mmap((void *)addr, len, to_prot(prot),
                   MAP_SHARED | MAP_NORESERVE | (addr ? MAP_FIXED : 0), store_fd, (off_t)off);
    if (p == MAP_FAILED)
        return NULL;
    if (shmem_thp_unasked())                /* one system call less per COW break */
        madvise(p, len, MADV_NOHUGEPAGE);
    /* A child of fork(2) would see these as plain shared memory: wrong data
     * for pages in swap, and writes that reach the parent.  Keep them out of
     * children (an access there is a clean SIGSEGV). */
    madvise(p, len, MADV_DONTFORK);
    return p;
}

void *mmu_map(int uffd, int store_fd, uint64_t off, size_t len, int prot, int *err)
{
    void *p = map_window(0, store_fd, off, len, prot);
    if (!p) {
        *err = -errno;
        return NULL;
    }
    int r = mmu_register(uffd, (uintptr_t)p, len);
    if (r < 0) {
        *err = r;
        munmap(p, len);
        return NULL;
    }
    return p;
}

int mmu_remap(int uffd, int store_fd, uintptr_t addr, uint64_t off, size_t len, int prot, bool reg)
{
    if (!map_window(addr, store_fd, off, len, prot))
        return -errno;
    return reg ? mmu_register(uffd, addr, len) : 0;
}

int mmu_guard(int store_fd, uintptr_t addr, uint64_t off, size_t len)
{
    return map_window(addr, store_fd, off, len, VMK_PROT_NONE) ? 0 : -errno;
}

int mmu_open(int uffd, uintptr_t addr, size_t len, int prot)
{
    int r = mmu_register(uffd, addr, len);
    return r < 0 ? r : mmu_protect((void *)addr, len, prot);
}

int mmu_unmap(void *addr, size_t len)
{
    return munmap(addr, len) == 0 ? 0 : -errno;
}

int mmu_protect(void *addr, size_t len, int prot)
{
    return mprotect(addr, len, to_prot(prot)) == 0 ? 0 : -errno;
}

int mmu_continue(int uffd, uintptr_t addr, size_t len, bool wp)
{
    uintptr_t end = addr + len;
    while (addr < end) {
        struct uffdio_continue c = {
            .range = { .start = addr, .len = end - addr },
            .mode = wp ? UFFDIO_CONTINUE_MODE_WP : 0,
        };
        if (ioctl(uffd, UFFDIO_CONTINUE, &c) == 0)
            return 0;
        if (errno == EAGAIN && c.mapped > 0) {   /* partial: stopped at a mapped page */
            addr += (uintptr_t)c.mapped;
            continue;
        }
        if (errno == EEXIST) {                    /* this page is mapped already */
            addr += PAGE_SIZE_;
            continue;
        }
        if (errno == EAGAIN || errno == EINTR)
            continue;
        return -errno;
    }
    return 0;
}

int mmu_copy(int uffd, uintptr_t addr, const void *src, size_t len, bool wp)
{
    uintptr_t end = addr + len;
    while (addr < end) {
        struct uffdio_copy c = {
            .dst = addr,
            .src = (uintptr_t)src,
            .len = end - addr,
            .mode = wp ? UFFDIO_COPY_MODE_WP : 0,
        };
        if (ioctl(uffd, UFFDIO_COPY, &c) == 0)
            return 0;
        if ((errno == EAGAIN || errno == ENOENT || errno == EINTR) && c.copy > 0) {
            addr += (uintptr_t)c.copy;            /* partial: go on from there */
            src = (const char *)src + c.copy;
            continue;
        }
        if (errno == EAGAIN || errno == EINTR)
            continue;
        return -errno;
    }
    return 0;
}

int mmu_writeprotect(int uffd, uintptr_t addr, size_t len, bool wp)
{
    struct uffdio_writeprotect w = {
        .range = { .start = addr, .len = len },
        .mode = wp ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
    };
    for (;;) {
        if (ioctl(uffd, UFFDIO_WRITEPROTECT, &w) == 0)
            return 0;
        if (errno != EAGAIN && errno != EINTR)
            return -errno;
    }
}

/*
 * Write-protecting a fork's worth of memory is one change_protection walk
 * over every page-table entry of it: ~25 ns an entry here, 14 ms for 2 GiB,
 * the whole cost of a fork.  The kernel takes the mmap lock shared for it,
 * so two threads can walk disjoint parts at once.  Past WP_SPLIT bytes (and
 * with a second CPU) the ranges are cut into chunks of WP_CHUNK bytes at
 * aligned boundaries (no page-table page walked by both) and a helper
 * thread and the caller take chunks from a shared counter until none is
 * left: when the other CPU is busy and the helper starts late, the caller
 * simply does more of them, so it is never slower than one thread.
 */
#define WP_SPLIT ((size_t)64 << 20)
#define WP_CHUNK ((size_t)16 << 20)

struct wp_job {
    int uffd;
    struct mmu_range *chunk;
    size_t n;
    _Atomic size_t next;
    _Atomic int err;
};

static void wp_take(struct wp_job *j)
{
    size_t k;
    while ((k = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed)) < j->n) {
        int e = mmu_writeprotect(j->uffd, j->chunk[k].addr, j->chunk[k].len, true);
        int none = 0;
        if (e < 0)
            atomic_compare_exchange_strong(&j->err, &none, e);
    }
}

static void *wp_worker(void *arg)
{
    wp_take(arg);
    return NULL;
}

int mmu_writeprotect_all(int uffd, const struct mmu_range *r, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += r[i].len;
    static _Atomic long ncpu;
    if (!atomic_load_explicit(&ncpu, memory_order_relaxed))
        atomic_store_explicit(&ncpu, sysconf(_SC_NPROCESSORS_ONLN), memory_order_relaxed);
    struct wp_job j = { .uffd = uffd };
    if (total >= WP_SPLIT && atomic_load_explicit(&ncpu, memory_order_relaxed) >= 2)
        j.chunk = malloc((total / WP_CHUNK + 2 * n) * sizeof *j.chunk);
    if (!j.chunk) {
        int err = 0;
        for (size_t i = 0; i < n; i++) {
            int e = mmu_writeprotect(uffd, r[i].addr, r[i].len, true);
            if (e < 0 && !err)
                err = e;
        }
        return err;
    }
    for (size_t i = 0; i < n; i++)
        for (uintptr_t a = r[i].addr, end = r[i].addr + r[i].len; a < end;) {
            uintptr_t b = (a & ~(uintptr_t)(WP_CHUNK - 1)) + WP_CHUNK;
            if (b > end)
                b = end;
            j.chunk[j.n++] = (struct mmu_range){ a, b - a };
            a = b;
        }
    pthread_t t;
    bool helper = thread_start_quiet(&t, wp_worker, &j) == 0;
    wp_take(&j);
    if (helper)
        pthread_join(t, NULL);
    free(j.chunk);
    return atomic_load(&j.err);
}

/*
 * Moving a window's page tables out (a fork's parent, fork.c).  mremap
 * with MREMAP_DONTUNMAP moves the entries of [addr, addr+len) to another
 * range and leaves the window in place - same mapping, same userfaultfd
 * registration - with no entry: the next touch of any page is a MINOR
 * fault, as after the policy unmapped it.  Where source and destination
 * sit at the same offset within 2 MiB the kernel moves whole page-table
 * pages when it may; vmkit's userfaultfd asks for no remap events, so
 * 6.x kernels move entry by entry (to clear their write-protect bits):
 * ~8 ns an entry, against ~25 for UFFDIO_WRITEPROTECT.  The destination is
 * a reservation of len + 4 MiB (so that the offsets can match); all of it
 * is handed back in *scratch / *scratch_len, to be unmapped (reap.c).
 * -EFAULT when the range is not one kernel mapping (pages copied on write
 * since an earlier fork are mapped one run at a time): the caller then
 * write-protects instead.
 */
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#define MOVE_ALIGN ((uintptr_t)2 << 20)

int mmu_move_out(uintptr_t addr, size_t len, void **scratch, size_t *scratch_len)
{
    size_t rlen = len + 2 * MOVE_ALIGN;
    char *res = mmap(NULL, rlen, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (res == MAP_FAILED)
        return -errno;
    uintptr_t dst = (((uintptr_t)res + MOVE_ALIGN - 1) & ~(MOVE_ALIGN - 1)) + (addr & (MOVE_ALIGN - 1));
    void *p = mremap((void *)addr, len, len, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP,
                     (void *)dst);
    if (p == MAP_FAILED) {
        int e = errno;
        munmap(res, rlen);
        return -e;
    }
    *scratch = res, *scratch_len = rlen;
    return 0;
}

void *mmu_map_anon(int uffd, size_t len, int *err)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED) {
        *err = -errno;
        return NULL;
    }
    madvise(p, len, MADV_NOHUGEPAGE);
    madvise(p, len, MADV_DONTFORK);
    struct uffdio_register reg = {
        .range = { .start = (uintptr_t)p, .len = len },
        .mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP,
    };
    if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) {
        *err = -errno;
        munmap(p, len);
        return NULL;
    }
    return p;
}

/* A page the kernel has just populated may still sit in a CPU's LRU batch,
 * with a reference besides its mapping: UFFDIO_MOVE refuses it (EBUSY)
 * until the batch drains.  Tries per call before giving up. */
#define MOVE_TRIES 64

ssize_t mmu_move(int uffd, uintptr_t dst, uintptr_t src, size_t len)
{
    size_t done = 0;
    for (int tries = 0; done < len;) {
        struct uffdio_move m = { .dst = dst + done, .src = src + done, .len = len - done };
        if (ioctl(uffd, UFFDIO_MOVE, &m) == 0)
            return (ssize_t)len;
        int e = errno;
        if (m.move > 0)
            done += (size_t)m.move;
        if ((e == EAGAIN || e == EBUSY || e == EINTR) && ++tries < MOVE_TRIES) {
            if (e == EBUSY)
                sched_yield();
            continue;
        }
        return done ? (ssize_t)done : -e;
    }
    return (ssize_t)done;
}

int mmu_zap(uintptr_t addr, size_t len)
{
    return madvise((void *)addr, len, MADV_DONTNEED) == 0 ? 0 : -errno;
}
