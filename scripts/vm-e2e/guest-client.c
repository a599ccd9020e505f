/*
 * guest-client: a genidd subscriber that runs inside the test VM (scripts/vm-e2e.sh).
 *
 *   guest-client longpoll HOST PORT   GET /v1/generation, then loop on ?wait=SEQ&timeout=300
 *   guest-client sse HOST PORT        GET /v1/events, reconnecting with Last-Event-ID
 *
 * Every observation is one tagged line on stdout (the serial console), written
 * with a single write() so that lines of concurrent processes never mix:
 *
 *   E2E longpoll start seq=1 generation=0     the state when the client started
 *   E2E longpoll seq=2 generation=1           a new seq answered by a long-poll
 *   E2E sse start seq=1 generation=0 id=1     the initial event of the first stream
 *   E2E sse seq=2 generation=1 id=2           every later event
 *   E2E sse clock-disruption marker=3 id=X.2  an `event: clock-disruption` (VMClock), with the id of
 *                                             the current state (id=none would be a bug the host notices)
 *   E2E longpoll|sse error ...                a failed request (the client retries)
 *
 * The host expects exactly one non-"start" line of each kind per real VM
 * restore. Plain HTTP/1.1 (with chunked transfer decoding, as genidd streams
 * events that way); built with `gcc -static` so that it needs nothing in the guest.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *mode = "?";

/* One line, one write(): the console is shared with genidd and the kernel. */
static void say(const char *format, ...) {
    char line[512];
    int used = snprintf(line, sizeof line, "E2E %s ", mode);
    va_list args;
    va_start(args, format);
    used += vsnprintf(line + used, sizeof line - (size_t)used, format, args);
    va_end(args);
    if (used > (int)sizeof line - 2) {
        used = (int)sizeof line - 2;
    }
    line[used++] = '\n';
    ssize_t ignored = write(STDOUT_FILENO, line, (size_t)used);
    (void)ignored;
}

static void pause_ms(long ms) {
    struct timespec delay = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&delay, &delay) != 0 && errno == EINTR) {
    }
}

/* ---- a buffered connection: lines and exact byte counts ---------------- */

struct connection {
    int fd;
    size_t start, end;
    char buffer[16384];
};

static int connection_open(struct connection *c, const char *host, int port) {
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &address.sin_addr) != 1) {
        say("error bad address %s", host);
        exit(2);
    }
    c->start = c->end = 0;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        return -1;
    }
    if (connect(c->fd, (struct sockaddr *)&address, sizeof address) != 0) {
        close(c->fd);
        return -1;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return 0;
}

static int connection_send(struct connection *c, const char *data, size_t length) {
    while (length > 0) {
        ssize_t sent = write(c->fd, data, length);
        if (sent < 0 && errno == EINTR) {
            continue;
        }
        if (sent <= 0) {
            return -1;
        }
        data += sent;
        length -= (size_t)sent;
    }
    return 0;
}

/* Refills the buffer; returns 0, or -1 at end of stream or on error. */
static int connection_fill(struct connection *c) {
    if (c->start > 0) {
        memmove(c->buffer, c->buffer + c->start, c->end - c->start);
        c->end -= c->start;
        c->start = 0;
    }
    if (c->end == sizeof c->buffer) {
        errno = EMSGSIZE;
        return -1;
    }
    for (;;) {
        ssize_t got = read(c->fd, c->buffer + c->end, sizeof c->buffer - c->end);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got == 0) {
            errno = 0;
        }
        if (got <= 0) {
            return -1;
        }
        c->end += (size_t)got;
        return 0;
    }
}

/* Reads one line (LF or CRLF) into line, without the terminator. */
static int connection_line(struct connection *c, char *line, size_t size) {
    for (;;) {
        char *eol = memchr(c->buffer + c->start, '\n', c->end - c->start);
        if (eol != NULL) {
            size_t length = (size_t)(eol - (c->buffer + c->start));
            if (length > 0 && eol[-1] == '\r') {
                length--;
            }
            if (length >= size) {
                errno = EMSGSIZE;
                return -1;
            }
            memcpy(line, c->buffer + c->start, length);
            line[length] = '\0';
            c->start = (size_t)(eol - c->buffer) + 1;
            return 0;
        }
        if (connection_fill(c) != 0) {
            return -1;
        }
    }
}

/* Reads exactly length bytes into out. */
static int connection_exact(struct connection *c, char *out, size_t length) {
    while (length > 0) {
        if (c->start == c->end && connection_fill(c) != 0) {
            return -1;
        }
        size_t take = c->end - c->start < length ? c->end - c->start : length;
        memcpy(out, c->buffer + c->start, take);
        c->start += take;
        out += take;
        length -= take;
    }
    return 0;
}

