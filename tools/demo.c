/*
 * demo.c - `vmkit demo`: a region far larger than the budget, paged for real.
 *
 * Four phases, each verified, each with a progress bar:
 *   fill        every thread writes its pages (page p belongs to thread p % T);
 *   sequential  one pass over every page in order, checking each;
 *   random      read-modify-write of random pages by all threads: each page
 *               carries a version that its owner bumps, checked on every visit;
 *   verify      every page once more, against the versions.
 * A page holds its number and version in its first two words and a checksum
 * of both in its last, so a page from the wrong slot, a stale copy or a torn
 * page are all caught.  Exit status 0 only if every check passed.
 */
#include "commands.h"
#include <vmkit.h>
#include "cli.h"
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int vmk_cmd_demo(int argc, char **argv);
int vmk_cmd_demo_fork(int argc, char **argv);
int vmk_cmd_demo_file(int argc, char **argv);

struct demo {
    size_t size, limit, npages, ops;
    int threads;
    uint64_t seed;
    const char *swap, *policy;
    unsigned char *base;
    uint32_t *version;                 /* per page; written only by its owner */
    _Atomic uint64_t done, bad;
    _Atomic int phase_over;
};

enum phase { FILL, SEQUENTIAL, RANDOM, VERIFY };
static const char *const phase_name[] = { "fill", "sequential read", "random read-modify-write",
                                          "verify" };

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static uint64_t *page_words(struct demo *d, size_t p) { return (uint64_t *)(d->base + p * 4096); }

static void page_write(struct demo *d, size_t p, uint32_t ver)
{
    uint64_t *w = page_words(d, p);
    w[0] = p;
    w[1] = ver;
    w[511] = mix(p * 0x100000001ull + ver);
}

/* 1 if page p holds version ver intact; prints the first few mismatches. */
static int page_check(struct demo *d, size_t p, uint32_t ver)
{
    const uint64_t *w = page_words(d, p);
    uint64_t w0 = w[0], w1 = w[1], w511 = w[511];
    if (w0 == p && w1 == ver && w511 == mix(p * 0x100000001ull + ver))
        return 1;
    if (atomic_fetch_add(&d->bad, 1) < 5)
        fprintf(stderr, "\nMISMATCH page %zu: got page %llu version %llu check %#llx, want version %u\n",
                p, (unsigned long long)w0, (unsigned long long)w1, (unsigned long long)w511, ver);
    return 0;
}

struct worker { struct demo *d; int id; enum phase ph; };

static void *work(void *arg)
{
    struct worker *wk = arg;
    struct demo *d = wk->d;
    size_t T = (size_t)d->threads;
    uint64_t rng = mix(d->seed + (uint64_t)wk->id + 1);
    switch (wk->ph) {
    case FILL:
        for (size_t p = (size_t)wk->id; p < d->npages; p += T) {
            page_write(d, p, 0);
            atomic_fetch_add_explicit(&d->done, 1, memory_order_relaxed);
        }
        break;
    case RANDOM:
        for (size_t i = 0; i < d->ops / T; i++) {
            rng = mix(rng);
            size_t p = (rng % (d->npages / T)) * T + (size_t)wk->id;   /* a page of mine */
            if (p >= d->npages)
                p = (size_t)wk->id;
            page_check(d, p, d->version[p]);
            page_write(d, p, ++d->version[p]);
            atomic_fetch_add_explicit(&d->done, 1, memory_order_relaxed);
        }
        break;
    default:
        break;
    }
    return NULL;
}

/* Redraw the progress bar until the phase is over. */
static void progress(struct demo *d, enum phase ph, uint64_t total, double t0)
{
    int tty = isatty(2);
    int last_decile = -1;
    while (!atomic_load(&d->phase_over)) {
        uint64_t done = atomic_load(&d->done);
        double frac = total ? (double)done / (double)total : 1, el = cli_now() - t0;
        if (tty) {
            int w = (int)(frac * 30);
            fprintf(stderr, "\r  %-26s [%.*s%*s] %3.0f%%  %8.0f pages/s", phase_name[ph], w,
                    "##############################", 30 - w, "", frac * 100,
                    el > 0 ? (double)done / el : 0);
        } else if ((int)(frac * 10) != last_decile) {
            last_decile = (int)(frac * 10);
            fprintf(stderr, "  %s: %3.0f%%\n", phase_name[ph], frac * 100);
        }
        usleep(100000);
    }
}

struct phase_result { double secs; uint64_t pages; };

/* Run a phase on d->threads workers and wait for them. */
static struct phase_result run_parallel(struct demo *d, enum phase ph, uint64_t total, double t0)
{
    pthread_t th[64];
    struct worker wk[64];
    for (int i = 0; i < d->threads; i++) {
        wk[i] = (struct worker){ d, i, ph };
        pthread_create(&th[i], NULL, work, &wk[i]);
    }
    for (int i = 0; i < d->threads; i++)
        pthread_join(th[i], NULL);
    return (struct phase_result){ cli_now() - t0, total };
}

/* Sequential phases run in the main thread; the bar runs beside it. */
struct bar_arg { struct demo *d; enum phase ph; uint64_t total; double t0; };

static void *bar_main(void *a)
{
    struct bar_arg *b = a;
    progress(b->d, b->ph, b->total, b->t0);
    return NULL;
}

