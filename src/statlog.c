/*
 * statlog.c - the stats log: `vmstat 1` for a vmkit system, into a file.
 *
 * With VMK_STATS=path (or vmk_config.stats_path) a background thread
 * appends one line to the file every stats_interval_ms (default 1000 ms),
 * and one more when the system closes.  `vmkit stat FILE [--follow]` prints
 * it as a table.  The format (version 1) is text, one record per line:
 *
 *   # vmkit-stats 1 interval_ms=50 frames=512 pid=4242 policy=clock opened=1764230101.123 fields=t_ms,{scope,faults,majors,swapin,swapout,resident,swap,ws,refaults,thrash,stall_ms,stall_pct}...
 *   50 sys 1234 56 300 400 512 320 700 20 1 41.200 82.4 s1 1200 56 300 400 480 320 690 20 1 41.200 82.4 s2 34 0 0 0 32 0 10 0 1 0.000 0.0
 *
 * The header line starts every run (a system opened; the file is appended
 * to, so it may hold several runs).  Each data line is t_ms, the
 * milliseconds since the system opened, then a group of 12 fields for the
 * system (`sys`) and one for each space alive then (`s` and the space's id:
 * 1, 2, ... in order of creation, the id of fault traces):
 *
 *   faults majors swapin swapout refaults   counters since the system opened
 *       (vmk_stats faults, faults_major, pages_swapped_in, pages_swapped_out,
 *       refaults): they never go down;
 *   resident swap ws   pages now: resident, swap slots held, working set;
 *   thrash   bit 0: the system thrashes (vmk_stats.thrashing); bit 1: load
 *       control has paused this space (for sys: some space);
 *   stall_ms   vmk_stats.stall_some_ns in ms (never goes down);
 *   stall_pct  the share of the time since the previous line (the first
 *       line: since the system opened) during which a thread of the scope
 *       was in a fault.
 *
 * Each line is built in memory and appended with one write(2) (O_APPEND), so
 * a reader that follows the file sees whole lines.  The system's numbers
 * are read first, then the spaces' under the maplock (shared: faults go on,
 * map and unmap wait for the line), so a space's counters may be a little
 * ahead of the system's in the same line.  The thread blocks every signal and
 * never touches managed memory; it sleeps on a futex between lines so that
 * closing the system wakes it at once.
 */
#include "statlog.h"
#include "io.h"
#include "thread.h"
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct scope_prev { uint32_t id; uint64_t stall_ns; };    /* id 0: the system */

struct statlog {
    struct vmk_system *sys;
    pthread_t thread;
    int fd;
    char *path;
    uint64_t interval_ns;
    _Atomic uint32_t stop;            /* futex: 1 when the system closes */
    _Atomic int said;                 /* write error reported */
    uint64_t prev_t;                  /* time of the previous line (ns since open) */
    struct scope_prev *prev, *cur;    /* the scopes of the previous line, sorted by id */
    size_t nprev, ncur, cap;
    char *line;
    size_t len, linecap;
    int failed;                       /* out of memory building a line */
};

/* Which log belongs to which system: a table beside the registry (the log is
 * started and stopped by system.c; nothing on the fault path looks here). */
static pthread_mutex_t logs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { struct vmk_system *sys; struct statlog *log; } logs[VMK_MAX_SYSTEMS];

static void append(struct statlog *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void append(struct statlog *l, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(l->line + l->len, l->linecap - l->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            l->failed = 1;
            return;
        }
        if (l->len + (size_t)n < l->linecap) {
            l->len += (size_t)n;
            return;
        }
        size_t cap = 2 * (l->len + (size_t)n + 1);
        char *p = realloc(l->line, cap);
        if (!p) {
            l->failed = 1;
            return;
        }
        l->line = p, l->linecap = cap;
    }
}

