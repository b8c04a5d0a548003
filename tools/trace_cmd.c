/*
 * trace_cmd.c - `vmkit trace FILE`: a recorded fault trace as text, and a summary.
 *
 * One line per record: time in microseconds, space id, page (hexadecimal
 * virtual page number), event name.  Then the summary: records per event,
 * distinct pages referenced, per space, and the span of time.  `--summary`
 * prints only the summary; `--pages` prints just the reference string (one
 * page number per line), ready for `vmkit sim -`.
 */
#include "commands.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vmk_cmd_trace(int argc, char **argv);

struct rec { uint64_t page; uint32_t event; uint32_t time_us; };

static const char *const event_name[] = { "?", "zero-fill", "swap-in", "minor", "write-enable",
                                          "evict" };

/* A small open-addressing set of pages, to count distinct ones. */
struct pageset { uint64_t *slot; size_t cap, n; };

static int set_add(struct pageset *s, uint64_t page)
{
    if (2 * (s->n + 1) > s->cap) {
        struct pageset t = { calloc(s->cap ? 2 * s->cap : 1024, sizeof(uint64_t)), s->cap ? 2 * s->cap : 1024, 0 };
        if (!t.slot)
            return -1;
        for (size_t i = 0; i < s->cap; i++)
            if (s->slot[i])
                set_add(&t, s->slot[i] - 1);
        free(s->slot);
        *s = t;
    }
    size_t i = (size_t)((page * 0x9E3779B97F4A7C15ull) >> 20) & (s->cap - 1);
    while (s->slot[i]) {
        if (s->slot[i] == page + 1)
            return 0;
        i = (i + 1) & (s->cap - 1);
    }
    s->slot[i] = page + 1;
    s->n++;
    return 1;
}

static int trace_usage(FILE *f)
{
    fprintf(f, "usage: vmkit trace [--summary | --pages] FILE\n"
               "Prints a fault trace recorded with VMK_TRACE=FILE (or vmk_trace_start) as text.\n");
    return f == stderr ? 2 : 0;
}

int vmk_cmd_trace(int argc, char **argv)
{
    int summary_only = 0, pages_only = 0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--summary")) summary_only = 1;
        else if (!strcmp(argv[i], "--pages")) pages_only = 1;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return trace_usage(stdout);
        else if (!path) path = argv[i];
        else return trace_usage(stderr);
    }
    if (!path)
        return trace_usage(stderr);
    FILE *f = fopen(path, "rb");
    char hdr[16];
    if (!f || fread(hdr, 1, 16, f) != 16 || memcmp(hdr, "VMKTRC01", 8)) {
        fprintf(stderr, "vmkit trace: %s is not a vmkit trace\n", path);
        if (f)
            fclose(f);
        return 1;
    }
    uint64_t count[6] = { 0 }, n = 0, spaces[16] = { 0 };
    uint32_t first = 0, last = 0;
    struct pageset set = { 0 };
    struct rec r;
    while (fread(&r, sizeof r, 1, f) == 1) {
        uint32_t ev = r.event <= 5 ? r.event : 0;
        uint64_t space = r.page >> 48, vpn = r.page & ((1ull << 48) - 1);
        if (!n)
            first = r.time_us;
        last = r.time_us;
        n++;
        count[ev]++;
        spaces[space < 15 ? space : 15]++;
        if (ev >= 1 && ev <= 4)
            set_add(&set, r.page);
        if (pages_only && ev >= 1 && ev <= 4)
            printf("%llu\n", (unsigned long long)r.page);
        else if (!summary_only && !pages_only)
            printf("%10u us  space %llu  page %#llx  %s\n", r.time_us, (unsigned long long)space,
                   (unsigned long long)vpn, event_name[ev]);
    }
    fclose(f);
    if (pages_only)
        return 0;
    printf("\n%s: %llu records over %.3f s, %zu distinct pages referenced\n", path,
           (unsigned long long)n, (last - first) / 1e6, set.n);
    for (int e = 1; e <= 5; e++)
        printf("  %-13s %12llu\n", event_name[e], (unsigned long long)count[e]);
    for (int s = 0; s < 16; s++)
        if (spaces[s])
            printf("  space %-7d %12llu records\n", s, (unsigned long long)spaces[s]);
    free(set.slot);
    return 0;
}
