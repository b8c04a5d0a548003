/*
 * thread.h - vmkit's own background threads (kswapd, the working-set
 * sampler, the file watcher...) are started with every signal blocked, so
 * that the application's signals (and SIGBUS of a fault) are never
 * delivered to them.
 */
#ifndef VMK_THREAD_H
#define VMK_THREAD_H

#include <pthread.h>
#include <signal.h>

/* pthread_create with all signals blocked in the new thread: 0 or an errno. */
static inline int thread_start_quiet(pthread_t *t, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int r = pthread_create(t, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return r;
}

#endif
