/*
 * test_bad_input: every bad input of every call in vmkit.h gets the
 * documented negative errno (or NULL + errno) and changes nothing:
 *   - the data of a mapping written before (pages resident and pages in
 *     swap) is intact after each group of bad calls;
 *   - its pages keep their page_info (state, slot, prot);
 *   - the system's counters (resident, swap used, evictions, faults) did
 *     not move;
 *   - a refused vmk_system_open leaks no file descriptor and no thread;
 *   - a refused protect/unmap over a partly mapped range leaves the mapped
 *     part mapped and with its protection.
 * docs/BAD_INPUTS.md is the table: every public call x bad argument -> error.
 */
#include <vmkit.h>
#include "check.h"
#include <dirent.h>
#include <limits.h>
#include <fcntl.h>
#include <sys/stat.h>

#define LIMIT ((size_t)1 << 20)
#define NP 384                                /* 1.5 MiB: some pages in swap */

static vmk_system *sys;
static vmk_space *as, *as2;
static unsigned char *m;                      /* NP pages, pattern(1, p, *) */
static unsigned char *m2;                     /* 4 pages of as2 */
static unsigned char *hole;                   /* an unmapped page between two mappings */
static unsigned char *a1, *a2;                /* the two mappings around the hole */
static struct vmk_page_info info0[NP];
static vmk_stats st0;

