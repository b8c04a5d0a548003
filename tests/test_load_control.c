/*
 * test_load_control: two spaces whose working sets together exceed the
 * budget (each 70% of it) cycle through them from two threads.  Without load
 * control they thrash: nearly every access is a refault.  With it, vmkit
 * sees the thrashing (refaults and fault stalls), says so, and pauses one
 * space until the other has its working set in memory; in the same time
 * the pair gets more passes done, with fewer major faults per pass.  The
 * data is checked on every access either way.
 */
#include <vmkit.h>
#include "check.h"
#include <pthread.h>
#include <time.h>

enum { BUDGET = 512, WS = 360 };
#define SECONDS 1.0                       /* each run: both threads cycle this long */

struct job { vmk_space *as; volatile uint64_t *m; pthread_barrier_t *go; uint64_t passes; };

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Cycle through the working set for SECONDS of wall time (not a number of
 * passes: on a loaded machine one thread could otherwise finish before the
 * other starts, and nothing would thrash); count the passes. */
static void *cycle(void *arg)
{
    struct job *j = arg;
    for (size_t p = 0; p < WS; p++)
        j->m[p * 512] = p;
    pthread_barrier_wait(j->go);           /* both cycle at the same time */
    double end = now() + SECONDS;
    uint64_t pass = 0;
    while (now() < end) {
        for (size_t p = 0; p < WS; p++)
            if (j->m[p * 512] != p + pass)
                FAIL("page %zu pass %llu", p, (unsigned long long)pass);
            else
                j->m[p * 512] = p + pass + 1;
        pass++;
    }
    j->passes = pass;
    return NULL;
}

/* Passes done by both threads in the run (the work: higher is better). */
static double run(int load_control, vmk_stats *st, int *said)
{
    vmk_config cfg = vmk_config_default();
    cfg.memory_limit = BUDGET * 4096;
    cfg.fault_around = 1;
    cfg.load_control = load_control;
    vmk_system *sys;
    int r = vmk_system_open(&sys, &cfg);
    CHECK(r == 0, "open: %s", vmk_strerror(r));
    struct job jobs[2];
    pthread_t th[2];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    for (int i = 0; i < 2; i++) {
        jobs[i].go = &go;
        vmk_space_create(sys, &jobs[i].as);
        jobs[i].m = vmk_map_anon(jobs[i].as, WS * 4096, VMK_PROT_READ | VMK_PROT_WRITE);
        CHECK(jobs[i].m, "map");
    }
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, cycle, &jobs[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    double t = (double)(jobs[0].passes + jobs[1].passes);
    pthread_barrier_destroy(&go);
    vmk_stats_get(sys, st);
    *said = st->thrash_events > 0;
    printf("load control %s: %.0f passes in %.1f s, %llu major faults, %llu refaults, %llu thrashing "
           "episodes, %llu pauses\n", load_control ? "on " : "off", t, SECONDS,
           (unsigned long long)st->faults_major,
           (unsigned long long)st->refaults, (unsigned long long)st->thrash_events,
           (unsigned long long)st->pauses);
    vmk_system_close(sys);
    return t;
}

int main(void)
{
    vmk_stats off, on;
    int said_off = 0, said_on;
    double w_off = 0;
    /* Two threads thrash only while both fault: run until they do (up to
     * ten tries: on a loaded machine one may hardly run for a while). */
    int sustained = 0;
    for (int tries = 0; tries < 10 && !sustained; tries++) {
        w_off = run(0, &off, &said_off);
        sustained = said_off && off.faults_major >= 5 * WS;   /* not a brief brush */
    }
    CHECK(sustained, "ten runs without load control, and no sustained thrashing was detected");
    CHECK(off.refaults * 2 > off.faults_major, "without load control most faults should be refaults");
    double w_on = run(1, &on, &said_on);
    /* If the system never thrashed there was nothing to control. */
    CHECK(on.thrash_events == 0 || on.pauses >= 1, "thrashing, yet load control never paused a space");
    double mpp_off = (double)off.faults_major / w_off, mpp_on = (double)on.faults_major / w_on;
    CHECK(mpp_on < mpp_off, "load control did not reduce major faults per pass (%.1f vs %.1f)",
          mpp_on, mpp_off);
    CHECK(w_on > w_off, "load control did not get more work done: %.0f passes vs %.0f", w_on, w_off);
    printf("ok: load control did %.1fx the work, with %.1fx fewer major faults per pass\n",
           w_on / w_off, mpp_off / mpp_on);
    return 0;
}
