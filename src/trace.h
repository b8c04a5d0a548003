/*
 * trace.h - recording the page-level fault trace of a real run.
 *
 * Format (little-endian), read by `vmkit trace` and `vmkit sim`:
 *   header  8 bytes "VMKTRC01", uint32 page_size (4096), uint32 flags (0)
 *   records 16 bytes each: uint64 page, uint32 event, uint32 time_us
 *   page    (space id << 48) | (virtual address >> 12)
 *   event   1 zero-fill fault, 2 swap-in (or file read) fault, 3 minor fault
 *           (a sampled reference), 4 first write to a clean page, 5 eviction
 *   time_us microseconds since the trace started (wraps after 71 minutes)
 * A fault records only the page that faulted; fault-around and read-ahead
 * pages were not referenced, so they are not in the reference string.
 */
#ifndef VMK_TRACE_H
#define VMK_TRACE_H

#include <stdint.h>

enum trace_event { TR_ZERO = 1, TR_MAJOR = 2, TR_MINOR = 3, TR_WP = 4, TR_EVICT = 5 };

struct vmk_system;
struct trace;

int  trace_open(struct vmk_system *sys, const char *path);
int  trace_close(struct vmk_system *sys);
/* Append one record (async-signal-safe; a no-op when not tracing). */
void trace_record(struct vmk_system *sys, uint32_t space_id, uintptr_t addr, enum trace_event ev);

#endif
