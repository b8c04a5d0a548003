/*
 * stat_cmd.c - `vmkit stat FILE [--follow]`: a stats log (VMK_STATS=FILE) as
 * a table, like vmstat.
 *
 * The log (format in src/statlog.c) holds cumulative counters; the table
 * shows, for each line of the log and each scope in it (the system, then
 * each space), what happened in that interval - faults, major faults, pages
 * swapped in and out, refaults - and the state at its end: resident pages,
 * swap slots, working set, thrashing (T) and load-control pause (P), and the
 * memory stall share of the interval.  A new run in the file (a header
 * line) prints its header and starts the differences again.
 *
 * --follow keeps reading at the end of the file as lines are appended, like
 * tail -f, until interrupted; a file that shrinks (rewritten) is read again
 * from the start.  --scope sys|sN prints that scope's rows only.
 */
#include "commands.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int vmk_cmd_stat(int argc, char **argv);

#define GROUP_FIELDS 12                  /* scope name + 11 numbers */

struct row { const char *name; uint64_t v[9]; double pct; };   /* a group of a line */

struct scope { char name[16]; uint64_t faults, majors, swapin, swapout, refaults; };

struct stat_state {
    const char *path, *only;
    int follow;
    long lineno;
    int bad;                             /* malformed lines seen */
    int headers;                         /* runs seen */
    struct scope *sc;
    size_t nsc, capsc;
    char **tok;                          /* the fields of the line being read */
    struct row *rows;
    size_t captok;
};

static int stat_usage(FILE *f)
{
    fprintf(f, "usage: vmkit stat [--follow] [--scope sys|sN] FILE\n"
               "Prints a stats log written with VMK_STATS=FILE (vmk_config.stats_path) as a table:\n"
               "per interval faults, major faults, pages swapped in and out and refaults; at its end\n"
               "resident pages, swap slots used, working set, thrashing (T) or paused (P), and the\n"
               "share of the interval a thread of the scope spent in a fault (memory stall, 'some').\n"
               "  -f, --follow   wait for new lines at the end of the file (like tail -f)\n"
               "  --scope S      only the system (sys) or one space (s1, s2, ...)\n");
    return f == stderr ? 2 : 0;
}

static struct scope *scope_of(struct stat_state *st, const char *name)
{
    for (size_t i = 0; i < st->nsc; i++)
        if (!strcmp(st->sc[i].name, name))
            return &st->sc[i];
    if (st->nsc == st->capsc) {
        size_t cap = st->capsc ? 2 * st->capsc : 16;
        struct scope *p = realloc(st->sc, cap * sizeof *p);
        if (!p)
            return NULL;
        st->sc = p, st->capsc = cap;
    }
    struct scope *s = &st->sc[st->nsc++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    return s;
}

static void table_header(void)
{
    printf("%9s %-6s %8s %7s %7s %7s %9s %8s %8s %7s %3s %6s\n", "time(s)", "scope", "faults",
           "major", "swapin", "swapout", "resident", "swap", "wset", "refault", "thr", "stall");
}

/* "# vmkit-stats 1 key=value ...": print what the run was. */
static int header_line(struct stat_state *st, char *line)
{
    int version = 0;
    if (sscanf(line, "# vmkit-stats %d", &version) != 1)
        return 0;                        /* another comment: ignore */
    if (version != 1) {
        fprintf(stderr, "vmkit stat: %s:%ld: format version %d, this vmkit reads 1\n", st->path,
                st->lineno, version);
        st->bad++;
        return -1;
    }
    char policy[64] = "?";
    long pid = 0;
    unsigned interval = 0, frames = 0;
    double opened = 0;
    char *save = NULL;
    for (char *tok = strtok_r(line, " \r\n", &save); tok; tok = strtok_r(NULL, " \r\n", &save)) {
        sscanf(tok, "interval_ms=%u", &interval);
        sscanf(tok, "frames=%u", &frames);
        sscanf(tok, "pid=%ld", &pid);
        sscanf(tok, "policy=%63s", policy);
        sscanf(tok, "opened=%lf", &opened);
    }
    char when[64] = "?";
    time_t t = (time_t)opened;
    struct tm tm;
    if (opened > 0 && localtime_r(&t, &tm))
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    if (st->headers++)
        printf("\n");
    printf("vmkit stats: process %ld, system opened %s, %u frames (%.1f MiB), policy %s, "
           "a line every %u ms\n", pid, when, frames, frames * 4096.0 / (1 << 20), policy, interval);
    printf("(faults, major, swapin, swapout, refault: in the interval; resident, swap, wset: "
           "pages at its end)\n");
    table_header();
    st->nsc = 0;                         /* differences start again */
    return 1;
}

static int parse_u64(const char *s, uint64_t *v)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (end == s || *end || errno || *s == '-')
        return -1;
    *v = x;
    return 0;
}

static int parse_num(const char *s, double *v)
{
    char *end;
    *v = strtod(s, &end);
    return end == s || *end || *v < 0 ? -1 : 0;
}