static struct phase_result run_phase(struct demo *d, enum phase ph)
{
    uint64_t total = ph == RANDOM ? (d->ops / (size_t)d->threads) * (size_t)d->threads : d->npages;
    atomic_store(&d->done, 0);
    atomic_store(&d->phase_over, 0);
    double t0 = cli_now();
    struct bar_arg ba = { d, ph, total, t0 };
    pthread_t bar;
    pthread_create(&bar, NULL, bar_main, &ba);
    struct phase_result r;
    if (ph == FILL || ph == RANDOM) {
        r = run_parallel(d, ph, total, t0);
    } else {
        for (size_t p = 0; p < d->npages; p++) {
            page_check(d, p, d->version[p]);
            atomic_fetch_add_explicit(&d->done, 1, memory_order_relaxed);
        }
        r = (struct phase_result){ cli_now() - t0, total };
    }
    atomic_store(&d->phase_over, 1);
    pthread_join(bar, NULL);
    fprintf(stderr, "%s", isatty(2) ? "\n" : "");
    printf("  %-26s %10.0f pages/s  %8.1f MB/s  %6.2f s%s\n", phase_name[ph],
           (double)r.pages / r.secs, (double)r.pages * 4096 / r.secs / 1e6, r.secs,
           atomic_load(&d->bad) ? "  MISMATCHES" : "");
    return r;
}

static int demo_usage(void)
{
    printf("usage: vmkit demo fork [--size 512M]   (copy-on-write fork; vmkit demo fork --help)\n"
           "       vmkit demo file [--size 1G] [--limit 128M]   (a mapped file; vmkit demo file --help)\n"
           "       vmkit demo [--size 1G] [--limit 64M] [--threads 4] [--ops N] [--seed N]\n"
           "                  [--swap PATH] [--policy clock|fifo]\n"
           "Maps --size of anonymous memory over a budget of --limit, then fills it, reads it\n"
           "in order, does --ops random read-modify-writes (default: pages/2) and verifies it.\n");
    return 0;
}

static int parse_args(struct demo *d, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return demo_usage(), 1;
        if (!v) {
            fprintf(stderr, "vmkit demo: %s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "--size")) d->size = cli_parse_size(v);
        else if (!strcmp(a, "--limit")) d->limit = cli_parse_size(v);
        else if (!strcmp(a, "--threads")) d->threads = atoi(v);
        else if (!strcmp(a, "--ops")) d->ops = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--seed")) d->seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--swap")) d->swap = v;
        else if (!strcmp(a, "--policy")) d->policy = v;
        else {
            fprintf(stderr, "vmkit demo: unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    if (d->threads < 1 || d->threads > 64 || d->size < 4096) {
        fprintf(stderr, "vmkit demo: --threads must be 1..64 and --size at least 4K\n");
        return 2;
    }
    return 0;
}

int vmk_cmd_demo(int argc, char **argv)
{
    struct demo d = { .size = (size_t)1 << 30, .limit = (size_t)64 << 20, .threads = 4,
                      .seed = (uint64_t)time(NULL) };
    if (argc > 1 && !strcmp(argv[1], "fork"))
        return vmk_cmd_demo_fork(argc - 1, argv + 1);
    if (argc > 1 && !strcmp(argv[1], "file"))
        return vmk_cmd_demo_file(argc - 1, argv + 1);
    int r = parse_args(&d, argc, argv);
    if (r)
        return r == 1 ? 0 : r;
    d.npages = d.size / 4096;
    if (!d.ops)
        d.ops = d.npages / 2;
    vmk_config cfg = vmk_config_default();
    cfg.memory_limit = d.limit;
    if (d.swap)
        cfg.swap_path = d.swap;
    if (d.policy)
        cfg.policy = d.policy;
    vmk_system *sys;
    if ((r = vmk_system_open(&sys, &cfg)) < 0) {
        fprintf(stderr, "vmkit demo: cannot open a system: %s\n", vmk_strerror(r));
        return 1;
    }
    vmk_space *as;
    vmk_space_create(sys, &as);
    d.base = vmk_map_anon(as, d.size, VMK_PROT_READ | VMK_PROT_WRITE);
    d.version = calloc(d.npages, sizeof *d.version);
    if (!d.base || !d.version) {
        fprintf(stderr, "vmkit demo: cannot map %zu bytes: %s\n", d.size, strerror(errno));
        return 1;
    }
    printf("vmkit demo: %zu MiB region over a %zu MiB budget (%.0fx), %d threads, policy %s, seed %llu\n",
           d.size >> 20, d.limit >> 20, (double)d.size / (double)d.limit, d.threads,
           cfg.policy ? cfg.policy : "clock", (unsigned long long)d.seed);
    for (enum phase ph = FILL; ph <= VERIFY; ph++)
        run_phase(&d, ph);
    vmk_stats st;
    vmk_stats_get(sys, &st);
    printf("\nwhat the virtual-memory system did:\n");
    vmk_stats_print(&st, stdout);
    long hwm = cli_proc_kb("/proc/self/status", "VmHWM:");
    printf("process peak resident (VmHWM) %ld MiB for a %zu MiB budget\n", hwm >> 10, d.limit >> 20);
    uint64_t bad = atomic_load(&d.bad);
    printf("%s: %llu pages checked wrong\n", bad ? "FAILED" : "ok", (unsigned long long)bad);
    vmk_system_close(sys);
    free(d.version);
    return bad ? 1 : 0;
}
