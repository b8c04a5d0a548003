/*
 * workingset.h - the working-set estimate W(t, tau) of each space
 * (workingset.c) and the sampler that keeps it fresh (wssample.c).
 *
 * Every replacement policy feeds it: ws_init / ws_fini from its init and
 * fini, ws_filled from its filled callback, and it reads reference bits only
 * through ws_referenced (the policy is about to sample the page: it clears
 * REF and unmaps it when this returns true) or ws_peek (a look that changes
 * nothing), and it passes every victim it returns through ws_victim.
 * That is what lets the sampler clear REF bits without taking the
 * references away from the policy, and a page's return be recognised.
 */
#ifndef VMK_WORKINGSET_H
#define VMK_WORKINGSET_H

#include <stdbool.h>
#include <stdint.h>

struct policy;
struct victim;
struct vmk_system;
struct vmk_counters;
struct vmk_object;
struct vmk_space;

#define WS_DEFAULT_TAU_MS 1000

/* Allocate the per-frame state and start the sampler (VMK_WS_TAU_MS: tau
 * in milliseconds, default 1000; 0 turns the estimate and the sampler off).
 * 0 or -ENOMEM / -errno of pthread_create. */
int  ws_init(struct policy *p, uint32_t nframes);
void ws_fini(struct policy *p);

/* Frame f was just filled by a fault (fault path: async-signal-safe). */
void ws_filled(struct policy *p, uint32_t f);

/* Was the taken page referenced since the policy last looked (REF, or the
 * sampler's record of a REF it cleared)?  Consumes the sampler's record and
 * counts the reference in the working set; the caller samples the page
 * (reclaim_sample) when this returns true. */
bool ws_referenced(struct vmk_system *sys, struct victim *v);
/* The same question without consuming or counting anything. */
bool ws_peek(struct vmk_system *sys, const struct victim *v);
/* The taken page v is chosen as a victim: leave its shadow (so a return is
 * not counted twice).  Returns v, for `out[got++] = ws_victim(sys, v)`. */
struct victim ws_victim(struct vmk_system *sys, struct victim v);

/* Pages of the space (or system) whose counters are c referenced within the
 * last tau; 0 when the estimate is off. */
uint64_t ws_estimate(struct vmk_system *sys, struct vmk_counters *c);
/* tau in milliseconds (0: off). */
uint32_t ws_tau_ms(struct vmk_system *sys);

/* wssample.c: the background sampler. */
struct ws_sampler;
int  ws_sampler_start(struct vmk_system *sys, struct ws_sampler **out);
void ws_sampler_stop(struct ws_sampler *s);
/* workingset.c, for the sampler: the page taken in v had REF set and the
 * sampler is clearing it; record it for the policy and the estimate. */
void ws_sampled(struct vmk_system *sys, struct victim *v);
/* Milliseconds since the estimate began (coarse clock), and whether frame
 * f's last recorded reference is older than age_ms. */
uint32_t ws_now_ms(struct vmk_system *sys);
bool ws_older_than(struct vmk_system *sys, uint32_t f, uint32_t now_ms, uint32_t age_ms);
/* Working-set counts follow the resident counts when pages change owner
 * (maplock exclusive).  Each object keeps its pages' counts in a ring of
 * its own too, so that a whole object's move costs WS_BUCKETS words.
 * ws_moved: frame f's page of `from` is now page pg of o (collapse.c).
 * ws_move_object: o's pages are now counted in `to`, not `from` (fork.c,
 * collapse.c: before o->owner changes, or after, as long as both are
 * named). */
void ws_moved(struct vmk_system *sys, uint32_t f, struct vmk_object *from, struct vmk_object *o,
              uint32_t pg);
void ws_move_object(struct vmk_system *sys, struct vmk_object *o, struct vmk_space *from,
                    struct vmk_space *to);

#endif