static int scope_name_ok(const char *s)
{
    if (!strcmp(s, "sys"))
        return 1;
    if (s[0] != 's' || !s[1] || strlen(s) > 12)
        return 0;
    for (const char *p = s + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return 0;
    return 1;
}

/* A data line: check it whole, then print its rows. */
static void data_line(struct stat_state *st, char *line)
{
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
        if (n == st->captok) {
            size_t cap = st->captok ? 2 * st->captok : 64;
            char **p = realloc(st->tok, cap * sizeof *p);
            struct row *r = realloc(st->rows, (cap / GROUP_FIELDS + 1) * sizeof *r);
            if (p)
                st->tok = p;
            if (r)
                st->rows = r;
            if (!p || !r)
                goto bad;
            st->captok = cap;
        }
        st->tok[n++] = t;
    }
    uint64_t t_ms;
    if (n < 1 + GROUP_FIELDS || (n - 1) % GROUP_FIELDS || parse_u64(st->tok[0], &t_ms))
        goto bad;
    size_t groups = (n - 1) / GROUP_FIELDS;
    for (size_t g = 0; g < groups; g++) {
        char **f = st->tok + 1 + g * GROUP_FIELDS;
        struct row *r = &st->rows[g];
        double stall_ms;
        r->name = f[0];
        if (!scope_name_ok(f[0]))
            goto bad;
        for (int k = 0; k < 9; k++)
            if (parse_u64(f[1 + k], &r->v[k]))
                goto bad;
        if (parse_num(f[10], &stall_ms) || parse_num(f[11], &r->pct) || r->pct > 100.0 ||
            r->v[8] > 3)
            goto bad;
    }
    for (size_t g = 0; g < groups; g++) {
        struct row *r = &st->rows[g];
        struct scope *s = scope_of(st, r->name);
        if (!s)
            return;
        uint64_t faults = r->v[0], majors = r->v[1], si = r->v[2], so = r->v[3];
        uint64_t res = r->v[4], swap = r->v[5], ws = r->v[6], rf = r->v[7], thr = r->v[8];
        /* Counters never go down within a run; if one did, show it as is. */
#define D(cur, prev) ((cur) >= (prev) ? (cur) - (prev) : (cur))
        if (!st->only || !strcmp(st->only, r->name))
            printf("%9.3f %-6s %8" PRIu64 " %7" PRIu64 " %7" PRIu64 " %7" PRIu64 " %9" PRIu64
                   " %8" PRIu64 " %8" PRIu64 " %7" PRIu64 " %3s %5.1f%%\n",
                   t_ms / 1e3, r->name, D(faults, s->faults), D(majors, s->majors),
                   D(si, s->swapin), D(so, s->swapout), res, swap, ws, D(rf, s->refaults),
                   thr == 3 ? "TP" : thr == 2 ? "P" : thr == 1 ? "T" : "-", r->pct);
#undef D
        s->faults = faults, s->majors = majors, s->swapin = si, s->swapout = so, s->refaults = rf;
    }
    return;
bad:
    st->bad++;
    fprintf(stderr, "vmkit stat: %s:%ld: not a vmkit-stats line\n", st->path, st->lineno);
}

static void one_line(struct stat_state *st, char *line)
{
    st->lineno++;
    if (line[0] == '#') {
        header_line(st, line);
        return;
    }
    if (line[strspn(line, " \t\r\n")] == 0)
        return;
    if (!st->headers && st->bad++ == 0)
        fprintf(stderr, "vmkit stat: %s: no header line before line %ld\n", st->path, st->lineno);
    data_line(st, line);
}

int vmk_cmd_stat(int argc, char **argv)
{
    struct stat_state st = { 0 };
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--follow") || !strcmp(argv[i], "-f"))
            st.follow = 1;
        else if (!strcmp(argv[i], "--scope") && i + 1 < argc)
            st.only = argv[++i];
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return stat_usage(stdout);
        else if (argv[i][0] == '-' || st.path)
            return stat_usage(stderr);
        else
            st.path = argv[i];
    }
    if (!st.path)
        return stat_usage(stderr);
    if (st.only && !scope_name_ok(st.only)) {
        fprintf(stderr, "vmkit stat: --scope takes sys, s1, s2, ...\n");
        return 2;
    }
    int fd = open(st.path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "vmkit stat: %s: %s\n", st.path, strerror(errno));
        return 1;
    }
    /* Read whole lines; keep a partial last line until its end arrives. */
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    off_t pos = 0;
    if (!buf) {
        close(fd);
        return 1;
    }
    for (;;) {
        if (len + 1 >= cap) {
            char *p = realloc(buf, cap *= 2);
            if (!p)
                break;
            buf = p;
        }
        ssize_t k = read(fd, buf + len, cap - 1 - len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            fprintf(stderr, "vmkit stat: %s: %s\n", st.path, strerror(errno));
            st.bad++;
            break;
        }
        if (k == 0) {
            if (!st.follow) {
                if (len) {                /* a last line without its newline */
                    buf[len] = 0;
                    one_line(&st, buf);
                }
                break;
            }
            fflush(stdout);
            struct stat sb;
            if (fstat(fd, &sb) == 0 && sb.st_size < pos) {     /* rewritten: start again */
                lseek(fd, 0, SEEK_SET);
                pos = 0, len = 0, st.nsc = 0;
                continue;
            }
            struct timespec ts = { 0, 100 * 1000 * 1000 };
            nanosleep(&ts, NULL);
            continue;
        }
        pos += k;
        len += (size_t)k;
        size_t start = 0;
        for (size_t i = 0; i < len; i++) {
            if (buf[i] != '\n')
                continue;
            buf[i] = 0;
            one_line(&st, buf + start);
            start = i + 1;
        }
        memmove(buf, buf + start, len - start);
        len -= start;
        if (st.follow)
            fflush(stdout);
    }
    free(buf);
    free(st.sc), free(st.tok), free(st.rows);
    close(fd);
    if (!st.headers && !st.bad) {
        fprintf(stderr, "vmkit stat: %s: empty, not a stats log\n", st.path);
        return 1;
    }
    return st.bad ? 1 : 0;
}
