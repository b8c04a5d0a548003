/*
 * test_env_config: vmk_config_default() reads the VMK_* environment.
 *   - with no VMK_* variable: the documented defaults (256 MiB, clock, fault
 *     around 64, reclaim batch 64, kswapd and load control on, no swap path,
 *     swap size 0, not verbose, no trace);
 *   - VMK_MEMORY_LIMIT with K/M/G suffixes and plain bytes, VMK_POLICY,
 *     VMK_FAULT_AROUND, VMK_RECLAIM_BATCH, VMK_SWAP_SIZE, VMK_SWAP_PATH,
 *     VMK_KSWAPD, VMK_LOAD_CONTROL, VMK_VERBOSE, VMK_TRACE land in their
 *     fields;
 *   - and they take effect: a system opened from VMK_MEMORY_LIMIT=16M has
 *     4096 frames, VMK_SWAP_SIZE=4M gives 1024 slots, VMK_POLICY=bogus is
 *     refused, VMK_FAULT_AROUND=1 makes a sequential scan fault once per
 *     page while 64 batches it; fields set after vmk_config_default() win
 *     over the environment.
 */
#include <vmkit.h>
#include "check.h"

static const char *vars[] = { "VMK_MEMORY_LIMIT", "VMK_SWAP_PATH", "VMK_SWAP_SIZE", "VMK_POLICY",
                              "VMK_FAULT_AROUND", "VMK_RECLAIM_BATCH", "VMK_VERBOSE", "VMK_KSWAPD",
                              "VMK_TRACE", "VMK_LOAD_CONTROL" };

static void clear_env(void)
{
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
}

static size_t limit_from(const char *v)
{
    clear_env();
    setenv("VMK_MEMORY_LIMIT", v, 1);
    return vmk_config_default().memory_limit;
}

