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

/* Start the readers of sys if the budget is large enough for reads in
 * flight and VMK_FILE_ASYNC is 1 (maplock exclusive; once).  Without
 * them file readahead goes through the kernel's page cache, as before.
 * 0 or -errno. */
int  fileasync_start(struct vmk_system *sys);
/* Stop them; nothing may be in flight (every mapping gone). */
void fileasync_stop(struct vmk_system *sys);
bool fileasync_on(struct vmk_system *sys);
/* From a fault (maplock held shared): start reading object pages
 * [pg, pg + n) of vma's object, as far as they are never read, free, in
 * the VMA and in the file, and frames are free.  They stay locked until
 * their read completes; then they are mapped in vma, clean and
 * write-protected, and unlocked (a fault on them meanwhile waits).
 * Returns the pages started, from pg on (0: none: no free request, no free
 * frame, too much in flight, or a writer waits for the maplock). */
uint32_t fileasync_read(struct vmk_system *sys, struct vmk_vma *vma, size_t pg, uint32_t n);

#endif
