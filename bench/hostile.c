/*
 * Hostile-neighbour load and probes for genidd (bench/hostile.sh builds and
 * runs it). One binary, one mode per role; every mode prints its results on
 * standard output as key=value words and its progress on standard error.
 *
 * The daemon listens on 127.0.0.1:PORT. PEERS spreads a load over source
 * addresses: client i binds 127.0.0.(2 + i % PEERS) before connecting, and the
 * daemon counts each address as a peer. A PEER is one such octet (TCP from
 * 127.0.0.PEER) or the path of the daemon's Unix socket.
 *
 * Load:
 *   sse PORT N PEERS              N SSE subscribers; prints subscribed= once
 *                                 every one has its first event (or was
 *                                 refused), then holds them until killed
 *   ghost PORT N PEERS TAG        N long-polls (?wait=TAG&timeout=300) whose
 *                                 client closes right after sending; prints
 *                                 end_ms= (monotonic) when the last is closed
 *   slowloris PORT N PEERS INTERVAL HOLD
 *                                 N connections that send one byte of a
 *                                 request's headers every INTERVAL s; waits
 *                                 until the daemon closed them all, at most
 *                                 HOLD s after the last connected, and prints
 *                                 when they were closed
 *   idle PORT N PEER SECONDS      N connections that send nothing; each is
 *                                 reopened 100 ms after the daemon closes it,
 *                                 for SECONDS
 *   watchers PORT N PER_OWNER     PUT /v1/watchers/NAME N times, PER_OWNER from
 *                                 each source address, then once more from the
 *                                 first (beyond the per-owner cap)
 *   list-loop PORT PEER [LIMIT]   pages through GET /v1/watchers (following
 *                                 next_after; LIMIT per page, default the
 *                                 daemon's) again and again until SIGTERM
 *   latency PORT PEER PATH SECONDS
 *                                 GET PATH on one keep-alive connection, one
 *                                 request per millisecond; p50/p95/p99/max
 * Measurement:
 *   probe PID PORT UNIX_PATH FILE PATH...
 *                                 every 50 ms: each PATH on a new connection
 *                                 over TCP from 127.0.0.250 and over the Unix
 *                                 socket (1 s timeout), and the daemon's open
 *                                 descriptors and VmRSS; one line per sample
 *                                 in FILE, until SIGTERM
 *   stats FILE FROM_MS TO_MS      probe latency percentiles, failures and the
 *                                 peak descriptors and RSS in a time window
 *   settle PID BASELINE SLACK T0_MS|now [KILL_PID]
 *                                 (kills KILL_PID, T0 being then) waits until
 *                                 the daemon holds at most BASELINE + SLACK
 *                                 descriptors, prints how long after T0 that
 *                                 was, and its descriptors and RSS 1 s and
 *                                 10 s after T0
 *   now                           the monotonic clock, ms
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

/* The prober's TCP source address: a peer of its own. */
#define PROBE_OCTET 250
/* Connects in flight at once: more only overflow the listen queue, and a
 * dropped SYN is retried a second later. */
#define MAX_CONNECTING 256

static const char *mode = "hostile";
static int port;
static volatile sig_atomic_t stopping;

static void on_stop(int signal_number)
{
    (void)signal_number;
    stopping = 1;
}

/* SIGTERM and SIGINT set `stopping` and interrupt blocking calls (no SA_RESTART). */
static void catch_stop(void)
{
    struct sigaction action = {.sa_handler = on_stop};
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void die(const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    fprintf(stderr, "%s: ", mode);
    vfprintf(stderr, format, arguments);
    fputc('\n', stderr);
    va_end(arguments);
    exit(1);
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void sleep_ms(double ms)
{
    if (ms <= 0) return;
    struct timespec t = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)((ms - (time_t)(ms / 1000) * 1000) * 1e6)};
    while (nanosleep(&t, &t) != 0 && errno == EINTR && !stopping) {
    }
}

static void raise_file_limit(void)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) die("getrlimit: %s", strerror(errno));
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) die("setrlimit: %s", strerror(errno));
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted values. */
static double percentile(const double *sorted, size_t count, double fraction)
{
    if (count == 0) return 0;
    size_t rank = (size_t)(fraction * count + 0.999999);
    if (rank < 1) rank = 1;
    if (rank > count) rank = count;
    return sorted[rank - 1];
}

/* --- the daemon seen from /proc ---------------------------------------------- */

