/*
 * bench.c - `vmkit bench`: vmkit against the kernel doing the same work, in
 * the same run, a few repetitions each, with a ratio table at the end and
 * Markdown, JSON and SVG reports (tools/bench_report.c).
 *
 *   fill   first touch of every page of SIZE (1 GiB), no memory limit:
 *          vmkit (budget above SIZE) vs plain mmap(MAP_ANONYMOUS).
 *   seq    SIZE over LIMIT (128 MiB), after a fill: one ordered pass reading
 *          every page.
 *   rand   the same region: random read-modify-write of single pages by 1, 4
 *          and 8 threads (each thread owns the pages p % T == its index).
 *   file   a SIZE file read in order through a shared mapping under LIMIT:
 *          vmk_map_file vs the kernel's mmap; page cache dropped before each.
 *   fork   S resident (512 MiB and 2 GiB): time to fork, then the COW break
 *          per page in the child (first half) and the parent (second half),
 *          then in a second child writing a quarter in random order;
 *          vmkit's vmk_space_fork (in one process) vs the kernel's fork(),
 *          and vs memcpy of S.
 *
 * The kernel's side of seq, rand and file runs in a child process placed in
 * a memory cgroup limited to LIMIT (v1 memory.limit_in_bytes or v2
 * memory.max), with a swap file switched on for the run: root needed, every
 * step echoed, all undone at the end (and on SIGINT/SIGTERM).  Not root: the
 * kernel's side of those rows is "n/a".
 * Every workload verifies its data (a page carries its number and a version
 * or generation; file pages a checksum of every word): a fast wrong answer
 * fails the run (exit status 1).
 */
#include "bench.h"
#include "cli.h"
#include "commands.h"
#include <vmkit.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int vmk_cmd_bench(int argc, char **argv);

static size_t SIZE = (size_t)1 << 30, LIMIT = (size_t)128 << 20, OPS = 100000;
static int REPS = 3, NTH[8] = { 1, 4, 8 }, NT = 3;
static size_t FORKS[4] = { (size_t)512 << 20, (size_t)2 << 30 };
static int NFORK = 2;
static int DO_FILL, DO_SEQ, DO_RAND, DO_FILE, DO_FORK;

static struct bench_row rows[48];
static int nrows, failed;

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33;
    return x;
}

/* ---- progress: a bar on a terminal, a line per step otherwise ---- */

/* The counters live in a shared mapping so that the kernel-side children,
 * which do the work there, move the parent's bar. */
struct prog { _Atomic uint64_t done, total; };
static struct prog *PROG;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static int tty, step_no, step_count, ticking;
static char step_label[160];

static void tick(uint64_t n) { atomic_fetch_add_explicit(&PROG->done, n, memory_order_relaxed); }

static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&out_lock);
    if (tty && ticking)
        fputs("\r\033[K", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    pthread_mutex_unlock(&out_lock);
    va_end(ap);
}

static void step(uint64_t total, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&out_lock);
    step_no++;
    vsnprintf(step_label, sizeof step_label, fmt, ap);
    atomic_store(&PROG->done, 0);
    atomic_store(&PROG->total, total);
    pthread_mutex_unlock(&out_lock);
    va_end(ap);
    if (!tty)
        say("bench [%d/%d] %s", step_no, step_count, step_label);
}

static void *ticker(void *arg)
{
    (void)arg;
    for (;;) {
        usleep(200000);
        pthread_mutex_lock(&out_lock);
        if (ticking && step_no) {
            uint64_t d = atomic_load(&PROG->done), t = atomic_load(&PROG->total);
            double f = t ? (d < t ? (double)d / (double)t : 1) : 0;
            double all = (step_no - 1 + f) / step_count;
            int w = (int)(all * 30);
            fprintf(stderr, "\r\033[K[%.*s%*s] %3.0f%%  %d/%d %s  %3.0f%%", w,
                    "##############################", 30 - w, "", all * 100, step_no, step_count,
                    step_label, f * 100);
        }
        pthread_mutex_unlock(&out_lock);
    }
    return NULL;
}

/* ---- results ---- */

static struct bench_row *row_def(const char *name, const char *title, const char *unit,
                                 const char *baseline, int lower_better, double goal)
{
    struct bench_row *r = &rows[nrows++];
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->title, sizeof r->title, "%s", title);
    snprintf(r->unit, sizeof r->unit, "%s", unit);
    snprintf(r->baseline, sizeof r->baseline, "%s", baseline);
    r->lower_better = lower_better;
    r->goal = goal;
    return r;
}

/* Wrong pages fail the row and the run, warm-up passes included. */
static void check(struct bench_row *r, const char *who, uint64_t bad)
{
    r->bad += bad;
    failed |= bad != 0;
    if (bad)
        say("    %s (%s): %llu WRONG pages", r->name, who, (unsigned long long)bad);
}

/* who: "vmkit", or what the baseline side is ("kernel", "memcpy"). */
static void record(struct bench_row *r, const char *who, double value, uint64_t bad)
{
    if (!strcmp(who, "vmkit"))
        r->v[r->nv++] = value;
    else
        r->k[r->nk++] = value;
    say("    %-18s %-6s %12.2f %s", r->name, who, value, r->unit);
    check(r, who, bad);
}

