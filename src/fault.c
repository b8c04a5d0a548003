/*
 * fault.c - the life of a page fault.
 *
 * A thread touches a page the MMU does not map (or writes a page mapped
 * write-protected).  The kernel finds the VMA registered with userfaultfd in
 * SIGBUS mode and sends SIGBUS to that thread, which runs vmk_sigbus() here
 * and resolves its own fault, on its own CPU (PLATFORM.md: handing faults to
 * a sleeping thread elsewhere costs ~50 us; this costs a few).  Then the
 * handler returns and the instruction runs again, now against a mapped page.
 *
 *   1. Find the system and VMA that hold the address (maplock shared).  None:
 *      not ours, pass the signal to whatever handler was there before.
 *   2. Lock the page's entry (BUSY); if another thread holds it, sleep until
 *      it is done, then look again: the page may be resident by now.
 *   3. By the entry:
 *      never touched  get frames (reclaiming if need be), zero them in the
 *                     frame-store with one fallocate, map them with one
 *                     UFFDIO_CONTINUE.  On sequential access the run grows
 *                     (fault-around, below).
 *      swapped        get frames, read the slot (and the following slots that
 *                     hold the following pages: read-ahead) into a bounce
 *                     buffer, copy into the frame-store, map write-protected:
 *                     the page is clean, its slot stays valid (swap cache).
 *      resident       a minor fault: the policy had unmapped it to see a
 *                     reference, or this is the first write to a clean page.
 *                     Set REF; on a write set DIRTY, drop the swap copy and
 *                     lift write protection; map it again.
 *   4. Unlock the entries (waking sleepers); count; return.
 *
 * Fault-around and read-ahead: the window is the number of resident pages
 * just below the faulting one (up to fault_around), so it starts at 1 and
 * doubles while a thread streams through memory, and stays at 1 for random
 * access.  Extra pages are locked with trylock only, so a fault never waits
 * for a neighbour, and they take frames only if reclaim has them.
 *
 * Errors (no frame, swap full, I/O error): the thread gets SIGBUS from the
 * handler that was installed before vmkit, or the default action.
 */
#include "internal.h"
#include "mmu.h"
#include "store.h"
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static struct sigaction old_sigbus, old_sigsegv;
static _Atomic int handler_installed;

static uint64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

char *bounce_get(struct vmk_system *sys, int *idx)
{
    for (;;) {
        uint32_t busy = atomic_load_explicit(&sys->bounce_busy, memory_order_relaxed);
        for (int i = 0; i < BOUNCE_BUFS; i++) {
            if (busy & (1u << i))
                continue;
            if (atomic_compare_exchange_weak_explicit(&sys->bounce_busy, &busy, busy | (1u << i),
                                                      memory_order_acquire, memory_order_relaxed)) {
                *idx = i;
                return sys->bounce + (size_t)i * FA_MAX * PAGE_SIZE_;
            }
            break;
        }
        sched_yield();
    }
}

void bounce_put(struct vmk_system *sys, int idx)
{
    atomic_fetch_and_explicit(&sys->bounce_busy, ~(1u << idx), memory_order_release);
}

void fault_count(struct vmk_system *sys, struct vmk_space *as, enum vmk_counter k, int64_t n)
{
    ctr_add(&sys->ctr, k, n);
    ctr_add(&as->ctr, k, n);
}

/* Resident pages right below pg (within the VMA), plus one: the window. */
uint32_t fault_window(struct vmk_system *sys, struct vmk_vma *vma, size_t pg)
{
    uint32_t w = 1, max = sys->cfg.fault_around;
    while (w < max && pg >= vma->pgoff + w &&
           (pte_read(&vma->obj->ptes[pg - w]) & PTE_RES))
        w++;
    return w;
}

/* Lock pages pg+1.. while they are free of BUSY and never touched (or, with
 * same_kind_swapped, swapped out, in any slots).  Returns how many pages
 * from pg on (pg itself, already locked, included). */
