/*
 * lock.h - locks that are safe inside the SIGBUS handler.
 *
 * Faults are resolved in a signal handler, where pthread locks and malloc are
 * not allowed.  These locks are a 32-bit word and the futex system call, as
 * glibc's own are, but with nothing that could allocate or depend on the
 * interrupted context.  The memory orders (acquire on lock, release on
 * unlock) are what ThreadSanitizer reads to see the happens-before edges.
 *
 *   vmk_mutex   0 free, 1 held, 2 held with waiters (Drepper's "futexes are tricky").
 *   vmk_rwlock  bits 0..29 readers, bit 30 a writer waits, bit 31 a writer holds.
 *               Waiting writers hold new readers back so unmap cannot starve.
 */
#ifndef VMK_LOCK_H
#define VMK_LOCK_H

#include <stdatomic.h>
#include <stdint.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline void futex_wait(_Atomic uint32_t *w, uint32_t expect)
{
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, expect, NULL, NULL, 0);
}

static inline void futex_wake(_Atomic uint32_t *w, int n)
{
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

typedef struct vmk_mutex { _Atomic uint32_t v; } vmk_mutex;

static inline void mutex_lock(vmk_mutex *m)
{
    uint32_t c = 0;
    if (atomic_compare_exchange_strong_explicit(&m->v, &c, 1, memory_order_acquire,
                                                memory_order_relaxed))
        return;
    if (c != 2)
        c = atomic_exchange_explicit(&m->v, 2, memory_order_acquire);
    while (c != 0) {
        futex_wait(&m->v, 2);
        c = atomic_exchange_explicit(&m->v, 2, memory_order_acquire);
    }
}

static inline int mutex_trylock(vmk_mutex *m)
{
    uint32_t c = 0;
    return atomic_compare_exchange_strong_explicit(&m->v, &c, 1, memory_order_acquire,
                                                   memory_order_relaxed);
}

static inline void mutex_unlock(vmk_mutex *m)
{
    if (atomic_exchange_explicit(&m->v, 0, memory_order_release) == 2)
        futex_wake(&m->v, 1);
}

typedef struct vmk_rwlock { _Atomic uint32_t v; } vmk_rwlock;

#define RW_WRITER   (1u << 31)
#define RW_WWAIT    (1u << 30)
#define RW_READERS  (RW_WWAIT - 1)

static inline void rw_read_lock(vmk_rwlock *l)
{
    for (;;) {
        uint32_t v = atomic_load_explicit(&l->v, memory_order_relaxed);
        if (!(v & (RW_WRITER | RW_WWAIT))) {
            if (atomic_compare_exchange_weak_explicit(&l->v, &v, v + 1, memory_order_acquire,
                                                      memory_order_relaxed))
                return;
            continue;
        }
        futex_wait(&l->v, v);
    }
}

/* One more read hold of a lock the caller already holds for reading, unless
 * a writer waits (then 0, nothing taken).  The hold may be handed to
 * another thread, which releases it with rw_read_unlock (file reads in
 * flight, fileasync.c): writers wait for it like for any reader. */
static inline int rw_read_extra(vmk_rwlock *l)
{
    uint32_t v = atomic_load_explicit(&l->v, memory_order_relaxed);
    while (!(v & (RW_WRITER | RW_WWAIT)))
        if (atomic_compare_exchange_weak_explicit(&l->v, &v, v + 1, memory_order_acquire,
                                                  memory_order_relaxed))
            return 1;
    return 0;
}

static inline void rw_read_unlock(vmk_rwlock *l)
{
    uint32_t v = atomic_fetch_sub_explicit(&l->v, 1, memory_order_release) - 1;
    if ((v & RW_READERS) == 0 && (v & RW_WWAIT))
        futex_wake(&l->v, INT_MAX);
}

static inline void rw_write_lock(vmk_rwlock *l)
{
    for (;;) {
        uint32_t v = atomic_load_explicit(&l->v, memory_order_relaxed);
        if ((v & (RW_WRITER | RW_READERS)) == 0) {
            if (atomic_compare_exchange_weak_explicit(&l->v, &v, RW_WRITER, memory_order_acquire,
                                                      memory_order_relaxed))
                return;
            continue;
        }
        if (!(v & RW_WWAIT) &&
            !atomic_compare_exchange_weak_explicit(&l->v, &v, v | RW_WWAIT, memory_order_relaxed,
                                                   memory_order_relaxed))
            continue;
        futex_wait(&l->v, v | RW_WWAIT);
    }
}

static inline void rw_write_unlock(vmk_rwlock *l)
{
    atomic_store_explicit(&l->v, 0, memory_order_release);
    futex_wake(&l->v, INT_MAX);
}

#endif