/* ---- clean-up of what the run set up: swap file, cgroup, data file ---- */

static char cgroup_dir[256], swapfile[256], datafile[256];
static _Atomic pid_t child_pid;

static int sh(const char *cmd)
{
    say("+ %s", cmd);
    return system(cmd);
}

static void cleanup(void)
{
    char cmd[1400];
    if (swapfile[0]) {
        snprintf(cmd, sizeof cmd, "swapoff %s; rm -f %s", swapfile, swapfile);
        swapfile[0] = 0;
        sh(cmd);
    }
    if (cgroup_dir[0]) {
        snprintf(cmd, sizeof cmd, "rmdir %s", cgroup_dir);
        cgroup_dir[0] = 0;
        sh(cmd);
    }
    if (datafile[0]) {
        unlink(datafile);
        datafile[0] = 0;
    }
}

/* SIGINT, SIGTERM and SIGHUP are blocked in every thread and taken here:
 * kill the kernel-side child of the moment, undo the set-up, exit. */
static void *signal_thread(void *arg)
{
    int sig = SIGTERM;
    sigwait(arg, &sig);
    say("\nvmkit bench: signal %d: stopping the run and cleaning up", sig);
    pid_t c = atomic_load(&child_pid);
    if (c > 0) {
        kill(c, SIGKILL);
        waitpid(c, NULL, 0);
    }
    cleanup();
    _exit(128 + sig);
}

/* ---- the kernel's side at the same limit: a memory cgroup and a swap file ---- */

static int kernel_setup(char *what, size_t len)
{
    if (geteuid() != 0) {
        fprintf(stderr, "vmkit bench: not root: the kernel's side at %zu MiB needs a memory cgroup "
                        "and swapon; the out-of-core and file rows measure vmkit alone\n", LIMIT >> 20);
        snprintf(what, len, "none (not root): out-of-core and file rows measure vmkit alone");
        return -1;
    }
    char cmd[1400];
    const char *limit_file;
    if (access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) == 0) {
        snprintf(cgroup_dir, sizeof cgroup_dir, "/sys/fs/cgroup/memory/vmkit-bench-%d", getpid());
        limit_file = "memory.limit_in_bytes";
    } else if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0) {
        sh("echo +memory > /sys/fs/cgroup/cgroup.subtree_control");
        snprintf(cgroup_dir, sizeof cgroup_dir, "/sys/fs/cgroup/vmkit-bench-%d", getpid());
        limit_file = "memory.max";
    } else {
        fprintf(stderr, "vmkit bench: no memory cgroup controller found\n");
        snprintf(what, len, "none (no memory cgroup controller)");
        return -1;
    }
    snprintf(cmd, sizeof cmd, "mkdir %s && echo %zu > %s/%s", cgroup_dir, LIMIT, cgroup_dir, limit_file);
    if (sh(cmd) != 0) {
        cgroup_dir[0] = 0;
        snprintf(what, len, "none (cgroup set-up failed)");
        return -1;
    }
    snprintf(swapfile, sizeof swapfile, "/var/tmp/vmkit-bench-swap-%d", getpid());
    snprintf(cmd, sizeof cmd, "fallocate -l %zu %s && chmod 600 %s && mkswap -q %s && swapon %s",
             SIZE * 2, swapfile, swapfile, swapfile, swapfile);
    if (sh(cmd) != 0) {
        cleanup();
        snprintf(what, len, "none (swapon failed)");
        return -1;
    }
    snprintf(what, len, "child in a memory cgroup (%s = %zu MiB) with a %zu MiB swap file; "
             "page cache dropped before each file run", limit_file, LIMIT >> 20, SIZE >> 19);
    return 0;
}

/* Run fn(arg, out) in a child process (placed in the memory cgroup if cg);
 * out comes back through a pipe.  0, or -1 if the child failed. */
static int in_child(int cg, void (*fn)(const void *, void *), const void *arg, void *out, size_t len)
{
    int fd[2];
    if (pipe(fd) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_UNBLOCK, &all, NULL);
        close(fd[0]);
        if (cg) {
            char path[300];
            snprintf(path, sizeof path, "%s/cgroup.procs", cgroup_dir);
            int c = open(path, O_WRONLY);
            if (c < 0 || dprintf(c, "%d\n", getpid()) < 0 || close(c) < 0)
                _exit(2);
        }
        fn(arg, out);
        _exit(write(fd[1], out, len) == (ssize_t)len ? 0 : 3);
    }
    close(fd[1]);
    if (pid < 0) {
        close(fd[0]);
        return -1;
    }
    atomic_store(&child_pid, pid);
    ssize_t k = read(fd[0], out, len);
    close(fd[0]);
    int st;
    waitpid(pid, &st, 0);
    atomic_store(&child_pid, 0);
    return k == (ssize_t)len && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static unsigned char *anon(size_t len)
{
    unsigned char *b = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (b == MAP_FAILED) {
        perror("vmkit bench: mmap");
        exit(1);
    }
    madvise(b, len, MADV_NOHUGEPAGE);
    return b;
}

