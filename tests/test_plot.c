/*
 * test_plot: `vmkit plot` writes well-formed SVG whose plotted points are
 * the simulator's numbers.
 *
 *   - a small XML checker (balanced tags, one root, quoted and unique
 *     attributes, only the five named entities or numeric ones) first
 *     proves it rejects broken documents, then checks every SVG below;
 *   - `plot mrc` on a reference string: one point per (policy, frame count)
 *     of the default curve (the frame counts `vmkit sim --curve` uses), each
 *     carrying the fault count sim_run() gives, and drawn where the plot's
 *     own axis mapping puts faults / references (to 0.01 px);
 *   - `plot ws` on a synthetic binary trace with known references (space 1
 *     cycling over 10 pages, space 2 touching a new page every 5 ms, space
 *     3 refaulting for half a second): each space's working-set curve at
 *     each bin end equals a brute-force count of the distinct pages it
 *     referenced in [te - tau, te), the fault-rate curve equals the count of
 *     faults per bin, the points are where the axes say, and exactly the
 *     refaulting half second is shaded as thrashing.
 * The vmkit binary is the one built beside this test.
 */
#include "sim.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FAIL(...) do { fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
                       fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); exit(1); } while (0)
#define CHECK(c, ...) do { if (!(c)) FAIL(__VA_ARGS__); } while (0)

/* ------------------------------------------------------ a tiny XML reader */

#define MAXA 24
struct elem {
    char *name;
    char *an[MAXA], *av[MAXA];
    int na, parent;
};

struct doc {
    char *buf;
    struct elem *e;
    int n, cap;
};

