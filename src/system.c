/*
 * system.c - opening and closing a system, and the process-wide registry
 * that the SIGBUS handler searches for the system owning an address.
 */
#include "internal.h"
#include "pagepool.h"
#include "reap.h"
#include "fileasync.h"
#include "statlog.h"
#include <fcntl.h>
#include "mmu.h"
#include "store.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static vmk_rwlock registry_lock;
static struct vmk_system *registry[VMK_MAX_SYSTEMS];   /* registry_lock */

void registry_read_lock(void) { rw_read_lock(&registry_lock); }
void registry_read_unlock(void) { rw_read_unlock(&registry_lock); }

int registry_for_each(int (*fn)(struct vmk_system *, void *), void *arg)
{
    for (int i = 0; i < VMK_MAX_SYSTEMS; i++)
        if (registry[i] && fn(registry[i], arg))
            return 1;
    return 0;
}

/*
 * A child of fork(2) has none of the parent's systems: their windows are
 * MADV_DONTFORK (not mapped in the child), their threads did not follow,
 * their userfaultfd registrations belong to the parent's memory.  If the
 * registry still named them, a system the child opens could be mapped where
 * a parent's window was, and the child's faults would be taken for the
 * parent's system's.  So the child starts with an empty registry (the
 * parent's structures are left alone: they are the parent's copies).
 */
static void registry_forget(void)
{
    for (int i = 0; i < VMK_MAX_SYSTEMS; i++)
        registry[i] = NULL;
    atomic_store_explicit(&registry_lock.v, 0, memory_order_relaxed);
}

static void registry_atfork(void)
{
    pthread_atfork(NULL, NULL, registry_forget);
}

static int registry_add(struct vmk_system *sys)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, registry_atfork);
    rw_write_lock(&registry_lock);
    for (int i = 0; i < VMK_MAX_SYSTEMS; i++) {
        if (!registry[i]) {
            registry[i] = sys;
            rw_write_unlock(&registry_lock);
            return 0;
        }
    }
    rw_write_unlock(&registry_lock);
    return -EMFILE;
}

static void registry_del(struct vmk_system *sys)
{
    rw_write_lock(&registry_lock);
    for (int i = 0; i < VMK_MAX_SYSTEMS; i++)
        if (registry[i] == sys)
            registry[i] = NULL;
    rw_write_unlock(&registry_lock);
}

static int config_check(const vmk_config *c)
{
    if (c->memory_limit < VMK_MIN_MEMORY_LIMIT ||
        c->memory_limit / PAGE_SIZE_ > PTE_MAX_FRAMES)
        return -EINVAL;
    if (c->fault_around < 1 || c->fault_around > FA_MAX)
        return -EINVAL;
    if (c->reclaim_batch < 1 || c->reclaim_batch > 256)
        return -EINVAL;
    if (c->swap_size && c->swap_size < PAGE_SIZE_)
        return -EINVAL;
    if (!policy_find(c->policy))
        return -EINVAL;
    if (c->stats_interval_ms > STATLOG_MAX_INTERVAL_MS)
        return -EINVAL;
    return 0;
}

static void system_free(struct vmk_system *sys)
{
    kswapd_stop(sys);
    if (atomic_load(&sys->trace))
        trace_close(sys);
    if (sys->policy.ops)
        sys->policy.ops->fini(&sys->policy);
    if (sys->rs)
        reclaim_fini(sys);
    pool_fini(sys);
    if (sys->frames.map)
        frames_fini(&sys->frames);
    if (sys->swap.refs)
        swap_close(&sys->swap);
    if (sys->bounce && sys->bounce != MAP_FAILED)
        munmap(sys->bounce, (size_t)BOUNCE_BUFS * FA_MAX * PAGE_SIZE_);
    if (sys->store_fd > 0)
        close(sys->store_fd);
    if (sys->uffd > 0)
        close(sys->uffd);
    free(sys->vmas);
    free(sys->spaces);
    free(sys->store_free);
    free(sys->swap_path);
    free(sys->policy_name);
    free(sys);
}

