/*
 * fileasync.h - file pages read ahead asynchronously, straight into frames
 * (fileasync.c).
 */
#ifndef VMK_FILEASYNC_H
#define VMK_FILEASYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vmk_system;
struct vmk_vma;

#define FA_RUN 256               /* pages per request, at most (1 MiB) */

/* Start the readers of sys if the budget is large enough for reads in
 * flight (8 MiB) and VMK_FILE_ASYNC is not 0 (maplock exclusive; once).  Without
 * them file readahead goes through the kernel's page cache, as before.
 * 0 or -errno. */
int  fileasync_start(struct vmk_system *sys);
/* Stop them; nothing may be in flight (every mapping gone). */
void fileasync_stop(struct vmk_system *sys);
/* Are o's pages read by the readers?  Only if sys has them and vmkit never
 * writes o's file: a shared mapping of a file vmkit may write back is read
 * through the page cache, where its writes are (a direct read would first
 * wait for them to reach the disk, and would miss the pages still cached). */
bool fileasync_for(struct vmk_object *o);
/* From a fault (maplock held shared): start reading object pages
 * [pg, pg + n) of vma's object, as far as they are never read, free, in
 * the VMA and in the file, and frames are free.  They stay locked until
 * their read completes; then they are mapped in vma, clean and
 * write-protected, and unlocked (a fault on them meanwhile waits).
 * At most FA_RUN pages.  Returns the pages started, from pg on (0: none: no free request, no free
 * frame, too much in flight, or a writer waits for the maplock). */
uint32_t fileasync_read(struct vmk_system *sys, struct vmk_vma *vma, size_t pg, uint32_t n);

#endif
