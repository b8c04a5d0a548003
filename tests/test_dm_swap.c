/*
 * test_dm_swap: swap on a real block device with a failing range.
 *
 * As root: a loop device over a 16 MiB file, and over it a device-mapper
 * device whose table maps a range of sectors to the `error` target (the
 * rest `linear` to the loop device).  That device is swap_path.  Without
 * device-mapper in the kernel, the same bad range comes from a loop device
 * over a FUSE file that fails reads and writes of that range (fuse_disk.h):
 * either way the kernel's block layer returns EIO for the range.  Not root,
 * no loop devices, neither dm nor FUSE: the test says why and exits 77
 * (ctest: skipped).  VMK_TEST_DM_BACKEND=dm|fuse forces one.
 *
 * The body runs in a child; the parent changes the device's table when the
 * child asks, and always tears the devices down (atexit, signals).  The
 * child pages 8 MiB over a 1 MiB budget (fault-around 1: one slot per read):
 *  1. with slots [512, 704) failing: every batch written there fails, its
 *     pages stay dirty and are written further on; no page ever holds a
 *     slot of the range; every byte reads back right;
 *  2. then slots [704, 736) (which hold pages now) fail: every read of a
 *     page swapped there is SIGBUS in the faulting thread (caught), and the
 *     page stays in swap; every other page reads right;
 *  3. the range heals: those pages read right too.
 */
#include <vmkit.h>
#include "check.h"
#include "fuse_disk.h"
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <linux/loop.h>
#include <setjmp.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#define SKIP_CODE 77
#define DEV_SIZE ((uint64_t)16 << 20)
#define NSLOTS (DEV_SIZE / TPAGE)
#define SECT_PER_SLOT (TPAGE / 512)
#define WBAD_LO 512u                         /* phase 1: writes fail here */
#define WBAD_HI 704u
#define RBAD_LO 704u                         /* phase 2: reads fail here */
#define RBAD_HI 736u
#define NPAGES 2048u

/* ---- the devices (parent) ---- */

static struct {
    pid_t owner;
    char dir[64], mnt[96], file[128];
    char node[96];                           /* the dm device's node (ours) */
    char swap[96];                           /* swap_path: node, or the loop device */
    char dm_name[64];
    int use_dm, dm_ctl, dm_made, loop_fd;
    pid_t child;                             /* the body, while it runs */
    dev_t loop_dev;
    struct fuse_disk fuse;
} dv = { .dm_ctl = -1, .loop_fd = -1 };

static void skip(const char *fmt, const char *a, const char *b)
{
    printf("SKIP test_dm_swap: ");
    printf(fmt, a, b);
    printf("\n");
    exit(SKIP_CODE);
}

static int dm_call(unsigned long cmd, uint32_t flags, const uint64_t (*t)[2], const char **type,
                   int nt, uint64_t *dev)
{
    uint64_t store[2048];
    memset(store, 0, sizeof store);
    struct dm_ioctl *io = (struct dm_ioctl *)store;
    io->version[0] = DM_VERSION_MAJOR;
    io->data_size = sizeof store;
    io->data_start = sizeof *io;
    io->flags = flags;
    io->target_count = (uint32_t)nt;
    snprintf(io->name, sizeof io->name, "%s", dv.dm_name);
    char *p = (char *)store + sizeof *io;
    for (int i = 0; i < nt; i++) {
        struct dm_target_spec *sp = (struct dm_target_spec *)p;
        sp->sector_start = t[i][0];
        sp->length = t[i][1] - t[i][0];
        snprintf(sp->target_type, sizeof sp->target_type, "%s", type[i]);
        char *par = (char *)(sp + 1);
        if (!strcmp(type[i], "linear"))
            sprintf(par, "%u:%u %llu", major(dv.loop_dev), minor(dv.loop_dev), ULL(t[i][0]));
        size_t sz = (sizeof *sp + strlen(par) + 1 + 7) & ~(size_t)7;
        sp->next = (uint32_t)sz;
        p += sz;
    }
    int r = ioctl(dv.dm_ctl, cmd, io);
    if (dev)
        *dev = io->dev;
    return r < 0 ? -errno : 0;
}

