/*
 * plot.c - `vmkit plot`: SVG figures of page replacement and working sets,
 * written by hand (no plotting library).
 *
 *   vmkit plot mrc [-p P,...] [--curve MIN:MAX[:STEP]] [-o OUT.svg] FILE
 *       Miss-ratio curves: for each policy, faults / references over a range
 *       of frame counts, computed by the simulator (sim_core.c) on FILE - a
 *       text reference string or a recorded trace, as `vmkit sim` reads it.
 *       The curve's frame counts are `vmkit sim --curve`'s (default: 1 to
 *       the number of distinct pages in about 32 steps).
 *
 *   vmkit plot ws [--tau MS] [--bin MS] [--frames N] [-o OUT.svg] TRACE
 *       From a trace recorded by vmkit (VMK_TRACE), over time: the working
 *       set of each space and of all of them (top), the fault, major-fault
 *       and eviction rates (bottom), and the stretches where the trace shows
 *       thrashing, shaded in both.
 *
 * How the time series are computed, per bin of --bin ms (default tau/10,
 * widened to keep at most 400 bins): the trace's references are its
 * records of events 1-4 (each fault; only the faulting page); the working
 * set at the end te of a bin is the number of distinct pages referenced in
 * [te - tau, te) (tau: --tau, default 1000 ms, as vmk_stats.working_set),
 * counted exactly with a queue of references and each page's last
 * reference time: a page enters when referenced outside the window and
 * leaves when its last reference falls out.  This is Denning's definition
 * applied to the references the run made visible (faults) - the
 * vmk_stats.working_set figure of the run itself also counts references
 * its policy sampled on pages that never faulted.  A major fault (event 2)
 * is a refault if fewer than `frames` evictions (event 5) came after the
 * page's own eviction, as vmkit's refault distance counts them; `frames`
 * is --frames, or else estimated as the most pages at once that had taken
 * a fault (any fault shows the page resident) and were not evicted since
 * (fault-around pages never referenced do not count: an underestimate).  A bin is shaded as
 * thrashing when it has at least 16 major faults and refaults are at least
 * 25% of them: thrash.c's refault-share rule (a trace has no stall times,
 * so its second condition cannot be checked).
 *
 * The SVG is meant to be read by programs too: each plot area is a <g
 * class="plot"> carrying its axis mapping (data-x0/x1: pixels of
 * data-xmin/xmax, data-y0/y1: pixels of data-ymin/ymax), each curve a
 * <polyline class="series"> with its raw values (data-x, data-y), and each
 * miss-ratio point a <circle class="pt"> with data-policy, data-frames,
 * data-faults and data-references.
 */
#include "commands.h"
#include "sim.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vmk_cmd_plot(int argc, char **argv);

#define PLOT_USAGE \
"usage: vmkit plot mrc [-p P[,P...]] [--curve MIN:MAX[:STEP]] [-o OUT.svg] FILE\n" \
"       vmkit plot ws [--tau MS] [--bin MS] [--frames N] [-o OUT.svg] TRACE\n" \
"\n" \
"SVG figures (to OUT.svg, or stdout).\n" \
"  mrc   miss-ratio curves of policies (default: opt,fifo,clock,lru,s3fifo) over\n" \
"        frame counts, simulated on FILE (a reference string or a vmkit trace,\n" \
"        as `vmkit sim` reads it; - for stdin)\n" \
"  ws    from a trace recorded with VMK_TRACE: working set per space over time\n" \
"        (window --tau, default 1000 ms; bins --bin, default tau/10), fault,\n" \
"        major-fault and eviction rates, and the stretches that thrash (>= 16\n" \
"        major faults in a bin, >= 25% of them refaults; --frames N is the\n" \
"        budget for the refault distance, default: estimated from the trace)\n"

static const char *const palette[] = { "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                       "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22" };
#define NCOLORS (sizeof palette / sizeof palette[0])

/* ------------------------------------------------------------ SVG parts */

/* Text with the five XML special characters escaped. */
static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default: fputc(*s, f);
        }
    }
}

static void svg_begin(FILE *f, int w, int h, const char *title)
{
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n<title>",
            w, h, w, h);
    xml_text(f, title);
    fprintf(f, "</title>\n<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n"
               "<text x=\"%d\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">", w, h, w / 2);
    xml_text(f, title);
    fputs("</text>\n", f);
}

