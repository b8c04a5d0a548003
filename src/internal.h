/*
 * internal.h - the objects of vmkit and how they hold together.
 *
 *   vmk_system  owns the frame-store (one memfd), the frames' core map, the
 *               swap device, the policy, and every space and VMA.  Its
 *               maplock (rwlock) guards the VMA list: faults take it shared,
 *               map/unmap/protect/destroy take it exclusive.
 *   vmk_space   an address space: its VMAs (in the system's sorted list) and
 *               its counters.
 *   vmk_vma     [start, end) of the process's address space, mapped
 *               MAP_SHARED from the frame-store at the offset of its object,
 *               registered with userfaultfd (MISSING | MINOR | WP).
 *   vmk_object  the pages behind one or more VMAs: a range of frame-store
 *               offsets and the software page table of those pages.
 *
 * See docs/ARCHITECTURE.md for the locking order and the life of a fault.
 */
#ifndef VMK_INTERNAL_H
#define VMK_INTERNAL_H

#include "vmkit.h"
#include "lock.h"
#include "pte.h"
#include "stats.h"
#include "frames.h"
#include "swap.h"
#include "policy.h"
#include "trace.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <sys/types.h>

#define PAGE_SIZE_   4096u
#define PAGE_SHIFT_  12
#define FA_MAX       64          /* largest fault-around / read-ahead window */
#define BOUNCE_BUFS  16          /* I/O buffers shared by faulting threads */
#define VMK_MAX_SYSTEMS 16

#define VMK_HIDDEN __attribute__((visibility("hidden")))
#define VMK_API __attribute__((visibility("default")))

struct vmk_object {
    struct vmk_system *sys;
    struct vmk_space *owner;     /* whose counters its pages charge */
    uint64_t base;               /* byte offset of page 0 in the frame-store */
    size_t npages;
    pte_t *ptes;                 /* npages entries (lazily backed mmap) */
    struct vmk_vma **vmas;       /* VMAs that map part of it; maplock */
    int nvmas, cap_vmas;
    /* File-backed objects (file.c); file_fd < 0 for anonymous memory. */
    int file_fd;                 /* our own descriptor of the file */
    int file_dio_fd;             /* the same file opened O_DIRECT, -1: none (fileio.c) */
    _Atomic uint64_t file_size;  /* the file's size as last seen (fileio.c) */
    char *file_alias;            /* object pages [0, file_alias_pages) mapped unregistered,
                                    for reads into them (fileio.c); NULL: none */
    size_t file_alias_pages;
    uint64_t file_pgoff;         /* file page of object page 0 */
    bool file_shared;            /* MAP_SHARED: the system's page cache of the file */
    bool file_writable;          /* file_fd may be written */
    dev_t dev;
    ino_t ino;
    struct vmk_object *next_file; /* sys->files list; maplock */
    int watch;                   /* inotify watch of a shared file, -1: none (filewatch.c) */
    _Atomic size_t touched_end;  /* 1 + highest page ever made resident */
    _Atomic int64_t resident;    /* pages with PTE_RES (fault_publish adds, drops
                                    and evictions take away) */
    _Atomic int write_hint;      /* > 0: pages read back from swap get written soon */
    _Atomic uint64_t ws[WS_BUCKETS]; /* its pages' working-set counts (workingset.c) */
    _Atomic bool ws_left;        /* a page of it left its frame (victim, drop,
                                    release): only then can a fill find its shadow
                                    (workingset.c) */
    /* Copy-on-write fork (fork.c, cow.c): objects form a tree.  A page
     * missing here shows through from `backing`; a frozen object is the
     * shared, read-only snapshot under its (at most two) children. */
    struct vmk_object *backing;  /* NULL: nothing under this one */
    struct vmk_object *bottom;   /* end of the backing chain (self if none): the
                                    frame-store range every VMA of the tree maps
                                    by default */
    struct vmk_object *child[2]; /* frozen: the objects backed by this one */
    _Atomic uint8_t *cover;      /* frozen: per page, bit k: child[k]'s subtree no
                                    longer needs this object's page */
    _Atomic size_t cover_end;    /* 1 + highest page with a cover bit */
    int slot;                    /* my index in backing->child[] */
    uint32_t depth;              /* length of the backing chain */
    bool frozen;
    /* Mapped once, read-only (fileonce.c): the resident pages are private
     * anonymous memory of its one VMA, moved in and out, not frame-store
     * pages.  maplock exclusive to change. */
    bool once;
};