/* Status line and headers. Returns the status code (or -1); sets *chunked. */
static int read_head(struct connection *c, int *chunked, long *content_length) {
    char line[1024];
    int status;
    *chunked = 0;
    *content_length = -1;
    if (connection_line(c, line, sizeof line) != 0 || sscanf(line, "HTTP/1.%*d %d", &status) != 1) {
        return -1;
    }
    while (connection_line(c, line, sizeof line) == 0) {
        if (line[0] == '\0') {
            return status;
        }
        if (strncasecmp(line, "Transfer-Encoding:", 18) == 0 && strcasestr(line + 18, "chunked")) {
            *chunked = 1;
        } else if (strncasecmp(line, "Content-Length:", 15) == 0) {
            *content_length = strtol(line + 15, NULL, 10);
        }
    }
    return -1;
}

/*
 * The next piece of the body: a whole chunk when chunked, else what arrived.
 * Returns its length, 0 at the end of the body, -1 on error.
 */
static long read_body_piece(struct connection *c, int chunked, char *out, size_t size) {
    if (chunked) {
        char line[64];
        if (connection_line(c, line, sizeof line) != 0) {
            return -1;
        }
        unsigned long length = strtoul(line, NULL, 16);
        if (length >= size) {
            errno = EMSGSIZE;
            return -1;
        }
        if (length == 0) {
            return 0;
        }
        if (connection_exact(c, out, length) != 0 || connection_line(c, line, sizeof line) != 0) {
            return -1;
        }
        return (long)length;
    }
    if (c->start == c->end && connection_fill(c) != 0) {
        return errno == 0 ? 0 : -1;
    }
    size_t take = c->end - c->start < size ? c->end - c->start : size;
    memcpy(out, c->buffer + c->start, take);
    c->start += take;
    return (long)take;
}

/* ---- JSON: genidd's objects are flat, numbers are all we need ----------- */

static int json_number(const char *json, const char *key, uint64_t *value) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *at = strstr(json, pattern);
    if (at == NULL) {
        return -1;
    }
    at += strlen(pattern);
    while (*at == ' ') {
        at++;
    }
    char *end;
    errno = 0;
    unsigned long long parsed = strtoull(at, &end, 10);
    if (end == at || errno != 0) {
        return -1;
    }
    *value = parsed;
    return 0;
}

/* ---- long-poll ---------------------------------------------------------- */

/* GET target; on 200 fills seq and generation from the JSON body. */
static int get_generation(const char *host, int port, const char *target, uint64_t *seq,
                          uint64_t *generation) {
    static struct connection c;
    if (connection_open(&c, host, port) != 0) {
        return -1; /* genidd not listening yet (or restarting): the caller retries */
    }
    char request[256];
    int length = snprintf(request, sizeof request,
                          "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", target);
    int chunked, status = -1;
    long content_length;
    char body[4096];
    size_t used = 0;
    if (connection_send(&c, request, (size_t)length) == 0) {
        status = read_head(&c, &chunked, &content_length);
    }
    if (status == 200) {
        long got;
        while ((got = read_body_piece(&c, chunked, body + used, sizeof body - used - 1)) > 0) {
            used += (size_t)got;
        }
        body[used] = '\0';
        if (got < 0 || json_number(body, "seq", seq) != 0 || json_number(body, "generation", generation) != 0) {
            say("error unreadable answer to %s: %s", target, got < 0 ? strerror(errno) : body);
            status = -1;
        }
    } else {
        say("error %s answered %d (%s)", target, status, status < 0 ? strerror(errno) : "unexpected status");
        status = -1;
    }
    close(c.fd);
    return status == 200 ? 0 : -1;
}

_Noreturn static void run_longpoll(const char *host, int port) {
    uint64_t seq = 0, generation = 0;
    while (get_generation(host, port, "/v1/generation", &seq, &generation) != 0) {
        pause_ms(200);
    }
    say("start seq=%" PRIu64 " generation=%" PRIu64, seq, generation);
    for (;;) {
        char target[96];
        snprintf(target, sizeof target, "/v1/generation?wait=%" PRIu64 "&timeout=300", seq);
        uint64_t new_seq, new_generation;
        if (get_generation(host, port, target, &new_seq, &new_generation) != 0) {
            pause_ms(500);
            continue;
        }
        if (new_seq != seq) { /* equal: the long-poll timed out; ask again */
            seq = new_seq;
            say("seq=%" PRIu64 " generation=%" PRIu64, new_seq, new_generation);
        }
    }
}

/* ---- Server-Sent Events ------------------------------------------------- */

