/*
 * bench.h - the benchmark suite's results: tools/bench.c measures them,
 * tools/bench_report.c prints the ratio table and writes the Markdown, JSON
 * and SVG reports.
 */
#ifndef VMK_BENCH_H
#define VMK_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define BENCH_MAX_REPS 16

/* One line of the report: vmkit against a baseline doing the same work (the
 * kernel, or memcpy for fork).  Times are lower-is-better; their ratio is
 * inverted, so every ratio reads "higher is better, 1.0 = par". */
struct bench_row {
    char name[32];          /* "seq", "rand-4", "fork-512M"... */
    char title[96];         /* what it measures, in words */
    char unit[16];          /* "pages/s", "ms", "us/page" */
    char baseline[64];      /* what the "kernel" column is */
    int lower_better;
    double goal;            /* ratio to reach; 0: none set */
    double v[BENCH_MAX_REPS], k[BENCH_MAX_REPS]; /* samples: vmkit, baseline */
    int nv, nk;
    uint64_t bad;           /* wrong pages seen: the row and the run fail */
};

struct bench_info {
    char command[512], date[32], os[256], cpu[128], kernel_side[256];
    int cpus, quick, reps;
    size_t mem_mib, size, limit;
    double load[2];         /* 1-minute load average at the start and the end */
};

double bench_median(const double *v, int n);
/* vmkit / baseline (baseline / vmkit for times); 0 when a side is missing. */
double bench_ratio(const struct bench_row *r);
/* The ratio table, plain text. */
void bench_table(FILE *f, const struct bench_row *rows, int n);
/* DIR/STEM.md, DIR/STEM.json, DIR/STEM.svg; 0 or -1 (said on stderr). */
int bench_write_reports(const char *dir, const char *stem, const struct bench_info *in,
                        const struct bench_row *rows, int n);

#endif
