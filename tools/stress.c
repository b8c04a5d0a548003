/*
 * stress.c - `vmkit stress`: random operations from many threads against a model.
 *
 * Every thread owns a few spaces of one shared system and, in them, up to
 * SLOTS mappings; it draws operations at random - map, unmap (whole, head,
 * tail: splits), protect, write, read-and-check, page_info-and-check, bad
 * calls that must fail and change nothing, destroy a space and start again,
 * fork space 0 into space 1 (copy-on-write) or reset space 1 to space 0
 * (often: a space 0 lives through ~100 of them, far past VMK_FORK_DEPTH_MAX,
 * which only collapsing the fork tree makes possible),
 * map a file shared or private and vmk_sync it (the file's bytes are then
 * checked with pread: a shared file holds what was written, a private one
 * never changes) -
 * and keeps a model of every page: the seed of its last write, or 0 for a
 * page never written (it must read as zeros).  The budget is tiny, so
 * eviction never stops, and the threads' faults, evictions and swap-ins
 * interleave all the time.  Each thread's generator is seeded from --seed
 * and its index, so a failure is reproduced by the same command line.
 */
#include "commands.h"
#include <vmkit.h>
#include "cli.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int vmk_cmd_stress(int argc, char **argv);

enum { SLOTS = 6, MAXPAGES = 256, SPACES = 2 };

/* FILE_RO: a file of known bytes mapped read-only through a read-only
 * descriptor (shared or private): alone on its file, such a mapping is
 * "mapped once" in a system with readers (src/fileonce.c), until a fork, a
 * split or vmk_protect ends that. */
enum kind { ANON, FILE_SHARED, FILE_PRIVATE, FILE_RO };

struct region {
    uint64_t *base;
    size_t npages;
    int prot;
    int space;
    enum kind kind;
    int fd;                        /* file regions: an unlinked temporary file */
    size_t foff;                   /* file page of the first page */
    uint32_t fbase;                /* FILE_RO: the file's bytes (file_seed) */
    int shared;                    /* FILE_RO: mapped shared */
    uint32_t seed[MAXPAGES];
};

struct stress {
    vmk_system *sys;
    double seconds;
    int threads;
    uint64_t seed;
    size_t limit;
    int self_test;                 /* corrupt thread 0's model: the run must fail */
    _Atomic uint64_t ops, mismatches, errors, forks, resets;
    _Atomic uint64_t most_forks;   /* forks and resets one space 0 lived through */
    _Atomic int stop;
};

struct worker { struct stress *st; int id; };

static uint64_t rnd(uint64_t *s) { *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17; return *s; }

static uint64_t word(uint32_t seed, size_t w) { return seed ? (uint64_t)seed * 0x9E3779B97F4A7C15ull + w : 0; }

/* Count a mismatch; print the first ones with what vmkit says of the page. */
static void mismatch(struct stress *st, int id, vmk_space *as, struct region *r, size_t p,
                     size_t w, uint64_t got)
{
    if (atomic_fetch_add(&st->mismatches, 1) >= 3)
        return;
    struct vmk_page_info pi = { 0 };
    vmk_page_info(as, r->base + p * 512, &pi);
    fprintf(stderr, "\nMISMATCH thread %d space %d mapping %p page %zu word %zu: got %#llx, want %#llx "
                    "(page state %d, slot %lld, dirty %d); seed %llu\n",
            id, r->space, (void *)r->base, p, w, (unsigned long long)got,
            (unsigned long long)word(r->seed[p], w), pi.state, (long long)pi.swap_slot, pi.dirty,
            (unsigned long long)st->seed);
}

static void unexpected(struct stress *st, int id, const char *what, int err)
{
    if (atomic_fetch_add(&st->errors, 1) < 3)
        fprintf(stderr, "\nUNEXPECTED thread %d: %s: %s\n", id, what, vmk_strerror(err));
}

static void check_page(struct stress *st, int id, vmk_space *as, struct region *r, size_t p)
{
    const uint64_t *pg = r->base + p * 512;
    for (size_t w = 0; w < 512; w += 31)
        if (pg[w] != word(r->seed[p], w)) {
            mismatch(st, id, as, r, p, w, pg[w]);
            return;
        }
}

/* The seed of file page fp of a FILE_RO region's file. */
static uint32_t file_seed(const struct region *r, size_t fp)
{
    return (r->fbase + (uint32_t)fp * 2654435761u) | 1;
}

