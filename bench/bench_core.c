/*
 * bench_core.c - vmkit against the kernel, same work, same run.
 *
 *   fill      first touch of every page of SIZE (default 1 GiB), no memory
 *             limit: vmkit (budget above SIZE) vs plain mmap(MAP_ANONYMOUS).
 *   seq       SIZE over LIMIT (default 128 MiB): after a fill, one ordered
 *             pass reading every page.
 *   rand-T    the same region: random read-modify-write of single pages by T
 *             threads (each thread owns the pages p % T == its index).
 *
 * The kernel's side of seq/rand runs in a child process placed in a memory
 * cgroup limited to LIMIT, with a swap file switched on for the run (root
 * and a cgroup memory controller needed; every step is echoed, and undone
 * at the end).  Without them the kernel's side says "n/a".
 * Every workload verifies its data: a page holds its number and a version,
 * so a fast wrong answer fails the run (exit status 1).
 *
 * usage: bench_core [--size 1G] [--limit 128M] [--reps 3] [--threads 1,4,8]
 *                   [--ops N] [--quick] [--out results/bench_core.md]
 */
#include <vmkit.h>
#include "cli.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
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

static size_t SIZE = (size_t)1 << 30, LIMIT = (size_t)128 << 20;
static int REPS = 3, NTHREADS[8] = { 1, 4, 8 }, NT = 3;
static size_t OPS = 100000;
static const char *OUT = "results/bench_core.md";
static char cgroup_dir[256], swapfile[256];

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33;
    return x;
}

/* ---- the workloads, on any memory ---- */

static uint64_t fill(unsigned char *b, size_t np)
{
    for (size_t p = 0; p < np; p++)
        ((uint64_t *)(b + p * 4096))[0] = p << 20;
    return 0;
}

static uint64_t seq_read(unsigned char *b, size_t np)
{
    uint64_t bad = 0;
    for (size_t p = 0; p < np; p++)
        bad += (((uint64_t *)(b + p * 4096))[0] >> 20) != p;
    return bad;
}

struct rmw { unsigned char *b; size_t np, ops; int id, nt; uint64_t bad; };

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
        r->bad += (v >> 20) != p;
        *w = v + 1;                       /* the version lives in the low bits */
    }
    return NULL;
}

static uint64_t rand_rmw(unsigned char *b, size_t np, int nt, size_t ops)
{
    pthread_t th[64];
    struct rmw r[64];
    for (int i = 0; i < nt; i++) {
        r[i] = (struct rmw){ b, np, ops / (size_t)nt, i, nt, 0 };
        pthread_create(&th[i], NULL, rmw_thread, &r[i]);
    }
    uint64_t bad = 0;
    for (int i = 0; i < nt; i++) {
        pthread_join(th[i], NULL);
        bad += r[i].bad;
    }
    return bad;
}

/* ---- results ---- */

struct row { char name[32]; double vmk[8], ker[8]; int nv, nk; };
static struct row rows[16];
static int nrows;
static int failed;

