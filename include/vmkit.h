/*
 * vmkit.h - a virtual-memory system in user space.
 *
 * A *system* owns a fixed budget of physical frames, a swap device, a page
 * replacement policy and the fault engine.  Several *address spaces* share it,
 * as processes share a kernel.  Memory returned by vmk_map_anon() is ordinary
 * memory: plain loads and stores from any thread work.  Nothing is resident
 * until it is touched; when the budget is full, vmkit evicts pages to swap and
 * brings them back on the next access.  Faults are real MMU faults, delivered
 * by userfaultfd and resolved in the faulting thread.
 *
 * Conventions
 *   - Calls that return int return 0 on success or a negative errno.
 *   - Calls that return a pointer return NULL and set errno on failure.
 *   - All calls are thread-safe.  Faults may happen on any thread at any time.
 *   - vmkit installs a SIGBUS handler and a SIGSEGV handler (they chain to
 *     handlers installed before vmk_system_open(); install yours first).
 *     Threads must not block SIGBUS or SIGSEGV.  The SIGSEGV handler only
 *     retries accesses vmkit's own VMAs allow, made while vmkit remapped a
 *     range (vmk_space_fork's collapsing); every other SIGSEGV is passed on.
 *   - vmkit memory is not inherited by fork(2)'s children (MADV_DONTFORK):
 *     there it is unmapped, and a touch is SIGSEGV.
 *   - The kernel cannot fault in vmkit pages for you: a system call that reads
 *     or writes a non-resident vmkit page (read(2) into it, for instance)
 *     fails with EFAULT.  Copy through a buffer of your own.
 *
 * Errors a program sees (besides the negative errno of a call):
 *   - An access outside every mapping, or one the protections forbid:
 *     SIGSEGV, exactly as the kernel gives it.
 *   - A page that cannot be made resident (swap device full, an I/O error,
 *     no frame can be freed): SIGBUS to the faulting thread, counted in
 *     vmk_stats.sigbus and reported once on stderr.  Never wrong data.
 */
#ifndef VMKIT_H
#define VMKIT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VMK_VERSION_MAJOR 0
#define VMK_VERSION_MINOR 1

/* Page protections (same values as PROT_* of <sys/mman.h>). */
#define VMK_PROT_NONE  0x0
#define VMK_PROT_READ  0x1
#define VMK_PROT_WRITE 0x2

#define VMK_PAGE_SIZE 4096u

typedef struct vmk_system vmk_system; /* frames, swap devices, policy, fault engine */
typedef struct vmk_space  vmk_space;  /* an address space: VMAs + software page table */

/*
 * Configuration.  Start from vmk_config_default(), which reads the VMK_*
 * environment variables named beside each field, then override what you
 * want.  Sizes in the environment accept K, M, G, T suffixes.
 */
