/*
 * check.h - the little that every test program shares.
 */
#ifndef VMK_TEST_CHECK_H
#define VMK_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(...) do { fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
                       fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); exit(1); } while (0)
#define CHECK(cond, ...) do { if (!(cond)) FAIL(__VA_ARGS__); } while (0)

/* A field of /proc/self/status in kB ("VmRSS:", "VmHWM:"), or -1. */
static inline long proc_status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
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

#endif