static int open_descriptors(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", pid);
    DIR *directory = opendir(path);
    if (!directory) return -1;
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(directory)))
        if (entry->d_name[0] != '.') count++;
    closedir(directory);
    return count;
}

static long rss_kib(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *file = fopen(path, "r");
    if (!file) return -1;
    long value = -1;
    while (fgets(line, sizeof line, file))
        if (sscanf(line, "VmRSS: %ld kB", &value) == 1) break;
    fclose(file);
    return value;
}

/* --- sockets ------------------------------------------------------------------ */

static struct sockaddr_in server_address(void)
{
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

/* A TCP socket bound to 127.0.0.OCTET (its port chosen at connect time). */
static int bound_socket(int octet, int flags)
{
    int fd = socket(AF_INET, SOCK_STREAM | flags, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in source = {.sin_family = AF_INET};
    source.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)octet);
    if (bind(fd, (struct sockaddr *)&source, sizeof source) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Starts a non-blocking connect from 127.0.0.OCTET; -1 when it failed at once. */
static int start_connect(int octet)
{
    int fd = bound_socket(octet, SOCK_NONBLOCK);
    if (fd < 0) return -1;
    struct sockaddr_in address = server_address();
    if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The same from PEER: an octet (TCP), or the path of the Unix socket, where a
 * connect completes at once or fails (EAGAIN: the listen queue is full). */
static int start_peer_connect(const char *peer)
{
    if (peer[0] != '/') return start_connect(atoi(peer));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    snprintf(address.sun_path, sizeof address.sun_path, "%s", peer);
    if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int connect_error(int fd)
{
    int error = 0;
    socklen_t length = sizeof error;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
    return error;
}

static void set_timeouts(int fd, double ms)
{
    if (ms < 1) ms = 1;
    struct timeval t = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)((long)ms % 1000 * 1000)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, sizeof t);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &t, sizeof t);
}

/* A blocking connection (connect, send and receive time out after `ms`):
 * TCP from 127.0.0.OCTET, or the Unix socket when unix_path is set. */
static int blocking_connection(int octet, const char *unix_path, double ms)
{
    int fd;
    if (unix_path) {
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0) return -1;
        set_timeouts(fd, ms);
        struct sockaddr_un address = {.sun_family = AF_UNIX};
        snprintf(address.sun_path, sizeof address.sun_path, "%s", unix_path);
        if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
            close(fd);
            return -1;
        }
        return fd;
    }
    fd = bound_socket(octet, 0);
    if (fd < 0) return -1;
    set_timeouts(fd, ms);
    struct sockaddr_in address = server_address();
    if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* A keep-alive client's connection: PEER is an octet (TCP from 127.0.0.PEER)
 * or the path of the Unix socket. */
static int peer_connection(const char *peer)
{
    return peer[0] == '/' ? blocking_connection(0, peer, 5000) : blocking_connection(atoi(peer), NULL, 5000);
}

static int write_all(int fd, const char *data, size_t length)
{
    while (length > 0) {
        ssize_t sent = write(fd, data, length);
        if (sent < 0 && errno == EINTR && !stopping) continue;
        if (sent <= 0) return -1;
        data += sent;
        length -= (size_t)sent;
    }
    return 0;
}

/* --- keep-alive HTTP/1.1 exchanges ---------------------------------------- */

struct buffer {
    char *data;
    size_t length, capacity;
};

static void reserve(struct buffer *buffer, size_t more)
{
    if (buffer->length + more + 1 <= buffer->capacity) return;
    buffer->capacity = (buffer->length + more + 1) * 2;
    buffer->data = realloc(buffer->data, buffer->capacity);
    if (!buffer->data) die("out of memory");
}

/* Sends `request` and reads one response with a Content-Length body into
 * `response` (headers and body, NUL-terminated). Returns the status, or -1. */
static int exchange(int fd, const char *request, struct buffer *response)
{
    if (write_all(fd, request, strlen(request)) != 0) return -1;
    response->length = 0;
    size_t header_end = 0, total = 0;
    while (total == 0 || response->length < total) {
        reserve(response, 65536);
        ssize_t got = read(fd, response->data + response->length, response->capacity - response->length - 1);
        if (got <= 0) return -1;
        response->length += (size_t)got;
        response->data[response->length] = 0;
        if (total == 0) {
            char *end = strstr(response->data, "\r\n\r\n");
            if (!end) continue;
            header_end = (size_t)(end - response->data) + 4;
            char *field = strcasestr(response->data, "\r\nContent-Length:");
            total = header_end + (field && field < end ? strtoul(field + 17, NULL, 10) : 0);
        }
    }
    int status = 0;
    if (sscanf(response->data, "HTTP/1.%*d %d", &status) != 1) return -1;
    return status;
}

