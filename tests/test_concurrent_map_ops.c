/*
 * test_concurrent_map_ops: map, unmap (whole and split), protect and
 * read/write from four threads at once on one tiny-budget system, so that
 * faults, evictions, swap-ins and VMA changes of different threads
 * interleave all the time.  Each thread owns its mappings and keeps a model
 * of every page (its seed, or 0 for never written); every read is checked.
 * A fixed seed per thread makes a failure reproducible.
 */
#include <vmkit.h>
#include "check.h"
#include <pthread.h>
#include <stdint.h>
#include <time.h>

enum { THREADS = 4, SLOTS = 6, MAXPAGES = 256 };

static vmk_system *sys;
static vmk_space *spaces[THREADS];

struct region { uint64_t *base; size_t npages; int prot; uint32_t seed[MAXPAGES]; };

static uint64_t rnd(uint64_t *s) { *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17; return *s; }

static uint64_t word(uint32_t seed, size_t w) { return seed ? (uint64_t)seed * 0x9E3779B97F4A7C15ull + w : 0; }

static void check_page(struct region *r, size_t p, int id)
{
    uint64_t *pg = r->base + p * 512;
    for (size_t w = 0; w < 512; w += 73)
        if (pg[w] != word(r->seed[p], w))
            FAIL("thread %d page %zu word %zu: %#llx, want %#llx", id, p, w,
                 (unsigned long long)pg[w], (unsigned long long)word(r->seed[p], w));
}

static void write_page(struct region *r, size_t p, uint32_t seed)
{
    uint64_t *pg = r->base + p * 512;
    for (size_t w = 0; w < 512; w += 73)
        pg[w] = word(seed, w);
    r->seed[p] = seed;
}

static void *worker(void *arg)
{
    int id = (int)(long)arg;
    vmk_space *as = spaces[id];
    uint64_t s = 0x1234567ull * (uint64_t)(id + 1);
    struct region reg[SLOTS] = { 0 };
    time_t end = time(NULL) + 4;
    long ops = 0;
    while (time(NULL) < end) {
        struct region *r = &reg[rnd(&s) % SLOTS];
        unsigned op = rnd(&s) % 100;
        ops++;
        if (!r->base) {                                        /* map */
            r->npages = 1 + rnd(&s) % MAXPAGES;
            r->base = vmk_map_anon(as, r->npages * 4096, VMK_PROT_READ | VMK_PROT_WRITE);
            CHECK(r->base, "map");
            r->prot = VMK_PROT_READ | VMK_PROT_WRITE;
            memset(r->seed, 0, sizeof r->seed);
        } else if (op < 3) {                                   /* unmap all */
            CHECK(vmk_unmap(as, r->base, r->npages * 4096) == 0, "unmap");
            r->base = NULL;
        } else if (op < 6 && r->npages > 2) {                  /* unmap the tail: a split */
            size_t keep = 1 + rnd(&s) % (r->npages - 1);
            CHECK(vmk_unmap(as, r->base + keep * 512, (r->npages - keep) * 4096) == 0, "unmap tail");
            r->npages = keep;
        } else if (op < 10) {                                  /* protect */
            int prot = rnd(&s) % 2 ? VMK_PROT_READ : VMK_PROT_READ | VMK_PROT_WRITE;
            CHECK(vmk_protect(as, r->base, r->npages * 4096, prot) == 0, "protect");
            r->prot = prot;
        } else if (op < 55 && (r->prot & VMK_PROT_WRITE)) {    /* write */
            write_page(r, rnd(&s) % r->npages, (uint32_t)rnd(&s) | 1);
        } else {                                               /* read */
            check_page(r, rnd(&s) % r->npages, id);
        }
    }
    for (int i = 0; i < SLOTS; i++)
        if (reg[i].base)
            for (size_t p = 0; p < reg[i].npages; p++)
                check_page(&reg[i], p, id);
    printf("thread %d: %ld operations\n", id, ops);
    return NULL;
}

int main(void)
{
    vmk_config cfg = vmk_config_default();
    cfg.memory_limit = 1 << 20;                  /* 256 frames for ~4 x 6 x 128 pages */
    int r = vmk_system_open(&sys, &cfg);
    CHECK(r == 0, "open: %s", vmk_strerror(r));
    pthread_t th[THREADS];
    for (long i = 0; i < THREADS; i++) {
        vmk_space_create(sys, &spaces[i]);
        pthread_create(&th[i], NULL, worker, (void *)i);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    vmk_stats st;
    vmk_stats_get(sys, &st);
    CHECK(st.pages_swapped_out > 0 && st.pages_swapped_in > 0, "no paging happened");
    CHECK(st.sigbus == 0, "sigbus %llu", (unsigned long long)st.sigbus);
    vmk_system_close(sys);
    printf("ok: %llu faults, %llu swapped in\n", (unsigned long long)st.faults,
           (unsigned long long)st.pages_swapped_in);
    return 0;
}