struct vmk_vma {
    uintptr_t start, end;
    int prot;
    struct vmk_space *space;
    struct vmk_object *obj;
    size_t pgoff;                /* object page of start */
    /* Copy-on-write around (cow.c): where the last break ended, its size. */
    _Atomic size_t cow_next;
    _Atomic uint32_t cow_window;
    /* How the last fork took write access from it (fork.c): pages whose
     * entries it moved out (0: write-protected them), pages mapped back
     * since by shared faults (cow.c), and the running estimate (percent)
     * of how much of a moved-out VMA its space reads back. */
    size_t fork_moved;           /* maplock exclusive */
    _Atomic size_t fork_refilled;
    unsigned fork_reread;        /* maplock exclusive */
    bool stand_in;               /* a one-off VMA of a fault (cow.c): nothing may keep it */
};

struct vmk_space {
    struct vmk_system *sys;
    uint32_t id;                 /* 1, 2, ... in order of creation (traces) */
    int priority;                /* load control pauses the lowest first */
    struct vmk_space *parent;    /* vmk_space_fork's parent, NULL once gone; maplock */
    bool forked;                 /* made by vmk_space_fork */
    struct vmk_counters ctr;     /* atomics */
};

/* Thrashing detection and load control (thrash.c). */
struct thrash {
    _Atomic uint64_t window_start;
    vmk_mutex lock;              /* one evaluator at a time; guards the rest */
    uint64_t majors, refaults, stall;   /* counters at the window's start */
    _Atomic bool thrashing;
    _Atomic(struct vmk_space *) paused;
    uint64_t paused_at;
    _Atomic uint32_t resume;     /* bumped and futex-woken when a pause ends */
};

struct vmk_system {
    vmk_config cfg;
    char *swap_path;             /* copies of cfg strings */
    char *policy_name;
    int uffd;
    bool uffd_move;              /* the kernel has UFFDIO_MOVE (fileonce.c) */
    int store_fd;                /* the frame-store: a memfd, pages = frames */
    uint64_t store_next;         /* offsets above are free; maplock (write) */
    struct store_range { uint64_t off, len; } *store_free;  /* freed ranges below, sorted */
    size_t nstore_free, cap_store_free;

    vmk_rwlock maplock;
    struct vmk_vma **vmas;       /* sorted by start; maplock */
    size_t nvmas, cap_vmas;
    struct vmk_space **spaces;   /* maplock */
    size_t nspaces, cap_spaces;

    struct frames frames;
    struct swapdev swap;
    struct policy policy;

    vmk_mutex reclaim_lock;      /* one reclaimer at a time; guards the scratch below */
    _Atomic uint32_t reclaim_gen; /* bumped (and futex-woken) after each pass */
    struct kswapd *kswapd;       /* background reclaimer, NULL if off */
    _Atomic uint64_t evict_clock; /* pages evicted so far: the refault clock */
    struct reclaim_scratch *rs;

    char *bounce;                /* BOUNCE_BUFS buffers of FA_MAX pages */
    _Atomic uint32_t bounce_busy;

    struct vmk_object *files;    /* shared file objects, one per file; maplock */
    struct filewatch *filewatch; /* truncation watcher, started with the first file */
    struct fileasync *fileasync; /* file reads in flight, started with the first file */
    struct pagepool *pool;       /* free frames that keep their page (pagepool.c), NULL: none */
    _Atomic(struct reap *) reap; /* unmaps what forks moved out (reap.c), from the first fork */
    struct vmk_space file_space; /* owner of shared file objects (counters only) */
    struct vmk_space fork_space; /* owner of frozen (shared after fork) objects */
    uint32_t next_space_id;      /* maplock */
    _Atomic(struct trace *) trace; /* fault trace being recorded, or NULL */