static vmk_system *vmk_open(size_t limit, vmk_space **as)
{
    vmk_config c = vmk_config_default();
    c.memory_limit = limit;
    vmk_system *s;
    int e = vmk_system_open(&s, &c);
    if (!e)
        e = vmk_space_create(s, as);
    if (e) {
        fprintf(stderr, "vmkit bench: vmk_system_open: %s\n", vmk_strerror(e));
        exit(1);
    }
    return s;
}

/* ---- anonymous memory: a page holds p << 20 | version in its first word ---- */

static void fill(unsigned char *b, size_t np)
{
    for (size_t p = 0; p < np; p++) {
        ((uint64_t *)(b + p * 4096))[0] = p << 20;
        if ((p & 255) == 255)
            tick(256);
    }
}

static uint64_t seq_read(const unsigned char *b, size_t np)
{
    uint64_t bad = 0;
    for (size_t p = 0; p < np; p++) {
        bad += (((const uint64_t *)(b + p * 4096))[0] >> 20) != p;
        if ((p & 255) == 255)
            tick(256);
    }
    return bad;
}

struct rmw { unsigned char *b; uint32_t *ver; size_t np, ops; int id, nt; uint64_t bad; };

/* ver[p] is the version page p must hold: only p's owner thread touches it. */
static void *rmw_thread(void *arg)
{
    struct rmw *r = arg;
    uint64_t x = mix((uint64_t)r->id * 7919 + 17);
    size_t mine = r->np / (size_t)r->nt;
    for (size_t i = 0; i < r->ops; i++) {
        x = mix(x + i);
        size_t p = (x % mine) * (size_t)r->nt + (size_t)r->id;
        uint64_t *w = (uint64_t *)(r->b + p * 4096);
        uint64_t v = *w;
        r->bad += v != ((uint64_t)p << 20 | r->ver[p]);
        r->ver[p]++;
        *w = v + 1;
        tick(1);
    }
    return NULL;
}

static uint64_t rand_rmw(unsigned char *b, uint32_t *ver, size_t np, int nt, size_t ops)
{
    pthread_t th[64];
    struct rmw r[64];
    for (int i = 0; i < nt; i++) {
        r[i] = (struct rmw){ b, ver, np, ops / (size_t)nt, i, nt, 0 };
        pthread_create(&th[i], NULL, rmw_thread, &r[i]);
    }
    uint64_t bad = 0;
    for (int i = 0; i < nt; i++) {
        pthread_join(th[i], NULL);
        bad += r[i].bad;
    }
    return bad;
}

/* ---- 1. fill ---- */

static void bench_fill(void)
{
    struct bench_row *row = row_def("fill", "first-touch fill, no limit", "pages/s",
                                    "kernel: plain mmap", 0, 1.0);
    size_t np = SIZE / 4096;
    /* Warm both sides alike, untimed: guest memory never touched since boot
     * costs several times more per page (PLATFORM.md), and the two sides may
     * draw on different pages. */
    for (int rep = -1; rep < REPS; rep++) {
        char what[32] = "warm-up, untimed";
        if (rep >= 0)
            snprintf(what, sizeof what, "rep %d/%d", rep + 1, REPS);
        step(np * 2, "fill, kernel, %s", what);
        unsigned char *b = anon(SIZE);
        double t = cli_now();
        fill(b, np);
        double rate = (double)np / (cli_now() - t);
        uint64_t bad = seq_read(b, np);
        munmap(b, SIZE);
        if (rep >= 0)
            record(row, "kernel", rate, bad);
        else
            check(row, "kernel", bad);

        step(np * 2, "fill, vmkit, %s", what);
        vmk_space *as;
        vmk_system *s = vmk_open(SIZE + ((size_t)64 << 20), &as);
        b = vmk_map_anon(as, SIZE, VMK_PROT_READ | VMK_PROT_WRITE);
        t = cli_now();
        fill(b, np);
        rate = (double)np / (cli_now() - t);
        bad = seq_read(b, np);
        vmk_system_close(s);
        if (rep >= 0)
            record(row, "vmkit", rate, bad);
        else
            check(row, "vmkit", bad);
    }
}

/* ---- 2, 3. out of core: fill, then seq, then rand at each thread count ---- */

struct ooc_result { double seq, rnd[8]; uint64_t bad; };

static void ooc_pass(unsigned char *b, size_t np, struct ooc_result *r)
{
    uint32_t *ver = calloc(np, sizeof *ver);
    memset(r, 0, sizeof *r);
    if (!ver) {
        r->bad = 1;
        return;
    }
    fill(b, np);
    if (DO_SEQ) {
        double t = cli_now();
        r->bad += seq_read(b, np);
        r->seq = (double)np / (cli_now() - t);
    }
    for (int i = 0; DO_RAND && i < NT; i++) {
        double t = cli_now();
        r->bad += rand_rmw(b, ver, np, NTH[i], OPS);
        r->rnd[i] = (double)(OPS / (size_t)NTH[i] * (size_t)NTH[i]) / (cli_now() - t);
    }
    /* Last, untimed: every page holds its number and its latest version. */
    for (size_t p = 0; p < np; p++) {
        r->bad += ((const uint64_t *)(b + p * 4096))[0] != ((uint64_t)p << 20 | ver[p]);
        if ((p & 255) == 255)
            tick(256);
    }
    free(ver);
}

