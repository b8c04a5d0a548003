/*
 * sim_cmd.c - `vmkit sim`: replay a reference string against page
 * replacement policies and report faults and miss ratios (see --help).
 * The algorithms and trace formats are in sim_core.c.
 */
#include "commands.h"
#include "sim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SIM_USAGE \
"usage: vmkit sim [--policy P[,P...]] --frames N[,N...] [--format table|tsv] FILE\n" \
"       vmkit sim [--policy P[,P...]] --curve [MIN:MAX[:STEP]] [--format table|tsv] FILE\n" \
"\n" \
"Replay a reference string against page-replacement policies; count the\n" \
"faults (frames start empty; every reference to a non-resident page is one).\n" \
"\n" \
"FILE (or - for stdin) is a trace recorded by vmkit (VMK_TRACE=path; binary,\n" \
"\"VMKTRC01\") or text: page numbers separated by whitespace or commas, e.g.\n" \
"  echo 7 0 1 2 0 3 0 4 2 3 0 3 2 1 2 0 1 7 0 1 | vmkit sim -p opt,fifo,lru -f 3 -\n" \
"\n" \
"  -p, --policy P,...   policies to compare (default, or \"all\": every one)\n" \
"  -f, --frames N,...   frame counts\n" \
"  --curve [MIN:MAX[:STEP]]\n" \
"                       miss-ratio curve over a range of frame counts\n" \
"                       (default 1 to the number of distinct pages, ~32 points)\n" \
"  --format table|tsv   tsv: a header line, then one line per (policy, frames):\n" \
"                       policy frames references faults miss_ratio\n" \
"  -h, --help           this text\n" \
"\n" \
"Policies:\n"

struct sim_opts {
    char      **policies;
    size_t      npol;
    size_t     *frames;
    size_t      nfr;
    int         curve, tsv;
    size_t      cmin, cmax, cstep;      /* curve range; cmax 0: default */
    const char *file;
};

static void sim_usage(FILE *out)
{
    fputs(SIM_USAGE, out);
    for (const char *const *n = sim_policy_names(); *n; n++)
        fprintf(out, "  %-10s %s\n", *n, sim_policy_help(*n));
}

/* A positive decimal count, the whole string. */
static int parse_count(const char *s, size_t *v)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (*end || errno || x == 0 || x > SIZE_MAX)
        return -1;
    *v = (size_t)x;
    return 0;
}

/*
 * Split a list at sep: one allocation holding the pointers and a
 * copy of the text (argv is left alone); free() the result.
 */
static char **split_list(const char *s, char sep, size_t *n)
{
    size_t cap = 1, len = strlen(s) + 1;
    for (const char *c = s; *c; c++)
        cap += *c == sep;
    char **v = malloc(cap * sizeof *v + len), *save = NULL;
    *n = 0;
    if (!v)
        return NULL;
    char *copy = memcpy((char *)(v + cap), s, len), delim[2] = { sep, 0 };
    for (char *tok = strtok_r(copy, delim, &save); tok; tok = strtok_r(NULL, delim, &save))
        v[(*n)++] = tok;
    return v;
}

static int parse_frames(struct sim_opts *o, const char *s)
{
    char **v = split_list(s, ',', &o->nfr);
    free(o->frames);
    o->frames = v ? malloc((o->nfr ? o->nfr : 1) * sizeof *o->frames) : NULL;
    int r = o->frames && o->nfr ? 0 : -1;
    for (size_t i = 0; !r && i < o->nfr; i++)
        r = parse_count(v[i], &o->frames[i]);
    free(v);
    return r;
}

/* "MIN:MAX[:STEP]" */
static int parse_range(struct sim_opts *o, const char *s)
{
    size_t n, *dst[3] = { &o->cmin, &o->cmax, &o->cstep };
    char **v = split_list(s, ':', &n);
    int r = v && (n == 2 || n == 3) ? 0 : -1;
    o->cstep = 0;
    for (size_t i = 0; !r && i < n; i++)
        r = parse_count(v[i], dst[i]);
    free(v);
    return r || o->cmax < o->cmin ? -1 : 0;
}

static int looks_like_range(const char *s)
{
    return s && *s >= '0' && *s <= '9' && strchr(s, ':');
}

/* The --policy list; "all" (or no --policy) means every policy. */
static int parse_policies(struct sim_opts *o, const char *v, FILE *err)
{
    free(o->policies);
    o->policies = NULL;
    if (v && !strcmp(v, "all"))
        return 0;
    if (!v || !(o->policies = split_list(v, ',', &o->npol)) || !o->npol)
        return fprintf(err, "vmkit sim: --policy wants a list of policies\n"), -1;
    for (size_t k = 0; k < o->npol; k++)
        if (!sim_policy_valid(o->policies[k]))
            return fprintf(err, "vmkit sim: unknown policy or bad parameters: '%s' (see --help)\n",
                           o->policies[k]), -1;
    return 0;
}

