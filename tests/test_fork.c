/*
 * test_fork: copy-on-write fork of an address space, checked on data.
 *   - sharing: after a fork of a resident region, the child reads the
 *     parent's bytes at the translated addresses; its pages are `shared`;
 *     reading all of them in both spaces leaves the process's Pss and the
 *     frame-store's allocated bytes where they were before the fork (plain
 *     build; VmRSS counts a page once per mapping, so it doubles) and the
 *     system's resident count does not grow;
 *   - COW both ways: the child rewrites half the pages, the parent a
 *     quarter (overlapping); each side reads exactly its own history, page
 *     by page, word by word - on a region 3x the budget, so every step runs
 *     through eviction and swap, shared pages included;
 *   - forks of forks: the child forks a grandchild, which writes too;
 *   - many threads: 4 threads write and verify their own pages in parent,
 *     child and grandchild at once, while the budget forces eviction;
 *   - the parent destroyed before its children: they keep their bytes;
 *   - reset: the grandchild returns to its parent's current contents (fast
 *     path when the parent did not write; general path after it did);
 *   - fork while other threads fault and write: each child is a consistent
 *     snapshot that does not move afterwards; the parent keeps every write;
 *   - swap stays shared: a page swapped out before the fork is read once for
 *     both sides; protections are kept;
 *   - nothing leaked: with every space gone, no frame is resident and no
 *     swap slot used, and the process has no more kernel mappings than
 *     before.
 */
#include "vmkit.h"
#include "check.h"
#include "../src/internal.h"                /* the frame-store descriptor */
#include <sys/stat.h>

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

enum { NPAGES = 3 * 2048, THREADS = 4 };      /* 24 MiB over an 8 MiB budget */

static uint64_t *ver_p, *ver_c, *ver_g;        /* version each page should hold per space */

static void write_page(uint64_t *p, uint64_t ver, size_t pg) { fill_page(p, ver, pg); }

static size_t check_space(const char *what, char *base, const uint64_t *ver)
{
    size_t bad = 0;
    for (size_t pg = 0; pg < NPAGES; pg++) {
        const char *p = base + pg * TPAGE;
        if (ver[pg] == 0) {
            for (size_t w = 0; w < TWORDS; w++)
                if (((const volatile uint64_t *)p)[w] != 0 && bad++ == 0)
                    fprintf(stderr, "%s: page %zu word %zu not zero\n", what, pg, w);
        } else {
            bad += verify_page(p, ver[pg], pg, what) != 0;
        }
    }
    return bad;
}

struct job { char *base; uint64_t *ver; uint64_t tag; int id; };

static void *writer(void *arg)
{
    struct job *j = arg;
    uint64_t s = 0x1234 + (uint64_t)j->id * 77 + j->tag;
    for (int round = 0; round < 2; round++) {
        for (size_t pg = (size_t)j->id; pg < NPAGES; pg += THREADS) {
            if (splitmix64(&s) % 3)
                continue;
            uint64_t v = j->tag * 1000 + (uint64_t)round + 1;
            write_page((uint64_t *)(j->base + pg * TPAGE), v, pg);
            j->ver[pg] = v;
        }
        for (size_t pg = (size_t)j->id; pg < NPAGES; pg += THREADS) {
            char name[32];
            snprintf(name, sizeof name, "thread %d tag %llu", j->id, ULL(j->tag));
            if (j->ver[pg] && verify_page(j->base + pg * TPAGE, j->ver[pg], pg, name))
                FAIL("thread %d: page %zu wrong in space %llu", j->id, pg, ULL(j->tag));
        }
    }
    return NULL;
}

static void threads_in_spaces(char *pb, char *cb, char *gb)
{
    pthread_t t[3 * THREADS];
    struct job jobs[3 * THREADS];
    char *bases[3] = { pb, cb, gb };
    uint64_t *vers[3] = { ver_p, ver_c, ver_g };
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < THREADS; i++) {
            jobs[s * THREADS + i] = (struct job){ bases[s], vers[s], (uint64_t)(10 + s), i };
            CHECK(pthread_create(&t[s * THREADS + i], NULL, writer, &jobs[s * THREADS + i]) == 0,
                  "pthread_create");
        }
    for (int i = 0; i < 3 * THREADS; i++)
        pthread_join(t[i], NULL);
}