typedef struct vmk_config {
    size_t memory_limit;    /* VMK_MEMORY_LIMIT: bytes of resident frames, whole
                               system, hard cap.  Default 256 MiB; at least
                               VMK_MIN_MEMORY_LIMIT. */
    const char *swap_path;  /* VMK_SWAP_PATH: a file, a block device, or a
                               directory (an unlinked 0600 file is made in it).
                               NULL: an unlinked 0600 file in $TMPDIR or /tmp. */
    size_t swap_size;       /* VMK_SWAP_SIZE: bytes; 0 grows on demand. */
    const char *policy;     /* VMK_POLICY: the replacement policy: "clock"
                               (default, second chance), "fifo", "lru" (LRU
                               approximated by aging of sampled reference
                               bits), "wsclock" or "wsclock:TAU" (WSClock,
                               window TAU faults; default: the frame count),
                               "s3fifo" (S3-FIFO).  docs/CONCEPTS.md. */
    unsigned fault_around;  /* VMK_FAULT_AROUND: most pages made resident by one
                               fault on sequential access (zero-fill and swap
                               read-ahead), 1..64.  Default 64.  The window
                               starts at one page and grows only while the
                               pages just below are resident, so an isolated
                               touch makes only its own page resident; 1 gives
                               strict one-page demand paging. */
    unsigned reclaim_batch; /* VMK_RECLAIM_BATCH: pages evicted per reclaim
                               pass, 1..256.  Default 64. */
    int verbose;            /* VMK_VERBOSE: 1 prints set-up facts on stderr. */
    int kswapd;             /* VMK_KSWAPD: 1 (default) runs a background
                               reclaimer thread that keeps frames free ahead
                               of faults; 0 makes faulting threads reclaim. */
    const char *trace_path; /* VMK_TRACE: record the fault trace of the run
                               here (see vmk_trace_start).  NULL: none. */
    int load_control;       /* VMK_LOAD_CONTROL: 1 (default): while the system
                               thrashes, pause the faults of the lowest-priority
                               space (vmk_space_set_priority; ties: the newest)
                               until the others fit, 2 s at most at a time. */
    /* Called when thrashing starts (1) and stops (0).  It runs in a faulting
     * thread's SIGBUS handler: async-signal-safe code only. */
    void (*on_thrashing)(vmk_system *sys, int thrashing, void *arg);
    void *on_thrashing_arg;
    unsigned reserved[4];   /* zero */
    const char *stats_path; /* VMK_STATS: append a line of counters (system and
                               each space: faults, majors, swap in/out,
                               resident, swap used, working set, refaults,
                               thrashing, memory stall) to this file every
                               stats_interval_ms, and one at close, like
                               `vmstat 1`; `vmkit stat FILE [--follow]` prints
                               it as a table.  Text, one header line per run;
                               the format is described in src/statlog.c.  NULL:
                               VMK_STATS is read when the system opens; neither:
                               no log.  Several systems open at once should use
                               several files. */
    unsigned stats_interval_ms; /* VMK_STATS_INTERVAL_MS: milliseconds between
                               lines, 1..3600000; 0: the variable, or 1000. */
} vmk_config;

#define VMK_MIN_MEMORY_LIMIT ((size_t)1 << 20)

/* Defaults, overridden by VMK_* environment variables. */
vmk_config vmk_config_default(void);

/*
 * Open a system.  Errors: -EINVAL (NULL argument, memory_limit below
 * VMK_MIN_MEMORY_LIMIT (it is rounded down to whole pages),
 * fault_around, reclaim_batch or stats_interval_ms out of range, unknown
 * policy), the -errno of opening the stats log (stats_path), -ENOENT,
 * -EACCES, -ENOTDIR... (swap_path unusable), -ENOSYS or -EPERM (userfaultfd
 * unavailable), -EMFILE (too many systems open; at most 16), -ENOMEM.
 */
int  vmk_system_open(vmk_system **out, const vmk_config *cfg);

/* Destroy every space still open, release frames, close and free the swap. */
void vmk_system_close(vmk_system *sys);

/* A new, empty address space.  Errors: -EINVAL, -ENOMEM. */
int  vmk_space_create(vmk_system *sys, vmk_space **out);

/* Unmap everything in the space and free it.  No thread may still use its memory. */
void vmk_space_destroy(vmk_space *as);

/*
 * Copy-on-write fork.  *child becomes a new space of the same system whose
 * mappings hold the bytes of parent's, at other addresses (one child mapping
 * per parent mapping, same size and protection; vmk_space_translate finds
 * them).  No page is copied: both spaces share every frame and swap slot,
 * read-only, and the first write to a page by either side copies that page
 * alone.  Shared file mappings stay shared, as after fork(2).  Time: O(VMAs
 * + page-table pages of earlier forks' private pages), no data moved.
 * Errors: -EINVAL (NULL), -ENOMEM, -EMLINK (more than VMK_FORK_DEPTH_MAX
 * live forks stacked on one mapping: a chain of spaces each forked from the
 * last, or that many live children of one space; a child destroyed no
 * longer counts, so fork/destroy and vmk_space_reset loops run forever).
 * On error parent's contents are unchanged.
 */