/* Load a table with sectors [lo, hi) on `error` (lo == hi: none) and make it live. */
static int dm_set_error(uint64_t lo, uint64_t hi, int create)
{
    uint64_t end = DEV_SIZE / 512, t[3][2];
    const char *type[3];
    int n = 0;
    if (lo >= hi) {
        t[n][0] = 0, t[n][1] = end, type[n++] = "linear";
    } else {
        if (lo > 0)
            t[n][0] = 0, t[n][1] = lo, type[n++] = "linear";
        t[n][0] = lo, t[n][1] = hi, type[n++] = "error";
        if (hi < end)
            t[n][0] = hi, t[n][1] = end, type[n++] = "linear";
    }
    uint64_t dev = 0;
    int r = 0;
    if (create && (r = dm_call(DM_DEV_CREATE, 0, NULL, NULL, 0, NULL)) == 0)
        dv.dm_made = 1;
    if (r == 0)
        r = dm_call(DM_TABLE_LOAD, 0, (const uint64_t (*)[2])t, type, n, NULL);
    if (r == 0 && !create)
        r = dm_call(DM_DEV_SUSPEND, DM_SUSPEND_FLAG, NULL, NULL, 0, NULL);
    if (r == 0)
        r = dm_call(DM_DEV_SUSPEND, 0, NULL, NULL, 0, &dev);
    if (r == 0 && create && mknod(dv.node, S_IFBLK | 0600, (dev_t)dev) < 0)
        r = -errno;
    return r;
}

/* Slots [lo, hi) fail from now on (lo == hi: none).  0 or -errno. */
static int set_error_slots(uint64_t lo, uint64_t hi)
{
    if (!dv.use_dm) {
        fuse_disk_set_error(&dv.fuse, lo * TPAGE, hi * TPAGE);
        return 0;
    }
    return dm_set_error(lo * SECT_PER_SLOT, hi * SECT_PER_SLOT, 0);
}

static void teardown(void)
{
    if (getpid() != dv.owner)
        return;
    if (dv.child > 0) {                       /* first stop its I/O */
        kill(dv.child, SIGKILL);
        waitpid(dv.child, NULL, 0);
        dv.child = 0;
    }
    for (int i = 0; dv.dm_made && i < 50; i++) {
        if (dm_call(DM_DEV_REMOVE, 0, NULL, NULL, 0, NULL) == 0)
            dv.dm_made = 0;
        else
            usleep(100000);                       /* a udev probe may hold it open */
    }
    if (dv.dm_made)
        fprintf(stderr, "test_dm_swap: could not remove dm device %s\n", dv.dm_name);
    if (dv.loop_fd >= 0) {
        ioctl(dv.loop_fd, LOOP_CLR_FD, 0);
        close(dv.loop_fd);
        dv.loop_fd = -1;
    }
    fuse_disk_stop(&dv.fuse);
    if (dv.node[0])
        unlink(dv.node);
    if (dv.file[0] && dv.use_dm)
        unlink(dv.file);
    if (dv.mnt[0])
        rmdir(dv.mnt);
    if (dv.dir[0])
        rmdir(dv.dir);
    dv.owner = 0;
}

static void on_signal(int sig)
{
    teardown();
    default_signal(sig);
    raise(sig);
}

/* A free loop device over file; sets dv.loop_fd, dv.loop_dev and the swap
 * path (the loop device itself when dm is not used). */