static int name_start(int c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == ':'; }
static int name_char(int c) { return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.'; }
static int space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* An entity at s (after '&'): its length up to ';' included, or 0. */
static size_t entity(const char *s)
{
    const char *named[] = { "amp;", "lt;", "gt;", "quot;", "apos;" };
    for (int i = 0; i < 5; i++)
        if (!strncmp(s, named[i], strlen(named[i])))
            return strlen(named[i]);
    if (s[0] == '#') {
        size_t k = 1;
        int hex = s[1] == 'x';
        k += (size_t)hex;
        size_t d = k;
        while ((hex ? isxdigit((unsigned char)s[k]) : isdigit((unsigned char)s[k])))
            k++;
        return k > d && s[k] == ';' ? k + 1 : 0;
    }
    return 0;
}

/* Parse text (modified in place).  0 if well-formed, else -1 and *why. */
static int xml_parse(char *s, struct doc *d, const char **why)
{
    int stack[256], sp = 0, roots = 0;
    d->buf = s;
    d->n = 0;
#define BAD(msg) do { *why = msg; return -1; } while (0)
    if (!strncmp(s, "<?xml", 5)) {
        char *e = strstr(s, "?>");
        if (!e)
            BAD("unterminated XML declaration");
        s = e + 2;
    }
    while (*s) {
        if (*s != '<') {
            if (*s == '&') {
                size_t k = entity(s + 1);
                if (!k)
                    BAD("bad entity in text");
                s += k + 1;
                continue;
            }
            if (!sp && !space(*s))
                BAD("text outside the root element");
            s++;
            continue;
        }
        if (!strncmp(s, "<!--", 4)) {
            char *e = strstr(s + 4, "-->");
            if (!e)
                BAD("unterminated comment");
            s = e + 3;
            continue;
        }
        if (s[1] == '/') {                              /* end tag */
            char *n = s + 2, *e = n;
            while (name_char(*e))
                e++;
            if (e == n || !sp)
                BAD("stray end tag");
            size_t len = (size_t)(e - n);
            if (strlen(d->e[stack[sp - 1]].name) != len || strncmp(d->e[stack[sp - 1]].name, n, len))
                BAD("end tag does not match");
            while (space(*e))
                e++;
            if (*e != '>')
                BAD("bad end tag");
            sp--;
            s = e + 1;
            continue;
        }
        char *n = s + 1, *e = n;                        /* start tag */
        if (!name_start(*e))
            BAD("bad tag name");
        while (name_char(*e))
            e++;
        if (!sp && roots++)
            BAD("more than one root element");
        if (d->n == d->cap) {
            d->cap = d->cap ? 2 * d->cap : 256;
            d->e = realloc(d->e, (size_t)d->cap * sizeof *d->e);
            CHECK(d->e, "realloc");
        }
        struct elem *el = &d->e[d->n];
        el->na = 0;
        el->parent = sp ? stack[sp - 1] : -1;
        char *name_end = e;
        for (;;) {
            int ws = 0;
            while (space(*e))
                e++, ws = 1;
            if (*e == '>' || (e[0] == '/' && e[1] == '>'))
                break;
            if (!ws || !name_start(*e))
                BAD("bad attribute");
            char *an = e;
            while (name_char(*e))
                e++;
            char *an_end = e;
            while (space(*e))
                e++;
            if (*e++ != '=')
                BAD("attribute without =");
            while (space(*e))
                e++;
            char q = *e++;
            if (q != '"' && q != '\'')
                BAD("unquoted attribute");
            char *av = e;
            while (*e && *e != q) {
                if (*e == '<')
                    BAD("< in attribute");
                if (*e == '&') {
                    size_t k = entity(e + 1);
                    if (!k)
                        BAD("bad entity in attribute");
                    e += k;
                }
                e++;
            }
            if (!*e)
                BAD("unterminated attribute");
            *an_end = 0;
            *e++ = 0;
            for (int i = 0; i < el->na; i++)
                if (!strcmp(el->an[i], an))
                    BAD("duplicate attribute");
            if (el->na == MAXA)
                BAD("too many attributes for this checker");
            el->an[el->na] = an, el->av[el->na++] = av;
        }
        int empty = *e == '/';
        *name_end = 0;                  /* safe: the name ended at space, '/' or '>' */
        el->name = n;
        s = e + (empty ? 2 : 1);
        if (!empty) {
            if (sp == 256)
                BAD("too deep");
            stack[sp++] = d->n;
        }
        d->n++;
    }
    if (sp)
        BAD("unclosed element");
    if (!roots)
        BAD("no root element");
    return 0;
#undef BAD
}

static const char *attr(const struct elem *e, const char *name)
{
    for (int i = 0; i < e->na; i++)
        if (!strcmp(e->an[i], name))
            return e->av[i];
    return NULL;
}

static double attr_d(const struct elem *e, const char *name)
{
    const char *v = attr(e, name);
    CHECK(v, "<%s> has no %s", e->name, name);
    return strtod(v, NULL);
}

/* The nearest enclosing <g class="plot">. */
static const struct elem *plot_of(const struct doc *d, const struct elem *e)
{
    for (int p = e->parent; p >= 0; p = d->e[p].parent) {
        const char *c = attr(&d->e[p], "class");
        if (!strcmp(d->e[p].name, "g") && c && !strcmp(c, "plot"))
            return &d->e[p];
    }
    FAIL("<%s> outside a plot group", e->name);
}

static double map_x(const struct elem *g, double x)
{
    return attr_d(g, "data-x0") + (x - attr_d(g, "data-xmin")) /
           (attr_d(g, "data-xmax") - attr_d(g, "data-xmin")) * (attr_d(g, "data-x1") - attr_d(g, "data-x0"));
}

static double map_y(const struct elem *g, double y)
{
    return attr_d(g, "data-y0") + (y - attr_d(g, "data-ymin")) /
           (attr_d(g, "data-ymax") - attr_d(g, "data-ymin")) * (attr_d(g, "data-y1") - attr_d(g, "data-y0"));
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    CHECK(f, "%s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *b = malloc((size_t)n + 1);
    CHECK(b && fread(b, 1, (size_t)n, f) == (size_t)n, "read %s", path);
    b[n] = 0;
    fclose(f);
    return b;
}

static void load_svg(const char *path, struct doc *d)
{
    const char *why = NULL;
    char *b = slurp(path);
    CHECK(xml_parse(b, d, &why) == 0, "%s is not well-formed XML: %s", path, why);
    CHECK(d->n > 0 && !strcmp(d->e[0].name, "svg") && attr(&d->e[0], "xmlns") &&
          !strcmp(attr(&d->e[0], "xmlns"), "http://www.w3.org/2000/svg"),
          "%s: the root is not an SVG element", path);
}

static void checker_self_test(void)
{
    const char *bad[] = { "<a><b></a></b>", "<a x=1/>", "<a x=\"1\" x=\"2\"/>", "<a>&bogus;</a>",
                          "<a/><b/>", "<a>", "text<a/>", "<a x=\"<\"/>", "</a>", "" };
    const char *good[] = { "<?xml version=\"1.0\"?>\n<a x='1'><b y=\"&amp;&#38;\"/>t&lt;</a>\n",
                           "<a><!-- c --><b></b></a>" };
    struct doc d = { 0 };
    const char *why;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *s = strdup(bad[i]);
        CHECK(xml_parse(s, &d, &why) != 0, "the checker accepted \"%s\"", bad[i]);
        free(s);
    }
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char *s = strdup(good[i]);
        CHECK(xml_parse(s, &d, &why) == 0, "the checker refused \"%s\": %s", good[i], why);
        free(s);
    }
    free(d.e);
}

