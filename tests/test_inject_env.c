/*
 * test_inject_env: VMK_INJECT arms fault plans in every system opened.
 *  - a malformed value makes vmk_system_open fail with -EINVAL and leak no
 *    descriptor;
 *  - a valid one arms exactly what it says (read back with
 *    vmk_inject_config), in each system opened while it is set; the plans
 *    hit, and every byte of 16 MiB paged over 2 MiB reads back right.
 */
#include <vmkit.h>
#include "check.h"
#include <dirent.h>

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    CHECK(d, "opendir");
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static int open_with(const char *spec, vmk_system **out)
{
    CHECK(setenv("VMK_INJECT", spec, 1) == 0, "setenv");
    vmk_config c = vmk_config_default();
    c.memory_limit = 2 << 20;
    *out = NULL;
    return vmk_system_open(out, &c);
}

static void malformed(void)
{
    const char *bad[] = {
        "nonsense", "swap-write-eio,after=0", "swap-write-eio,after=-1", "swap-write-eio,bogus=1",
        "swap-write-eio,after", "swap-write-eio,after=1x", "swap-write-eio,arg=5",
        "swap-read-delay,us=2000000", "swap-write-short,count=-5", "swap-write-eio;nope",
        "swap-write-eio,every=-2", ",after=1", "SWAP-WRITE-EIO",
    };
    int fds = count_fds();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vmk_system *s;
        int r = open_with(bad[i], &s);
        CHECK(r == -EINVAL, "VMK_INJECT=\"%s\": open gave %d (%s), want -EINVAL", bad[i], r,
              vmk_strerror(r));
    }
    CHECK(count_fds() == fds, "refused opens leaked descriptors: %d -> %d", fds, count_fds());
}

static vmk_inject plan(vmk_system *s, int kind)
{
    vmk_inject old;
    CHECK(vmk_inject_config(s, kind, NULL, &old) == 0, "vmk_inject_config(get %d)", kind);
    return old;
}

static void check_armed(vmk_system *s)
{
    vmk_inject w = plan(s, VMK_INJECT_SWAP_WRITE_SHORT), r = plan(s, VMK_INJECT_SWAP_READ_SHORT),
               n = plan(s, VMK_INJECT_SWAP_WRITE_NOSPC), d = plan(s, VMK_INJECT_SWAP_READ_DELAY),
               off = plan(s, VMK_INJECT_SWAP_WRITE);
    CHECK(w.after == 1 && w.count == -1 && w.every == 1 && w.arg == 1536, "swap-write-short plan");
    CHECK(r.after == 1 && r.count == -1 && r.arg == 2048, "swap-read-short plan");
    CHECK(n.after == 2 && n.count == 2 && n.every == 5 && n.arg == 0, "swap-write-nospc plan");
    CHECK(d.after == 1 && d.count == -1 && d.arg == 50, "swap-read-delay plan");
    CHECK(off.after == 0, "swap-write-eio armed though not named");
}

static void page_through(vmk_system *s)
{
    vmk_space *as = new_space(s);
    size_t np = 4096;
    unsigned char *m = vmk_map_anon(as, np * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(m, "vmk_map_anon");
    for (size_t p = 0; p < np; p++)
        fill_page(m + p * TPAGE, 7, p);
    size_t bad = 0;
    for (size_t p = 0; p < np; p++)
        bad += verify_page(m + p * TPAGE, 7, p, "under VMK_INJECT");
    CHECK(bad == 0, "%zu words wrong under VMK_INJECT", bad);
}

int main(void)
{
    malformed();
    const char *spec = "swap-write-short,bytes=1536; swap-read-short,bytes=2048;"
                       "swap-write-nospc,after=2,count=2,every=5;swap-read-delay,us=50";
    vmk_system *s[2];
    for (int i = 0; i < 2; i++) {
        int r = open_with(spec, &s[i]);
        CHECK(r == 0, "VMK_INJECT=\"%s\": %s", spec, vmk_strerror(r));
        check_armed(s[i]);
    }
    unsetenv("VMK_INJECT");
    page_through(s[0]);
    uint64_t total = 0;
    int kinds[] = { VMK_INJECT_SWAP_WRITE_SHORT, VMK_INJECT_SWAP_READ_SHORT,
                    VMK_INJECT_SWAP_WRITE_NOSPC, VMK_INJECT_SWAP_READ_DELAY };
    for (int k = 0; k < 4; k++) {
        uint64_t h = plan(s[0], kinds[k]).hits;
        CHECK(h > 0, "kind %d armed by VMK_INJECT never hit", kinds[k]);
        CHECK(plan(s[1], kinds[k]).hits == 0, "an idle system counted hits");
        total += h;
    }
    CHECK(plan(s[0], VMK_INJECT_SWAP_WRITE_NOSPC).hits == 2, "count=2 hit %llu times",
          ULL(plan(s[0], VMK_INJECT_SWAP_WRITE_NOSPC).hits));
    CHECK(get_stats(s[0]).sigbus == 0, "SIGBUS under VMK_INJECT");
    vmk_system_close(s[0]);
    vmk_system_close(s[1]);
    vmk_system *plain;
    CHECK(open_with("", &plain) == 0, "VMK_INJECT empty");
    CHECK(plan(plain, VMK_INJECT_SWAP_WRITE_SHORT).after == 0, "empty VMK_INJECT armed a plan");
    vmk_system_close(plain);
    unsetenv("VMK_INJECT");
    printf("ok: 13 malformed VMK_INJECT values refused; a valid one armed 4 plans in each system "
           "(%llu faults injected), data right\n", ULL(total));
    return 0;
}