/* --- probe ---------------------------------------------------------------- */

/* One probe on a new connection: its HTTP status (0 when there was no
 * answer, `reason` saying why) and how long it took. */
static int probe_once(const char *unix_path, const char *path, double *elapsed, const char **reason)
{
    const double timeout = 1000;
    double start = now_ms();
    int status = 0;
    *reason = "-";
    int fd = blocking_connection(PROBE_OCTET, unix_path, timeout);
    if (fd < 0) {
        *reason = errno == EAGAIN || errno == EINPROGRESS ? "connect-timeout" : "connect-error";
    } else {
        char request[256], answer[512];
        snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", path);
        size_t filled = 0;
        if (write_all(fd, request, strlen(request)) != 0) {
            *reason = "write-error";
        } else {
            /* Read to the end of the answer (the daemon closes: Connection: close). */
            for (;;) {
                double left = timeout - (now_ms() - start);
                if (left <= 0) {
                    *reason = "timeout";
                    break;
                }
                set_timeouts(fd, left);
                char scratch[4096];
                char *into = filled < sizeof answer - 1 ? answer + filled : scratch;
                size_t room = filled < sizeof answer - 1 ? sizeof answer - 1 - filled : sizeof scratch;
                ssize_t got = read(fd, into, room);
                if (got == 0) break;
                if (got < 0) {
                    *reason = errno == EAGAIN ? "timeout" : "read-error";
                    break;
                }
                if (into == answer + filled) filled += (size_t)got;
            }
            answer[filled] = 0;
            if (strcmp(*reason, "-") == 0 && sscanf(answer, "HTTP/1.%*d %d", &status) != 1) *reason = "no-status";
            if (strcmp(*reason, "-") != 0) status = 0;
        }
        close(fd);
    }
    *elapsed = now_ms() - start;
    return status;
}

static int run_probe(int argc, char **argv)
{
    if (argc < 5) die("usage: probe PID PORT UNIX_PATH FILE PATH...");
    int pid = atoi(argv[0]);
    port = atoi(argv[1]);
    const char *unix_path = argv[2];
    FILE *samples = fopen(argv[3], "w");
    if (!samples) die("%s: %s", argv[3], strerror(errno));
    catch_stop();
    int reported = 0;
    double tick = now_ms();
    while (!stopping) {
        for (int transport = 0; transport < 2 && !stopping; transport++) {
            for (int index = 4; index < argc && !stopping; index++) {
                double elapsed;
                const char *reason;
                int status = probe_once(transport ? unix_path : NULL, argv[index], &elapsed, &reason);
                if (stopping && status == 0) break;
                const char *name = transport ? "unix" : "tcp";
                fprintf(samples, "p %.1f %s %s %d %.3f %s\n", now_ms(), name, argv[index], status, elapsed, reason);
                if (status != 200 && reported++ < 10)
                    fprintf(stderr, "%s: %s %s answered %d (%s) after %.0f ms\n", mode, name, argv[index], status,
                            reason, elapsed);
            }
        }
        fprintf(samples, "m %.1f %d %ld\n", now_ms(), open_descriptors(pid), rss_kib(pid));
        tick += 50;
        double wait = tick - now_ms();
        if (wait < 0) tick = now_ms();
        sleep_ms(wait);
    }
    fclose(samples);
    return 0;
}

/* --- stats ---------------------------------------------------------------- */

struct series {
    char transport[8], path[64];
    double *latencies;
    size_t count, capacity, failures;
};

static void add_sample(struct series *series, double latency, int failed)
{
    if (series->count == series->capacity) {
        series->capacity = series->capacity ? series->capacity * 2 : 256;
        series->latencies = realloc(series->latencies, series->capacity * sizeof(double));
        if (!series->latencies) die("out of memory");
    }
    series->latencies[series->count++] = latency;
    series->failures += failed;
}

static void print_series(struct series *series)
{
    qsort(series->latencies, series->count, sizeof(double), compare_doubles);
    printf(" probes=%zu failures=%zu p50=%.1f p99=%.1f max=%.1f", series->count, series->failures,
           percentile(series->latencies, series->count, 0.50), percentile(series->latencies, series->count, 0.99),
           series->count ? series->latencies[series->count - 1] : 0);
}

