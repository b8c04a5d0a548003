/*
 * demo_file.c - `vmkit demo file`: a real file mapped over a smaller budget.
 *
 * Phases, each timed and checked:
 *   fill        a new file of --size (in --path, $TMPDIR or /tmp) mapped
 *               shared, every page written through the mapping: the budget
 *               is smaller, so dirty pages go back to the file as they are
 *               evicted; then vmk_sync and the mapping goes;
 *   sequential  page caches dropped (as root), the file mapped again and read
 *               in order, every word checked: readahead at work;
 *   random      random pages rewritten through the mapping (each a new
 *               version), then vmk_sync;
 *   verify      caches dropped again, the file read back with pread (the
 *               kernel's own read path, for comparison): every page holds
 *               its last version;
 *   private     a private mapping of the file, random pages written (1.5x
 *               the budget's worth): they read back through the mapping
 *               (swapped out and in), and the file, read with pread after
 *               the unmap, never saw them.
 * A page's words are a function of its number and version, so a page from
 * the wrong place, a stale copy or a torn write are all caught.  Exit
 * status 0 only if every check passed.
 */
#include "cli.h"
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vmkit.h>

int vmk_cmd_demo_file(int argc, char **argv);

#define PG 4096u
#define WORDS (PG / 8)

struct df {
    size_t size, limit, np, writes;
    uint64_t seed;
    const char *dir;
    char path[4096];
    int fd;
    vmk_system *sys;
    vmk_space *as;
    uint32_t *ver;          /* the version of each page in the file */
    size_t bad;
};

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static uint64_t word(size_t pg, uint32_t ver, size_t i)
{
    return ((uint64_t)pg * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)ver << 40) ^ (i * 0x100000001b3ull);
}

static void page_write(char *p, size_t pg, uint32_t ver)
{
    uint64_t *w = (uint64_t *)p;
    for (size_t i = 0; i < WORDS; i++)
        w[i] = word(pg, ver, i);
}

/* 1 if the page holds version ver of page pg; says the first few that do not. */
static int page_ok(struct df *d, const char *p, size_t pg, uint32_t ver, const char *where)
{
    const uint64_t *w = (const uint64_t *)p;
    for (size_t i = 0; i < WORDS; i++) {
        if (w[i] == word(pg, ver, i))
            continue;
        if (d->bad++ < 5)
            fprintf(stderr, "\nMISMATCH %s: page %zu word %zu is %#llx, want version %u\n", where,
                    pg, i, (unsigned long long)w[i], ver);
        return 0;
    }
    return 1;
}

static void bar(const char *what, size_t done, size_t total, double t0)
{
    if (done % 2048 && done != total)
        return;
    double el = cli_now() - t0, mb = (double)done * PG / 1e6;
    int w = (int)(30 * done / (total ? total : 1));
    fprintf(stderr, "\r  %-22s [%.*s%*s] %3zu%%  %7.0f MB/s", what, w,
            "##############################", 30 - w, "", 100 * done / (total ? total : 1),
            el > 0 ? mb / el : 0);
    if (done == total)
        fputc(isatty(2) ? '\r' : '\n', stderr);
}

static void result(const char *what, size_t pages, double secs, const char *extra)
{
    printf("  %-22s %8.0f MB/s %9.0f pages/s %6.2f s  %s\n", what,
           (double)pages * PG / 1e6 / secs, (double)pages / secs, secs, extra ? extra : "");
}

/* As root: write dirty pages out and drop the kernel's page cache, so the
 * next read comes from the device.  Says whether it could. */
static int drop_caches(void)
{
    sync();
    int fd = geteuid() == 0 ? open("/proc/sys/vm/drop_caches", O_WRONLY) : -1;
    int ok = fd >= 0 && write(fd, "3\n", 2) == 2;
    if (fd >= 0)
        close(fd);
    printf("  %s\n", ok ? "echo 3 > /proc/sys/vm/drop_caches   (reads below come from the disk)"
                        : "(not root: the kernel's page cache is not dropped; reads may come from it)");
    return ok;
}

static char *map(struct df *d, int flags)
{
    char *b = vmk_map_file(d->as, d->fd, 0, d->size, VMK_PROT_READ | VMK_PROT_WRITE, flags);
    if (!b)
        fprintf(stderr, "vmkit demo file: vmk_map_file: %s\n", strerror(errno));
    return b;
}

