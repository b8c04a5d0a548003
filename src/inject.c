/*
 * inject.c - I/O fault injection for tests: vmk_inject_fault,
 * vmk_inject_config and the VMK_INJECT environment variable.
 *
 * Each public kind is one plan of io.h: a channel (swap or file, read or
 * write) and an effect (EIO, ENOSPC, short transfers, delay).  The plans
 * live in the swap device's struct (sys->swap.inject) and are applied by
 * io.c to every request of the swap device and of mapped files.
 *
 * VMK_INJECT="spec[;spec...]", spec = "name[,key=value...]":
 *   name   swap-write-eio swap-read-eio swap-write-nospc swap-write-short
 *          swap-read-short swap-write-delay swap-read-delay file-write-eio
 *          file-read-eio file-write-nospc file-write-short file-read-short
 *          file-write-delay file-read-delay
 *   keys   after=N (default 1)  count=N|all  every=N  bytes=N  us=N  arg=N
 * e.g. VMK_INJECT="swap-write-short,bytes=1536;swap-read-delay,us=50".
 */
#include "internal.h"
#include "inject.h"
#include <stdlib.h>
#include <string.h>

#define DEFAULT_SHORT 1000u       /* bytes per call */
#define DEFAULT_DELAY 100u        /* microseconds */
#define MAX_DELAY 1000000u

struct kind {
    const char *name;
    enum io_chan chan;
    enum io_effect effect;
};

static const struct kind kinds[VMK_INJECT_KIND_MAX + 1] = {
    [VMK_INJECT_SWAP_WRITE] = { "swap-write-eio", IO_SWAP_WRITE, IO_EIO },
    [VMK_INJECT_SWAP_READ] = { "swap-read-eio", IO_SWAP_READ, IO_EIO },
    [VMK_INJECT_SWAP_WRITE_NOSPC] = { "swap-write-nospc", IO_SWAP_WRITE, IO_ENOSPC },
    [VMK_INJECT_SWAP_WRITE_SHORT] = { "swap-write-short", IO_SWAP_WRITE, IO_SHORT },
    [VMK_INJECT_SWAP_READ_SHORT] = { "swap-read-short", IO_SWAP_READ, IO_SHORT },
    [VMK_INJECT_SWAP_WRITE_DELAY] = { "swap-write-delay", IO_SWAP_WRITE, IO_DELAY },
    [VMK_INJECT_SWAP_READ_DELAY] = { "swap-read-delay", IO_SWAP_READ, IO_DELAY },
    [VMK_INJECT_FILE_WRITE] = { "file-write-eio", IO_FILE_WRITE, IO_EIO },
    [VMK_INJECT_FILE_READ] = { "file-read-eio", IO_FILE_READ, IO_EIO },
    [VMK_INJECT_FILE_WRITE_NOSPC] = { "file-write-nospc", IO_FILE_WRITE, IO_ENOSPC },
    [VMK_INJECT_FILE_WRITE_SHORT] = { "file-write-short", IO_FILE_WRITE, IO_SHORT },
    [VMK_INJECT_FILE_READ_SHORT] = { "file-read-short", IO_FILE_READ, IO_SHORT },
    [VMK_INJECT_FILE_WRITE_DELAY] = { "file-write-delay", IO_FILE_WRITE, IO_DELAY },
    [VMK_INJECT_FILE_READ_DELAY] = { "file-read-delay", IO_FILE_READ, IO_DELAY },
};

static const struct kind *kind_of(int kind)
{
    return kind >= 1 && kind <= VMK_INJECT_KIND_MAX ? &kinds[kind] : NULL;
}

static bool is_error(const struct kind *k)
{
    return k->effect == IO_EIO || k->effect == IO_ENOSPC;
}

/* Check a plan and fill in the kind's defaults.  0 or -EINVAL. */
static int plan_normalize(const struct kind *k, vmk_inject *p)
{
    if (p->after < 0 || p->count < -1 || p->every < 0)
        return -EINVAL;
    if (is_error(k) && p->arg != 0)
        return -EINVAL;
    if (k->effect == IO_DELAY && p->arg > MAX_DELAY)
        return -EINVAL;
    if (p->count == 0)
        p->count = is_error(k) ? 1 : -1;
    if (p->every == 0)
        p->every = 1;
    if (p->arg == 0 && !is_error(k))
        p->arg = k->effect == IO_SHORT ? DEFAULT_SHORT : DEFAULT_DELAY;
    return 0;
}