struct sse_state {
    char last_id[96]; /* "<instance>.<seq>", sent back as Last-Event-ID */
    int have_id;
    int started;
    char type[64];     /* the event field of the event being read ("" = message) */
    char data[4096];   /* the data field of the event being read */
    char event_id[96]; /* its id field */
    int event_has_id;
    char line[8192]; /* a line split across chunks */
    size_t line_used;
};

/* One complete SSE line (fields: event, id, data; blank line dispatches). */
static void sse_line(struct sse_state *s, const char *line) {
    if (strncmp(line, "event: ", 7) == 0) {
        snprintf(s->type, sizeof s->type, "%s", line + 7);
    } else if (strncmp(line, "id: ", 4) == 0) {
        snprintf(s->event_id, sizeof s->event_id, "%s", line + 4);
        s->event_has_id = 1;
    } else if (strncmp(line, "data: ", 6) == 0) {
        snprintf(s->data, sizeof s->data, "%s", line + 6);
    } else if (line[0] == '\0' && s->data[0] != '\0' && strcmp(s->type, "clock-disruption") == 0) {
        uint64_t marker = 0;
        if (json_number(s->data, "disruption_marker", &marker) != 0) {
            say("error unreadable clock-disruption event: %s", s->data);
        } else {
            say("clock-disruption marker=%" PRIu64 " id=%s", marker, s->event_has_id ? s->event_id : "none");
        }
        if (s->event_has_id) { /* the current state's id: a resume point like any other */
            snprintf(s->last_id, sizeof s->last_id, "%s", s->event_id);
            s->have_id = 1;
        }
        s->data[0] = '\0';
        s->type[0] = '\0';
        s->event_has_id = 0;
    } else if (line[0] == '\0' && s->data[0] != '\0') {
        uint64_t seq = 0, generation = 0;
        if (json_number(s->data, "seq", &seq) != 0 || json_number(s->data, "generation", &generation) != 0) {
            say("error unreadable event: %s", s->data);
        } else {
            say("%sseq=%" PRIu64 " generation=%" PRIu64 " id=%s", s->started ? "" : "start ", seq, generation,
                s->event_id);
            s->started = 1;
        }
        if (s->event_has_id) {
            snprintf(s->last_id, sizeof s->last_id, "%s", s->event_id);
            s->have_id = 1;
        }
        s->data[0] = '\0';
        s->type[0] = '\0';
        s->event_has_id = 0;
    } else if (line[0] == '\0') {
        s->type[0] = '\0';
    }
    /* retry: (in the first event's block) and ": keepalive" comment lines need nothing here */
}

static void sse_bytes(struct sse_state *s, const char *bytes, size_t length) {
    for (size_t i = 0; i < length; i++) {
        if (bytes[i] == '\n') {
            if (s->line_used > 0 && s->line[s->line_used - 1] == '\r') {
                s->line_used--;
            }
            s->line[s->line_used] = '\0';
            sse_line(s, s->line);
            s->line_used = 0;
        } else if (s->line_used < sizeof s->line - 1) {
            s->line[s->line_used++] = bytes[i];
        }
    }
}

_Noreturn static void run_sse(const char *host, int port) {
    static struct sse_state s;
    static struct connection c;
    static char piece[16384];
    for (;;) {
        if (connection_open(&c, host, port) != 0) {
            pause_ms(200);
            continue;
        }
        char request[256];
        int length = snprintf(request, sizeof request,
                              "GET /v1/events HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n");
        if (s.have_id) {
            length += snprintf(request + length, sizeof request - (size_t)length,
                               "Last-Event-ID: %s\r\n", s.last_id);
        }
        length += snprintf(request + length, sizeof request - (size_t)length, "\r\n");
        int chunked, status = -1;
        long content_length;
        if (connection_send(&c, request, (size_t)length) == 0) {
            status = read_head(&c, &chunked, &content_length);
        }
        if (status != 200) {
            say("error /v1/events answered %d", status);
        } else {
            s.line_used = 0;
            s.data[0] = '\0';
            s.type[0] = '\0';
            s.event_has_id = 0;
            long got;
            while ((got = read_body_piece(&c, chunked, piece, sizeof piece)) > 0) {
                sse_bytes(&s, piece, (size_t)got);
            }
            say("error stream ended (%s)", got < 0 && errno != 0 ? strerror(errno) : "closed by genidd");
        }
        close(c.fd);
        pause_ms(500);
    }
}

int main(int argc, char **argv) {
    if (argc != 4 || (strcmp(argv[1], "longpoll") != 0 && strcmp(argv[1], "sse") != 0)) {
        fprintf(stderr, "usage: %s longpoll|sse HOST PORT\n", argv[0]);
        return 2;
    }
    mode = argv[1];
    int port = atoi(argv[3]);
    if (strcmp(mode, "longpoll") == 0) {
        run_longpoll(argv[2], port);
    }
    run_sse(argv[2], port);
}