    _Atomic int64_t cow_maps;    /* kernel mappings copy-on-write added (cow.c) */
    int64_t cow_map_budget;      /* past it, breaks copy whole blocks */
    struct vmk_counters ctr;     /* system totals */
    _Atomic int said_swapfull, said_io, said_oom, said_thrash, said_maps;
    struct thrash thrash;
};

/* system.c */
VMK_HIDDEN int  registry_for_each(int (*fn)(struct vmk_system *, void *), void *arg);
VMK_HIDDEN void registry_read_lock(void);
VMK_HIDDEN void registry_read_unlock(void);
VMK_HIDDEN struct vmk_system *registry_get(int i);

/* vma.c: the sorted VMA list of a system (maplock held) */
VMK_HIDDEN struct vmk_vma *vma_find(struct vmk_system *sys, uintptr_t addr);
VMK_HIDDEN size_t vma_index_of(struct vmk_system *sys, uintptr_t addr);
VMK_HIDDEN int  vma_insert(struct vmk_system *sys, struct vmk_vma *v);
VMK_HIDDEN void vma_remove_at(struct vmk_system *sys, size_t i);
VMK_HIDDEN int  vma_split(struct vmk_system *sys, size_t i, uintptr_t at);
VMK_HIDDEN int  vma_range_covered(struct vmk_system *sys, struct vmk_space *as, uintptr_t lo,
                                  uintptr_t hi);
VMK_HIDDEN int  vma_reserve(struct vmk_system *sys, size_t extra);
static inline size_t vma_page(const struct vmk_vma *v, uintptr_t addr)
{
    return v->pgoff + ((addr - v->start) >> PAGE_SHIFT_);
}
static inline uintptr_t vma_addr(const struct vmk_vma *v, size_t pg)
{
    return v->start + ((pg - v->pgoff) << PAGE_SHIFT_);
}

/* A page of o leaves its frame: from now on a fill of o may be a return
 * (workingset.c looks for its shadow).  Written once, read on every fill. */
static inline void ws_left(struct vmk_object *o)
{
    if (!atomic_load_explicit(&o->ws_left, memory_order_relaxed))
        atomic_store_explicit(&o->ws_left, true, memory_order_relaxed);
}

/* object.c */
VMK_HIDDEN struct vmk_object *object_create(struct vmk_system *sys, struct vmk_space *owner,
                                           size_t npages);
VMK_HIDDEN void object_release_pages(struct vmk_object *o, size_t first, size_t n);
VMK_HIDDEN int  object_add_vma(struct vmk_object *o, struct vmk_vma *v);
VMK_HIDDEN void object_del_vma(struct vmk_object *o, struct vmk_vma *v);
VMK_HIDDEN void object_zap(struct vmk_object *o, size_t pg, size_t n);
VMK_HIDDEN void object_free(struct vmk_object *o);
VMK_HIDDEN void object_drop_page(struct vmk_object *o, size_t pg, uint64_t v);
VMK_HIDDEN void object_punch(struct vmk_object *o, size_t pg, size_t n);

/* fork.c: the object tree (maplock held exclusive unless said) */
VMK_HIDDEN void tree_unlink(struct vmk_object *o);
/* Called with the chain's entries of pg locked from o down to the page's
 * holder (cow.c): o now has its own page pg; record that in the objects
 * below and free pages nobody can see any more.  Maplock shared. */
VMK_HIDDEN void tree_cover(struct vmk_object *o, size_t pg);

/* cow.c: faults in a VMA whose object has a backing chain */
#define FAULT_WRITE   1          /* cow_fault's how: a write access */
#define FAULT_PRESENT 2          /* the page was mapped (a write-protect fault) */
VMK_HIDDEN int  cow_fault(struct vmk_system *sys, struct vmk_vma *vma, size_t pg, int how);
VMK_HIDDEN void cow_forget_maps(struct vmk_system *sys, struct vmk_vma *vma);
VMK_HIDDEN void cow_count_maps(struct vmk_system *sys, struct vmk_vma *vma);

