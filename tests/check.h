/*
 * check.h - the little that every test program shares.
 *
 *   FAIL(fmt, ...)          print "FAIL file:line: message" and exit(1)
 *   CHECK(cond, fmt, ...)   FAIL unless cond
 *   cli_proc_kb(path, key)  a field of a /proc file in kB (tools/cli.h);
 *                           proc_status_kb(key),
 *                           vmrss_kb(), pss_kb()
 *   splitmix64 / xorshift64 a fast PRNG (per-thread state, no locks)
 *   pattern(space, page, w) the word a test writes at word w of page `page`
 *                           of space `space`: checkable, never 0, and
 *                           different across spaces, pages and words
 *   child_run(fn, arg)      fork; run fn(arg) in the child (its return value
 *                           is the exit status); return the wait status
 *   status_str(st)          "exit 3" / "signal 11 (Segmentation fault)"
 *   sigbus_catch(), verify_guarded()  reads that may get SIGBUS on purpose
 *   count_maps()            lines of /proc/self/maps (kernel mappings)
 *   count_maps_of(s)        those that contain s ("vmkit-frames": windows)
 *   test_scale()            VMK_TEST_SCALE (default 1) for bigger runs
 *   now_s()                 monotonic seconds
 */
#ifndef VMK_TEST_CHECK_H
#define VMK_TEST_CHECK_H

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../tools/cli.h"

#define FAIL(...) do { fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
                       fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); exit(1); } while (0)
#define CHECK(cond, ...) do { if (!(cond)) FAIL(__VA_ARGS__); } while (0)
/* EXPECT: like CHECK but goes on; the test ends with EXPECT_DONE(), which
 * fails if any EXPECT failed (so one run lists every wrong case). */
static int expect_failures __attribute__((unused));
#define EXPECT(cond, ...) do { if (!(cond)) { fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
                       fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); expect_failures++; } } while (0)
#define EXPECT_DONE() do { if (expect_failures) FAIL("%d expectation(s) failed", expect_failures); } while (0)

/* Sanitizer builds (gcc defines __SANITIZE_*; clang has __has_feature). */
#if defined(__SANITIZE_THREAD__)
#define VMK_TEST_TSAN 1
#endif
#if defined(__SANITIZE_ADDRESS__)
#define VMK_TEST_ASAN 1
#endif
#if defined(__has_feature)
#if __has_feature(thread_sanitizer) && !defined(VMK_TEST_TSAN)
#define VMK_TEST_TSAN 1
#endif
#if __has_feature(address_sanitizer) && !defined(VMK_TEST_ASAN)
#define VMK_TEST_ASAN 1
#endif
#endif

#define TPAGE ((size_t)4096)
#define TWORDS (TPAGE / sizeof(uint64_t))

static inline long proc_status_kb(const char *key) { return cli_proc_kb("/proc/self/status", key); }
static inline long vmrss_kb(void) { return proc_status_kb("VmRSS:"); }
/* Proportional set size: a page mapped at two addresses counts once,
 * where VmRSS counts each mapping. */
static inline long pss_kb(void) { return cli_proc_kb("/proc/self/smaps_rollup", "Pss:"); }