/* Rss (kB) of the kernel mappings within [addr, addr+len), from
 * /proc/self/smaps: the pages the MMU maps there now (copy-on-write runs
 * are mappings of their own). */
static long range_rss_kb(const void *addr, size_t len)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    long total = 0, rss;
    bool in = false;
    while (f && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            in = lo >= (uintptr_t)addr && hi <= (uintptr_t)addr + len;
            continue;
        }
        if (in && sscanf(line, "Rss: %ld kB", &rss) == 1)
            total += rss;
    }
    if (f)
        fclose(f);
    return total;
}

/*
 * How a fork takes write access from the parent (src/fork.c): a big VMA's
 * page tables are moved out (the parent's mapping holds no page right
 * after the fork; its reads fault them back, correct), and a VMA whose
 * space read all of it back is write-protected at the next fork (its pages
 * stay mapped).  Seen from the kernel's smaps, checked on data each round.
 * VMK_FORK_MOVE=0 / 2 force one way: then only that way is checked.
 */
static void fork_move_choice(void)
{
    const char *env = getenv("VMK_FORK_MOVE");
    int mode = env && *env ? atoi(env) : 1;
    vmk_system *sys = open_system((size_t)64 << 20, NULL);
    vmk_space *p = new_space(sys);
    size_t n = 4096;                           /* 16 MiB, all resident */
    char *a = vmk_map_anon(p, n * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(a, "map");
    for (size_t pg = 0; pg < n; pg++)
        ((uint64_t *)(a + pg * TPAGE))[pg % TWORDS] = pg + 1;
    long full = range_rss_kb(a, n * TPAGE);
    CHECK(full >= (long)(n * 4), "the parent maps %ld kB of %zu before any fork", full, n * 4);
    for (int round = 0; round < 4; round++) {
        vmk_space *c;
        /* Collapsing unmapped what it moved, the policy unmaps pages to
         * sample references: read everything, so it is mapped now. */
        size_t bad = 0;
        for (size_t pg = 0; pg < n; pg++)
            bad += ((volatile uint64_t *)(a + pg * TPAGE))[pg % TWORDS] != pg + 1 + round;
        CHECK(bad == 0, "round %d: %zu words differ before the fork", round, bad);
        long before = range_rss_kb(a, n * TPAGE);
        CHECK(before >= (long)(n * 4 / 2), "round %d: only %ld kB mapped before the fork", round,
              before);
        CHECK(vmk_space_fork(p, &c) == 0, "round %d: fork", round);
        long after = range_rss_kb(a, n * TPAGE);
        /* Round 0 moves out (mode 1 or 2); round 1 write-protects in mode
         * 1, since round 0's parent read everything back. */
        bool moved = mode == 2 || (mode == 1 && round == 0);
        bool kept = mode == 0 || (mode == 1 && round == 1);
        if (moved)
            CHECK(after < before / 16, "round %d: %ld kB of %ld still mapped after a moving fork",
                  round, after, before);
        if (kept)                                 /* (the sampler may unmap a few meanwhile) */
            CHECK(after >= before / 2, "round %d: %ld kB of %ld mapped after a write-protecting "
                  "fork", round, after, before);
        char *b = vmk_space_translate(c, p, a);
        CHECK(b, "round %d: translate", round);
        for (size_t pg = 0; pg < n; pg++) {       /* the parent reads it all back */
            bad += ((volatile uint64_t *)(a + pg * TPAGE))[pg % TWORDS] != pg + 1 + round;
            bad += ((volatile uint64_t *)(b + pg * TPAGE))[pg % TWORDS] != pg + 1 + round;
        }
        CHECK(bad == 0, "round %d: %zu words differ", round, bad);

        for (size_t pg = 0; pg < n; pg += 3)      /* and writes some: copy-on-write */
            ((uint64_t *)(a + pg * TPAGE))[pg % TWORDS] = pg + 2 + round;
        for (size_t pg = 0; pg < n; pg++) {
            uint64_t want = pg + 1 + round + (pg % 3 == 0);
            bad += ((volatile uint64_t *)(a + pg * TPAGE))[pg % TWORDS] != want;
            bad += ((volatile uint64_t *)(b + pg * TPAGE))[pg % TWORDS] != pg + 1 + round;
        }
        CHECK(bad == 0, "round %d: %zu words differ after the parent's writes", round, bad);
        vmk_space_destroy(c);
        for (size_t pg = 0; pg < n; pg++)          /* next round's generation */
            if (pg % 3)
                ((uint64_t *)(a + pg * TPAGE))[pg % TWORDS] = pg + 2 + round;
    }
    vmk_space_destroy(p);
    vmk_stats st = get_stats(sys);
    CHECK(st.resident == 0 && st.swap_used == 0, "leak: resident %llu swap %llu", ULL(st.resident),
          ULL(st.swap_used));
    vmk_system_close(sys);
    printf("fork's way (VMK_FORK_MOVE=%d): the parent's mappings moved out or kept as chosen, data right in 4 rounds\n",
           mode);
}

#if !defined(VMK_TEST_ASAN) && !defined(VMK_TEST_TSAN)
/* kB the frame-store memfd holds (allocated, whether mapped or not). */
static long store_kb(vmk_system *sys)
{
    struct stat st;
    return fstat(sys->store_fd, &st) == 0 ? (long)(st.st_blocks / 2) : -1;
}
#endif

static void rss_sharing(void)
{
#if !defined(VMK_TEST_ASAN) && !defined(VMK_TEST_TSAN)
    vmk_system *sys = open_system((size_t)256 << 20, NULL);
    vmk_space *p = new_space(sys), *c;
    size_t n = 16384;                          /* 64 MiB, all resident */
    char *a = vmk_map_anon(p, n * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(a, "map");
    for (size_t pg = 0; pg < n; pg++)
        ((uint64_t *)(a + pg * TPAGE))[pg % TWORDS] = pg + 1;
    vmk_stats s0 = get_stats(sys);
    /* Before the fork: the parent maps all n pages (Pss counts them once),
     * and the frame-store holds them. */
    long rss0 = vmrss_kb(), pss0 = pss_kb(), store0 = store_kb(sys);
    double t0 = now_s();
    CHECK(vmk_space_fork(p, &c) == 0, "fork");
    double dt = now_s() - t0;
    char *b = vmk_space_translate(c, p, a);
    CHECK(b && b != a, "translate");
    for (size_t pg = 0; pg < n; pg++)
        CHECK(((volatile uint64_t *)(b + pg * TPAGE))[pg % TWORDS] == pg + 1, "child page %zu", pg);
    for (size_t pg = 0; pg < n; pg++)
        CHECK(((volatile uint64_t *)(a + pg * TPAGE))[pg % TWORDS] == pg + 1, "parent page %zu", pg);
    long grew = vmrss_kb() - rss0, pgrew = pss_kb() - pss0, sgrew = store_kb(sys) - store0;
    vmk_stats s1 = get_stats(sys);
    printf("sharing: fork of %zu resident pages took %.3f ms; reading all of them in child and "
           "parent grew Pss by %ld kB, the frame-store by %ld kB, VmRSS by %ld kB (which counts "
           "each mapping of a page) of %zu kB; vmkit resident %llu -> %llu (shared %llu)\n", n,
           dt * 1e3, pgrew, sgrew, grew, n * 4, ULL(s0.resident), ULL(s1.resident),
           ULL(s1.shared_resident));
    CHECK(pss0 > (long)(n * 4) && store0 >= (long)(n * 4), "before the fork: Pss %ld kB, store %ld kB",
          pss0, store0);
    CHECK(pgrew < (long)(n * 4 / 20), "the reads grew Pss by %ld kB: not shared", pgrew);
    CHECK(sgrew < (long)(n * 4 / 20), "the reads grew the frame-store by %ld kB: not shared", sgrew);
    CHECK(s1.resident <= s0.resident + 64, "resident grew from %llu to %llu", ULL(s0.resident),
          ULL(s1.resident));
    CHECK(s1.shared_resident >= n - 64, "shared_resident %llu", ULL(s1.shared_resident));
    vmk_space_destroy(c);
    vmk_space_destroy(p);
    vmk_stats s2 = get_stats(sys);
    CHECK(s2.resident == 0 && s2.swap_used == 0, "leak: resident %llu swap %llu", ULL(s2.resident),
          ULL(s2.swap_used));
    vmk_system_close(sys);
#endif
}

/*
 * Fork while other threads fault and write.  Two writers bump a counter in
 * word 0 of their pages (one 8-byte store: atomic), round after round,
 * over a region 2x the budget.  The main thread forks five times meanwhile.
 * Each child is a snapshot: every page's counter lies between what its
 * writer had finished before the fork began and what it had started when
 * the fork returned, and it does not move afterwards while the writers go
 * on; at the end the parent holds every last write.
 */
enum { LPAGES = 1024, WRITERS = 2 };
static _Atomic uint64_t done_round[WRITERS];   /* rounds finished */
static _Atomic int writers_stop;
static uint64_t *live;

static void *live_writer(void *arg)
{
    int id = (int)(uintptr_t)arg;
    for (uint64_t round = 1; !atomic_load(&writers_stop); round++) {
        for (size_t pg = (size_t)id; pg < LPAGES; pg += WRITERS)
            ((volatile uint64_t *)live)[pg * TWORDS] = round;
        atomic_store(&done_round[id], round);
    }
    return NULL;
}

static void fork_while_faulting(void)
{
    vmk_system *sys = open_system((size_t)2 << 20, NULL);
    vmk_space *p = new_space(sys);
    live = vmk_map_anon(p, LPAGES * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(live, "map");
    pthread_t t[WRITERS];
    for (int i = 0; i < WRITERS; i++)
        CHECK(pthread_create(&t[i], NULL, live_writer, (void *)(uintptr_t)i) == 0, "thread");
    static uint64_t snap[LPAGES];
    for (int f = 0; f < 5; f++) {
        usleep(20000);
        uint64_t lo[WRITERS], hi[WRITERS];
        for (int i = 0; i < WRITERS; i++)
            lo[i] = atomic_load(&done_round[i]);
        vmk_space *c;
        CHECK(vmk_space_fork(p, &c) == 0, "fork %d while writers run", f);
        for (int i = 0; i < WRITERS; i++)
            hi[i] = atomic_load(&done_round[i]) + 1;
        uint64_t *cb = vmk_space_translate(c, p, live);
        CHECK(cb, "translate");
        for (size_t pg = 0; pg < LPAGES; pg++) {
            uint64_t v = ((volatile uint64_t *)cb)[pg * TWORDS];
            int w = (int)(pg % WRITERS);
            CHECK(v >= lo[w] && v <= hi[w], "fork %d: child page %zu holds round %llu, not in "
                  "[%llu, %llu]", f, pg, ULL(v), ULL(lo[w]), ULL(hi[w]));
            snap[pg] = v;
        }
        usleep(20000);                                 /* the writers go on in the parent */
        for (size_t pg = 0; pg < LPAGES; pg++)
            CHECK(((volatile uint64_t *)cb)[pg * TWORDS] == snap[pg], "fork %d: child page %zu "
                  "moved after the fork", f, pg);
        vmk_space_destroy(c);
    }
    atomic_store(&writers_stop, 1);
    for (int i = 0; i < WRITERS; i++)
        pthread_join(t[i], NULL);
    for (size_t pg = 0; pg < LPAGES; pg++) {
        uint64_t v = ((volatile uint64_t *)live)[pg * TWORDS], want = done_round[pg % WRITERS];
        CHECK(v == want, "parent page %zu: round %llu, want %llu", pg, ULL(v), ULL(want));
    }
    vmk_stats st = get_stats(sys);
    printf("fork while faulting: 5 forks, writers at rounds %llu and %llu, %llu COW breaks\n",
           ULL(done_round[0]), ULL(done_round[1]), ULL(st.cow_breaks));
    vmk_system_close(sys);
}

/*
 * Swap stays shared: a page swapped out before the fork is read back once,
 * by whichever side touches it first; the other finds it in memory (no
 * second read).  Protections are kept by fork.
 */
static void swap_shared_and_prot(void)
{
    vmk_config c = vmk_config_default();
    c.memory_limit = (size_t)2 << 20;
    c.kswapd = 0;
    c.fault_around = 1;
    vmk_system *sys;
    CHECK(vmk_system_open(&sys, &c) == 0, "open");
    vmk_space *p = new_space(sys), *ch;
    size_t n = 2048;                                   /* 8 MiB over 2 MiB */
    char *a = vmk_map_anon(p, n * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    char *ro = vmk_map_anon(p, 16 * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(a && ro, "map");
    for (size_t pg = 0; pg < n; pg++)
        fill_page(a + pg * TPAGE, 5, pg);
    for (size_t pg = 0; pg < 16; pg++)
        fill_page(ro + pg * TPAGE, 6, pg);
    CHECK(vmk_protect(p, ro, 16 * TPAGE, VMK_PROT_READ) == 0, "protect");
    CHECK(get_info(p, a).state == VMK_PAGE_SWAPPED, "page 0 not in swap before the fork");
    CHECK(vmk_space_fork(p, &ch) == 0, "fork");
    char *b = vmk_space_translate(ch, p, a), *bro = vmk_space_translate(ch, p, ro);
    CHECK(b && bro, "translate");
    struct vmk_page_info pi = get_info(ch, bro);
    CHECK(pi.prot == VMK_PROT_READ, "the child's copy of a read-only mapping is not read-only");
    CHECK(verify_page(bro, 6, 0, "child read-only page") == 0, "read-only page");
    int checked = 0;
    for (size_t pg = 0; pg < 64 && checked < 8; pg++) {
        if (get_info(p, a + pg * TPAGE).state != VMK_PAGE_SWAPPED)
            continue;
        vmk_stats s0 = get_stats(sys);
        CHECK(verify_page(b + pg * TPAGE, 5, pg, "child") == 0, "child page %zu", pg);
        vmk_stats s1 = get_stats(sys);
        CHECK(verify_page(a + pg * TPAGE, 5, pg, "parent") == 0, "parent page %zu", pg);
        vmk_stats s2 = get_stats(sys);
        CHECK(s1.pages_swapped_in == s0.pages_swapped_in + 1, "child's read of page %zu read %llu "
              "pages", pg, ULL(s1.pages_swapped_in - s0.pages_swapped_in));
        CHECK(s2.pages_swapped_in == s1.pages_swapped_in, "the parent read page %zu from swap again",
              pg);
        checked++;
    }
    CHECK(checked == 8, "only %d swapped pages to check", checked);
    vmk_space_destroy(ch);
    vmk_space_destroy(p);
    vmk_system_close(sys);
    printf("swap shared: 8 pages swapped before the fork read once for both sides; protections kept\n");
}

/* A space *p of n pages, each filled with version 1 (at *a), forked into
 * *c (the same pages at *b). */
static void forked_pages(vmk_system *sys, size_t n, vmk_space **p, vmk_space **c, char **a,
                         char **b)
{
    *p = new_space(sys);
    *a = vmk_map_anon(*p, n * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(*a, "map");
    for (size_t pg = 0; pg < n; pg++)
        fill_page(*a + pg * TPAGE, 1, pg);
    CHECK(vmk_space_fork(*p, c) == 0, "fork");
    *b = vmk_space_translate(*c, *p, *a);
    CHECK(*b, "translate");
}

/*
 * Copy-on-write around: a sequential writer gets its copies several pages
 * per fault; the pages copied ahead of it hold the snapshot's bytes (on its
 * side) and are its own (the other side's later writes do not show), with
 * or without eviction (holders in swap are read for the copy).
 */
static void cow_around(size_t limit_mb)
{
    enum { N = 4096, CW = 1500, PW0 = 1400, PW1 = 2200 };      /* 16 MiB */
    vmk_system *sys = open_system(limit_mb << 20, NULL);
    vmk_space *p, *c;
    char *a, *b;
    forked_pages(sys, N, &p, &c, &a, &b);
    vmk_stats s0 = get_stats(sys);
    for (size_t pg = 0; pg < CW; pg++)                 /* the child, up to CW */
        fill_page(b + pg * TPAGE, 2, pg);
    vmk_stats s1 = get_stats(sys);
    for (size_t pg = PW0; pg < PW1; pg++)              /* the parent, across CW */
        fill_page(a + pg * TPAGE, 3, pg);
    vmk_stats s2 = get_stats(sys);
    size_t bad = 0;
    for (size_t pg = 0; pg < N; pg++) {
        bad += verify_page(b + pg * TPAGE, pg < CW ? 2 : 1, pg, "child") != 0;
        bad += verify_page(a + pg * TPAGE, pg >= PW0 && pg < PW1 ? 3 : 1, pg, "parent") != 0;
    }
    CHECK(bad == 0, "%zu pages wrong after sequential copy-on-write", bad);
    uint64_t ahead = s2.cow_ahead - s0.cow_ahead, copied = s2.cow_breaks - s0.cow_breaks;
    uint64_t cfaults = s1.faults - s0.faults;
    CHECK(ahead > CW / 2, "only %llu pages copied ahead of a sequential writer", ULL(ahead));
    CHECK(copied >= CW + (PW1 - PW0) && copied <= CW + (PW1 - PW0) + 2 * 64,
          "%llu pages copied for %d written (at most a window ahead per writer)", ULL(copied),
          CW + (PW1 - PW0));
    if (limit_mb >= 64)                                /* nothing evicted: all resident */
        CHECK(cfaults <= CW / 8, "the sequential child took %llu faults for %d pages",
              ULL(cfaults), CW);
    vmk_space_destroy(c);
    vmk_space_destroy(p);
    vmk_system_close(sys);
    printf("copy-on-write around (%zu MiB budget): %d + %d pages written, %llu copied "
           "(%llu ahead), child faults %llu\n", limit_mb, CW, PW1 - PW0, ULL(copied), ULL(ahead),
           ULL(cfaults));
}

/* A swap read that fails while copy-on-write around reads ahead is no
 * reason to fail the write that asked: it breaks its own page alone. */
static void cow_around_read_error(void)
{
    enum { N = 2048 };                                  /* 8 MiB over 4 MiB */
    vmk_system *sys = open_system((size_t)4 << 20, NULL);
    vmk_space *p, *c;
    char *a, *b;
    forked_pages(sys, N, &p, &c, &a, &b);
    for (size_t pg = 0; pg < N; pg++) {
        if (pg == 300)                                  /* the window is 64 by now */
            inject_arm(sys, VMK_INJECT_SWAP_READ, 1, 1, 0, 0);
        fill_page(b + pg * TPAGE, 2, pg);               /* SIGBUS here fails the test */
    }
    size_t bad = 0;
    for (size_t pg = 0; pg < N; pg++) {
        bad += verify_page(b + pg * TPAGE, 2, pg, "child") != 0;
        bad += verify_page(a + pg * TPAGE, 1, pg, "parent") != 0;
    }
    CHECK(bad == 0, "%zu pages wrong", bad);
    CHECK(inject_hits(sys, VMK_INJECT_SWAP_READ) == 1, "the injected read error did not happen");
    CHECK(get_stats(sys).sigbus == 0, "a write got SIGBUS");
    vmk_space_destroy(c);
    vmk_space_destroy(p);
    vmk_system_close(sys);
    printf("copy-on-write around: a failed swap read ahead did not fail the write\n");
}

int main(void)
{
    int maps0 = count_maps();
    cow_around_read_error();
    cow_around(64);
    cow_around(4);
    fork_move_choice();
    rss_sharing();
    fork_while_faulting();
    swap_shared_and_prot();
    vmk_system *sys = open_system((size_t)8 << 20, NULL);
    vmk_space *p = new_space(sys), *c, *g;
    char *pb = vmk_map_anon(p, NPAGES * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(pb, "map");
    ver_p = calloc(NPAGES, 8), ver_c = calloc(NPAGES, 8), ver_g = calloc(NPAGES, 8);
    for (size_t pg = 0; pg < NPAGES; pg++)
        if (pg % 7 != 3) {                       /* some pages never touched */
            write_page((uint64_t *)(pb + pg * TPAGE), 1, pg);
            ver_p[pg] = 1;
        }
    CHECK(vmk_space_fork(p, &c) == 0, "fork");
    char *cb = vmk_space_translate(c, p, pb);
    CHECK(cb && vmk_space_translate(p, c, cb + 5) == pb + 5, "translate both ways");
    memcpy(ver_c, ver_p, NPAGES * 8);
    struct vmk_page_info pi = get_info(c, cb);
    CHECK(pi.shared, "a child page is not shared after fork");
    CHECK(check_space("child after fork", cb, ver_c) == 0, "child differs from parent after fork");

    /* COW both ways, through eviction. */
    for (size_t pg = 0; pg < NPAGES; pg += 2) {
        write_page((uint64_t *)(cb + pg * TPAGE), 2, pg);
        ver_c[pg] = 2;
    }
    for (size_t pg = 0; pg < NPAGES; pg += 4) {
        write_page((uint64_t *)(pb + pg * TPAGE), 3, pg);
        ver_p[pg] = 3;
    }
    CHECK(check_space("parent", pb, ver_p) == 0, "parent wrong after COW");
    CHECK(check_space("child", cb, ver_c) == 0, "child wrong after COW");
    vmk_stats st = get_stats(sys);
    CHECK(st.cow_breaks >= NPAGES / 2 + NPAGES / 4 - NPAGES / 7, "cow_breaks %llu", ULL(st.cow_breaks));
    CHECK(st.pages_swapped_out > 0 && st.pages_swapped_in > 0, "no swapping happened");

    /* Fork of a fork, and the three of them at once from many threads. */
    CHECK(vmk_space_fork(c, &g) == 0, "fork of fork");
    char *gb = vmk_space_translate(g, c, cb);
    CHECK(gb && vmk_space_translate(g, p, pb) == gb, "translate across two forks");
    memcpy(ver_g, ver_c, NPAGES * 8);
    CHECK(check_space("grandchild", gb, ver_g) == 0, "grandchild differs after fork");
    threads_in_spaces(pb, cb, gb);
    CHECK(check_space("parent", pb, ver_p) == 0, "parent wrong after threads");
    CHECK(check_space("child", cb, ver_c) == 0, "child wrong after threads");
    CHECK(check_space("grandchild", gb, ver_g) == 0, "grandchild wrong after threads");

    /* Reset, fast path: the child (g's parent) has not written since g's fork?
     * It has (threads) - so first the general path. */
    CHECK(vmk_space_reset(g) == 0, "reset (general)");
    memcpy(ver_g, ver_c, NPAGES * 8);
    CHECK(check_space("grandchild after reset", gb, ver_g) == 0, "reset (general) wrong");
    for (size_t pg = 1; pg < NPAGES; pg += 3) {
        write_page((uint64_t *)(gb + pg * TPAGE), 77, pg);
        ver_g[pg] = 77;
    }
    uint64_t breaks = get_stats(sys).cow_breaks;
    CHECK(vmk_space_reset(g) == 0, "reset (fast)");
    memcpy(ver_g, ver_c, NPAGES * 8);
    CHECK(check_space("grandchild after fast reset", gb, ver_g) == 0, "reset (fast) wrong");
    CHECK(get_stats(sys).cow_breaks == breaks, "reset copied pages");

    /* The parent goes first. */
    vmk_space_destroy(p);
    CHECK(check_space("child after parent died", cb, ver_c) == 0, "child wrong after parent died");
    CHECK(check_space("grandchild after parent died", gb, ver_g) == 0, "grandchild wrong");
    CHECK(vmk_space_reset(c) == -ESRCH, "reset without a parent");
    vmk_space_destroy(c);
    CHECK(check_space("grandchild alone", gb, ver_g) == 0, "grandchild wrong alone");
    vmk_space_destroy(g);
    st = get_stats(sys);
    CHECK(st.resident == 0 && st.swap_used == 0 && st.shared_resident == 0,
          "leak: resident %llu, swap used %llu, shared %llu", ULL(st.resident), ULL(st.swap_used),
          ULL(st.shared_resident));
    CHECK(st.sigbus == 0 && st.io_errors == 0, "sigbus %llu io errors %llu", ULL(st.sigbus),
          ULL(st.io_errors));
    vmk_system_close(sys);
    int maps1 = count_maps();
#if !defined(VMK_TEST_ASAN) && !defined(VMK_TEST_TSAN)  /* their runtimes map as they go */
    /* Slack: stacks of finished threads glibc keeps (kswapd, the reaper,
     * write-protect helpers: two mappings each), malloc's arenas. */
    CHECK(maps1 <= maps0 + 12, "kernel mappings leaked: %d before, %d after", maps0, maps1);
    CHECK(count_maps_of("vmkit-frames") == 0, "%d windows on the frame-store left",
          count_maps_of("vmkit-frames"));
#else
    (void)maps0, (void)maps1;
#endif
    printf("ok: fork, COW both ways, fork of fork, threads, reset, parent first; %llu COW breaks, "
           "%llu swapped out, %llu swapped in\n", ULL(st.cow_breaks), ULL(st.pages_swapped_out),
           ULL(st.pages_swapped_in));
    free(ver_p), free(ver_c), free(ver_g);
    return 0;
}
