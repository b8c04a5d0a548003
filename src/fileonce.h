/*
 * fileonce.h - a file mapped once, read-only: pages that move (fileonce.c).
 */
#ifndef VMK_FILEONCE_H
#define VMK_FILEONCE_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

struct vmk_system;
struct vmk_object;
struct vmk_vma;
struct victim;

/* Should o's first VMA, with protection prot, be mapped once?  (maplock
 * exclusive, o has no VMA yet) */
bool  fileonce_wanted(struct vmk_system *sys, struct vmk_object *o, int prot);
/* The kernel mapping of such a VMA: NULL and *err on failure. */
void *fileonce_map(struct vmk_system *sys, size_t len, int *err);
/* Pages [pg, pg+n) of o (vma's object, mapped once; entries locked, never
 * read) read from the file into staging (FA_RUN pages of the caller's own),
 * copied into recycled pages from the pool and moved into vma
 * write-protected (the rest copied in as new pages).  Frames into fr (n at most).  Returns how
 * many of the first pages are in place, each with its frame fr[i]; the
 * others have no frame and stay locked for the caller.  -EIO: none (a read
 * failed); 0: no frame could be had or the file ends before pg. */
int   fileonce_read(struct vmk_system *sys, struct vmk_vma *vma, size_t pg, uint32_t n,
                    uint32_t *fr, char *staging);
/* Evict victims v[0..k) (taken, clean, consecutive pages of one object
 * mapped once): their pages move to the pool with their frames, or are
 * dropped.  Sets v[i].pooled for those the pool kept. */
void  fileonce_evict(struct vmk_system *sys, struct victim *v, uint32_t k);
/* o stops being mapped once (a second VMA, a split, a fork, a new
 * protection): its pages are dropped (clean: the file has them) and its VMA
 * becomes a frame-store window like any other.  maplock exclusive. */
int   fileonce_end(struct vmk_object *o);

#endif
