/*
 * test_security_swap: what a swap device must not give away.
 *  1. The swap file vmkit makes (swap_path a directory, or no swap_path and
 *     $TMPDIR) is a regular file of ours, mode 0600 even under umask 0, with
 *     no name: its directory stays empty while a child pages 16 MiB through
 *     it, and after the child is killed with SIGKILL mid-run.  A swap_path
 *     naming a new file gets it created 0600 (that name stays: the caller
 *     chose it).  Checked from the parent through /proc/<child>/fd.
 *  2. Freed slots are not readable through a new mapping: space A writes a
 *     secret into pages that go to swap and unmaps them; space B maps new
 *     memory on the same small device, reads it (zeros), writes one word per
 *     page, and reads every word back through two more eviction passes:
 *     zero except its own word, while its pages sit in slots that held A's
 *     secret (checked: the test fails if no slot was reused).
 */
#include <vmkit.h>
#include "check.h"
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

/* ---- 1. the swap file ---- */

static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    CHECK(d, "opendir %s", dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

struct variant { const char *name; const char *swap_path; const char *tmpdir; int named; };

static const struct variant *cur;
static int ready_fd;

static int pager(void *arg)
{
    (void)arg;
    umask(0);
    if (cur->tmpdir)
        setenv("TMPDIR", cur->tmpdir, 1);
    vmk_config c = vmk_config_default();
    c.memory_limit = 1 << 20;
    c.swap_path = cur->swap_path;
    vmk_system *s;
    int r = vmk_system_open(&s, &c);
    CHECK(r == 0, "open with %s: %s", cur->name, vmk_strerror(r));
    vmk_space *as = new_space(s);
    size_t np = 4096;
    unsigned char *m = vmk_map_anon(as, np * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(m, "map");
    for (uint64_t round = 0;; round++) {        /* until SIGKILL */
        for (size_t p = 0; p < np; p++)
            fill_page(m + p * TPAGE, round, p);
        if (round == 0)
            CHECK(write(ready_fd, "r", 1) == 1, "ready");
    }
    return 0;
}

/* The descriptors of pid that point into dir: each a regular file of ours,
 * mode 0600, unlinked unless named.  Returns how many. */
static int check_fds(pid_t pid, const char *dir, int named)
{
    char fddir[64], path[PATH_MAX + 64], target[PATH_MAX];
    snprintf(fddir, sizeof fddir, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(fddir);
    CHECK(d, "opendir %s", fddir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        snprintf(path, sizeof path, "%s/%s", fddir, e->d_name);
        ssize_t k = readlink(path, target, sizeof target - 1);
        if (k <= 0)
            continue;
        target[k] = '\0';
        if (strncmp(target, dir, strlen(dir)) != 0 || target[strlen(dir)] != '/')
            continue;
        struct stat st;
        CHECK(stat(path, &st) == 0, "stat %s", path);
        CHECK(S_ISREG(st.st_mode) && st.st_uid == geteuid(), "%s: not a regular file of ours", target);
        CHECK((st.st_mode & 07777) == 0600, "swap file %s has mode %04o, want 0600 (umask 0)",
              target, st.st_mode & 07777);
        CHECK(named ? st.st_nlink == 1 : st.st_nlink == 0, "swap file %s has %lu links", target,
              (unsigned long)st.st_nlink);
        CHECK(st.st_size > 0, "swap file %s is empty", target);
        n++;
    }
    closedir(d);
    return n;
}

static void swap_file_case(const struct variant *v, const char *dir)
{
    int pfd[2];
    CHECK(pipe(pfd) == 0, "pipe");
    cur = v, ready_fd = pfd[1];
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        close(pfd[0]);
        _exit(pager(NULL));
    }
    close(pfd[1]);
    char c;
    CHECK(read(pfd[0], &c, 1) == 1, "%s: the child died before paging (see its message)", v->name);
    close(pfd[0]);
    int fds = check_fds(pid, dir, v->named);
    CHECK(fds >= 1, "%s: no descriptor of the child points into %s", v->name, dir);
    int during = dir_entries(dir), names;
    CHECK(during == v->named, "%s: %d names in %s while paging, want %d", v->name, during, dir,
          v->named);
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "%s: child %s", v->name, status_str(st));
    names = dir_entries(dir);
    CHECK(names == v->named, "%s: %d names left in %s after SIGKILL", v->name, names, dir);
    printf("1. %s: %d descriptor(s) of a 0600 %s file; %d name(s) in the directory, %d after "
           "SIGKILL\n", v->name, fds, v->named ? "named" : "unlinked", during, names);
}

static void swap_file(void)
{
    char dir[] = "/tmp/vmk_sec_XXXXXX";
    CHECK(mkdtemp(dir), "mkdtemp");
    char named[sizeof dir + 16];
    snprintf(named, sizeof named, "%s/swapfile", dir);
    const struct variant v[] = {
        { "swap_path = a directory", dir, NULL, 0 },
        { "no swap_path, TMPDIR", NULL, dir, 0 },
        { "swap_path = a new file", named, NULL, 1 },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        swap_file_case(&v[i], dir);
    CHECK(unlink(named) == 0 && rmdir(dir) == 0, "cleaning %s: %s", dir, strerror(errno));
}

/* ---- 2. freed slots ---- */

#define SECRET 0x5345435245542121ull         /* "SECRET!!" */
#define NA 768
#define NB 1024

static vmk_system *small_system(void)
{
    vmk_config c = vmk_config_default();
    c.memory_limit = 1 << 20;                 /* 256 frames */
    c.swap_size = 4 << 20;                    /* 1024 slots: B must reuse A's */
    vmk_system *s;
    int r = vmk_system_open(&s, &c);
    CHECK(r == 0, "open: %s", vmk_strerror(r));
    return s;
}

/* A writes the secret everywhere, then unmaps; marks the slots it used. */
static void write_secret(vmk_system *s, unsigned char *used)
{
    vmk_space *a = new_space(s);
    uint64_t *m = vmk_map_anon(a, NA * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(m, "map a");
    for (size_t w = 0; w < NA * TWORDS; w++)
        m[w] = SECRET ^ w;
    size_t out = 0;
    for (size_t p = 0; p < NA; p++) {
        struct vmk_page_info pi = get_info(a, (char *)m + p * TPAGE);
        if (pi.state == VMK_PAGE_SWAPPED) {
            used[pi.swap_slot] = 1;
            out++;
        }
    }
    CHECK(out >= NA / 2, "only %zu secret pages went to swap", out);
    CHECK(vmk_unmap(a, m, NA * TPAGE) == 0, "unmap a");
    CHECK(get_stats(s).swap_used == 0, "slots still in use after unmap: %llu",
          ULL(get_stats(s).swap_used));
    vmk_space_destroy(a);
}

static uint64_t want_word(size_t p, size_t w, int written)
{
    return written && w == p % TWORDS ? 0xB000000000000000ull | p : 0;
}

static size_t check_b(const volatile uint64_t *m, int written, const char *pass)
{
    size_t bad = 0;
    for (size_t p = 0; p < NB; p++)
        for (size_t w = 0; w < TWORDS; w++) {
            uint64_t got = m[p * TWORDS + w], want = want_word(p, w, written);
            if (got != want && bad++ == 0)
                fprintf(stderr, "%s: page %zu word %zu: %#llx, want %#llx%s\n", pass, p, w, ULL(got),
                        ULL(want), (got ^ (p * TWORDS + w)) == SECRET ? " (A's SECRET)" : "");
        }
    return bad;
}

static void freed_slots(void)
{
    vmk_system *s = small_system();
    unsigned char *used = calloc(1024, 1);
    CHECK(used, "calloc");
    write_secret(s, used);
    vmk_space *b = new_space(s);
    uint64_t *m = vmk_map_anon(b, NB * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(m, "map b");
    CHECK(check_b(m, 0, "read of fresh pages") == 0, "a fresh mapping read non-zero bytes");
    CHECK(check_b(m, 0, "read again after eviction") == 0, "zeros changed through eviction");
    for (size_t p = 0; p < NB; p++)
        m[p * TWORDS + p % TWORDS] = want_word(p, p % TWORDS, 1);
    size_t reused = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t p = 0; p < NB; p++) {
            struct vmk_page_info pi = get_info(b, (char *)m + p * TPAGE);
            reused += pi.swap_slot >= 0 && used[pi.swap_slot];
        }
        CHECK(check_b(m, 1, pass ? "second pass" : "first pass") == 0,
              "pages written once read wrong bytes after eviction");
    }
    CHECK(reused > 0, "B never used a slot that held A's secret: the test proves nothing");
    printf("2. %zu times a page of B sat in a slot that held A's secret; B read only zeros and "
           "its own words\n", reused);
    free(used);
    vmk_system_close(s);
}

int main(void)
{
    swap_file();               /* first: its children must not inherit a system */
    freed_slots();
    printf("ok: swap files 0600 and nameless (also after SIGKILL); freed slots unreadable\n");
    return 0;
}
