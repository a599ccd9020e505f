#define _GNU_SOURCE
#include "CGeniddSys.h"
#include "genidd_kernel_abi.h"
#include <stddef.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <linux/netlink.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <malloc.h>

void genidd_secure_zero(void *pointer, size_t length)
{
    explicit_bzero(pointer, length);
}

uint32_t genidd_volatile_load_u32(const void *pointer)
{
    return *(const volatile uint32_t *)pointer;
}

uint64_t genidd_volatile_load_u64(const void *pointer)
{
    return *(const volatile uint64_t *)pointer;
}

void genidd_acquire_fence(void)
{
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
}

int genidd_eventfd(void)
{
    return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

long genidd_getrandom(void *buffer, size_t length)
{
    return (long)getrandom(buffer, length, 0);
}

void genidd_set_thread_name(const char *name)
{
    pthread_setname_np(pthread_self(), name);
}

int genidd_epoll_create(void)
{
    return epoll_create1(EPOLL_CLOEXEC);
}

int genidd_epoll_add(int epoll_fd, int fd, uint64_t tag)
{
    struct epoll_event event = {.events = EPOLLIN | EPOLLPRI | EPOLLERR | EPOLLHUP, .data.u64 = tag};
    return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event);
}

int genidd_epoll_watch_hangup(int epoll_fd, int fd, uint64_t tag)
{
    struct epoll_event event = {.events = EPOLLRDHUP | EPOLLONESHOT, .data.u64 = tag};
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event) == 0)
        return 0;
    if (errno != EEXIST)
        return -1;
    return epoll_ctl(epoll_fd, EPOLL_CTL_MOD, fd, &event);
}

void genidd_trim_heap(void)
{
    malloc_trim(0);
}

int genidd_epoll_ready(int epoll_fd, uint64_t *tags, uint32_t *events, int capacity)
{
    struct epoll_event ready[16];
    if (capacity > 16)
        capacity = 16;
    int count = epoll_wait(epoll_fd, ready, capacity, 0);
    for (int index = 0; index < count; index++) {
        tags[index] = ready[index].data.u64;
        events[index] = ready[index].events;
    }
    return count;
}

int genidd_sysgenid_outdated_watchers(int fd)
{
    return ioctl(fd, GENIDD_SYSGENID_V4_GET_OUTDATED_WATCHERS, 0);
}

int genidd_sysgenid_set_watcher_tracking(int fd, int enabled)
{
    return ioctl(fd, GENIDD_SYSGENID_V7_SET_WATCHER_TRACKING, (unsigned long)(enabled != 0));
}

int genidd_uevent_open(void)
{
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT);
    if (fd < 0)
        return -1;
    struct sockaddr_nl address = {.nl_family = AF_NETLINK, .nl_groups = 1};
    if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

long genidd_uevent_receive(int fd, void *buffer, size_t length, uint32_t *sender_port)
{
    struct sockaddr_nl sender = {0};
    struct iovec vector = {.iov_base = buffer, .iov_len = length};
    struct msghdr message = {.msg_name = &sender, .msg_namelen = sizeof sender, .msg_iov = &vector, .msg_iovlen = 1};
    ssize_t received = recvmsg(fd, &message, 0);
    if (received >= 0)
        *sender_port = (message.msg_namelen == sizeof sender && sender.nl_family == AF_NETLINK) ? sender.nl_pid : UINT32_MAX;
    return (long)received;
}

int genidd_set_receive_buffer(int fd, int bytes)
{
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) == 0)
        return 0;
    return setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
}

