/*
 * The hostile-neighbour benchmark's loads (bench/hostile.sh builds and runs
 * it), against a daemon on 127.0.0.1:PORT. PEERS spreads a load over source
 * addresses: client i binds 127.0.0.(2 + i % PEERS) before connecting. Results
 * go to standard output as key=value words, progress to standard error.
 *
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
 * (PEER: see common.h)
 */
#include "common.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

/* Connects in flight at once: more only overflow the listen queue, and a
 * dropped SYN is retried a second later. */
#define MAX_CONNECTING 256

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
    static const struct mode modes[] = {
        {"sse", run_sse},           {"ghost", run_ghost},       {"slowloris", run_slowloris},
        {"idle", run_idle},         {"watchers", run_watchers}, {"list-loop", run_list_loop},
        {"latency", run_latency},
    };
    return run_mode("hostile-load", modes, sizeof modes / sizeof modes[0], argc, argv);
}