#define VMK_FORK_DEPTH_MAX 64
int   vmk_space_fork(vmk_space *parent, vmk_space **child);

/* The address in `to` that holds the page `addr` holds in `from` (same
 * mapping lineage, same page), with the same offset in the page; NULL if
 * none (errno EINVAL or EFAULT).  Works across forks of forks and siblings. */
void *vmk_space_translate(vmk_space *to, vmk_space *from, const void *addr);

/*
 * Drop the child's private copies: every mapping of a space made by
 * vmk_space_fork holds its parent's current contents again, at the same
 * addresses.  When the parent has not written since the fork (or the last
 * reset) this takes time proportional to the pages the child changed;
 * otherwise the parent's changes are shared anew (proportional to them and
 * to the mappings).  No thread may use the child's memory meanwhile (its
 * mappings are replaced).  Errors: -EINVAL (NULL, or not made by fork),
 * -ESRCH (the parent space is gone), -ENOMEM, -EMLINK.
 */
int   vmk_space_reset(vmk_space *child);

/*
 * Map len bytes (rounded up to pages) of zero-filled anonymous memory.
 * prot is VMK_PROT_NONE or a combination of VMK_PROT_READ and VMK_PROT_WRITE.
 * Returns the page-aligned address, or NULL with errno EINVAL (NULL space,
 * len 0 or overflowing, bad prot) or ENOMEM.
 */
void *vmk_map_anon(vmk_space *as, size_t len, int prot);

/*
 * Unmap [addr, addr+len).  addr must be page-aligned and the range must lie
 * inside mappings of this space (it may span several, and split one).
 * Resident frames and swap slots of the range are released.
 * Errors: -EINVAL (NULL, unaligned, len 0 or overflowing, range not fully
 * mapped by this space).  On error nothing changes.
 */
int  vmk_unmap(vmk_space *as, void *addr, size_t len);

/*
 * Map len bytes of the file fd from offset on.  flags: VMK_MAP_SHARED (writes
 * reach the file: written back on eviction, vmk_sync, unmap and close; all
 * shared mappings of one file in a system see one page cache) or
 * VMK_MAP_PRIVATE (writes stay in memory and swap like anonymous pages,
 * never reach the file).  vmkit keeps its own descriptor: fd may be closed.
 * As the kernel's mmap: a touch in the last partial page past the end of the
 * file reads zeros; beyond it, SIGBUS.  Files up to 1 TiB.
 * Errors (NULL + errno): EINVAL (NULL, len 0 or overflowing, offset not
 * page-aligned, bad prot or flags), EBADF (fd), EACCES (fd not open for
 * reading, or PROT_WRITE on a shared mapping of an fd not open for writing),
 * ENODEV (not a regular file), ENOMEM.
 */
#define VMK_MAP_SHARED  0x01
#define VMK_MAP_PRIVATE 0x02
void *vmk_map_file(vmk_space *as, int fd, off_t offset, size_t len, int prot, int flags);

/*
 * Write the dirty pages of shared file mappings in [addr, addr+len) back to
 * their files and wait for the device (like msync(MS_SYNC)).  Anonymous and
 * private ranges are accepted and have nothing to write.  0, -EINVAL (as
 * vmk_unmap), or -EIO/-ENOSPC from writeback (the pages stay dirty).
 */
int  vmk_sync(vmk_space *as, void *addr, size_t len);

/* Change protections of [addr, addr+len); same rules and errors as vmk_unmap,
 * plus -EINVAL for a bad prot and -EACCES for write access to a shared
 * mapping of a file not open for writing. */
int  vmk_protect(vmk_space *as, void *addr, size_t len, int prot);

/* What the software page table says about one page.  (The struct has no
 * typedef: the name vmk_page_info belongs to the function.) */