static int count_dir(const char *path)
{
    DIR *d = opendir(path);
    int n = 0;
    CHECK(d, "opendir %s", path);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* Nothing changed: counters, page table, then the data (which may fault). */
static void intact(const char *after)
{
    vmk_stats st = get_stats(sys);
    CHECK(st.resident == st0.resident && st.swap_used == st0.swap_used &&
              st.pages_evicted == st0.pages_evicted && st.faults == st0.faults &&
              st.pages_swapped_out == st0.pages_swapped_out,
          "after %s the counters moved: resident %llu->%llu swap used %llu->%llu evicted %llu->%llu "
          "faults %llu->%llu",
          after, ULL(st0.resident), ULL(st.resident), ULL(st0.swap_used), ULL(st.swap_used),
          ULL(st0.pages_evicted), ULL(st.pages_evicted), ULL(st0.faults), ULL(st.faults));
    for (size_t p = 0; p < NP; p++) {
        struct vmk_page_info pi = get_info(as, m + p * TPAGE);
        CHECK(pi.state == info0[p].state && pi.swap_slot == info0[p].swap_slot &&
                  pi.prot == info0[p].prot,
              "after %s page %zu changed: state %d->%d slot %lld->%lld prot %d->%d", after, p,
              info0[p].state, pi.state, (long long)info0[p].swap_slot, (long long)pi.swap_slot,
              info0[p].prot, pi.prot);
    }
    for (size_t p = 0; p < 4; p++)
        CHECK(get_info(as2, m2 + p * TPAGE).prot == (VMK_PROT_READ | VMK_PROT_WRITE) &&
                  get_info(as, a1 + p * TPAGE).prot == VMK_PROT_READ &&
                  get_info(as, a2 + p * TPAGE).prot == VMK_PROT_READ,
              "after %s a protection changed", after);
}

static void intact_data(const char *after)
{
    size_t bad = 0;
    for (size_t p = 0; p < NP; p++)
        bad += verify_page(m + p * TPAGE, 1, p, after);
    for (size_t p = 0; p < 4; p++)
        bad += verify_page(m2 + p * TPAGE, 2, p, after) + verify_page(a1 + p * TPAGE, 3, p, after) +
               verify_page(a2 + p * TPAGE, 3, p + 4, after);
    CHECK(bad == 0, "after %s: %zu words wrong", after, bad);
}

/* Malformed VMK_* values: vmk_config_default makes them 0, which open refuses. */
static void env_errors(vmk_config *c, vmk_system **s)
{
    const char *env[][2] = { { "VMK_MEMORY_LIMIT", "lots" }, { "VMK_MEMORY_LIMIT", "12Q" },
                             { "VMK_FAULT_AROUND", "many" }, { "VMK_RECLAIM_BATCH", "-" },
                             { "VMK_POLICY", "bogus" }, { "VMK_INJECT", "swap-write-eio,after=x" } };
    for (size_t i = 0; i < sizeof env / sizeof env[0]; i++) {
        CHECK(setenv(env[i][0], env[i][1], 1) == 0, "setenv");
        *c = vmk_config_default();
        int r = vmk_system_open(s, c);
        EXPECT(r == -EINVAL, "vmk_system_open with %s=%s: %d (%s), want -EINVAL", env[i][0],
               env[i][1], r, vmk_strerror(r));
        if (r == 0)
            vmk_system_close(*s);
        unsetenv(env[i][0]);
    }
    EXPECT(vmk_config_default().memory_limit == (size_t)256 << 20, "environment left behind");
}

static void open_errors(void)
{
    int fds = count_dir("/proc/self/fd"), tasks = count_dir("/proc/self/task");
    vmk_config c;
    vmk_system *s = (vmk_system *)0x1;
    int r;
#define OPEN_FAILS(setup, want, what)                                                        \
    do {                                                                                     \
        c = vmk_config_default();                                                            \
        setup;                                                                               \
        s = (vmk_system *)0x1;                                                               \
        r = vmk_system_open(&s, &c);                                                         \
        EXPECT(want, "vmk_system_open with %s: %d (%s)", what, r, vmk_strerror(r));            \
        if (r == 0)                                                                          \
            vmk_system_close(s);                                                             \
    } while (0)
    c = vmk_config_default();
    EXPECT(vmk_system_open(NULL, &c) == -EINVAL, "open(NULL out)");
    EXPECT(vmk_system_open(&s, NULL) == -EINVAL, "open(NULL config)");
    OPEN_FAILS(c.memory_limit = 0, r == -EINVAL, "memory_limit 0");
    OPEN_FAILS(c.memory_limit = VMK_MIN_MEMORY_LIMIT - TPAGE, r == -EINVAL, "memory_limit 1 MiB - 4 KiB");
    OPEN_FAILS(c.memory_limit = VMK_MIN_MEMORY_LIMIT - 1, r == -EINVAL, "memory_limit 1 MiB - 1");
    /* Not a multiple of the page size: rounded down, like the kernel's cgroup limits. */
    c = vmk_config_default();
    c.memory_limit = VMK_MIN_MEMORY_LIMIT + 100;
    r = vmk_system_open(&s, &c);
    EXPECT(r == 0, "vmk_system_open with an unaligned memory_limit: %s", vmk_strerror(r));
    if (r == 0) {
        vmk_stats st;
        EXPECT(vmk_stats_get(s, &st) == 0 && st.frames_total == VMK_MIN_MEMORY_LIMIT / TPAGE,
               "an unaligned memory_limit is rounded down to whole frames");
        vmk_system_close(s);
    }
    OPEN_FAILS(c.policy = "no-such-policy", r == -EINVAL, "unknown policy");
    OPEN_FAILS(c.policy = "fifo ", r == -EINVAL, "policy \"fifo \" (trailing space)");
    OPEN_FAILS(c.policy = "CLOCKX", r == -EINVAL, "policy CLOCKX");
    OPEN_FAILS(c.fault_around = 0, r == -EINVAL, "fault_around 0");
    OPEN_FAILS(c.fault_around = 65, r == -EINVAL, "fault_around 65");
    OPEN_FAILS(c.fault_around = 1000, r == -EINVAL, "fault_around 1000");
    OPEN_FAILS(c.reclaim_batch = 0, r == -EINVAL, "reclaim_batch 0");
    OPEN_FAILS(c.reclaim_batch = 257, r == -EINVAL, "reclaim_batch 257");
    OPEN_FAILS(c.swap_path = "/nonexistent/dir/x", r == -ENOENT, "swap_path /nonexistent/dir/x");
    OPEN_FAILS(c.swap_path = "/etc/passwd/x", r == -ENOTDIR || r == -ENOENT,
               "swap_path under a regular file");
    OPEN_FAILS(c.swap_path = "/proc/version", r < 0, "swap_path /proc/version");
    OPEN_FAILS(c.swap_path = "/proc", r < 0, "swap_path /proc (a directory where no file can be made)");
    OPEN_FAILS(c.swap_path = "/proc/self/status", r < 0, "swap_path /proc/self/status");
    OPEN_FAILS(c.swap_path = "/dev/null", r == -EINVAL, "swap_path /dev/null (not a file or block device)");
    OPEN_FAILS(c.swap_size = 100, r == -EINVAL, "swap_size 100 (less than a page)");
    OPEN_FAILS(c.swap_size = (size_t)1 << 44, r == -EINVAL, "swap_size 16 TiB (over 2^31 slots)");
    OPEN_FAILS(c.memory_limit = (size_t)128 << 30, r == -EINVAL, "memory_limit 128 GiB (over 2^24 frames)");
    env_errors(&c, &s);
#undef OPEN_FAILS
    EXPECT(s == (vmk_system *)0x1 || s == NULL, "a failed open wrote a system pointer %p", (void *)s);
    EXPECT(count_dir("/proc/self/fd") == fds, "failed opens leaked file descriptors: %d -> %d", fds,
          count_dir("/proc/self/fd"));
#if !defined(VMK_TEST_TSAN) /* ThreadSanitizer starts a background thread of its own */
    EXPECT(count_dir("/proc/self/task") == tasks, "failed opens leaked threads: %d -> %d", tasks,
          count_dir("/proc/self/task"));
#else
    (void)tasks;
#endif

    /* At most 16 systems: this one plus 15 more, then -EMFILE. */
    vmk_system *more[16];
    int n = 0;
    c = vmk_config_default();
    c.memory_limit = LIMIT;
    c.swap_size = 1 << 20;
    for (; n < 16; n++) {
        r = vmk_system_open(&more[n], &c);
        if (r)
            break;
    }
    EXPECT(n == 15 && r == -EMFILE, "with one system open, %d more opened, then %d (%s); want 15 "
          "then -EMFILE", n, r, vmk_strerror(r));
    for (int i = 0; i < n; i++)
        vmk_system_close(more[i]);
    r = vmk_system_open(&more[0], &c);             /* room again */
    EXPECT(r == 0, "open after closing the extra systems: %s", vmk_strerror(r));
    vmk_system_close(more[0]);

    vmk_space *x = (vmk_space *)0x1;
    EXPECT(vmk_space_create(NULL, &x) == -EINVAL, "space_create(NULL system)");
    EXPECT(vmk_space_create(sys, NULL) == -EINVAL, "space_create(NULL out)");
    EXPECT(x == (vmk_space *)0x1, "a refused space_create wrote its out pointer");
    vmk_system_close(NULL);                        /* no-ops */
    vmk_space_destroy(NULL);
}

static void map_errors(void)
{
    struct { const char *what; vmk_space *s; size_t len; int prot; } bad[] = {
        { "NULL space", NULL, TPAGE, VMK_PROT_READ },
        { "len 0", as, 0, VMK_PROT_READ },
        { "len SIZE_MAX", as, SIZE_MAX, VMK_PROT_READ },
        { "len rounding up past SIZE_MAX", as, SIZE_MAX - 100, VMK_PROT_READ },
        { "len 1 PiB (over the 64 TiB frame-store)", as, (size_t)1 << 50, VMK_PROT_READ },
        { "prot 0x4 (exec)", as, TPAGE, 0x4 },
        { "prot 0x8", as, TPAGE, 0x8 | VMK_PROT_READ },
        { "prot -1", as, TPAGE, -1 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        void *p = vmk_map_anon(bad[i].s, bad[i].len, bad[i].prot);
        EXPECT(p == NULL && errno == EINVAL, "vmk_map_anon(%s): %p errno %d, want NULL EINVAL",
              bad[i].what, p, errno);
    }


    /* vmk_map_file. */
    char path[] = "/tmp/vmk_bad_input_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    CHECK(ftruncate(fd, 8 * TPAGE) == 0, "ftruncate");
    int wo = open(path, O_WRONLY), ro = open(path, O_RDONLY);
    int dirfd = open("/tmp", O_RDONLY | O_DIRECTORY);
    int pfd[2];
    CHECK(wo >= 0 && ro >= 0 && dirfd >= 0 && pipe(pfd) == 0, "open helpers");
    unlink(path);
    struct { const char *what; vmk_space *s; int fd; off_t off; size_t len; int prot, flags, err; } fb[] = {
        { "NULL space", NULL, fd, 0, TPAGE, VMK_PROT_READ, VMK_MAP_SHARED, EINVAL },
        { "len 0", as, fd, 0, 0, VMK_PROT_READ, VMK_MAP_SHARED, EINVAL },
        { "len SIZE_MAX", as, fd, 0, SIZE_MAX, VMK_PROT_READ, VMK_MAP_SHARED, EINVAL },
        { "unaligned offset", as, fd, 100, TPAGE, VMK_PROT_READ, VMK_MAP_SHARED, EINVAL },
        { "bad prot", as, fd, 0, TPAGE, 0x4, VMK_MAP_SHARED, EINVAL },
        { "flags 0", as, fd, 0, TPAGE, VMK_PROT_READ, 0, EINVAL },
        { "flags SHARED|PRIVATE", as, fd, 0, TPAGE, VMK_PROT_READ, VMK_MAP_SHARED | VMK_MAP_PRIVATE, EINVAL },
        { "flags 0x10", as, fd, 0, TPAGE, VMK_PROT_READ, 0x10, EINVAL },
        { "fd -1", as, -1, 0, TPAGE, VMK_PROT_READ, VMK_MAP_SHARED, EBADF },
        { "fd 12345", as, 12345, 0, TPAGE, VMK_PROT_READ, VMK_MAP_SHARED, EBADF },
        { "fd open write-only", as, wo, 0, TPAGE, VMK_PROT_READ, VMK_MAP_PRIVATE, EACCES },
        { "shared writable on a read-only fd", as, ro, 0, TPAGE, VMK_PROT_READ | VMK_PROT_WRITE,
          VMK_MAP_SHARED, EACCES },
        { "a directory", as, dirfd, 0, TPAGE, VMK_PROT_READ, VMK_MAP_PRIVATE, ENODEV },
        { "a pipe", as, pfd[0], 0, TPAGE, VMK_PROT_READ, VMK_MAP_PRIVATE, ENODEV },
        { "negative offset", as, fd, -(off_t)TPAGE, TPAGE, VMK_PROT_READ, VMK_MAP_PRIVATE, EINVAL },
        { "len over 1 TiB", as, fd, 0, ((size_t)1 << 40) + TPAGE, VMK_PROT_READ, VMK_MAP_PRIVATE, EINVAL },
        { "shared, ending past 1 TiB of file", as, fd, ((off_t)1 << 40) - (off_t)TPAGE, 2 * TPAGE,
          VMK_PROT_READ, VMK_MAP_SHARED, EINVAL },
        { "bad prot 0x4 (private)", as, fd, 0, TPAGE, VMK_PROT_READ | 0x4, VMK_MAP_PRIVATE, EINVAL },
    };
    for (size_t i = 0; i < sizeof fb / sizeof fb[0]; i++) {
        errno = 0;
        void *p = vmk_map_file(fb[i].s, fb[i].fd, fb[i].off, fb[i].len, fb[i].prot, fb[i].flags);
        EXPECT(p == NULL && errno == fb[i].err, "vmk_map_file(%s): %p errno %d (%s), want NULL %s",
              fb[i].what, p, errno, strerror(errno), strerror(fb[i].err));
    }
    /* A read-only fd: a shared read-only mapping works, but protect(WRITE) is -EACCES. */
    unsigned char *f = vmk_map_file(as, ro, 0, 2 * TPAGE, VMK_PROT_READ, VMK_MAP_SHARED);
    CHECK(f, "vmk_map_file(read-only fd, shared, PROT_READ): %s", strerror(errno));
    EXPECT(f[0] == 0 && f[2 * TPAGE - 1] == 0, "file pages not zero");
    int r = vmk_protect(as, f, 2 * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    EXPECT(r == -EACCES, "protect(WRITE) of a shared mapping of a read-only fd: %d, want -EACCES", r);
    EXPECT(get_info(as, f).prot == VMK_PROT_READ, "refused protect changed prot to %d", get_info(as, f).prot);
    EXPECT(vmk_unmap(as, f, 2 * TPAGE) == 0, "unmap file");
    close(fd), close(wo), close(ro), close(dirfd), close(pfd[0]), close(pfd[1]);
}

static void range_errors(void)
{
    char local[2 * 4096];
    void *stack_page = (void *)(((uintptr_t)local + 4095) & ~(uintptr_t)4095);
    struct { const char *what; vmk_space *s; void *addr; size_t len; } bad[] = {
        { "NULL space", NULL, m, TPAGE },
        { "NULL address", as, NULL, TPAGE },
        { "unaligned address", as, m + 1, TPAGE },
        { "address 2048 into a page", as, m + 2048, TPAGE },
        { "len 0", as, m, 0 },
        { "len SIZE_MAX", as, m, SIZE_MAX },
        { "addr + len wraps around", as, m, (size_t)0 - (uintptr_t)m + TPAGE },
        { "range running past the end", as, m, (NP + 1) * TPAGE },
        { "range starting before the mapping", as, m - TPAGE, 2 * TPAGE },
        { "range across an unmapped hole", as, a1, 9 * TPAGE },
        { "the hole alone", as, hole, TPAGE },
        { "range ending in the hole", as, a1 + 3 * TPAGE, 2 * TPAGE },
        { "range starting in the hole", as, hole, 2 * TPAGE },
        { "another space's mapping", as, m2, TPAGE },
        { "this space's mapping through the other space", as2, m, TPAGE },
        { "a stack page (not vmkit's)", as, stack_page, TPAGE },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int r = vmk_unmap(bad[i].s, bad[i].addr, bad[i].len);
        EXPECT(r == -EINVAL, "vmk_unmap(%s): %d, want -EINVAL", bad[i].what, r);
        r = vmk_protect(bad[i].s, bad[i].addr, bad[i].len, VMK_PROT_NONE);
        EXPECT(r == -EINVAL, "vmk_protect(%s): %d, want -EINVAL", bad[i].what, r);
        r = vmk_sync(bad[i].s, bad[i].addr, bad[i].len);
        EXPECT(r == -EINVAL, "vmk_sync(%s): %d, want -EINVAL", bad[i].what, r);
        intact(bad[i].what);
    }
    int prots[] = { 0x4, 0x8, VMK_PROT_READ | 0x4, -1, 0x100 };
    for (size_t i = 0; i < sizeof prots / sizeof prots[0]; i++) {
        int r = vmk_protect(as, m, NP * TPAGE, prots[i]);
        EXPECT(r == -EINVAL, "vmk_protect(prot %#x): %d, want -EINVAL", prots[i], r);
    }
    intact("bad prot");
}

/* vmk_inject_config: every refused plan leaves the armed one as it was. */
static void inject_config_errors(void)
{
    vmk_inject good = { .after = 5, .count = 3, .every = 2 }, old, now;
    CHECK(vmk_inject_config(sys, VMK_INJECT_SWAP_READ, &good, NULL) == 0, "arm a plan");
    struct { const char *what; vmk_system *s; int kind; vmk_inject p; } bad[] = {
        { "NULL system", NULL, VMK_INJECT_SWAP_READ, { .after = 1 } },
        { "kind 0", sys, 0, { .after = 1 } },
        { "kind past VMK_INJECT_KIND_MAX", sys, VMK_INJECT_KIND_MAX + 1, { .after = 1 } },
        { "kind -1", sys, -1, { .after = 1 } },
        { "after -1", sys, VMK_INJECT_SWAP_READ, { .after = -1 } },
        { "count -2", sys, VMK_INJECT_SWAP_READ, { .after = 1, .count = -2 } },
        { "every -1", sys, VMK_INJECT_SWAP_READ, { .after = 1, .every = -1 } },
        { "arg on an error kind", sys, VMK_INJECT_SWAP_READ, { .after = 1, .arg = 5 } },
        { "delay over 1 s", sys, VMK_INJECT_SWAP_READ_DELAY, { .after = 1, .arg = 1000001 } },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int r = vmk_inject_config(bad[i].s, bad[i].kind, &bad[i].p, &old);
        EXPECT(r == -EINVAL, "vmk_inject_config(%s): %d, want -EINVAL", bad[i].what, r);
    }
    EXPECT(vmk_inject_config(NULL, VMK_INJECT_SWAP_READ, NULL, &old) == -EINVAL &&
               vmk_inject_config(sys, 99, NULL, &old) == -EINVAL,
           "vmk_inject_config(get) with a NULL system or an unknown kind");
    EXPECT(vmk_inject_config(sys, VMK_INJECT_SWAP_READ, NULL, NULL) == 0, "set and old both NULL");
    vmk_inject off = { .after = 0 };
    CHECK(vmk_inject_config(sys, VMK_INJECT_SWAP_READ, &off, &now) == 0, "disarm");
    EXPECT(now.after == 5 && now.count == 3 && now.every == 2 && now.hits == 0,
           "refused calls changed the armed plan: after %lld count %lld every %lld hits %llu",
           (long long)now.after, (long long)now.count, (long long)now.every, ULL(now.hits));
}

static void info_errors(void)
{
    struct vmk_page_info pi;
    vmk_stats st;
    EXPECT(vmk_page_info(NULL, m, &pi) == -EINVAL, "page_info(NULL space)");
    EXPECT(vmk_page_info(as, m, NULL) == -EINVAL, "page_info(NULL out)");
    int r = vmk_page_info(as, NULL, &pi);
    EXPECT(r == -EFAULT || r == -EINVAL, "page_info(NULL address): %d", r);
    EXPECT(vmk_page_info(as, m + NP * TPAGE, &pi) == -EFAULT, "page_info just past the mapping");
    EXPECT(vmk_page_info(as, m - 1, &pi) == -EFAULT, "page_info of the byte before the mapping");
    EXPECT(vmk_page_info(as, hole + 100, &pi) == -EFAULT, "page_info in an unmapped hole");
    EXPECT(vmk_page_info(as, m2, &pi) == -EFAULT, "page_info of another space's page");
    EXPECT(vmk_page_info(as, &pi, &pi) == -EFAULT, "page_info of a stack address");
    EXPECT(vmk_page_info(as, m + 5 * TPAGE + 77, &pi) == 0, "page_info of an unaligned mapped address");
    EXPECT(vmk_stats_get(NULL, &st) == -EINVAL && vmk_stats_get(sys, NULL) == -EINVAL, "stats_get(NULL)");
    EXPECT(vmk_space_stats(NULL, &st) == -EINVAL && vmk_space_stats(as, NULL) == -EINVAL,
          "space_stats(NULL)");
    EXPECT(vmk_space_set_priority(NULL, 1) == -EINVAL, "set_priority(NULL)");
    EXPECT(vmk_inject_fault(NULL, VMK_INJECT_SWAP_WRITE, 1) == -EINVAL, "inject_fault(NULL)");
    EXPECT(vmk_inject_fault(sys, 0, 1) == -EINVAL &&
              vmk_inject_fault(sys, VMK_INJECT_KIND_MAX + 1, 1) == -EINVAL &&
              vmk_inject_fault(sys, 99, 1) == -EINVAL && vmk_inject_fault(sys, -1, 1) == -EINVAL,
          "inject_fault with an unknown kind");
    EXPECT(vmk_inject_fault(sys, VMK_INJECT_SWAP_WRITE, -1) == -EINVAL, "inject_fault after -1");
    EXPECT(vmk_trace_start(NULL, "/tmp/x") == -EINVAL && vmk_trace_start(sys, NULL) == -EINVAL,
          "trace_start(NULL)");
    EXPECT(vmk_trace_start(sys, "/nonexistent/dir/trace") == -ENOENT, "trace_start in a missing directory");
    EXPECT(vmk_trace_stop(NULL) == -EINVAL, "trace_stop(NULL)");
    EXPECT(vmk_trace_start(sys, "") == -EINVAL, "trace_start(\"\")");
    EXPECT(vmk_trace_start(sys, "/tmp") == -EISDIR, "trace_start(a directory): want -EISDIR");
    EXPECT(vmk_trace_stop(sys) == -EINVAL, "trace_stop while not tracing");
    char tpath[] = "/tmp/vmk_bad_trace_XXXXXX";
    int tfd = mkstemp(tpath);
    CHECK(tfd >= 0, "mkstemp");
    close(tfd);
    EXPECT(vmk_trace_start(sys, tpath) == 0, "trace_start");
    EXPECT(vmk_trace_start(sys, tpath) == -EBUSY, "second trace_start: want -EBUSY");
    EXPECT(vmk_trace_stop(sys) == 0, "trace_stop");
    unlink(tpath);
    EXPECT(vmk_strerror(-EINVAL) && *vmk_strerror(-EINVAL) && vmk_strerror(ENOENT) && *vmk_strerror(ENOENT),
          "vmk_strerror");
    EXPECT(vmk_strerror(-99999) && *vmk_strerror(-99999) && vmk_strerror(INT_MIN + 1) &&
               *vmk_strerror(INT_MIN + 1),
           "vmk_strerror of an unknown number");
    vmk_stats_print(NULL, stdout);                 /* no-ops */
    vmk_stats_print(&st, NULL);
    inject_config_errors();
}

/* Fork, translate and reset, on a system of their own: a fork changes the
 * sharing of the parent's pages, which intact() would see. */
static void fork_errors(void)
{
    vmk_system *fs = open_system(LIMIT, NULL);
    vmk_space *a = new_space(fs), *b = new_space(fs), *x = (vmk_space *)0x1;
    unsigned char *p = vmk_map_anon(a, 4 * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(p, "map");
    fill_page(p, 4, 0);
    EXPECT(vmk_space_fork(NULL, &x) == -EINVAL && x == (vmk_space *)0x1, "fork(NULL parent)");
    EXPECT(vmk_space_fork(a, NULL) == -EINVAL, "fork(NULL child)");
    EXPECT(vmk_space_reset(NULL) == -EINVAL, "reset(NULL)");
    int r = vmk_space_reset(b);
    EXPECT(r == -EINVAL, "reset of a space not made by fork: %d (%s), want -EINVAL", r, vmk_strerror(r));
    char local;
    struct { const char *what; vmk_space *to, *from; const void *addr; int err; } tr[] = {
        { "NULL to", NULL, a, p, EINVAL },
        { "NULL from", a, NULL, p, EINVAL },
        { "spaces of two systems", as, a, p, EINVAL },
        { "a space with no fork relation", b, a, p, EFAULT },
        { "NULL address", a, a, NULL, EFAULT },
        { "a stack address", a, a, &local, EFAULT },
        { "an address of another space", a, b, p, EFAULT },
    };
    for (size_t i = 0; i < sizeof tr / sizeof tr[0]; i++) {
        errno = 0;
        void *q = vmk_space_translate(tr[i].to, tr[i].from, tr[i].addr);
        EXPECT(q == NULL && errno == tr[i].err, "vmk_space_translate(%s): %p errno %d, want NULL %s",
               tr[i].what, q, errno, strerror(tr[i].err));
    }
    EXPECT(vmk_space_translate(a, a, p + 100) == p + 100, "translate to itself");
    vmk_space *chain[VMK_FORK_DEPTH_MAX + 2] = { a };
    int depth = 0;
    for (r = 0; r == 0 && depth <= VMK_FORK_DEPTH_MAX; depth += r == 0)
        r = vmk_space_fork(chain[depth], &chain[depth + 1]);
    EXPECT(r == -EMLINK && depth == VMK_FORK_DEPTH_MAX,
           "fork chain: %d forks, then %d (%s); want %d, then -EMLINK", depth, r, vmk_strerror(r),
           VMK_FORK_DEPTH_MAX);
    unsigned char *deep = vmk_space_translate(chain[depth], a, p);
    EXPECT(deep && verify_page(deep, 4, 0, "the deepest fork") == 0 &&
               verify_page(p, 4, 0, "the parent after -EMLINK") == 0,
           "data wrong after a refused fork");
    vmk_system_close(fs);
}

int main(void)
{
    vmk_config c = vmk_config_default();
    c.memory_limit = LIMIT;
    c.kswapd = 0;                               /* no background change to the counters */
    int r = vmk_system_open(&sys, &c);
    CHECK(r == 0, "open: %s", vmk_strerror(r));
    as = new_space(sys);
    as2 = new_space(sys);
    m = vmk_map_anon(as, NP * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    m2 = vmk_map_anon(as2, 4 * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    a1 = vmk_map_anon(as, 9 * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(m && m2 && a1, "maps");
    for (size_t p = 0; p < 4; p++) {
        fill_page(m2 + p * TPAGE, 2, p);
        fill_page(a1 + p * TPAGE, 3, p);
        fill_page(a1 + (p + 5) * TPAGE, 3, p + 4);
    }
    hole = a1 + 4 * TPAGE;
    a2 = a1 + 5 * TPAGE;
    CHECK(vmk_unmap(as, hole, TPAGE) == 0, "unmap the hole");
    CHECK(vmk_protect(as, a1, 4 * TPAGE, VMK_PROT_READ) == 0 &&
              vmk_protect(as, a2, 4 * TPAGE, VMK_PROT_READ) == 0,
          "protect around the hole");
    for (size_t p = 0; p < NP; p++)
        fill_page(m + p * TPAGE, 1, p);
    intact_data("the set-up");
    for (size_t p = 0; p < NP; p++)
        info0[p] = get_info(as, m + p * TPAGE);
    size_t out = 0;
    for (size_t p = 0; p < NP; p++)
        out += info0[p].state == VMK_PAGE_SWAPPED;
    CHECK(out > 0, "no page of the test mapping is in swap: the set-up is too small");
    st0 = get_stats(sys);

    open_errors();
    intact("bad vmk_system_open / vmk_space_create calls");
    map_errors();
    st0 = get_stats(sys);                       /* the file mapping faulted */
    intact("bad map calls");
    range_errors();
    info_errors();
    intact("bad page_info / stats / inject / trace calls");
    fork_errors();
    intact("bad fork / translate / reset calls (on another system)");
    intact_data("all the bad calls");
    EXPECT_DONE();
    /* The good calls still work on the same objects. */
    CHECK(vmk_protect(as, m, NP * TPAGE, VMK_PROT_READ) == 0, "protect after the bad calls");
    CHECK(vmk_unmap(as, m, NP * TPAGE) == 0 && vmk_unmap(as2, m2, 4 * TPAGE) == 0, "unmap after");
    vmk_system_close(sys);
    printf("ok: every bad input refused with its errno; nothing changed (%zu of %d pages were in "
           "swap)\n", out, NP);
    return 0;
}