/* ---------------------------------------------------------------- runs */

static char vmkit_bin[4096], dir[64];

static void find_vmkit(void)
{
    char self[4000];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    CHECK(n > 0, "readlink /proc/self/exe");
    self[n] = 0;
    char *slash = strrchr(self, '/');
    *slash = 0;
    snprintf(vmkit_bin, sizeof vmkit_bin, "%s/vmkit", self);
    CHECK(access(vmkit_bin, X_OK) == 0, "no vmkit binary at %s (build it)", vmkit_bin);
}

static void run(const char *args)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' plot %s", vmkit_bin, args);
    int st = system(cmd);
    CHECK(st == 0, "`%s` failed (status %d)", cmd, st);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
}

static void test_mrc(void)
{
    enum { N = 3000 };
    static uint64_t refs[N];
    char path[128], out[128];
    snprintf(path, sizeof path, "%s/refs.txt", dir);
    snprintf(out, sizeof out, "%s/mrc.svg", dir);
    FILE *f = fopen(path, "w");
    CHECK(f, "create %s", path);
    for (size_t i = 0; i < N; i++) {               /* a drifting hot window, a loop, noise */
        refs[i] = i % 5 == 0 ? 100 + i % 37 : rnd() % 4 ? (i / 300) * 7 + rnd() % 12 : rnd() % 90;
        fprintf(f, "%llu%c", (unsigned long long)refs[i], i % 20 == 19 ? '\n' : ' ');
    }
    fclose(f);
    const char *pol[] = { "opt", "fifo", "clock", "lru", "s3fifo" };
    char args[512];
    snprintf(args, sizeof args, "mrc -p opt,fifo,clock,lru,s3fifo -o '%s' '%s'", out, path);
    run(args);
    struct doc d = { 0 };
    load_svg(out, &d);
    sim_prepared p;
    CHECK(sim_prepare(&p, refs, N) == 0, "prepare");
    size_t cmin = 1, cmax = p.npages, step = (cmax - cmin + 31) / 32 ? (cmax - cmin + 31) / 32 : 1;
    size_t nfr = (cmax - cmin) / step + 1 + ((cmax - cmin) % step != 0);
    size_t points = 0, seen[5] = { 0 };
    for (int i = 0; i < d.n; i++) {
        struct elem *e = &d.e[i];
        const char *c = attr(e, "class");
        if (strcmp(e->name, "circle") || !c || strcmp(c, "pt"))
            continue;
        const char *policy = attr(e, "data-policy");
        size_t fr = (size_t)attr_d(e, "data-frames"), k = 0;
        uint64_t faults = (uint64_t)attr_d(e, "data-faults");
        while (k < 5 && strcmp(pol[k], policy))
            k++;
        CHECK(k < 5, "a point of an unasked policy %s", policy);
        size_t b = seen[k]++;
        size_t want_fr = b + 1 == nfr ? cmax : cmin + b * step;
        CHECK(fr == want_fr, "%s: point %zu at %zu frames, the curve has %zu", policy, b, fr, want_fr);
        uint64_t want = sim_run(policy, refs, N, fr);
        CHECK(faults == want, "%s at %zu frames: plotted %llu faults, the simulator says %llu", policy,
              fr, (unsigned long long)faults, (unsigned long long)want);
        CHECK((size_t)attr_d(e, "data-references") == N, "references");
        const struct elem *g = plot_of(&d, e);
        double cx = attr_d(e, "cx"), cy = attr_d(e, "cy");
        CHECK(fabs(cx - map_x(g, (double)fr)) < 0.011 && fabs(cy - map_y(g, (double)want / N)) < 0.011,
              "%s at %zu frames drawn at (%.2f, %.2f), the axes say (%.2f, %.2f)", policy, fr, cx, cy,
              map_x(g, (double)fr), map_y(g, (double)want / N));
        points++;
    }
    CHECK(points == 5 * nfr, "%zu points, want %zu (5 policies x %zu frame counts)", points, 5 * nfr, nfr);
    printf("mrc: %zu points, each the simulator's fault count, drawn where the axes say\n", points);
    sim_prepared_free(&p);
    free(d.buf), free(d.e);
}