typedef enum vmk_page_state {
    VMK_PAGE_NONE = 0,     /* never touched (or dropped while all zero) */
    VMK_PAGE_RESIDENT = 1, /* in a frame */
    VMK_PAGE_SWAPPED = 2,  /* out, in swap slot swap_slot */
} vmk_page_state;

struct vmk_page_info {
    vmk_page_state state;
    int64_t swap_slot;     /* slot holding the page, or -1.  A resident clean
                              page may keep its slot (swap cache). */
    unsigned swap_refs;    /* reference count of that slot, 0 if none */
    int dirty;             /* resident and differs from its swap copy */
    int referenced;        /* reference bit as the policy sees it */
    int mapped;            /* the MMU maps it now (a touch will not fault) */
    int prot;              /* VMK_PROT_* of the mapping */
    int shared;            /* the page is shared since a fork (a frozen
                              snapshot's): a write copies it */
};

/* Errors: -EINVAL (NULL), -EFAULT (addr not mapped by this space). */
int  vmk_page_info(vmk_space *as, const void *addr, struct vmk_page_info *out);

/* Counters, like vmstat.  Pages are VMK_PAGE_SIZE bytes. */
typedef struct vmk_stats {
    uint64_t faults;            /* every fault vmkit resolved */
    uint64_t faults_minor;      /* resolved without I/O (zero-fill, remap, write-enable) */
    uint64_t faults_major;      /* needed a read from swap */
    uint64_t pages_zero_filled; /* first touches (fault-around included) */
    uint64_t pages_swapped_in;  /* read from swap (read-ahead included) */
    uint64_t pages_swapped_out; /* written to swap */
    uint64_t pages_evicted;     /* frames taken away (written or dropped clean) */
    uint64_t pages_dropped_clean; /* evicted without a write: swap copy valid */
    uint64_t ref_samples;       /* pages unmapped by the policy to see a reference */
    uint64_t wp_faults;         /* first writes to clean pages */
    uint64_t sigbus;            /* faults that could not be resolved */
    uint64_t swap_full;         /* evictions refused: no free swap slot */
    uint64_t io_errors;         /* failed swap reads or writes */
    uint64_t resident;          /* pages in frames now */
    uint64_t resident_peak;     /* most pages in frames at once */
    uint64_t swap_used;         /* swap slots in use now */
    uint64_t swap_total;        /* swap slots the device has now */
    uint64_t frames_total;      /* memory_limit / page size (system only) */
    uint64_t fault_ns;          /* time threads spent resolving faults */
    uint64_t pages_file_read;   /* file pages read in (read-ahead included) */
    uint64_t pages_file_written; /* dirty shared file pages written back */
    uint64_t refaults;          /* major faults on pages evicted less than a
                                   budget's worth of evictions ago: they would
                                   have stayed with a little more memory (the
                                   mark of thrashing; Linux's refault distance) */
    uint64_t thrashing;         /* 1 while the system thrashes: over the last
                                   50 ms window, refaults >= 25% of major faults
                                   and fault time >= 50% of wall time */
    uint64_t thrash_events;     /* times thrashing started */
    uint64_t pauses;            /* times load control paused a space (this one) */
    uint64_t paused_faults;     /* faults that waited on a pause */
    uint64_t cow_breaks;        /* pages copied by copy-on-write breaks */
    uint64_t cow_ahead;         /* of those, copied ahead of a sequential
                                   writer (copy-on-write around), not yet
                                   written when copied */
    uint64_t shared_resident;   /* resident pages shared by fork (frozen
                                   snapshots; system only): counted once, not
                                   in any space's `resident` */
    uint64_t working_set;       /* Denning's W(t, tau): pages referenced within
                                   the last working_set_tau_ms of wall time,
                                   resident or evicted since (so it can exceed
                                   the frames: a scan at r pages/s has r * tau).
                                   Estimated from the reference bits the policy
                                   and a background sampler clear (a page in use
                                   is looked at every tau/4 to 3tau/8); a page
                                   evicted and faulted back counts once (a
                                   shadow of it is kept for ~4 x frames evictions).
                                   Pages shared by fork count here as in
                                   shared_resident: in the system's figure, not
                                   a space's. docs/CONCEPTS.md */
    uint64_t working_set_tau_ms; /* tau: VMK_WS_TAU_MS, default 1000; 0 turns
                                   the estimate and its sampler off */
    uint64_t file_readahead;    /* file pages read by a fault besides the page
                                   it needed: the window of a sequential or
                                   strided reader (largest: VMK_FILE_READAHEAD
                                   pages, default 64, 0 turns it off) */
    uint64_t file_readahead_hits; /* of those, pages the reader then went
                                   through (its next fault came after them) */
    uint64_t file_readahead_waste; /* of those, pages evicted before the
                                   reader came to them (or whose reader was
                                   given up); the rest are still pending */
    uint64_t stall_some_ns;     /* memory stall, like PSI's "some": wall time
                                   during which at least one thread of the space
                                   (of the system, for vmk_stats_get) was inside
                                   a fault - resolving it, waiting for I/O, a
                                   frame or a page another thread holds, or
                                   paused by load control.  The union of the
                                   threads' fault intervals, not their sum
                                   (that is fault_ns): at most wall_ns.  There
                                   is no "full" (all threads stalled at once):
                                   vmkit sees only the threads that fault, not
                                   how many threads the space has or which of
                                   them would otherwise be runnable. */
    uint64_t wall_ns;           /* time since the system opened (for a space
                                   too): stall_some_ns / wall_ns is the stall
                                   share vmk_stats_print shows */
    uint64_t fork_collapses;    /* frozen snapshots merged into their last
                                   child when its sibling went (a destroyed
                                   fork, a reset): what keeps fork chains as
                                   deep as the live forks only */
    uint64_t file_pages_moved;  /* file pages of a mapping read-only and alone
                                   on its file (mapped once) that came in as a
                                   recycled page moved into place: no page
                                   allocated, zeroed or freed for them */
} vmk_stats;

