#define _GNU_SOURCE
#include "CGeniddSys.h"
#include <string.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>

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