static void svg_end(FILE *f)
{
    fputs("</svg>\n", f);
}

/* A tick step of 1, 2 or 5 times a power of ten giving about n ticks. */
static double nice_step(double range, int n)
{
    if (!(range > 0))
        return 1;
    double raw = range / n, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/* Round v up to a whole number of nice steps (for an axis maximum). */
static double nice_ceil(double v)
{
    if (!(v > 0))
        return 1;
    double s = nice_step(v, 5);
    return ceil(v / s - 1e-9) * s;
}

/* A plot area: pixels [x0, x1] x [y1, y0] (y0 is the bottom) show values
 * [xmin, xmax] x [ymin, ymax]. */
struct axes {
    double x0, x1, y0, y1;
    double xmin, xmax, ymin, ymax;
};

static double px(const struct axes *a, double x)
{
    return a->x0 + (x - a->xmin) / (a->xmax - a->xmin) * (a->x1 - a->x0);
}

static double py(const struct axes *a, double y)
{
    return a->y0 + (y - a->ymin) / (a->ymax - a->ymin) * (a->y1 - a->y0);
}

static void fmt_num(char *buf, size_t n, double v)
{
    v += 0.0;                           /* no "-0" */
    if (fabs(v) < 1e-12)
        v = 0;
    if (fabs(v) >= 1e6 || (fabs(v) < 1e-3 && v != 0))
        snprintf(buf, n, "%.3g", v);
    else
        snprintf(buf, n, "%.10g", round(v * 1e6) / 1e6);
}

/* Open the plot group (closed by the caller), draw the frame, grid, ticks
 * and axis labels. */
static void axes_draw(FILE *f, const struct axes *a, const char *name, const char *xlabel,
                      const char *ylabel)
{
    fprintf(f, "<g class=\"plot\" data-name=\"%s\" data-x0=\"%.2f\" data-x1=\"%.2f\" "
               "data-xmin=\"%.17g\" data-xmax=\"%.17g\" data-y0=\"%.2f\" data-y1=\"%.2f\" "
               "data-ymin=\"%.17g\" data-ymax=\"%.17g\">\n",
            name, a->x0, a->x1, a->xmin, a->xmax, a->y0, a->y1, a->ymin, a->ymax);
    char buf[64];
    double sx = nice_step(a->xmax - a->xmin, 8), sy = nice_step(a->ymax - a->ymin, 5);
    for (double x = ceil(a->xmin / sx - 1e-9) * sx; x <= a->xmax + sx * 1e-9; x += sx) {
        double p = px(a, x);
        fmt_num(buf, sizeof buf, x);
        fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#e5e5e5\"/>\n"
                   "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">%s</text>\n",
                p, a->y0, p, a->y1, p, a->y0 + 16, buf);
    }
    for (double y = ceil(a->ymin / sy - 1e-9) * sy; y <= a->ymax + sy * 1e-9; y += sy) {
        double p = py(a, y);
        fmt_num(buf, sizeof buf, y);
        fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#e5e5e5\"/>\n"
                   "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"end\">%s</text>\n",
                a->x0, p, a->x1, p, a->x0 - 6, p + 4, buf);
    }
    fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"none\" "
               "stroke=\"black\"/>\n", a->x0, a->y1, a->x1 - a->x0, a->y0 - a->y1);
    fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">", (a->x0 + a->x1) / 2, a->y0 + 34);
    xml_text(f, xlabel);
    fprintf(f, "</text>\n<text transform=\"translate(%.2f %.2f) rotate(-90)\" "
               "text-anchor=\"middle\">", a->x0 - 52, (a->y0 + a->y1) / 2);
    xml_text(f, ylabel);
    fputs("</text>\n", f);
}

