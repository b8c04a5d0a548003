/*
 * readahead.c - on-demand readahead of file pages, per object and stream.
 *
 * A thread that reads a mapped file in order should find each page resident
 * before it gets there, and the file should be read in large requests; a
 * thread that jumps about should not pay for pages it never reads.  Which of
 * the two is going on can only be told from the faults: a page mapped by
 * vmkit is read and written without the kernel telling anybody.  So, as
 * Linux's on-demand readahead (mm/readahead.c) does for a file, each file
 * object keeps a few *streams*, and every fault on a never-read page is
 * looked up among them:
 *
 *   lost       the page was read ahead by a stream and has been evicted
 *              before the reader came to it: readahead thrashing.  The page
 *              is waste; the window halves and starts again here.
 *   next       the page is where a stream expects its next fault, just past
 *              its window (or further on, if every page in between is
 *              resident: the reader went through pages already there).  The
 *              reader went through the whole window, whose pages count as
 *              hits; the window grows, x4 while small and x2 after, up to
 *              the maximum (VMK_FILE_READAHEAD, 64 pages by default).
 *   follows    the page lies a little after or before the latest page of
 *              a stream this thread decided last (1 to RA_STRIDE_MAX
 *              pages; other threads' streams are not followed: T threads
 *              splitting a scan page by page would keep each other's
 *              streams probing - each finds its own stride instead).  The distance d is the
 *              stream's stride: d = 1 or -1 (sequential, up or down, as the
 *              two cursors of a quicksort partition) starts readahead at
 *              once, with a small window (4 pages); another d starts it when
 *              it repeats (pages p, p+d, p+2d: strided access).  A stream
 *              that had a window and now leaves it by d starts probing again,
 *              unless d only skips past its next page by a few pages
 *              (RA_SKIP_MAX, on its lattice: the reader did not need them -
 *              a forked private mapping's own copies, say): then it keeps
 *              its window from here.
 *   new        none of these: the least recently used stream (a probing one
 *              rather than one with a window) is given up and the fault
 *              starts a new one, reading just its own page - random access
 *              keeps a window of one.  If the pages just below are resident
 *              (at least RA_CONTEXT_MIN), the reader is taken to be
 *              sequential already (Linux's context readahead: more readers
 *              than streams, or a stream that lost its slot).
 *
 * A window is the faulting page and the next n-1 pages of the stream's
 * lattice (pg, pg+stride, ...): runs, up or down, are read with one request
 * and mapped with one UFFDIO_COPY, strided pages one by one (file.c).
 * After it, the kernel is asked (readahead(2)) for the pages of the next
 * windows, so the next faults find them in its page cache: the device works
 * while the reader reads.  Prefetching keeps RA_AHEAD_WINDOWS windows past
 * the one mapped in flight (2 MiB at 64 pages: 1 GiB read down went from
 * 0.3-0.7 GB/s with 2 windows to 0.8-1.0 with 8, every 4th page from 52-70
 * to 77-95 thousand pages/s; Linux's own readahead helps only readers going
 * up), and never asks twice for the same pages.
 *
 * Accounting.  Every page read besides the faulting one is counted read
 * ahead (file_readahead) and stays *pending* in its stream's window until
 * the stream settles it: a hit when the reader went past it (its next fault
 * came after it, in the stream's order), waste when it was evicted before
 * the reader got to it (a fault on it, or gone when its stream is given
 * up).  A pending page still resident when its stream is given up is left
 * uncounted: it may still be read.  So hits + waste <= readahead, the rest
 * being pages still pending.
 *
 * Where the state lives.  Each file object has its own descriptor of the
 * file (file.c), open exactly as long as the object, so the state is found
 * by that descriptor's number in a table of chunks made at map time: no
 * allocation while faulting, and the state of a gone object is simply
 * started afresh by the next object that gets its descriptor number.  A
 * per-object mutex guards the streams, taken with trylock (a fault that
 * cannot have it in time reads its page alone); races between streams of
 * one object change only heuristics and counters.
 */
#include "internal.h"
#include "readahead.h"
#include "fileasync.h"
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>

#define RA_STREAMS       8
#define RA_STRIDE_MAX    64       /* largest stride detected, pages */
#define RA_CONTEXT_MIN   4        /* resident pages below that make a new reader sequential */
#define RA_AHEAD_WINDOWS 8        /* prefetch this many windows beyond the one mapped */
#define RA_AHEAD_ASYNC   32       /* the same when fileasync.c's readers read them */
#define RA_SPAN_STRIDE   8        /* up to this stride, prefetch the whole span at once */
#define RA_BITS          64       /* a window's pages, at most (FA_MAX) */
#define RA_FD_CHUNK      256
#define RA_FD_CHUNKS     4096     /* descriptors below 1 Mi have readahead state */
#define RA_TRIES         64       /* trylock attempts before a fault goes without */
#define RA_SKIP_MAX      4        /* pages a reader may skip past its stream's next and keep it */

