/*
 * bench_report.c - the ratio table and the reports of `vmkit bench`:
 * Markdown (a table to paste), JSON (every sample, for tools), SVG (a bar
 * chart of the ratios on a log scale, with the goals marked), written by hand.
 */
#include "bench.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_median(const double *v, int n)
{
    if (n <= 0)
        return 0;
    double t[BENCH_MAX_REPS];
    memcpy(t, v, sizeof(double) * (size_t)n);
    qsort(t, (size_t)n, sizeof *t, cmp_d);
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static void minmax(const double *v, int n, double *lo, double *hi)
{
    *lo = *hi = n ? v[0] : 0;
    for (int i = 1; i < n; i++) {
        *lo = v[i] < *lo ? v[i] : *lo;
        *hi = v[i] > *hi ? v[i] : *hi;
    }
}

double bench_ratio(const struct bench_row *r)
{
    double v = bench_median(r->v, r->nv), k = bench_median(r->k, r->nk);
    if (!r->nv || !r->nk || v <= 0 || k <= 0)
        return 0;
    return r->lower_better ? k / v : v / k;
}

/* A value for people: rates as integers grouped by thousands ("193 815"),
 * times with two decimals. */
static const char *num(char *buf, double v, const char *unit)
{
    if (strcmp(unit, "pages/s")) {
        snprintf(buf, 32, "%.2f", v);
        return buf;
    }
    char t[32];
    int n = snprintf(t, sizeof t, "%.0f", v), o = 0;
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0)
            buf[o++] = ' ';
        buf[o++] = t[i];
    }
    buf[o] = 0;
    return buf;
}

static const char *side(char *buf, const double *s, int n, const char *unit)
{
    return n ? num(buf, bench_median(s, n), unit) : "n/a";
}

static const char *ratio_s(char *buf, const struct bench_row *r)
{
    double x = bench_ratio(r);
    if (x > 0)
        snprintf(buf, 32, "%.2fx", x);
    else
        snprintf(buf, 32, "n/a");
    return buf;
}

static const char *goal_s(char *buf, const struct bench_row *r)
{
    double x = bench_ratio(r);
    if (r->goal <= 0)
        return "-";
    snprintf(buf, 32, ">= %.2gx%s", r->goal, x <= 0 ? "" : x >= r->goal ? ": met" : ": not yet");
    return buf;
}

void bench_table(FILE *f, const struct bench_row *rows, int n)
{
    char a[32], b[32], c[32], d[32];
    fprintf(f, "\n%-18s %12s %12s %-8s %8s  %-17s %s\n", "workload", "vmkit", "baseline", "unit",
            "ratio", "goal", "baseline is");
    for (int i = 0; i < n; i++) {
        const struct bench_row *r = &rows[i];
        fprintf(f, "%-18s %12s %12s %-8s %8s  %-17s %s%s\n", r->name, side(a, r->v, r->nv, r->unit),
                side(b, r->k, r->nk, r->unit), r->unit, ratio_s(c, r), goal_s(d, r), r->baseline,
                r->bad ? "  WRONG DATA" : "");
    }
    fprintf(f, "(ratio = vmkit / baseline, inverted for times: higher is better)\n");
}

/* Half the range of the samples, relative to their median. */
static const char *spread(char *buf, const double *s, int n)
{
    double lo, hi, m = bench_median(s, n);
    minmax(s, n, &lo, &hi);
    if (!n)
        return "n/a";
    snprintf(buf, 32, "±%.0f%%", m > 0 ? 50 * (hi - lo) / m : 0);
    return buf;
}