/* A curve through (x[i], y[i]), raw values kept in data-x and data-y. */
static void series(FILE *f, const struct axes *a, const char *name, const char *color,
                   const char *dash, const double *x, const double *y, size_t n)
{
    fputs("<polyline class=\"series\" data-name=\"", f);
    xml_text(f, name);
    fputs("\" data-x=\"", f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%.17g", i ? " " : "", x[i]);
    fputs("\" data-y=\"", f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%.17g", i ? " " : "", y[i]);
    fprintf(f, "\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\"%s%s%s points=\"", color,
            dash ? " stroke-dasharray=\"" : "", dash ? dash : "", dash ? "\"" : "");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%.2f,%.2f", i ? " " : "", px(a, x[i]), py(a, y[i]));
    fputs("\"/>\n", f);
}

/* dashes: NULL, or per entry NULL (solid) or an SVG dash array. */
static void legend(FILE *f, double x, double y, const char *const *names,
                   const char *const *colors, const char *const *dashes, size_t n)
{
    fputs("<g class=\"legend\">\n", f);
    for (size_t i = 0; i < n; i++) {
        const char *d = dashes ? dashes[i] : NULL;
        fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" "
                   "stroke-width=\"2\"%s%s%s/>\n<text x=\"%.2f\" y=\"%.2f\">",
                x, y + 16.0 * (double)i, x + 22, y + 16.0 * (double)i, colors[i],
                d ? " stroke-dasharray=\"" : "", d ? d : "", d ? "\"" : "", x + 28,
                y + 16.0 * (double)i + 4);
        xml_text(f, names[i]);
        fputs("</text>\n", f);
    }
    fputs("</g>\n", f);
}

/* ------------------------------------------------------------ arguments */

struct plot_opts {
    const char *kind, *file, *out;
    char *policies;                     /* comma list (a copy) */
    size_t cmin, cmax, cstep;
    double tau_ms, bin_ms;
    uint64_t frames;
};

static int parse_u64(const char *s, uint64_t *v)
{
    char *end;
    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (*end || errno || x == 0)
        return -1;
    *v = x;
    return 0;
}

/* "MIN:MAX[:STEP]", 1 <= MIN <= MAX. */
static int parse_range(struct plot_opts *o, const char *s)
{
    uint64_t v[3] = { 0, 0, 0 };
    char buf[96];
    if (strlen(s) >= sizeof buf)
        return -1;
    strcpy(buf, s);
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
        if (n == 3 || parse_u64(tok, &v[n]))
            return -1;
        n++;
    }
    if (n < 2 || v[1] < v[0])
        return -1;
    o->cmin = v[0], o->cmax = v[1], o->cstep = v[2];
    return 0;
}

static int plot_usage(FILE *f, int rc)
{
    fputs(PLOT_USAGE, f);
    return rc;
}

static int plot_parse(int argc, char **argv, struct plot_opts *o)
{
    if (argc < 2)
        return -1;
    o->kind = argv[1];
    if (!strcmp(o->kind, "-h") || !strcmp(o->kind, "--help"))
        return 1;
    if (strcmp(o->kind, "mrc") && strcmp(o->kind, "ws"))
        return fprintf(stderr, "vmkit plot: unknown figure '%s' (mrc or ws)\n", o->kind), -1;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n;
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return 1;
        if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!v)
                return fprintf(stderr, "vmkit plot: -o wants a file\n"), -1;
            o->out = v, i++;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--policy")) {
            if (!v)
                return fprintf(stderr, "vmkit plot: --policy wants a list\n"), -1;
            free(o->policies);
            if (!(o->policies = strdup(v)))
                return -1;
            i++;
        } else if (!strcmp(a, "--curve")) {
            if (!v || parse_range(o, v))
                return fprintf(stderr, "vmkit plot: --curve wants MIN:MAX[:STEP]\n"), -1;
            i++;
        } else if (!strcmp(a, "--tau") || !strcmp(a, "--bin") || !strcmp(a, "--frames")) {
            if (parse_u64(v, &n))
                return fprintf(stderr, "vmkit plot: %s wants a positive number\n", a), -1;
            if (!strcmp(a, "--tau"))
                o->tau_ms = (double)n;
            else if (!strcmp(a, "--bin"))
                o->bin_ms = (double)n;
            else
                o->frames = n;
            i++;
        } else if (a[0] == '-' && a[1]) {
            return fprintf(stderr, "vmkit plot: unknown option '%s'\n", a), -1;
        } else if (o->file) {
            return fprintf(stderr, "vmkit plot: one FILE only\n"), -1;
        } else {
            o->file = a;
        }
    }
    if (!o->file)
        return fprintf(stderr, "vmkit plot: no FILE (see --help)\n"), -1;
    return 0;
}

static FILE *open_out(const struct plot_opts *o)
{
    if (!o->out || !strcmp(o->out, "-"))
        return stdout;
    FILE *f = fopen(o->out, "w");
    if (!f)
        fprintf(stderr, "vmkit plot: %s: %s\n", o->out, strerror(errno));
    return f;
}

