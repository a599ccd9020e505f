// Kernel ABI pieces that Swift cannot express directly. Each helper says why
// it exists; everything else goes through Glibc from Swift.
#ifndef GENIDD_CGENIDDSYS_H
#define GENIDD_CGENIDDSYS_H

#include <stddef.h>
#include <stdint.h>

/// Zeroes memory in a way the compiler may not elide (explicit_bzero), for
/// buffers that held the raw VM generation UUID.
void genidd_secure_zero(void *pointer, size_t length);

/// Reads a 32-bit word from a shared mapping with a volatile load, so that a
/// counter updated by the hypervisor or another process is re-read every time.
uint32_t genidd_volatile_load_u32(const void *pointer);

/// Reads a 64-bit word from a shared mapping with a volatile load.
uint64_t genidd_volatile_load_u64(const void *pointer);

/// A full acquire fence, as the seqcount read protocol needs between the
/// sequence read and the field reads.
void genidd_acquire_fence(void);

/// eventfd(2) with EFD_CLOEXEC | EFD_NONBLOCK: <sys/eventfd.h> is not part of
/// Swift's Glibc module.
int genidd_eventfd(void);

/// getrandom(2): <sys/random.h> is not part of Swift's Glibc module.
long genidd_getrandom(void *buffer, size_t length);

/// Names the calling thread (pthread_setname_np needs _GNU_SOURCE).
void genidd_set_thread_name(const char *name);

/// epoll(7): <sys/epoll.h> is not part of Swift's Glibc module. Creates an
/// epoll instance with EPOLL_CLOEXEC, or returns -1 with errno set.
int genidd_epoll_create(void);

/// Adds `fd` to `epoll_fd` for readability (plus hang-up and error), reported with `tag`.
int genidd_epoll_add(int epoll_fd, int fd, uint64_t tag);

/// Collects up to `capacity` ready tags without blocking; returns how many, or -1.
int genidd_epoll_ready(int epoll_fd, uint64_t *tags, uint32_t *events, int capacity);

#endif