static struct row *row_get(const char *name)
{
    for (int i = 0; i < nrows; i++)
        if (!strcmp(rows[i].name, name))
            return &rows[i];
    snprintf(rows[nrows].name, sizeof rows[nrows].name, "%s", name);
    return &rows[nrows++];
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    if (!n)
        return 0;
    double t[8];
    memcpy(t, v, sizeof(double) * (size_t)n);
    qsort(t, (size_t)n, sizeof *t, cmp_d);
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static void record(const char *name, int kernel, double rate, uint64_t bad)
{
    struct row *r = row_get(name);
    if (kernel)
        r->ker[r->nk++] = rate;
    else
        r->vmk[r->nv++] = rate;
    if (bad) {
        fprintf(stderr, "  %s (%s): %llu WRONG pages\n", name, kernel ? "kernel" : "vmkit",
                (unsigned long long)bad);
        failed = 1;
    }
    fprintf(stderr, "  %-10s %-6s %10.0f pages/s\n", name, kernel ? "kernel" : "vmkit", rate);
}

/* ---- one measured pass of the out-of-core workloads on memory b ---- */

struct ooc_result { double seq; double rnd[8]; uint64_t bad; };

static struct ooc_result out_of_core(unsigned char *b, size_t np)
{
    struct ooc_result r = { 0 };
    r.bad += fill(b, np);
    double t = cli_now();
    r.bad += seq_read(b, np);
    r.seq = (double)np / (cli_now() - t);
    for (int i = 0; i < NT; i++) {
        t = cli_now();
        r.bad += rand_rmw(b, np, NTHREADS[i], OPS);
        r.rnd[i] = (double)OPS / (cli_now() - t);
    }
    return r;
}

static void record_ooc(struct ooc_result *r, int kernel)
{
    record("seq", kernel, r->seq, r->bad);
    for (int i = 0; i < NT; i++) {
        char name[32];
        snprintf(name, sizeof name, "rand-%d", NTHREADS[i]);
        record(name, kernel, r->rnd[i], 0);
    }
}

static vmk_system *vmk_open(size_t limit)
{
    vmk_config c = vmk_config_default();
    c.memory_limit = limit;
    vmk_system *s;
    int e = vmk_system_open(&s, &c);
    if (e) {
        fprintf(stderr, "bench_core: vmk_system_open: %s\n", vmk_strerror(e));
        exit(1);
    }
    return s;
}

/* ---- the kernel's side at the same limit: cgroup v1/v2 + a swap file ---- */

static int sh(const char *cmd)
{
    fprintf(stderr, "+ %s\n", cmd);
    return system(cmd);
}

static void kernel_teardown(void)
{
    char cmd[1400];
    if (swapfile[0]) {
        snprintf(cmd, sizeof cmd, "swapoff %s; rm -f %s", swapfile, swapfile);
        sh(cmd);
        swapfile[0] = 0;
    }
    if (cgroup_dir[0]) {
        snprintf(cmd, sizeof cmd, "rmdir %s", cgroup_dir);
        sh(cmd);
        cgroup_dir[0] = 0;
    }
}

static int kernel_setup(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "bench_core: not root: the kernel's side at %zu MiB needs a memory cgroup "
                        "and swapon; measuring vmkit alone there\n", LIMIT >> 20);
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
        fprintf(stderr, "bench_core: no memory cgroup controller found\n");
        return -1;
    }
    snprintf(cmd, sizeof cmd, "mkdir %s && echo %zu > %s/%s", cgroup_dir, LIMIT, cgroup_dir, limit_file);
    if (sh(cmd) != 0) {
        cgroup_dir[0] = 0;
        return -1;
    }
    snprintf(swapfile, sizeof swapfile, "/var/tmp/vmkit-bench-swap-%d", getpid());
    snprintf(cmd, sizeof cmd, "fallocate -l %zu %s && chmod 600 %s && mkswap -q %s && swapon %s",
             SIZE * 2, swapfile, swapfile, swapfile, swapfile);
    if (sh(cmd) != 0) {
        snprintf(cmd, sizeof cmd, "rm -f %s", swapfile);
        sh(cmd);
        swapfile[0] = 0;
        kernel_teardown();
        return -1;
    }
    return 0;
}

/* Run the out-of-core workloads in a child inside the cgroup; results come
 * back through a pipe. */
static int kernel_ooc(struct ooc_result *out)
{
    int fd[2];
    if (pipe(fd) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        char path[300];
        snprintf(path, sizeof path, "%s/cgroup.procs", cgroup_dir);
        FILE *f = fopen(path, "w");
        if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f) != 0)
            _exit(2);
        unsigned char *b = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        madvise(b, SIZE, MADV_NOHUGEPAGE);
        struct ooc_result r = out_of_core(b, SIZE / 4096);
        if (write(fd[1], &r, sizeof r) != (ssize_t)sizeof r)
            _exit(3);
        _exit(0);
    }
    close(fd[1]);
    ssize_t k = read(fd[0], out, sizeof *out);
    close(fd[0]);
    int st;
    waitpid(pid, &st, 0);
    return k == (ssize_t)sizeof *out && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* ---- fill ---- */

static void bench_fill(void)
{
    size_t np = SIZE / 4096;
    /* Warm both sides alike, untimed: guest memory never touched since boot
     * costs several times more per page (PLATFORM.md), and the two sides may
     * draw on different pages. */
    for (int rep = -1; rep < REPS; rep++) {
        unsigned char *b = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        madvise(b, SIZE, MADV_NOHUGEPAGE);
        double t = cli_now();
        fill(b, np);
        double rate = (double)np / (cli_now() - t);
        uint64_t bad = seq_read(b, np);
        munmap(b, SIZE);
        if (rep >= 0)
            record("fill", 1, rate, bad);

        vmk_system *s = vmk_open(SIZE + ((size_t)64 << 20));
        vmk_space *as;
        vmk_space_create(s, &as);
        b = vmk_map_anon(as, SIZE, VMK_PROT_READ | VMK_PROT_WRITE);
        t = cli_now();
        fill(b, np);
        rate = (double)np / (cli_now() - t);
        bad = seq_read(b, np);
        vmk_system_close(s);
        if (rep >= 0)
            record("fill", 0, rate, bad);
    }
}

static void bench_out_of_core(int kernel_ok)
{
    for (int rep = 0; rep < REPS; rep++) {
        vmk_system *s = vmk_open(LIMIT);
        vmk_space *as;
        vmk_space_create(s, &as);
        unsigned char *b = vmk_map_anon(as, SIZE, VMK_PROT_READ | VMK_PROT_WRITE);
        struct ooc_result r = out_of_core(b, SIZE / 4096);
        vmk_system_close(s);
        record_ooc(&r, 0);
        if (kernel_ok) {
            struct ooc_result k;
            if (kernel_ooc(&k) == 0)
                record_ooc(&k, 1);
            else
                fprintf(stderr, "bench_core: the kernel's run failed\n");
        }
    }
}