static int close_out(const struct plot_opts *o, FILE *f)
{
    int bad = ferror(f);
    if (f != stdout)
        bad |= fclose(f) != 0;
    else
        bad |= fflush(f) != 0;
    if (bad)
        fprintf(stderr, "vmkit plot: writing %s failed\n", o->out ? o->out : "stdout");
    return bad ? 1 : 0;
}

/* ------------------------------------------------------- miss-ratio curves */

static int plot_mrc(struct plot_opts *o)
{
    int std = !strcmp(o->file, "-");
    FILE *in = std ? stdin : fopen(o->file, "rb");
    if (!in)
        return fprintf(stderr, "vmkit plot: %s: %s\n", o->file, strerror(errno)), 1;
    sim_trace t;
    size_t line = 0;
    int r = sim_trace_load(in, &t, &line);
    if (!std)
        fclose(in);
    if (r)
        return fprintf(stderr, "vmkit plot: %s: %s\n", o->file,
                       r == -EINVAL ? "not a reference string or trace" : strerror(-r)), 1;
    sim_prepared p;
    r = sim_prepare(&p, t.refs, t.n);
    sim_trace_free(&t);
    if (r)
        return fprintf(stderr, "vmkit plot: %s\n", strerror(-r)), 1;
    if (!o->policies && !(o->policies = strdup("opt,fifo,clock,lru,s3fifo"))) {
        sim_prepared_free(&p);
        return 1;
    }
    char *names[NCOLORS];
    size_t npol = 0;
    for (char *save = NULL, *tok = strtok_r(o->policies, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (!sim_policy_valid(tok) || npol == NCOLORS) {
            fprintf(stderr, "vmkit plot: %s: unknown policy, or more than %zu\n", tok, NCOLORS);
            sim_prepared_free(&p);
            return 2;
        }
        names[npol++] = tok;
    }
    if (!o->cmax) {                     /* as `vmkit sim --curve` */
        o->cmin = 1;
        o->cmax = p.npages ? p.npages : 1;
    }
    if (!o->cstep)
        o->cstep = (o->cmax - o->cmin + 31) / 32 ? (o->cmax - o->cmin + 31) / 32 : 1;
    size_t nfr = (o->cmax - o->cmin) / o->cstep + 1 + ((o->cmax - o->cmin) % o->cstep != 0);
    double *xs = malloc(nfr * sizeof *xs), *ys = malloc(npol * nfr * sizeof *ys);
    uint64_t *faults = malloc(npol * nfr * sizeof *faults);
    int rc = 1;
    if (!xs || !ys || !faults)
        goto done;
    double ymaxv = 0;
    for (size_t b = 0; b < nfr; b++)
        xs[b] = (double)(b + 1 == nfr ? o->cmax : o->cmin + b * o->cstep);
    for (size_t a = 0; a < npol; a++)
        for (size_t b = 0; b < nfr; b++) {
            if ((r = sim_run_prepared(&p, names[a], (size_t)xs[b], &faults[a * nfr + b]))) {
                fprintf(stderr, "vmkit plot: %s: %s\n", names[a], strerror(-r));
                goto done;
            }
            ys[a * nfr + b] = p.n ? (double)faults[a * nfr + b] / (double)p.n : 0;
            if (ys[a * nfr + b] > ymaxv)
                ymaxv = ys[a * nfr + b];
        }
    FILE *f = open_out(o);
    if (!f)
        goto done;
    char title[512];
    snprintf(title, sizeof title, "Miss-ratio curves: %s (%zu references, %u pages)", o->file,
             p.n, p.npages);
    svg_begin(f, 820, 480, title);
    struct axes ax = { 80, 640, 420, 40, xs[0], xs[nfr - 1] > xs[0] ? xs[nfr - 1] : xs[0] + 1,
                       0, nice_ceil(ymaxv > 1 ? 1 : ymaxv) };
    axes_draw(f, &ax, "mrc", "frames", "miss ratio (faults / references)");
    const char *colors[NCOLORS];
    for (size_t a = 0; a < npol; a++) {
        colors[a] = palette[a % NCOLORS];
        series(f, &ax, names[a], colors[a], NULL, xs, ys + a * nfr, nfr);
        for (size_t b = 0; b < nfr; b++) {
            fputs("<circle class=\"pt\" data-policy=\"", f);
            xml_text(f, names[a]);
            fprintf(f, "\" data-frames=\"%zu\" data-faults=\"%llu\" data-references=\"%zu\" "
                       "cx=\"%.2f\" cy=\"%.2f\" r=\"2.5\" fill=\"%s\"><title>",
                    (size_t)xs[b], (unsigned long long)faults[a * nfr + b], p.n, px(&ax, xs[b]),
                    py(&ax, ys[a * nfr + b]), colors[a]);
            xml_text(f, names[a]);
            fprintf(f, ", %zu frames: %llu faults, miss ratio %.4f</title></circle>\n",
                    (size_t)xs[b], (unsigned long long)faults[a * nfr + b], ys[a * nfr + b]);
        }
    }
    fputs("</g>\n", f);
    legend(f, 660, 60, (const char *const *)names, colors, NULL, npol);
    svg_end(f);
    rc = close_out(o, f);
done:
    free(xs), free(ys), free(faults);
    sim_prepared_free(&p);
    return rc;
}

/* ------------------------------------------------- working set over time */

struct rec { uint64_t page; uint32_t event; uint64_t t_us; };

static uint32_t le32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* The records of a binary trace, times unwrapped (32-bit microseconds wrap
 * after 71 minutes) and made non-decreasing (records are appended under a
 * lock after their time is read, so neighbours may be a little out of
 * order).  0, or -1 with a message. */
static int load_records(const char *path, struct rec **out, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char b[16];
    if (!f)
        return fprintf(stderr, "vmkit plot: %s: %s\n", path, strerror(errno)), -1;
    if (fread(b, 1, 16, f) != 16 || memcmp(b, "VMKTRC01", 8)) {
        fclose(f);
        return fprintf(stderr, "vmkit plot: %s is not a vmkit trace (VMK_TRACE)\n", path), -1;
    }
    size_t cap = 4096, k = 0;
    struct rec *r = malloc(cap * sizeof *r);
    uint64_t base = 0, prev = 0;
    uint32_t last32 = 0;
    while (r && fread(b, 1, 16, f) == 16) {
        if (k == cap) {
            struct rec *nr = realloc(r, (cap *= 2) * sizeof *r);
            if (!nr) {
                free(r);
                r = NULL;
                break;
            }
            r = nr;
        }
        uint32_t t32 = le32(b + 12);
        if (k && t32 < last32 && last32 - t32 > 0x80000000u)
            base += 1ull << 32;
        last32 = t32;
        uint64_t t = base + t32;
        if (t < prev)
            t = prev;
        prev = t;
        r[k++] = (struct rec){ (uint64_t)le32(b) | (uint64_t)le32(b + 4) << 32, le32(b + 8), t };
    }
    fclose(f);
    if (!r)
        return fprintf(stderr, "vmkit plot: out of memory\n"), -1;
    *out = r;
    *n = k;
    return 0;
}

/* Pages of the trace, each with its state. */
struct pstate {
    uint64_t key;                       /* page + 1; 0: empty slot */
    uint64_t last_ref;                  /* time + 1 of its last reference; 0 none */
    uint64_t evicted_at;                /* eviction count at its last eviction; 0 none */
    int in_ws, resident;
    int series;                         /* its space's series */
};

/* Open addressing, linear probing, load <= 1/2. */
struct pmap { struct pstate *s; size_t cap, n; };

static size_t pmap_slot(const struct pmap *m, uint64_t key)
{
    size_t j = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 17) & (m->cap - 1);
    while (m->s[j].key && m->s[j].key != key)
        j = (j + 1) & (m->cap - 1);
    return j;
}