static uint32_t lock_neighbours(struct vmk_vma *vma, size_t pg, uint32_t want, uint64_t first,
                                uint64_t *vals, int same_kind_swapped)
{
    size_t end = vma_page(vma, vma->end);
    uint32_t n = 1;
    vals[0] = first;
    while (n < want && pg + n < end) {
        uint64_t v;
        if (!pte_trylock(&vma->obj->ptes[pg + n], &v))
            break;
        int ok = same_kind_swapped ? (v & (PTE_RES | PTE_SWAP)) == PTE_SWAP : v == 0;
        if (!ok) {
            pte_unlock(&vma->obj->ptes[pg + n], v);
            break;
        }
        vals[n++] = v;
    }
    return n;
}

void fault_unlock_run(struct vmk_object *o, size_t pg, uint32_t n, const uint64_t *vals)
{
    for (uint32_t i = 0; i < n; i++)
        pte_unlock(&o->ptes[pg + i], vals[i]);
}

/* Lock pg+1.. while never touched (pg itself is locked by the caller). */
uint32_t fault_lock_none(struct vmk_vma *vma, size_t pg, uint32_t want, uint64_t *vals)
{
    return lock_neighbours(vma, pg, want, 0, vals, 0);
}

/* Frames for the n locked pages from pg on: at least one, as many as can be
 * had; the pages that get none are unlocked.  Returns the count, or the
 * -errno of frames_get with every page unlocked. */
int fault_frames(struct vmk_system *sys, struct vmk_object *o, size_t pg, uint32_t n,
                 const uint64_t *vals, uint32_t *fr)
{
    int got = frames_get(sys, 1, n, fr);
    if (got < 0) {
        fault_unlock_run(o, pg, n, vals);
        return got;
    }
    fault_unlock_run(o, pg + (uint32_t)got, n - (uint32_t)got, vals + got);
    return got;
}

/* Undo a fault that failed half-way: free what the frame-store got, give the
 * frames back, unlock the pages as they were.  Returns err. */
int fault_abort(struct vmk_system *sys, struct vmk_object *o, size_t pg, uint32_t n,
                const uint32_t *fr, const uint64_t *vals, int err)
{
    object_punch(o, pg, n);
    frames_free(&sys->frames, fr, n);
    fault_unlock_run(o, pg, n, vals);
    return err;
}

/* Record n pages as resident in frames fr and unlock them. */
void fault_publish(struct vmk_system *sys, struct vmk_object *o, size_t pg, uint32_t n,
                   const uint32_t *fr, const uint64_t *newvals)
{
    for (uint32_t i = 0; i < n; i++) {
        frame_set_owner(&sys->frames, fr[i], o, (uint32_t)(pg + i));
        sys->policy.ops->filled(&sys->policy, fr[i]);
        pte_unlock(&o->ptes[pg + i], pte_with_frame(newvals[i], fr[i]));
    }
    size_t end = pg + n, cur = atomic_load_explicit(&o->touched_end, memory_order_relaxed);
    while (cur < end && !atomic_compare_exchange_weak_explicit(&o->touched_end, &cur, end,
                                                               memory_order_relaxed,
                                                               memory_order_relaxed))
        ;
    atomic_fetch_add_explicit(&o->resident, n, memory_order_relaxed);
    uint64_t r = ctr_get(&sys->ctr, C_RESIDENT) + n;
    ctr_add(&sys->ctr, C_RESIDENT, n);
    ctr_add(&o->owner->ctr, C_RESIDENT, n);
    ctr_max(&sys->ctr, C_RESIDENT_PEAK, r);
    ctr_max(&o->owner->ctr, C_RESIDENT_PEAK, ctr_get(&o->owner->ctr, C_RESIDENT));
}

/*
 * First touch: zero-filled frames for pg and, on sequential access, the pages
 * after it.  A write makes them dirty.  A read maps them write-protected and
 * clean: a page that is only ever read stays all zero, and eviction simply
 * drops it (back to "never touched"), as the kernel's zero page costs nothing.
 */