/* collapse.c: x is frozen and has one child left: merge the child into x
 * (maplock exclusive) */
VMK_HIDDEN void tree_collapse(struct vmk_object *x);

/* file.c */
VMK_HIDDEN int  file_fault(struct vmk_system *sys, struct vmk_vma *vma, size_t pg, int write);
VMK_HIDDEN int  file_writeback(struct vmk_system *sys, struct vmk_object *o, uint32_t pg,
                               const void *buf, uint32_t n);
VMK_HIDDEN int  file_sync_range(struct vmk_object *o, size_t first, size_t n, bool durable);
VMK_HIDDEN void file_object_unlink(struct vmk_object *o);
VMK_HIDDEN int  filewatch_add(struct vmk_object *o);
VMK_HIDDEN void filewatch_del(struct vmk_object *o);
VMK_HIDDEN void filewatch_stop(struct vmk_system *sys);
VMK_HIDDEN int  file_page_read(struct vmk_system *sys, struct vmk_object *o, size_t pg, void *buf);
VMK_HIDDEN void file_object_close(struct vmk_object *o);

/* thrash.c */
VMK_HIDDEN bool thrash_check(struct vmk_system *sys, struct vmk_space *as);
VMK_HIDDEN void thrash_wait(struct vmk_system *sys, struct vmk_space *as);
VMK_HIDDEN bool thrash_now(struct vmk_system *sys);

/* fault.c */
VMK_HIDDEN void hint_add(_Atomic int *h, int d);
VMK_HIDDEN uint32_t fault_window(struct vmk_system *sys, struct vmk_vma *vma, size_t pg);
VMK_HIDDEN uint32_t fault_lock_none(struct vmk_vma *vma, size_t pg, uint32_t want, uint64_t *vals);
VMK_HIDDEN int  fault_frames(struct vmk_system *sys, struct vmk_object *o, size_t pg, uint32_t n,
                             const uint64_t *vals, uint32_t *fr);
VMK_HIDDEN int  fault_abort(struct vmk_system *sys, struct vmk_object *o, size_t pg, uint32_t n,
                            const uint32_t *fr, const uint64_t *vals, int err);
VMK_HIDDEN void fault_unlock_run(struct vmk_object *o, size_t pg, uint32_t n, const uint64_t *vals);
VMK_HIDDEN void fault_publish(struct vmk_system *sys, struct vmk_object *o, size_t pg, uint32_t n,
                              const uint32_t *fr, const uint64_t *newvals);
VMK_HIDDEN void fault_count(struct vmk_system *sys, struct vmk_space *as, enum vmk_counter k,
                            int64_t n);
VMK_HIDDEN int  fault_install_handler(void);
VMK_HIDDEN int  fault_zero(struct vmk_system *sys, struct vmk_vma *vma, size_t pg, int write);

/* reclaim.c */
VMK_HIDDEN int  reclaim_init(struct vmk_system *sys);
VMK_HIDDEN void reclaim_fini(struct vmk_system *sys);
VMK_HIDDEN int  frames_get(struct vmk_system *sys, size_t min, size_t want, uint32_t *out);
VMK_HIDDEN int  reclaim_background_pass(struct vmk_system *sys);

/* kswapd.c */
VMK_HIDDEN int  kswapd_start(struct vmk_system *sys);
VMK_HIDDEN void kswapd_stop(struct vmk_system *sys);
VMK_HIDDEN void kswapd_poke(struct vmk_system *sys);

/* bounce buffers (fault.c) */
VMK_HIDDEN char *bounce_get(struct vmk_system *sys, int *idx);
VMK_HIDDEN void  bounce_put(struct vmk_system *sys, int idx);

/* report.c: one line on stderr, once per kind */
VMK_HIDDEN void report_once(_Atomic int *flag, const char *msg);

#endif