static int sync_unmap(struct df *d, char *b, const char *what)
{
    double t = cli_now();
    int r = vmk_sync(d->as, b, d->size);
    char extra[96];
    snprintf(extra, sizeof extra, "vmk_sync %s", r ? vmk_strerror(r) : "ok");
    printf("  %-22s %30s %6.2f s  %s\n", what, "", cli_now() - t, extra);
    vmk_unmap(d->as, b, d->size);
    return r;
}

static int phase_fill(struct df *d)
{
    char *b = map(d, VMK_MAP_SHARED);
    if (!b)
        return -1;
    double t = cli_now();
    for (size_t pg = 0; pg < d->np; pg++) {
        page_write(b + pg * PG, pg, d->ver[pg] = 1);
        bar("fill (shared)", pg + 1, d->np, t);
    }
    result("fill (shared)", d->np, cli_now() - t, "written through the mapping, evicted to the file");
    return sync_unmap(d, b, "sync");
}

static int phase_sequential(struct df *d, char **out)
{
    drop_caches();
    char *b = *out = map(d, VMK_MAP_SHARED);
    if (!b)
        return -1;
    vmk_stats s0, s1;
    vmk_stats_get(d->sys, &s0);
    double t = cli_now();
    for (size_t pg = 0; pg < d->np; pg++) {
        page_ok(d, b + pg * PG, pg, d->ver[pg], "sequential read");
        bar("sequential read", pg + 1, d->np, t);
    }
    double secs = cli_now() - t;
    vmk_stats_get(d->sys, &s1);
    char extra[160];
    unsigned long long ra = s1.file_readahead - s0.file_readahead;
    snprintf(extra, sizeof extra, "%llu faults, %llu pages read ahead, %.1f%% hits",
             (unsigned long long)(s1.faults - s0.faults), ra,
             ra ? 100.0 * (double)(s1.file_readahead_hits - s0.file_readahead_hits) / (double)ra : 0);
    result("sequential read", d->np, secs, extra);
    return 0;
}

static int phase_random(struct df *d, char *b)
{
    uint64_t rng = d->seed;
    double t = cli_now();
    for (size_t i = 0; i < d->writes; i++) {
        size_t pg = (size_t)(mix(rng++) % d->np);
        page_ok(d, b + pg * PG, pg, d->ver[pg], "random write (before)");
        page_write(b + pg * PG, pg, ++d->ver[pg]);
        bar("random writes", i + 1, d->writes, t);
    }
    result("random writes", d->writes, cli_now() - t, "read-modify-write of single pages");
    return sync_unmap(d, b, "sync");
}

/* The file's own bytes, with pread: every page at its version. */
static void phase_verify(struct df *d, const char *what)
{
    static char buf[256 * PG];
    double t = cli_now();
    for (size_t pg = 0; pg < d->np; pg += 256) {
        size_t k = d->np - pg < 256 ? d->np - pg : 256;
        if (pread(d->fd, buf, k * PG, (off_t)(pg * PG)) != (ssize_t)(k * PG)) {
            fprintf(stderr, "vmkit demo file: pread: %s\n", strerror(errno));
            d->bad++;
            return;
        }
        for (size_t i = 0; i < k; i++)
            page_ok(d, buf + i * PG, pg + i, d->ver[pg + i], what);
        bar(what, pg + k, d->np, t);
    }
    result(what, d->np, cli_now() - t, "pread of the file, every word checked");
}

/* Private writes: seen through the mapping, through eviction, never in the file. */
static int phase_private(struct df *d)
{
    char *b = map(d, VMK_MAP_PRIVATE);
    uint32_t *pv = calloc(d->np, sizeof *pv);        /* version written privately, 0: none */
    if (!b || !pv) {
        free(pv);
        return -1;
    }
    uint64_t rng = d->seed ^ 0x5555;
    size_t n = 3 * d->limit / PG / 2 < d->np ? 3 * d->limit / PG / 2 : d->np;  /* more than fit */
    double t = cli_now();
    for (size_t i = 0; i < n; i++) {
        size_t pg = (size_t)(mix(rng++) % d->np);
        page_write(b + pg * PG, pg, pv[pg] = 1000000 + (uint32_t)i);
        bar("private writes", i + 1, n, t);
    }
    result("private writes", n, cli_now() - t, "random pages of a private mapping, 1.5x the budget");
    t = cli_now();
    size_t checked = 0;
    for (size_t pg = 0; pg < d->np; pg++) {          /* written pages, and a sample of the rest */
        if (pv[pg] || pg % 64 == 0) {
            page_ok(d, b + pg * PG, pg, pv[pg] ? pv[pg] : d->ver[pg], "private read-back");
            checked++;
        }
        bar("private read-back", pg + 1, d->np, t);
    }
    result("private read-back", checked, cli_now() - t, "written pages from swap, a sample from the file");
    vmk_unmap(d->as, b, d->size);
    free(pv);
    phase_verify(d, "file after private");
    return 0;
}