static int loop_attach(const char *file, char *why, size_t whylen)
{
    int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
    int ffd = open(file, O_RDWR | O_CLOEXEC);
    int r = -1;
    for (int tries = 0; ctl >= 0 && ffd >= 0 && tries < 20 && r < 0; tries++) {
        int n = ioctl(ctl, LOOP_CTL_GET_FREE);
        if (n < 0)
            break;
        char path[64];
        snprintf(path, sizeof path, "/dev/loop%d", n);
        dv.loop_fd = open(path, O_RDWR | O_CLOEXEC);
        if (dv.loop_fd < 0)
            break;
        struct loop_config lc;
        memset(&lc, 0, sizeof lc);
        lc.fd = (uint32_t)ffd;
        lc.info.lo_flags = LO_FLAGS_AUTOCLEAR;
        r = ioctl(dv.loop_fd, LOOP_CONFIGURE, &lc);
        if (r < 0) {
            close(dv.loop_fd);
            dv.loop_fd = -1;
            if (errno != EBUSY)
                break;
        } else {
            struct stat st;
            fstat(dv.loop_fd, &st);
            dv.loop_dev = st.st_rdev;
            if (!dv.use_dm)
                snprintf(dv.swap, sizeof dv.swap, "%s", path);
        }
    }
    if (r < 0)
        snprintf(why, whylen, "loop device over %s: %s", file, strerror(errno));
    if (ctl >= 0)
        close(ctl);
    if (ffd >= 0)
        close(ffd);
    return r;
}

/* /dev/mapper/control, or a node of our own if the driver is there but the
 * node is not (no udev).  -1 if the kernel has no device-mapper. */
