/*
 * policy.c - the table of replacement policies, found by name.
 */
#include "internal.h"
#include <string.h>

extern const struct policy_ops policy_clock_ops;
extern const struct policy_ops policy_fifo_ops;

static const struct policy_ops *const policy_table[] = {
    &policy_clock_ops,
    &policy_fifo_ops,
};

const struct policy_ops *policy_find(const char *name)
{
    if (!name || !*name)
        name = "clock";
    for (size_t i = 0; i < sizeof policy_table / sizeof policy_table[0]; i++)
        if (strcmp(policy_table[i]->name, name) == 0)
            return policy_table[i];
    return NULL;
}

const char *policy_names(void)
{
    return "clock, fifo";
}