static int usage(void)
{
    printf("usage: vmkit demo file [--size 1G] [--limit 128M] [--path DIR|FILE] [--writes N]\n"
           "                       [--seed N] [--keep]\n"
           "Creates a file of --size (in --path, $TMPDIR or /tmp), maps it shared over a budget\n"
           "of --limit, fills it, syncs, drops the page caches (as root), reads it in order,\n"
           "rewrites --writes random pages (default: a page in 16), syncs, checks the file with\n"
           "pread, then writes random pages of a private mapping that must never reach it.\n");
    return 0;
}

static int parse_args(struct df *d, int argc, char **argv, int *keep)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return usage(), 1;
        if (!strcmp(a, "--keep")) {
            *keep = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "vmkit demo file: %s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "--size")) d->size = cli_parse_size(v);
        else if (!strcmp(a, "--limit")) d->limit = cli_parse_size(v);
        else if (!strcmp(a, "--path")) d->dir = v;
        else if (!strcmp(a, "--writes")) d->writes = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--seed")) d->seed = strtoull(v, NULL, 10);
        else {
            fprintf(stderr, "vmkit demo file: unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    d->size &= ~(size_t)(PG - 1);
    if (d->size < 64 * PG || d->limit < ((size_t)1 << 20)) {
        fprintf(stderr, "vmkit demo file: --size must be at least 256K and --limit at least 1M\n");
        return 2;
    }
    return 0;
}

/* A new file of d->size bytes: --path names a directory to make it in, or
 * the file itself; otherwise $TMPDIR or /tmp. */
static int make_file(struct df *d)
{
    struct stat st;
    const char *dir = d->dir ? d->dir : getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    if (d->dir && (stat(d->dir, &st) < 0 || !S_ISDIR(st.st_mode))) {
        snprintf(d->path, sizeof d->path, "%s", d->dir);
        d->fd = open(d->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    } else {
        snprintf(d->path, sizeof d->path, "%s/vmkit-demo-file-XXXXXX", dir);
        d->fd = mkstemp(d->path);
    }
    if (d->fd < 0 || ftruncate(d->fd, (off_t)d->size) < 0) {
        fprintf(stderr, "vmkit demo file: cannot create %s: %s\n", d->path, strerror(errno));
        return -1;
    }
    return 0;
}

static int open_system(struct df *d)
{
    vmk_config cfg = vmk_config_default();
    cfg.memory_limit = d->limit;
    int r = vmk_system_open(&d->sys, &cfg);
    if (r == 0)
        r = vmk_space_create(d->sys, &d->as);
    if (r < 0)
        fprintf(stderr, "vmkit demo file: %s\n", vmk_strerror(r));
    return r;
}

static int run(struct df *d)
{
    char *b = NULL;
    printf("vmkit demo file: %s, %zu MiB, mapped over a %zu MiB budget (%.0fx)\n", d->path,
           d->size >> 20, d->limit >> 20, (double)d->size / (double)d->limit);
    if (phase_fill(d) < 0 || phase_sequential(d, &b) < 0 || phase_random(d, b) < 0)
        return -1;
    drop_caches();
    phase_verify(d, "verify the file");
    return phase_private(d);
}

int vmk_cmd_demo_file(int argc, char **argv)
{
    struct df d = { .size = (size_t)1 << 30, .limit = (size_t)128 << 20, .seed = 20261126,
                    .fd = -1 };
    int keep = 0, r = parse_args(&d, argc, argv, &keep);
    if (r)
        return r == 1 ? 0 : r;
    d.np = d.size / PG;
    if (!d.writes)
        d.writes = d.np / 16;
    d.ver = calloc(d.np, sizeof *d.ver);
    if (!d.ver || make_file(&d) < 0 || open_system(&d) < 0)
        return 1;
    r = run(&d);
    vmk_stats st;
    vmk_stats_get(d.sys, &st);
    printf("\nwhat the virtual-memory system did:\n");
    vmk_stats_print(&st, stdout);
    vmk_system_close(d.sys);
    close(d.fd);
    if (!keep)
        unlink(d.path);
    free(d.ver);
    printf("%s: %zu pages checked wrong%s\n", d.bad || r ? "FAILED" : "ok", d.bad,
           r ? " (a phase could not run)" : "");
    return d.bad || r ? 1 : 0;
}