static void write_md(FILE *f, const struct bench_info *in, const struct bench_row *rows, int n)
{
    fprintf(f, "# vmkit bench%s\n\n`%s`, %s, on %s (%s, %d CPUs, %zu MiB). Region %zu MiB; "
               "out-of-core rows over %zu MiB. Kernel side: %s. Median of %d; spread = half the "
               "range of the samples, relative to the median (every sample is in the JSON report). "
               "Ratio = vmkit / baseline, inverted for times: higher is better. Load average "
               "(1 min) at the start %.2f, at the end %.2f: other work on the machine skews "
               "both sides.\n\n",
            in->quick ? " (quick)" : "", in->command, in->date, in->os, in->cpu, in->cpus,
            in->mem_mib, in->size >> 20, in->limit >> 20, in->kernel_side, in->reps, in->load[0],
            in->load[1]);
    fprintf(f, "| workload (baseline) | vmkit | baseline | ratio | goal | spread vmkit / baseline |\n"
               "|---|---:|---:|---:|---|---|\n");
    for (int i = 0; i < n; i++) {
        const struct bench_row *r = &rows[i];
        char a[32], b[32], c[32], d[32], e[32], g[32];
        fprintf(f, "| **%s** %s (%s)%s | %s%s%s | %s%s%s | %s | %s | %s / %s |\n", r->name, r->title,
                r->baseline, r->bad ? " **WRONG DATA**" : "", side(a, r->v, r->nv, r->unit),
                r->nv ? " " : "", r->nv ? r->unit : "", side(b, r->k, r->nk, r->unit),
                r->nk ? " " : "", r->nk ? r->unit : "", ratio_s(c, r), goal_s(d, r),
                spread(e, r->v, r->nv), spread(g, r->k, r->nk));
    }
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, double v, int present)
{
    if (present)
        fprintf(f, "%.6g", v);
    else
        fprintf(f, "null");
}

static void json_samples(FILE *f, const double *s, int n)
{
    fputc('[', f);
    for (int i = 0; i < n; i++)
        fprintf(f, "%s%.6g", i ? ", " : "", s[i]);
    fputc(']', f);
}

static void json_spread(FILE *f, const double *s, int n)
{
    double lo, hi;
    minmax(s, n, &lo, &hi);
    if (n)
        fprintf(f, "[%.6g, %.6g]", lo, hi);
    else
        fprintf(f, "null");
}

