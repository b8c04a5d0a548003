/*
 * demo_fork.c - `vmkit demo fork`: copy-on-write fork of a big resident space.
 *
 * Fills a region, copies it with memcpy (the cost fork avoids), forks the
 * space, reads the child (sharing: Pss does not grow), writes a share of the
 * pages on each side (copy-on-write breaks, timed per page), verifies both
 * sides word by word, resets the child and verifies it equals the parent.
 */
#include "cli.h"
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <vmkit.h>

int vmk_cmd_demo_fork(int argc, char **argv);

static uint64_t word(uint64_t side, size_t pg) { return (side << 48) ^ (pg * 0x9E3779B97F4A7C15ull) ^ 1; }

static void bar(const char *what, size_t done, size_t total)
{
    if (done % 4096 && done != total)
        return;
    int w = (int)(30 * done / (total ? total : 1));
    fprintf(stderr, "\r  %-24s [%.*s%*s] %3zu%%", what, w, "##############################", 30 - w,
            "", 100 * done / (total ? total : 1));
    if (done == total)
        fputc('\n', stderr);
}

/* Touch every page: the first word says which side wrote it last. */
static void write_pages(const char *what, char *base, size_t n, uint64_t side, size_t every,
                        size_t first)
{
    for (size_t pg = first; pg < n; pg += every) {
        uint64_t *w = (uint64_t *)(base + pg * 4096);
        w[0] = word(side, pg), w[511] = ~word(side, pg);
        if (pg + every < n)
            bar(what, pg + 1, n);
    }
    bar(what, n, n);
}

static size_t verify(char *base, size_t n, uint64_t (*want)(size_t pg, void *), void *arg)
{
    size_t bad = 0;
    for (size_t pg = 0; pg < n; pg++) {
        const volatile uint64_t *w = (const volatile uint64_t *)(base + pg * 4096);
        uint64_t v = want(pg, arg);
        if (w[0] != v || w[511] != ~v)
            bad++;
    }
    return bad;
}

struct sides { size_t every_c, every_p; };
static uint64_t want_child(size_t pg, void *a)
{
    struct sides *s = a;
    return s->every_c && pg % s->every_c == 0 ? word(2, pg) : word(1, pg);
}
static uint64_t want_parent(size_t pg, void *a)
{
    struct sides *s = a;
    return s->every_p && pg % s->every_p == 1 ? word(3, pg) : word(1, pg);
}

/* Each run of copied pages is a kernel mapping: scattered copy-on-write
 * breaks need up to two per page, more than Linux's default 65530 per
 * process for big regions.  As root, raise the limit (said, like a setup
 * step); otherwise say what to do. */
static void raise_map_count(size_t npages)
{
    long cur = 0, want = (long)(npages / 2 + 65536);
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    if (f) {
        if (fscanf(f, "%ld", &cur) != 1)
            cur = 0;
        fclose(f);
    }
    if (cur >= want)
        return;
    f = geteuid() == 0 ? fopen("/proc/sys/vm/max_map_count", "w") : NULL;
    if (f && fprintf(f, "%ld\n", want) > 0 && fclose(f) == 0) {
        printf("echo %ld > /proc/sys/vm/max_map_count   (was %ld: copy-on-write maps pages one by one)\n",
               want, cur);
        return;
    }
    printf("note: vm.max_map_count is %ld; scattered copy-on-write of this many pages may need %ld "
           "(sysctl vm.max_map_count=%ld as root)\n", cur, want, want);
}