static void kernel_ooc(const void *arg, void *out)
{
    (void)arg;
    ooc_pass(anon(SIZE), SIZE / 4096, out);
}

static void bench_ooc(int kernel_ok)
{
    struct bench_row *seq = NULL, *rnd[8] = { 0 };
    if (DO_SEQ)
        seq = row_def("seq", "sequential read, out of core", "pages/s", "kernel: swap, memcg", 0, 5.0);
    for (int i = 0; DO_RAND && i < NT; i++) {
        char name[32], title[96];
        snprintf(name, sizeof name, "rand-%d", NTH[i]);
        snprintf(title, sizeof title, "random read-modify-write, out of core, %d thread%s", NTH[i],
                 NTH[i] > 1 ? "s" : "");
        rnd[i] = row_def(name, title, "pages/s", "kernel: swap, memcg", 0,
                         NTH[i] == 1 ? 1.0 : NTH[i] == 8 ? 1.5 : 0);
    }
    size_t np = SIZE / 4096;
    uint64_t work = np * (DO_SEQ ? 3 : 2) + (DO_RAND ? OPS * (size_t)NT : 0);
    for (int rep = 0; rep < REPS; rep++) {
        for (int kernel = 0; kernel <= kernel_ok; kernel++) {
            const char *who = kernel ? "kernel" : "vmkit";
            step(work, "%s, %s, rep %d/%d", !DO_RAND ? "seq" : !DO_SEQ ? "rand" : "seq+rand", who,
                 rep + 1, REPS);
            struct ooc_result r;
            if (kernel) {
                if (in_child(1, kernel_ooc, NULL, &r, sizeof r) < 0) {
                    say("vmkit bench: the kernel's out-of-core run failed");
                    continue;
                }
            } else {
                vmk_space *as;
                vmk_system *s = vmk_open(LIMIT, &as);
                ooc_pass(vmk_map_anon(as, SIZE, VMK_PROT_READ | VMK_PROT_WRITE), np, &r);
                vmk_system_close(s);
            }
            if (seq)
                record(seq, who, r.seq, 0);
            for (int i = 0; DO_RAND && i < NT; i++)
                record(rnd[i], who, r.rnd[i], 0);
            check(seq ? seq : rnd[0], who, r.bad);  /* one count for the whole pass */
        }
    }
}

/* ---- 5. a file mapped shared, read in order: every word checked ---- */

#define FILE_K 0x9E3779B97F4A7C15ull

/* Word i of file page p is (p << 32 | i) * K, so the page's words sum to
 * K * (512 * (p << 32) + 0 + 1 + ... + 511) modulo 2^64. */
static uint64_t file_check(const unsigned char *b, size_t np)
{
    uint64_t bad = 0;
    for (size_t p = 0; p < np; p++) {
        const uint64_t *w = (const uint64_t *)(b + p * 4096);
        uint64_t s = 0;
        for (int i = 0; i < 512; i++)
            s += w[i];
        bad += w[0] != ((uint64_t)p << 32) * FILE_K || s != FILE_K * (((uint64_t)p << 41) + 130816);
        if ((p & 255) == 255)
            tick(256);
    }
    return bad;
}

static int make_file(size_t np)
{
    snprintf(datafile, sizeof datafile, "/var/tmp/vmkit-bench-file-%d", getpid());
    int fd = open(datafile, O_RDWR | O_CREAT | O_TRUNC, 0600);
    uint64_t *buf = malloc((size_t)256 * 4096);
    if (fd < 0 || !buf) {
        fprintf(stderr, "vmkit bench: %s: %s\n", datafile, strerror(errno));
        datafile[0] = 0;
        return -1;
    }
    for (size_t p = 0; p < np; p += 256) {
        size_t n = np - p < 256 ? np - p : 256;
        for (size_t q = 0; q < n; q++)
            for (size_t i = 0; i < 512; i++)
                buf[q * 512 + i] = ((uint64_t)(p + q) << 32 | i) * FILE_K;
        if (pwrite(fd, buf, n * 4096, (off_t)(p * 4096)) != (ssize_t)(n * 4096)) {
            fprintf(stderr, "vmkit bench: writing %s: %s\n", datafile, strerror(errno));
            close(fd);
            free(buf);
            return -1;
        }
        tick(n);
    }
    free(buf);
    int r = fsync(fd);
    close(fd);
    return r;
}

struct rate_result { double rate; uint64_t bad; };

static void kernel_file(const void *arg, void *out)
{
    struct rate_result *r = out;
    size_t np = SIZE / 4096;
    int fd = open(datafile, O_RDONLY);
    const unsigned char *b = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
    if (fd < 0 || b == MAP_FAILED)
        _exit(4);
    double t = cli_now();
    r->bad = file_check(b, np);
    r->rate = (double)np / (cli_now() - t);
}