static void report(FILE *f, int md, const char *cmdline)
{
    struct utsname u;
    uname(&u);
    if (md)
        fprintf(f, "# bench_core\n\n`%s` on %s %s, %ld CPUs. %zu MiB region; out-of-core runs over "
                   "%zu MiB. Median of %d; pages/s; ratio = vmkit / kernel (higher is better).\n\n"
                   "| workload | vmkit | kernel | ratio | vmkit min–max |\n|---|---:|---:|---:|---|\n",
                cmdline, u.sysname, u.release, sysconf(_SC_NPROCESSORS_ONLN), SIZE >> 20,
                LIMIT >> 20, REPS);
    else
        fprintf(f, "\n%-10s %12s %12s %8s\n", "workload", "vmkit p/s", "kernel p/s", "ratio");
    for (int i = 0; i < nrows; i++) {
        struct row *r = &rows[i];
        double v = median(r->vmk, r->nv), k = median(r->ker, r->nk);
        double lo = r->nv ? r->vmk[0] : 0, hi = lo;
        for (int j = 0; j < r->nv; j++) {
            lo = r->vmk[j] < lo ? r->vmk[j] : lo;
            hi = r->vmk[j] > hi ? r->vmk[j] : hi;
        }
        char ks[32] = "n/a", rs[32] = "n/a";
        if (r->nk) {
            snprintf(ks, sizeof ks, "%.0f", k);
            snprintf(rs, sizeof rs, "%.2fx", v / k);
        }
        if (md)
            fprintf(f, "| %s | %.0f | %s | %s | %.0f–%.0f |\n", r->name, v, ks, rs, lo, hi);
        else
            fprintf(f, "%-10s %12.0f %12s %8s\n", r->name, v, ks, rs);
    }
}

static void parse_threads(const char *s)
{
    NT = 0;
    while (*s && NT < 8) {
        NTHREADS[NT++] = atoi(s);
        s = strchr(s, ',');
        if (!s)
            break;
        s++;
    }
}

int main(int argc, char **argv)
{
    char cmdline[512] = "bench_core";
    for (int i = 1; i < argc; i++) {
        strncat(cmdline, " ", sizeof cmdline - strlen(cmdline) - 1);
        strncat(cmdline, argv[i], sizeof cmdline - strlen(cmdline) - 1);
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        if (strcmp(argv[i], "--quick") && *v) {
            strncat(cmdline, " ", sizeof cmdline - strlen(cmdline) - 1);
            strncat(cmdline, v, sizeof cmdline - strlen(cmdline) - 1);
        }
        if (!strcmp(argv[i], "--quick")) {
            SIZE = (size_t)128 << 20, LIMIT = (size_t)16 << 20, REPS = 1, OPS = 20000;
            continue;
        }
        if (!strcmp(argv[i], "--size")) SIZE = cli_parse_size(v);
        else if (!strcmp(argv[i], "--limit")) LIMIT = cli_parse_size(v);
        else if (!strcmp(argv[i], "--reps")) REPS = atoi(v);
        else if (!strcmp(argv[i], "--ops")) OPS = strtoull(v, NULL, 10);
        else if (!strcmp(argv[i], "--threads")) parse_threads(v);
        else if (!strcmp(argv[i], "--out")) OUT = v;
        else {
            fprintf(stderr, "usage: bench_core [--size 1G] [--limit 128M] [--reps 3] "
                            "[--threads 1,4,8] [--ops N] [--quick] [--out FILE]\n");
            return 2;
        }
        i++;
    }
    if (REPS < 1 || REPS > 8)
        REPS = 3;
    fprintf(stderr, "bench_core: fill %zu MiB, then %zu MiB over %zu MiB, %d reps\n", SIZE >> 20,
            SIZE >> 20, LIMIT >> 20, REPS);
    bench_fill();
    int kernel_ok = kernel_setup() == 0;
    bench_out_of_core(kernel_ok);
    if (kernel_ok)
        kernel_teardown();
    report(stdout, 0, cmdline);
    char *slash = strrchr(OUT, '/');
    if (slash) {
        char dir[256];
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - OUT), OUT);
        mkdir(dir, 0755);
    }
    FILE *f = fopen(OUT, "w");
    if (f) {
        report(f, 1, cmdline);
        fclose(f);
        fprintf(stderr, "bench_core: report in %s\n", OUT);
    }
    if (failed)
        fprintf(stderr, "bench_core: WRONG DATA: the run fails\n");
    return failed;
}