/* System-wide counters.  Errors: -EINVAL. */
int  vmk_stats_get(vmk_system *sys, vmk_stats *out);
/* Load control pauses spaces of lower priority first (default 0).  -EINVAL. */
int  vmk_space_set_priority(vmk_space *as, int priority);

/* Counters of one space (swap_total and frames_total are the system's).
 * Pages of shared file mappings belong to the system's page cache of the
 * file, not to one space: they count in vmk_stats_get only. */
int  vmk_space_stats(vmk_space *as, vmk_stats *out);

/* A line per counter, human-readable, like vmstat. */
void vmk_stats_print(const vmk_stats *st, FILE *f);

/*
 * Fault injection, for tests: make the swap device or mapped files fail.
 * vmk_inject_fault arms kind so that the after-th I/O request of its kind
 * from now on is hit (after = 1: the next one; 0 disarms).  The error kinds
 * hit that one request; SHORT and DELAY kinds hit it and every later one.
 * A request is one swap write of a batch of evicted pages, one swap read
 * of a fault's window, one file read of a fault's window, one file write of
 * a run of dirty pages.  What each kind does, and what a program then sees
 * (docs/FAULTS.md):
 *   SWAP_WRITE (EIO), SWAP_WRITE_NOSPC (ENOSPC): nothing is written; the
 *       pages stay resident and dirty and are written at a later eviction
 *       (counted in io_errors).  Nothing is lost; a fault that can get no
 *       frame at all gets SIGBUS.
 *   SWAP_READ (EIO): the faulting thread gets SIGBUS; the page stays in swap.
 *   FILE_READ (EIO): the thread faulting on a file page gets SIGBUS.
 *   FILE_WRITE (EIO), FILE_WRITE_NOSPC (ENOSPC): vmk_sync returns -EIO or
 *       -ENOSPC and the pages stay dirty; eviction keeps them resident.
 *       A later vmk_sync or eviction writes them.
 *   *_SHORT: each system call moves at most arg bytes (default 1000,
 *       rounded down to the O_DIRECT alignment); vmkit carries on with the
 *       rest: data right, more system calls.
 *   *_DELAY: each request first sleeps arg microseconds (default 100):
 *       data right, only slower.
 * VMK_INJECT in the environment arms plans in every system opened (syntax
 * in docs/FAULTS.md); a malformed value makes vmk_system_open fail -EINVAL.
 * Errors: -EINVAL (NULL system, unknown kind, after < 0).
 */
