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

#endif