static struct pstate *pmap_find(const struct pmap *m, uint64_t page)
{
    struct pstate *p = m->cap ? &m->s[pmap_slot(m, page + 1)] : NULL;
    return p && p->key ? p : NULL;
}

/* Find or insert (the map may move: pointers into it are then stale). */
static struct pstate *pmap_get(struct pmap *m, uint64_t page)
{
    struct pstate *p = pmap_find(m, page);
    if (p)
        return p;
    if (2 * (m->n + 1) > m->cap) {
        struct pmap g = { calloc(m->cap ? 2 * m->cap : 4096, sizeof *m->s),
                          m->cap ? 2 * m->cap : 4096, m->n };
        if (!g.s)
            return NULL;
        for (size_t i = 0; i < m->cap; i++)
            if (m->s[i].key)
                g.s[pmap_slot(&g, m->s[i].key)] = m->s[i];
        free(m->s);
        *m = g;
    }
    p = &m->s[pmap_slot(m, page + 1)];
    *p = (struct pstate){ .key = page + 1, .series = -1 };
    m->n++;
    return p;
}

#define MAX_SERIES 8                    /* spaces with a curve of their own; the rest: "other" */

struct ws_out {
    size_t nbins;
    double *t;                          /* bin end, seconds */
    double *ws[MAX_SERIES + 2];         /* per space series, "other", all */
    double *faults, *majors, *evicts;   /* per second */
    int *thrash;
    uint32_t space_id[MAX_SERIES];
    int nspaces;                        /* spaces with a series of their own */
    int other;                          /* pages of further spaces seen */
    uint64_t frames;
};

