/*
 * io.h - whole-buffer positional I/O: loops over short transfers and EINTR,
 * and the I/O fault plans that tests arm (vmk_inject_fault, VMK_INJECT).
 *
 * A plan belongs to one channel (swap write, swap read, file write, file
 * read) and one effect (EIO, ENOSPC, short transfers, delay).  Each request
 * (one io_*_via call: one batch of swap slots, one run of file pages) asks
 * every armed plan of its channel whether it is hit: requests are counted
 * from the moment the plan was armed; the after-th is the first hit, then
 * every every-th one, count in all (-1: no end).  A hit
 *   EIO / ENOSPC  the request fails with that error, nothing transferred;
 *   SHORT         each system call of the request moves at most arg bytes
 *                 (rounded down to the descriptor's direct-I/O alignment);
 *                 the loop goes on with the rest, so the request succeeds;
 *                 a request no longer than that is not hit;
 *   DELAY         the request first sleeps arg microseconds.
 * No malloc, no locks: requests run in SIGBUS handlers.
 */
#ifndef VMK_IO_H
#define VMK_IO_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum io_chan { IO_SWAP_WRITE, IO_SWAP_READ, IO_FILE_WRITE, IO_FILE_READ, IO_NCHAN };
enum io_effect { IO_EIO, IO_ENOSPC, IO_SHORT, IO_DELAY, IO_NEFFECT };

struct io_plan {
    _Atomic int armed;
    _Atomic int64_t seen;          /* requests looked at since armed */
    _Atomic int64_t after, every;  /* first hit, then every every-th */
    _Atomic int64_t left;          /* hits still to come; -1: no end */
    _Atomic uint32_t arg;          /* SHORT: bytes per call; DELAY: microseconds */
    _Atomic uint64_t hits;         /* requests hit since the system opened */
};

struct io_faults {
    struct io_plan plan[IO_NCHAN][IO_NEFFECT];
};

/* How a request reaches its descriptor: the plans (NULL: none), the
 * channel, and the direct-I/O alignment of the descriptor (1: buffered). */
struct io_via {
    struct io_faults *faults;
    enum io_chan chan;
    uint32_t align;
};

/* Arm (after > 0) or disarm (after 0) one plan; hits are kept. */
void io_plan_set(struct io_plan *p, int64_t after, int64_t every, int64_t count, uint32_t arg);

/* 0, -errno, or -EIO when the file ends first. */
int io_pread_full(int fd, void *buf, size_t len, uint64_t off);
int io_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);
/* write(2) all of buf at the file position (logs, traces): 0 or -errno. */
int io_write_full(int fd, const void *buf, size_t len);

/* The same through the fault plans of `via`. */
int io_pread_via(struct io_via via, int fd, void *buf, size_t len, uint64_t off);
int io_pwrite_via(struct io_via via, int fd, const void *buf, size_t len, uint64_t off);
/* Read up to len bytes, fewer only at the end of the file: the count or -errno. */
ssize_t io_pread_upto_via(struct io_via via, int fd, void *buf, size_t len, uint64_t off);

/* A request made of several calls (fileio.c: an O_DIRECT part and a
 * buffered tail) meets the plans once: io_via_start applies them to the
 * whole request of len bytes (sleeps, or -EIO/-ENOSPC, or sets *cap, the
 * largest transfer per call), then io_pread_upto reads each part with that
 * cap.  The count read (short only at the end of the file) or -errno. */
int io_via_start(struct io_via via, size_t len, size_t *cap);
ssize_t io_pread_upto(int fd, void *buf, size_t len, uint64_t off, size_t cap);

#endif