static uint64_t prev_stall(struct statlog *l, uint32_t id, int *found)
{
    size_t lo = 0, hi = l->nprev;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (l->prev[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < l->nprev && l->prev[lo].id == id;
    return *found ? l->prev[lo].stall_ns : 0;
}

/* One group: the scope's name, then its 11 numbers. */
static void group(struct statlog *l, uint32_t id, const vmk_stats *s, unsigned thrash, uint64_t t)
{
    int known;
    uint64_t before = prev_stall(l, id, &known);
    /* A scope new since the previous line lived only since then (or since
     * the system opened, for the first line). */
    uint64_t span = t - l->prev_t;
    double pct = span ? 100.0 * (double)(s->stall_some_ns - before) / (double)span : 0;
    if (pct > 100.0)
        pct = 100.0;           /* a space's stretch read a little after the clock */
    if (id)
        append(l, " s%" PRIu32, id);
    else
        append(l, " sys");
    append(l, " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
              " %" PRIu64 " %u %.3f %.1f",
           s->faults, s->faults_major, s->pages_swapped_in, s->pages_swapped_out, s->resident,
           s->swap_used, s->working_set, s->refaults, thrash, s->stall_some_ns / 1e6, pct);
    if (l->ncur == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        struct scope_prev *a = realloc(l->prev, cap * sizeof *a), *b;
        if (!a) {
            l->failed = 1;
            return;
        }
        l->prev = a;
        if (!(b = realloc(l->cur, cap * sizeof *b))) {
            l->failed = 1;
            return;
        }
        l->cur = b, l->cap = cap;
    }
    l->cur[l->ncur++] = (struct scope_prev){ id, s->stall_some_ns };
}

/* Build and append one line: the system, then every space (ids increase
 * with the order of sys->spaces, which is creation order). */
static void write_line(struct statlog *l)
{
    struct vmk_system *sys = l->sys;
    vmk_stats s;
    vmk_stats_get(sys, &s);
    uint64_t t = s.wall_ns;
    struct vmk_space *paused = atomic_load(&sys->thrash.paused);
    l->len = 0, l->ncur = 0, l->failed = 0;
    append(l, "%" PRIu64, t / 1000000);
    group(l, 0, &s, (s.thrashing ? 1u : 0u) | (paused ? 2u : 0u), t);
    rw_read_lock(&sys->maplock);
    for (size_t i = 0; i < sys->nspaces && !l->failed; i++) {
        struct vmk_space *as = sys->spaces[i];
        vmk_stats a;
        stats_space_locked(as, &a);
        group(l, as->id, &a, (a.thrashing ? 1u : 0u) | (paused == as ? 2u : 0u), t);
    }
    rw_read_unlock(&sys->maplock);
    append(l, "\n");
    if (l->failed)
        return;
    int r = io_write_full(l->fd, l->line, l->len);
    if (r < 0)
        report_once(&l->said, "vmkit: cannot write the stats log (VMK_STATS); lines are lost");
    struct scope_prev *x = l->prev;
    l->prev = l->cur, l->cur = x;
    l->nprev = l->ncur;
    l->prev_t = t;
}

static void *statlog_main(void *arg)
{
    struct statlog *l = arg;
    struct vmk_system *sys = l->sys;
    uint64_t next = sys->ctr.opened_ns + l->interval_ns;
    while (!atomic_load(&l->stop)) {
        uint64_t now = stats_now_ns();
        if (now < next) {
            struct timespec ts = { (time_t)((next - now) / 1000000000u),
                                   (long)((next - now) % 1000000000u) };
            syscall(SYS_futex, (uint32_t *)&l->stop, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0);
            continue;
        }
        write_line(l);
        next += l->interval_ns;
        if (next <= now)                  /* fell behind (a stopped process): skip */
            next = now + l->interval_ns;
    }
    write_line(l);                        /* the state at close */
    return NULL;
}

static unsigned env_interval(void)
{
    const char *s = getenv("VMK_STATS_INTERVAL_MS");
    if (!s || !*s)
        return 1000;
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    return *end || v < 1 || v > STATLOG_MAX_INTERVAL_MS ? 1000 : (unsigned)v;
}

static void log_free(struct statlog *l)
{
    if (l->fd >= 0)
        close(l->fd);
    free(l->path), free(l->prev), free(l->cur), free(l->line), free(l);
}

int statlog_start(struct vmk_system *sys)
{
    const char *path = sys->cfg.stats_path;
    if (!path || !*path)
        path = getenv("VMK_STATS");
    sys->cfg.stats_path = NULL;            /* the caller's string; ours is below */
    if (!path || !*path)
        return 0;
    struct statlog *l = calloc(1, sizeof *l);
    if (!l)
        return -ENOMEM;
    l->sys = sys;
    l->fd = -1;
    unsigned ms = sys->cfg.stats_interval_ms ? sys->cfg.stats_interval_ms : env_interval();
    sys->cfg.stats_interval_ms = ms;
    l->interval_ns = (uint64_t)ms * 1000000u;
    if (!(l->path = strdup(path))) {
        log_free(l);
        return -ENOMEM;
    }
    l->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (l->fd < 0) {
        int e = -errno;
        log_free(l);
        return e;
    }
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    uint64_t since_open = stats_now_ns() - sys->ctr.opened_ns;
    int64_t ms_wall = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000 -
                      (int64_t)(since_open / 1000000);
    l->len = 0;
    append(l, "# vmkit-stats %d interval_ms=%u frames=%" PRIu32 " pid=%ld policy=%s "
              "opened=%" PRId64 ".%03d fields=t_ms,{scope,faults,majors,swapin,swapout,"
              "resident,swap,ws,refaults,thrash,stall_ms,stall_pct}...\n",
           STATLOG_VERSION, ms, sys->frames.n, (long)getpid(), sys->policy_name,
           ms_wall / 1000, (int)(ms_wall % 1000));
    int r = l->failed ? -ENOMEM : io_write_full(l->fd, l->line, l->len);
    if (r < 0) {
        log_free(l);
        return r;
    }
    pthread_mutex_lock(&logs_lock);
    int slot = -1;
    for (int i = 0; i < VMK_MAX_SYSTEMS && slot < 0; i++)
        if (!logs[i].sys)
            slot = i;
    if (slot >= 0)
        logs[slot].sys = sys, logs[slot].log = l;
    pthread_mutex_unlock(&logs_lock);
    if (slot < 0) {                        /* more logs than systems: cannot be */
        log_free(l);
        return -EMFILE;
    }
    sys->cfg.stats_path = l->path;
    r = thread_start_quiet(&l->thread, statlog_main, l);
    if (r != 0) {
        pthread_mutex_lock(&logs_lock);
        logs[slot].sys = NULL, logs[slot].log = NULL;
        pthread_mutex_unlock(&logs_lock);
        sys->cfg.stats_path = NULL;
        log_free(l);
        return -r;
    }
    return 0;
}

void statlog_stop(struct vmk_system *sys)
{
    struct statlog *l = NULL;
    pthread_mutex_lock(&logs_lock);
    for (int i = 0; i < VMK_MAX_SYSTEMS; i++)
        if (logs[i].sys == sys) {
            l = logs[i].log;
            logs[i].sys = NULL, logs[i].log = NULL;
        }
    pthread_mutex_unlock(&logs_lock);
    if (!l)
        return;
    atomic_store(&l->stop, 1);
    futex_wake(&l->stop, 1);
    pthread_join(l->thread, NULL);
    sys->cfg.stats_path = NULL;
    log_free(l);
}