static void write_page(struct region *r, size_t p, uint32_t seed)
{
    uint64_t *pg = r->base + p * 512;
    for (size_t w = 0; w < 512; w += 31)
        pg[w] = word(seed, w);
    r->seed[p] = seed;
}

/* A zero-filled temporary file of n pages, nameless. */
static int temp_file(size_t n)
{
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 && ftruncate(fd, (off_t)(n * 4096)) < 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Check sampled words of a file region's file against the model: a shared
 * region's file after vmk_sync holds what was written; a private region's
 * file never changes (zeros). */
static void check_file(struct stress *st, int id, struct region *r, uint64_t *s)
{
    uint64_t pagebuf[512];
    for (int k = 0; k < 4; k++) {
        size_t p = rnd(s) % r->npages;
        if (pread(r->fd, pagebuf, 4096, (off_t)((r->foff + p) * 4096)) != 4096) {
            unexpected(st, id, "pread of a mapped file", -errno);
            return;
        }
        uint32_t seed = r->kind == FILE_SHARED ? r->seed[p]
                        : r->kind == FILE_RO ? file_seed(r, r->foff + p) : 0;
        for (size_t w = 0; w < 512; w += 31)
            if (pagebuf[w] != word(seed, w)) {
                if (atomic_fetch_add(&st->mismatches, 1) < 3)
                    fprintf(stderr, "\nMISMATCH thread %d: %s file page %zu word %zu: %#llx, want "
                                    "%#llx; seed %llu\n", id,
                            r->kind == FILE_SHARED ? "shared" : "private", r->foff + p, w,
                            (unsigned long long)pagebuf[w], (unsigned long long)word(seed, w),
                            (unsigned long long)st->seed);
                return;
            }
    }
}

/* A FILE_RO region's file: its pages' words written, then a read-only
 * descriptor of it (what vmkit's readers need); -1 on failure. */
static int ro_file(struct region *r)
{
    int fd = temp_file(r->npages), ro = -1;
    if (fd < 0)
        return -1;
    uint64_t pagebuf[512];
    memset(pagebuf, 0, sizeof pagebuf);
    size_t p = 0;
    for (; p < r->npages; p++) {
        for (size_t w = 0; w < 512; w += 31)
            pagebuf[w] = word(file_seed(r, p), w);
        if (pwrite(fd, pagebuf, 4096, (off_t)(p * 4096)) != 4096)
            break;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    if (p == r->npages)
        ro = open(path, O_RDONLY | O_CLOEXEC);
    close(fd);
    return ro;
}

static void region_close(struct region *r)
{
    if (r->kind != ANON && r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    r->base = NULL;
}

static void op_map(struct stress *st, int id, vmk_space **sp, struct region *r, uint64_t *s)
{
    r->space = (int)(rnd(s) % SPACES);
    r->npages = 1 + rnd(s) % MAXPAGES;
    unsigned k = rnd(s) % 12;
    r->kind = k < 7 ? ANON : k < 9 ? FILE_SHARED : k < 10 ? FILE_PRIVATE : FILE_RO;
    r->fd = -1;
    r->foff = 0;
    int rw = VMK_PROT_READ | VMK_PROT_WRITE;
    if (r->kind == ANON) {
        r->base = vmk_map_anon(sp[r->space], r->npages * 4096, rw);
    } else if (r->kind == FILE_RO) {
        r->fbase = (uint32_t)rnd(s);
        r->shared = (int)(rnd(s) % 2);
        r->base = NULL;
        if ((r->fd = ro_file(r)) >= 0)
            r->base = vmk_map_file(sp[r->space], r->fd, 0, r->npages * 4096, VMK_PROT_READ,
                                   r->shared ? VMK_MAP_SHARED : VMK_MAP_PRIVATE);
        if (!r->base) {
            unexpected(st, id, "vmk_map_file read-only", -errno);
            region_close(r);
            return;
        }
        r->prot = VMK_PROT_READ;
        for (size_t p = 0; p < r->npages; p++)
            r->seed[p] = file_seed(r, p);
        return;
    } else if ((r->fd = temp_file(r->npages)) >= 0) {
        r->base = vmk_map_file(sp[r->space], r->fd, 0, r->npages * 4096, rw,
                               r->kind == FILE_SHARED ? VMK_MAP_SHARED : VMK_MAP_PRIVATE);
    } else {
        r->base = NULL;
        errno = errno ? errno : EIO;
    }
    if (!r->base) {
        unexpected(st, id, r->kind == ANON ? "vmk_map_anon" : "vmk_map_file", -errno);
        region_close(r);
        return;
    }
    r->prot = VMK_PROT_READ | VMK_PROT_WRITE;
    memset(r->seed, 0, sizeof r->seed);
}

/* Unmap the head or the tail of a region (a split), or all of it. */
static void op_unmap(struct stress *st, int id, vmk_space *as, struct region *r, uint64_t *s)
{
    size_t k = r->npages > 1 ? 1 + rnd(s) % (r->npages - 1) : r->npages;
    int head = rnd(s) % 2, err;
    if (k == r->npages || rnd(s) % 4 == 0) {
        if ((err = vmk_unmap(as, r->base, r->npages * 4096)))
            unexpected(st, id, "vmk_unmap", err);
        if (r->kind != ANON && !err)        /* unmap wrote a shared file back */
            check_file(st, id, r, s);
        region_close(r);
    } else if (head) {
        if ((err = vmk_unmap(as, r->base, k * 4096)))
            unexpected(st, id, "vmk_unmap head", err);
        r->base += k * 512;
        r->foff += k;
        memmove(r->seed, r->seed + k, (r->npages - k) * sizeof r->seed[0]);
        r->npages -= k;
    } else {
        if ((err = vmk_unmap(as, r->base + k * 512, (r->npages - k) * 4096)))
            unexpected(st, id, "vmk_unmap tail", err);
        r->npages = k;
    }
}

/* Bad calls must fail with EINVAL and change nothing. */
static void op_bad(struct stress *st, int id, vmk_space *as, struct region *r, uint64_t *s)
{
    void *addr = (char *)r->base + 1 + rnd(s) % 4095;
    int e1 = vmk_unmap(as, addr, 4096), e2 = vmk_protect(as, r->base, 0, VMK_PROT_READ);
    int e3 = vmk_protect(as, r->base, r->npages * 4096, 0x80);
    if (e1 != -EINVAL || e2 != -EINVAL || e3 != -EINVAL)
        unexpected(st, id, "a bad call was not refused", e1 ? e1 : -EINVAL);
}

static void op_info(struct stress *st, int id, vmk_space *as, struct region *r, size_t p)
{
    struct vmk_page_info pi;
    int err = vmk_page_info(as, r->base + p * 512, &pi);
    if (err)
        unexpected(st, id, "vmk_page_info", err);
    else if (r->kind == ANON && r->seed[p] && pi.state == VMK_PAGE_NONE)
        mismatch(st, id, as, r, p, 0, 0);
}

static void one_op(struct stress *st, int id, vmk_space **sp, struct region *reg, uint64_t *s)
{
    struct region *r = &reg[rnd(s) % SLOTS];
    if (!r->base) {
        op_map(st, id, sp, r, s);
        return;
    }
    vmk_space *as = sp[r->space];
    size_t p = rnd(s) % r->npages;
    unsigned op = rnd(s) % 100;
    if (op < 4)
        op_unmap(st, id, as, r, s);
    else if (op < 8) {
        int prot = rnd(s) % 3 ? VMK_PROT_READ | VMK_PROT_WRITE : VMK_PROT_READ;
        int err = vmk_protect(as, r->base, r->npages * 4096, prot);
        int refused = r->kind == FILE_RO && r->shared && (prot & VMK_PROT_WRITE);
        if (refused ? err != -EACCES : err != 0)   /* a read-only file shared: EACCES */
            unexpected(st, id, "vmk_protect", err ? err : -EINVAL);
        if (!err)
            r->prot = prot;
    } else if (op < 10)
        op_bad(st, id, as, r, s);
    else if (op < 13)
        op_info(st, id, as, r, p);
    else if (op < 15 && r->kind != ANON) {
        int err = vmk_sync(as, r->base, r->npages * 4096);
        if (err)
            unexpected(st, id, "vmk_sync", err);
        else
            check_file(st, id, r, s);
    }
    else if (op < 17 && r->kind == FILE_RO) {
        for (size_t q = 0; q < r->npages; q++)   /* in order: readahead, the readers */
            check_page(st, id, as, r, q);
    } else if (op < 50 && (r->prot & VMK_PROT_WRITE)) {
        write_page(r, p, (uint32_t)rnd(s) | 1);
        if (st->self_test && id == 0)            /* the model now disagrees */
            r->seed[p] ^= 2;
    } else
        check_page(st, id, as, r, p);
}

/* Destroy both spaces (after checking everything) and start with new ones. */
static void renew_spaces(struct stress *st, int id, vmk_space **sp, struct region *reg,
                         uint64_t *s)
{
    for (int i = 0; i < SLOTS; i++) {
        if (!reg[i].base)
            continue;
        for (size_t p = 0; p < reg[i].npages; p++)
            check_page(st, id, sp[reg[i].space], &reg[i], p);
    }
    for (int i = 0; i < SPACES; i++)
        vmk_space_destroy(sp[i]);
    for (int i = 0; i < SLOTS; i++) {       /* destroy wrote shared files back */
        if (reg[i].base && reg[i].kind != ANON)
            check_file(st, id, &reg[i], s);
        if (reg[i].base)
            region_close(&reg[i]);
    }
    for (int i = 0; i < SPACES; i++) {
        int err = vmk_space_create(st->sys, &sp[i]);
        if (err)
            unexpected(st, id, "vmk_space_create", err);
    }
}

/* Space 1's regions become copies of space 0's, at the addresses
 * vmk_space_translate gives (after a fork or a reset of space 1). */
static void mirror_regions(struct stress *st, int id, vmk_space **sp, struct region *reg)
{
    for (int i = 0; i < SLOTS; i++)
        if (reg[i].base && reg[i].space == 1)
            region_close(&reg[i]);
    for (int i = 0; i < SLOTS; i++) {
        if (!reg[i].base || reg[i].space != 0 || reg[i].kind != ANON)
            continue;                    /* file regions' copies live on untracked */
        int j = 0;
        while (j < SLOTS && reg[j].base)
            j++;
        if (j == SLOTS)
            return;                      /* no room: the copy lives on untracked */
        uint64_t *b = vmk_space_translate(sp[1], sp[0], reg[i].base);
        struct vmk_page_info pi;
        if (!b || vmk_page_info(sp[1], b, &pi)) {
            unexpected(st, id, "vmk_space_translate after fork", -EFAULT);
            continue;
        }
        reg[j] = reg[i];
        reg[j].base = b, reg[j].space = 1, reg[j].prot = pi.prot, reg[j].fd = -1;
    }
}

/*
 * Fork space 0 into a new space 1 (after checking and dropping space 1), or
 * reset space 1 back to space 0's contents.  From then on both are written
 * and checked independently: copy-on-write must keep each side's history.
 */
static void op_fork(struct stress *st, int id, vmk_space **sp, struct region *reg, int *forked,
                    int reset)
{
    for (int i = 0; i < SLOTS; i++)
        if (reg[i].base && reg[i].space == 1)
            for (size_t p = 0; p < reg[i].npages; p++)
                check_page(st, id, sp[1], &reg[i], p);
    int err;
    if (reset && *forked) {
        if ((err = vmk_space_reset(sp[1])))
            unexpected(st, id, "vmk_space_reset", err);
        atomic_fetch_add(&st->resets, 1);
    } else {
        for (int i = 0; i < SLOTS; i++)
            if (reg[i].base && reg[i].space == 1)
                region_close(&reg[i]);
        vmk_space_destroy(sp[1]);
        if ((err = vmk_space_fork(sp[0], &sp[1]))) {
            unexpected(st, id, "vmk_space_fork", err);
            vmk_space_create(st->sys, &sp[1]);
            *forked = 0;
            return;
        }
        *forked = 1;
        atomic_fetch_add(&st->forks, 1);
    }
    mirror_regions(st, id, sp, reg);
}

static void *stress_thread(void *arg)
{
    struct worker *wk = arg;
    struct stress *st = wk->st;
    uint64_t s = st->seed * 0x9E3779B97F4A7C15ull + (uint64_t)wk->id * 7919 + 1;
    vmk_space *sp[SPACES];
    for (int i = 0; i < SPACES; i++)
        vmk_space_create(st->sys, &sp[i]);
    struct region reg[SLOTS];
    memset(reg, 0, sizeof reg);
    int forked = 0;                      /* space 1 was made by vmk_space_fork */
    uint64_t forks = 0;                  /* of this space 0 */
    while (!atomic_load_explicit(&st->stop, memory_order_relaxed)) {
        for (int k = 0; k < 256; k++)
            one_op(st, wk->id, sp, reg, &s);
        atomic_fetch_add_explicit(&st->ops, 256, memory_order_relaxed);
        uint64_t x = rnd(&s) % 1000;
        if (x == 0) {
            renew_spaces(st, wk->id, sp, reg, &s);
            forked = 0;
            forks = 0;
        } else if (x < 100) {
            op_fork(st, wk->id, sp, reg, &forked, x % 2 == 0);
            uint64_t most = atomic_load(&st->most_forks);
            forks++;
            while (forks > most && !atomic_compare_exchange_weak(&st->most_forks, &most, forks))
                ;
        }
    }
    renew_spaces(st, wk->id, sp, reg, &s);
    for (int i = 0; i < SPACES; i++)
        vmk_space_destroy(sp[i]);
    return NULL;
}

static int stress_usage(FILE *f)
{
    fprintf(f, "usage: vmkit stress [--seconds 20] [--threads 4] [--seed S] [--limit 1M] [--self-test]\n"
               "Random map (anonymous, shared and private file, read-only file)/unmap/protect/write/read/check/\n"
               "sync/fork/reset operations from many threads on one\n"
               "system with a tiny budget, every read checked against a model.  Exit 0 only\n"
               "with no mismatch and no unexpected error; --seed reproduces a run.\n"
               "--self-test corrupts thread 0's model: the run must then fail.\n");
    return f == stderr ? 2 : 0;
}

static void progress(struct stress *st, double t0)
{
    vmk_stats s;
    vmk_stats_get(st->sys, &s);
    double el = cli_now() - t0;
    fprintf(stderr, "  %5.1f s  %10llu ops  %8.0f ops/s  faults %llu  in %llu  out %llu  file %llu "
            "(moved %llu)  mismatches %llu\n",
            el, (unsigned long long)atomic_load(&st->ops), (double)atomic_load(&st->ops) / el,
            (unsigned long long)s.faults, (unsigned long long)s.pages_swapped_in,
            (unsigned long long)s.pages_swapped_out, (unsigned long long)s.pages_file_read,
            (unsigned long long)s.file_pages_moved, (unsigned long long)atomic_load(&st->mismatches));
}

int vmk_cmd_stress(int argc, char **argv)
{
    struct stress st = { .seconds = 20, .threads = 4, .seed = (uint64_t)time(NULL),
                         .limit = (size_t)1 << 20 };
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return stress_usage(stdout);
        if (!strcmp(argv[i], "--self-test")) {
            st.self_test = 1;
            continue;
        }
        if (!v)
            return stress_usage(stderr);
        if (!strcmp(argv[i], "--seconds")) st.seconds = atof(v);
        else if (!strcmp(argv[i], "--threads")) st.threads = atoi(v);
        else if (!strcmp(argv[i], "--seed")) st.seed = strtoull(v, NULL, 10);
        else if (!strcmp(argv[i], "--limit")) st.limit = cli_parse_size(v);
        else return stress_usage(stderr);
        i++;
    }
    if (st.threads < 1 || st.threads > 64 || st.seconds <= 0)
        return stress_usage(stderr);
    vmk_config cfg = vmk_config_default();
    cfg.memory_limit = st.limit;
    int err = vmk_system_open(&st.sys, &cfg);
    if (err) {
        fprintf(stderr, "vmkit stress: %s\n", vmk_strerror(err));
        return 1;
    }
    fprintf(stderr, "vmkit stress: %d threads, %.0f s, budget %zu KiB, seed %llu\n", st.threads,
            st.seconds, st.limit >> 10, (unsigned long long)st.seed);
    pthread_t th[64];
    struct worker wk[64];
    double t0 = cli_now();
    for (int i = 0; i < st.threads; i++) {
        wk[i] = (struct worker){ &st, i };
        pthread_create(&th[i], NULL, stress_thread, &wk[i]);
    }
    while (cli_now() - t0 < st.seconds) {
        usleep(200000);
        static double last;
        if (cli_now() - last >= 2) {
            last = cli_now();
            progress(&st, t0);
        }
    }
    atomic_store(&st.stop, 1);
    for (int i = 0; i < st.threads; i++)
        pthread_join(th[i], NULL);
    double el = cli_now() - t0;
    vmk_system_close(st.sys);
    uint64_t mis = atomic_load(&st.mismatches), errs = atomic_load(&st.errors);
    printf("stress: %llu operations (%llu forks, %llu resets, up to %llu of one space) in %.1f s "
           "on %d threads, seed %llu: %llu mismatches, %llu unexpected errors\n",
           (unsigned long long)atomic_load(&st.ops), (unsigned long long)atomic_load(&st.forks),
           (unsigned long long)atomic_load(&st.resets), (unsigned long long)atomic_load(&st.most_forks),
           el, st.threads, (unsigned long long)st.seed,
           (unsigned long long)mis, (unsigned long long)errs);
    return mis || errs ? 1 : 0;
}
