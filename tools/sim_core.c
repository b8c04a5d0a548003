/*
 * sim_core.c - page-replacement policies replayed on reference strings.
 *
 * Binary trace format ("VMKTRC01"), as vmkit records it (src/trace.h;
 * VMK_TRACE or vmk_trace_start), all integers little-endian:
 *
 *   header   16 bytes: the 8 bytes "VMKTRC01", uint32 page_size (4096),
 *            uint32 flags (0)
 *   records  16 bytes each, until the end of the file:
 *              uint64 page     (space_id << 48) | (virtual address >> 12)
 *              uint32 event    1 zero-fill fault, 2 swap-in (or file read)
 *                              fault, 3 minor fault (a sampled reference),
 *                              4 first write to a clean page, 5 eviction
 *              uint32 time_us  microseconds since the trace started
 *
 * The reference string is the page of every record whose event is 1..4, in
 * file order; evictions (5) are what the recorded run's own policy did and
 * are not references, so they are skipped, as are unknown events.  A file
 * that does not start with the magic is read as text: page numbers (decimal
 * or 0x-hex) separated by whitespace or commas, '#' comments to end of line.
 *
 * Simulation works on dense page ids (0..npages-1, assigned once by an
 * open-addressing hash map), so every policy keeps its per-page state in
 * flat arrays indexed by id and its per-frame state in arrays of `frames`
 * entries: no allocation and no hashing per reference.
 */
#include "sim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX

/* ---------------------------------------------------------------- traces */

int sim_trace_push(sim_trace *t, uint64_t page)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4096;
        uint64_t *r = realloc(t->refs, cap * sizeof *r);
        if (!r)
            return -ENOMEM;
        t->refs = r;
        t->cap = cap;
    }
    t->refs[t->n++] = page;
    return 0;
}

void sim_trace_free(sim_trace *t)
{
    free(t->refs);
    memset(t, 0, sizeof *t);
}

static uint32_t le32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t le64(const unsigned char *b)
{
    return (uint64_t)le32(b) | (uint64_t)le32(b + 4) << 32;
}

/* The records after the header: whole records until EOF. */
static int load_binary(FILE *f, sim_trace *t)
{
    enum { REC = 16, CHUNK = 4096 * REC };
    unsigned char hdr[8], *buf;
    if (fread(hdr, 1, 8, f) != 8)
        return ferror(f) ? -EIO : -EINVAL;
    if (!(buf = malloc(CHUNK)))
        return -ENOMEM;
    t->binary = 1;
    t->page_size = le32(hdr);
    size_t got;
    int r = 0;
    while (!r && (got = fread(buf, 1, CHUNK, f)) > 0) {
        size_t whole = got / REC * REC;
        for (size_t off = 0; off < whole && !r; off += REC) {
            uint32_t ev = le32(buf + off + 8);
            if (ev >= 1 && ev <= 4)
                r = sim_trace_push(t, le64(buf + off));
            else
                t->skipped++;
        }
        if (whole != got)               /* fread fills whole chunks until EOF */
            t->truncated = 1;
    }
    free(buf);
    return r ? r : ferror(f) ? -EIO : 0;
}

/* Text tokenizer state, carried across buffer boundaries. */
struct text_state {
    uint64_t val;
    int      intok, hex, ndigits, comment;
    size_t   line;
};

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int text_end_token(struct text_state *s, sim_trace *t)
{
    if (!s->intok)
        return 0;
    if (s->ndigits == 0)                /* a lone "0x" */
        return -EINVAL;
    s->intok = s->hex = s->ndigits = 0;
    int r = sim_trace_push(t, s->val);
    s->val = 0;
    return r;
}

static int text_digit(struct text_state *s, int c)
{
    if ((c == 'x' || c == 'X') && s->intok && !s->hex && s->ndigits == 1 && s->val == 0) {
        s->hex = 1;
        s->ndigits = 0;
        return 0;
    }
    int d = hexval(c);
    unsigned base = s->hex ? 16 : 10;
    if (d < 0 || (unsigned)d >= base || s->val > (UINT64_MAX - (unsigned)d) / base)
        return -EINVAL;
    s->val = s->val * base + (unsigned)d;
    s->intok = 1;
    s->ndigits++;
    return 0;
}

static int text_feed(struct text_state *s, sim_trace *t, const unsigned char *b, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        int c = b[i], r = 0;
        if (c == '\n')
            s->line++;
        if (s->comment) {
            s->comment = c != '\n';
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == ',')
            r = text_end_token(s, t);
        else if (c == '#') {
            r = text_end_token(s, t);
            s->comment = 1;
        } else
            r = text_digit(s, c);
        if (r)
            return r;
    }
    return 0;
}

