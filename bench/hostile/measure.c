/*
 * The hostile-neighbour benchmark's measurements (bench/hostile.sh builds and
 * runs it): probes, their statistics, and the daemon's descriptors and RSS
 * after a load. Results go to standard output as key=value words, progress
 * to standard error.
 *
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
#include "common.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The prober's TCP source address: a peer of its own. */
#define PROBE_OCTET 250

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

static int run_now(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("%.1f\n", now_ms());
    return 0;
}

int main(int argc, char **argv)
{
    static const struct mode modes[] = {
        {"probe", run_probe}, {"stats", run_stats}, {"settle", run_settle}, {"now", run_now},
    };
    return run_mode("hostile-measure", modes, sizeof modes / sizeof modes[0], argc, argv);
}