/* Copy the configuration's strings so the caller's may go away. */
static int config_copy(struct vmk_system *sys, const vmk_config *cfg)
{
    sys->cfg = *cfg;
    if (cfg->swap_path && !(sys->swap_path = strdup(cfg->swap_path)))
        return -ENOMEM;
    sys->policy_name = strdup(cfg->policy ? cfg->policy : "clock");
    if (!sys->policy_name)
        return -ENOMEM;
    sys->cfg.swap_path = sys->swap_path;
    sys->cfg.policy = sys->policy_name;
    return 0;
}

/* Half the kernel's limit on a process's mappings: what copy-on-write
 * breaks may add before they copy whole blocks (cow.c). */
static int64_t map_budget(void)
{
    long max = 65530;
    int fd = open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char buf[32];
        ssize_t n = read(fd, buf, sizeof buf - 1);
        if (n > 0) {
            buf[n] = 0;
            max = atol(buf);
        }
        close(fd);
    }
    const char *e = getenv("VMK_COW_MAP_BUDGET");     /* tests: make block mode easy to reach */
    return e ? atol(e) : max / 2;
}

static int system_setup(struct vmk_system *sys)
{
    int r;
    sys->cow_map_budget = map_budget();
    if ((r = mmu_uffd_open(&sys->uffd, &sys->uffd_move)) < 0)
        return r;
    if ((r = store_open(&sys->store_fd)) < 0)
        return r;
    if ((r = swap_open(&sys->swap, sys->swap_path, sys->cfg.swap_size, sys->cfg.verbose)) < 0)
        return r;
    if ((r = frames_init(&sys->frames, (uint32_t)(sys->cfg.memory_limit / PAGE_SIZE_))) < 0)
        return r;
    if ((r = reclaim_init(sys)) < 0)
        return r;
    if ((r = pool_init(sys)) < 0)
        return r;
    sys->bounce = mmap(NULL, (size_t)BOUNCE_BUFS * FA_MAX * PAGE_SIZE_, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (sys->bounce == MAP_FAILED)
        return -ENOMEM;
    sys->policy.ops = policy_find(sys->policy_name);
    if ((r = sys->policy.ops->init(&sys->policy, sys->frames.n)) < 0) {
        sys->policy.ops = NULL;
        return r;
    }
    if ((r = fault_install_handler()) < 0)
        return r;
    return sys->cfg.kswapd ? kswapd_start(sys) : 0;
}

VMK_API int vmk_system_open(vmk_system **out, const vmk_config *cfg)
{
    if (!out || !cfg)
        return -EINVAL;
    int r = config_check(cfg);
    if (r < 0)
        return r;
    struct vmk_system *sys = calloc(1, sizeof *sys);
    if (!sys)
        return -ENOMEM;
    sys->uffd = sys->store_fd = -1;
    sys->ctr.opened_ns = stats_now_ns();          /* wall time of vmk_stats */
    sys->file_space.sys = sys;
    sys->fork_space.sys = sys;
    if ((r = config_copy(sys, cfg)) < 0 || (r = system_setup(sys)) < 0 ||
        (r = registry_add(sys)) < 0) {
        system_free(sys);
        return r;
    }
    if (sys->cfg.trace_path && (r = trace_open(sys, sys->cfg.trace_path)) < 0) {
        vmk_system_close(sys);
        return r;
    }
    if ((r = statlog_start(sys)) < 0) {           /* VMK_STATS */
        vmk_system_close(sys);
        return r;
    }
    if (sys->cfg.verbose)
        fprintf(stderr, "vmkit: system with %u frames (%zu MiB), policy %s, fault-around %u\n",
                sys->frames.n, sys->cfg.memory_limit >> 20, sys->policy_name, sys->cfg.fault_around);
    *out = sys;
    return 0;
}

VMK_API void vmk_system_close(vmk_system *sys)
{
    if (!sys)
        return;
    statlog_stop(sys);                            /* its last line sees every space */
    filewatch_stop(sys);
    while (sys->nspaces)
        vmk_space_destroy(sys->spaces[sys->nspaces - 1]);
    fileasync_stop(sys);                          /* nothing in flight: no mapping left */
    reap_stop(sys);
    kswapd_stop(sys);
    registry_del(sys);
    system_free(sys);
}
