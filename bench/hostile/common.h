/*
 * What the hostile-neighbour tools share (bench/hostile.sh builds them):
 * the clock, signals, errors, percentiles, connections to the daemon from a
 * chosen source address or over its Unix socket, and keep-alive HTTP/1.1
 * exchanges with Content-Length bodies.
 *
 * A PEER is an octet (TCP from 127.0.0.PEER: the daemon counts each address
 * as a peer) or the path of the daemon's Unix socket.
 */
#ifndef HOSTILE_COMMON_H
#define HOSTILE_COMMON_H

#define _GNU_SOURCE
#include <signal.h>
#include <stddef.h>
#include <sys/socket.h>

/* "hostile-load sse" and so on: the prefix of messages. */
extern const char *mode;
/* The daemon's TCP port on 127.0.0.1. */
extern int port;
/* Set by SIGTERM or SIGINT once catch_stop() ran. */
extern volatile sig_atomic_t stopping;

/* SIGTERM and SIGINT set `stopping` and interrupt blocking calls (no
 * SA_RESTART); SIGPIPE is ignored. */
void catch_stop(void);
/* Prints "MODE: message" and exits 1. */
void die(const char *format, ...) __attribute__((format(printf, 1, 2), noreturn));
/* The monotonic clock, ms (comparable between processes). */
double now_ms(void);
/* Sleeps, resuming after signals unless stopping. */
void sleep_ms(double ms);
/* The soft limit on open files raised to the hard one. */
void raise_file_limit(void);
/* qsort comparison of doubles, and the nearest-rank percentile of sorted values. */
int compare_doubles(const void *a, const void *b);
double percentile(const double *sorted, size_t count, double fraction);

/* A TCP socket bound to 127.0.0.OCTET (its port chosen at connect time). */
int bound_socket(int octet, int flags);
/* Starts a non-blocking connect from 127.0.0.OCTET, or from PEER; -1 when
 * it failed at once. A Unix connect completes at once or fails (EAGAIN: the
 * listen queue is full). */
int start_connect(int octet);
int start_peer_connect(const char *peer);
/* The connect's outcome once the socket is writable (SO_ERROR). */
int connect_error(int fd);
/* Receive and send (and connect) time out after `ms`. */
void set_timeouts(int fd, double ms);
/* A blocking connection that times out after `ms`: TCP from 127.0.0.OCTET,
 * or the Unix socket when unix_path is set. */
int blocking_connection(int octet, const char *unix_path, double ms);
/* The same from PEER, with 5 s timeouts. */
int peer_connection(const char *peer);
/* Writes all of `data`; -1 on error. */
int write_all(int fd, const char *data, size_t length);

/* A growable, NUL-terminated byte buffer. */
struct buffer {
    char *data;
    size_t length, capacity;
};

/* Sends `request` and reads one response with a Content-Length body into
 * `response` (headers and body, NUL-terminated). Returns the status, or -1. */
int exchange(int fd, const char *request, struct buffer *response);

/* A tool's modes: runs the one argv[1] names with the rest of the arguments. */
struct mode {
    const char *name;
    int (*run)(int argc, char **argv);
};
int run_mode(const char *tool, const struct mode *modes, size_t count, int argc, char **argv);

#endif