static void bench_file(int kernel_ok)
{
    struct bench_row *row = row_def("file", "file mapping (shared), sequential read, out of core",
                                    "pages/s", "kernel: mmap, memcg", 0, 0);
    size_t np = SIZE / 4096;
    step(np, "file: writing a %zu MiB file", SIZE >> 20);
    if (make_file(np) < 0) {
        failed = 1;
        return;
    }
    if (geteuid() != 0)
        say("vmkit bench: not root: the page cache cannot be dropped, vmkit reads it warm");
    for (int rep = 0; rep < REPS; rep++) {
        for (int kernel = 0; kernel <= kernel_ok; kernel++) {
            const char *who = kernel ? "kernel" : "vmkit";
            step(np, "file, %s, rep %d/%d", who, rep + 1, REPS);
            if (geteuid() == 0)
                sh("sync; echo 3 > /proc/sys/vm/drop_caches");
            struct rate_result r = { 0, 0 };
            if (kernel) {
                if (in_child(1, kernel_file, NULL, &r, sizeof r) < 0) {
                    say("vmkit bench: the kernel's file run failed");
                    continue;
                }
            } else {
                vmk_space *as;
                vmk_system *s = vmk_open(LIMIT, &as);
                int fd = open(datafile, O_RDONLY);
                const unsigned char *b = vmk_map_file(as, fd, 0, SIZE, VMK_PROT_READ, VMK_MAP_SHARED);
                close(fd);
                if (!b) {
                    fprintf(stderr, "vmkit bench: vmk_map_file: %s\n", strerror(errno));
                    exit(1);
                }
                double t = cli_now();
                r.bad = file_check(b, np);
                r.rate = (double)np / (cli_now() - t);
                vmk_system_close(s);
            }
            record(row, who, r.rate, r.bad);
        }
    }
    unlink(datafile);
    datafile[0] = 0;
}

/* ---- 4. fork: time to fork S resident, COW break per page, memcpy of S ---- */

struct fork_result { double fork_ms, cow_child, cow_parent, cow_random, reread, memcpy_ms; uint64_t bad; };

/* Pages below half must carry generation lo, the others hi. */
static uint64_t gen_check(const unsigned char *b, size_t np, size_t half, uint64_t lo, uint64_t hi)
{
    uint64_t bad = 0;
    for (size_t p = 0; p < np; p++)
        bad += ((const uint64_t *)(b + p * 4096))[0] != (p << 20 | (p < half ? lo : hi));
    return bad;
}

/* Write generation gen into pages [from, to): µs per page. */
static double cow_pass(unsigned char *b, size_t from, size_t to, uint64_t gen)
{
    double t = cli_now();
    for (size_t p = from; p < to; p++) {
        ((uint64_t *)(b + p * 4096))[0] = p << 20 | gen;
        if ((p & 255) == 255)
            tick(256);
    }
    return (cli_now() - t) * 1e6 / (double)(to - from);
}

/* Read the first word of every page: µs per page.  What a fork leaves the
 * parent to pay later (vmkit refaults the pages it moved out); pages below
 * half must carry generation lo, the others hi (mismatches into *bad). */
static double reread_pass(const unsigned char *b, size_t np, size_t half, uint64_t lo, uint64_t hi,
                          uint64_t *bad)
{
    double t = cli_now();
    uint64_t wrong = 0;
    for (size_t p = 0; p < np; p++) {
        wrong += ((const volatile uint64_t *)(b + p * 4096))[0] != (p << 20 | (p < half ? lo : hi));
        if ((p & 255) == 255)
            tick(256);
    }
    double us = (cli_now() - t) * 1e6 / (double)np;
    *bad += wrong;
    return us;
}

/* Write generation gen into the first word of pages [0, n) in a random
 * order (the same for both sides): µs per page; the pages are then checked
 * (mismatches added to *bad). */
static double cow_random_pass(unsigned char *b, size_t n, uint64_t gen, uint64_t *bad)
{
    uint32_t *order = malloc(n * sizeof *order);
    if (!order) {
        (*bad)++;
        return 0;
    }
    cli_shuffle(order, n);
    double t = cli_now();
    for (size_t i = 0; i < n; i++) {
        size_t p = order[i];
        ((uint64_t *)(b + p * 4096))[0] = p << 20 | gen;
        if ((i & 255) == 255)
            tick(256);
    }
    double us = (cli_now() - t) * 1e6 / (double)n;
    for (size_t p = 0; p < n; p++)
        *bad += ((const uint64_t *)(b + p * 4096))[0] != (p << 20 | gen);
    free(order);
    return us;
}

/* In a child P of the bench (no cgroup, no limit): fill S, fork() a
 * grandchild C.  C breaks COW on the first half (gen 1) and reports; then P
 * breaks it on the second half (gen 2) while C still shares those pages,
 * and lets C check that it still sees gen 0 there.  Last, memcpy of S into
 * memory already touched (the copy alone), checked. */
