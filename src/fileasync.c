/*
 * fileasync.c - file pages read ahead asynchronously, straight into frames.
 *
 * A thread reading a mapped file in order should never wait for the disk,
 * and the disk should never wait for the thread: reads must be in flight
 * ahead of the reader, several at once (the device gives more with more
 * requests queued), and land where the reader will find them.  Asking the
 * kernel to read ahead into its page cache (readahead(2)) does the first
 * two, but then every page is copied twice on the reader's CPU to reach the
 * frame-store (file.c, run_in).  Here the pages are read straight into
 * their frames by a few reader threads of vmkit's own, on whatever CPU is
 * free, with O_DIRECT where the file system allows it (fileio.c: the
 * device writes the frame-store pages through a short-lived window), and
 * mapped into the application's VMA as each read completes.
 *
 * A request is a run of up to FA_RUN pages (1 MiB) of one object, started by a
 * fault (file.c, prefetch) from the pages its readahead plan wants next:
 *
 *   fault (maplock shared)            reader thread
 *   ----------------------            -------------
 *   lock the never-read pages (trylock), take the frames that are free
 *   (no reclaim here), one more read hold of the maplock
 *   queue the request, wake a reader  ->  frames for the other pages
 *                                         (reclaiming, on its own CPU)
 *                                         read the pages into their frames
 *   return to the application             UFFDIO_CONTINUE them in the VMA
 *                                         publish them (unlock, wake waiters)
 *                                         drop the maplock hold
 *
 * Why this is safe.  While a request is in flight its pages are locked
 * (BUSY), exactly as if the fault that started it were still resolving
 * them, and the request holds the maplock shared, handed from the fault to
 * the reader thread.  So a fault on one of its pages sleeps on the entry
 * and is woken when the read completes (it then finds the page resident);
 * reclaim passes the pages by (it only trylocks); and nothing that changes
 * the VMAs or frees objects (unmap, protect, fork, truncation, close) can
 * run before every request in flight has completed, because it takes the
 * maplock exclusive.  The VMA the request maps into therefore stays as it
 * was.  A fault that finds a writer waiting for the maplock starts no
 * request (rw_read_extra), so a writer never waits behind new ones.  The
 * reader threads take no lock that a fault may hold while waiting for
 * them, so a request always completes.
 *
 * A read that fails (an I/O error, or an injected one: each request is one
 * IO_FILE_READ request for the fault plans) gives its pages up: frames
 * freed, pages punched out, entries back to "never read".  Nobody faulted
 * on them, so nobody gets SIGBUS; the reader's own fault reads them again
 * later, and gets SIGBUS if that read fails too.  A read that comes back
 * short (the file shrank) keeps the pages it reached.
 *
 * The budget: the frames of a request are counted like any fault's, and
 * the pages in flight are at most 1/8 of the frames; below 8 MiB of
 * budget there are no readers at all and readahead stays in the page cache.
 */
#include "internal.h"
#include "fileasync.h"
#include "fileio.h"
#include "fileonce.h"
#include "mmu.h"
#include "thread.h"
#include <stdlib.h>
#include <sys/mman.h>

#define FA_REQS     32           /* requests in flight or queued, at most */
#define FA_READERS  4            /* reader threads: the device's queue depth */
#define FA_SHARE    8            /* pages in flight: at most frames / FA_SHARE */

enum { REQ_FREE, REQ_FILLING, REQ_QUEUED, REQ_TAKEN };

struct fa_req {
    _Atomic uint32_t state;
    _Atomic uint64_t ticket;     /* order of queueing: oldest first */
    struct vmk_object *obj;
    struct vmk_vma *vma;
    size_t pg;
    uint32_t n;                  /* pages locked */
    uint32_t nfr;                /* of which with a frame in fr; the reader gets the rest */
    uint32_t fr[FA_RUN];
};

struct fa_reader {
    struct fileasync *fa;
    char *staging;               /* its FA_RUN pages of the stage (objects mapped once) */
};