static void ws_out_free(struct ws_out *w)
{
    free(w->t), free(w->faults), free(w->majors), free(w->evicts), free(w->thrash);
    for (int i = 0; i < MAX_SERIES + 2; i++)
        free(w->ws[i]);
}

static int is_ref(uint32_t ev) { return ev >= 1 && ev <= 4; }

/* Every page of the trace into the map, with its space's series. */
static int map_pages(const struct rec *r, size_t n, struct pmap *m, struct ws_out *w)
{
    for (size_t i = 0; i < n; i++) {
        if (!is_ref(r[i].event) && r[i].event != 5)
            continue;
        struct pstate *p = pmap_get(m, r[i].page);
        if (!p)
            return -1;
        if (p->series >= 0)
            continue;
        uint32_t sp = (uint32_t)(r[i].page >> 48);
        int s = 0;
        while (s < w->nspaces && w->space_id[s] != sp)
            s++;
        if (s == w->nspaces && s < MAX_SERIES)
            w->space_id[w->nspaces++] = sp;
        p->series = s;                  /* MAX_SERIES: "other" */
        w->other |= s == MAX_SERIES;
    }
    return 0;
}

/* The most pages at once that were seen resident (any fault on them) and
 * not evicted since. */
static uint64_t estimate_frames(const struct rec *r, size_t n, struct pmap *m)
{
    uint64_t cur = 0, peak = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_ref(r[i].event) && r[i].event != 5)
            continue;
        struct pstate *p = pmap_find(m, r[i].page);
        if (is_ref(r[i].event) && !p->resident) {
            p->resident = 1;
            if (++cur > peak)
                peak = cur;
        } else if (r[i].event == 5 && p->resident) {
            p->resident = 0;
            cur--;
        }
    }
    return peak ? peak : 1;
}

