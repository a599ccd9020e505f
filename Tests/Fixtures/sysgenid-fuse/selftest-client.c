// Client for selftest.sh: drives a mounted sysgenid-fuse and checks each
// emulated semantic of /dev/sysgenid. Prints "ok"/"not ok" lines and a final
// "N passed, M failed"; exits non-zero on any failure.
//
//   selftest-client v4 MOUNTPOINT   the full v4 suite (mount started with -i 3)
//   selftest-client v5 MOUNTPOINT   the v5 ioctl suite (mount with --abi v5)
//   selftest-client v7 MOUNTPOINT   the v7 ioctl suite (mount with --abi v7)
//   selftest-client unpriv MOUNTPOINT checks for a caller without capabilities
//   selftest-client hold MOUNTPOINT open the device, print "holding", block in
//                                   read(); exit 0 if that read then fails
//                                   (the emulator was stopped), 1 otherwise
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "genidd_kernel_abi.h"

static const char *mnt;
static int passed, failed;

static void check(bool ok, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void check(bool ok, const char *format, ...) {
    va_list ap;
    va_start(ap, format);
    printf("%s %d - ", ok ? "ok" : "not ok", passed + failed + 1);
    vprintf(format, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
    if (ok)
        passed++;
    else
        failed++;
}

static char *path(const char *name) {
    static char buffers[4][512];
    static int next;
    char *b = buffers[next++ % 4];
    snprintf(b, sizeof buffers[0], "%s/%s", mnt, name);
    return b;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) && errno == EINTR) {
    }
}

/* Reads `key` from MNT/status; -1 if absent. */
static long long status(const char *key) {
    char line[512] = "";
    int fd = open(path("status"), O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, line, sizeof line - 1);
    close(fd);
    if (n <= 0)
        return -1;
    line[n] = '\0';
    char pattern[64];
    snprintf(pattern, sizeof pattern, "%s=", key);
    for (char *p = line; (p = strstr(p, pattern)); p++)
        if (p == line || p[-1] == ' ')
            return strtoll(p + strlen(pattern), NULL, 10);
    return -1;
}

/* Polls status until key == value or timeout_ms passes. */
static bool wait_status(const char *key, long long value, int timeout_ms) {
    int64_t deadline = now_ms() + timeout_ms;
    do {
        if (status(key) == value)
            return true;
        sleep_ms(5);
    } while (now_ms() < deadline);
    return false;
}

static int control(const char *text) {
    int fd = open(path("control"), O_WRONLY);
    if (fd < 0)
        return errno;
    ssize_t n = write(fd, text, strlen(text));
    int err = n < 0 ? errno : 0;
    close(fd);
    return err;
}

static int open_dev(int extra_flags) {
    int fd = open(path("sysgenid"), O_RDWR | O_CLOEXEC | extra_flags);
    if (fd < 0) {
        fprintf(stderr, "open %s: %s\n", path("sysgenid"), strerror(errno));
        exit(1);
    }
    return fd;
}

/* read() of 4 bytes: the counter, or -errno. */
static long long read_counter(int fd) {
    unsigned char b[4];
    ssize_t n = read(fd, b, sizeof b);
    if (n < 0)
        return -errno;
    if (n != 4)
        return -1000 - n;
    return (long long)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                       (uint32_t)b[3] << 24); /* little-endian on the wire */
}

static int ack(int fd, uint32_t value) {
    unsigned char b[4] = {(unsigned char)value, (unsigned char)(value >> 8),
                          (unsigned char)(value >> 16), (unsigned char)(value >> 24)};
    ssize_t n = write(fd, b, sizeof b);
    if (n < 0)
        return errno;
    return n == 4 ? 0 : -1;
}

static int ioctl_errno(int fd, unsigned long cmd, unsigned long arg, int *result) {
    int r = ioctl(fd, cmd, arg);
    if (result)
        *result = r;
    return r < 0 ? errno : 0;
}

/* ---- background operations ---------------------------------------------- */

struct bg {
    pthread_t thread;
    int fd;
    int kind; /* 0 read, 1 poll, 2 epoll */
    long long result;
    int err;
    int64_t done_ms;
    volatile int finished;
};