/* The synthetic trace. */
struct trec { uint64_t page; uint32_t ev; uint32_t t_us; };
static struct trec tr[20000];
static size_t ntr;

static void add(uint32_t space, uint64_t vpn, uint32_t ev, uint32_t t_us)
{
    CHECK(ntr < sizeof tr / sizeof tr[0], "trace too long");
    tr[ntr++] = (struct trec){ (uint64_t)space << 48 | vpn, ev, t_us };
}

static int cmp_t(const void *a, const void *b)
{
    const struct trec *x = a, *y = b;
    return x->t_us < y->t_us ? -1 : x->t_us > y->t_us;
}

/* Brute force: distinct pages of space sp referenced in [te - tau, te). */
static size_t ws_brute(uint32_t sp, double te_us, double tau_us)
{
    size_t n = 0;
    for (size_t i = 0; i < ntr; i++) {
        if (tr[i].ev < 1 || tr[i].ev > 4 || tr[i].page >> 48 != sp)
            continue;
        double t = (double)(tr[i].t_us - tr[0].t_us);
        if (t < te_us - tau_us || t >= te_us)
            continue;
        size_t j = 0;
        for (; j < i; j++) {
            double tj = (double)(tr[j].t_us - tr[0].t_us);
            if (tr[j].page == tr[i].page && tr[j].ev >= 1 && tr[j].ev <= 4 && tj >= te_us - tau_us &&
                tj < te_us)
                break;
        }
        n += j == i;
    }
    return n;
}

static void parse_list(const char *s, double *v, size_t *n, size_t cap)
{
    *n = 0;
    for (char *e; *s; s = e) {
        CHECK(*n < cap, "list too long");
        v[(*n)++] = strtod(s, &e);
        CHECK(e != s, "bad number list");
        while (*e == ' ')
            e++;
    }
}