#define VMK_INJECT_SWAP_WRITE        1   /* EIO on a swap write */
#define VMK_INJECT_SWAP_READ         2   /* EIO on a swap read */
#define VMK_INJECT_SWAP_WRITE_NOSPC  3   /* ENOSPC on a swap write */
#define VMK_INJECT_SWAP_WRITE_SHORT  4   /* short swap writes */
#define VMK_INJECT_SWAP_READ_SHORT   5   /* short swap reads */
#define VMK_INJECT_SWAP_WRITE_DELAY  6   /* slow swap writes */
#define VMK_INJECT_SWAP_READ_DELAY   7   /* slow swap reads */
#define VMK_INJECT_FILE_WRITE        8   /* EIO writing a shared file mapping back */
#define VMK_INJECT_FILE_READ         9   /* EIO reading a file page in */
#define VMK_INJECT_FILE_WRITE_NOSPC 10   /* ENOSPC writing a file back */
#define VMK_INJECT_FILE_WRITE_SHORT 11
#define VMK_INJECT_FILE_READ_SHORT  12
#define VMK_INJECT_FILE_WRITE_DELAY 13
#define VMK_INJECT_FILE_READ_DELAY  14
#define VMK_INJECT_KIND_MAX         14
int  vmk_inject_fault(vmk_system *sys, int kind, int64_t after);

/*
 * The whole plan of one kind, like sigaction(2): if set, arm it (set->after
 * > 0) or disarm it (0); if old, store the plan before the call there, and
 * in old->hits the requests that kind has hit since the system opened.
 * The first request hit is the after-th from now (requests too short to be
 * shortened are not counted by SHORT kinds), then every every-th one, count
 * in all.  Errors: -EINVAL (NULL system, unknown kind, after < 0,
 * count < -1, every < 0, arg not 0 for an error kind, a delay over
 * 1 000 000 us).
 */
typedef struct vmk_inject {
    int64_t after;    /* first request hit: 1 = the next; 0 = disarmed */
    int64_t count;    /* requests to hit in all; -1: no end; 0: the kind's
                         default (1 for errors, -1 for SHORT and DELAY) */
    int64_t every;    /* after the first, hit every every-th (0 or 1: each) */
    uint32_t arg;     /* SHORT: bytes per system call; DELAY: microseconds;
                         0: the default; error kinds: 0 */
    uint64_t hits;    /* old only: requests hit since the system opened
                         (old->count is then the hits still to come) */
} vmk_inject;
int  vmk_inject_config(vmk_system *sys, int kind, const vmk_inject *set, vmk_inject *old);

/*
 * Record the page-level fault trace into the file at path (created 0600,
 * truncated) until vmk_trace_stop or vmk_system_close.  Format: a 16-byte
 * header "VMKTRC01", u32 page size, u32 flags; then 16-byte records
 * { u64 page = space id << 48 | address >> 12; u32 event; u32 time_us },
 * event 1 zero-fill fault, 2 swap-in/file-read fault, 3 minor fault (a
 * sampled reference), 4 first write to a clean page, 5 eviction.
 * `vmkit sim` replays it.  Errors: -EINVAL, -EBUSY (already tracing), or the
 * -errno of open/write.
 */
int  vmk_trace_start(vmk_system *sys, const char *path);
int  vmk_trace_stop(vmk_system *sys);

/* Text for a negative errno returned by vmkit (or a positive errno). */
const char *vmk_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif /* VMKIT_H */
