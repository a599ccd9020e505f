// Kernel ABI pieces that Swift cannot express directly. Each helper says why
// it exists; everything else goes through Glibc from Swift.
#ifndef GENIDD_CGENIDDSYS_H
#define GENIDD_CGENIDDSYS_H

#include <signal.h>
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

/// Watches `fd` in `epoll_fd` for the peer hanging up (EPOLLRDHUP, plus
/// EPOLLHUP and EPOLLERR), once (EPOLLONESHOT), reported with `tag`; re-arms
/// an existing registration of the same descriptor. Data arriving on `fd` is
/// not reported. Returns 0 or -1 with errno set.
int genidd_epoll_watch_hangup(int epoll_fd, int fd, uint64_t tag);

/// Returns free heap memory to the kernel (malloc_trim(0)), after many
/// connections closed at once.
void genidd_trim_heap(void);

/// Collects up to `capacity` ready tags without blocking; returns how many, or -1.
int genidd_epoll_ready(int epoll_fd, uint64_t *tags, uint32_t *events, int capacity);

/// SYSGENID_GET_OUTDATED_WATCHERS of ABI revision v4 (_IO(0x2d, 1); later
/// revisions removed it and answer EINVAL): the number of watchers that have
/// not acknowledged the current generation, or -1 with errno set. Read-only,
/// so it is also how genidd tells v4 from later revisions.
int genidd_sysgenid_outdated_watchers(int fd);

/// SYSGENID_SET_WATCHER_TRACKING(enabled) of ABI revision v7 (also v6 and the
/// Amazon Linux driver; _IO(0xE4, 1)): counts this open file as a watcher
/// (or stops). Returns 0, or -1 with errno set. Never call it on a v5 device,
/// where _IO(0xE4, 1) is WAIT_WATCHERS.
int genidd_sysgenid_set_watcher_tracking(int fd, int enabled);

/// A non-blocking NETLINK_KOBJECT_UEVENT socket bound to the kernel's
/// broadcast group 1, or -1 with errno set. (Netlink's sockaddr_nl is not in
/// Swift's Glibc module.)
int genidd_uevent_open(void);

/// Receives one uevent datagram; stores the sender's netlink port id (0 for
/// the kernel). Returns the length, or -1 with errno set (EAGAIN, ENOBUFS...).
long genidd_uevent_receive(int fd, void *buffer, size_t length, uint32_t *sender_port);

/// Sets the socket receive buffer, beyond rmem_max when privileged
/// (SO_RCVBUFFORCE), else as far as SO_RCVBUF allows. Returns 0 or -1.
int genidd_set_receive_buffer(int fd, int bytes);

/// The fields of `struct vmclock_abi` (linux/vmclock-abi.h) that genidd reads.
struct genidd_vmclock_reading {
    uint32_t magic;
    uint32_t size;
    uint16_t version;
    uint32_t seq_count;
    uint64_t disruption_marker;
    uint64_t flags;
    /// Valid only when `size` covers it and flags has VM_GEN_COUNTER_PRESENT.
    uint64_t vm_generation_counter;
};

/// Reads a VMClock page under its seqcount: retries while `seq_count` is odd
/// (an update is in progress) or changed during the read, with acquire
/// fences between the sequence and field loads, at most `attempts` times.
/// Returns 0 with a consistent snapshot, or -1 when every attempt was torn.
int genidd_vmclock_read(const void *page, size_t length, unsigned attempts, struct genidd_vmclock_reading *out);

/// The uid and gid of the process at the other end of a Unix socket
/// (SO_PEERCRED; struct ucred needs _GNU_SOURCE). Returns 0, or -1 with errno.
int genidd_peer_credentials(int fd, uint32_t *uid, uint32_t *gid);

/// FORCE_GEN_UPDATE(minimum) in the numbering of ABI revision `revision`:
/// 4 is _IO(0x2d, 3), 5 is _IO(0xE4, 2), 7 is TRIGGER_GEN_UPDATE _IO(0xE4, 3).
/// Returns 0, or -1 with errno set (EINVAL for another revision).
int genidd_sysgenid_force_update(int fd, int revision, unsigned long minimum);

/// 1 when `fd` is on tmpfs, 0 when not, -1 on error (<sys/vfs.h> is not in Swift's Glibc module).
int genidd_is_on_tmpfs(int fd);

/// signalfd(2) with SFD_CLOEXEC | SFD_NONBLOCK for `signals`, which the caller
/// has blocked: <sys/signalfd.h> is not part of Swift's Glibc module. Returns
/// the descriptor, or -1 with errno set.
int genidd_signalfd(const sigset_t *signals);

/// Reads one pending signal from a signalfd (struct signalfd_siginfo is not in
/// Swift's Glibc module either): its number, 0 when none is pending, or -1 with errno set.
int genidd_signalfd_take(int fd);

#endif