static int dm_open_control(char *why, size_t whylen)
{
    int fd = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        FILE *f = fopen("/proc/misc", "r");
        char line[128], node[128];
        int minor_ = -1, m;
        while (f && fgets(line, sizeof line, f))
            if (sscanf(line, "%d device-mapper", &m) == 1 && strstr(line, "device-mapper"))
                minor_ = m;
        if (f)
            fclose(f);
        snprintf(node, sizeof node, "%s/control", dv.dir);
        if (minor_ >= 0 && mknod(node, S_IFCHR | 0600, makedev(10, minor_)) == 0) {
            fd = open(node, O_RDWR | O_CLOEXEC);
            unlink(node);
        }
    }
    uint64_t store[64];
    memset(store, 0, sizeof store);
    struct dm_ioctl *io = (struct dm_ioctl *)store;
    io->version[0] = DM_VERSION_MAJOR;
    io->data_size = sizeof store;
    io->data_start = sizeof *io;
    if (fd < 0 || ioctl(fd, DM_VERSION, io) < 0) {
        snprintf(why, whylen, "device-mapper: %s", fd < 0 ? "no /dev/mapper/control and none in "
                 "/proc/misc (the kernel has no dm driver)" : strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static void setup_dm(void)
{
    char why[256];
    snprintf(dv.file, sizeof dv.file, "%s/disk", dv.dir);
    int fd = open(dv.file, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    CHECK(fd >= 0 && ftruncate(fd, (off_t)DEV_SIZE) == 0, "backing file: %s", strerror(errno));
    close(fd);
    if (loop_attach(dv.file, why, sizeof why) < 0)
        skip("%s%s", why, "");
    snprintf(dv.dm_name, sizeof dv.dm_name, "vmk-test-dm-swap-%d", (int)getpid());
    /* The node goes in /dev (devtmpfs): /tmp may be mounted nodev. */
    snprintf(dv.node, sizeof dv.node, "/dev/%s", dv.dm_name);
    snprintf(dv.swap, sizeof dv.swap, "%s", dv.node);
    int r = dm_set_error(0, 0, 1);
    CHECK(r == 0, "creating dm device %s: %s", dv.dm_name, strerror(-r));
    printf("swap device: dm device %s (error target on demand) over %s's loop device\n",
           dv.dm_name, dv.file);
}

static void setup_fuse(const char *dm_why)
{
    char why[256];
    snprintf(dv.mnt, sizeof dv.mnt, "%s/mnt", dv.dir);
    CHECK(mkdir(dv.mnt, 0700) == 0, "mkdir %s", dv.mnt);
    if (fuse_disk_start(&dv.fuse, dv.mnt, DEV_SIZE, why, sizeof why) < 0)
        skip("%s; and no FUSE either: %s", dm_why, why);
    snprintf(dv.file, sizeof dv.file, "%s/disk", dv.mnt);
    if (loop_attach(dv.file, why, sizeof why) < 0)
        skip("%s%s", why, "");
    printf("swap device: %s, a loop device over a FUSE file that fails a range (%s)\n", dv.swap,
           dm_why);
}

static void setup(void)
{
    if (geteuid() != 0)
        skip("not root (loop and device-mapper devices need root)%s%s", "", "");
    if (access("/dev/loop-control", R_OK | W_OK) != 0)
        skip("no loop devices: /dev/loop-control: %s%s", strerror(errno), "");
    dv.owner = getpid();
    atexit(teardown);
    int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        signal(sigs[i], on_signal);
    snprintf(dv.dir, sizeof dv.dir, "/tmp/vmk_dm_swap_XXXXXX");
    CHECK(mkdtemp(dv.dir), "mkdtemp: %s", strerror(errno));
    const char *force = getenv("VMK_TEST_DM_BACKEND");
    char why[256] = "forced by VMK_TEST_DM_BACKEND=fuse";
    if (!force || strcmp(force, "fuse") != 0)
        dv.dm_ctl = dm_open_control(why, sizeof why);
    dv.use_dm = dv.dm_ctl >= 0;
    if (force && !strcmp(force, "dm") && !dv.use_dm)
        skip("%s%s", why, "");
    if (dv.use_dm)
        setup_dm();
    else
        setup_fuse(why);
}

/* ---- the child: pages through the device ---- */

static int cmd_fd, ack_fd;                  /* pipes to and from the parent */

static void ask_error(uint64_t lo, uint64_t hi)
{
    char line[64];
    int n = snprintf(line, sizeof line, "%llu %llu\n", ULL(lo), ULL(hi));
    CHECK(write(cmd_fd, line, (size_t)n) == n, "write to parent");
    int r = 0;
    CHECK(read(ack_fd, &r, sizeof r) == (ssize_t)sizeof r, "read from parent");
    CHECK(r == 0, "the parent could not set the error range: %s", strerror(-r));
}

/* 0 right, 1 wrong bytes, -1 SIGBUS while reading. */
static int read_guarded(const unsigned char *pg, uint64_t page)
{
    return verify_guarded(pg, 9, page, "swap on a failing device");
}

static int in_range(const struct vmk_page_info *pi, uint64_t lo, uint64_t hi)
{
    return pi->swap_slot >= (int64_t)lo && pi->swap_slot < (int64_t)hi;
}

static void phase_write_errors(vmk_system *s, vmk_space *as, unsigned char *m)
{
    ask_error(WBAD_LO, WBAD_HI);
    for (size_t p = 0; p < NPAGES; p++)
        fill_page(m + p * TPAGE, 9, p);
    for (size_t p = 0; p < NPAGES; p++) {
        struct vmk_page_info pi = get_info(as, m + p * TPAGE);
        CHECK(!in_range(&pi, WBAD_LO, WBAD_HI), "page %zu holds slot %lld, whose write failed", p,
              (long long)pi.swap_slot);
        CHECK(read_guarded(m + p * TPAGE, p) == 0, "page %zu wrong or SIGBUS after write errors", p);
    }
    vmk_stats st = get_stats(s);
    CHECK(st.io_errors > 0, "no swap write hit the failing range: the test proves nothing");
    CHECK(st.sigbus == 0, "%llu SIGBUS from write errors", ULL(st.sigbus));
    printf("1. writes into slots [%u, %u) failed %llu times; the pages stayed dirty, went "
           "elsewhere, and all %u read back right\n", WBAD_LO, WBAD_HI, ULL(st.io_errors), NPAGES);
}

static size_t phase_read_errors(vmk_system *s, vmk_space *as, unsigned char *m)
{
    ask_error(RBAD_LO, RBAD_HI);
    size_t sigbus = 0, good = 0;
    for (size_t p = 0; p < NPAGES; p++) {
        struct vmk_page_info pi = get_info(as, m + p * TPAGE);
        int bad = pi.state == VMK_PAGE_SWAPPED && in_range(&pi, RBAD_LO, RBAD_HI);
        int r = read_guarded(m + p * TPAGE, p);
        if (bad) {
            CHECK(r == -1, "page %zu in a failing slot read %s", p, r ? "wrong data" : "fine");
            struct vmk_page_info after = get_info(as, m + p * TPAGE);
            CHECK(after.state == VMK_PAGE_SWAPPED && after.swap_slot == pi.swap_slot,
                  "page %zu left its slot after a failed read", p);
            sigbus++;
        } else {
            CHECK(r == 0, "page %zu (slot %lld) %s", p, (long long)pi.swap_slot,
                  r < 0 ? "gave SIGBUS outside the failing range" : "read wrong data");
            good++;
        }
    }
    CHECK(sigbus >= 16, "only %zu pages were in the failing slots", sigbus);
    CHECK(get_stats(s).sigbus == sigbus, "SIGBUS counted %llu, seen %zu",
          ULL(get_stats(s).sigbus), sigbus);
    printf("2. reads from slots [%u, %u): %zu SIGBUS in the faulting thread, %zu other pages right\n",
           RBAD_LO, RBAD_HI, sigbus, good);
    return sigbus;
}

static int body(void *arg)
{
    (void)arg;
    sigbus_catch();                               /* before vmkit's: it chains */
    vmk_config c = vmk_config_default();
    c.memory_limit = 1 << 20;
    c.swap_path = dv.swap;
    c.swap_size = 0;
    c.fault_around = 1;
    c.kswapd = 0;
    vmk_system *s = NULL;
    int r = vmk_system_open(&s, &c);
    CHECK(r == 0, "vmk_system_open(swap_path %s): %s", dv.swap, vmk_strerror(r));
    CHECK(get_stats(s).swap_total == NSLOTS, "swap_total %llu, want %llu",
          ULL(get_stats(s).swap_total), ULL(NSLOTS));
    vmk_space *as = new_space(s);
    unsigned char *m = vmk_map_anon(as, NPAGES * TPAGE, VMK_PROT_READ | VMK_PROT_WRITE);
    CHECK(m, "vmk_map_anon");
    phase_write_errors(s, as, m);
    size_t nbad = phase_read_errors(s, as, m);
    ask_error(0, 0);
    for (size_t p = 0; p < NPAGES; p++)
        CHECK(read_guarded(m + p * TPAGE, p) == 0, "page %zu wrong after the range healed", p);
    printf("3. the range healed: the %zu pages read back right, like all %u\n", nbad, NPAGES);
    fflush(stdout);
    vmk_system_close(s);
    return 0;
}

/* Serve the child's requests for error ranges until it closes the pipe. */
static void serve_child(int cmd, int ack)
{
    FILE *f = fdopen(cmd, "r");
    unsigned long long lo, hi;
    while (f && fscanf(f, "%llu %llu", &lo, &hi) == 2) {
        int r = set_error_slots(lo, hi);
        if (write(ack, &r, sizeof r) != (ssize_t)sizeof r)
            break;
    }
    if (f)
        fclose(f);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    setup();
    int to_parent[2], to_child[2];
    CHECK(pipe(to_parent) == 0 && pipe(to_child) == 0, "pipe");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        close(to_parent[0]);
        close(to_child[1]);
        cmd_fd = to_parent[1], ack_fd = to_child[0];
        _exit(body(NULL));
    }
    dv.child = pid;
    close(to_parent[1]);
    close(to_child[0]);
    serve_child(to_parent[0], to_child[1]);
    close(to_child[1]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    dv.child = 0;
    teardown();
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child: %s", status_str(st));
    printf("ok: swap on a %s device with failing ranges: write errors kept pages, read errors gave "
           "SIGBUS, no byte wrong\n", dv.use_dm ? "device-mapper" : "loop-over-FUSE");
    return 0;
}
