/*
 * pte.h - the software page table entry.
 *
 * One 64-bit word per virtual page tells what the hardware page table cannot:
 * whether a page that is not present was never touched or lives in swap slot
 * N, and where a present page's frame is.  Like the kernel's non-present PTE,
 * the encoding carries the swap slot in the entry itself.
 *
 *    63            32 31          8 7   6    5    4     3      2     1     0
 *   +----------------+-------------+---+----+----+-----+------+-----+-----+-----+
 *   |   swap slot    |    frame    | - |SWAP|REF |DIRTY|MAPPED| RES |WAIT |BUSY |
 *   +----------------+-------------+---+----+----+-----+------+-----+-----+-----+
 *
 *   0              never touched: the page reads as zeros.
 *   RES            resident: the page is in the frame-store, frame `frame`.
 *   RES|SWAP       resident and clean, with a valid copy in `slot` (swap cache):
 *                  eviction drops it without writing.
 *   RES|DIRTY      resident and written since it was read (no valid copy).
 *   RES alone      resident, never written: all zeros.  Eviction drops it to 0.
 *   SWAP (no RES)  swapped out to `slot`; the frame field then holds the low
 *                  24 bits of the eviction clock when it left (refaults).
 *   MAPPED         the MMU maps the page now; the policy clears it (and unmaps
 *                  the page) to learn of the next reference.
 *   REF            referenced since the policy last looked.
 *   BUSY           a thread is changing the page (fault, eviction, sampling);
 *                  others wait.  WAIT says somebody sleeps on the word.
 *
 * BUSY and WAIT sit in the low 32 bits so a waiter can futex-wait on that half
 * (x86-64 is little-endian: the low half is the first word in memory).
 */
#ifndef VMK_PTE_H
#define VMK_PTE_H

#include "lock.h"
#include <stdbool.h>

typedef _Atomic uint64_t pte_t;

#define PTE_BUSY    (1ull << 0)
#define PTE_WAIT    (1ull << 1)
#define PTE_RES     (1ull << 2)
#define PTE_MAPPED  (1ull << 3)
#define PTE_DIRTY   (1ull << 4)
#define PTE_REF     (1ull << 5)
#define PTE_SWAP    (1ull << 6)
#define PTE_FRAME_SHIFT 8
#define PTE_FRAME_MASK  0xffffffull
#define PTE_SLOT_SHIFT  32
#define PTE_MAX_FRAMES  (PTE_FRAME_MASK + 1)
#define PTE_MAX_SLOTS   (1ull << 31)

static inline uint32_t pte_frame(uint64_t v) { return (uint32_t)((v >> PTE_FRAME_SHIFT) & PTE_FRAME_MASK); }
static inline uint64_t pte_slot(uint64_t v) { return v >> PTE_SLOT_SHIFT; }
static inline uint64_t pte_with_frame(uint64_t v, uint32_t f)
{
    return (v & ~(PTE_FRAME_MASK << PTE_FRAME_SHIFT)) | ((uint64_t)f << PTE_FRAME_SHIFT);
}
static inline uint64_t pte_with_slot(uint64_t v, uint64_t s)
{
    return (v & 0xffffffffull) | (s << PTE_SLOT_SHIFT) | PTE_SWAP;
}
static inline uint64_t pte_without_slot(uint64_t v)
{
    return (v & 0xffffffffull) & ~PTE_SWAP;
}

static inline _Atomic uint32_t *pte_futex_word(pte_t *p) { return (_Atomic uint32_t *)(void *)p; }

/* Try to take BUSY; on success *val is the entry as it was (without BUSY). */
static inline bool pte_trylock(pte_t *p, uint64_t *val)
{
    uint64_t v = atomic_load_explicit(p, memory_order_relaxed);
    while (!(v & PTE_BUSY)) {
        if (atomic_compare_exchange_weak_explicit(p, &v, v | PTE_BUSY, memory_order_acquire,
                                                  memory_order_relaxed)) {
            *val = v & ~PTE_WAIT;
            return true;
        }
    }
    return false;
}

/* Take BUSY, sleeping while another thread holds it.  Returns the entry (without BUSY/WAIT). */
static inline uint64_t pte_lock(pte_t *p)
{
    for (;;) {
        uint64_t v;
        if (pte_trylock(p, &v))
            return v;
        v = atomic_load_explicit(p, memory_order_relaxed);
        if (!(v & PTE_BUSY))
            continue;
        if (!(v & PTE_WAIT) &&
            !atomic_compare_exchange_weak_explicit(p, &v, v | PTE_WAIT, memory_order_relaxed,
                                                   memory_order_relaxed))
            continue;
        futex_wait(pte_futex_word(p), (uint32_t)(v | PTE_WAIT));
    }
}

/* Publish the new entry (BUSY and WAIT are cleared) and wake sleepers. */
static inline void pte_unlock(pte_t *p, uint64_t v)
{
    uint64_t old = atomic_exchange_explicit(p, v & ~(PTE_BUSY | PTE_WAIT), memory_order_release);
    if (old & PTE_WAIT)
        futex_wake(pte_futex_word(p), INT_MAX);
}

static inline uint64_t pte_read(pte_t *p) { return atomic_load_explicit(p, memory_order_acquire); }

#endif