/* Faults taken by a sequential first read of n pages, under the env config. */
static uint64_t scan_faults(size_t n)
{
    vmk_config c = vmk_config_default();
    vmk_system *s;
    int r = vmk_system_open(&s, &c);
    CHECK(r == 0, "open: %s", vmk_strerror(r));
    vmk_space *as = new_space(s);
    unsigned char *m = vmk_map_anon(as, n * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(m, "map");
    for (size_t p = 0; p < n; p++)
        CHECK(((volatile uint64_t *)(m + p * TPAGE))[p % TWORDS] == 0, "page %zu not zero", p);
    uint64_t f = get_stats(s).faults;
    for (size_t p = 0; p < n; p++)
        fill_page(m + p * TPAGE, 9, p);
    for (size_t p = 0; p < n; p++)
        CHECK(verify_page(m + p * TPAGE, 9, p, "env system") == 0, "data wrong");
    vmk_system_close(s);
    return f;
}

int main(void)
{
    clear_env();
    vmk_config d = vmk_config_default();
    CHECK(d.memory_limit == (size_t)256 << 20, "default memory_limit %zu", d.memory_limit);
    CHECK(d.policy == NULL || strcmp(d.policy, "clock") == 0, "default policy %s", d.policy);
    CHECK(d.fault_around == 64 && d.reclaim_batch == 64, "default fault_around %u reclaim_batch %u",
          d.fault_around, d.reclaim_batch);
    CHECK(d.kswapd == 1 && d.load_control == 1 && d.verbose == 0, "default kswapd %d load_control %d "
          "verbose %d", d.kswapd, d.load_control, d.verbose);
    CHECK(d.swap_path == NULL && d.swap_size == 0 && d.trace_path == NULL, "default swap/trace set");
    CHECK(d.on_thrashing == NULL && d.reserved[0] == 0 && d.reserved[3] == 0, "default reserved fields");

    CHECK(limit_from("16M") == (size_t)16 << 20, "VMK_MEMORY_LIMIT=16M: %zu", limit_from("16M"));
    CHECK(limit_from("16m") == (size_t)16 << 20, "VMK_MEMORY_LIMIT=16m: %zu", limit_from("16m"));
    CHECK(limit_from("2048K") == (size_t)2 << 20, "VMK_MEMORY_LIMIT=2048K: %zu", limit_from("2048K"));
    CHECK(limit_from("1G") == (size_t)1 << 30, "VMK_MEMORY_LIMIT=1G: %zu", limit_from("1G"));
    CHECK(limit_from("8388608") == (size_t)8 << 20, "VMK_MEMORY_LIMIT=8388608: %zu", limit_from("8388608"));
    if (sizeof(size_t) == 8)
        CHECK(limit_from("1T") == (size_t)1 << 40, "VMK_MEMORY_LIMIT=1T: %zu", limit_from("1T"));

    clear_env();
    setenv("VMK_MEMORY_LIMIT", "16M", 1);
    setenv("VMK_POLICY", "fifo", 1);
    setenv("VMK_FAULT_AROUND", "8", 1);
    setenv("VMK_RECLAIM_BATCH", "32", 1);
    setenv("VMK_SWAP_SIZE", "4M", 1);
    setenv("VMK_SWAP_PATH", "/tmp", 1);
    setenv("VMK_KSWAPD", "0", 1);
    setenv("VMK_LOAD_CONTROL", "0", 1);
    vmk_config c = vmk_config_default();
    CHECK(c.memory_limit == (size_t)16 << 20, "memory_limit %zu", c.memory_limit);
    CHECK(c.policy && strcmp(c.policy, "fifo") == 0, "policy %s", c.policy ? c.policy : "(null)");
    CHECK(c.fault_around == 8, "fault_around %u", c.fault_around);
    CHECK(c.reclaim_batch == 32, "reclaim_batch %u", c.reclaim_batch);
    CHECK(c.swap_size == (size_t)4 << 20, "swap_size %zu", c.swap_size);
    CHECK(c.swap_path && strcmp(c.swap_path, "/tmp") == 0, "swap_path %s", c.swap_path ? c.swap_path : "(null)");
    CHECK(c.kswapd == 0 && c.load_control == 0, "kswapd %d load_control %d", c.kswapd, c.load_control);

    /* They take effect. */
    vmk_system *s;
    int r = vmk_system_open(&s, &c);
    CHECK(r == 0, "open from the environment: %s", vmk_strerror(r));
    vmk_stats st = get_stats(s);
    CHECK(st.frames_total == 4096, "VMK_MEMORY_LIMIT=16M: %llu frames, want 4096", ULL(st.frames_total));
    CHECK(st.swap_total == 1024, "VMK_SWAP_SIZE=4M: %llu slots, want 1024", ULL(st.swap_total));
    vmk_space *as = new_space(s);
    size_t n = 1024;
    unsigned char *m = vmk_map_anon(as, n * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(m, "map");
    for (size_t p = 0; p < n; p++)
        fill_page(m + p * TPAGE, 3, p);
    for (size_t p = 0; p < n; p++)
        CHECK(verify_page(m + p * TPAGE, 3, p, "env system") == 0, "data wrong");
    vmk_system_close(s);

    /* Explicit fields win over the environment. */
    c = vmk_config_default();
    c.memory_limit = (size_t)2 << 20;
    c.swap_size = 0;
    r = vmk_system_open(&s, &c);
    CHECK(r == 0, "open: %s", vmk_strerror(r));
    CHECK(get_stats(s).frames_total == 512, "an explicit 2 MiB limit gave %llu frames",
          ULL(get_stats(s).frames_total));
    vmk_system_close(s);

    setenv("VMK_POLICY", "bogus", 1);
    c = vmk_config_default();
    r = vmk_system_open(&s, &c);
    CHECK(r == -EINVAL, "VMK_POLICY=bogus: open gave %d, want -EINVAL", r);
    setenv("VMK_POLICY", "clock", 1);
    c = vmk_config_default();
    CHECK(c.policy && strcmp(c.policy, "clock") == 0, "VMK_POLICY=clock: %s", c.policy);
    setenv("VMK_FAULT_AROUND", "1000", 1);
    c = vmk_config_default();
    r = vmk_system_open(&s, &c);
    CHECK(r == -EINVAL, "VMK_FAULT_AROUND=1000: open gave %d, want -EINVAL", r);

    setenv("VMK_VERBOSE", "1", 1);
    char tpath[] = "/tmp/vmk_env_trace_XXXXXX";
    int tfd = mkstemp(tpath);
    CHECK(tfd >= 0, "mkstemp");
    close(tfd);
    setenv("VMK_TRACE", tpath, 1);
    c = vmk_config_default();
    CHECK(c.verbose == 1, "VMK_VERBOSE=1: %d", c.verbose);
    CHECK(c.trace_path && strcmp(c.trace_path, tpath) == 0, "VMK_TRACE: %s", c.trace_path);
    unsetenv("VMK_TRACE");
    unsetenv("VMK_VERBOSE");
    unlink(tpath);

    /* VMK_FAULT_AROUND takes effect. */
    clear_env();
    setenv("VMK_MEMORY_LIMIT", "8M", 1);
    setenv("VMK_FAULT_AROUND", "1", 1);
    uint64_t f1 = scan_faults(512);
    setenv("VMK_FAULT_AROUND", "64", 1);
    uint64_t f64 = scan_faults(512);
    printf("sequential scan of 512 pages: %llu faults with VMK_FAULT_AROUND=1, %llu with 64\n", ULL(f1),
           ULL(f64));
    CHECK(f1 == 512, "VMK_FAULT_AROUND=1: %llu faults for 512 pages", ULL(f1));
    CHECK(f64 < 128, "VMK_FAULT_AROUND=64: %llu faults for 512 pages", ULL(f64));
    clear_env();
    printf("ok: the environment configures vmkit\n");
    return 0;
}
