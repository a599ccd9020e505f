/* What the hostile-neighbour tools share: see common.h. */
#include "common.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

const char *mode = "hostile";
int port;
volatile sig_atomic_t stopping;

static void on_stop(int signal_number)
{
    (void)signal_number;
    stopping = 1;
}

void catch_stop(void)
{
    struct sigaction action = {.sa_handler = on_stop};
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
    signal(SIGPIPE, SIG_IGN);
}

void die(const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    fprintf(stderr, "%s: ", mode);
    vfprintf(stderr, format, arguments);
    fputc('\n', stderr);
    va_end(arguments);
    exit(1);
}

double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

void sleep_ms(double ms)
{
    if (ms <= 0) return;
    struct timespec t = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)((ms - (time_t)(ms / 1000) * 1000) * 1e6)};
    while (nanosleep(&t, &t) != 0 && errno == EINTR && !stopping) {
    }
}

void raise_file_limit(void)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) die("getrlimit: %s", strerror(errno));
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) die("setrlimit: %s", strerror(errno));
}

int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double percentile(const double *sorted, size_t count, double fraction)
{
    if (count == 0) return 0;
    size_t rank = (size_t)(fraction * count + 0.999999);
    if (rank < 1) rank = 1;
    if (rank > count) rank = count;
    return sorted[rank - 1];
}

/* --- sockets ------------------------------------------------------------------ */

static struct sockaddr_in server_address(void)
{
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

int bound_socket(int octet, int flags)
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

int start_connect(int octet)
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

int start_peer_connect(const char *peer)
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

int connect_error(int fd)
{
    int error = 0;
    socklen_t length = sizeof error;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
    return error;
}

void set_timeouts(int fd, double ms)
{
    if (ms < 1) ms = 1;
    struct timeval t = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)((long)ms % 1000 * 1000)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, sizeof t);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &t, sizeof t);
}

int blocking_connection(int octet, const char *unix_path, double ms)
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

int peer_connection(const char *peer)
{
    return peer[0] == '/' ? blocking_connection(0, peer, 5000) : blocking_connection(atoi(peer), NULL, 5000);
}

int write_all(int fd, const char *data, size_t length)
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

static void reserve(struct buffer *buffer, size_t more)
{
    if (buffer->length + more + 1 <= buffer->capacity) return;
    buffer->capacity = (buffer->length + more + 1) * 2;
    buffer->data = realloc(buffer->data, buffer->capacity);
    if (!buffer->data) die("out of memory");
}

int exchange(int fd, const char *request, struct buffer *response)
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

int run_mode(const char *tool, const struct mode *modes, size_t count, int argc, char **argv)
{
    for (size_t index = 0; argc >= 2 && index < count; index++)
        if (strcmp(argv[1], modes[index].name) == 0) {
            static char label[64];
            snprintf(label, sizeof label, "%s %s", tool, argv[1]);
            mode = label;
            return modes[index].run(argc - 2, argv + 2);
        }
    fprintf(stderr, "usage: %s MODE ARGUMENTS (see the comment at the top of bench/hostile/%s.c)\n", tool, tool);
    return 2;
}