static void kernel_fork(const void *arg, void *out)
{
    size_t S = *(const size_t *)arg, np = S / 4096, half = np / 2;
    struct fork_result *r = out;
    memset(r, 0, sizeof *r);
    r->bad = 1;
    unsigned char *b = anon(S);
    fill(b, np);
    int up[2], down[2];
    if (pipe(up) < 0 || pipe(down) < 0)
        return;
    double t = cli_now();
    pid_t pid = fork();
    if (pid == 0) {
        close(up[0]);
        close(down[1]);
        double cow = cow_pass(b, 0, half, 1);
        char c;
        uint64_t bad = write(up[1], &cow, sizeof cow) != sizeof cow;
        bad += read(down[0], &c, 1) != 1;          /* P has written its half */
        bad += gen_check(b, np, half, 1, 0);
        _exit(write(up[1], &bad, sizeof bad) == sizeof bad ? 0 : 1);
    }
    r->fork_ms = (cli_now() - t) * 1e3;
    close(up[1]);
    close(down[0]);
    uint64_t cbad = 1;
    if (pid > 0 && read(up[0], &r->cow_child, sizeof(double)) == sizeof(double)) {
        r->cow_parent = cow_pass(b, half, np, 2);
        if (write(down[1], "g", 1) != 1 || read(up[0], &cbad, sizeof cbad) != sizeof cbad)
            cbad = 1;
    }
    if (pid > 0)
        waitpid(pid, NULL, 0);
    r->bad = cbad + gen_check(b, np, half, 0, 2);
    /* Random order: a second child writes a quarter of the pages. */
    int rp[2];
    if (pipe(rp) < 0)
        return;
    pid = fork();
    if (pid == 0) {
        uint64_t bad = 0;
        double us = cow_random_pass(b, np / 4, 3, &bad);
        _exit(write(rp[1], &us, sizeof us) == sizeof us &&
              write(rp[1], &bad, sizeof bad) == sizeof bad ? 0 : 1);
    }
    uint64_t rbad = 1;
    if (pid > 0 && (read(rp[0], &r->cow_random, sizeof(double)) != sizeof(double) ||
                    read(rp[0], &rbad, sizeof rbad) != sizeof rbad))
        rbad = 1;
    if (pid > 0)
        waitpid(pid, NULL, 0);
    close(rp[0]);
    close(rp[1]);
    r->bad += rbad;
    r->reread = reread_pass(b, np, half, 0, 2, &r->bad);
    unsigned char *d = anon(S);
    for (size_t p = 0; p < np; p++)
        d[p * 4096] = 1;
    t = cli_now();
    memcpy(d, b, S);
    r->memcpy_ms = (cli_now() - t) * 1e3;
    r->bad += gen_check(d, np, half, 0, 2);
}

/* The same on vmkit, in one process: a space with S resident (budget 2S
 * and some, so that nothing is evicted), vmk_space_fork, the child's copy
 * found by vmk_space_translate; the child breaks COW on the first half, the
 * parent on the second, and each must see its own history. */
static struct fork_result vmkit_fork(size_t S)
{
    struct fork_result r = { 0, 0, 0, 0, 0, 0, 1 };
    size_t np = S / 4096, half = np / 2;
    vmk_space *as, *child = NULL;
    vmk_system *s = vmk_open(2 * S + ((size_t)64 << 20), &as);
    unsigned char *b = vmk_map_anon(as, S, VMK_PROT_READ | VMK_PROT_WRITE), *c = NULL;
    fill(b, np);
    double t = cli_now();
    int e = vmk_space_fork(as, &child);
    r.fork_ms = (cli_now() - t) * 1e3;
    if (!e)
        c = vmk_space_translate(child, as, b);
    if (!c) {
        say("vmkit bench: vmk_space_fork: %s", vmk_strerror(e ? e : -errno));
    } else {
        r.cow_child = cow_pass(c, 0, half, 1);
        r.cow_parent = cow_pass(b, half, np, 2);
        r.bad = gen_check(c, np, half, 1, 0) + gen_check(b, np, half, 0, 2);
        /* Random order: a second child writes a quarter of the pages (the
         * first one gone, as on the kernel's side; the budget holds both). */
        vmk_space_destroy(child);
        vmk_space *c2 = NULL;
        unsigned char *d = NULL;
        if (vmk_space_fork(as, &c2) == 0)
            d = vmk_space_translate(c2, as, b);
        if (d)
            r.cow_random = cow_random_pass(d, np / 4, 3, &r.bad);
        else
            r.bad++;
        r.reread = reread_pass(b, np, half, 0, 2, &r.bad);
    }
    vmk_system_close(s);
    return r;
}

/* A lower-is-better row whose name and title carry the size. */
static struct bench_row *fork_row(const char *name, const char *title, const char *sz,
                                  const char *unit, const char *baseline, double goal)
{
    char n[32], t[96];
    snprintf(n, sizeof n, name, sz);
    snprintf(t, sizeof t, title, sz);
    return row_def(n, t, unit, baseline, 1, goal);
}