static inline uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* xorshift64*: state must not be 0 (seed it through splitmix64). */
static inline uint64_t xorshift64(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static inline uint64_t pattern(uint64_t space, uint64_t page, uint64_t word)
{
    uint64_t s = (space << 52) ^ (page << 9) ^ word;
    uint64_t v = splitmix64(&s);
    return v ? v : 1;
}

/* Fill / verify a whole page with pattern(space, page, *).  verify returns
 * the number of wrong words and reports the first one. */
static inline void fill_page(void *p, uint64_t space, uint64_t page)
{
    uint64_t *w = (uint64_t *)p;
    for (size_t i = 0; i < TWORDS; i++)
        w[i] = pattern(space, page, i);
}

static inline size_t verify_page(const void *p, uint64_t space, uint64_t page, const char *what)
{
    const volatile uint64_t *w = (const volatile uint64_t *)p;
    size_t bad = 0;
    for (size_t i = 0; i < TWORDS; i++) {
        uint64_t got = w[i], want = pattern(space, page, i);
        if (got != want && bad++ == 0)
            fprintf(stderr, "%s: space %llu page %llu word %zu: %#llx, want %#llx\n", what,
                    (unsigned long long)space, (unsigned long long)page, i,
                    (unsigned long long)got, (unsigned long long)want);
    }
    return bad;
}

/* fork(); in the child: no core dumps, then _exit(fn(arg)).  Returns the
 * child's wait status (the parent fails the test if fork fails). */
static inline int child_run(int (*fn)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork failed");
    if (pid == 0) {
        struct rlimit rl = { 0, 0 };
        setrlimit(RLIMIT_CORE, &rl);
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        _exit(fn(arg));
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        ;
    return st;
}

static inline const char *status_str(int st)
{
    static char buf[96];
    if (WIFEXITED(st))
        snprintf(buf, sizeof buf, "exit %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(buf, sizeof buf, "signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    else
        snprintf(buf, sizeof buf, "status %#x", st);
    return buf;
}

/* Reset a signal to its default action (a sanitizer may have installed one). */
static inline void default_signal(int sig)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigaction(sig, &sa, NULL);
}

/*
 * Reads that may get SIGBUS (an I/O error on purpose): sigbus_catch()
 * installs a handler (before vmk_system_open, which chains to it); then
 * verify_guarded() is verify_page() that returns -1 if the read got SIGBUS,
 * else 0 (right) or 1 (wrong bytes).  A SIGBUS outside verify_guarded()
 * gets the default action.
 */
static sigjmp_buf check_jb __attribute__((unused));
static volatile sig_atomic_t check_jump_ok __attribute__((unused));

static void __attribute__((unused)) check_on_sigbus(int sig)
{
    if (check_jump_ok)
        siglongjmp(check_jb, 1);
    default_signal(sig);
    raise(sig);
}

static inline void sigbus_catch(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = check_on_sigbus;
    sigaction(SIGBUS, &sa, NULL);
}

static inline int verify_guarded(const void *pg, uint64_t tag, uint64_t page, const char *what)
{
    if (sigsetjmp(check_jb, 1)) {
        check_jump_ok = 0;
        return -1;
    }
    check_jump_ok = 1;
    size_t bad = verify_page(pg, tag, page, what);
    check_jump_ok = 0;
    return bad ? 1 : 0;
}

static inline unsigned test_scale(void)
{
    const char *s = getenv("VMK_TEST_SCALE");
    long v = s ? atol(s) : 1;
    return v >= 1 && v <= 64 ? (unsigned)v : 1;
}

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Open a system with the given limit (0: leave the default) and policy
 * (NULL: the default), or fail the test. */
#ifdef VMKIT_H
/* Lines of /proc/self/maps that contain what (all if NULL): kernel
 * mappings of the process. */
static inline int count_maps_of(const char *what)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        n += !what || strstr(line, what) != NULL;
    if (f)
        fclose(f);
    return n;
}

static inline int count_maps(void) { return count_maps_of(NULL); }

static inline vmk_system *open_system(size_t limit, const char *policy)
{
    vmk_config c = vmk_config_default();
    if (limit)
        c.memory_limit = limit;
    if (policy)
        c.policy = policy;
    vmk_system *s = NULL;
    int r = vmk_system_open(&s, &c);
    CHECK(r == 0 && s, "vmk_system_open(limit %zu, %s): %s", limit, policy ? policy : "default",
          vmk_strerror(r));
    return s;
}

static inline vmk_space *new_space(vmk_system *s)
{
    vmk_space *as = NULL;
    int r = vmk_space_create(s, &as);
    CHECK(r == 0 && as, "vmk_space_create: %s", vmk_strerror(r));
    return as;
}

static inline vmk_stats get_stats(vmk_system *s)
{
    vmk_stats st;
    int r = vmk_stats_get(s, &st);
    CHECK(r == 0, "vmk_stats_get: %s", vmk_strerror(r));
    return st;
}

static inline vmk_stats get_space_stats(vmk_space *as)
{
    vmk_stats st;
    int r = vmk_space_stats(as, &st);
    CHECK(r == 0, "vmk_space_stats: %s", vmk_strerror(r));
    return st;
}

/* Arm fault injection of kind (see vmk_inject_config), or fail the test. */
static inline void inject_arm(vmk_system *s, int kind, int64_t after, int64_t count, int64_t every,
                              uint32_t arg)
{
    vmk_inject p = { .after = after, .count = count, .every = every, .arg = arg };
    int r = vmk_inject_config(s, kind, &p, NULL);
    CHECK(r == 0, "vmk_inject_config(kind %d): %s", kind, vmk_strerror(r));
}

/* How many requests the plan of kind has hit so far. */
static inline uint64_t inject_hits(vmk_system *s, int kind)
{
    vmk_inject old;
    CHECK(vmk_inject_config(s, kind, NULL, &old) == 0, "vmk_inject_config(get %d)", kind);
    return old.hits;
}

static inline struct vmk_page_info get_info(vmk_space *as, const void *addr)
{
    struct vmk_page_info pi;
    int r = vmk_page_info(as, addr, &pi);
    CHECK(r == 0, "vmk_page_info(%p): %s", addr, vmk_strerror(r));
    return pi;
}
#endif

#define ULL(x) ((unsigned long long)(x))

#endif