struct fileasync {
    struct vmk_system *sys;
    struct fa_req req[FA_REQS];
    _Atomic uint32_t queued;     /* bumped per request queued (futex word) */
    _Atomic uint64_t tickets;
    _Atomic uint32_t inflight;   /* pages locked by requests */
    uint32_t max_inflight;
    _Atomic bool stop;
    pthread_t th[FA_READERS];
    struct fa_reader rd[FA_READERS];
    char *stage;                 /* the readers' staging pages (fileonce.c), stage_len bytes */
    size_t stage_len;
    int nth;
};

/*
 * Staging pages for the reads of objects mapped once (fileonce.c): the
 * device writes a run here in one request, then the bytes go into recycled
 * pages.  Why not read into the recycled pages themselves: they are 4 KiB
 * pages scattered in physical memory, 256 segments per 1 MiB request, and
 * this machine's virtual disk serves such requests at half the rate of one
 * into physically contiguous memory (probe, 4 x 1 MiB O_DIRECT at a time:
 * 1.6 against 3.3 GB/s).  So the staging pages are transparent huge pages
 * where the kernel allows (MADV_HUGEPAGE), a 2 MiB-aligned region shared
 * out to the readers, FA_RUN pages each.  Not registered with the
 * userfaultfd: the kernel allocates them at the first read.
 */