/* Pages are signed here: a stream may go down (stride < 0), and a window
 * may reach below page 0 on paper; such pages are never read. */
struct ra_stream {
    int64_t last;         /* its latest page: the fault (probing), the window's last (active) */
    int64_t next;         /* active: where its next fault is expected, just past its window */
    int64_t win;          /* page of bit 0 of pending */
    int64_t prefetched;   /* active, if pf: readahead(2) issued up to here (excluded) */
    uint64_t pending;     /* bit i: page win + i * stride read ahead, not settled yet */
    uint64_t apend;       /* pages read ahead by the readers of fileasync.c, not passed yet */
    uint64_t used;        /* LRU stamp; 0: never used */
    int32_t stride;       /* distance between its pages, < 0 going down; 0: not known yet */
    uint32_t size;        /* active: pages per window; 0: probing */
    uint32_t gen;         /* bumped at each window: ra_record checks its plan still holds */
    uintptr_t reader;     /* the thread whose fault it last decided on (me()) */
    bool pf;              /* prefetched is valid */
};

struct ra_state {
    vmk_mutex lock;
    _Atomic(struct vmk_object *) obj;  /* the object this state belongs to */
    uint32_t max;                      /* largest window, pages; < 2: readahead off */
    uint64_t clock;
    struct ra_stream s[RA_STREAMS];
};

struct tally { uint64_t hits, waste; };

static _Atomic(struct ra_state *) ra_table[RA_FD_CHUNKS];
static vmk_mutex ra_table_lock;

static struct ra_state *ra_of(struct vmk_object *o)
{
    int fd = o->file_fd;
    if (fd < 0 || fd >= RA_FD_CHUNKS * RA_FD_CHUNK)
        return NULL;
    struct ra_state *c = atomic_load_explicit(&ra_table[fd / RA_FD_CHUNK], memory_order_acquire);
    if (!c)
        return NULL;
    struct ra_state *st = &c[fd % RA_FD_CHUNK];
    return atomic_load_explicit(&st->obj, memory_order_acquire) == o ? st : NULL;
}

/* Page i of the lattice from base. */
static int64_t lat(int64_t base, int32_t stride, int64_t i)
{
    return base + (int64_t)stride * i;
}

/* k >= 0 with q = from + k * stride, or -1: q is not on the lattice ahead. */
static int64_t steps(int64_t from, int32_t stride, int64_t q)
{
    int64_t d = q - from;
    if (!stride || d % stride)
        return -1;
    return d / stride >= 0 ? d / stride : -1;
}

static int64_t absd(int64_t d) { return d < 0 ? -d : d; }

/* This thread, as a number no other live thread has. */
static _Thread_local char me_tag;
static uintptr_t me(void) { return (uintptr_t)&me_tag; }

static uint32_t env_max(void)
{
    const char *e = getenv("VMK_FILE_READAHEAD");
    if (!e || !*e)
        return RA_MAX_DEFAULT;
    unsigned long v = strtoul(e, NULL, 10);
    return v > FA_MAX ? FA_MAX : (uint32_t)v;
}

int ra_attach(struct vmk_object *o)
{
    int fd = o->file_fd;
    if (fd < 0 || fd >= RA_FD_CHUNKS * RA_FD_CHUNK)
        return 0;                         /* no state: faults read their page alone */
    mutex_lock(&ra_table_lock);
    struct ra_state *c = atomic_load_explicit(&ra_table[fd / RA_FD_CHUNK], memory_order_relaxed);
    if (!c) {
        c = calloc(RA_FD_CHUNK, sizeof *c);
        atomic_store_explicit(&ra_table[fd / RA_FD_CHUNK], c, memory_order_release);
    }
    mutex_unlock(&ra_table_lock);
    if (!c)
        return -ENOMEM;
    struct ra_state *st = &c[fd % RA_FD_CHUNK];
    mutex_lock(&st->lock);
    memset(st->s, 0, sizeof st->s);
    st->clock = 0;
    st->max = env_max();
    atomic_store_explicit(&st->obj, o, memory_order_release);
    mutex_unlock(&st->lock);
    return 0;
}

