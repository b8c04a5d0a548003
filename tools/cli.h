/*
 * cli.h - small helpers shared by the command-line tools and benchmarks.
 */
#ifndef VMK_CLI_H
#define VMK_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

/* "64M" -> 67108864 (K, M, G suffixes; fractions allowed: "1.5G"). */
static inline size_t cli_parse_size(const char *s)
{
    char *e;
    double v = strtod(s, &e);
    if (*e == 'G' || *e == 'g') v *= 1 << 30;
    else if (*e == 'M' || *e == 'm') v *= 1 << 20;
    else if (*e == 'K' || *e == 'k') v *= 1 << 10;
    return (size_t)v;
}

/* A field in kB of a /proc file of this process ("VmHWM:" in
 * /proc/self/status, "Pss:" in /proc/self/smaps_rollup), or -1. */
static inline long cli_proc_kb(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    char line[256];
    long v = -1;
    size_t k = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, k))
            v = atol(line + k);
    if (f)
        fclose(f);
    return v;
}

/* Seconds on the monotonic clock. */
static inline double cli_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* o[0..n) = a random permutation of 0..n-1 (xorshift, a fixed seed: the
 * same order in every run and on both sides of a comparison). */
static inline void cli_shuffle(uint32_t *o, size_t n)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < n; i++)
        o[i] = (uint32_t)i;
    for (size_t i = n - 1; n && i > 0; i--) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t j = x % (i + 1);
        uint32_t t = o[i];
        o[i] = o[j], o[j] = t;
    }
}

#endif
