/*
 * test_errors_bad_input: every bad argument gets its documented error and
 * changes nothing: a mapping written before the bad calls still holds its
 * data after them, and the counters did not move.
 */
#include <vmkit.h>
#include "check.h"
#include <errno.h>
#include <stdint.h>

static vmk_system *sys;
static vmk_space *as;
static char *m;                       /* 8 pages, written */

static void intact(const char *after)
{
    for (int p = 0; p < 8; p++)
        CHECK(m[p * 4096] == (char)(p + 1) && m[p * 4096 + 4095] == (char)(p + 1),
              "page %d changed after %s", p, after);
}

static void open_errors(void)
{
    vmk_config c = vmk_config_default();
    vmk_system *s;
    CHECK(vmk_system_open(NULL, &c) == -EINVAL, "open(NULL out)");
    CHECK(vmk_system_open(&s, NULL) == -EINVAL, "open(NULL cfg)");
    c.memory_limit = VMK_MIN_MEMORY_LIMIT - 4096;
    CHECK(vmk_system_open(&s, &c) == -EINVAL, "limit below the minimum");
    c = vmk_config_default();
    c.policy = "no-such-policy";
    CHECK(vmk_system_open(&s, &c) == -EINVAL, "unknown policy");
    c = vmk_config_default();
    c.fault_around = 0;
    CHECK(vmk_system_open(&s, &c) == -EINVAL, "fault_around 0");
    c.fault_around = 1000;
    CHECK(vmk_system_open(&s, &c) == -EINVAL, "fault_around 1000");
    c = vmk_config_default();
    c.reclaim_batch = 0;
    CHECK(vmk_system_open(&s, &c) == -EINVAL, "reclaim_batch 0");
    c = vmk_config_default();
    c.swap_path = "/nonexistent-dir/swap";
    CHECK(vmk_system_open(&s, &c) == -ENOENT, "swap in a missing directory");
    c.swap_path = "/proc/version";
    int r = vmk_system_open(&s, &c);
    CHECK(r < 0, "swap on /proc/version opened");
    CHECK(vmk_space_create(NULL, &as) == -EINVAL && vmk_space_create(sys, NULL) == -EINVAL,
          "space_create(NULL)");
}

static void map_errors(void)
{
    errno = 0;
    CHECK(!vmk_map_anon(NULL, 4096, VMK_PROT_READ) && errno == EINVAL, "map_anon(NULL)");
    errno = 0;
    CHECK(!vmk_map_anon(as, 0, VMK_PROT_READ) && errno == EINVAL, "map_anon len 0");
    errno = 0;
    CHECK(!vmk_map_anon(as, SIZE_MAX, VMK_PROT_READ) && errno == EINVAL, "map_anon SIZE_MAX");
    errno = 0;
    CHECK(!vmk_map_anon(as, 4096, 0x40) && errno == EINVAL, "map_anon bad prot");
    errno = 0;
    CHECK(!vmk_map_file(as, -1, 0, 4096, VMK_PROT_READ, VMK_MAP_SHARED) && errno == EBADF,
          "map_file bad fd: errno %d", errno);
    errno = 0;
    CHECK(!vmk_map_file(as, 0, 0, 4096, VMK_PROT_READ, 0) && errno == EINVAL, "map_file flags 0");
}

static void range_errors(void)
{
    char other;
    struct { const char *what; void *addr; size_t len; } bad[] = {
        { "NULL address", NULL, 4096 },
        { "unaligned address", m + 1, 4096 },
        { "zero length", m, 0 },
        { "overflowing length", m, SIZE_MAX },
        { "range past the mapping", m, 9 * 4096 },
        { "range before the mapping", m - 4096, 2 * 4096 },
        { "not a vmkit address", (void *)(((uintptr_t)&other + 4095) & ~(uintptr_t)4095), 4096 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(vmk_unmap(as, bad[i].addr, bad[i].len) == -EINVAL, "unmap: %s", bad[i].what);
        CHECK(vmk_protect(as, bad[i].addr, bad[i].len, VMK_PROT_READ) == -EINVAL, "protect: %s",
              bad[i].what);
        CHECK(vmk_sync(as, bad[i].addr, bad[i].len) == -EINVAL, "sync: %s", bad[i].what);
        intact(bad[i].what);
    }
    CHECK(vmk_unmap(NULL, m, 4096) == -EINVAL, "unmap(NULL space)");
    CHECK(vmk_protect(as, m, 4096, 0x40) == -EINVAL, "protect bad prot");
    intact("bad prot");
    vmk_space *other_space;
    vmk_space_create(sys, &other_space);
    CHECK(vmk_unmap(other_space, m, 4096) == -EINVAL, "unmap through another space");
    intact("unmap through another space");
}

static void info_errors(void)
{
    struct vmk_page_info pi;
    vmk_stats st;
    CHECK(vmk_page_info(NULL, m, &pi) == -EINVAL && vmk_page_info(as, m, NULL) == -EINVAL,
          "page_info(NULL)");
    CHECK(vmk_page_info(as, m + 8 * 4096, &pi) == -EFAULT, "page_info past the mapping");
    CHECK(vmk_stats_get(NULL, &st) == -EINVAL && vmk_stats_get(sys, NULL) == -EINVAL, "stats(NULL)");
    CHECK(vmk_space_stats(NULL, &st) == -EINVAL, "space_stats(NULL)");
    CHECK(vmk_inject_fault(sys, 99, 1) == -EINVAL && vmk_inject_fault(NULL, 1, 1) == -EINVAL,
          "inject_fault bad kind");
    CHECK(vmk_trace_start(sys, NULL) == -EINVAL && vmk_trace_stop(sys) == -EINVAL,
          "trace without a path / without a trace");
    CHECK(vmk_strerror(-ENOSPC) && *vmk_strerror(-ENOSPC), "strerror");
}

int main(void)
{
    vmk_config c = vmk_config_default();
    c.memory_limit = 1 << 20;
    int r = vmk_system_open(&sys, &c);
    CHECK(r == 0, "open: %s", vmk_strerror(r));
    vmk_space_create(sys, &as);
    m = vmk_map_anon(as, 8 * 4096, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(m, "map");
    for (int p = 0; p < 8; p++)
        memset(m + p * 4096, p + 1, 4096);
    vmk_stats before, after;
    vmk_stats_get(sys, &before);
    open_errors();
    map_errors();
    range_errors();
    info_errors();
    intact("everything");
    vmk_stats_get(sys, &after);
    CHECK(after.pages_evicted == before.pages_evicted && after.resident == before.resident,
          "bad calls moved the counters");
    vmk_system_close(sys);
    printf("ok: every bad argument refused, nothing changed\n");
    return 0;
}