static int run_stats(int argc, char **argv)
{
    if (argc != 3) die("usage: stats FILE FROM_MS TO_MS");
    FILE *file = fopen(argv[0], "r");
    if (!file) die("%s: %s", argv[0], strerror(errno));
    double from = atof(argv[1]), to = atof(argv[2]);
    struct series all = {0}, routes[32];
    size_t route_count = 0;
    int peak_fds = -1;
    long peak_rss = -1;
    char line[512];
    while (fgets(line, sizeof line, file)) {
        double at, latency;
        char transport[8], path[64];
        int status, fds;
        long rss;
        if (sscanf(line, "p %lf %7s %63s %d %lf", &at, transport, path, &status, &latency) == 5) {
            if (at < from || at > to) continue;
            size_t index = 0;
            while (index < route_count &&
                   (strcmp(routes[index].transport, transport) || strcmp(routes[index].path, path)))
                index++;
            if (index == route_count) {
                if (route_count == 32) continue;
                routes[route_count] = (struct series){0};
                snprintf(routes[index].transport, sizeof routes[index].transport, "%s", transport);
                snprintf(routes[index].path, sizeof routes[index].path, "%s", path);
                route_count++;
            }
            add_sample(&routes[index], latency, status != 200);
            add_sample(&all, latency, status != 200);
        } else if (sscanf(line, "m %lf %d %ld", &at, &fds, &rss) == 3 && at >= from && at <= to) {
            if (fds > peak_fds) peak_fds = fds;
            if (rss > peak_rss) peak_rss = rss;
        }
    }
    fclose(file);
    printf("all");
    print_series(&all);
    printf(" peak_fds=%d peak_rss_kib=%ld\n", peak_fds, peak_rss);
    for (size_t index = 0; index < route_count; index++) {
        printf("route %s %s", routes[index].transport, routes[index].path);
        print_series(&routes[index]);
        putchar('\n');
    }
    return 0;
}

/* --- settle --------------------------------------------------------------- */

static int run_settle(int argc, char **argv)
{
    if (argc != 4 && argc != 5) die("usage: settle PID BASELINE SLACK T0_MS|now [KILL_PID]");
    int pid = atoi(argv[0]), limit = atoi(argv[1]) + atoi(argv[2]);
    double start = strcmp(argv[3], "now") == 0 ? now_ms() : atof(argv[3]);
    if (argc == 5) {
        start = now_ms();
        if (kill(atoi(argv[4]), SIGKILL) != 0) die("kill %s: %s", argv[4], strerror(errno));
    }
    double released = -1;
    while (now_ms() - start < 10000) {
        int fds = open_descriptors(pid);
        if (fds < 0) die("the daemon (pid %d) is gone", pid);
        if (fds <= limit) {
            released = now_ms() - start;
            break;
        }
        sleep_ms(5);
    }
    fprintf(stderr, "%s: descriptors back to %d after %.0f ms\n", mode, limit, released);
    sleep_ms(start + 1000 - now_ms());
    int fds_1s = open_descriptors(pid);
    long rss_1s = rss_kib(pid);
    sleep_ms(start + 10000 - now_ms());
    printf("t0_ms=%.1f released_ms=%.0f fds_1s=%d rss_1s_kib=%ld fds_10s=%d rss_10s_kib=%ld\n", start, released,
           fds_1s, rss_1s, open_descriptors(pid), rss_kib(pid));
    return 0;
}

/* --- load: SSE subscribers ------------------------------------------------ */

enum { CONNECTING, SENT, HOLDING, DONE };

struct subscriber {
    int fd;
    int state;
    size_t filled;
    char buffer[1024];
};

/* Epoll event data: the client's index. */
static void watch(int epoll, int fd, uint32_t events, int index, int op)
{
    struct epoll_event event = {.events = events, .data.u32 = (uint32_t)index};
    epoll_ctl(epoll, op, fd, &event);
}