int fault_zero(struct vmk_system *sys, struct vmk_vma *vma, size_t pg, int write)
{
    struct vmk_object *o = vma->obj;
    uint64_t vals[FA_MAX];
    uint32_t fr[FA_MAX];
    uint32_t n = lock_neighbours(vma, pg, fault_window(sys, vma, pg), 0, vals, 0);
    int got = fault_frames(sys, o, pg, n, vals, fr);
    if (got < 0)
        return got;
    n = (uint32_t)got;
    int r = store_zero(sys->store_fd, o->base + ((uint64_t)pg << PAGE_SHIFT_),
                       (size_t)n << PAGE_SHIFT_);
    if (r == 0)
        r = mmu_continue(sys->uffd, vma_addr(vma, pg), (size_t)n << PAGE_SHIFT_, !write);
    if (r < 0)
        return fault_abort(sys, o, pg, n, fr, vals, r);
    for (uint32_t i = 0; i < n; i++)
        vals[i] = PTE_RES | PTE_MAPPED | PTE_REF | (write ? PTE_DIRTY : 0);
    fault_publish(sys, o, pg, n, fr, vals);
    fault_count(sys, o->owner, C_FAULTS_MINOR, 1);
    fault_count(sys, o->owner, C_ZERO_FILLED, n);
    return TR_ZERO;
}

/* The first write to a clean resident page: it now differs from its swap copy. */
static int make_dirty(struct vmk_system *sys, uintptr_t addr, uint64_t *v)
{
    if (*v & PTE_SWAP)
        swap_put(&sys->swap, pte_slot(*v), 1);
    *v = pte_without_slot(*v) | PTE_DIRTY;
    return mmu_writeprotect(sys->uffd, addr, PAGE_SIZE_, false);
}

/*
 * Virtual read-ahead: start reading, asynchronously, the slots of the n pages
 * from pg on that are in swap, in whatever slots they are (runs of
 * consecutive slots become one request).  Eviction keeps pages that are
 * neighbours in memory in neighbouring slots when it can, but pages written
 * by several threads, or evicted at different times, scatter; this finds
 * them by address, as Linux's VMA-based swap read-ahead does.  The faults
 * that follow then read them from the page cache.  A fault that reads a
 * window of n pages asks for the SWAP_AHEAD windows after it, so the device
 * has several requests queued while the reader copies: 1 GiB read in order
 * over 128 MiB went from 243-260 to 348-358 thousand pages/s with 4 windows
 * instead of 1 (8: no better).  A window of one page (random access) reads
 * nothing ahead.
 */
#define SWAP_AHEAD 4

static void prefetch_pages(struct vmk_system *sys, struct vmk_vma *vma, size_t pg, uint32_t n)
{
    size_t end = vma_page(vma, vma->end);
    uint64_t run = 0, len = 0;
    for (size_t p = pg; p < pg + n && p < end; p++) {
        uint64_t e = pte_read(&vma->obj->ptes[p]);
        if ((e & (PTE_RES | PTE_SWAP | PTE_BUSY)) != PTE_SWAP)
            continue;
        if (len && pte_slot(e) == run + len) {
            len++;
            continue;
        }
        if (len)
            swap_prefetch(&sys->swap, run, (uint32_t)len);
        run = pte_slot(e), len = 1;
    }
    if (len)
        swap_prefetch(&sys->swap, run, (uint32_t)len);
}

/*
 * Read n swapped pages (consecutive in memory, their slots anywhere) into
 * buf.  All their reads are started at once (readahead on the buffered
 * descriptor, one request per run of consecutive slots) so the device works
 * on them in parallel, and so are the pages after the window, for the next
 * fault; then each run is copied out of the page cache.
 */
static int read_scattered(struct vmk_system *sys, struct vmk_vma *vma, size_t pg, uint32_t n,
                          const uint64_t *vals, char *buf)
{
    for (uint32_t i = 0; i < n;) {
        uint32_t k = 1;
        while (i + k < n && pte_slot(vals[i + k]) == pte_slot(vals[i]) + k)
            k++;
        swap_prefetch(&sys->swap, pte_slot(vals[i]), k);
        i += k;
    }
    prefetch_pages(sys, vma, pg + n, SWAP_AHEAD * n);
    for (uint32_t i = 0; i < n;) {
        uint32_t k = 1;
        while (i + k < n && pte_slot(vals[i + k]) == pte_slot(vals[i]) + k)
            k++;
        int r = swap_read_stream(&sys->swap, pte_slot(vals[i]), buf + ((size_t)i << PAGE_SHIFT_), k);
        if (r < 0)
            return r;
        i += k;
    }
    return 0;
}

