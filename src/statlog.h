/*
 * statlog.h - the stats log (VMK_STATS, vmk_config.stats_path): a thread
 * that appends a line of counters to a file every interval (statlog.c).
 */
#ifndef VMK_STATLOG_H
#define VMK_STATLOG_H

#include "internal.h"

#define STATLOG_VERSION 1
#define STATLOG_MAX_INTERVAL_MS 3600000u

/* Start the log if the configuration (or VMK_STATS) names a file: write the
 * header line and start the thread.  0, or the -errno of open/write/thread. */
VMK_HIDDEN int  statlog_start(struct vmk_system *sys);
/* Write a last line, stop the thread, close the file (no-op if none). */
VMK_HIDDEN void statlog_stop(struct vmk_system *sys);

/* stats.c: the counters of one space, maplock held (shared or exclusive). */
VMK_HIDDEN void stats_space_locked(struct vmk_space *as, vmk_stats *out);

#endif