static void bench_fork(void)
{
    for (int f = 0; f < NFORK; f++) {
        size_t S = FORKS[f], np = S / 4096;
        char sz[16];
        int gib = S % ((size_t)1 << 30) == 0;
        snprintf(sz, sizeof sz, "%zu%s", gib ? S >> 30 : S >> 20, gib ? "G" : "M");
        struct bench_row *fk = fork_row("fork-%s", "fork of %s resident: time to fork", sz, "ms",
                                        "kernel: fork()", 0);
        struct bench_row *mc = fork_row("fork-%s-memcpy", "fork of %s resident vs copying it", sz,
                                        "ms", "memcpy", 20);
        struct bench_row *cc = fork_row("cow-child-%s", "COW break per page in the child (%s)", sz,
                                        "us/page", "kernel: fork()", 1 / 1.5);
        struct bench_row *cp = fork_row("cow-parent-%s", "COW break per page in the parent (%s)", sz,
                                        "us/page", "kernel: fork()", 1 / 1.5);
        struct bench_row *cr = fork_row("cow-random-%s", "COW break per page, random order (%s)", sz,
                                        "us/page", "kernel: fork()", 1 / 1.5);
        struct bench_row *rr = fork_row("reread-%s", "parent reads every page after a fork (%s)",
                                        sz, "us/page", "kernel: fork()", 0);
        /* Untimed warm-up first, as for fill: fresh guest memory is slower. */
        for (int rep = -1; rep < REPS; rep++) {
            char what[32] = "warm-up, untimed";
            if (rep >= 0)
                snprintf(what, sizeof what, "rep %d/%d", rep + 1, REPS);
            step(np * 2, "fork %s, kernel, %s", sz, what);
            struct fork_result r;
            if (in_child(0, kernel_fork, &S, &r, sizeof r) < 0) {
                say("vmkit bench: the kernel's fork run failed");
                failed = 1;
            } else if (rep < 0) {
                check(fk, "kernel", r.bad);
            } else {
                record(fk, "kernel", r.fork_ms, r.bad);
                record(mc, "memcpy", r.memcpy_ms, 0);
                record(cc, "kernel", r.cow_child, 0);
                record(cp, "kernel", r.cow_parent, 0);
                record(cr, "kernel", r.cow_random, 0);
                record(rr, "kernel", r.reread, 0);
            }
            step(np * 2, "fork %s, vmkit, %s", sz, what);
            r = vmkit_fork(S);
            if (rep < 0) {
                check(fk, "vmkit", r.bad);
            } else {
                record(fk, "vmkit", r.fork_ms, r.bad);
                record(mc, "vmkit", r.fork_ms, 0);
                record(cc, "vmkit", r.cow_child, 0);
                record(cp, "vmkit", r.cow_parent, 0);
                record(cr, "vmkit", r.cow_random, 0);
                record(rr, "vmkit", r.reread, 0);
            }
        }
    }
}

/* ---- the command ---- */

static int usage(FILE *f)
{
    fprintf(f, "usage: vmkit bench [WORKLOAD...] [--quick] [--size 1G] [--limit 128M] [--reps 3]\n"
               "                   [--threads 1,4,8] [--ops 100000] [--fork-sizes 512M,2G]\n"
               "                   [--out-dir results] [--name bench]\n"
               "workloads: fill seq rand file fork (default: all)\n"
               "--quick: 128M over 16M, 20000 ops, fork of 128M; reports named bench-quick\n"
               "As root the kernel's side runs in a memory cgroup with a swap file (set up and\n"
               "undone by the run, every step echoed); otherwise those rows are vmkit only.\n");
    return f == stderr ? 2 : 0;
}

static int parse_list(const char *s, void (*put)(int i, const char *v), int max)
{
    int n = 0;
    for (; *s && n < max; n++) {
        put(n, s);
        s = strchr(s, ',');
        if (!s)
            return n + 1;
        s++;
    }
    return n;
}

static void put_thread(int i, const char *v) { NTH[i] = atoi(v); }
static void put_fork(int i, const char *v) { FORKS[i] = cli_parse_size(v) & ~(size_t)8191; }

