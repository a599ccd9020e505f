/*
 * SSE fan-out benchmark client for genidd (bench/fanout.sh builds and runs it).
 *
 * Opens N Server-Sent Events subscriptions to 127.0.0.1:PORT/v1/events, waits
 * until every one has received its initial event, measures the daemon's RSS
 * and CPU while idle, then bumps the counter file (the change) and records, per
 * subscriber, how long after the write its `id: <next seq>` event arrived.
 * Prints p50/p99/max delivery latency and RSS per idle subscriber.
 *
 * usage: fanout PORT N COUNTER_FILE NEXT_VALUE NEXT_SEQ DAEMON_PID IDLE_SECONDS
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct subscriber {
    int fd;
    int stage;          /* 0 connecting/sending, 1 waiting for initial event, 2 idle, 3 got change */
    size_t filled;
    char buffer[2048];
    double latency_ms;
};

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static long rss_kib(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long value = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &value) == 1) break;
    fclose(f);
    return value;
}

static long cpu_ticks(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return -1;
    long utime = 0, stime = 0;
    /* fields after ')' : state(3) ... utime(14) stime(15) */
    int field = 2;
    for (char *tok = strtok(p + 1, " "); tok; tok = strtok(NULL, " ")) {
        field++;
        if (field == 14) utime = atol(tok);
        if (field == 15) { stime = atol(tok); break; }
    }
    return utime + stime;
}

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: %s PORT N COUNTER_FILE NEXT_VALUE NEXT_SEQ DAEMON_PID IDLE_SECONDS\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]), count = atoi(argv[2]);
    const char *counter = argv[3], *next_value = argv[4];
    char marker[64];
    /* ids are "<instance>.<seq>": the end of the id line names the seq. */
    snprintf(marker, sizeof marker, ".%s\ndata: ", argv[5]);
    int daemon_pid = atoi(argv[6]), idle_seconds = atoi(argv[7]);

    struct rlimit limit = {count + 64, count + 64};
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
        perror("setrlimit");
        return 1;
    }
    long rss_before = rss_kib(daemon_pid);
    struct subscriber *subs = calloc(count, sizeof *subs);
    int epoll = epoll_create1(0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    const char *request = "GET /v1/events HTTP/1.1\r\nHost: localhost\r\n\r\n";

    double start = now_ms();
    int connected = 0;
    for (int i = 0; i < count; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
            fprintf(stderr, "connect %d: %s\n", i, strerror(errno));
            return 1;
        }
        if (write(fd, request, strlen(request)) < 0) { perror("write"); return 1; }
        fcntl(fd, F_SETFL, O_NONBLOCK);
        subs[i].fd = fd;
        subs[i].stage = 1;
        struct epoll_event event = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event);
        if ((i + 1) % 2000 == 0) fprintf(stderr, "fanout: %d subscribers connecting\n", i + 1);
    }
    /* Wait for every initial event. */
    struct epoll_event events[512];
    while (connected < count) {
        int n = epoll_wait(epoll, events, 512, 10000);
        if (n <= 0) {
            fprintf(stderr, "fanout: only %d of %d subscribers got their initial event\n", connected, count);
            return 1;
        }
        for (int k = 0; k < n; k++) {
            struct subscriber *s = &subs[events[k].data.u32];
            ssize_t got = read(s->fd, s->buffer + s->filled, sizeof s->buffer - 1 - s->filled);
            if (got <= 0) { fprintf(stderr, "fanout: subscriber closed early\n"); return 1; }
            s->filled += got;
            s->buffer[s->filled] = 0;
            if (s->stage == 1 && strstr(s->buffer, "data: ") && strstr(strstr(s->buffer, "data: "), "\n\n")) {
                s->stage = 2;
                s->filled = 0;
                connected++;
            }
        }
    }
    fprintf(stderr, "fanout: %d subscribers connected in %.0f ms\n", count, now_ms() - start);

    /* Idle: measure memory and CPU with every subscriber parked. */
    sleep(1);
    long rss_idle = rss_kib(daemon_pid);
    long ticks_before = cpu_ticks(daemon_pid);
    sleep(idle_seconds);
    long ticks_after = cpu_ticks(daemon_pid);

    /* The change. */
    double trigger = now_ms();
    FILE *f = fopen(counter, "w");
    if (!f) { perror(counter); return 1; }
    fprintf(f, "%s\n", next_value);
    fclose(f);
    int delivered = 0;
    while (delivered < count) {
        int n = epoll_wait(epoll, events, 512, 10000);
        if (n <= 0) break;
        double at = now_ms();
        for (int k = 0; k < n; k++) {
            struct subscriber *s = &subs[events[k].data.u32];
            ssize_t got = read(s->fd, s->buffer + s->filled, sizeof s->buffer - 1 - s->filled);
            if (got <= 0) continue;
            s->filled += got;
            s->buffer[s->filled] = 0;
            if (s->stage == 2 && strstr(s->buffer, marker)) {
                s->stage = 3;
                s->latency_ms = at - trigger;
                delivered++;
            }
            if (s->filled > sizeof s->buffer / 2) s->filled = 0;
        }
    }
    double *latencies = malloc(sizeof(double) * (delivered ? delivered : 1));
    int j = 0;
    for (int i = 0; i < count; i++)
        if (subs[i].stage == 3) latencies[j++] = subs[i].latency_ms;
    qsort(latencies, delivered, sizeof(double), compare);
    long hz = sysconf(_SC_CLK_TCK);
    printf("subscribers=%d delivered=%d\n", count, delivered);
    if (delivered > 0)
        printf("delivery_ms p50=%.1f p99=%.1f max=%.1f\n", latencies[delivered / 2],
               latencies[(int)(delivered * 0.99) < delivered ? (int)(delivered * 0.99) : delivered - 1],
               latencies[delivered - 1]);
    printf("daemon_rss_kib before=%ld idle=%ld per_subscriber_kib=%.2f\n", rss_before, rss_idle,
           (double)(rss_idle - rss_before) / count);
    printf("daemon_cpu_idle_ms=%.0f over %d s\n", (ticks_after - ticks_before) * 1000.0 / hz, idle_seconds);
    return delivered == count ? 0 : 1;
}
