/*
 * sim.h - the page-replacement policy simulator behind `vmkit sim`.
 *
 * A reference string is an array of page numbers (uint64_t).  It comes from
 * a text file of numbers or from a binary fault trace recorded by vmkit
 * (VMK_TRACE / vmk_trace_start; the format is described at the top of
 * sim_core.c).  The simulator replays it against a policy with a given
 * number of frames and counts page faults the textbook way: frames start
 * empty, every reference to a page that is not resident is a fault (so the
 * first reference to every page is one), and a policy only evicts when all
 * frames are full.
 *
 * Two ways in:
 *   - sim_run(policy, refs, n, frames): one-shot, convenient for tests.
 *   - sim_prepare once, then sim_run_prepared for many (policy, frames)
 *     pairs: page numbers are mapped to dense ids 0..npages-1 once, and
 *     OPT's next-use table is computed on first need and kept.
 *
 * Policy names: opt, fifo, clock, lru, lru-aging, wsclock, s3fifo.  Two
 * take parameters after colons: "lru-aging:K:S" (K-bit counters, 1..8,
 * shifted every S references; defaults 8 and frames/4) and "wsclock:TAU"
 * (working-set window in references; default = frames).
 */
#ifndef VMK_SIM_H
#define VMK_SIM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A reference string in memory, as loaded from a file. */
typedef struct sim_trace {
    uint64_t *refs;         /* page numbers, in reference order */
    size_t    n;            /* number of references */
    size_t    cap;          /* allocated capacity of refs */
    int       binary;       /* 1: loaded from a VMKTRC01 trace, 0: text */
    uint32_t  page_size;    /* binary: the header's page size; text: 0 */
    uint64_t  skipped;      /* binary: records not in the reference string
                               (evictions, unknown events) */
    int       truncated;    /* binary: the file ended inside a record */
} sim_trace;

/*
 * Load a reference string from f, detecting the format by its first 8 bytes
 * ("VMKTRC01": binary trace; anything else: text, page numbers in decimal or
 * 0x-hex separated by whitespace or commas, '#' starts a comment to the end
 * of the line).  Returns 0, -EINVAL (bad text; *line gets its line number if
 * line is not NULL), -EIO (read error), -ENOMEM.  On error t is left empty.
 */
int  sim_trace_load(FILE *f, sim_trace *t, size_t *line);
/* Append one reference (0 or -ENOMEM). */
int  sim_trace_push(sim_trace *t, uint64_t page);
void sim_trace_free(sim_trace *t);

/* A reference string mapped to dense page ids, ready to simulate. */
typedef struct sim_prepared {
    uint32_t *ids;          /* ids[i]: dense id of the i-th reference */
    size_t    n;            /* number of references */
    uint32_t  npages;       /* number of distinct pages */
    uint32_t *next;         /* OPT: next[i] = index of the next reference to
                               ids[i], or SIM_NEVER; NULL until needed */
} sim_prepared;

#define SIM_NEVER UINT32_MAX

/* Map refs to dense ids.  0, -ENOMEM, -E2BIG (n >= 2^32 - 1). */
int  sim_prepare(sim_prepared *p, const uint64_t *refs, size_t n);
void sim_prepared_free(sim_prepared *p);

/*
 * Run one policy with `frames` frames (>= 1) over a prepared string; the
 * fault count goes to *faults.  0, -EINVAL (unknown policy or bad
 * parameters, frames == 0), -ENOMEM.
 */
int  sim_run_prepared(sim_prepared *p, const char *policy, size_t frames, uint64_t *faults);

/* One-shot: the number of faults, or UINT64_MAX on error. */
uint64_t sim_run(const char *policy, const uint64_t *refs, size_t n, size_t frames);

/* Is policy a known name with valid parameters? */
int  sim_policy_valid(const char *policy);
/* The policy names, NULL-terminated, and a one-line description of each. */
const char *const *sim_policy_names(void);
const char *sim_policy_help(const char *name);

#ifdef __cplusplus
}
#endif

#endif