static int run_sse(int argc, char **argv)
{
    if (argc != 3) die("usage: sse PORT N PEERS");
    port = atoi(argv[0]);
    int count = atoi(argv[1]), peers = atoi(argv[2]);
    raise_file_limit();
    catch_stop();
    struct subscriber *clients = calloc((size_t)count, sizeof *clients);
    if (!clients) die("out of memory");
    const char *request = "GET /v1/events HTTP/1.1\r\nHost: localhost\r\n\r\n";
    int epoll = epoll_create1(0);
    int next = 0, connecting = 0, subscribed = 0, refused = 0, failed = 0;
    double start = now_ms(), reported = start;
    struct epoll_event events[512];
    while (subscribed + refused + failed < count && !stopping) {
        while (next < count && connecting < MAX_CONNECTING) {
            int fd = start_connect(2 + next % peers);
            if (fd < 0) {
                clients[next++].state = DONE;
                failed++;
                continue;
            }
            clients[next].fd = fd;
            watch(epoll, fd, EPOLLOUT, next, EPOLL_CTL_ADD);
            next++;
            connecting++;
        }
        if (now_ms() - start > 60000) break;
        int ready = epoll_wait(epoll, events, 512, 1000);
        for (int k = 0; k < ready; k++) {
            int index = (int)events[k].data.u32;
            struct subscriber *client = &clients[index];
            if (client->state == CONNECTING) {
                connecting--;
                if (connect_error(client->fd) != 0 || write_all(client->fd, request, strlen(request)) != 0) {
                    close(client->fd);
                    client->state = DONE;
                    failed++;
                    continue;
                }
                client->state = SENT;
                watch(epoll, client->fd, EPOLLIN, index, EPOLL_CTL_MOD);
                continue;
            }
            if (client->state == HOLDING) {
                char scratch[4096];
                if (read(client->fd, scratch, sizeof scratch) <= 0) die("subscriber %d: closed by the daemon", index);
                continue;
            }
            ssize_t got = read(client->fd, client->buffer + client->filled, sizeof client->buffer - 1 - client->filled);
            if (got > 0) client->filled += (size_t)got;
            client->buffer[client->filled] = 0;
            if (got <= 0 || (client->filled >= 12 && strncmp(client->buffer, "HTTP/1.1 200", 12) != 0)) {
                /* Refused (503, or closed at once): the daemon turned it away. */
                epoll_ctl(epoll, EPOLL_CTL_DEL, client->fd, NULL);
                close(client->fd);
                client->state = DONE;
                refused++;
                continue;
            }
            char *data = strstr(client->buffer, "\ndata: ");
            if (data && strstr(data, "\n\n")) {
                client->state = HOLDING;
                subscribed++;
            } else if (client->filled >= sizeof client->buffer - 1) {
                die("subscriber %d: no event in the first %zu bytes", index, client->filled);
            }
        }
        if (now_ms() - reported >= 1000) {
            reported = now_ms();
            fprintf(stderr, "%s: %d subscribed, %d refused, %d failed\n", mode, subscribed, refused, failed);
        }
    }
    printf("subscribed=%d refused=%d failed=%d ms=%.0f\n", subscribed, refused, failed, now_ms() - start);
    fflush(stdout);
    /* Hold them, reading heartbeats, until killed. */
    while (!stopping) {
        int ready = epoll_wait(epoll, events, 512, -1);
        for (int k = 0; k < ready; k++) {
            struct subscriber *client = &clients[events[k].data.u32];
            char scratch[4096];
            if (read(client->fd, scratch, sizeof scratch) <= 0) {
                epoll_ctl(epoll, EPOLL_CTL_DEL, client->fd, NULL);
                close(client->fd);
                client->state = DONE;
            }
        }
    }
    return 0;
}

/* --- load: ghost long-polls ----------------------------------------------- */

static int run_ghost(int argc, char **argv)
{
    if (argc != 4) die("usage: ghost PORT N PEERS TAG");
    port = atoi(argv[0]);
    int count = atoi(argv[1]), peers = atoi(argv[2]);
    char request[256];
    snprintf(request, sizeof request,
             "GET /v1/generation?wait=%s&timeout=300 HTTP/1.1\r\nHost: localhost\r\n\r\n", argv[3]);
    raise_file_limit();
    int *fds = calloc((size_t)count, sizeof *fds);
    if (!fds) die("out of memory");
    int epoll = epoll_create1(0);
    int next = 0, connecting = 0, sent = 0, failed = 0;
    double start = now_ms();
    struct epoll_event events[512];
    while (sent + failed < count) {
        while (next < count && connecting < MAX_CONNECTING) {
            int fd = start_connect(2 + next % peers);
            if (fd < 0) {
                next++;
                failed++;
                continue;
            }
            fds[next] = fd;
            watch(epoll, fd, EPOLLOUT, next, EPOLL_CTL_ADD);
            next++;
            connecting++;
        }
        if (now_ms() - start > 60000) die("only %d of %d long-polls sent within 60 s", sent, count);
        int ready = epoll_wait(epoll, events, 512, 1000);
        for (int k = 0; k < ready; k++) {
            int fd = fds[events[k].data.u32];
            connecting--;
            /* Send the request and hang up at once, as a client that gives up does. */
            if (connect_error(fd) == 0 && write_all(fd, request, strlen(request)) == 0)
                sent++;
            else
                failed++;
            close(fd);
        }
    }
    double end = now_ms();
    fprintf(stderr, "%s: %d long-polls sent and abandoned in %.0f ms\n", mode, sent, end - start);
    printf("sent=%d failed=%d ms=%.0f end_ms=%.1f\n", sent, failed, end - start, end);
    return 0;
}