static bool ra_lock(struct ra_state *st)
{
    for (int i = 0; i < RA_TRIES; i++) {
        if (mutex_trylock(&st->lock))
            return true;
        sched_yield();
    }
    return false;
}

/* Linux's get_init_ra_size: the first window of a stream whose reader
 * showed req pages in order. */
static uint32_t init_size(uint32_t req, uint32_t max)
{
    uint32_t n = 1;
    while (n < req)
        n <<= 1;
    if (n <= max / 32)
        n *= 4;
    else if (n <= max / 4)
        n *= 2;
    else
        n = max;
    return n < max ? n : max;
}

/* Linux's get_next_ra_size: the window after a hit. */
static uint32_t next_size(uint32_t cur, uint32_t max)
{
    if (cur < max / 16)
        return 4 * cur;
    if (cur <= max / 2)
        return 2 * cur;
    return max;
}

static bool resident(struct vmk_object *o, int64_t pg)
{
    return pg >= 0 && (uint64_t)pg < o->npages && (pte_read(&o->ptes[pg]) & PTE_RES);
}

/* The reader went past every pending page of s: they were used. */
static void settle_passed(struct ra_stream *s, struct tally *t)
{
    t->hits += (uint64_t)__builtin_popcountll(s->pending);
    s->pending = 0;
}

/* s is given up before its reader went through its window: pages no longer
 * resident were evicted untouched; resident ones may yet be read. */
static void settle_abandoned(struct vmk_object *o, struct ra_stream *s, struct tally *t)
{
    for (uint64_t b = s->pending; b; b &= b - 1)
        if (!resident(o, lat(s->win, s->stride, __builtin_ctzll(b))))
            t->waste++;
    s->pending = 0;
}

/* A fault on page q of s's window, read ahead and evicted before the reader
 * came: q is waste, the pages before it were passed (hits); those after it
 * stay pending if still resident (now counted from q), waste if gone. */
static void settle_lost(struct vmk_object *o, struct ra_stream *s, int64_t q, struct tally *t)
{
    int64_t k = steps(s->win, s->stride, q);
    uint64_t after = k + 1 < RA_BITS ? s->pending >> (k + 1) : 0, keep = 0;
    t->hits += (uint64_t)__builtin_popcountll(s->pending & ((1ull << k) - 1));
    t->waste++;
    for (uint64_t b = after; b; b &= b - 1) {
        int i = __builtin_ctzll(b);
        if (resident(o, lat(q, s->stride, i + 1)))
            keep |= 1ull << i;
        else
            t->waste++;
    }
    s->win = q + s->stride;
    s->pending = keep;
}

/* A stream that read q ahead and has not settled it. */
static int find_lost(struct ra_state *st, int64_t q)
{
    for (int i = 0; i < RA_STREAMS; i++) {
        struct ra_stream *s = &st->s[i];
        int64_t k = s->size && s->pending ? steps(s->win, s->stride, q) : -1;
        if (k >= 0 && k < RA_BITS && (s->pending >> k & 1))
            return i;
    }
    return -1;
}

/* A stream whose next page is q, or whose lattice reaches q through
 * resident pages only (at most two windows of them); *passed: how many. */
static int find_next(struct ra_state *st, struct vmk_object *o, int64_t q, uint64_t *passed)
{
    for (int i = 0; i < RA_STREAMS; i++) {
        struct ra_stream *s = &st->s[i];
        int64_t gap = s->size ? steps(s->next, s->stride, q) : -1, k = 0;
        if (gap < 0 || gap > 2 * (int64_t)st->max + (int64_t)s->apend)
            continue;
        while (k < gap && resident(o, lat(s->next, s->stride, k)))
            k++;
        if (k == gap) {
            *passed = (uint64_t)gap;
            return i;
        }
    }
    return -1;
}

/* The stream of this thread whose latest page q is closest to, within
 * RA_STRIDE_MAX either way (ties: the most recently used); *d = q - its
 * latest page.  Only this thread's: several threads splitting one scan
 * (thread t reading pages t, t + T, ...) fault near each other's streams in
 * whatever order the scheduler runs them, and taking each other's faults
 * as a stream leaving its window would keep every stream probing.  Each
 * finds its own stride instead, and a fault that is a stream's next page
 * (find_next) goes on with that stream, whoever's it is. */