static void machine_info(struct bench_info *in)
{
    struct utsname u;
    uname(&u);
    snprintf(in->os, sizeof in->os, "%s %s %s", u.sysname, u.release, u.machine);
    in->cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
    in->mem_mib = (size_t)sysconf(_SC_PHYS_PAGES) * (size_t)sysconf(_SC_PAGESIZE) >> 20;
    snprintf(in->cpu, sizeof in->cpu, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        char *c = strchr(line, ':');
        if (!strncmp(line, "model name", 10) && c) {
            snprintf(in->cpu, sizeof in->cpu, "%s", c + 2);
            in->cpu[strcspn(in->cpu, "\n")] = 0;
            break;
        }
    }
    if (f)
        fclose(f);
    getloadavg(&in->load[0], 1);
    time_t now = time(NULL);
    strftime(in->date, sizeof in->date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
}

int vmk_cmd_bench(int argc, char **argv)
{
    static struct bench_info in;
    const char *outdir = "results", *stem = NULL;
    snprintf(in.command, sizeof in.command, "vmkit bench");
    int quick = 0, reps = 0, any = 0, forks_given = 0;
    size_t size = 0, limit = 0, ops = 0;
    for (int i = 1; i < argc; i++) {
        strncat(in.command, " ", sizeof in.command - strlen(in.command) - 1);
        strncat(in.command, argv[i], sizeof in.command - strlen(in.command) - 1);
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int *w = !strcmp(a, "fill") ? &DO_FILL : !strcmp(a, "seq") ? &DO_SEQ : !strcmp(a, "rand") ? &DO_RAND
               : !strcmp(a, "file") ? &DO_FILE : !strcmp(a, "fork") ? &DO_FORK : NULL;
        if (w) {
            *w = any = 1;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return usage(stdout);
        if (!strcmp(a, "--quick")) {
            quick = 1;
            continue;
        }
        if (!v || a[0] != '-')
            return usage(stderr);
        strncat(in.command, " ", sizeof in.command - strlen(in.command) - 1);
        strncat(in.command, v, sizeof in.command - strlen(in.command) - 1);
        i++;
        if (!strcmp(a, "--size")) size = cli_parse_size(v);
        else if (!strcmp(a, "--limit")) limit = cli_parse_size(v);
        else if (!strcmp(a, "--reps")) reps = atoi(v);
        else if (!strcmp(a, "--ops")) ops = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--threads")) NT = parse_list(v, put_thread, 8);
        else if (!strcmp(a, "--fork-sizes")) NFORK = parse_list(v, put_fork, 4), forks_given = 1;
        else if (!strcmp(a, "--out-dir")) outdir = v;
        else if (!strcmp(a, "--name")) stem = v;
        else return usage(stderr);
    }
    if (quick) {
        SIZE = (size_t)128 << 20, LIMIT = (size_t)16 << 20, OPS = 20000;
        if (!forks_given)
            FORKS[0] = (size_t)128 << 20, NFORK = 1;
    }
    SIZE = size ? size & ~(size_t)4095 : SIZE;
    LIMIT = limit ? limit : LIMIT;
    OPS = ops ? ops : OPS;
    REPS = reps ? reps : REPS;
    if (!any)
        DO_FILL = DO_SEQ = DO_RAND = DO_FILE = DO_FORK = 1;
    for (int i = 0; i < NT; i++)
        if (NTH[i] < 1 || NTH[i] > 64)
            return usage(stderr);
    for (int i = 0; i < NFORK; i++)
        if (FORKS[i] < 8192)
            return usage(stderr);
    if (REPS < 1 || REPS > BENCH_MAX_REPS || SIZE < ((size_t)1 << 20) || LIMIT < VMK_MIN_MEMORY_LIMIT ||
        NT < 1 || NFORK < 1)
        return usage(stderr);
    in.quick = quick, in.reps = REPS, in.size = SIZE, in.limit = LIMIT;
    machine_info(&in);

    PROG = mmap(NULL, sizeof *PROG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (PROG == MAP_FAILED)
        return 1;
    static sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    pthread_t th;
    pthread_create(&th, NULL, signal_thread, &sigs);
    pthread_detach(th);
    tty = isatty(2);

    say("vmkit bench: %zu MiB, out of core over %zu MiB, %d reps, %s, load average %.2f", SIZE >> 20,
        LIMIT >> 20, REPS, in.os, in.load[0]);
    int kernel_ok = 0;
    if (DO_SEQ || DO_RAND || DO_FILE)
        kernel_ok = kernel_setup(in.kernel_side, sizeof in.kernel_side) == 0;
    else
        snprintf(in.kernel_side, sizeof in.kernel_side, "not needed (no out-of-core rows)");
    step_count = (DO_FILL ? 2 * (REPS + 1) : 0) + (DO_SEQ || DO_RAND ? REPS * (1 + kernel_ok) : 0) +
                 (DO_FILE ? 1 + REPS * (1 + kernel_ok) : 0) + (DO_FORK ? 2 * NFORK * (REPS + 1) : 0);
    if (tty) {
        ticking = 1;
        pthread_create(&th, NULL, ticker, NULL);
        pthread_detach(th);
    }
    if (DO_FILL)
        bench_fill();
    if (DO_SEQ || DO_RAND)
        bench_ooc(kernel_ok);
    if (DO_FILE)
        bench_file(kernel_ok);
    if (DO_FORK)
        bench_fork();
    cleanup();
    pthread_mutex_lock(&out_lock);
    if (ticking)
        fputs("\r\033[K", stderr);
    ticking = 0;
    pthread_mutex_unlock(&out_lock);

    getloadavg(&in.load[1], 1);
    bench_table(stdout, rows, nrows);
    fflush(stdout);
    if (bench_write_reports(outdir, stem ? stem : quick ? "bench-quick" : "bench", &in, rows, nrows) < 0)
        failed = 1;
    if (failed)
        fprintf(stderr, "vmkit bench: WRONG DATA or a failed run: the run fails\n");
    return failed;
}
