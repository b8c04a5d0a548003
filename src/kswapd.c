/*
 * kswapd.c - the background reclaimer.
 *
 * Direct reclaim makes the faulting thread pay for eviction: copying dirty
 * pages out, a synchronous write to swap, unmapping.  kswapd does that work
 * ahead of need, on another CPU, so a fault usually finds a free frame:
 *
 *   free frames < low   a fault pokes kswapd (a futex wake, and only when it
 *                       sleeps: the poke costs nothing while it works);
 *   kswapd              evicts batches until free frames >= high, then sleeps.
 *   free frames == 0    the faulting thread reclaims itself (direct reclaim).
 *
 * low is 1/64 of the frames (at least two batches, at most 1/16), high is
 * low plus two batches.  It holds the system's maplock shared for one batch
 * at a time, so map/unmap wait at most one batch.  It never touches managed
 * memory and blocks every signal.
 */
#include "internal.h"
#include "pagepool.h"
#include "thread.h"
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

struct kswapd {
    pthread_t thread;
    _Atomic uint32_t seq;        /* poked: bumped, futex-woken */
    _Atomic int sleeping;
    _Atomic int stop;
    uint32_t low, high;
};

static void *kswapd_main(void *arg)
{
    struct vmk_system *sys = arg;
    struct kswapd *k = sys->kswapd;
    while (!atomic_load(&k->stop)) {
        uint32_t seq = atomic_load(&k->seq);
        if (pool_frames_free(sys) >= k->low) {
            atomic_store(&k->sleeping, 1);
            if (pool_frames_free(sys) >= k->low && !atomic_load(&k->stop))
                futex_wait(&k->seq, seq);
            atomic_store(&k->sleeping, 0);
            continue;
        }
        while (!atomic_load(&k->stop) && pool_frames_free(sys) < k->high) {
            rw_read_lock(&sys->maplock);
            int r = reclaim_background_pass(sys);
            rw_read_unlock(&sys->maplock);
            if (r <= 0) {                 /* nothing evictable now: back off */
                struct timespec ts = { 0, 1000000 };
                nanosleep(&ts, NULL);
                break;
            }
        }
    }
    return NULL;
}

void kswapd_poke(struct vmk_system *sys)
{
    struct kswapd *k = sys->kswapd;
    if (!k || !atomic_load_explicit(&k->sleeping, memory_order_relaxed))
        return;
    if (pool_frames_free(sys) >= k->low)
        return;
    atomic_fetch_add(&k->seq, 1);
    futex_wake(&k->seq, 1);
}

int kswapd_start(struct vmk_system *sys)
{
    struct kswapd *k = calloc(1, sizeof *k);
    if (!k)
        return -ENOMEM;
    uint32_t n = sys->frames.n, batch = sys->cfg.reclaim_batch;
    k->low = n / 64 > 2 * batch ? n / 64 : 2 * batch;
    if (k->low > n / 16)
        k->low = n / 16;
    k->high = k->low + 2 * batch;
    if (k->high > n / 4)
        k->high = n / 4;
    sys->kswapd = k;
    int r = thread_start_quiet(&k->thread, kswapd_main, sys);
    if (r != 0) {
        sys->kswapd = NULL;
        free(k);
        return -r;
    }
    return 0;
}

void kswapd_stop(struct vmk_system *sys)
{
    struct kswapd *k = sys->kswapd;
    if (!k)
        return;
    atomic_store(&k->stop, 1);
    atomic_fetch_add(&k->seq, 1);
    futex_wake(&k->seq, 1);
    pthread_join(k->thread, NULL);
    sys->kswapd = NULL;
    free(k);
}
