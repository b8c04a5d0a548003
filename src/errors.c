/*
 * errors.c - messages for people.
 */
#include "internal.h"
#include <string.h>

VMK_API const char *vmk_strerror(int err)
{
    if (err < 0)
        err = -err;
    switch (err) {
    case 0: return "success";
    case EINVAL: return "invalid argument (NULL, zero or overflowing length, unaligned or unmapped address, bad protection or configuration)";
    case ENOSPC: return "swap device full";
    case EIO: return "I/O error on the swap device";
    case ENOMEM: return "out of memory (or no frame could be freed)";
    case EFAULT: return "address not mapped by this space";
    case ENOSYS: return "userfaultfd is not available in this kernel";
    case EPERM: return "userfaultfd is not permitted (vm.unprivileged_userfaultfd)";
    case ENOTSUP: return "the kernel's userfaultfd lacks a needed feature (SIGBUS, shmem MINOR or WP)";
    case EMFILE: return "too many vmkit systems open";
    default: return strerror(err);
    }
}
