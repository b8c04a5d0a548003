/*
 * config.c - defaults and the VMK_* environment variables.
 */
#include "internal.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* "64M" -> 67108864.  0 on a malformed string. */
static size_t parse_size(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s)
        return 0;
    switch (toupper((unsigned char)*end)) {
    case 'T': v <<= 10; /* fall through */
    case 'G': v <<= 10; /* fall through */
    case 'M': v <<= 10; /* fall through */
    case 'K': v <<= 10; end++; break;
    case '\0': break;
    default: return 0;
    }
    return (size_t)v;
}

static void env_size(const char *name, size_t *out)
{
    const char *s = getenv(name);
    if (s && *s)
        *out = parse_size(s);
}

static void env_uint(const char *name, unsigned *out)
{
    const char *s = getenv(name);
    if (s && *s)
        *out = (unsigned)strtoul(s, NULL, 10);
}

VMK_API vmk_config vmk_config_default(void)
{
    vmk_config c;
    memset(&c, 0, sizeof c);
    c.memory_limit = (size_t)256 << 20;
    c.swap_path = NULL;
    c.swap_size = 0;
    c.policy = NULL;
    c.fault_around = 64;
    c.reclaim_batch = 64;
    env_size("VMK_MEMORY_LIMIT", &c.memory_limit);
    env_size("VMK_SWAP_SIZE", &c.swap_size);
    const char *s = getenv("VMK_SWAP_PATH");
    if (s && *s)
        c.swap_path = s;
    s = getenv("VMK_TRACE");
    if (s && *s)
        c.trace_path = s;
    s = getenv("VMK_POLICY");
    if (s && *s)
        c.policy = s;
    env_uint("VMK_FAULT_AROUND", &c.fault_around);
    env_uint("VMK_RECLAIM_BATCH", &c.reclaim_batch);
    unsigned lc = 1;
    env_uint("VMK_LOAD_CONTROL", &lc);
    c.load_control = lc != 0;
    unsigned ks = 1;
    env_uint("VMK_KSWAPD", &ks);
    c.kswapd = ks != 0;
    unsigned verbose = 0;
    env_uint("VMK_VERBOSE", &verbose);
    c.verbose = (int)verbose;
    return c;
}