static int load_text(FILE *f, sim_trace *t, const unsigned char *pre, size_t npre, size_t *line)
{
    enum { CHUNK = 1 << 16 };
    unsigned char *buf = malloc(CHUNK);
    if (!buf)
        return -ENOMEM;
    struct text_state s = { .line = 1 };
    int r = text_feed(&s, t, pre, npre);
    size_t got;
    while (!r && (got = fread(buf, 1, CHUNK, f)) > 0)
        r = text_feed(&s, t, buf, got);
    free(buf);
    if (!r)
        r = ferror(f) ? -EIO : text_end_token(&s, t);
    if (r == -EINVAL && line)
        *line = s.line;
    return r;
}

int sim_trace_load(FILE *f, sim_trace *t, size_t *line)
{
    unsigned char magic[8];
    memset(t, 0, sizeof *t);
    size_t got = fread(magic, 1, 8, f);
    int r;
    if (got == 8 && !memcmp(magic, "VMKTRC01", 8))
        r = load_binary(f, t);
    else if (ferror(f))
        r = -EIO;
    else
        r = load_text(f, t, magic, got, line);
    if (r)
        sim_trace_free(t);
    return r;
}

/* ------------------------------------------------------------ dense ids */

/*
 * Page numbers are sparse 64-bit values (space id in the top bits); the
 * policies want small integers to index flat arrays.  One pass over the
 * string with an open-addressing (linear probing, load <= 1/2) map from page
 * to id numbers the pages in order of first reference.
 */
struct idmap {
    uint64_t *keys;
    uint32_t *vals;                     /* NONE: empty slot */
    size_t    mask;
    unsigned  shift;
    uint32_t  count;
};

static size_t idmap_slot(const struct idmap *m, uint64_t key)
{
    size_t i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> m->shift);
    while (m->vals[i] != NONE && m->keys[i] != key)
        i = (i + 1) & m->mask;
    return i;
}

static int idmap_init(struct idmap *m, unsigned bits)
{
    size_t cap = (size_t)1 << bits;
    m->keys = malloc(cap * sizeof *m->keys);
    m->vals = malloc(cap * sizeof *m->vals);
    if (!m->keys || !m->vals) {
        free(m->keys);
        free(m->vals);
        return -ENOMEM;
    }
    memset(m->vals, 0xff, cap * sizeof *m->vals);
    m->mask = cap - 1;
    m->shift = 64 - bits;
    return 0;
}