static void plan_get(struct io_plan *pl, vmk_inject *out)
{
    *out = (vmk_inject){
        .after = atomic_load(&pl->armed) ? atomic_load(&pl->after) : 0,
        .count = atomic_load(&pl->left),
        .every = atomic_load(&pl->every),
        .arg = atomic_load(&pl->arg),
        .hits = atomic_load(&pl->hits),
    };
}

static int config(struct io_faults *f, int kind, const vmk_inject *set, vmk_inject *old)
{
    const struct kind *k = kind_of(kind);
    if (!k)
        return -EINVAL;
    vmk_inject p = { 0 };
    if (set) {
        p = *set;
        if (plan_normalize(k, &p) < 0)
            return -EINVAL;
    }
    struct io_plan *pl = &f->plan[k->chan][k->effect];
    if (old)
        plan_get(pl, old);
    if (set)
        io_plan_set(pl, p.after, p.every, p.count, p.arg);
    return 0;
}

VMK_API int vmk_inject_config(vmk_system *sys, int kind, const vmk_inject *set, vmk_inject *old)
{
    if (!sys)
        return -EINVAL;
    return config(&sys->swap.inject, kind, set, old);
}

VMK_API int vmk_inject_fault(vmk_system *sys, int kind, int64_t after)
{
    vmk_inject p = { .after = after };
    return vmk_inject_config(sys, kind, &p, NULL);
}

/* "123" -> 123, "all" -> -1 (allow_all); -2 on anything else. */
static int64_t parse_num(const char *s, bool allow_all)
{
    if (allow_all && !strcmp(s, "all"))
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno || v < 0)
        return -2;
    return v;
}

/* One "key=value" into p.  0 or -EINVAL. */
static int parse_field(char *field, vmk_inject *p)
{
    char *eq = strchr(field, '=');
    if (!eq)
        return -EINVAL;
    *eq = '\0';
    const char *key = field;
    int64_t v = parse_num(eq + 1, !strcmp(key, "count"));
    if (v == -2)
        return -EINVAL;
    if (!strcmp(key, "after"))
        p->after = v;
    else if (!strcmp(key, "count"))
        p->count = v;
    else if (!strcmp(key, "every"))
        p->every = v;
    else if (!strcmp(key, "bytes") || !strcmp(key, "us") || !strcmp(key, "arg"))
        p->arg = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
    else
        return -EINVAL;
    return 0;
}

static int kind_by_name(const char *name)
{
    for (int k = 1; k <= VMK_INJECT_KIND_MAX; k++)
        if (!strcmp(kinds[k].name, name))
            return k;
    return 0;
}

/* One "name,key=value,..." spec: armed in f.  0 or -EINVAL. */
static int parse_spec(struct io_faults *f, char *spec)
{
    char *save = NULL;
    char *name = strtok_r(spec, ",", &save);
    int kind = name ? kind_by_name(name) : 0;
    if (!kind)
        return -EINVAL;
    vmk_inject p = { .after = 1 };
    for (char *fl; (fl = strtok_r(NULL, ",", &save));)
        if (parse_field(fl, &p) < 0)
            return -EINVAL;
    if (p.after == 0)
        return -EINVAL;
    return config(f, kind, &p, NULL);
}

int inject_parse(struct io_faults *f, const char *spec)
{
    if (!spec || !*spec)
        return 0;
    char *copy = strdup(spec);
    if (!copy)
        return -ENOMEM;
    int r = 0;
    char *save = NULL, *s = strtok_r(copy, "; \t", &save);
    for (; r == 0 && s; s = strtok_r(NULL, "; \t", &save))
        r = parse_spec(f, s);
    free(copy);
    if (r < 0)
        memset(f, 0, sizeof *f);
    return r;
}