static int find_follow(struct ra_state *st, int64_t q, int32_t *d)
{
    int best = -1;
    for (int i = 0; i < RA_STREAMS; i++) {
        struct ra_stream *s = &st->s[i], *b = best < 0 ? NULL : &st->s[best];
        int64_t dist = absd(q - s->last);
        if (!s->used || s->reader != me() || dist == 0 || dist > RA_STRIDE_MAX)
            continue;
        if (!b || dist < absd(q - b->last) || (dist == absd(q - b->last) && s->used > b->used))
            best = i;
    }
    if (best >= 0)
        *d = (int32_t)(q - st->s[best].last);
    return best;
}

/* The slot a new stream takes: a free one, else the least recently used
 * probing one, else the least recently used. */
static int victim_slot(struct ra_state *st)
{
    int best = 0;
    for (int i = 0; i < RA_STREAMS; i++) {
        struct ra_stream *s = &st->s[i], *b = &st->s[best];
        if (!s->used)
            return i;
        bool sp = !s->size, bp = !b->size;
        if ((sp && !bp) || (sp == bp && s->used < b->used))
            best = i;
    }
    return best;
}

static uint32_t resident_below(struct vmk_object *o, int64_t pg, uint32_t max)
{
    uint32_t c = 0;
    while (c < max && resident(o, pg - c - 1))
        c++;
    return c;
}

/* Open a window of s->size pages at q; returns the slot. */
static int window_at(struct ra_state *st, int i, int64_t q)
{
    struct ra_stream *s = &st->s[i];
    if (!s->pending)
        s->win = q + s->stride;
    s->next = lat(q, s->stride, s->size);
    s->last = s->next - s->stride;
    s->reader = me();
    s->used = ++st->clock;
    s->gen++;
    return i;
}

/* s starts (or goes on) probing at q, with the stride seen last: no window. */
static int probe_at(struct ra_state *st, int i, int64_t q, int32_t stride)
{
    struct ra_stream *s = &st->s[i];
    s->size = 0;
    s->stride = stride;
    s->last = q;
    s->pf = false;
    s->apend = 0;
    s->reader = me();
    s->used = ++st->clock;
    s->gen++;
    return -1;
}

/* s starts reading ahead with stride and window size. */
static int start_at(struct ra_state *st, int i, int64_t q, int32_t stride, uint32_t size)
{
    st->s[i].stride = stride;
    st->s[i].size = size;
    st->s[i].pf = false;
    st->s[i].apend = 0;
    return window_at(st, i, q);
}

/* The stream of a fault at q, and its window (-1: read q alone). */
static int decide(struct ra_state *st, struct vmk_object *o, int64_t q, struct tally *t)
{
    int32_t d;
    uint32_t init = init_size(1, st->max);
    int i = find_lost(st, q);
    if (i >= 0) {
        struct ra_stream *s = &st->s[i];
        settle_lost(o, s, q, t);
        return start_at(st, i, q, s->stride, s->size / 2 > init ? s->size / 2 : init);
    }
    uint64_t passed = 0;
    if ((i = find_next(st, o, q, &passed)) >= 0) {
        struct ra_stream *s = &st->s[i];
        uint64_t a = passed < s->apend ? passed : s->apend;  /* read by the readers */
        t->hits += a;
        s->apend -= a;
        settle_passed(s, t);
        st->s[i].size = next_size(st->s[i].size, st->max);
        return window_at(st, i, q);
    }
    if ((i = find_follow(st, q, &d)) >= 0) {
        struct ra_stream *s = &st->s[i];
        int64_t skip = s->size ? steps(s->next, s->stride, q) : -1;
        if (skip > 0 && skip <= RA_SKIP_MAX) {  /* its reader skipped a page or two */
            settle_passed(s, t);
            return window_at(st, i, q);
        }
        if (s->size) {                    /* it had a window and left it: probe again */
            settle_passed(s, t);
            return probe_at(st, i, q, d);
        }
        if (absd(d) != 1 && d != s->stride)
            return probe_at(st, i, q, d);
        return start_at(st, i, q, d, init);
    }
    i = victim_slot(st);
    settle_abandoned(o, &st->s[i], t);
    uint32_t c = resident_below(o, q, st->max);
    if (c < RA_CONTEXT_MIN)
        return probe_at(st, i, q, 0);
    return start_at(st, i, q, 1, init_size(c, st->max));
}

/* Fill the plan from stream i's new window, and its prefetch: from where
 * the last one stopped to RA_AHEAD_WINDOWS windows past this one. */
