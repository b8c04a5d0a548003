/*
 * fuzz_api.c - libFuzzer over the public API, against a model.
 *
 * The input is a program: each 8-byte step picks an operation (map, unmap,
 * protect, write, read, page_info, a bad call, fork with a write and maybe
 * a reset in the child) and its arguments, on one
 * space of a system with a 1 MiB budget (so everything pages).  The model
 * remembers every page's contents as a seed; every read is checked, every
 * bad call must fail and change nothing.  One system serves all inputs;
 * each input gets a fresh space, destroyed at its end.
 *
 * Build: cmake -B build-fuzz -DCMAKE_C_COMPILER=clang -DVMK_FUZZ=ON
 * Run:   build-fuzz/fuzz_api -handle_bus=0 -handle_segv=0 fuzz/corpus/api
 */
#include <vmkit.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SLOTS = 4, MAXPAGES = 64 };

struct region { uint8_t *base; size_t npages; int prot; uint8_t seed[MAXPAGES]; };

static vmk_system *sys;

static void die(const char *what, size_t a, size_t b)
{
    fprintf(stderr, "fuzz_api: %s (%zu, %zu)\n", what, a, b);
    abort();
}

static void fill_page(uint8_t *p, uint8_t seed)
{
    for (size_t i = 0; i < 4096; i += 64)
        p[i] = (uint8_t)(seed + i / 64);
}

static void check_page(const uint8_t *p, uint8_t seed, size_t page)
{
    for (size_t i = 0; i < 4096; i += 64)
        if (p[i] != (seed ? (uint8_t)(seed + i / 64) : 0))
            die("page content differs from the model", page, i);
}

/* Fork the space; the child's copy of every region holds the model's bytes
 * at page a; a write there (and, half the time, a reset of the child
 * after it) never shows in the parent; the child goes. */
static void fork_step(vmk_space *as, struct region *reg, struct region *r, size_t a,
                      const uint8_t *s)
{
    vmk_space *child;
    /* The child is gone before the next fork, so the fork tree collapses
     * back each time: -EMLINK (VMK_FORK_DEPTH_MAX live forks) is a failure
     * here (fuzz/corpus/api/regress-fork-depth forks one space 70 times). */
    int e = vmk_space_fork(as, &child);
    if (e)
        die("fork", (size_t)-e, 0);
    for (int k = 0; k < SLOTS; k++) {
        if (!reg[k].base)
            continue;
        size_t p = a % reg[k].npages;
        uint8_t *c = vmk_space_translate(child, as, reg[k].base);
        if (!c)
            die("translate", (size_t)k, 0);
        check_page(c + p * 4096, reg[k].seed[p], p);
        if (&reg[k] == r && (r->prot & VMK_PROT_WRITE)) {
            fill_page(c + p * 4096, (uint8_t)(s[5] | 1) ^ 0x80);
            if (s[6] & 1) {
                if (vmk_space_reset(child))
                    die("reset", 0, 0);
                check_page(c + p * 4096, r->seed[p], p);
            }
        }
        check_page(reg[k].base + p * 4096, reg[k].seed[p], p);
    }
    vmk_space_destroy(child);
}

static void step(vmk_space *as, struct region *reg, const uint8_t *s)
{
    struct region *r = &reg[s[0] % SLOTS];
    size_t a = s[2] % MAXPAGES, b = s[3] % MAXPAGES;
    if (!r->base) {
        r->npages = 1 + (size_t)(s[1] % MAXPAGES);
        r->base = vmk_map_anon(as, r->npages * 4096, VMK_PROT_READ | VMK_PROT_WRITE);
        if (!r->base)
            die("map failed", r->npages, 0);
        r->prot = VMK_PROT_READ | VMK_PROT_WRITE;
        memset(r->seed, 0, sizeof r->seed);
        return;
    }
    a %= r->npages;
    switch (s[1] % 9) {
    case 0:                                        /* unmap the whole region */
        if (vmk_unmap(as, r->base, r->npages * 4096))
            die("unmap", r->npages, 0);
        r->base = NULL;
        break;
    case 1:                                        /* unmap a tail */
        if (a > 0) {
            if (vmk_unmap(as, r->base + a * 4096, (r->npages - a) * 4096))
                die("unmap tail", a, r->npages);
            r->npages = a;
        }
        break;
    case 2: {                                      /* protect */
        int prot = s[4] & 1 ? VMK_PROT_READ : VMK_PROT_READ | VMK_PROT_WRITE;
        if (vmk_protect(as, r->base, r->npages * 4096, prot))
            die("protect", r->npages, (size_t)prot);
        r->prot = prot;
        break;
    }
    case 3: case 4:                                /* write */
        if (r->prot & VMK_PROT_WRITE) {
            uint8_t seed = (uint8_t)(s[5] | 1);
            fill_page(r->base + a * 4096, seed);
            r->seed[a] = seed;
        }
        break;
    case 5: {                                      /* page_info agrees with the model */
        struct vmk_page_info pi;
        if (vmk_page_info(as, r->base + a * 4096, &pi))
            die("page_info", a, 0);
        if (r->seed[a] && pi.state == VMK_PAGE_NONE)
            die("a written page reported never touched", a, 0);
        break;
    }
    case 6: {                                      /* bad calls change nothing */
        void *addr = r->base;
        size_t len = r->npages * 4096;
        switch (s[6] % 3) {
        case 0: addr = r->base + 1 + s[7] % 4095; break;          /* unaligned */
        case 1: len = 0; break;                                    /* empty */
        default: len = SIZE_MAX - b; break;                         /* overflowing */
        }
        int e1 = vmk_unmap(as, addr, len), e2 = vmk_protect(as, addr, len, VMK_PROT_READ);
        int e3 = vmk_protect(as, r->base, r->npages * 4096, 0x40 | VMK_PROT_READ);
        if (e1 != -EINVAL || e2 != -EINVAL || e3 != -EINVAL)
            die("a bad call was accepted", (size_t)-e1, (size_t)-e2);
        break;
    }
    case 7:                                        /* fork: the child is a copy */
        fork_step(as, reg, r, a, s);
        break;
    default:                                       /* read */
        check_page(r->base + a * 4096, r->seed[a], a);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!sys) {
        vmk_config c = vmk_config_default();
        c.memory_limit = 1 << 20;
        c.fault_around = 4;
        if (vmk_system_open(&sys, &c))
            abort();
    }
    vmk_space *as;
    if (vmk_space_create(sys, &as))
        abort();
    struct region reg[SLOTS];
    memset(reg, 0, sizeof reg);
    for (size_t i = 0; i + 8 <= size && i < 8 * 4096; i += 8)
        step(as, reg, data + i);
    for (int k = 0; k < SLOTS; k++)
        if (reg[k].base)
            for (size_t p = 0; p < reg[k].npages; p++)
                check_page(reg[k].base + p * 4096, reg[k].seed[p], p);
    vmk_space_destroy(as);
    return 0;
}
