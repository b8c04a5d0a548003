/*
 * fuzz_trace.c - libFuzzer over the simulator's input: any bytes, as text or
 * as a binary trace, must load or be refused cleanly, and every policy must
 * give a fault count between the number of distinct pages and the number of
 * references (OPT lowest).
 */
#include "sim.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fmemopen((void *)data, size, "rb");
    if (!f)
        return 0;
    sim_trace t;
    size_t line = 0;
    int r = sim_trace_load(f, &t, &line);
    fclose(f);
    if (r != 0)
        return 0;
    for (size_t frames = 1; frames <= 8; frames *= 2) {
        uint64_t opt = sim_run("opt", t.refs, t.n, frames);
        const char *pol[] = { "fifo", "clock", "lru", "s3fifo", "wsclock", "lru-aging" };
        for (size_t i = 0; i < sizeof pol / sizeof pol[0]; i++) {
            uint64_t k = sim_run(pol[i], t.refs, t.n, frames);
            if (k == UINT64_MAX || k < opt || k > t.n)
                abort();
        }
    }
    sim_trace_free(&t);
    return 0;
}