static void test_ws(void)
{
    uint32_t t0 = 1000;                             /* the first record's time */
    for (uint32_t t = 0; t < 3000000; t += 10000)   /* space 1: 10 pages, one per 10 ms */
        add(1, 0x1000 + (t / 10000) % 10, (t / 10000) < 10 ? 1 : 3, t0 + t);
    for (uint32_t t = 500000, k = 0; t < 3000000; t += 5000, k++)   /* space 2: a scan, 200/s */
        add(2, 0x9000 + k, 1, t0 + t);          /* on bin edges: the window's bounds matter */
    for (uint32_t t = 2000000, k = 0; t < 2500000; t += 2500, k++) { /* space 3: refaults */
        add(3, 0x5000 + k % 32, 5, t0 + t + 2);
        add(3, 0x5000 + k % 32, 2, t0 + t + 3);
    }
    qsort(tr, ntr, sizeof tr[0], cmp_t);
    char path[128], out[128];
    snprintf(path, sizeof path, "%s/run.trc", dir);
    snprintf(out, sizeof out, "%s/ws.svg", dir);
    FILE *f = fopen(path, "wb");
    CHECK(f, "create %s", path);
    struct { char magic[8]; uint32_t ps, flags; } hdr = { "VMKTRC0", 4096, 0 };
    memcpy(hdr.magic, "VMKTRC01", 8);
    fwrite(&hdr, sizeof hdr, 1, f);
    for (size_t i = 0; i < ntr; i++)
        fwrite(&tr[i], 16, 1, f);
    fclose(f);
    char args[512];
    snprintf(args, sizeof args, "ws --tau 1000 --bin 100 --frames 64 -o '%s' '%s'", out, path);
    run(args);
    struct doc d = { 0 };
    load_svg(out, &d);
    static double xs[1000], ys[1000];
    size_t nx, ny, checked = 0;
    int have[4] = { 0 }, thrash = 0;
    for (int i = 0; i < d.n; i++) {
        struct elem *e = &d.e[i];
        const char *c = attr(e, "class"), *name = attr(e, "data-name");
        if (c && !strcmp(c, "thrash")) {
            double a = attr_d(e, "data-t0"), b = attr_d(e, "data-t1");
            CHECK(fabs(a - 2.0) < 1e-9 && fabs(b - 2.5) < 1e-9,
                  "thrashing shaded over [%g, %g] s, want [2, 2.5]", a, b);
            thrash++;
            continue;
        }
        if (!c || strcmp(c, "series") || !name)
            continue;
        int sp = !strcmp(name, "space 1") ? 1 : !strcmp(name, "space 2") ? 2 :
                 !strcmp(name, "space 3") ? 3 : !strcmp(name, "faults") ? 0 : -1;
        if (sp < 0)
            continue;
        have[sp] = 1;
        parse_list(attr(e, "data-x"), xs, &nx, 1000);
        parse_list(attr(e, "data-y"), ys, &ny, 1000);
        CHECK(nx == ny && nx >= 29, "series %s: %zu x, %zu y", name, nx, ny);
        const struct elem *g = plot_of(&d, e);
        const char *pts = attr(e, "points");
        for (size_t b = 0; b < nx; b++) {
            double te = (double)(b + 1) * 100000;
            CHECK(fabs(xs[b] - te / 1e6) < 1e-9, "series %s: bin %zu ends at %g s", name, b, xs[b]);
            double want;
            if (sp) {
                want = (double)ws_brute((uint32_t)sp, te, 1e6);
            } else {
                size_t k = 0;
                for (size_t j = 0; j < ntr; j++) {
                    double t = (double)(tr[j].t_us - tr[0].t_us);
                    k += tr[j].ev >= 1 && tr[j].ev <= 4 && t >= te - 100000 && t < te;
                }
                want = (double)k * 10;
            }
            CHECK(fabs(ys[b] - want) < 1e-6, "series %s at %.1f s: plotted %g, brute force %g", name,
                  te / 1e6, ys[b], want);
            double px, py;
            int used;
            CHECK(sscanf(pts, "%lf,%lf%n", &px, &py, &used) == 2, "series %s: points", name);
            pts += used;
            CHECK(fabs(px - map_x(g, xs[b])) < 0.011 && fabs(py - map_y(g, ys[b])) < 0.011,
                  "series %s point %zu at (%.2f, %.2f), the axes say (%.2f, %.2f)", name, b, px, py,
                  map_x(g, xs[b]), map_y(g, ys[b]));
            checked++;
        }
    }
    CHECK(have[0] && have[1] && have[2] && have[3], "missing series (faults %d, spaces %d %d %d)",
          have[0], have[1], have[2], have[3]);
    CHECK(thrash == 2, "%d thrashing rectangles, want one per panel", thrash);
    printf("ws: %zu plotted values equal brute-force working sets and fault rates; thrashing "
           "shaded over [2.0, 2.5) s\n", checked);
    free(d.buf), free(d.e);
}

int main(void)
{
    checker_self_test();
    find_vmkit();
    snprintf(dir, sizeof dir, "/tmp/vmk-plot-XXXXXX");
    CHECK(mkdtemp(dir), "mkdtemp");
    test_mrc();
    test_ws();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    printf("ok: vmkit plot writes well-formed SVG with the simulator's numbers\n");
    return 0;
}