static void write_json(FILE *f, const struct bench_info *in, const struct bench_row *rows, int n)
{
    fprintf(f, "{\n  \"date\": ");
    json_str(f, in->date);
    fprintf(f, ",\n  \"command\": ");
    json_str(f, in->command);
    fprintf(f, ",\n  \"quick\": %s,\n  \"machine\": {\"os\": ", in->quick ? "true" : "false");
    json_str(f, in->os);
    fprintf(f, ", \"cpu\": ");
    json_str(f, in->cpu);
    fprintf(f, ", \"cpus\": %d, \"memory_mib\": %zu, \"loadavg_start\": %.2f, \"loadavg_end\": %.2f},\n"
               "  \"kernel_side\": ", in->cpus, in->mem_mib, in->load[0], in->load[1]);
    json_str(f, in->kernel_side);
    fprintf(f, ",\n  \"size_bytes\": %zu, \"limit_bytes\": %zu, \"reps\": %d,\n  \"rows\": [\n",
            in->size, in->limit, in->reps);
    for (int i = 0; i < n; i++) {
        const struct bench_row *r = &rows[i];
        double x = bench_ratio(r);
        fprintf(f, "    {\"workload\": ");
        json_str(f, r->name);
        fprintf(f, ", \"title\": ");
        json_str(f, r->title);
        fprintf(f, ", \"unit\": ");
        json_str(f, r->unit);
        fprintf(f, ", \"higher_is_better\": %s, \"baseline\": ", r->lower_better ? "false" : "true");
        json_str(f, r->baseline);
        fprintf(f, ",\n     \"vmkit\": ");
        json_num(f, bench_median(r->v, r->nv), r->nv);
        fprintf(f, ", \"kernel\": ");
        json_num(f, bench_median(r->k, r->nk), r->nk);
        fprintf(f, ", \"ratio\": ");
        json_num(f, x, x > 0);
        fprintf(f, ", \"goal\": ");
        json_num(f, r->goal, r->goal > 0);
        fprintf(f, ", \"goal_met\": %s, \"verified\": %s,\n     \"reps\": {\"vmkit\": %d, \"kernel\": %d}, "
                   "\"samples\": {\"vmkit\": ",
                r->goal > 0 && x > 0 ? (x >= r->goal ? "true" : "false") : "null",
                r->bad ? "false" : "true", r->nv, r->nk);
        json_samples(f, r->v, r->nv);
        fprintf(f, ", \"kernel\": ");
        json_samples(f, r->k, r->nk);
        fprintf(f, "}, \"spread\": {\"vmkit\": ");
        json_spread(f, r->v, r->nv);
        fprintf(f, ", \"kernel\": ");
        json_spread(f, r->k, r->nk);
        fprintf(f, "}}%s\n", i + 1 < n ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
}

/* The chart: one horizontal bar per row from 1.0x to its ratio on a log2
 * axis (left of 1.0: vmkit loses), green when it meets its goal (or 1.0x if
 * none), amber above par but short of it, red below par; a black tick at
 * the goal. */
static void write_svg(FILE *f, const struct bench_info *in, const struct bench_row *rows, int n)
{
    const double L = 250, W = 420, top = 50, rh = 26;
    double lo = 0.25, hi = 4;
    for (int i = 0; i < n; i++) {
        double x = bench_ratio(&rows[i]), g = rows[i].goal;
        if (x > 0 && x / 1.3 < lo) lo = x / 1.3;
        if (x * 1.3 > hi) hi = x * 1.3;
        if (g * 1.3 > hi) hi = g * 1.3;
    }
    double l0 = floor(log2(lo)), l1 = ceil(log2(hi));
#define X(r) (L + (log2(r) - l0) / (l1 - l0) * W)
    double height = top + rh * n + 50;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
               "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            L + W + 130, height);
    fprintf(f, "<text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">vmkit / baseline%s, "
               "higher is better (log scale)</text>\n<text x=\"10\" y=\"36\" fill=\"#555\">%s, %zu MiB over "
               "%zu MiB, median of %d</text>\n",
            in->quick ? " (quick)" : "", in->date, in->size >> 20, in->limit >> 20, in->reps);
    for (double e = l0; e <= l1; e++) {
        double x = L + (e - l0) / (l1 - l0) * W;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"%s\"/>\n"
                   "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\" fill=\"#555\">%gx</text>\n",
                x, top - 6, x, top + rh * n, e == 0 ? "#000" : "#ddd", x, top + rh * n + 16, exp2(e));
    }
    for (int i = 0; i < n; i++) {
        const struct bench_row *r = &rows[i];
        double x = bench_ratio(r), y = top + rh * i, x1 = X(1.0);
        fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%s</text>\n", L - 8, y + 17, r->name);
        if (x > 0) {
            double xr = X(x);
            const char *col = r->bad ? "#888" : x >= (r->goal > 0 ? r->goal : 1.0) ? "#3a9a4a"
                              : x >= 1.0 ? "#e0a030" : "#d0503c";
            fprintf(f, "<rect x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" height=\"%.0f\" fill=\"%s\"/>\n",
                    xr < x1 ? xr : x1, y + 5, fabs(xr - x1), rh - 10, col);
            fprintf(f, "<text x=\"%.0f\" y=\"%.0f\">%.2fx%s</text>\n", L + W + 8, y + 17, x,
                    r->bad ? " WRONG" : "");
        } else {
            fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" fill=\"#888\">n/a</text>\n", L + W + 8, y + 17);
        }
        if (r->goal > 0)
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#000\" "
                       "stroke-width=\"2\"><title>goal %gx</title></line>\n",
                    X(r->goal), y + 2, X(r->goal), y + rh - 2, r->goal);
    }
#undef X
    fprintf(f, "<text x=\"10\" y=\"%.0f\" fill=\"#555\">green: goal met (par if none); amber: above "
               "par, short of the goal; red: below par; black tick: the goal</text>\n</svg>\n",
            height - 10);
}

int bench_write_reports(const char *dir, const char *stem, const struct bench_info *in,
                        const struct bench_row *rows, int n)
{
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "vmkit bench: mkdir %s: %s\n", dir, strerror(errno));
        return -1;
    }
    static const char *const ext[] = { "md", "json", "svg" };
    for (int i = 0; i < 3; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s.%s", dir, stem, ext[i]);
        FILE *f = fopen(path, "w");
        if (!f) {
            fprintf(stderr, "vmkit bench: %s: %s\n", path, strerror(errno));
            return -1;
        }
        if (i == 0) write_md(f, in, rows, n);
        else if (i == 1) write_json(f, in, rows, n);
        else write_svg(f, in, rows, n);
        if (fclose(f) != 0) {
            fprintf(stderr, "vmkit bench: %s: %s\n", path, strerror(errno));
            return -1;
        }
        fprintf(stderr, "vmkit bench: wrote %s\n", path);
    }
    return 0;
}