int vmk_cmd_demo_fork(int argc, char **argv)
{
    size_t size = (size_t)512 << 20, limit = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: vmkit demo fork [--size 512M] [--limit BYTES]\n"
                   "Forks a resident space of --size (the budget is 2x that unless --limit):\n"
                   "fork time vs memcpy, sharing, copy-on-write breaks, reset.\n");
            return 0;
        }
        if (i + 1 < argc && !strcmp(argv[i], "--size"))
            size = cli_parse_size(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--limit"))
            limit = cli_parse_size(argv[++i]);
        else {
            fprintf(stderr, "vmkit demo fork: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    size_t n = size / 4096;
    raise_map_count(n);
    if (n < 16) {
        fprintf(stderr, "vmkit demo fork: --size must be at least 64K\n");
        return 2;
    }
    vmk_config cfg = vmk_config_default();
    cfg.memory_limit = limit ? limit : 2 * size + ((size_t)16 << 20);
    vmk_system *sys;
    vmk_space *p, *c;
    int r = vmk_system_open(&sys, &cfg);
    if (r < 0 || (r = vmk_space_create(sys, &p)) < 0) {
        fprintf(stderr, "vmkit demo fork: %s\n", vmk_strerror(r));
        return 1;
    }
    char *pb = vmk_map_anon(p, size, VMK_PROT_READ | VMK_PROT_WRITE);
    char *copy = malloc(size);
    if (!pb || !copy) {
        fprintf(stderr, "vmkit demo fork: cannot map %zu bytes: %s\n", size, strerror(errno));
        return 1;
    }
    printf("vmkit demo fork: a %zu MiB space over a %zu MiB budget\n", size >> 20,
           cfg.memory_limit >> 20);
    write_pages("fill the parent", pb, n, 1, 1, 0);
    memset(copy, 1, size);                               /* fault the copy's pages first */
    double t = cli_now();
    memcpy(copy, pb, size);
    double t_memcpy = cli_now() - t;
    size_t bad = 0;
    for (size_t pg = 0; pg < n; pg++)                    /* the copy is used: memcpy stays */
        bad += ((uint64_t *)(copy + pg * 4096))[0] != word(1, pg);
    free(copy);
    long pss0 = cli_proc_kb("/proc/self/smaps_rollup", "Pss:");
    t = cli_now();
    if ((r = vmk_space_fork(p, &c)) < 0) {
        fprintf(stderr, "vmkit demo fork: fork: %s\n", vmk_strerror(r));
        return 1;
    }
    double t_fork = cli_now() - t;
    char *cb = vmk_space_translate(c, p, pb);
    printf("  fork                      %9.3f ms   (memcpy of the same bytes %.1f ms: %.0fx faster)\n",
           t_fork * 1e3, t_memcpy * 1e3, t_memcpy / t_fork);
    struct sides s = { .every_c = 0, .every_p = 0 };
    t = cli_now();
    bad += verify(cb, n, want_child, &s);
    double t_read = cli_now() - t;
    long pss1 = cli_proc_kb("/proc/self/smaps_rollup", "Pss:");
    printf("  child reads every page    %9.3f ms   (%.2f us/page); process Pss grew %ld kB of %zu kB\n",
           t_read * 1e3, t_read * 1e6 / (double)n, pss1 - pss0, size >> 10);
    s.every_c = 4, s.every_p = 8;
    vmk_stats st0;
    vmk_stats_get(sys, &st0);
    t = cli_now();
    write_pages("child writes 1/4", cb, n, 2, s.every_c, 0);
    double t_cow = cli_now() - t;
    write_pages("parent writes 1/8", pb, n, 3, s.every_p, 1);
    vmk_stats st1;
    vmk_stats_get(sys, &st1);
    printf("  copy-on-write breaks      %9llu      %.2f us per break (child side)\n",
           (unsigned long long)(st1.cow_breaks - st0.cow_breaks), t_cow * 1e6 / (double)(n / 4));
    size_t bc = verify(cb, n, want_child, &s), bp = verify(pb, n, want_parent, &s);
    if (bc || bp)
        printf("  WRONG: %zu pages of the child, %zu of the parent\n", bc, bp);
    bad += bc + bp;
    t = cli_now();
    r = vmk_space_reset(c);
    double t_reset = cli_now() - t;
    struct sides after = { .every_c = 0, .every_p = 8 };
    size_t bad_reset = r == 0 ? verify(cb, n, want_parent, &after) : n;
    printf("  reset of the child        %9.3f ms   (it had changed %zu pages; the parent %zu)\n",
           t_reset * 1e3, n / 4, n / 8);
    if (bad_reset)
        printf("  WRONG: %zu pages of the child after reset (%s)\n", bad_reset, vmk_strerror(r));
    bad += bad_reset;
    printf("\nwhat the virtual-memory system did:\n");
    vmk_stats_print(&st1, stdout);
    vmk_space_destroy(c);
    vmk_space_destroy(p);
    vmk_stats_get(sys, &st1);
    printf("after destroying both: %llu resident, %llu swap slots used\n",
           (unsigned long long)st1.resident, (unsigned long long)st1.swap_used);
    vmk_system_close(sys);
    printf("%s: %zu pages checked wrong\n", bad ? "FAILED" : "ok", bad);
    return bad ? 1 : 0;
}