/* The time series (see the comment at the top). */
static int ws_compute(const struct rec *r, size_t n, double tau_us, double bin_us,
                      struct ws_out *w)
{
    uint64_t span = n ? r[n - 1].t_us - r[0].t_us : 0;
    w->nbins = (size_t)((double)span / bin_us) + 1;
    w->t = calloc(w->nbins, sizeof *w->t);
    w->faults = calloc(w->nbins, sizeof *w->faults);
    w->majors = calloc(w->nbins, sizeof *w->majors);
    w->evicts = calloc(w->nbins, sizeof *w->evicts);
    w->thrash = calloc(w->nbins, sizeof *w->thrash);
    int ok = w->t && w->faults && w->majors && w->evicts && w->thrash;
    for (int i = 0; i < MAX_SERIES + 2; i++)
        ok = ok && (w->ws[i] = calloc(w->nbins, sizeof *w->ws[i]));
    struct pstate **q = malloc((n ? n : 1) * sizeof *q);     /* the references, in order */
    uint64_t *qt = malloc((n ? n : 1) * sizeof *qt);
    uint64_t *refaults = calloc(w->nbins, sizeof *refaults);
    struct pmap m = { 0 };
    ok = ok && q && qt && refaults && map_pages(r, n, &m, w) == 0;
    if (ok && !w->frames)
        w->frames = estimate_frames(r, n, &m);
    int64_t count[MAX_SERIES + 1] = { 0 };
    size_t qh = 0, qn = 0, i = 0;
    uint64_t evictions = 0;
    for (size_t b = 0; ok && b < w->nbins; b++) {
        double te = (double)(b + 1) * bin_us;
        for (; i < n && (double)(r[i].t_us - r[0].t_us) < te; i++) {
            const struct rec *x = &r[i];
            if (!is_ref(x->event) && x->event != 5)
                continue;
            struct pstate *p = pmap_find(&m, x->page);
            if (x->event == 5) {
                p->evicted_at = ++evictions;
                w->evicts[b]++;
                continue;
            }
            w->faults[b]++;
            if (x->event == 2) {
                w->majors[b]++;
                if (p->evicted_at && evictions - p->evicted_at < w->frames)
                    refaults[b]++;
            }
            if (!p->in_ws) {
                p->in_ws = 1;
                count[p->series]++;
            }
            uint64_t t = x->t_us - r[0].t_us;
            p->last_ref = t + 1;
            q[qh + qn] = p;
            qt[qh + qn] = t;
            qn++;
        }
        /* Expire references that fell out of the window [te - tau, te). */
        while (qn && (double)qt[qh] < te - tau_us) {
            struct pstate *p = q[qh];
            if (p->in_ws && p->last_ref == qt[qh] + 1) {
                p->in_ws = 0;
                count[p->series]--;
            }
            qh++, qn--;
        }
        w->t[b] = te / 1e6;
        double all = 0;
        for (int s = 0; s <= MAX_SERIES; s++) {
            w->ws[s][b] = (double)count[s];
            all += (double)count[s];
        }
        w->ws[MAX_SERIES + 1][b] = all;
        w->thrash[b] = w->majors[b] >= 16 && refaults[b] * 4 >= (uint64_t)w->majors[b];
        double per_s = 1e6 / bin_us;
        w->faults[b] *= per_s, w->majors[b] *= per_s, w->evicts[b] *= per_s;
    }
    free(q), free(qt), free(refaults), free(m.s);
    return ok ? 0 : -1;
}

static double series_max(const double *v, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i] > m)
            m = v[i];
    return m;
}

/* Shade the runs of thrashing bins of a panel, one rectangle per run;
 * returns the first thrashing bin's index, or -1. */
static long shade_thrash(FILE *f, const struct axes *a, const struct ws_out *w, double bin_s)
{
    long first = -1;
    for (size_t b = 0; b < w->nbins;) {
        if (!w->thrash[b]) {
            b++;
            continue;
        }
        size_t e = b;
        while (e + 1 < w->nbins && w->thrash[e + 1])
            e++;
        if (first < 0)
            first = (long)b;
        double t0 = w->t[b] - bin_s, x0 = px(a, t0 > a->xmin ? t0 : a->xmin), x1 = px(a, w->t[e]);
        fprintf(f, "<rect class=\"thrash\" data-t0=\"%.17g\" data-t1=\"%.17g\" x=\"%.2f\" y=\"%.2f\" "
                   "width=\"%.2f\" height=\"%.2f\" fill=\"#f6d3d3\"/>\n",
                t0, w->t[e], x0, a->y1, x1 - x0, a->y0 - a->y1);
        b = e + 1;
    }
    return first;
}