/*
 * Refault distance (Linux's mm/workingset.c, simplified).  Every eviction
 * ticks the system's eviction clock, and a page leaving for swap carries the
 * clock's value in its entry.  When the page is faulted back, the clock has
 * moved on by d evictions: d other pages were pushed out while this one was
 * away.  Had the budget been d frames larger, it would still be resident.
 * If d is at most the number of frames, the page was evicted too early for
 * its working set - a refault, the mark of thrashing; a larger d is a page
 * that was cold when it went.
 */
static bool is_refault(struct vmk_system *sys, uint64_t v)
{
    uint64_t now = atomic_load_explicit(&sys->evict_clock, memory_order_relaxed);
    uint64_t d = (now - pte_frame(v)) & PTE_FRAME_MASK;
    return d <= sys->frames.n;
}

/* Swapped out: read the slot (and read-ahead) back into frames. */
static int fault_swapin(struct vmk_system *sys, struct vmk_vma *vma, size_t pg, uint64_t v,
                        int write)
{
    struct vmk_object *o = vma->obj;
    uint64_t vals[FA_MAX];
    uint32_t fr[FA_MAX];
    uint32_t n = lock_neighbours(vma, pg, fault_window(sys, vma, pg), v, vals, 1);
    int got = fault_frames(sys, o, pg, n, vals, fr);
    if (got < 0)
        return got;
    n = (uint32_t)got;
    int bi;
    char *buf = bounce_get(sys, &bi);
    size_t len = (size_t)n << PAGE_SHIFT_;
    uintptr_t addr = vma_addr(vma, pg);
    int r = n > 1 ? read_scattered(sys, vma, pg, n, vals, buf)
                  : swap_read(&sys->swap, pte_slot(v), buf, 1);
    if (r < 0) {
        ctr_add(&sys->ctr, C_IO_ERRORS, 1);
        report_once(&sys->said_io, "vmkit: I/O error reading swap; the faulting thread gets SIGBUS");
    }
    /* The faulting page is mapped writable if this is a write, or if the
     * recent past says pages read back here are written soon (read-modify-
     * write): that saves the write fault.  The others are mapped clean. */
    bool dirty = write || atomic_load_explicit(&o->write_hint, memory_order_relaxed) > 0;
    if (r == 0)
        r = mmu_copy(sys->uffd, addr, buf, PAGE_SIZE_, !dirty);
    if (r == 0 && n > 1)
        r = mmu_copy(sys->uffd, addr + PAGE_SIZE_, buf + PAGE_SIZE_, len - PAGE_SIZE_, true);
    bounce_put(sys, bi);
    if (r < 0)
        return fault_abort(sys, o, pg, n, fr, vals, r);
    for (uint32_t i = 0; i < n; i++)
        vals[i] = (vals[i] & ~(PTE_DIRTY)) | PTE_RES | PTE_MAPPED | PTE_REF;
    if (dirty) {
        swap_put(&sys->swap, pte_slot(vals[0]), 1);
        vals[0] = pte_without_slot(vals[0]) | PTE_DIRTY;
    }
    if (is_refault(sys, v))
        fault_count(sys, o->owner, C_REFAULTS, 1);
    fault_publish(sys, o, pg, n, fr, vals);
    fault_count(sys, o->owner, C_FAULTS_MAJOR, 1);
    fault_count(sys, o->owner, C_SWAPPED_IN, n);
    return TR_MAJOR;
}

/* Move a saturating hint by d within [-16, 16]. */
void hint_add(_Atomic int *h, int d)
{
    int v = atomic_load_explicit(h, memory_order_relaxed);
    if ((d > 0 && v < 16) || (d < 0 && v > -16))
        atomic_fetch_add_explicit(h, d, memory_order_relaxed);
}