/* --name value or --name=value; *val gets the value, NULL if absent. */
static int is_opt(char **argv, int *i, int argc, const char *lng, const char *shrt, char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(lng);
    *val = NULL;
    if (!strncmp(a, lng, n) && a[n] == '=') {
        *val = (char *)a + n + 1;
        return 1;
    }
    if (strcmp(a, lng) && (!shrt || strcmp(a, shrt)))
        return 0;
    if (*i + 1 < argc)
        *val = argv[++*i];
    return 1;
}

static int sim_parse_args(int argc, char **argv, struct sim_opts *o, FILE *err)
{
    char *v;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return 1;
        if (!strcmp(a, "--curve") || !strncmp(a, "--curve=", 8)) {
            o->curve = 1;
            char *r = NULL;
            if (a[7] == '=')
                r = a + 8;
            else if (i + 1 < argc && looks_like_range(argv[i + 1]))
                r = argv[++i];
            if (r && parse_range(o, r))
                return fprintf(err, "vmkit sim: --curve wants MIN:MAX[:STEP], 1 <= MIN <= MAX\n"), -1;
        } else if (is_opt(argv, &i, argc, "--policy", "-p", &v)) {
            if (parse_policies(o, v, err))
                return -1;
        } else if (is_opt(argv, &i, argc, "--frames", "-f", &v)) {
            if (!v || parse_frames(o, v))
                return fprintf(err, "vmkit sim: --frames wants a list of counts >= 1\n"), -1;
        } else if (is_opt(argv, &i, argc, "--format", NULL, &v)) {
            if (!v || (strcmp(v, "tsv") && strcmp(v, "table")))
                return fprintf(err, "vmkit sim: --format is table or tsv\n"), -1;
            o->tsv = !strcmp(v, "tsv");
        } else if (a[0] == '-' && a[1] && strcmp(a, "--"))
            return fprintf(err, "vmkit sim: unknown option '%s'\n", a), -1;
        else {
            if (!strcmp(a, "--") && ++i >= argc)
                break;
            if (o->file)
                return fprintf(err, "vmkit sim: one FILE only\n"), -1;
            o->file = argv[i];
        }
    }
    if (!o->file)
        return fprintf(err, "vmkit sim: no FILE (use - for stdin; see --help)\n"), -1;
    if (o->curve == !!o->nfr)
        return fprintf(err, "vmkit sim: give either --frames or --curve\n"), -1;
    return 0;
}

/* Load and prepare the trace; prints its own errors. */
static int sim_load(const struct sim_opts *o, sim_prepared *p, sim_trace *t, FILE *err)
{
    int std = !strcmp(o->file, "-");
    FILE *f = std ? stdin : fopen(o->file, "rb");
    if (!f)
        return fprintf(err, "vmkit sim: %s: %s\n", o->file, strerror(errno)), -1;
    size_t line = 0;
    int r = sim_trace_load(f, t, &line);
    if (!std)
        fclose(f);
    if (r == -EINVAL && !t->binary && line)
        return fprintf(err, "vmkit sim: %s:%zu: not a page number\n", o->file, line), -1;
    if (r)
        return fprintf(err, "vmkit sim: %s: %s\n", o->file, strerror(-r)), -1;
    if (t->truncated)
        fprintf(err, "vmkit sim: %s: warning: the trace ends inside a record\n", o->file);
    r = sim_prepare(p, t->refs, t->n);
    if (r)
        return fprintf(err, "vmkit sim: %s: %s\n", o->file, strerror(-r)), -1;
    return 0;
}

/* The default curve: 1 .. npages in about 32 steps. */
static int curve_frames(struct sim_opts *o, uint32_t npages)
{
    if (!o->cmax) {
        o->cmin = 1;
        o->cmax = npages ? npages : 1;
    }
    if (!o->cstep)
        o->cstep = (o->cmax - o->cmin + 31) / 32 ? (o->cmax - o->cmin + 31) / 32 : 1;
    o->nfr = (o->cmax - o->cmin) / o->cstep + 1 + ((o->cmax - o->cmin) % o->cstep != 0);
    free(o->frames);
    if (!(o->frames = malloc(o->nfr * sizeof *o->frames)))
        return -1;
    for (size_t i = 0; i < o->nfr; i++)
        o->frames[i] = i + 1 == o->nfr ? o->cmax : o->cmin + i * o->cstep;
    return 0;
}

static double ratio(uint64_t faults, size_t n)
{
    return n ? (double)faults / (double)n : 0.0;
}