/* Byte offsets in struct vmclock_abi, from the mirror in genidd_kernel_abi.h. */
enum {
    VMCLOCK_OFFSET_MAGIC = offsetof(struct genidd_vmclock_abi, magic),
    VMCLOCK_OFFSET_SIZE = offsetof(struct genidd_vmclock_abi, size),
    VMCLOCK_OFFSET_VERSION = offsetof(struct genidd_vmclock_abi, version),
    VMCLOCK_OFFSET_SEQ_COUNT = offsetof(struct genidd_vmclock_abi, seq_count),
    VMCLOCK_OFFSET_DISRUPTION_MARKER = offsetof(struct genidd_vmclock_abi, disruption_marker),
    VMCLOCK_OFFSET_FLAGS = offsetof(struct genidd_vmclock_abi, flags),
    VMCLOCK_OFFSET_VM_GENERATION_COUNTER = offsetof(struct genidd_vmclock_abi, vm_generation_counter),
};

static uint32_t load32(const void *page, size_t offset)
{
    /* The ABI is little-endian, as are the hosts genidd supports (x86_64, arm64). */
    return *(const volatile uint32_t *)((const char *)page + offset);
}

static uint64_t load64(const void *page, size_t offset)
{
    return *(const volatile uint64_t *)((const char *)page + offset);
}

int genidd_vmclock_read(const void *page, size_t length, unsigned attempts, struct genidd_vmclock_reading *out)
{
    if (length < VMCLOCK_OFFSET_VM_GENERATION_COUNTER)
        return -1;
    out->magic = load32(page, VMCLOCK_OFFSET_MAGIC);
    out->size = load32(page, VMCLOCK_OFFSET_SIZE);
    out->version = *(const volatile uint16_t *)((const char *)page + VMCLOCK_OFFSET_VERSION);
    int has_counter = out->size >= VMCLOCK_OFFSET_VM_GENERATION_COUNTER + 8 &&
                      length >= VMCLOCK_OFFSET_VM_GENERATION_COUNTER + 8;
    for (unsigned attempt = 0; attempt < attempts; attempt++) {
        uint32_t before = load32(page, VMCLOCK_OFFSET_SEQ_COUNT);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (before & 1)
            continue;
        out->disruption_marker = load64(page, VMCLOCK_OFFSET_DISRUPTION_MARKER);
        out->flags = load64(page, VMCLOCK_OFFSET_FLAGS);
        out->vm_generation_counter = has_counter ? load64(page, VMCLOCK_OFFSET_VM_GENERATION_COUNTER) : 0;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        uint32_t after = load32(page, VMCLOCK_OFFSET_SEQ_COUNT);
        if (after == before) {
            out->seq_count = after;
            return 0;
        }
    }
    return -1;
}

int genidd_peer_credentials(int fd, uint32_t *uid, uint32_t *gid)
{
    struct ucred credentials;
    socklen_t length = sizeof credentials;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0)
        return -1;
    *uid = credentials.uid;
    *gid = credentials.gid;
    return 0;
}

int genidd_sysgenid_force_update(int fd, int revision, unsigned long minimum)
{
    switch (revision) {
    case 4:
        return ioctl(fd, GENIDD_SYSGENID_V4_FORCE_GEN_UPDATE, minimum);
    case 5:
        return ioctl(fd, GENIDD_SYSGENID_V5_FORCE_GEN_UPDATE, minimum);
    case 7:
        return ioctl(fd, GENIDD_SYSGENID_V7_TRIGGER_GEN_UPDATE, minimum);
    default:
        errno = EINVAL;
        return -1;
    }
}

int genidd_is_on_tmpfs(int fd)
{
    struct statfs info;
    if (fstatfs(fd, &info) != 0)
        return -1;
    return info.f_type == TMPFS_MAGIC ? 1 : 0;
}

int genidd_signalfd(const sigset_t *signals)
{
    return signalfd(-1, signals, SFD_CLOEXEC | SFD_NONBLOCK);
}

int genidd_signalfd_take(int fd)
{
    struct signalfd_siginfo info;
    ssize_t count;
    do {
        count = read(fd, &info, sizeof info);
    } while (count < 0 && errno == EINTR);
    if (count < 0)
        return errno == EAGAIN ? 0 : -1;
    if (count != (ssize_t)sizeof info) {
        errno = EIO;
        return -1;
    }
    return (int)info.ssi_signo;
}