static int idmap_grow(struct idmap *m)
{
    struct idmap n = { .count = m->count };
    if (idmap_init(&n, 64 - m->shift + 1))
        return -ENOMEM;
    for (size_t i = 0; i <= m->mask; i++) {
        if (m->vals[i] == NONE)
            continue;
        size_t j = idmap_slot(&n, m->keys[i]);
        n.keys[j] = m->keys[i];
        n.vals[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    *m = n;
    return 0;
}

int sim_prepare(sim_prepared *p, const uint64_t *refs, size_t n)
{
    memset(p, 0, sizeof *p);
    if (n >= NONE)
        return -E2BIG;
    struct idmap m = { 0 };
    p->ids = malloc((n ? n : 1) * sizeof *p->ids);
    if (!p->ids || idmap_init(&m, 12)) {
        free(p->ids);
        p->ids = NULL;
        return -ENOMEM;
    }
    int r = 0;
    for (size_t i = 0; i < n && !r; i++) {
        size_t s = idmap_slot(&m, refs[i]);
        if (m.vals[s] == NONE) {
            if ((size_t)m.count * 2 >= m.mask && (r = idmap_grow(&m)))
                break;
            s = idmap_slot(&m, refs[i]);
            m.keys[s] = refs[i];
            m.vals[s] = m.count++;
        }
        p->ids[i] = m.vals[s];
    }
    free(m.keys);
    free(m.vals);
    p->n = n;
    p->npages = m.count;
    if (r)
        sim_prepared_free(p);
    return r;
}

void sim_prepared_free(sim_prepared *p)
{
    free(p->ids);
    free(p->next);
    memset(p, 0, sizeof *p);
}

/* ------------------------------------------------------------- policies */

/*
 * Each policy is a loop over p->ids with `F` frames, 1 <= F < p->npages
 * (with F >= npages nothing is ever evicted and every policy faults exactly
 * npages times; sim_run_prepared answers that case itself).
 */

static void *alloc_fill(size_t n, size_t size, int byte)
{
    void *a = malloc(n ? n * size : 1);
    if (a)
        memset(a, byte, n * size);
    return a;
}

/*
 * FIFO: evict the page that was loaded first, whatever happened since.  The
 * frames form a ring; the hand points at the oldest load.  Being in memory
 * longest says little about being needed, and FIFO is not a stack
 * algorithm: more frames can mean more faults (Belady's anomaly).
 */
static int run_fifo(const sim_prepared *p, size_t F, uint64_t *faults)
{
    uint8_t *in = alloc_fill(p->npages, 1, 0);
    uint32_t *frame = malloc(F * sizeof *frame);
    if (!in || !frame) {
        free(in);
        free(frame);
        return -ENOMEM;
    }
    size_t used = 0, hand = 0;
    uint64_t nf = 0;
    for (size_t i = 0; i < p->n; i++) {
        uint32_t pg = p->ids[i];
        if (in[pg])
            continue;
        nf++;
        if (used < F)
            frame[used++] = pg;
        else {
            in[frame[hand]] = 0;
            frame[hand] = pg;
            hand = hand + 1 == F ? 0 : hand + 1;
        }
        in[pg] = 1;
    }
    free(in);
    free(frame);
    *faults = nf;
    return 0;
}

/*
 * Clock (second chance): FIFO plus the MMU's reference bit.  A reference
 * sets the page's bit (a newly loaded page has it set: the faulting access
 * referenced it).  To find a victim the hand sweeps the ring: a page with
 * its bit set loses the bit and is passed over - it had a reference since
 * the hand last came by - and the first page found without one is evicted.
 * Each bit the hand clears was set by a reference, so the sweeps cost O(1)
 * per reference amortized.  Per page: 0 absent, 1 resident, 2 resident and
 * referenced.
 */
static int run_clock(const sim_prepared *p, size_t F, uint64_t *faults)
{
    uint8_t *st = alloc_fill(p->npages, 1, 0);
    uint32_t *frame = malloc(F * sizeof *frame);
    if (!st || !frame) {
        free(st);
        free(frame);
        return -ENOMEM;
    }
    size_t used = 0, hand = 0;
    uint64_t nf = 0;
    for (size_t i = 0; i < p->n; i++) {
        uint32_t pg = p->ids[i];
        if (st[pg]) {
            st[pg] = 2;
            continue;
        }
        nf++;
        if (used < F)
            frame[used++] = pg;
        else {
            while (st[frame[hand]] == 2) {
                st[frame[hand]] = 1;
                hand = hand + 1 == F ? 0 : hand + 1;
            }
            st[frame[hand]] = 0;
            frame[hand] = pg;
            hand = hand + 1 == F ? 0 : hand + 1;
        }
        st[pg] = 2;
    }
    free(st);
    free(frame);
    *faults = nf;
    return 0;
}

/*
 * LRU, exact: evict the page whose last reference is oldest.  The resident
 * pages form a doubly-linked list in recency order (node per page id, a
 * sentinel at index npages); a reference moves its page to the front, a
 * fault evicts from the back.  LRU is a stack algorithm: the pages resident
 * with F frames are always a subset of those resident with F+1, so its
 * faults never grow with more frames.
 */
struct lnode { uint32_t prev, next; };

static void lru_unlink(struct lnode *l, uint32_t x)
{
    l[l[x].prev].next = l[x].next;
    l[l[x].next].prev = l[x].prev;
}

static void lru_push_front(struct lnode *l, uint32_t head, uint32_t x)
{
    l[x].prev = head;
    l[x].next = l[head].next;
    l[l[head].next].prev = x;
    l[head].next = x;
}

static int run_lru(const sim_prepared *p, size_t F, uint64_t *faults)
{
    uint32_t head = p->npages;
    struct lnode *l = alloc_fill((size_t)p->npages + 1, sizeof *l, 0xff);
    if (!l)
        return -ENOMEM;
    l[head].prev = l[head].next = head;
    size_t used = 0;
    uint64_t nf = 0;
    for (size_t i = 0; i < p->n; i++) {
        uint32_t pg = p->ids[i];
        if (l[pg].prev != NONE) {
            if (l[head].next != pg) {
                lru_unlink(l, pg);
                lru_push_front(l, head, pg);
            }
            continue;
        }
        nf++;
        if (used < F)
            used++;
        else {
            uint32_t victim = l[head].prev;
            lru_unlink(l, victim);
            l[victim].prev = NONE;
        }
        lru_push_front(l, head, pg);
    }
    free(l);
    *faults = nf;
    return 0;
}

/*
 * LRU approximated by aging (Tanenbaum's "aging" algorithm).  Real hardware
 * gives no timestamps, only a reference bit per page; the kernel samples the
 * bits periodically.  Every S references (a "tick") each resident page's
 * K-bit counter is shifted right by one with the page's reference bit
 * entering at the top, and the bit is cleared: the counter is the page's
 * recent history, newest tick in the highest bit, so read as a number it
 * ranks pages by recency at tick granularity and forgets after K ticks.  The
 * victim is the page with the smallest counter, the reference bit of the
 * tick in progress taken as one more (highest) bit: key = ref << K | age.
 *
 * To avoid scanning all frames on a fault, frames sit in one FIFO list per
 * key (2^(K+1) <= 512 lists) with a bitmap of the non-empty ones: a fault
 * takes the oldest frame of the lowest key, a reference that sets the bit
 * moves its frame to the list of its new key, and a tick rebuilds the lists
 * (O(frames)) walking the old ones in key order - the shift preserves that
 * order, so among equal counters the page that aged out first goes first.
 * With the default S = frames/4, ticks cost O(1) per reference amortized.
 */
struct aging {
    uint32_t *page, *prev, *next;       /* per frame */
    uint16_t *key;                      /* per frame: ref << k | age */
    uint32_t *head, *tail;              /* per key: oldest, newest frame */
    uint32_t *order;                    /* tick scratch */
    uint64_t  bits[8];                  /* non-empty keys */
    unsigned  k;
};

static void aging_push(struct aging *a, uint32_t s, unsigned key)
{
    a->key[s] = (uint16_t)key;
    a->prev[s] = a->tail[key];
    a->next[s] = NONE;
    if (a->tail[key] != NONE)
        a->next[a->tail[key]] = s;
    else
        a->head[key] = s;
    a->tail[key] = s;
    a->bits[key >> 6] |= 1ull << (key & 63);
}

static void aging_unlink(struct aging *a, uint32_t s)
{
    unsigned key = a->key[s];
    if (a->prev[s] != NONE)
        a->next[a->prev[s]] = a->next[s];
    else
        a->head[key] = a->next[s];
    if (a->next[s] != NONE)
        a->prev[a->next[s]] = a->prev[s];
    else
        a->tail[key] = a->prev[s];
    if (a->head[key] == NONE)
        a->bits[key >> 6] &= ~(1ull << (key & 63));
}

static unsigned aging_lowest(const struct aging *a)
{
    unsigned w = 0;
    while (!a->bits[w])
        w++;
    return w * 64 + (unsigned)__builtin_ctzll(a->bits[w]);
}

/* A tick: age every resident page (shift in its reference bit, clear it). */
static void aging_tick(struct aging *a)
{
    size_t m = 0;
    for (unsigned w = 0; w < 8; w++) {
        for (uint64_t b = a->bits[w]; b; b &= b - 1) {
            unsigned key = w * 64 + (unsigned)__builtin_ctzll(b);
            for (uint32_t s = a->head[key]; s != NONE; s = a->next[s])
                a->order[m++] = s;
            a->head[key] = a->tail[key] = NONE;
        }
        a->bits[w] = 0;
    }
    unsigned mask = (1u << a->k) - 1;
    for (size_t j = 0; j < m; j++) {
        unsigned old = a->key[a->order[j]];
        aging_push(a, a->order[j], (old & mask) >> 1 | (old >> a->k) << (a->k - 1));
    }
}

static void aging_free(struct aging *a)
{
    free(a->page); free(a->prev); free(a->next); free(a->key);
    free(a->head); free(a->tail); free(a->order);
}

static int aging_init(struct aging *a, size_t F, unsigned k)
{
    size_t nkeys = (size_t)2 << k;
    memset(a, 0, sizeof *a);
    a->k = k;
    a->page = malloc(F * sizeof *a->page);
    a->prev = malloc(F * sizeof *a->prev);
    a->next = malloc(F * sizeof *a->next);
    a->key = malloc(F * sizeof *a->key);
    a->order = malloc(F * sizeof *a->order);
    a->head = alloc_fill(nkeys, sizeof *a->head, 0xff);
    a->tail = alloc_fill(nkeys, sizeof *a->tail, 0xff);
    if (a->page && a->prev && a->next && a->key && a->order && a->head && a->tail)
        return 0;
    aging_free(a);
    return -ENOMEM;
}

static int run_aging(const sim_prepared *p, size_t F, unsigned k, uint64_t S, uint64_t *faults)
{
    struct aging a;
    uint32_t *slot = alloc_fill(p->npages, sizeof *slot, 0xff);
    if (!slot || aging_init(&a, F, k)) {
        free(slot);
        return -ENOMEM;
    }
    unsigned refbit = 1u << k;
    size_t used = 0;
    uint64_t nf = 0, since = 0;
    for (size_t i = 0; i < p->n; i++) {
        uint32_t pg = p->ids[i], s = slot[pg];
        if (s != NONE) {
            if (a.key[s] < refbit) {
                aging_unlink(&a, s);
                aging_push(&a, s, a.key[s] | refbit);
            }
        } else {
            nf++;
            if (used < F)
                s = (uint32_t)used++;
            else {
                s = a.head[aging_lowest(&a)];
                aging_unlink(&a, s);
                slot[a.page[s]] = NONE;
            }
            a.page[s] = pg;
            slot[pg] = s;
            aging_push(&a, s, refbit);
        }
        if (++since == S) {
            since = 0;
            aging_tick(&a);
        }
    }
    aging_free(&a);
    free(slot);
    *faults = nf;
    return 0;
}

/*
 * WSClock (Carr and Hennessy, 1981): Clock that knows about working sets.
 * Denning's working set W(t, tau) is the set of pages referenced in the last
 * tau references (virtual time); a page outside it is not worth its frame.
 * Each frame carries the virtual time of its page's last use as the hand
 * saw it: when the hand finds the reference bit set it clears it and stamps
 * the frame with the current time.  The first unreferenced page whose stamp
 * is older than tau - out of the window - is evicted.  If a whole sweep
 * finds none, every page is in the working set and the page under the hand
 * goes.  (The original also skips dirty pages while their write-back is
 * scheduled; a reference string has no writes, so that part is not here.)
 * The default window is tau = frames references; tau = 0 is Clock (only
 * the pages the sweep itself just stamped count as young).
 *
 * Stepping the hand frame by frame costs O(frames) per fault whenever most
 * pages are young (a sweep that fails stamps them all, and every fault for
 * the next tau references fails again).  The simulator gets the same
 * victim faster: a min-tree over the frames keyed by stamp (infinity while
 * the reference bit is set) finds the first old unreferenced frame from the
 * hand in O(log frames); the frames the hand would have passed with their
 * bit set are found in a bitmap and stamped "now" - each such bit was set
 * by a reference, which pays for it.  Pages passed without a bit keep their
 * stamps, as in the step-by-step version.
 */
struct wsclock {
    uint32_t *slot;                     /* per page: frame, NONE if absent */
    uint32_t *frame, *stamp;            /* per frame */
    uint32_t *tree;                     /* min-tree: stamp, or UINT32_MAX if referenced */
    uint64_t *ref, *sum;                /* per frame: reference bit; per word
                                           of ref: is it non-zero */
    size_t    F, leaves, used, hand;
    uint64_t  tau;
};

static void ws_key(struct wsclock *w, size_t s, uint32_t key)
{
    size_t i = s + w->leaves;
    w->tree[i] = key;
    for (i >>= 1; i; i >>= 1) {
        uint32_t a = w->tree[2 * i], b = w->tree[2 * i + 1], m = a < b ? a : b;
        if (w->tree[i] == m)
            break;
        w->tree[i] = m;
    }
}

/* The first frame >= lo in node's range [nl, nr) whose key is <= thr. */
static size_t ws_first(const struct wsclock *w, size_t node, size_t nl, size_t nr, size_t lo, uint32_t thr)
{
    if (nr <= lo || w->tree[node] > thr)
        return SIZE_MAX;
    if (nr - nl == 1)
        return nl;
    size_t mid = nl + (nr - nl) / 2, r = ws_first(w, 2 * node, nl, mid, lo, thr);
    return r != SIZE_MAX ? r : ws_first(w, 2 * node + 1, mid, nr, lo, thr);
}

/* The first word >= wi of ref that is non-zero, or wend. */
static size_t ws_next_word(const struct wsclock *w, size_t wi, size_t wend)
{
    while (wi < wend) {
        uint64_t m = w->sum[wi >> 6] & (~0ull << (wi & 63));
        if (m) {
            wi = (wi & ~(size_t)63) | (size_t)__builtin_ctzll(m);
            return wi < wend ? wi : wend;
        }
        wi = (wi | 63) + 1;
    }
    return wend;
}

/* The hand passes frames [a, b): clear their reference bits, stamp them. */
static void ws_pass(struct wsclock *w, size_t a, size_t b, uint32_t now)
{
    if (a >= b)
        return;
    size_t wend = ((b - 1) >> 6) + 1;
    for (size_t wi = ws_next_word(w, a >> 6, wend); wi < wend; wi = ws_next_word(w, wi + 1, wend)) {
        uint64_t bits = w->ref[wi];
        if (wi == a >> 6)
            bits &= ~0ull << (a & 63);
        if (wi == wend - 1 && (b & 63))
            bits &= (1ull << (b & 63)) - 1;
        w->ref[wi] &= ~bits;
        if (!w->ref[wi])
            w->sum[wi >> 6] &= ~(1ull << (wi & 63));
        for (; bits; bits &= bits - 1) {
            size_t s = wi << 6 | (size_t)__builtin_ctzll(bits);
            w->stamp[s] = now;
            ws_key(w, s, now);
        }
    }
}

static size_t wsclock_victim(struct wsclock *w, uint32_t now)
{
    size_t v = SIZE_MAX, h = w->hand;
    if (now > w->tau) {
        uint32_t thr = now - (uint32_t)w->tau - 1;  /* old: stamp <= thr */
        v = ws_first(w, 1, 0, w->leaves, h, thr);
        if (v == SIZE_MAX && h > 0)
            v = ws_first(w, 1, 0, w->leaves, 0, thr);
    }
    if (v == SIZE_MAX) {                /* all in the working set: a full turn */
        ws_pass(w, h, w->F, now);
        ws_pass(w, 0, h, now);
        v = h;
    } else if (v >= h)
        ws_pass(w, h, v, now);
    else {
        ws_pass(w, h, w->F, now);
        ws_pass(w, 0, v, now);
    }
    w->hand = v + 1 == w->F ? 0 : v + 1;
    return v;
}

static void wsclock_ref(struct wsclock *w, uint32_t pg, uint32_t now)
{
    size_t s = w->slot[pg];
    if (s == NONE) {
        if (w->used < w->F)
            s = w->used++;
        else {
            s = wsclock_victim(w, now);
            w->slot[w->frame[s]] = NONE;
        }
        w->frame[s] = pg;
        w->slot[pg] = (uint32_t)s;
        w->stamp[s] = now;
    } else if (w->ref[s >> 6] & 1ull << (s & 63))
        return;
    w->ref[s >> 6] |= 1ull << (s & 63);
    w->sum[s >> 12] |= 1ull << (s >> 6 & 63);
    ws_key(w, s, UINT32_MAX);
}

static void wsclock_free(struct wsclock *w)
{
    free(w->slot); free(w->frame); free(w->stamp); free(w->tree); free(w->ref); free(w->sum);
}

static int run_wsclock(const sim_prepared *p, size_t F, uint64_t tau, uint64_t *faults)
{
    struct wsclock w = { .F = F, .tau = tau, .leaves = 1 };
    while (w.leaves < F)
        w.leaves *= 2;
    w.slot = alloc_fill(p->npages, sizeof *w.slot, 0xff);
    w.frame = malloc(F * sizeof *w.frame);
    w.stamp = malloc(F * sizeof *w.stamp);
    w.tree = alloc_fill(2 * w.leaves, sizeof *w.tree, 0xff);
    w.ref = alloc_fill((F + 63) / 64, sizeof *w.ref, 0);
    w.sum = alloc_fill((F + 4095) / 4096, sizeof *w.sum, 0);
    int r = w.slot && w.frame && w.stamp && w.tree && w.ref && w.sum ? 0 : -ENOMEM;
    uint64_t nf = 0;
    for (size_t i = 0; !r && i < p->n; i++) {
        nf += w.slot[p->ids[i]] == NONE;
        wsclock_ref(&w, p->ids[i], (uint32_t)i + 1);
    }
    wsclock_free(&w);
    *faults = nf;
    return r;
}

/*
 * OPT (Belady's MIN): evict the page whose next use is farthest in the
 * future - never-used-again pages first.  No real system can know the
 * future; a simulator can, and OPT's fault count is the lower bound every
 * other policy is measured against.
 *
 * The naive version scans ahead on each fault (O(n) per fault).  Instead:
 * one backward pass computes next[i], the index of the next reference to
 * the page referenced at i (a map page -> "the position I last saw it at",
 * scanning from the end; with dense ids the map is an array).  Then, going
 * forward, every resident page's next use is known exactly, kept as the key
 * of a max-heap of the resident pages: a hit at i raises the page's key from
 * i to next[i] (sift up), a fault replaces the root - the farthest next use
 * - by the new page (sift down).  O(n log frames) in all.
 */
static int opt_prepare(sim_prepared *p)
{
    if (p->next)
        return 0;
    uint32_t *last = alloc_fill(p->npages, sizeof *last, 0xff);
    p->next = malloc((p->n ? p->n : 1) * sizeof *p->next);
    if (!last || !p->next) {
        free(last);
        free(p->next);
        p->next = NULL;
        return -ENOMEM;
    }
    for (size_t i = p->n; i-- > 0;) {
        p->next[i] = last[p->ids[i]];
        last[p->ids[i]] = (uint32_t)i;
    }
    free(last);
    return 0;
}

struct hent { uint32_t key, page; };

static void heap_up(struct hent *h, uint32_t *pos, size_t i)
{
    struct hent x = h[i];
    while (i > 0 && h[(i - 1) / 2].key < x.key) {
        h[i] = h[(i - 1) / 2];
        pos[h[i].page] = (uint32_t)i;
        i = (i - 1) / 2;
    }
    h[i] = x;
    pos[x.page] = (uint32_t)i;
}

static void heap_down(struct hent *h, uint32_t *pos, size_t n, size_t i)
{
    struct hent x = h[i];
    for (size_t c; (c = 2 * i + 1) < n; i = c) {
        if (c + 1 < n && h[c + 1].key > h[c].key)
            c++;
        if (h[c].key <= x.key)
            break;
        h[i] = h[c];
        pos[h[i].page] = (uint32_t)i;
    }
    h[i] = x;
    pos[x.page] = (uint32_t)i;
}

static int run_opt(sim_prepared *p, size_t F, uint64_t *faults)
{
    if (opt_prepare(p))
        return -ENOMEM;
    uint32_t *pos = alloc_fill(p->npages, sizeof *pos, 0xff);
    struct hent *h = malloc(F * sizeof *h);
    if (!pos || !h) {
        free(pos);
        free(h);
        return -ENOMEM;
    }
    size_t used = 0;
    uint64_t nf = 0;
    for (size_t i = 0; i < p->n; i++) {
        uint32_t pg = p->ids[i], nx = p->next[i];
        if (pos[pg] != NONE) {
            h[pos[pg]].key = nx;
            heap_up(h, pos, pos[pg]);
            continue;
        }
        nf++;
        if (used < F) {
            h[used] = (struct hent){ nx, pg };
            heap_up(h, pos, used++);
        } else {
            pos[h[0].page] = NONE;
            h[0] = (struct hent){ nx, pg };
            heap_down(h, pos, used, 0);
        }
    }
    free(pos);
    free(h);
    *faults = nf;
    return 0;
}

/*
 * S3-FIFO (Yang et al., "FIFO queues are all you need for cache eviction",
 * SOSP 2023).  Chosen over ARC and CLOCK-Pro because it is built only from
 * FIFO queues - flat ring buffers, O(1) per reference, no linked lists or
 * per-reference bookkeeping - so it fits this simulator's design, and it
 * reads as the next step after Clock: its main queue IS a clock with 2-bit
 * counters.  Its idea is "quick demotion": most pages referenced once are
 * never referenced again (scans, one-hit wonders), so a newcomer first
 * lands in a small probationary FIFO S (10% of the frames).  When it
 * reaches the end of S, it moves to the main FIFO M (90%) if it was
 * referenced while in S, and otherwise is evicted, leaving its id in a
 * ghost FIFO G (no frame; as many entries as M has frames).  A fault on a
 * page still in G means S was too short for it: it goes straight into M.
 * Each resident page has a counter of references, capped at 3; M evicts
 * from its end, reinserting a page with a non-zero counter after
 * decrementing it.  G is kept as a per-page "ghost stamp": the count of
 * G insertions when the page went in; it is still in G while fewer than
 * |G| insertions followed.
 */
enum { S3_FREQ = 3, S3_S = 4, S3_M = 8 };

struct ring { uint32_t *buf; size_t cap, first, count; };

static void ring_push(struct ring *r, uint32_t x)
{
    size_t i = r->first + r->count;
    r->buf[i >= r->cap ? i - r->cap : i] = x;
    r->count++;
}

static uint32_t ring_pop(struct ring *r)
{
    uint32_t x = r->buf[r->first];
    r->first = r->first + 1 == r->cap ? 0 : r->first + 1;
    r->count--;
    return x;
}

struct s3 {
    uint8_t    *st;                     /* per page: S3_S/S3_M | freq, 0 absent */
    uint32_t   *ghost;                  /* per page: ghost stamp, 0 none */
    uint32_t    gclock, gcap;
    struct ring s, m;
    size_t      scap, mcap;
};

static void s3_evict_m(struct s3 *c)
{
    for (;;) {
        uint32_t t = ring_pop(&c->m);
        if (!(c->st[t] & S3_FREQ)) {
            c->st[t] = 0;
            return;
        }
        c->st[t]--;
        ring_push(&c->m, t);
    }
}

static void s3_evict_s(struct s3 *c)
{
    while (c->s.count) {
        uint32_t t = ring_pop(&c->s);
        if (!(c->st[t] & S3_FREQ)) {
            c->st[t] = 0;
            c->ghost[t] = ++c->gclock;
            return;
        }
        if (c->m.count && c->m.count >= c->mcap)
            s3_evict_m(c);
        c->st[t] = S3_M;                /* counter cleared on promotion */
        ring_push(&c->m, t);
    }
}

static void s3_insert(struct s3 *c, uint32_t pg, size_t F)
{
    while (c->s.count + c->m.count >= F) {
        if (c->s.count >= c->scap || !c->m.count)
            s3_evict_s(c);
        else
            s3_evict_m(c);
    }
    if (c->ghost[pg] && c->gclock - c->ghost[pg] < c->gcap) {
        c->ghost[pg] = 0;
        c->st[pg] = S3_M;
        ring_push(&c->m, pg);
    } else {
        c->st[pg] = S3_S;
        ring_push(&c->s, pg);
    }
}

static int run_s3fifo(const sim_prepared *p, size_t F, uint64_t *faults)
{
    struct s3 c = { .scap = F / 10 ? F / 10 : 1 };
    c.mcap = F - c.scap;
    c.gcap = (uint32_t)c.mcap;
    c.st = alloc_fill(p->npages, 1, 0);
    c.ghost = alloc_fill(p->npages, sizeof *c.ghost, 0);
    c.s = (struct ring){ .buf = malloc(F * sizeof(uint32_t)), .cap = F };
    c.m = (struct ring){ .buf = malloc(F * sizeof(uint32_t)), .cap = F };
    uint64_t nf = 0;
    int r = c.st && c.ghost && c.s.buf && c.m.buf ? 0 : -ENOMEM;
    for (size_t i = 0; !r && i < p->n; i++) {
        uint32_t pg = p->ids[i];
        if (c.st[pg]) {
            if ((c.st[pg] & S3_FREQ) < S3_FREQ)
                c.st[pg]++;
            continue;
        }
        nf++;
        s3_insert(&c, pg, F);
    }
    free(c.st); free(c.ghost); free(c.s.buf); free(c.m.buf);
    *faults = nf;
    return r;
}

/* ------------------------------------------------------------- dispatch */

enum kind { K_OPT, K_FIFO, K_CLOCK, K_LRU, K_AGING, K_WSCLOCK, K_S3FIFO };

static const struct {
    const char *name;
    enum kind   kind;
    int         nargs;                  /* optional ":N" parameters */
    const char *help;
} policy_table[] = {
    { "opt",       K_OPT,     0, "Belady's MIN: evicts the page needed farthest ahead; the lower bound" },
    { "fifo",      K_FIFO,    0, "evicts the page loaded first" },
    { "clock",     K_CLOCK,   0, "second chance: FIFO sparing pages whose reference bit is set" },
    { "lru",       K_LRU,     0, "exact least recently used" },
    { "lru-aging", K_AGING,   2, "[:K[:S]] K-bit counters of reference bits, shifted every S\n"
      "             references (K 1..8, default 8; S default frames/4)" },
    { "wsclock",   K_WSCLOCK, 1, "[:TAU] Clock evicting pages out of the working-set window of\n"
      "             TAU references (default: frames; 0 is Clock)" },
    { "s3fifo",    K_S3FIFO,  0, "S3-FIFO (SOSP'23): probation FIFO, main 2-bit clock, ghost FIFO" },
};
#define NPOLICIES (sizeof policy_table / sizeof policy_table[0])

struct policy { enum kind kind; int nargs; uint64_t arg[2]; };

/* "name[:N[:N]]" -> policy; 0 or -EINVAL. */
static int policy_parse(const char *s, struct policy *pol)
{
    size_t len = strcspn(s, ":");
    for (size_t i = 0; i < NPOLICIES; i++) {
        if (strlen(policy_table[i].name) != len || strncmp(s, policy_table[i].name, len))
            continue;
        *pol = (struct policy){ .kind = policy_table[i].kind };
        for (const char *c = s + len; *c; pol->nargs++) {
            char *end;
            if (pol->nargs == policy_table[i].nargs || c[1] < '0' || c[1] > '9')
                return -EINVAL;
            pol->arg[pol->nargs] = strtoull(c + 1, &end, 10);
            if ((pol->arg[pol->nargs] == 0 && pol->kind != K_WSCLOCK) || (*end && *end != ':'))
                return -EINVAL;
            c = end;
        }
        if (pol->kind == K_AGING && pol->nargs >= 1 && pol->arg[0] > 8)
            return -EINVAL;
        return 0;
    }
    return -EINVAL;
}

int sim_policy_valid(const char *policy)
{
    struct policy pol;
    return policy_parse(policy, &pol) == 0;
}

const char *const *sim_policy_names(void)
{
    static const char *const names[] = {
        "opt", "fifo", "clock", "lru", "lru-aging", "wsclock", "s3fifo", NULL
    };
    _Static_assert(sizeof names / sizeof names[0] == NPOLICIES + 1, "policy_table and names differ");
    return names;
}

const char *sim_policy_help(const char *name)
{
    for (size_t i = 0; i < NPOLICIES; i++)
        if (!strcmp(name, policy_table[i].name))
            return policy_table[i].help;
    return NULL;
}

int sim_run_prepared(sim_prepared *p, const char *policy, size_t frames, uint64_t *faults)
{
    struct policy pol;
    if (policy_parse(policy, &pol) || frames == 0)
        return -EINVAL;
    if (frames >= p->npages) {          /* everything fits: compulsory faults only */
        *faults = p->npages;
        return 0;
    }
    switch (pol.kind) {
    case K_OPT:     return run_opt(p, frames, faults);
    case K_FIFO:    return run_fifo(p, frames, faults);
    case K_CLOCK:   return run_clock(p, frames, faults);
    case K_LRU:     return run_lru(p, frames, faults);
    case K_AGING:   return run_aging(p, frames, pol.nargs > 0 ? (unsigned)pol.arg[0] : 8,
                                     pol.nargs > 1 ? pol.arg[1] : (frames / 4 ? frames / 4 : 1), faults);
    case K_WSCLOCK: return run_wsclock(p, frames, pol.nargs > 0 ? pol.arg[0] : frames, faults);
    case K_S3FIFO:  return run_s3fifo(p, frames, faults);
    }
    return -EINVAL;
}

uint64_t sim_run(const char *policy, const uint64_t *refs, size_t n, size_t frames)
{
    sim_prepared p;
    uint64_t faults;
    if (sim_prepare(&p, refs, n))
        return UINT64_MAX;
    int r = sim_run_prepared(&p, policy, frames, &faults);
    sim_prepared_free(&p);
    return r ? UINT64_MAX : faults;
}