/* --- load: slowloris ------------------------------------------------------ */

struct trickle {
    int fd;
    int state;
    size_t sent;        /* bytes of the request sent so far */
    double connected;   /* when the connect completed */
    double closed;      /* when the daemon closed it */
};

static int run_slowloris(int argc, char **argv)
{
    if (argc != 5) die("usage: slowloris PORT N PEERS INTERVAL HOLD");
    port = atoi(argv[0]);
    int count = atoi(argv[1]), peers = atoi(argv[2]);
    double interval = atof(argv[3]) * 1000, hold = atof(argv[4]) * 1000;
    /* Never completed: one byte per interval. */
    const char *request = "GET /v1/generation HTTP/1.1\r\nHost: localhost\r\nUser-Agent: slow\r\n\r\n";
    raise_file_limit();
    catch_stop();
    struct trickle *clients = calloc((size_t)count, sizeof *clients);
    if (!clients) die("out of memory");
    int epoll = epoll_create1(0);
    int next = 0, connecting = 0, open = 0, closed = 0, failed = 0;
    double start = now_ms(), last_connected = start, last_trickle = start, reported = start;
    struct epoll_event events[512];
    while (!stopping) {
        while (next < count && connecting < MAX_CONNECTING) {
            int fd = start_connect(2 + next % peers);
            if (fd < 0) {
                clients[next++].state = DONE;
                failed++;
                continue;
            }
            clients[next].fd = fd;
            watch(epoll, fd, EPOLLOUT, next, EPOLL_CTL_ADD);
            next++;
            connecting++;
        }
        double now = now_ms();
        if (next == count && connecting == 0 && (open == 0 || now - last_connected > hold)) break;
        if (now - start > 60000 + hold) break;
        int ready = epoll_wait(epoll, events, 512, 100);
        now = now_ms();
        for (int k = 0; k < ready; k++) {
            int index = (int)events[k].data.u32;
            struct trickle *client = &clients[index];
            if (client->state == CONNECTING) {
                connecting--;
                if (connect_error(client->fd) != 0 || write(client->fd, request, 1) != 1) {
                    close(client->fd);
                    client->state = DONE;
                    failed++;
                    continue;
                }
                client->state = HOLDING;
                client->sent = 1;
                client->connected = last_connected = now;
                open++;
                watch(epoll, client->fd, EPOLLIN | EPOLLRDHUP, index, EPOLL_CTL_MOD);
                continue;
            }
            char scratch[4096];
            ssize_t got = read(client->fd, scratch, sizeof scratch);
            if (got > 0 && !(events[k].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) continue;
            close(client->fd);
            client->state = DONE;
            client->closed = now;
            open--;
            closed++;
        }
        /* One more byte from each open connection every interval. */
        if (now - last_trickle >= 1000) {
            last_trickle = now;
            for (int index = 0; index < next; index++) {
                struct trickle *client = &clients[index];
                if (client->state != HOLDING || now - client->connected < interval * client->sent) continue;
                if (client->sent < strlen(request) - 2 && write(client->fd, request + client->sent, 1) == 1)
                    client->sent++;
            }
        }
        if (now - reported >= 1000) {
            reported = now;
            fprintf(stderr, "%s: %d open, %d closed by the daemon, %d failed\n", mode, open, closed, failed);
        }
    }
    /* How long the daemon let each one trickle. */
    double *lifetimes = malloc(sizeof(double) * (size_t)(closed ? closed : 1));
    int early = 0, counted = 0;
    for (int index = 0; index < next; index++)
        if (clients[index].closed > 0) {
            double lifetime = clients[index].closed - clients[index].connected;
            lifetimes[counted++] = lifetime;
            if (lifetime < 2000) early++;
        }
    qsort(lifetimes, (size_t)counted, sizeof(double), compare_doubles);
    double end = now_ms();
    printf("connected=%d failed=%d closed=%d closed_early=%d still_open=%d closed_after_p50_ms=%.0f "
           "closed_after_max_ms=%.0f end_ms=%.1f\n",
           closed + open, failed, closed, early, open, percentile(lifetimes, (size_t)counted, 0.5),
           counted ? lifetimes[counted - 1] : 0, end);
    return 0;
}

/* --- load: idle connections ----------------------------------------------- */

static int run_idle(int argc, char **argv)
{
    if (argc != 4) die("usage: idle PORT N PEER SECONDS");
    port = atoi(argv[0]);
    int count = atoi(argv[1]);
    const char *peer = argv[2];
    double duration = atof(argv[3]) * 1000;
    raise_file_limit();
    catch_stop();
    struct trickle *clients = calloc((size_t)count, sizeof *clients);
    if (!clients) die("out of memory");
    int epoll = epoll_create1(0);
    /* Closed by the daemon after: < 0.5 s (refused), < 2.5 s (probe-only deadline), later (header deadline). */
    int connects = 0, refused = 0, short_deadline = 0, deadline = 0, failed = 0;
    double start = now_ms();
    for (int index = 0; index < count; index++) clients[index].state = DONE; /* reopen at once */
    struct epoll_event events[512];
    while (!stopping && now_ms() - start < duration) {
        double now = now_ms();
        for (int index = 0; index < count; index++) {
            struct trickle *client = &clients[index];
            if (client->state != DONE || now - client->closed < 100) continue;
            client->fd = start_peer_connect(peer);
            if (client->fd < 0) {
                client->closed = now;
                failed++;
                continue;
            }
            client->state = CONNECTING;
            watch(epoll, client->fd, EPOLLOUT, index, EPOLL_CTL_ADD);
        }
        int ready = epoll_wait(epoll, events, 512, 20);
        now = now_ms();
        for (int k = 0; k < ready; k++) {
            int index = (int)events[k].data.u32;
            struct trickle *client = &clients[index];
            if (client->state == CONNECTING) {
                if (connect_error(client->fd) != 0) {
                    close(client->fd);
                    client->state = DONE;
                    client->closed = now;
                    failed++;
                    continue;
                }
                client->state = HOLDING;
                client->connected = now;
                connects++;
                watch(epoll, client->fd, EPOLLIN | EPOLLRDHUP, index, EPOLL_CTL_MOD);
                continue;
            }
            char scratch[4096];
            ssize_t got = read(client->fd, scratch, sizeof scratch);
            if (got > 0 && !(events[k].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) continue;
            close(client->fd);
            double lifetime = now - client->connected;
            if (lifetime < 500)
                refused++;
            else if (lifetime < 2500)
                short_deadline++;
            else
                deadline++;
            client->state = DONE;
            client->closed = now;
        }
    }
    int open = 0;
    for (int index = 0; index < count; index++)
        if (clients[index].state == HOLDING) open++;
    printf("connects=%d refused=%d closed_at_probe_deadline=%d closed_at_header_deadline=%d open_at_end=%d "
           "failed=%d end_ms=%.1f\n",
           connects, refused, short_deadline, deadline, open, failed, now_ms());
    return 0;
}

/* --- watchers ------------------------------------------------------------- */

static int run_watchers(int argc, char **argv)
{
    if (argc != 3) die("usage: watchers PORT N PER_OWNER");
    port = atoi(argv[0]);
    int count = atoi(argv[1]), per_owner = atoi(argv[2]);
    int owners = (count + per_owner - 1) / per_owner;
    if (owners > 200) die("%d source addresses needed; at most 200 (127.0.0.2-201)", owners);
    struct buffer response = {0};
    int created = 0, other = 0, beyond = 0;
    double start = now_ms();
    for (int owner = 0; owner < owners; owner++) {
        int fd = blocking_connection(2 + owner, NULL, 5000);
        if (fd < 0) die("connect from 127.0.0.%d: %s", 2 + owner, strerror(errno));
        int mine = owner == owners - 1 ? count - owner * per_owner : per_owner;
        for (int index = 0; index <= mine; index++) {
            /* The one after `mine` from the first owner: beyond the cap. */
            if (index == mine && owner != 0) break;
            char request[256];
            snprintf(request, sizeof request,
                     "PUT /v1/watchers/o%d-w%d HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n", owner,
                     index);
            int status = exchange(fd, request, &response);
            if (index == mine)
                beyond = status;
            else if (status == 201)
                created++;
            else
                other++;
        }
        close(fd);
    }
    fprintf(stderr, "%s: %d watchers created from %d addresses in %.0f ms\n", mode, created, owners,
            now_ms() - start);
    printf("created=%d other=%d owners=%d beyond_cap_status=%d ms=%.0f\n", created, other, owners, beyond,
           now_ms() - start);
    return 0;
}

static int run_list_loop(int argc, char **argv)
{
    if (argc != 2 && argc != 3) die("usage: list-loop PORT PEER [LIMIT]");
    port = atoi(argv[0]);
    const char *peer = argv[1];
    catch_stop();
    struct buffer response = {0};
    long pages = 0, lists = 0, failures = 0;
    char after[80] = "";
    int fd = -1;
    while (!stopping) {
        if (fd < 0 && (fd = peer_connection(peer)) < 0) die("connect: %s", strerror(errno));
        char request[256];
        /* The daemon's page size unless LIMIT is given. */
        char query[128] = "";
        if (argc == 3) snprintf(query, sizeof query, "?limit=%s", argv[2]);
        size_t used = strlen(query);
        if (after[0]) snprintf(query + used, sizeof query - used, "%cafter=%s", used ? '&' : '?', after);
        snprintf(request, sizeof request, "GET /v1/watchers%s HTTP/1.1\r\nHost: localhost\r\n\r\n", query);
        int status = exchange(fd, request, &response);
        if (status != 200) {
            if (stopping) break;
            failures++;
            close(fd);
            fd = -1;
            after[0] = 0;
            continue;
        }
        pages++;
        char *next = strstr(response.data, "\"next_after\":\"");
        if (next && sscanf(next + 14, "%79[^\"]", after) == 1) continue;
        after[0] = 0;
        lists++;
    }
    printf("pages=%ld lists=%ld failures=%ld\n", pages, lists, failures);
    return 0;
}

static int run_latency(int argc, char **argv)
{
    if (argc != 4) die("usage: latency PORT PEER PATH SECONDS");
    port = atoi(argv[0]);
    const char *peer = argv[1];
    double duration = atof(argv[3]) * 1000;
    char request[256];
    snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", argv[2]);
    int fd = peer_connection(peer);
    if (fd < 0) die("connect: %s", strerror(errno));
    struct buffer response = {0};
    size_t count = 0, capacity = 65536, failures = 0;
    double *latencies = malloc(capacity * sizeof(double));
    double start = now_ms();
    while (now_ms() - start < duration) {
        double before = now_ms();
        int status = exchange(fd, request, &response);
        double latency = now_ms() - before;
        if (status != 200) {
            failures++;
            close(fd);
            if ((fd = peer_connection(peer)) < 0) die("connect: %s", strerror(errno));
        }
        if (count == capacity) latencies = realloc(latencies, (capacity *= 2) * sizeof(double));
        if (!latencies) die("out of memory");
        latencies[count++] = latency;
        sleep_ms(1);
    }
    qsort(latencies, count, sizeof(double), compare_doubles);
    printf("requests=%zu failures=%zu p50=%.2f p95=%.2f p99=%.2f max=%.2f\n", count, failures,
           percentile(latencies, count, 0.5), percentile(latencies, count, 0.95), percentile(latencies, count, 0.99),
           count ? latencies[count - 1] : 0);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } modes[] = {
        {"probe", run_probe},         {"stats", run_stats},   {"settle", run_settle},
        {"sse", run_sse},             {"ghost", run_ghost},   {"slowloris", run_slowloris},
        {"idle", run_idle},           {"watchers", run_watchers}, {"list-loop", run_list_loop},
        {"latency", run_latency},
    };
    if (argc >= 2 && strcmp(argv[1], "now") == 0) {
        printf("%.1f\n", now_ms());
        return 0;
    }
    for (size_t index = 0; argc >= 2 && index < sizeof modes / sizeof modes[0]; index++)
        if (strcmp(argv[1], modes[index].name) == 0) {
            static char label[64];
            snprintf(label, sizeof label, "hostile %s", argv[1]);
            mode = label;
            return modes[index].run(argc - 2, argv + 2);
        }
    fprintf(stderr, "usage: hostile MODE ARGUMENTS (see the comment at the top of bench/hostile.c)\n");
    return 2;
}