static int plot_ws(struct plot_opts *o)
{
    struct rec *r;
    size_t n;
    if (load_records(o->file, &r, &n))
        return 1;
    double tau_ms = o->tau_ms ? o->tau_ms : 1000, span_ms = n ? (double)(r[n - 1].t_us - r[0].t_us) / 1e3 : 0;
    double bin_ms = o->bin_ms ? o->bin_ms : tau_ms / 10;
    if (!o->bin_ms && span_ms / bin_ms > 400)
        bin_ms = ceil(span_ms / 400);
    struct ws_out w = { .frames = o->frames };
    int rc = 1;
    if (ws_compute(r, n, tau_ms * 1e3, bin_ms * 1e3, &w)) {
        fprintf(stderr, "vmkit plot: out of memory\n");
        goto done;
    }
    FILE *f = open_out(o);
    if (!f)
        goto done;
    char title[512], label[96];
    snprintf(title, sizeof title, "Working sets and faults over time: %s (tau %.0f ms, bins %.0f ms)",
             o->file, tau_ms, bin_ms);
    svg_begin(f, 880, 640, title);
    double tmax = w.t[w.nbins - 1], bin_s = bin_ms / 1e3;
    /* Top: working sets. */
    const char *names[MAX_SERIES + 3], *colors[MAX_SERIES + 3], *dashes[MAX_SERIES + 3];
    char namebuf[MAX_SERIES + 2][48];
    double ymax = series_max(w.ws[MAX_SERIES + 1], w.nbins);
    if ((double)w.frames > ymax)
        ymax = (double)w.frames;
    struct axes top = { 80, 680, 300, 40, 0, tmax, 0, nice_ceil(ymax * 1.05) };
    axes_draw(f, &top, "ws", "time (s)", "working set (pages)");
    long onset = shade_thrash(f, &top, &w, bin_s);
    size_t nn = 0;
    int lines = w.nspaces + w.other, all = lines > 1;
    for (int s = 0; s <= MAX_SERIES + 1; s++) {
        if (s < MAX_SERIES && s >= w.nspaces)
            continue;
        if ((s == MAX_SERIES && !w.other) || (s == MAX_SERIES + 1 && !all))
            continue;
        if (s < MAX_SERIES)
            snprintf(namebuf[nn], sizeof namebuf[nn], "space %u", w.space_id[s]);
        else
            snprintf(namebuf[nn], sizeof namebuf[nn], "%s", s == MAX_SERIES ? "other spaces" : "all");
        names[nn] = namebuf[nn];
        colors[nn] = s == MAX_SERIES + 1 ? "#000000" : palette[nn % NCOLORS];
        dashes[nn] = s == MAX_SERIES + 1 ? "5,3" : NULL;
        series(f, &top, names[nn], colors[nn], dashes[nn], w.t, w.ws[s], w.nbins);
        nn++;
    }
    double fx[2] = { 0, tmax }, fy[2] = { (double)w.frames, (double)w.frames };
    snprintf(label, sizeof label, "frames%s (%llu)", o->frames ? "" : ", estimated",
             (unsigned long long)w.frames);
    series(f, &top, label, "#888888", "2,4", fx, fy, 2);
    names[nn] = label, colors[nn] = "#888888", dashes[nn++] = "2,4";
    if (onset >= 0) {
        double x = px(&top, w.t[onset] - bin_s);
        fprintf(f, "<line class=\"onset\" data-t=\"%.17g\" x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" "
                   "y2=\"%.2f\" stroke=\"#c00000\" stroke-width=\"1.5\"/>\n<text x=\"%.2f\" "
                   "y=\"%.2f\" fill=\"#c00000\">thrashing from %.2f s</text>\n",
                w.t[onset] - bin_s, x, top.y0, x, top.y1, x + 4, top.y1 + 14, w.t[onset] - bin_s);
    }
    fputs("</g>\n", f);
    legend(f, 700, 60, names, colors, dashes, nn);
    /* Bottom: rates. */
    ymax = series_max(w.faults, w.nbins);
    struct axes bot = { 80, 680, 590, 370, 0, tmax, 0, nice_ceil(ymax * 1.05) };
    axes_draw(f, &bot, "rates", "time (s)", "per second");
    shade_thrash(f, &bot, &w, bin_s);
    const char *rn[3] = { "faults", "major faults", "evictions" }, *rc3[3] = { palette[0], palette[1], palette[2] };
    series(f, &bot, rn[0], rc3[0], NULL, w.t, w.faults, w.nbins);
    series(f, &bot, rn[1], rc3[1], NULL, w.t, w.majors, w.nbins);
    series(f, &bot, rn[2], rc3[2], "4,2", w.t, w.evicts, w.nbins);
    fputs("</g>\n", f);
    const char *rd[3] = { NULL, NULL, "4,2" };
    legend(f, 700, 380, rn, rc3, rd, 3);
    svg_end(f);
    rc = close_out(o, f);
done:
    ws_out_free(&w);
    free(r);
    return rc;
}

/* ------------------------------------------------------------- command */

int vmk_cmd_plot(int argc, char **argv)
{
    struct plot_opts o = { 0 };
    int r = plot_parse(argc, argv, &o), rc;
    if (r)
        rc = r > 0 ? plot_usage(stdout, 0) : plot_usage(stderr, 2);
    else
        rc = !strcmp(o.kind, "mrc") ? plot_mrc(&o) : plot_ws(&o);
    free(o.policies);
    return rc;
}
