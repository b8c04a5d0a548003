/*
 * test_statlog: the stats log (vmk_config.stats_path, VMK_STATS) and
 * `vmkit stat`.
 *
 * 1. A system logs every 50 ms while two spaces work for ~0.5 s: s1 does
 *    random read-modify-writes over 8x the budget from one thread (checking
 *    every word), s2 fills 64 pages and then sits idle.  The file has one
 *    header line and about one data line per 50 ms plus the one written at
 *    close; every line has the system and both spaces; times increase; the
 *    counters that only count up never go down; the levels stay within the
 *    frames; the idle space's counters stop and its stall share is ~0; the
 *    last periodic line is within one interval of vmk_stats_get taken at the
 *    end, and the line written at close equals it (nothing ran between), with
 *    the spaces' faults adding up to the system's.
 * 2. `vmkit stat FILE` prints the table: the per-interval faults of each
 *    scope add up to the final counts, and the last rows show the final
 *    resident pages and stall shares.
 * 3. `vmkit stat --follow FILE2` prints rows while another system is still
 *    writing FILE2 (it is stopped by its pid afterwards).
 * 4. VMK_STATS and VMK_STATS_INTERVAL_MS name the file and interval when
 *    the configuration does not; a file that cannot be created fails
 *    vmk_system_open with its errno; an interval over an hour is -EINVAL.
 */
#include <vmkit.h>
#include "check.h"
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/stat.h>

extern char **environ;

enum { BUDGET = 256, REGION = 8 * BUDGET, IDLE_PAGES = 64, INTERVAL_MS = 50, GROUP = 12 };
#define RUN_S 0.5
#define MAXLINES 4096

struct group { char name[16]; uint64_t v[9]; double stall_ms, pct; };
struct line { uint64_t t_ms; int ngroups; struct group g[4]; };

static struct line lines[MAXLINES];
static int nlines;

struct job { volatile uint64_t *m; uint64_t *model; double end; uint64_t touches; };

static void *rmw(void *arg)
{
    struct job *j = arg;
    uint64_t s = 99;
    splitmix64(&s);
    while (now_s() < j->end)
        for (int k = 0; k < 32; k++, j->touches++) {
            size_t p = (size_t)(xorshift64(&s) % REGION);
            uint64_t got = j->m[p * TWORDS];
            CHECK(got == j->model[p], "page %zu: %#llx, want %#llx", p, (unsigned long long)got,
                  (unsigned long long)j->model[p]);
            j->m[p * TWORDS] = j->model[p] = got + p + 1;
        }
    return NULL;
}

/* Read the log: the header must come first, then data lines of 1 + 12k
 * fields.  Returns the header line. */
static char *read_log(const char *path)
{
    FILE *f = fopen(path, "r");
    CHECK(f, "%s: %s", path, strerror(errno));
    static char header[8192];
    char buf[8192];
    header[0] = 0;
    nlines = 0;
    int n = 0;
    while (fgets(buf, sizeof buf, f)) {
        n++;
        CHECK(strchr(buf, '\n'), "line %d has no end", n);
        if (n == 1) {
            CHECK(!strncmp(buf, "# vmkit-stats 1 ", 16), "first line is not a header: %s", buf);
            snprintf(header, sizeof header, "%s", buf);
            continue;
        }
        CHECK(buf[0] != '#', "a second header line %d: %s", n, buf);
        CHECK(nlines < MAXLINES, "too many lines");
        struct line *l = &lines[nlines++];
        char *save = NULL, *tok[64];
        int nt = 0;
        for (char *t = strtok_r(buf, " \n", &save); t && nt < 64; t = strtok_r(NULL, " \n", &save))
            tok[nt++] = t;
        CHECK(nt >= 1 + GROUP && (nt - 1) % GROUP == 0, "line %d: %d fields", n, nt);
        l->t_ms = strtoull(tok[0], NULL, 10);
        l->ngroups = (nt - 1) / GROUP;
        CHECK(l->ngroups <= 4, "line %d: %d groups", n, l->ngroups);
        for (int g = 0; g < l->ngroups; g++) {
            char **t = tok + 1 + g * GROUP;
            struct group *gr = &l->g[g];
            snprintf(gr->name, sizeof gr->name, "%s", t[0]);
            for (int k = 0; k < 9; k++) {
                char *end;
                gr->v[k] = strtoull(t[1 + k], &end, 10);
                CHECK(*end == 0, "line %d field %s: %s", n, gr->name, t[1 + k]);
            }
            gr->stall_ms = atof(t[10]);
            gr->pct = atof(t[11]);
        }
    }
    fclose(f);
    CHECK(header[0], "%s is empty", path);
    return header;
}