/* Resident but not mapped here, or the first write to a clean page. */
static int fault_minor(struct vmk_system *sys, struct vmk_vma *vma, size_t pg, uint64_t v,
                       int write)
{
    struct vmk_object *o = vma->obj;
    uintptr_t addr = vma_addr(vma, pg);
    int r = 0, ev = TR_MINOR;
    if (o->once) {
        /* Its pages are never unmapped while resident (fileonce.c): another
         * thread's fault, or a reader, put it in place meanwhile. */
        pte_unlock(&o->ptes[pg], v);
        fault_count(sys, o->owner, C_FAULTS_MINOR, 1);
        return ev;
    }
    if (write && !(v & PTE_DIRTY)) {
        if (v & PTE_SWAP)
            hint_add(&o->write_hint, 1);
        r = make_dirty(sys, addr, &v);
        fault_count(sys, o->owner, C_WP_FAULTS, 1);
        ev = TR_WP;
    } else if (write) {
        /* Dirty yet write-protected: a writeback that failed left it so. */
        r = mmu_writeprotect(sys->uffd, addr, PAGE_SIZE_, false);
    }
    if (r == 0)
        r = mmu_continue(sys->uffd, addr, PAGE_SIZE_, !(v & PTE_DIRTY));
    if (r == 0)
        v |= PTE_MAPPED | PTE_REF;
    pte_unlock(&o->ptes[pg], v);
    fault_count(sys, o->owner, C_FAULTS_MINOR, 1);
    return r < 0 ? r : ev;
}

/* Resolve a fault at addr in vma (maplock held shared). */
static int fault_resolve(struct vmk_system *sys, struct vmk_vma *vma, uintptr_t addr, int write,
                         int present)
{
    size_t pg = vma_page(vma, addr);
    uint64_t v = pte_lock(&vma->obj->ptes[pg]);
    if (!v && vma->obj->backing)       /* shared since a fork: cow.c */
        return cow_fault(sys, vma, pg, (write ? FAULT_WRITE : 0) | (present ? FAULT_PRESENT : 0));
    if (v & PTE_RES)
        return fault_minor(sys, vma, pg, v, write);
    if (v & PTE_SWAP)
        return fault_swapin(sys, vma, pg, v, write);
    if (vma->obj->file_fd >= 0)
        return file_fault(sys, vma, pg, write);
    return fault_zero(sys, vma, pg, write);
}

struct fault_ctx { uintptr_t addr; int write, present; int result; };

static int fault_try_system(struct vmk_system *sys, void *arg)
{
    struct fault_ctx *fc = arg;
    rw_read_lock(&sys->maplock);
    struct vmk_vma *vma = vma_find(sys, fc->addr);
    if (!vma) {
        rw_read_unlock(&sys->maplock);
        return 0;
    }
    if (fc->write && !(vma->prot & VMK_PROT_WRITE) && vma->obj->once) {
        /* Read-only for vmkit, writable for the kernel (fileonce.c): the
         * write-protect fault of a write the kernel would have refused. */
        rw_read_unlock(&sys->maplock);
        fc->result = -EACCES;
        return 1;
    }
    struct vmk_space *sp = vma->space;    /* the space whose thread stalls */
    uint64_t t0 = stall_enter(&sp->ctr, stall_enter(&sys->ctr, mono_ns()));
    if (thrash_check(sys, vma->space)) {
        /* Load control paused this space: wait without locks, then let the
         * access fault again. */
        rw_read_unlock(&sys->maplock);
        thrash_wait(sys, sp);
        stall_leave(&sys->ctr, stall_leave(&sp->ctr, mono_ns()));
        fc->result = 1;
        return 1;
    }
    int r = fault_resolve(sys, vma, fc->addr & ~(uintptr_t)(PAGE_SIZE_ - 1), fc->write, fc->present);
    uint64_t t1 = stall_leave(&sp->ctr, mono_ns()), dt = t1 - t0;
    stall_leave(&sys->ctr, t1);
    struct vmk_space *as = vma->obj->owner;
    fault_count(sys, as, C_FAULTS, 1);
    fault_count(sys, as, C_FAULT_NS, (int64_t)dt);
    if (r > 0)
        trace_record(sys, vma->space->id, fc->addr, (enum trace_event)r);
    if (r < 0 && r != -ENXIO) {
        fault_count(sys, as, C_SIGBUS, 1);
        if (r == -ENOSPC)
            report_once(&sys->said_swapfull,
                        "vmkit: swap is full and no frame can be freed; the faulting thread gets SIGBUS");
        else
            report_once(&sys->said_oom,
                        "vmkit: a page could not be made resident; the faulting thread gets SIGBUS");
    }
    rw_read_unlock(&sys->maplock);
    fc->result = r < 0 ? r : 1;
    return 1;
}