static void *bg_main(void *p) {
    struct bg *b = p;
    switch (b->kind) {
    case 0:
        b->result = read_counter(b->fd);
        break;
    case 1: {
        struct pollfd pfd = {.fd = b->fd, .events = POLLIN};
        int r = poll(&pfd, 1, 10000);
        b->result = r > 0 ? pfd.revents : r;
        b->err = r < 0 ? errno : 0;
        break;
    }
    case 2: {
        int ep = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = b->fd};
        epoll_ctl(ep, EPOLL_CTL_ADD, b->fd, &ev);
        struct epoll_event out;
        int r = epoll_wait(ep, &out, 1, 10000);
        b->result = r > 0 ? (long long)out.events : r;
        b->err = r < 0 ? errno : 0;
        close(ep);
        break;
    }
    }
    b->done_ms = now_ms();
    __atomic_store_n(&b->finished, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void bg_start(struct bg *b, int kind, int fd) {
    memset(b, 0, sizeof *b);
    b->kind = kind;
    b->fd = fd;
    pthread_create(&b->thread, NULL, bg_main, b);
}

static bool bg_finished(struct bg *b) { return __atomic_load_n(&b->finished, __ATOMIC_ACQUIRE); }

static bool bg_join(struct bg *b, int timeout_ms) {
    int64_t deadline = now_ms() + timeout_ms;
    while (!bg_finished(b) && now_ms() < deadline)
        sleep_ms(2);
    if (!bg_finished(b))
        return false;
    pthread_join(b->thread, NULL);
    return true;
}

/* WAIT_WATCHERS in the background (its argument is the timeout). */
struct waiter {
    pthread_t thread;
    int fd;
    unsigned long cmd, timeout;
    int err;
    volatile int finished;
};

static void *waiter_main(void *p) {
    struct waiter *w = p;
    w->err = ioctl_errno(w->fd, w->cmd, w->timeout, NULL);
    __atomic_store_n(&w->finished, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void on_sigusr2(int signo) { (void)signo; }

/* ---- the v4 suite (mounted with -i 3) ------------------------------------ */

static void suite_v4(void) {
    const unsigned long GET_OUTDATED = GENIDD_SYSGENID_GET_OUTDATED_WATCHERS;
    const unsigned long WAIT = GENIDD_SYSGENID_WAIT_WATCHERS;
    const unsigned long FORCE = GENIDD_SYSGENID_FORCE_GEN_UPDATE;
    int r = -1, err;

    check(status("generation") == 3 && status("watchers") == 0,
          "initial counter from -i 3, no watchers (status: generation=3 watchers=0)");

    /* open() makes a watcher holding the current counter */
    int a = open_dev(0);
    int b = open_dev(O_NONBLOCK);
    check(status("watchers") == 2 && status("outdated") == 0, "open() adds watchers (2, 0 outdated)");
    check(ioctl_errno(a, GET_OUTDATED, 0, &r) == 0 && r == 0,
          "GET_OUTDATED_WATCHERS (0x%lx) returns 0 before any change", GET_OUTDATED);

    /* read() size rules */
    unsigned char small[2];
    check(read(a, small, 2) < 0 && errno == EINVAL, "read() of 2 bytes fails with EINVAL");
    check(read(a, small, 0) == 0, "read() of 0 bytes returns 0");

    /* non-blocking */
    check(read_counter(b) == -EAGAIN, "O_NONBLOCK read() with nothing new fails with EAGAIN");
    int flags = fcntl(a, F_GETFL);
    fcntl(a, F_SETFL, flags | O_NONBLOCK);
    check(read_counter(a) == -EAGAIN, "O_NONBLOCK set later with fcntl() is honoured (EAGAIN)");
    fcntl(a, F_SETFL, flags);

    struct pollfd pfd = {.fd = a, .events = POLLIN};
    check(poll(&pfd, 1, 0) == 0, "poll() reports nothing while up to date");

    /* blocking read wakes on bump */
    struct bg reader;
    bg_start(&reader, 0, a);
    check(wait_status("blocked_reads", 1, 2000), "read() blocks while up to date (status blocked_reads=1)");
    sleep_ms(50);
    check(!bg_finished(&reader), "blocked read() is still blocked after 50 ms");
    int64_t bumped = now_ms();
    check(control("bump\n") == 0, "control: 'bump' accepted");
    bool joined = bg_join(&reader, 2000);
    check(joined && reader.result == 4,
          "blocked read() wakes on bump and returns the new counter 4 (LE u32), after %lld ms",
          (long long)(reader.done_ms - bumped));
    check(read_counter(a) == 4, "read() keeps returning the new counter until acknowledged");
    check(read_counter(b) == 4, "O_NONBLOCK read() returns the new counter once outdated");

    /* outdated counting */
    err = ioctl_errno(a, GET_OUTDATED, 0, &r);
    check(err == 0 && r == 2, "GET_OUTDATED_WATCHERS returns 2 after the change (got %d)", r);
    check(status("outdated") == 2, "status outdated=2");
    pfd.revents = 0;
    check(poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN), "poll() reports POLLIN while outdated");

    /* write() acknowledgement */
    long long acks0 = status("acks");
    check(ack(a, 3) == EINVAL, "write() of a stale counter fails with EINVAL");
    check(write(a, "abc", 3) < 0 && errno == EINVAL, "write() of 3 bytes fails with EINVAL");
    check(write(a, "abcdefgh", 8) < 0 && errno == EINVAL, "write() of 8 bytes fails with EINVAL");
    check(ack(a, 4) == 0, "write() of the current counter succeeds");
    check(status("outdated") == 1 && status("acks") == acks0 + 1,
          "the ack clears this watcher: outdated=1, acks incremented");
    check(ioctl_errno(a, GET_OUTDATED, 0, &r) == 0 && r == 1, "GET_OUTDATED_WATCHERS returns 1");
    pfd.revents = 0;
    check(poll(&pfd, 1, 0) == 0, "poll() is quiet again after the ack");
    fcntl(a, F_SETFL, flags | O_NONBLOCK);
    check(read_counter(a) == -EAGAIN, "acknowledged handle: O_NONBLOCK read() is EAGAIN again");
    fcntl(a, F_SETFL, flags);

    /* WAIT_WATCHERS */
    int64_t t0 = now_ms();
    err = ioctl_errno(a, WAIT, 200, NULL);
    int64_t took = now_ms() - t0;
    check(err == EINTR && took >= 180 && took < 2000,
          "WAIT_WATCHERS(200 ms) with an outdated watcher left times out with EINTR after %lld ms",
          (long long)took);
    t0 = now_ms();
    err = ioctl_errno(b, WAIT, 5000, NULL);
    check(err == EINTR && now_ms() - t0 < 1000,
          "WAIT_WATCHERS by an outdated caller returns EINTR at once");
    struct waiter w = {.fd = a, .cmd = WAIT, .timeout = 0};
    pthread_create(&w.thread, NULL, waiter_main, &w);
    check(wait_status("waiters", 1, 2000), "WAIT_WATCHERS(0) sleeps while a watcher is outdated");
    sleep_ms(50);
    check(!__atomic_load_n(&w.finished, __ATOMIC_ACQUIRE), "... and is still sleeping after 50 ms");
    check(ack(b, 4) == 0, "the other watcher acknowledges");
    int64_t deadline = now_ms() + 2000;
    while (!__atomic_load_n(&w.finished, __ATOMIC_ACQUIRE) && now_ms() < deadline)
        sleep_ms(2);
    bool woke = __atomic_load_n(&w.finished, __ATOMIC_ACQUIRE);
    if (woke)
        pthread_join(w.thread, NULL);
    check(woke && w.err == 0, "WAIT_WATCHERS returns 0 once no watcher is outdated");
    check(ioctl_errno(a, WAIT, 100, NULL) == 0, "WAIT_WATCHERS with nobody outdated returns 0 at once");

    /* poll() and epoll wake on a change */
    struct bg poller, epoller;
    bg_start(&poller, 1, a);
    bg_start(&epoller, 2, b);
    check(wait_status("pollers", 2, 2000), "poll() and epoll_wait() register FUSE poll handles (pollers=2)");
    sleep_ms(50);
    check(!bg_finished(&poller) && !bg_finished(&epoller), "poll()/epoll_wait() sleep while up to date");
    bumped = now_ms();
    control("bump");
    joined = bg_join(&poller, 2000);
    check(joined && (poller.result & POLLIN),
          "blocked poll() wakes with POLLIN on bump after %lld ms", (long long)(poller.done_ms - bumped));
    joined = bg_join(&epoller, 2000);
    check(joined && (epoller.result & EPOLLIN),
          "blocked epoll_wait() wakes with EPOLLIN on bump after %lld ms",
          (long long)(epoller.done_ms - bumped));
    check(read_counter(a) == 5 && ack(a, 5) == 0 && read_counter(b) == 5 && ack(b, 5) == 0,
          "both handles read 5 and acknowledge it");

    /* FORCE_GEN_UPDATE(min) */
    check(ioctl_errno(a, FORCE, 12, NULL) == 0 && status("generation") == 12,
          "FORCE_GEN_UPDATE(12) from 5 sets the counter to 12");
    check(ioctl_errno(a, FORCE, 1, NULL) == 0 && status("generation") == 13,
          "FORCE_GEN_UPDATE(1) from 12 still increments, to 13");
    check(read_counter(a) == 13 && status("outdated") == 2, "a forced update outdates every watcher");
    check(ack(a, 13) == 0 && ack(b, 13) == 0, "both acknowledge 13");
    check(ioctl_errno(a, GENIDD_SYSGENID_V7_TRIGGER_GEN_UPDATE, 0, NULL) == EINVAL,
          "an unknown ioctl (v7's 0x%lx under --abi v4) fails with EINVAL",
          (unsigned long)GENIDD_SYSGENID_V7_TRIGGER_GEN_UPDATE);

    /* control: force, set backwards, invalid */
    check(control("force 20\n") == 0 && status("generation") == 20, "control: 'force 20' gives 20");
    check(read_counter(a) == 20 && ack(a, 20) == 0 && ack(b, 20) == 0, "acknowledged 20");
    bg_start(&reader, 0, a);
    wait_status("blocked_reads", 1, 2000);
    check(control("set 2\n") == 0, "control: 'set 2' (backwards) accepted");
    check(bg_join(&reader, 2000) && reader.result == 2,
          "blocked read() wakes on a backwards change and returns 2");
    check(status("generation") == 2 && status("outdated") == 2, "status generation=2 outdated=2");
    check(ack(a, 20) == EINVAL && ack(a, 2) == 0, "ack of the old 20 is EINVAL, ack of 2 works");
    long long changes = status("changes");
    check(control("set 2\n") == 0 && status("outdated") == 1 && status("changes") == changes,
          "'set' to the current value changes nothing");
    check(control("bogus\n") == EINVAL && control("set -1\n") == EINVAL &&
              control("set 4294967296\n") == EINVAL && control("bump\nnope\n") == EINVAL &&
              status("generation") == 2,
          "invalid control commands fail with EINVAL and apply nothing");
    check(control("bump\nbump\n") == 0 && status("generation") == 4, "two commands in one write");
    check(control("reset-acks\n") == 0 && status("acks") == 0, "control: 'reset-acks'");

    /* a signal interrupts a blocked read() with EINTR */
    check(ack(a, 4) == 0 && ack(b, 4) == 0, "acknowledged 4");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigusr2;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR2, &sa, NULL); /* no SA_RESTART */
    bg_start(&reader, 0, a);
    wait_status("blocked_reads", 1, 2000);
    pthread_kill(reader.thread, SIGUSR2);
    joined = bg_join(&reader, 2000);
    check(joined && reader.result == -EINTR,
          "a signal interrupts a blocked read() with EINTR (got %lld)", reader.result);
    check(wait_status("blocked_reads", 0, 2000), "the emulator no longer counts it as blocked");

    /* many readers blocked at once do not stall the emulator */
    enum { MANY = 32 };
    static struct bg many[MANY];
    static int many_fds[MANY];
    for (int i = 0; i < MANY; i++) {
        many_fds[i] = open_dev(0);
        bg_start(&many[i], 0, many_fds[i]);
    }
    check(wait_status("blocked_reads", MANY, 5000),
          "%d read()s block at once (status blocked_reads=%d)", MANY, MANY);
    check(status("generation") == 4 && ioctl_errno(a, GET_OUTDATED, 0, &r) == 0 && r == 0,
          "status and ioctls are still served while %d reads block", MANY);
    control("bump");
    bool all = true;
    for (int i = 0; i < MANY; i++)
        all = bg_join(&many[i], 5000) && many[i].result == 5 && all;
    check(all, "one bump wakes all %d blocked readers with 5", MANY);
    for (int i = 0; i < MANY; i++)
        close(many_fds[i]);
    check(wait_status("handles", 2, 5000), "their release brings handles back to 2");
    check(read_counter(a) == 5 && ack(a, 5) == 0 && read_counter(b) == 5 && ack(b, 5) == 0,
          "acknowledged 5");

    /* mmap: FUSE refuses shared mappings of direct_io files; a private,
     * read-only mapping shows the live counter, as the device's mapping does. */
    void *shared = mmap(NULL, 4096, PROT_READ, MAP_SHARED, a, 0);
    check(shared == MAP_FAILED && errno == ENODEV, "mmap(MAP_SHARED) fails with ENODEV under FUSE");
    if (shared != MAP_FAILED)
        munmap(shared, 4096);
    const volatile uint32_t *map = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, a, 0);
    check(map != MAP_FAILED, "mmap(MAP_PRIVATE, PROT_READ) of one page succeeds");
    if (map != MAP_FAILED) {
        check(map[0] == 5, "the mapped page holds the counter (5), read %u", (unsigned)map[0]);
        control("bump");
        bool seen = false;
        for (int i = 0; i < 500 && !seen; i++) {
            seen = map[0] == 6;
            if (!seen)
                usleep(1000);
        }
        check(seen, "the mapping shows the new counter (6) after a bump without remapping");
        check(read_counter(a) == 6 && ack(a, 6) == 0 && read_counter(b) == 6 && ack(b, 6) == 0,
              "acknowledged 6");
        munmap((void *)map, 4096);
    }
    struct stat st;
    check(fstat(a, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 4096,
          "the emulated device is a regular file of one page (not S_ISCHR)");

    /* release() removes the watcher */
    control("bump");
    check(status("watchers") == 2 && status("outdated") == 2, "after a bump: watchers=2 outdated=2");
    close(b);
    check(wait_status("outdated", 1, 2000) && wait_status("watchers", 1, 2000),
          "close() of an outdated handle removes it: watchers=1 outdated=1");
    close(a);
    check(wait_status("watchers", 0, 2000) && wait_status("outdated", 0, 2000),
          "closing the last handle: watchers=0 outdated=0");
    int c = open_dev(O_NONBLOCK);
    check(read_counter(c) == -EAGAIN, "a handle opened after the change is up to date (EAGAIN)");
    close(c);
}

/* ---- the v7 suite (mounted with --abi v7) -------------------------------- */

static void suite_v7(void) {
    int r;
    int a = open_dev(0);
    int b = open_dev(0);
    long long g = status("generation");
    check(status("watchers") == 0 && status("handles") == 2,
          "v7: open() does not track (watchers=0, handles=2)");
    check(ioctl_errno(a, GENIDD_SYSGENID_V7_SET_WATCHER_TRACKING, 1, &r) == 0 && r == 0 &&
              status("watchers") == 1,
          "v7: SET_WATCHER_TRACKING(1) (0x%lx) tracks the handle",
          (unsigned long)GENIDD_SYSGENID_V7_SET_WATCHER_TRACKING);
    ioctl_errno(b, GENIDD_SYSGENID_V7_SET_WATCHER_TRACKING, 1, NULL);
    check(ioctl_errno(a, GENIDD_SYSGENID_V7_TRIGGER_GEN_UPDATE, 0, NULL) == 0 &&
              status("generation") == g + 1,
          "v7: TRIGGER_GEN_UPDATE(0) increments");
    check(read_counter(a) == g + 1 && ack(a, (uint32_t)(g + 1)) == 0, "v7: read and ack");
    int64_t t0 = now_ms();
    int err = ioctl_errno(a, GENIDD_SYSGENID_V7_WAIT_WATCHERS, 150, NULL);
    check(err == ETIME && now_ms() - t0 >= 130, "v7: WAIT_WATCHERS timeout gives ETIME");
    check(ioctl_errno(b, GENIDD_SYSGENID_V7_WAIT_WATCHERS, 150, NULL) == EINTR,
          "v7: WAIT_WATCHERS by an outdated caller gives EINTR");
    check(ioctl_errno(b, GENIDD_SYSGENID_V7_SET_WATCHER_TRACKING, 0, NULL) == 0 &&
              status("watchers") == 1 && status("outdated") == 0,
          "v7: SET_WATCHER_TRACKING(0) stops counting the outdated handle");
    check(ioctl_errno(a, GENIDD_SYSGENID_V7_WAIT_WATCHERS, 150, NULL) == 0,
          "v7: WAIT_WATCHERS returns 0 when every tracked watcher is up to date");
    check(write(a, "abc", 3) < 0 && errno == ENOBUFS, "v7: a 3-byte write() fails with ENOBUFS");
    check(ioctl_errno(a, GENIDD_SYSGENID_V4_GET_OUTDATED_WATCHERS, 0, NULL) == EINVAL,
          "v7: the v4 GET_OUTDATED_WATCHERS ioctl fails with EINVAL");
    close(a);
    close(b);
}

/* ---- the v5 suite (mounted with --abi v5) -------------------------------- */

static void suite_v5(void) {
    int a = open_dev(0);
    int b = open_dev(0);
    long long g = status("generation");
    check(status("watchers") == 2, "v5: every open() is a watcher (watchers=2)");
    check(ioctl_errno(a, GENIDD_SYSGENID_V5_FORCE_GEN_UPDATE, 0, NULL) == 0 &&
              status("generation") == g + 1 && status("outdated") == 2,
          "v5: FORCE_GEN_UPDATE(0) (0x%lx) increments; both handles outdated",
          (unsigned long)GENIDD_SYSGENID_V5_FORCE_GEN_UPDATE);
    check(read_counter(a) == g + 1 && ack(a, (uint32_t)(g + 1)) == 0, "v5: read and ack");
    int64_t t0 = now_ms();
    int err = ioctl_errno(a, GENIDD_SYSGENID_V5_WAIT_WATCHERS, 150, NULL);
    check(err == ETIME && now_ms() - t0 >= 130, "v5: WAIT_WATCHERS (0x%lx) timeout gives ETIME",
          (unsigned long)GENIDD_SYSGENID_V5_WAIT_WATCHERS);
    check(ioctl_errno(b, GENIDD_SYSGENID_V5_WAIT_WATCHERS, 150, NULL) == 0,
          "v5: WAIT_WATCHERS by an outdated caller returns 0 at once (the raw wait result)");
    check(ack(b, (uint32_t)(g + 1)) == 0 && ioctl_errno(a, GENIDD_SYSGENID_V5_WAIT_WATCHERS, 150, NULL) == 0,
          "v5: WAIT_WATCHERS returns 0 when every watcher is up to date");
    check(write(a, "abc", 3) < 0 && errno == EINVAL, "v5: a 3-byte write() fails with EINVAL");
    check(ioctl_errno(a, GENIDD_SYSGENID_V4_GET_OUTDATED_WATCHERS, 0, NULL) == EINVAL,
          "v5: the v4 GET_OUTDATED_WATCHERS ioctl fails with EINVAL");
    check(ioctl_errno(a, GENIDD_SYSGENID_V7_TRIGGER_GEN_UPDATE, 0, NULL) == EINVAL &&
              status("generation") == g + 1,
          "v5: v7's TRIGGER_GEN_UPDATE (0x%lx) is unknown (EINVAL)",
          (unsigned long)GENIDD_SYSGENID_V7_TRIGGER_GEN_UPDATE);
    close(a);
    close(b);
}

/* ---- unprivileged caller (run without capabilities, as nobody) ---------- */

static void suite_unpriv(void) {
    int r;
    int a = open(path("sysgenid"), O_RDWR | O_NONBLOCK);
    check(a >= 0, "an unprivileged user can open the device (0666, allow_other)");
    if (a < 0)
        return;
    check(ioctl_errno(a, GENIDD_SYSGENID_GET_OUTDATED_WATCHERS, 0, &r) == 0 && r == 0,
          "an unprivileged user can use GET_OUTDATED_WATCHERS");
    long long g = status("generation");
    check(ioctl_errno(a, GENIDD_SYSGENID_FORCE_GEN_UPDATE, 0, NULL) == EACCES &&
              status("generation") == g,
          "FORCE_GEN_UPDATE without CAP_SYS_ADMIN/CAP_CHECKPOINT_RESTORE fails with EACCES");
    check(open(path("control"), O_WRONLY) < 0 && errno == EACCES,
          "an unprivileged user cannot open control (0200 root)");
    check(read_counter(a) == -EAGAIN, "unprivileged O_NONBLOCK read() is EAGAIN");
    close(a);
}

/* ---- hold: block in read() until the emulator goes away ----------------- */

static int hold(void) {
    int fd = open_dev(0);
    printf("holding\n");
    fflush(stdout);
    long long v = read_counter(fd);
    printf("read returned %lld (%s)\n", v, v < 0 ? strerror((int)-v) : "value");
    return v < 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: selftest-client v4|v5|v7|unpriv|hold MOUNTPOINT\n");
        return 2;
    }
    mnt = argv[2];
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (strcmp(argv[1], "hold") == 0)
        return hold();
    if (strcmp(argv[1], "v4") == 0)
        suite_v4();
    else if (strcmp(argv[1], "v5") == 0)
        suite_v5();
    else if (strcmp(argv[1], "v7") == 0)
        suite_v7();
    else if (strcmp(argv[1], "unpriv") == 0)
        suite_unpriv();
    else
        return 2;
    printf("%s: %d passed, %d failed\n", argv[1], passed, failed);
    return failed ? 1 : 0;
}