static void plan_window(struct ra_state *st, int i, uint64_t avail, int64_t windows,
                        int64_t align, struct ra_plan *p)
{
    struct ra_stream *s = &st->s[i];
    int64_t q = (int64_t)p->pg, a = absd(s->stride);
    int64_t fit = s->stride > 0 ? ((int64_t)avail + a - 1) / a : q / a + 1;   /* in the file */
    p->slot = i;
    p->gen = s->gen;
    p->stride = s->stride;
    p->n = (int64_t)s->size < fit ? s->size : (uint32_t)fit;
    int64_t end = lat(s->next, s->stride, windows * next_size(s->size, st->max));
    if (s->stride == 1)
        end -= end % align;               /* whole requests of the readers (fileasync.c) */
    int64_t from = s->pf && steps(s->next, s->stride, s->prefetched) > 0 ? s->prefetched : s->next;
    int64_t k = steps(from, s->stride, end);
    if (k > 0) {
        p->ahead = from;
        p->ahead_n = (uint32_t)k;
        s->prefetched = end;
        s->pf = true;
    }
}

void ra_plan(struct vmk_system *sys, struct vmk_object *o, size_t pg, uint64_t avail,
             struct ra_plan *p)
{
    *p = (struct ra_plan){ .pg = pg, .stride = 1, .n = 1, .slot = -1 };
    struct ra_state *st = ra_of(o);
    if (!st || st->max < 2 || !ra_lock(st))
        return;
    struct tally t = { 0, 0 };
    int i = decide(st, o, (int64_t)pg, &t);
    if (i >= 0)
        plan_window(st, i, avail, fileasync_for(o) ? RA_AHEAD_ASYNC : RA_AHEAD_WINDOWS,
                    fileasync_for(o) ? FA_RUN : 1, p);
    mutex_unlock(&st->lock);
    if (t.hits)
        fault_count(sys, o->owner, C_FILE_RA_HITS, (int64_t)t.hits);
    if (t.waste)
        fault_count(sys, o->owner, C_FILE_RA_WASTE, (int64_t)t.waste);
}

void ra_record(struct vmk_system *sys, struct vmk_object *o, const struct ra_plan *p,
               uint32_t got)
{
    if (p->slot < 0)
        return;
    if (got > 1)
        fault_count(sys, o->owner, C_FILE_RA, got - 1);
    struct ra_state *st = ra_of(o);
    if (!st || !ra_lock(st))
        return;                           /* the pages stay uncounted: pending */
    struct ra_stream *s = &st->s[p->slot];
    if (s->gen == p->gen) {               /* nobody took the stream over meanwhile */
        s->next = lat((int64_t)p->pg, p->stride, got);
        s->last = s->next - p->stride;
        if (got > 1)
            s->pending |= (got - 1 < RA_BITS ? (1ull << (got - 1)) : 0) - 1;
    }
    mutex_unlock(&st->lock);
}

void ra_prefetch(struct vmk_object *o, const struct ra_plan *p)
{
    if (!p->ahead_n)
        return;
    int64_t lo = p->ahead, hi = lat(p->ahead, p->stride, p->ahead_n - 1);
    if (lo > hi) {
        int64_t t = lo;
        lo = hi, hi = t;
    }
    if (hi < 0)
        return;
    if (absd(p->stride) <= RA_SPAN_STRIDE) {
        lo = lo < 0 ? 0 : lo;
        uint64_t f = o->file_pgoff + (uint64_t)lo, span = (uint64_t)(hi - lo + 1);
        readahead(o->file_fd, (off64_t)(f << PAGE_SHIFT_), (size_t)span << PAGE_SHIFT_);
        return;
    }
    for (uint32_t i = 0; i < p->ahead_n; i++) {
        int64_t pg = lat(p->ahead, p->stride, i);
        if (pg >= 0)
            readahead(o->file_fd, (off64_t)((o->file_pgoff + (uint64_t)pg) << PAGE_SHIFT_),
                      PAGE_SIZE_);
    }
}

void ra_hint(struct vmk_object *o, int64_t pg, uint32_t n)
{
    if (pg >= 0 && n)
        readahead(o->file_fd, (off64_t)((o->file_pgoff + (uint64_t)pg) << PAGE_SHIFT_),
                  (size_t)n << PAGE_SHIFT_);
}

void ra_async(struct vmk_object *o, const struct ra_plan *p, uint64_t n, int64_t stop)
{
    struct ra_state *st = p->slot < 0 ? NULL : ra_of(o);
    if (!st || !ra_lock(st))
        return;                           /* uncounted as hits: pending */
    struct ra_stream *s = &st->s[p->slot];
    if (s->gen == p->gen) {
        s->apend += n;
        if (s->pf && stop < s->prefetched)
            s->prefetched = stop;         /* the rest again at the next fault */
    }
    mutex_unlock(&st->lock);
}