/* Hand the signal to the handler that was there before vmkit (or the default). */
static void chain(int sig, siginfo_t *si, void *uc)
{
    const struct sigaction *old = sig == SIGSEGV ? &old_sigsegv : &old_sigbus;
    if (old->sa_flags & SA_SIGINFO) {
        old->sa_sigaction(sig, si, uc);
        return;
    }
    if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
        old->sa_handler(sig);
        return;
    }
    /* Default action: restore it; the faulting access runs again and the
     * kernel's signal now terminates the process, as it would have. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, NULL);
}

static void vmk_sigbus(int sig, siginfo_t *si, void *ucv)
{
    int saved = errno;
    ucontext_t *uc = ucv;
    struct fault_ctx fc = {
        .addr = (uintptr_t)si->si_addr,
#if defined(__x86_64__)
        .write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0,   /* page-fault error code: W */
        .present = (uc->uc_mcontext.gregs[REG_ERR] & 1) != 0, /* P: a protection fault */
#else
        .write = 1,
#endif
    };
    registry_read_lock();
    int ours = registry_for_each(fault_try_system, &fc);
    registry_read_unlock();
    if (ours && fc.result == -EACCES) {
        /* What the kernel sends for a write to a read-only mapping: SIGSEGV
         * (SEGV_ACCERR) at the address, to this thread.  It arrives as this
         * handler returns; with the default action the retried write ends
         * the process, as it would have. */
        siginfo_t s;
        memset(&s, 0, sizeof s);
        s.si_signo = SIGSEGV;
        s.si_code = SEGV_ACCERR;
        s.si_addr = si->si_addr;
        syscall(SYS_rt_tgsigqueueinfo, getpid(), (pid_t)syscall(SYS_gettid), SIGSEGV, &s);
    } else if (!ours || fc.result < 0) {
        chain(sig, si, ucv);
    }
    errno = saved;
}

/*
 * SIGSEGV on a guarded range.  Collapsing a fork chain (collapse.c) maps
 * runs of a VMA again in two halves, with no access in between (mmu_guard),
 * all under the maplock.  A thread that touches such a page meanwhile gets
 * SIGSEGV (an access error in a range vmkit maps, with a protection that
 * allows the access): it waits for the maplock, then returns, and the
 * access runs again against the finished mapping.  Every other SIGSEGV goes
 * to the handler that was there before vmkit (or the default action).
 */
static int segv_try_system(struct vmk_system *sys, void *arg)
{
    struct fault_ctx *fc = arg;
    rw_read_lock(&sys->maplock);
    struct vmk_vma *vma = vma_find(sys, fc->addr);
    int allowed = 0;
    if (vma)
        allowed = fc->write ? (vma->prot & VMK_PROT_WRITE) != 0 : vma->prot != VMK_PROT_NONE;
    rw_read_unlock(&sys->maplock);
    if (!vma)
        return 0;
    fc->result = allowed ? 1 : -1;
    return 1;
}

static void vmk_sigsegv(int sig, siginfo_t *si, void *ucv)
{
    int saved = errno;
    struct fault_ctx fc = { .addr = (uintptr_t)si->si_addr, .result = -1 };
    int ours = 0;
#if defined(__x86_64__)
    ucontext_t *uc = ucv;
    uint64_t err = (uint64_t)uc->uc_mcontext.gregs[REG_ERR];
    fc.write = (err & 2) != 0;
    /* Only an access error on data (not an instruction fetch: bit 4). */
    if (si->si_code == SEGV_ACCERR && !(err & 16)) {
        registry_read_lock();
        ours = registry_for_each(segv_try_system, &fc);
        registry_read_unlock();
    }
#endif
    if (!ours || fc.result < 0)
        chain(sig, si, ucv);
    errno = saved;
}

/* Install the SIGBUS and SIGSEGV handlers once per process, remembering the
 * old ones. */
int fault_install_handler(void)
{
    int expect = 0;
    if (!atomic_compare_exchange_strong(&handler_installed, &expect, 1))
        return 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = vmk_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, &old_sigbus) < 0) {
        atomic_store(&handler_installed, 0);
        return -errno;
    }
    sa.sa_sigaction = vmk_sigsegv;
    if (sigaction(SIGSEGV, &sa, &old_sigsegv) < 0) {
        int e = errno;
        sigaction(SIGBUS, &old_sigbus, NULL);
        atomic_store(&handler_installed, 0);
        return -e;
    }
    return 0;
}
