/*
 * policy.c - the table of replacement policies, found by name.
 *
 * A name is the policy's name, optionally followed by ":N" for the one
 * numeric parameter a policy may take (policy_ops.param says which; today
 * only WSClock's window, "wsclock:TAU").  The same spelling selects the
 * same algorithm in `vmkit sim` where the simulator has it.
 */
#include "internal.h"
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

extern const struct policy_ops policy_clock_ops;
extern const struct policy_ops policy_fifo_ops;
extern const struct policy_ops policy_lru_ops;
extern const struct policy_ops policy_wsclock_ops;
extern const struct policy_ops policy_s3fifo_ops;

static const struct policy_ops *const policy_table[] = {
    &policy_clock_ops,
    &policy_fifo_ops,
    &policy_lru_ops,
    &policy_wsclock_ops,
    &policy_s3fifo_ops,
};

/* "123" -> 123: decimal digits only, > 0, no overflow. */
static int parse_param(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    if (v == 0)
        return -1;
    *out = v;
    return 0;
}

const struct policy_ops *policy_find(const char *name)
{
    if (!name || !*name)
        name = "clock";
    size_t len = strcspn(name, ":");
    for (size_t i = 0; i < sizeof policy_table / sizeof policy_table[0]; i++) {
        const struct policy_ops *ops = policy_table[i];
        if (strlen(ops->name) != len || strncmp(ops->name, name, len))
            continue;
        uint64_t v;
        if (name[len] && (!ops->param || parse_param(name + len + 1, &v)))
            return NULL;
        return ops;
    }
    return NULL;
}

int policy_param(const char *name, uint64_t *val)
{
    const char *c = name ? strchr(name, ':') : NULL;
    return c && parse_param(c + 1, val) == 0;
}

struct vmk_system *policy_system(struct policy *p)
{
    return (struct vmk_system *)(void *)((char *)p - offsetof(struct vmk_system, policy));
}

const char *policy_names(void)
{
    return "clock, fifo, lru, wsclock[:TAU], s3fifo";
}
