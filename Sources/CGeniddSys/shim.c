#define _GNU_SOURCE
#include "CGeniddSys.h"
#include <string.h>
#include <pthread.h>
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
