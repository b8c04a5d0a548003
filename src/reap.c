/*
 * reap.c - unmapping what a fork moved out, where nobody waits for it.
 *
 * A fork takes write access from every page the parent maps.  Write-
 * protecting them is a walk of every page-table entry (~25 ns each); fork.c
 * may instead move the parent's entries to a scratch range (mmu_move_out,
 * ~8 ns each) and leave the parent's windows empty, to be refilled by
 * faults.  The scratch
 * range must still be unmapped, and that zaps every entry (~70 ns each: the
 * pages' map counts, the TLB): 9 ms for 512 MiB.  Nothing waits for it - the
 * scratch range maps frame-store pages nobody reads or writes there, and
 * hole punching (eviction) unmaps them from it as from any mapping - so a
 * thread of the system's does it, one queued range after another, started
 * with the first fork.
 *
 * vmk_space_destroy and vmk_system_close drain the queue, so that once they
 * return no mapping a fork made is left behind (tests count the process's
 * kernel mappings).
 */
#include "internal.h"
#include "reap.h"
#include "thread.h"
#include <stdlib.h>
#include <sys/mman.h>

struct reap_item {
    struct reap_item *next;
    char *addr;
    size_t len;
};

struct reap {
    pthread_mutex_t lock;
    pthread_cond_t work, idle;       /* work queued; queue empty and nothing unmapping */
    struct reap_item *head, **tail;
    bool busy, stop, started;
    pthread_t thread;
};

/*
 * Zapping holds the mmap lock, and a fork right after a fork (its mremap,
 * its mmaps) waits for the lock: 13-14 ms for the 512 MiB an earlier fork
 * moved out.  So the entries go REAP_CHUNK at a time with MADV_DONTNEED
 * (the lock shared: a waiting writer gets it after the chunk), then one
 * munmap of the empty range.
 */
#define REAP_CHUNK ((size_t)16 << 20)

static void unmap_in_chunks(char *addr, size_t len)
{
    for (size_t off = 0; off < len; off += REAP_CHUNK)
        madvise(addr + off, len - off < REAP_CHUNK ? len - off : REAP_CHUNK, MADV_DONTNEED);
    munmap(addr, len);
}

static void *reap_main(void *arg)
{
    struct reap *r = arg;
    pthread_mutex_lock(&r->lock);
    for (;;) {
        while (!r->head && !r->stop)
            pthread_cond_wait(&r->work, &r->lock);
        if (!r->head)
            break;
        struct reap_item *it = r->head;
        r->head = it->next;
        if (!r->head)
            r->tail = &r->head;
        r->busy = true;
        pthread_mutex_unlock(&r->lock);
        unmap_in_chunks(it->addr, it->len);
        free(it);
        pthread_mutex_lock(&r->lock);
        r->busy = false;
        if (!r->head)
            pthread_cond_broadcast(&r->idle);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

/* The system's reaper, created with its thread on first use; NULL if
 * either could not be.  Called with the maplock exclusive (a fork), so
 * there is one creator at a time. */
static struct reap *reap_get(struct vmk_system *sys)
{
    struct reap *r = atomic_load_explicit(&sys->reap, memory_order_acquire);
    if (r)
        return r->started ? r : NULL;
    r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->work, NULL);
    pthread_cond_init(&r->idle, NULL);
    r->tail = &r->head;
    r->started = thread_start_quiet(&r->thread, reap_main, r) == 0;
    atomic_store_explicit(&sys->reap, r, memory_order_release);
    return r->started ? r : NULL;
}

void reap_defer(struct vmk_system *sys, void *addr, size_t len)
{
    struct reap *r = reap_get(sys);
    struct reap_item *it = r ? malloc(sizeof *it) : NULL;
    if (!it) {
        munmap(addr, len);
        return;
    }
    *it = (struct reap_item){ .addr = addr, .len = len };
    pthread_mutex_lock(&r->lock);
    *r->tail = it;
    r->tail = &it->next;
    pthread_cond_signal(&r->work);
    pthread_mutex_unlock(&r->lock);
}

void reap_drain(struct vmk_system *sys)
{
    struct reap *r = atomic_load_explicit(&sys->reap, memory_order_acquire);
    if (!r || !r->started)
        return;
    pthread_mutex_lock(&r->lock);
    while (r->head || r->busy)
        pthread_cond_wait(&r->idle, &r->lock);
    pthread_mutex_unlock(&r->lock);
}

void reap_stop(struct vmk_system *sys)
{
    struct reap *r = atomic_exchange(&sys->reap, NULL);
    if (!r)
        return;
    if (r->started) {
        pthread_mutex_lock(&r->lock);
        r->stop = true;
        pthread_cond_signal(&r->work);
        pthread_mutex_unlock(&r->lock);
        pthread_join(r->thread, NULL);   /* the queue is empty when it ends */
    }
    pthread_cond_destroy(&r->work);
    pthread_cond_destroy(&r->idle);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
