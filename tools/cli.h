/*
 * cli.h - small helpers shared by the command-line tools and benchmarks.
 */
#ifndef VMK_CLI_H
#define VMK_CLI_H

#include <stddef.h>
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

/* Seconds on the monotonic clock. */
static inline double cli_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#endif