static char *stage_map(struct fileasync *fa, size_t len)
{
    size_t huge = (size_t)2 << 20;
    fa->stage_len = len + huge;
    fa->stage = mmap(NULL, fa->stage_len, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (fa->stage == MAP_FAILED) {
        fa->stage = NULL;
        return NULL;
    }
    char *a = (char *)(((uintptr_t)fa->stage + huge - 1) & ~(uintptr_t)(huge - 1));
    madvise(a, len, MADV_HUGEPAGE);
    madvise(fa->stage, fa->stage_len, MADV_DONTFORK);
    return a;
}

bool fileasync_for(struct vmk_object *o)
{
    return o->sys->fileasync && !(o->file_shared && o->file_writable);
}

/* The queued request with the oldest ticket, taken; NULL: none. */
static struct fa_req *take(struct fileasync *fa)
{
    for (;;) {
        struct fa_req *best = NULL;
        for (int i = 0; i < FA_REQS; i++) {
            struct fa_req *r = &fa->req[i];
            if (atomic_load_explicit(&r->state, memory_order_acquire) == REQ_QUEUED &&
                (!best || atomic_load_explicit(&r->ticket, memory_order_relaxed) <
                              atomic_load_explicit(&best->ticket, memory_order_relaxed)))
                best = r;
        }
        if (!best)
            return NULL;
        uint32_t q = REQ_QUEUED;
        if (atomic_compare_exchange_strong_explicit(&best->state, &q, REQ_TAKEN,
                                                    memory_order_acquire, memory_order_relaxed))
            return best;
    }
}

/* Frames for the pages of r that have none yet (reclaiming here, on the
 * reader thread's CPU, if need be); pages that get none are unlocked. */
static void top_up(struct fileasync *fa, struct fa_req *r)
{
    static const uint64_t zero[FA_RUN];
    uint32_t want = r->n - r->nfr;
    if (!want)
        return;
    int got = frames_get(fa->sys, want, want, r->fr + r->nfr);
    got = got < 0 ? 0 : got;
    r->nfr += (uint32_t)got;
    fault_unlock_run(r->obj, r->pg + r->nfr, r->n - r->nfr, zero);
    atomic_fetch_sub_explicit(&fa->inflight, r->n - r->nfr, memory_order_relaxed);
    r->n = r->nfr;
}

/* Publish the first keep pages of r (in place, frames r->fr) and give the
 * others up: unlocked, never read; frames freed and pages punched unless
 * (once) fileonce_read has done it. */
static void finish(struct fileasync *fa, struct fa_req *r, uint32_t keep, bool once)
{
    struct vmk_system *sys = fa->sys;
    struct vmk_object *o = r->obj;
    static const uint64_t zero[FA_RUN];
    uint64_t vals[FA_RUN];
    uint32_t n = r->n;
    if (keep < n && once)
        fault_unlock_run(o, r->pg + keep, n - keep, zero);
    else if (keep < n)
        fault_abort(sys, o, r->pg + keep, n - keep, r->fr + keep, zero, 0);
    if (keep) {
        for (uint32_t i = 0; i < keep; i++)
            vals[i] = PTE_RES | PTE_MAPPED | PTE_REF;
        fault_publish(sys, o, r->pg, keep, r->fr, vals);
        fault_count(sys, o->owner, C_FILE_READ, keep);
        fault_count(sys, o->owner, C_FILE_RA, keep);
    }
    atomic_fetch_sub_explicit(&fa->inflight, n, memory_order_relaxed);
    rw_read_unlock(&sys->maplock);                  /* the hold the fault handed over */
    atomic_store_explicit(&r->state, REQ_FREE, memory_order_release);
}

/* Read request r's pages in, map and publish them, or give them up. */
static void complete(struct fileasync *fa, struct fa_req *r, char *staging)
{
    struct vmk_system *sys = fa->sys;
    struct vmk_object *o = r->obj;
    if (o->once) {                                  /* recycled pages moved in */
        int got = fileonce_read(sys, r->vma, r->pg, r->n, r->fr, staging);
        if (got < 0)
            ctr_add(&sys->ctr, C_IO_ERRORS, 1);
        finish(fa, r, got < 0 ? 0 : (uint32_t)got, true);
        return;
    }
    top_up(fa, r);
    uint32_t n = r->n, keep = 0;
    ssize_t got = n ? fileio_read(sys, o, r->pg, n, true) : 0;
    if (got < 0) {
        ctr_add(&sys->ctr, C_IO_ERRORS, 1);
    } else {
        keep = (uint32_t)(((size_t)got + PAGE_SIZE_ - 1) >> PAGE_SHIFT_);
        if (keep < n) {
            uint64_t size;
            fileio_size(o, true, &size);            /* the file shrank */
        }
        if (keep && mmu_continue(sys->uffd, vma_addr(r->vma, r->pg), (size_t)keep << PAGE_SHIFT_,
                                 true) < 0)
            keep = 0;
    }
    finish(fa, r, keep, false);
}

static void *reader_main(void *arg)
{
    struct fa_reader *rd = arg;
    struct fileasync *fa = rd->fa;
    for (;;) {
        uint32_t seen = atomic_load_explicit(&fa->queued, memory_order_acquire);
        struct fa_req *r = take(fa);
        if (r) {
            complete(fa, r, rd->staging);
            continue;
        }
        if (atomic_load_explicit(&fa->stop, memory_order_acquire))
            return NULL;
        futex_wait(&fa->queued, seen);
    }
}

static uint32_t env_on(void)
{
    const char *e = getenv("VMK_FILE_ASYNC");
    return !e || !*e || strtoul(e, NULL, 10) != 0;
}

int fileasync_start(struct vmk_system *sys)
{
    if (sys->fileasync || !env_on() || sys->frames.n / FA_SHARE < 4 * FA_MAX)
        return 0;
    struct fileasync *fa = calloc(1, sizeof *fa);
    if (!fa)
        return -ENOMEM;
    fa->sys = sys;
    fa->max_inflight = sys->frames.n / FA_SHARE;
    size_t run = (size_t)FA_RUN << PAGE_SHIFT_;
    char *at = sys->pool ? stage_map(fa, FA_READERS * run) : NULL;
    if (sys->pool && !at) {
        free(fa);
        return -ENOMEM;
    }
    for (int i = 0; i < FA_READERS; i++) {
        struct fa_reader *rd = &fa->rd[i];
        rd->fa = fa;
        rd->staging = at ? at + (size_t)i * run : NULL;
        if (thread_start_quiet(&fa->th[i], reader_main, rd) != 0)
            break;
        fa->nth++;
    }
    if (fa->nth == 0) {
        if (fa->stage)
            munmap(fa->stage, fa->stage_len);
        free(fa);
        return -EAGAIN;
    }
    sys->fileasync = fa;
    return 0;
}

void fileasync_stop(struct vmk_system *sys)
{
    struct fileasync *fa = sys->fileasync;
    if (!fa)
        return;
    atomic_store_explicit(&fa->stop, true, memory_order_release);
    atomic_fetch_add_explicit(&fa->queued, 1, memory_order_release);
    futex_wake(&fa->queued, FA_READERS);
    for (int i = 0; i < fa->nth; i++)
        pthread_join(fa->th[i], NULL);
    if (fa->stage)
        munmap(fa->stage, fa->stage_len);
    sys->fileasync = NULL;
    free(fa);
}

/* A free request, marked FILLING; NULL: none. */
static struct fa_req *claim(struct fileasync *fa)
{
    for (int i = 0; i < FA_REQS; i++) {
        uint32_t f = REQ_FREE;
        if (atomic_compare_exchange_strong_explicit(&fa->req[i].state, &f, REQ_FILLING,
                                                    memory_order_acquire, memory_order_relaxed))
            return &fa->req[i];
    }
    return NULL;
}

/* Lock the never-read pages from pg on (trylock), at most n: their count. */
static uint32_t lock_run(struct vmk_object *o, size_t pg, uint32_t n)
{
    uint32_t k = 0;
    for (; k < n; k++) {
        uint64_t v;
        if (!pte_trylock(&o->ptes[pg + k], &v))
            break;
        if (v) {
            pte_unlock(&o->ptes[pg + k], v);
            break;
        }
    }
    return k;
}

uint32_t fileasync_read(struct vmk_system *sys, struct vmk_vma *vma, size_t pg, uint32_t n)
{
    struct fileasync *fa = sys->fileasync;
    struct vmk_object *o = vma->obj;
    size_t vend = vma_page(vma, vma->end);
    uint64_t size, fend;
    if (!fa || !fileasync_for(o) || pg < vma->pgoff || pg >= vend || fileio_size(o, false, &size) < 0)
        return 0;
    fend = (size + PAGE_SIZE_ - 1) >> PAGE_SHIFT_;           /* file pages */
    if (o->file_pgoff + pg >= fend)
        return 0;
    n = n < FA_RUN ? n : FA_RUN;
    n = pg + n <= vend ? n : (uint32_t)(vend - pg);
    n = o->file_pgoff + pg + n <= fend ? n : (uint32_t)(fend - o->file_pgoff - pg);
    if (atomic_load_explicit(&fa->inflight, memory_order_relaxed) + n > fa->max_inflight)
        return 0;
    struct fa_req *r = claim(fa);
    if (!r)
        return 0;
    if (!rw_read_extra(&sys->maplock)) {
        atomic_store_explicit(&r->state, REQ_FREE, memory_order_release);
        return 0;
    }
    uint32_t k = lock_run(o, pg, n);
    /* Free frames now, the reader gets the rest; an object mapped once
     * takes its frames (the pool's first) on the reader. */
    int got = k && !o->once ? frames_get(sys, 0, k, r->fr) : 0;
    if (k == 0) {
        rw_read_unlock(&sys->maplock);
        atomic_store_explicit(&r->state, REQ_FREE, memory_order_release);
        return 0;
    }
    r->obj = o;
    r->vma = vma;
    r->pg = pg;
    r->n = k;
    r->nfr = got < 0 ? 0 : (uint32_t)got;
    got = (int)k;
    atomic_store_explicit(&r->ticket, atomic_fetch_add_explicit(&fa->tickets, 1, memory_order_relaxed),
                          memory_order_relaxed);
    atomic_fetch_add_explicit(&fa->inflight, (uint32_t)got, memory_order_relaxed);
    atomic_store_explicit(&r->state, REQ_QUEUED, memory_order_release);
    atomic_fetch_add_explicit(&fa->queued, 1, memory_order_release);
    futex_wake(&fa->queued, 1);
    return (uint32_t)got;
}