enum { F_FAULTS, F_MAJORS, F_SWAPIN, F_SWAPOUT, F_RESIDENT, F_SWAP, F_WS, F_REFAULTS, F_THRASH };

static struct group *find(struct line *l, const char *name)
{
    for (int g = 0; g < l->ngroups; g++)
        if (!strcmp(l->g[g].name, name))
            return &l->g[g];
    return NULL;
}

/* The vmkit program beside this test's binary. */
static const char *vmkit_path(void)
{
    static char p[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", p, sizeof p - 16);
    CHECK(n > 0, "readlink /proc/self/exe");
    p[n] = 0;
    char *d = dirname(p);
    memmove(p, d, strlen(d) + 1);
    strcat(p, "/vmkit");
    CHECK(access(p, X_OK) == 0, "no vmkit program at %s", p);
    return p;
}

/* Run vmkit with args; its standard output into *out (malloc'd). */
static pid_t spawn_vmkit(char *const argv[], int *out_fd)
{
    int pfd[2];
    CHECK(pipe(pfd) == 0, "pipe");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_addclose(&fa, pfd[0]);
    posix_spawn_file_actions_addclose(&fa, pfd[1]);
    pid_t pid;
    int r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    CHECK(r == 0, "posix_spawn %s: %s", argv[0], strerror(r));
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    *out_fd = pfd[0];
    return pid;
}

static char *read_all(int fd)
{
    size_t cap = 1 << 16, len = 0;
    char *b = malloc(cap);
    ssize_t k;
    while ((k = read(fd, b + len, cap - 1 - len)) > 0 || (k < 0 && errno == EINTR)) {
        if (k > 0)
            len += (size_t)k;
        if (len + 1 >= cap)
            b = realloc(b, cap *= 2);
    }
    b[len] = 0;
    return b;
}

struct row { double t; char scope[16]; uint64_t faults, major, si, so, res, swap, ws, rf; char thr[4];
             double pct; };

static int parse_row(const char *s, struct row *r)
{
    return sscanf(s, "%lf %15s %lu %lu %lu %lu %lu %lu %lu %lu %3s %lf%%", &r->t, r->scope,
                  &r->faults, &r->major, &r->si, &r->so, &r->res, &r->swap, &r->ws, &r->rf, r->thr,
                  &r->pct) == 12;
}

static vmk_system *open_logged(const char *path, unsigned interval_ms)
{
    vmk_config cfg = vmk_config_default();
    cfg.memory_limit = BUDGET * TPAGE;
    cfg.stats_path = path;
    cfg.stats_interval_ms = interval_ms;
    vmk_system *sys;
    int r = vmk_system_open(&sys, &cfg);
    CHECK(r == 0, "open with stats_path %s: %s", path ? path : "(null)", vmk_strerror(r));
    return sys;
}

/* Two spaces at work for RUN_S: s1 random RMW, s2 64 pages then idle. */
static void workload(vmk_system *sys, vmk_space **s1, vmk_space **s2, struct job *j)
{
    CHECK(vmk_space_create(sys, s1) == 0 && vmk_space_create(sys, s2) == 0, "space_create");
    j->m = vmk_map_anon(*s1, REGION * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    j->model = calloc(REGION, sizeof *j->model);
    volatile uint64_t *idle = vmk_map_anon(*s2, IDLE_PAGES * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(j->m && j->model && idle, "map");
    for (size_t p = 0; p < IDLE_PAGES; p++)
        idle[p * TWORDS] = p + 7;
    j->end = now_s() + RUN_S;
    pthread_t t;
    pthread_create(&t, NULL, rmw, j);
    pthread_join(t, NULL);
    for (size_t p = 0; p < IDLE_PAGES; p++)
        CHECK(idle[p * TWORDS] == p + 7, "idle page %zu", p);
}

int main(void)
{
    char dir[] = "/tmp/vmk_statlog_XXXXXX";
    CHECK(mkdtemp(dir), "mkdtemp");
    char path[256], path2[256], path3[256];
    snprintf(path, sizeof path, "%s/run.stats", dir);
    snprintf(path2, sizeof path2, "%s/follow.stats", dir);
    snprintf(path3, sizeof path3, "%s/env.stats", dir);

    /* 1. The log of a run. */
    vmk_system *sys = open_logged(path, INTERVAL_MS);
    vmk_space *s1, *s2;
    struct job j = { 0 };
    double t0 = now_s();
    workload(sys, &s1, &s2, &j);
    usleep(2 * INTERVAL_MS * 1000);          /* a line or two with s2 idle and s1 done */
    vmk_stats end, end1, end2;
    vmk_stats_get(sys, &end);
    vmk_space_stats(s1, &end1);
    vmk_space_stats(s2, &end2);
    double ran = now_s() - t0;
    vmk_system_close(sys);
    const char *hdr = read_log(path);
    printf("header: %s", hdr);
    printf("%d lines over %.3f s (s1: %llu touches, %llu faults, %llu major)\n", nlines, ran,
           (unsigned long long)j.touches, (unsigned long long)end1.faults,
           (unsigned long long)end1.faults_major);
    CHECK(strstr(hdr, " interval_ms=50 ") && strstr(hdr, " frames=256 ") && strstr(hdr, " fields="),
          "header lacks interval, frames or fields: %s", hdr);
    int want = (int)(ran * 1000 / INTERVAL_MS);
    EXPECT(nlines >= want / 2 && nlines <= want + 2, "%d lines for %.3f s at %d ms", nlines, ran,
           INTERVAL_MS);
    EXPECT(end1.faults_major > 50, "s1 should page (%llu majors)", (unsigned long long)end1.faults_major);
    for (int i = 0; i < nlines; i++) {
        struct line *l = &lines[i];
        CHECK(l->ngroups == 3 && !strcmp(l->g[0].name, "sys") && !strcmp(l->g[1].name, "s1") &&
              !strcmp(l->g[2].name, "s2"), "line %d: scopes %s...", i + 1, l->g[0].name);
        for (int g = 0; g < 3; g++) {
            struct group *x = &l->g[g];
            EXPECT(x->v[F_RESIDENT] <= BUDGET, "line %d %s: %llu resident of %d frames", i + 1,
                   x->name, (unsigned long long)x->v[F_RESIDENT], BUDGET);
            EXPECT(x->pct >= 0 && x->pct <= 100, "line %d %s: stall %.1f%%", i + 1, x->name, x->pct);
            EXPECT(x->v[F_THRASH] <= 3, "line %d %s: thrash %llu", i + 1, x->name,
                   (unsigned long long)x->v[F_THRASH]);
            if (i == 0)
                continue;
            struct group *p = &lines[i - 1].g[g];
            static const int up[] = { F_FAULTS, F_MAJORS, F_SWAPIN, F_SWAPOUT, F_REFAULTS };
            for (size_t k = 0; k < sizeof up / sizeof up[0]; k++)
                EXPECT(x->v[up[k]] >= p->v[up[k]], "line %d %s: field %d went down %llu -> %llu",
                       i + 1, x->name, up[k], (unsigned long long)p->v[up[k]],
                       (unsigned long long)x->v[up[k]]);
            EXPECT(x->stall_ms >= p->stall_ms, "line %d %s: stall went down", i + 1, x->name);
        }
        if (i)
            EXPECT(l->t_ms > lines[i - 1].t_ms, "line %d: time %llu after %llu", i + 1,
                   (unsigned long long)l->t_ms, (unsigned long long)lines[i - 1].t_ms);
        EXPECT(l->t_ms <= (uint64_t)(ran * 1000) + 50, "line %d: t %llu ms, the run was %.0f ms",
               i + 1, (unsigned long long)l->t_ms, ran * 1000);
    }
    /* Intervals: about 50 ms apart (a loaded machine may stretch some). */
    if (nlines > 3) {
        double mean = (double)(lines[nlines - 2].t_ms - lines[0].t_ms) / (nlines - 2);
        EXPECT(mean >= 45 && mean <= 150, "lines %.1f ms apart on average, want ~50", mean);
        EXPECT(lines[0].t_ms >= 45 && lines[0].t_ms <= 200, "first line at %llu ms",
               (unsigned long long)lines[0].t_ms);
    }
    /* The last periodic line is within one interval of the counters at the
     * end; the closing line equals them. */
    struct line *last = &lines[nlines - 1], *prev = &lines[nlines - 2];
    uint64_t max_step = 0;
    for (int i = 1; i < nlines - 1; i++) {
        uint64_t d = lines[i].g[0].v[F_FAULTS] - lines[i - 1].g[0].v[F_FAULTS];
        max_step = d > max_step ? d : max_step;
    }
    EXPECT(end.faults - prev->g[0].v[F_FAULTS] <= max_step, "last periodic line: %llu faults, "
           "end %llu: more than one interval (%llu)", (unsigned long long)prev->g[0].v[F_FAULTS],
           (unsigned long long)end.faults, (unsigned long long)max_step);
    EXPECT(prev->g[0].v[F_FAULTS] == end.faults, "s1 finished %.0f ms before the last periodic "
           "line, yet it shows %llu faults, not %llu", 2.0 * INTERVAL_MS,
           (unsigned long long)prev->g[0].v[F_FAULTS], (unsigned long long)end.faults);
    struct group *ls = find(last, "sys"), *l1 = find(last, "s1"), *l2 = find(last, "s2");
    EXPECT(ls->v[F_FAULTS] == end.faults && ls->v[F_MAJORS] == end.faults_major &&
           ls->v[F_SWAPIN] == end.pages_swapped_in && ls->v[F_REFAULTS] == end.refaults,
           "closing line sys %llu faults %llu majors %llu swapin %llu refaults; stats %llu %llu %llu %llu",
           (unsigned long long)ls->v[F_FAULTS], (unsigned long long)ls->v[F_MAJORS],
           (unsigned long long)ls->v[F_SWAPIN], (unsigned long long)ls->v[F_REFAULTS],
           (unsigned long long)end.faults, (unsigned long long)end.faults_major,
           (unsigned long long)end.pages_swapped_in, (unsigned long long)end.refaults);
    EXPECT(l1->v[F_FAULTS] == end1.faults && l2->v[F_FAULTS] == end2.faults &&
           l1->v[F_FAULTS] + l2->v[F_FAULTS] == ls->v[F_FAULTS],
           "closing line: s1 %llu + s2 %llu faults (stats %llu, %llu) vs sys %llu",
           (unsigned long long)l1->v[F_FAULTS], (unsigned long long)l2->v[F_FAULTS],
           (unsigned long long)end1.faults, (unsigned long long)end2.faults,
           (unsigned long long)ls->v[F_FAULTS]);
    EXPECT(l1->v[F_SWAP] == end1.swap_used && l2->v[F_RESIDENT] + l1->v[F_RESIDENT] == ls->v[F_RESIDENT],
           "closing line: s1 swap %llu (stats %llu), resident s1 %llu + s2 %llu vs sys %llu",
           (unsigned long long)l1->v[F_SWAP], (unsigned long long)end1.swap_used,
           (unsigned long long)l1->v[F_RESIDENT], (unsigned long long)l2->v[F_RESIDENT],
           (unsigned long long)ls->v[F_RESIDENT]);
    EXPECT(ls->stall_ms >= end.stall_some_ns / 1e6 - 0.001 &&
           ls->stall_ms <= end.stall_some_ns / 1e6 + 0.001,
           "closing line stall %.3f ms, stats %.3f ms", ls->stall_ms, end.stall_some_ns / 1e6);
    EXPECT(ls->stall_ms > 0.25 * RUN_S * 1000, "the system stalled only %.1f ms", ls->stall_ms);
    /* s2 is idle from the first line on (its 64 pages were touched before
     * s1 began): its faults stay, its stall share is ~0 in most lines. */
    int quiet = 0;
    for (int i = 1; i < nlines; i++) {
        struct group *x = find(&lines[i], "s2");
        quiet += x->pct < 2.0;
        EXPECT(x->v[F_FAULTS] >= IDLE_PAGES / 64 && x->v[F_FAULTS] <= IDLE_PAGES + 64,
               "line %d: s2 %llu faults", i + 1, (unsigned long long)x->v[F_FAULTS]);
    }
    EXPECT(quiet >= (nlines - 1) * 3 / 4, "s2 idle, yet stalled in %d of %d lines",
           nlines - 1 - quiet, nlines - 1);
    int busy = 0;
    for (int i = 0; i < nlines; i++)
        busy += find(&lines[i], "s1")->pct > 50.0 && lines[i].t_ms < RUN_S * 1000 - INTERVAL_MS;
    EXPECT(busy >= 1, "s1 faulted constantly, yet no line shows it stalled over half the time");

    /* 2. vmkit stat FILE. */
    const char *vmkit = vmkit_path();
    char *argv1[] = { (char *)vmkit, "stat", path, NULL };
    int fd;
    pid_t pid = spawn_vmkit(argv1, &fd);
    char *out = read_all(fd);
    close(fd);
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "vmkit stat: %s\n%s", status_str(st), out);
    printf("vmkit stat FILE, its first rows:\n");
    const char *e8 = out;
    for (int k = 0; k < 9 && e8 && *e8; k++)
        e8 = strchr(e8, '\n') ? strchr(e8, '\n') + 1 : NULL;
    fwrite(out, 1, e8 ? (size_t)(e8 - out) : strlen(out), stdout);
    uint64_t sum[3] = { 0 };
    int rows[3] = { 0 };
    struct row r, lastrow[3];
    const char *names[3] = { "sys", "s1", "s2" };
    int header_seen = 0;
    for (char *s = out, *nl; *s; s = nl + 1) {
        nl = strchr(s, '\n');
        CHECK(nl, "unterminated output");
        *nl = 0;
        if (strstr(s, "time(s)") && strstr(s, "faults") && strstr(s, "stall"))
            header_seen++;
        if (!parse_row(s, &r))
            continue;
        for (int g = 0; g < 3; g++)
            if (!strcmp(r.scope, names[g])) {
                sum[g] += r.faults;
                rows[g]++;
                lastrow[g] = r;
            }
    }
    EXPECT(header_seen == 1, "table header seen %d times", header_seen);
    EXPECT(rows[0] == nlines && rows[1] == nlines && rows[2] == nlines,
           "rows: sys %d, s1 %d, s2 %d for %d lines", rows[0], rows[1], rows[2], nlines);
    EXPECT(sum[0] == ls->v[F_FAULTS] && sum[1] == l1->v[F_FAULTS] && sum[2] == l2->v[F_FAULTS],
           "per-interval faults add up to %llu/%llu/%llu, the log ends at %llu/%llu/%llu",
           (unsigned long long)sum[0], (unsigned long long)sum[1], (unsigned long long)sum[2],
           (unsigned long long)ls->v[F_FAULTS], (unsigned long long)l1->v[F_FAULTS],
           (unsigned long long)l2->v[F_FAULTS]);
    EXPECT(lastrow[0].res == ls->v[F_RESIDENT] && lastrow[1].swap == l1->v[F_SWAP] &&
           lastrow[0].pct >= ls->pct - 0.05 && lastrow[0].pct <= ls->pct + 0.05 &&
           lastrow[0].t * 1000 >= (double)last->t_ms - 0.5 && lastrow[0].t * 1000 <= (double)last->t_ms + 0.5,
           "last rows: t %.3f resident %llu, s1 swap %llu, stall %.1f%%; log: %llu ms, %llu, %llu, %.1f%%",
           lastrow[0].t, (unsigned long long)lastrow[0].res, (unsigned long long)lastrow[1].swap,
           lastrow[0].pct, (unsigned long long)last->t_ms, (unsigned long long)ls->v[F_RESIDENT],
           (unsigned long long)l1->v[F_SWAP], ls->pct);
    free(out);

    /* 3. --follow: rows appear while the system still writes. */
    sys = open_logged(path2, INTERVAL_MS);
    char *argv2[] = { (char *)vmkit, "stat", "--follow", "--scope", "sys", path2, NULL };
    pid = spawn_vmkit(argv2, &fd);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    vmk_space *a;
    CHECK(vmk_space_create(sys, &a) == 0, "space_create");
    volatile uint64_t *m = vmk_map_anon(a, REGION * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(m, "map");
    char fbuf[1 << 16];
    size_t flen = 0;
    int live_rows = 0;
    double until = now_s() + 0.6;
    for (size_t p = 0; now_s() < until; p = (p + 1) % REGION) {
        m[p * TWORDS] += 1;
        if (p % 64 == 0) {
            ssize_t k = read(fd, fbuf + flen, sizeof fbuf - 1 - flen);
            if (k > 0)
                flen += (size_t)k;
        }
    }
    fbuf[flen] = 0;
    for (char *s = fbuf; (s = strchr(s, '\n')); s++)
        if (parse_row(s + 1, &r) && !strcmp(r.scope, "sys"))
            live_rows++;
    vmk_system_close(sys);
    kill(pid, SIGTERM);
    waitpid(pid, &st, 0);
    close(fd);
    printf("--follow: %d rows arrived while the system ran (0.6 s, a line per %d ms)\n", live_rows,
           INTERVAL_MS);
    EXPECT(live_rows >= 3, "--follow printed %d rows during a 0.6 s run:\n%s", live_rows, fbuf);
    EXPECT(!strstr(fbuf, " s1 "), "--scope sys printed a space's row:\n%s", fbuf);

    /* 4. The environment, and errors. */
    setenv("VMK_STATS", path3, 1);
    setenv("VMK_STATS_INTERVAL_MS", "20", 1);
    sys = open_logged(NULL, 0);
    usleep(100 * 1000);
    vmk_system_close(sys);
    unsetenv("VMK_STATS");
    unsetenv("VMK_STATS_INTERVAL_MS");
    hdr = read_log(path3);
    EXPECT(strstr(hdr, " interval_ms=20 ") && nlines >= 3 && nlines <= 7,
           "VMK_STATS: %d lines in 100 ms at 20 ms; header %s", nlines, hdr);
    struct stat sb;
    CHECK(stat(path3, &sb) == 0, "stat");
    sys = open_logged(path3, 10);             /* appends a second run */
    vmk_system_close(sys);
    char *argv3[] = { (char *)vmkit, "stat", path3, NULL };
    pid = spawn_vmkit(argv3, &fd);
    out = read_all(fd);
    close(fd);
    waitpid(pid, &st, 0);
    int runs = 0;
    for (char *s = out; (s = strstr(s, "vmkit stats: process")); s++)
        runs++;
    EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0 && runs == 2,
           "vmkit stat on two runs: %s, %d run headers\n%s", status_str(st), runs, out);
    free(out);
    vmk_config cfg = vmk_config_default();
    cfg.memory_limit = BUDGET * TPAGE;
    char bad[300];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.stats", dir);
    cfg.stats_path = bad;
    vmk_system *none = NULL;
    int e = vmk_system_open(&none, &cfg);
    EXPECT(e == -ENOENT && !none, "stats_path in a missing directory: %d (%s)", e, vmk_strerror(e));
    cfg.stats_path = path3;
    cfg.stats_interval_ms = 3600001;
    e = vmk_system_open(&none, &cfg);
    EXPECT(e == -EINVAL, "stats_interval_ms 3600001: %d", e);
    char *argv4[] = { (char *)vmkit, "stat", bad, NULL };
    pid = spawn_vmkit(argv4, &fd);
    free(read_all(fd));
    close(fd);
    waitpid(pid, &st, 0);
    EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 1, "vmkit stat on a missing file: %s", status_str(st));
    /* A file that is not a stats log is refused. */
    FILE *junk = fopen(path2, "w");
    fputs("# vmkit-stats 1 interval_ms=5\n12 sys 1 2 3\n", junk);
    fclose(junk);
    char *argv5[] = { (char *)vmkit, "stat", path2, NULL };
    pid = spawn_vmkit(argv5, &fd);
    free(read_all(fd));
    close(fd);
    waitpid(pid, &st, 0);
    EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 1, "vmkit stat on a malformed line: %s", status_str(st));

    unlink(path), unlink(path2), unlink(path3), rmdir(dir);
    free(j.model);
    EXPECT_DONE();
    printf("ok\n");
    return 0;
}