static void print_tsv(FILE *out, const struct sim_opts *o, const uint64_t *res, size_t n)
{
    fprintf(out, "policy\tframes\treferences\tfaults\tmiss_ratio\n");
    for (size_t a = 0; a < o->npol; a++)
        for (size_t b = 0; b < o->nfr; b++)
            fprintf(out, "%s\t%zu\t%zu\t%llu\t%.6f\n", o->policies[a], o->frames[b], n,
                    (unsigned long long)res[a * o->nfr + b], ratio(res[a * o->nfr + b], n));
}

/* Index of the "opt" policy, or -1. */
static long opt_index(const struct sim_opts *o)
{
    for (size_t a = 0; a < o->npol; a++)
        if (!strcmp(o->policies[a], "opt"))
            return (long)a;
    return -1;
}

static void print_table(FILE *out, const struct sim_opts *o, const uint64_t *res, size_t n)
{
    long opt = opt_index(o);
    fprintf(out, "%-14s %10s %12s %10s%s\n", "policy", "frames", "faults", "miss ratio",
            opt >= 0 ? "    vs opt" : "");
    for (size_t a = 0; a < o->npol; a++) {
        for (size_t b = 0; b < o->nfr; b++) {
            uint64_t f = res[a * o->nfr + b];
            fprintf(out, "%-14s %10zu %12llu %10.4f", o->policies[a], o->frames[b],
                    (unsigned long long)f, ratio(f, n));
            uint64_t best = opt >= 0 ? res[(size_t)opt * o->nfr + b] : 0;
            if (opt >= 0 && (size_t)opt != a && best)
                fprintf(out, "  %+7.1f%%", 100.0 * ((double)f - (double)best) / (double)best);
            fputc('\n', out);
        }
    }
}

static void print_curve(FILE *out, const struct sim_opts *o, const uint64_t *res, size_t n)
{
    fprintf(out, "%10s", "frames");
    for (size_t a = 0; a < o->npol; a++)
        fprintf(out, " %10.10s", o->policies[a]);
    fputc('\n', out);
    for (size_t b = 0; b < o->nfr; b++) {
        fprintf(out, "%10zu", o->frames[b]);
        for (size_t a = 0; a < o->npol; a++)
            fprintf(out, " %10.4f", ratio(res[a * o->nfr + b], n));
        fputc('\n', out);
    }
}

/* Run every (policy, frames) pair and print the report. */
static int sim_report(const struct sim_opts *o, sim_prepared *p, const sim_trace *t, FILE *out, FILE *err)
{
    uint64_t *res = malloc(o->npol * o->nfr * sizeof *res);
    if (!res)
        return fprintf(err, "vmkit sim: out of memory\n"), -1;
    for (size_t a = 0; a < o->npol; a++)
        for (size_t b = 0; b < o->nfr; b++) {
            int r = sim_run_prepared(p, o->policies[a], o->frames[b], &res[a * o->nfr + b]);
            if (r) {
                free(res);
                return fprintf(err, "vmkit sim: %s: %s\n", o->policies[a], strerror(-r)), -1;
            }
        }
    if (o->tsv)
        print_tsv(out, o, res, p->n);
    else {
        fprintf(out, "%s: %zu references, %u distinct pages", o->file, p->n, p->npages);
        if (t->binary)
            fprintf(out, " (vmkit trace, page size %u, %llu records not references)",
                    t->page_size, (unsigned long long)t->skipped);
        fputs("\n\n", out);
        (o->curve ? print_curve : print_table)(out, o, res, p->n);
    }
    free(res);
    return 0;
}

static int sim_default_policies(struct sim_opts *o)
{
    const char *const *names = sim_policy_names();
    for (o->npol = 0; names[o->npol]; o->npol++)
        ;
    o->policies = malloc(o->npol * sizeof *o->policies);
    for (size_t a = 0; o->policies && a < o->npol; a++)
        o->policies[a] = (char *)names[a];
    return o->policies ? 0 : -1;
}

/* The command with its streams as parameters (tests call it this way). */
static int sim_main(int argc, char **argv, FILE *out, FILE *err)
{
    struct sim_opts o = { 0 };
    sim_trace t = { 0 };
    sim_prepared p = { 0 };
    int rc = sim_parse_args(argc, argv, &o, err);
    if (rc) {                           /* --help: 0; usage errors: 2 */
        if (rc > 0)
            sim_usage(out);
        rc = rc > 0 ? 0 : 2;
        goto done;
    }
    rc = 1;
    if ((!o.policies && sim_default_policies(&o)) || sim_load(&o, &p, &t, err))
        goto done;
    free(t.refs);                       /* the dense ids are all we need now */
    t.refs = NULL;
    if (o.curve && curve_frames(&o, p.npages))
        goto done;
    rc = sim_report(&o, &p, &t, out, err) ? 1 : 0;
done:
    sim_prepared_free(&p);
    sim_trace_free(&t);
    free(o.policies);
    free(o.frames);
    return rc;
}

int vmk_cmd_sim(int argc, char **argv)
{
    return sim_main(argc, argv, stdout, stderr);
}
