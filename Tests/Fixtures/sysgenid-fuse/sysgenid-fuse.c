// sysgenid-fuse: a FUSE emulation of the /dev/sysgenid character device
// (Adrian Catangiu's sysgenid driver, never merged into mainline), for tests
// of genidd on machines without the driver. Test fixture, not production code.
//
// BUILD AND TEST
//   Tests/Fixtures/sysgenid-fuse/build.sh OUTPUT   (installs libfuse3-dev)
//   Tests/Fixtures/sysgenid-fuse/selftest.sh       (as root, needs /dev/fuse)
//
// USAGE
//   sysgenid-fuse [options] MOUNTPOINT
//     -i, --initial N      initial generation counter (default 0, like the
//                          driver, whose counter starts at zero)
//     -a, --abi v4|v5|v7   ioctl ABI to emulate (default v4, see below)
//     -t, --max-threads N  worker threads (default 256); every blocked read()
//                          or WAIT_WATCHERS holds one worker thread
//     -o OPTS              extra FUSE mount options (comma separated)
//     -d, --debug          libfuse request tracing on stderr
//   Runs in the foreground. SIGTERM, SIGINT or SIGHUP: wake every blocked
//   request, leave the loop, unmount (lazily if files are still open: their
//   later operations then fail with ENOTCONN), exit 0.
//   Must run as root (mounts with allow_other,default_permissions so that an
//   unprivileged genidd can open the device too).
//
// FILES IN THE MOUNT
//   sysgenid  (0666) the emulated device, semantics below.
//   control   (0200) the emulated hypervisor. Each write() holds one or more
//             newline-separated commands; a write with any invalid command
//             fails with EINVAL and applies none of them:
//               bump        counter += 1 (the driver's sysgenid_bump_generation,
//                           i.e. what a VM restore does)
//               force N     counter = max(N, counter + 1), as FORCE_GEN_UPDATE
//               set N       counter = N, N in 0..4294967295; may go backwards
//                           (no real driver does that; for "counter moved
//                           backwards" tests). Setting the current value is a
//                           no-op.
//               reset-acks  acks = 0
//             e.g.  echo bump > MNT/control ;  printf 'set 7\n' > MNT/control
//   status    (0444) one line, regenerated on every read:
//     generation=G watchers=W outdated=O acks=A handles=H blocked_reads=R
//     pollers=P waiters=X changes=C abi=v4
//       generation     current counter (decimal u32)
//       watchers       watchers counted by the driver (v4, v5: every open
//                      sysgenid handle; v7: handles with tracking on)
//       outdated       those of them whose counter != generation
//       acks           successful write() acknowledgements so far (every
//                      successful 4-byte write, also one that changed nothing)
//       handles        open sysgenid handles (tracked or not)
//       blocked_reads  read()s currently sleeping for a change
//       pollers        handles with a registered poll notification (i.e. that
//                      someone poll()s / epoll()s with a wait)
//       waiters        WAIT_WATCHERS ioctls currently sleeping
//       changes        generation changes so far (bump/force/set/ioctl)
//     Tests may rely on the first four keys and their order; more keys may be
//     appended later.
//
// EMULATED SEMANTICS (sysgenid, patch series v4..v7)
//   open()    records the current counter for the open file; a watcher.
//   read()    count 0 -> 0; count < 4 -> EINVAL; otherwise blocks until this
//             handle's counter differs from the current one, then returns 4
//             bytes: the current counter, native (little-endian) u32. With
//             O_NONBLOCK (at open or via fcntl) and nothing new: EAGAIN.
//             The offset is ignored (direct_io: every read reaches us).
//   write()   exactly 4 bytes (else EINVAL; v7: ENOBUFS); a value other than
//             the current counter -> EINVAL; otherwise the handle is up to
//             date. Returns 4.
//   poll()    POLLIN|POLLRDNORM while the handle is outdated; poll/select/
//             epoll sleepers are woken through FUSE poll notifications.
//   ioctl()   all _IO, argument by value (see genidd_kernel_abi.h):
//             v4 (magic 0x2d, default):
//               GET_OUTDATED_WATCHERS 0x2d01 -> returns the outdated count
//               WAIT_WATCHERS(ms)     0x2d02 -> sleeps until no watcher is
//                   outdated or the caller is outdated, or ms elapse (0 =
//                   forever); returns 0 if none outdated, else EINTR
//               FORCE_GEN_UPDATE(min) 0x2d03 -> counter = max(min, counter+1)
//             v5 (magic 0xE4, --abi v5; GET_OUTDATED_WATCHERS removed):
//               WAIT_WATCHERS(ms)          0xe401 -> the raw wait result: 0
//                   once no watcher is outdated or the caller is, else ETIME
//               FORCE_GEN_UPDATE(min)      0xe402
//             v7 (magic 0xE4, --abi v7; the Amazon Linux kernel's driver):
//               SET_WATCHER_TRACKING(bool) 0xe401 (tracking is off at open)
//               WAIT_WATCHERS(ms)          0xe402 -> EINTR if the caller is
//                   outdated, else 0 / ETIME on timeout
//               TRIGGER_GEN_UPDATE(min)    0xe403
//             FORCE/TRIGGER need CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE in
//             the caller's effective set (read from /proc/PID/status), else
//             EACCES. Other commands: EINVAL, as in the driver.
//   close()   the last close of the open file (FUSE RELEASE) removes the
//             watcher.
//
// DEVIATIONS FROM THE REAL DEVICE, AND WHY
//   - It is a regular file (S_IFREG), not a character device: a FUSE inode
//     with S_IFCHR would be routed to the kernel's char-device layer, not to
//     this process, and CUSE is not available here. Code that checks
//     S_ISCHR() to pick "device" over "regular file" semantics must be told
//     explicitly to treat this path as the device.
//   - mmap(): the driver maps one page whose first 4 bytes are the live
//     counter. FUSE maps a direct_io file only privately (MAP_SHARED fails
//     with ENODEV), through the page cache: the file reports a size of one
//     page, a read of a whole page (what a page fault issues; read() callers
//     of the device ask for 4 bytes) is answered at once with the counter at
//     offset 0, and every change invalidates the cached page, so a
//     MAP_PRIVATE, PROT_READ mapping shows the live counter as the device's
//     mapping does. A read() of 4096 bytes or more is therefore treated as a
//     page fill, not as a watcher read.
//   - A signal that interrupts a blocked read() or WAIT_WATCHERS makes it
//     fail with EINTR even under SA_RESTART (the driver returns ERESTARTSYS,
//     which SA_RESTART would restart transparently). FUSE interrupts reach
//     us as an INTERRUPT request, which we answer with EINTR.
//   - close() returns before the watcher is removed: FUSE sends RELEASE
//     asynchronously after the last close, so `watchers`/`outdated` drop a
//     moment later. Tests should poll `status` rather than read it once.
//   - The outdated count is recomputed from the handles (tracked handles
//     whose counter != generation) instead of being set to the watcher count
//     on each bump and decremented on acks as the driver does. The two agree
//     whenever the counter only moves forward; after `set` backwards, a
//     handle whose counter equals the new value counts as up to date (which
//     is what the driver's own per-handle test, equals_gen_counter, says).
//   - No uevent (v5+ sent SYSGENID=N on every change).
//   - Zero-length write() returns 0 without reaching us (the driver says
//     EINVAL): the kernel short-circuits empty writes before FUSE.
//   - The FORCE/TRIGGER capability check reads the caller's effective
//     capabilities from /proc, i.e. in this process's PID namespace, not in
//     the caller's user namespace as checkpoint_restore_ns_capable() does.
#define FUSE_USE_VERSION 312
#define PAGE_BYTES 4096
#define _GNU_SOURCE

#include <fuse_lowlevel.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "genidd_kernel_abi.h"

enum {
    INO_ROOT = FUSE_ROOT_ID,
    INO_SYSGENID = 2,
    INO_CONTROL = 3,
    INO_STATUS = 4,
};

enum abi { ABI_V4, ABI_V5, ABI_V7 };

static const char *abi_name(enum abi abi) {
    return abi == ABI_V4 ? "v4" : abi == ABI_V5 ? "v5" : "v7";
}

/* One open file description of `sysgenid` (the driver's struct file_data). */
struct watcher {
    struct watcher *prev, *next;
    uint32_t acked;              /* the counter this handle has seen */
    bool tracked;                /* counted in watchers/outdated */
    struct fuse_pollhandle *ph;  /* latest poll registration, or NULL */
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t changed; /* any state change; CLOCK_MONOTONIC */
    uint32_t generation;
    enum abi abi;
    struct watcher handles; /* list head */
    unsigned handle_count;
    uint64_t acks;
    uint64_t changes;
    unsigned blocked_reads;
    unsigned waiters;
    bool shutting_down;
} g = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
};

static struct fuse_session *g_session;
static int g_signal_pipe[2] = {-1, -1};
static volatile sig_atomic_t g_signalled;
static pthread_t g_main_thread;
static volatile int g_loop_done; /* accessed with __atomic builtins */

static void die(const char *format, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *format, ...) {
    va_list ap;
    va_start(ap, format);
    fputs("sysgenid-fuse: ", stderr);
    vfprintf(stderr, format, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

/* ---- state helpers (call with g.lock held) ------------------------------ */

static bool is_outdated(const struct watcher *w) { return w->acked != g.generation; }

static unsigned count_watchers(bool outdated_only) {
    unsigned n = 0;
    for (struct watcher *w = g.handles.next; w != &g.handles; w = w->next)
        if (w->tracked && (!outdated_only || is_outdated(w)))
            n++;
    return n;
}

static unsigned count_pollers(void) {
    unsigned n = 0;
    for (struct watcher *w = g.handles.next; w != &g.handles; w = w->next)
        if (w->ph)
            n++;
    return n;
}

/* Wake every sleeper: blocked reads, WAIT_WATCHERS, and poll/epoll waiters
 * (through the kernel's FUSE poll notification). */
static void wake_all_locked(void) {
    pthread_cond_broadcast(&g.changed);
    for (struct watcher *w = g.handles.next; w != &g.handles; w = w->next)
        if (w->ph)
            fuse_lowlevel_notify_poll(w->ph);
}

static void set_generation_locked(uint32_t value) {
    if (value == g.generation)
        return;
    __atomic_store_n(&g.generation, value, __ATOMIC_RELEASE);
    g.changes++;
    wake_all_locked();
}

/* Drops the cached page so that mappings fault in the new counter. Called
 * after g.lock is released: the kernel may wait for a page fill in flight. */
static void invalidate_mapped_page(void) {
    if (g_session)
        fuse_lowlevel_notify_inval_inode(g_session, INO_SYSGENID, 0, 0);
}

/* The driver's _bump_generation(min_gen): max() of two ints. */
static uint32_t forced_generation(uint32_t current, unsigned long min_gen) {
    int32_t next = (int32_t)(current + 1u);
    int32_t min = (int32_t)(uint32_t)min_gen;
    return (uint32_t)(min > next ? min : next);
}

static int format_status_locked(char *buffer, size_t size) {
    return snprintf(buffer, size,
                    "generation=%" PRIu32 " watchers=%u outdated=%u acks=%" PRIu64
                    " handles=%u blocked_reads=%u pollers=%u waiters=%u changes=%" PRIu64
                    " abi=%s\n",
                    g.generation, count_watchers(false), count_watchers(true), g.acks,
                    g.handle_count, g.blocked_reads, count_pollers(), g.waiters, g.changes,
                    abi_name(g.abi));
}

/* ---- interrupts ---------------------------------------------------------- */

/* Called by libfuse (another worker thread) when the kernel sends INTERRUPT
 * for a request we sleep on. It must not touch the request's stack data, so
 * it only wakes everybody; sleepers check fuse_req_interrupted(). Registered
 * before g.lock is taken, because libfuse calls it at once if the interrupt
 * already arrived. */
static void on_interrupt(fuse_req_t req, void *data) {
    (void)req;
    (void)data;
    pthread_mutex_lock(&g.lock);
    pthread_cond_broadcast(&g.changed);
    pthread_mutex_unlock(&g.lock);
}

/* ---- capability check for FORCE/TRIGGER ---------------------------------- */

static bool caller_may_force(fuse_req_t req) {
    const struct fuse_ctx *ctx = fuse_req_ctx(req);
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)ctx->pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return ctx->uid == 0; /* caller already gone, or another PID namespace */
    char line[256];
    bool allowed = false;
    while (fgets(line, sizeof line, f)) {
        unsigned long long caps;
        if (sscanf(line, "CapEff: %llx", &caps) == 1) {
            const unsigned long long cap_sys_admin = 1ULL << 21;
            const unsigned long long cap_checkpoint_restore = 1ULL << 40;
            allowed = (caps & (cap_sys_admin | cap_checkpoint_restore)) != 0;
            break;
        }
    }
    fclose(f);
    return allowed;
}

/* ---- inode attributes ---------------------------------------------------- */

static int fill_stat(fuse_ino_t ino, struct stat *st) {
    memset(st, 0, sizeof *st);
    st->st_ino = ino;
    st->st_uid = 0;
    st->st_gid = 0;
    st->st_nlink = 1;
    st->st_size = ino == INO_SYSGENID ? PAGE_BYTES : 0; /* one page, as the device maps */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    st->st_atim = st->st_mtim = st->st_ctim = now;
    switch (ino) {
    case INO_ROOT:
        st->st_mode = S_IFDIR | 0755;
        st->st_nlink = 2;
        return 0;
    case INO_SYSGENID:
        st->st_mode = S_IFREG | 0666;
        return 0;
    case INO_CONTROL:
        st->st_mode = S_IFREG | 0200;
        return 0;
    case INO_STATUS:
        st->st_mode = S_IFREG | 0444;
        return 0;
    default:
        return ENOENT;
    }
}

static const struct {
    const char *name;
    fuse_ino_t ino;
} entries[] = {
    {"sysgenid", INO_SYSGENID},
    {"control", INO_CONTROL},
    {"status", INO_STATUS},
};

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
    if (parent != INO_ROOT) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++) {
        if (strcmp(name, entries[i].name) == 0) {
            struct fuse_entry_param e;
            memset(&e, 0, sizeof e);
            e.ino = entries[i].ino;
            e.attr_timeout = 1.0;
            e.entry_timeout = 1.0;
            fill_stat(e.ino, &e.attr);
            fuse_reply_entry(req, &e);
            return;
        }
    }
    fuse_reply_err(req, ENOENT);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
    (void)fi;
    struct stat st;
    int err = fill_stat(ino, &st);
    if (err)
        fuse_reply_err(req, err);
    else
        fuse_reply_attr(req, &st, 1.0);
}

/* `echo bump > control` opens with O_TRUNC, which arrives as a setattr of
 * size 0: accept it and change nothing. */
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                       struct fuse_file_info *fi) {
    (void)attr;
    (void)fi;
    struct stat st;
    int err = fill_stat(ino, &st);
    if (err) {
        fuse_reply_err(req, err);
        return;
    }
    if (to_set & ~(FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
                   FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME)) {
        fuse_reply_err(req, EPERM);
        return;
    }
    fuse_reply_attr(req, &st, 1.0);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi) {
    (void)fi;
    if (ino != INO_ROOT) {
        fuse_reply_err(req, ENOTDIR);
        return;
    }
    char *buffer = calloc(1, size);
    if (!buffer) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    size_t used = 0;
    const size_t total = 2 + sizeof entries / sizeof entries[0];
    for (size_t i = (size_t)off; i < total; i++) {
        struct stat st;
        const char *name;
        if (i == 0) {
            name = ".";
            fill_stat(INO_ROOT, &st);
        } else if (i == 1) {
            name = "..";
            fill_stat(INO_ROOT, &st);
        } else {
            name = entries[i - 2].name;
            fill_stat(entries[i - 2].ino, &st);
        }
        size_t need = fuse_add_direntry(req, buffer + used, size - used, name, &st, (off_t)(i + 1));
        if (need > size - used)
            break;
        used += need;
    }
    fuse_reply_buf(req, buffer, used);
    free(buffer);
}

/* ---- open / release ------------------------------------------------------ */

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
    fi->direct_io = 1; /* every read/write reaches us; no page cache */
    fi->keep_cache = 0;
    switch (ino) {
    case INO_SYSGENID: {
        struct watcher *w = calloc(1, sizeof *w);
        if (!w) {
            fuse_reply_err(req, ENOMEM);
            return;
        }
        pthread_mutex_lock(&g.lock);
        w->acked = g.generation;
        w->tracked = g.abi != ABI_V7; /* v6+: opt in via SET_WATCHER_TRACKING */
        w->next = &g.handles;
        w->prev = g.handles.prev;
        g.handles.prev->next = w;
        g.handles.prev = w;
        g.handle_count++;
        pthread_mutex_unlock(&g.lock);
        fi->fh = (uint64_t)(uintptr_t)w;
        if (fuse_reply_open(req, fi) != 0) {
            /* The opener is gone (interrupted); the kernel sends no RELEASE. */
            pthread_mutex_lock(&g.lock);
            w->prev->next = w->next;
            w->next->prev = w->prev;
            g.handle_count--;
            pthread_cond_broadcast(&g.changed);
            pthread_mutex_unlock(&g.lock);
            free(w);
        }
        return;
    }
    case INO_CONTROL:
    case INO_STATUS:
        fi->fh = 0;
        fuse_reply_open(req, fi);
        return;
    default:
        fuse_reply_err(req, ino == INO_ROOT ? EISDIR : ENOENT);
        return;
    }
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
    if (ino == INO_SYSGENID && fi->fh) {
        struct watcher *w = (struct watcher *)(uintptr_t)fi->fh;
        pthread_mutex_lock(&g.lock);
        w->prev->next = w->next;
        w->next->prev = w->prev;
        g.handle_count--;
        if (w->ph)
            fuse_pollhandle_destroy(w->ph);
        /* An outdated watcher going away may satisfy WAIT_WATCHERS. */
        pthread_cond_broadcast(&g.changed);
        pthread_mutex_unlock(&g.lock);
        free(w);
    }
    fuse_reply_err(req, 0);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
    (void)ino;
    (void)fi;
    fuse_reply_err(req, 0);
}

/* ---- read ---------------------------------------------------------------- */

/* A page-cache fill for a mapping: the counter at offset 0 of one page. It
 * never blocks and takes no lock (invalidation may wait for it). */
static void read_page(fuse_req_t req, size_t size, off_t off) {
    static __thread unsigned char page[PAGE_BYTES];
    memset(page, 0, sizeof page);
    uint32_t value = __atomic_load_n(&g.generation, __ATOMIC_ACQUIRE);
    memcpy(page, &value, sizeof value);
    if (off >= PAGE_BYTES) {
        fuse_reply_buf(req, NULL, 0);
        return;
    }
    size_t n = PAGE_BYTES - (size_t)off;
    fuse_reply_buf(req, (const char *)page + off, n < size ? n : size);
}

static void read_sysgenid(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi) {
    struct watcher *w = (struct watcher *)(uintptr_t)fi->fh;
    if (size >= PAGE_BYTES) {
        read_page(req, size, off);
        return;
    }
    if (size == 0) {
        fuse_reply_buf(req, NULL, 0);
        return;
    }
    if (size < GENIDD_SYSGENID_COUNTER_SIZE) { /* partial reads are not allowed */
        fuse_reply_err(req, EINVAL);
        return;
    }
    const bool nonblocking = (fi->flags & O_NONBLOCK) != 0;
    if (!nonblocking)
        fuse_req_interrupt_func(req, on_interrupt, NULL);

    pthread_mutex_lock(&g.lock);
    int err = 0;
    bool counted = false;
    while (!is_outdated(w)) {
        if (nonblocking) {
            err = EAGAIN;
            break;
        }
        if (fuse_req_interrupted(req)) {
            err = EINTR;
            break;
        }
        if (g.shutting_down) {
            err = EIO;
            break;
        }
        if (!counted) {
            g.blocked_reads++;
            counted = true;
        }
        pthread_cond_wait(&g.changed, &g.lock);
    }
    if (counted)
        g.blocked_reads--;
    uint32_t value = g.generation; /* native endianness, as copy_to_user does */
    pthread_mutex_unlock(&g.lock);

    if (!nonblocking)
        fuse_req_interrupt_func(req, NULL, NULL);
    if (err)
        fuse_reply_err(req, err);
    else
        fuse_reply_buf(req, (const char *)&value, sizeof value);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi) {
    switch (ino) {
    case INO_SYSGENID:
        read_sysgenid(req, size, off, fi); /* offsets matter only for page fills */
        return;
    case INO_STATUS: {
        char line[512];
        pthread_mutex_lock(&g.lock);
        int len = format_status_locked(line, sizeof line);
        pthread_mutex_unlock(&g.lock);
        if (len < 0 || off >= len) {
            fuse_reply_buf(req, NULL, 0);
            return;
        }
        size_t n = (size_t)len - (size_t)off;
        fuse_reply_buf(req, line + off, n < size ? n : size);
        return;
    }
    default:
        fuse_reply_err(req, EBADF);
        return;
    }
}

/* ---- write --------------------------------------------------------------- */

static bool parse_u32(const char *text, uint32_t *out) {
    if (*text < '0' || *text > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, 0);
    if (errno || *end != '\0' || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

enum command_kind { CMD_BUMP, CMD_FORCE, CMD_SET, CMD_RESET_ACKS };
struct command {
    enum command_kind kind;
    uint32_t value;
};

/* Parses `text` into commands; returns the count, or -1 if any is invalid. */
static int parse_commands(char *text, struct command *cmds, int max) {
    int n = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *word_save = NULL;
        char *verb = strtok_r(line, " \t\r", &word_save);
        if (!verb)
            continue; /* blank line */
        char *arg = strtok_r(NULL, " \t\r", &word_save);
        char *extra = strtok_r(NULL, " \t\r", &word_save);
        if (extra || n == max)
            return -1;
        struct command c = {0};
        if (strcmp(verb, "bump") == 0 && !arg) {
            c.kind = CMD_BUMP;
        } else if (strcmp(verb, "reset-acks") == 0 && !arg) {
            c.kind = CMD_RESET_ACKS;
        } else if (strcmp(verb, "set") == 0 && arg && parse_u32(arg, &c.value)) {
            c.kind = CMD_SET;
        } else if (strcmp(verb, "force") == 0 && arg && parse_u32(arg, &c.value)) {
            c.kind = CMD_FORCE;
        } else {
            return -1;
        }
        cmds[n++] = c;
    }
    return n;
}

static void write_control(fuse_req_t req, const char *buf, size_t size) {
    if (size > 4096) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    char text[4097];
    memcpy(text, buf, size);
    text[size] = '\0';
    if (memchr(text, '\0', size)) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    struct command cmds[64];
    int n = parse_commands(text, cmds, 64);
    if (n < 0) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    pthread_mutex_lock(&g.lock);
    for (int i = 0; i < n; i++) {
        switch (cmds[i].kind) {
        case CMD_BUMP:
            set_generation_locked(g.generation + 1u);
            break;
        case CMD_FORCE:
            set_generation_locked(forced_generation(g.generation, cmds[i].value));
            break;
        case CMD_SET:
            set_generation_locked(cmds[i].value);
            break;
        case CMD_RESET_ACKS:
            g.acks = 0;
            break;
        }
    }
    pthread_mutex_unlock(&g.lock);
    invalidate_mapped_page();
    fuse_reply_write(req, size);
}

static void write_sysgenid(fuse_req_t req, const char *buf, size_t size,
                           struct fuse_file_info *fi) {
    struct watcher *w = (struct watcher *)(uintptr_t)fi->fh;
    if (size != GENIDD_SYSGENID_COUNTER_SIZE) { /* partial writes are not allowed */
        pthread_mutex_lock(&g.lock);
        int err = g.abi == ABI_V7 ? ENOBUFS : EINVAL;
        pthread_mutex_unlock(&g.lock);
        fuse_reply_err(req, err);
        return;
    }
    uint32_t value;
    memcpy(&value, buf, sizeof value);
    pthread_mutex_lock(&g.lock);
    if (value != g.generation) { /* wrong counter acknowledged */
        pthread_mutex_unlock(&g.lock);
        fuse_reply_err(req, EINVAL);
        return;
    }
    bool was_outdated = is_outdated(w);
    w->acked = value;
    g.acks++;
    if (was_outdated)
        pthread_cond_broadcast(&g.changed); /* WAIT_WATCHERS may be satisfied */
    pthread_mutex_unlock(&g.lock);
    fuse_reply_write(req, size);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                     struct fuse_file_info *fi) {
    (void)off;
    switch (ino) {
    case INO_SYSGENID:
        write_sysgenid(req, buf, size, fi);
        return;
    case INO_CONTROL:
        write_control(req, buf, size);
        return;
    default:
        fuse_reply_err(req, EBADF);
        return;
    }
}

/* ---- poll ---------------------------------------------------------------- */

static void op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
                    struct fuse_pollhandle *ph) {
    if (ino != INO_SYSGENID) {
        /* control/status never block */
        if (ph)
            fuse_pollhandle_destroy(ph);
        fuse_reply_poll(req, ino == INO_STATUS ? (POLLIN | POLLRDNORM) : (POLLOUT | POLLWRNORM));
        return;
    }
    struct watcher *w = (struct watcher *)(uintptr_t)fi->fh;
    pthread_mutex_lock(&g.lock);
    if (ph) {
        /* One notification wakes every poller of this open file; keep only
         * the newest handle. */
        if (w->ph)
            fuse_pollhandle_destroy(w->ph);
        w->ph = ph;
    }
    unsigned revents = is_outdated(w) ? (POLLIN | POLLRDNORM) : 0;
    pthread_mutex_unlock(&g.lock);
    fuse_reply_poll(req, revents);
}

/* ---- ioctl --------------------------------------------------------------- */

/* WAIT_WATCHERS: sleep until no tracked watcher is outdated or the caller
 * itself is outdated, or the timeout (ms, 0 = none) expires. */
static void ioctl_wait_watchers(fuse_req_t req, struct watcher *w, unsigned long timeout_ms) {
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += (time_t)(timeout_ms / 1000);
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }

    fuse_req_interrupt_func(req, on_interrupt, NULL);
    pthread_mutex_lock(&g.lock);
    g.waiters++;
    bool timed_out = false, interrupted = false;
    while (count_watchers(true) != 0 && !is_outdated(w)) {
        if (fuse_req_interrupted(req) || g.shutting_down) {
            interrupted = true;
            break;
        }
        if (timeout_ms == 0) {
            pthread_cond_wait(&g.changed, &g.lock);
        } else if (pthread_cond_timedwait(&g.changed, &g.lock, &deadline) == ETIMEDOUT) {
            timed_out = count_watchers(true) != 0 && !is_outdated(w);
            break;
        }
    }
    g.waiters--;
    int err;
    if (g.abi == ABI_V4) {
        /* v4: "if (atomic_read(&outdated_watchers)) ret = -EINTR; else 0" */
        err = count_watchers(true) != 0 ? EINTR : 0;
    } else if (g.abi == ABI_V5) {
        /* v5: the raw wait result: 0 once the condition holds (no watcher
         * outdated, or the caller is), -ETIME on timeout, -ERESTARTSYS on a signal */
        err = timed_out ? ETIME : interrupted ? EINTR : 0;
    } else {
        /* v6/v7: caller outdated -> -EINTR; else the hrtimeout wait result */
        if (is_outdated(w))
            err = EINTR;
        else if (count_watchers(true) == 0)
            err = 0;
        else if (timed_out)
            err = ETIME;
        else
            err = interrupted ? EINTR : 0;
    }
    pthread_mutex_unlock(&g.lock);
    fuse_req_interrupt_func(req, NULL, NULL);
    if (err)
        fuse_reply_err(req, err);
    else
        fuse_reply_ioctl(req, 0, NULL, 0);
}

static void ioctl_force(fuse_req_t req, unsigned long min_gen) {
    if (!caller_may_force(req)) {
        fuse_reply_err(req, EACCES);
        return;
    }
    pthread_mutex_lock(&g.lock);
    set_generation_locked(forced_generation(g.generation, min_gen));
    pthread_mutex_unlock(&g.lock);
    invalidate_mapped_page();
    fuse_reply_ioctl(req, 0, NULL, 0);
}

static void op_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
                     struct fuse_file_info *fi, unsigned flags, const void *in_buf,
                     size_t in_bufsz, size_t out_bufsz) {
    (void)in_buf;
    (void)in_bufsz;
    (void)out_bufsz;
    if (ino != INO_SYSGENID || (flags & FUSE_IOCTL_DIR)) {
        fuse_reply_err(req, ENOTTY);
        return;
    }
    struct watcher *w = (struct watcher *)(uintptr_t)fi->fh;
    /* _IO commands: the kernel passes ioctl(2)'s third argument through
     * unchanged (fuse_ioctl_in.arg); libfuse hands it to us as a pointer. */
    unsigned long value = (unsigned long)(uintptr_t)arg;

    pthread_mutex_lock(&g.lock);
    enum abi abi = g.abi;
    pthread_mutex_unlock(&g.lock);

    if (abi == ABI_V4) {
        switch (cmd) {
        case GENIDD_SYSGENID_V4_GET_OUTDATED_WATCHERS: {
            pthread_mutex_lock(&g.lock);
            int outdated = (int)count_watchers(true);
            pthread_mutex_unlock(&g.lock);
            fuse_reply_ioctl(req, outdated, NULL, 0);
            return;
        }
        case GENIDD_SYSGENID_V4_WAIT_WATCHERS:
            ioctl_wait_watchers(req, w, value);
            return;
        case GENIDD_SYSGENID_V4_FORCE_GEN_UPDATE:
            ioctl_force(req, value);
            return;
        }
    } else if (abi == ABI_V5) {
        switch (cmd) {
        case GENIDD_SYSGENID_V5_WAIT_WATCHERS:
            ioctl_wait_watchers(req, w, value);
            return;
        case GENIDD_SYSGENID_V5_FORCE_GEN_UPDATE:
            ioctl_force(req, value);
            return;
        }
    } else {
        switch (cmd) {
        case GENIDD_SYSGENID_V7_SET_WATCHER_TRACKING:
            pthread_mutex_lock(&g.lock);
            w->tracked = value != 0;
            pthread_cond_broadcast(&g.changed);
            pthread_mutex_unlock(&g.lock);
            fuse_reply_ioctl(req, 0, NULL, 0);
            return;
        case GENIDD_SYSGENID_V7_WAIT_WATCHERS:
            ioctl_wait_watchers(req, w, value);
            return;
        case GENIDD_SYSGENID_V7_TRIGGER_GEN_UPDATE:
            ioctl_force(req, value);
            return;
        }
    }
    fuse_reply_err(req, EINVAL); /* the driver's default: -EINVAL */
}

static const struct fuse_lowlevel_ops ops = {
    .lookup = op_lookup,
    .getattr = op_getattr,
    .setattr = op_setattr,
    .readdir = op_readdir,
    .open = op_open,
    .release = op_release,
    .flush = op_flush,
    .read = op_read,
    .write = op_write,
    .poll = op_poll,
    .ioctl = op_ioctl,
};

/* ---- shutdown -------------------------------------------------------------
 * The signal handler only marks the session as exited and writes to a pipe.
 * A helper thread then wakes every request sleeping in this process (workers
 * blocked in our handlers cannot be cancelled by libfuse) and pokes the main
 * thread, whose sem_wait() in fuse_session_loop_mt() returns on EINTR. */

static void on_signal(int signo) {
    (void)signo;
    int saved = errno;
    g_signalled = 1;
    if (g_session)
        fuse_session_exit(g_session);
    if (g_signal_pipe[1] >= 0) {
        char byte = 1;
        ssize_t ignored = write(g_signal_pipe[1], &byte, 1);
        (void)ignored;
    }
    errno = saved;
}

static void *shutdown_thread(void *unused) {
    (void)unused;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals go to other threads */
    char byte;
    while (read(g_signal_pipe[0], &byte, 1) < 0 && errno == EINTR) {
    }
    pthread_mutex_lock(&g.lock);
    g.shutting_down = true;
    pthread_cond_broadcast(&g.changed);
    pthread_mutex_unlock(&g.lock);
    /* The main thread may be in sem_wait(); interrupt it (repeatedly, in case
     * it had not reached the wait yet). Workers exit on their own. */
    for (int i = 0; i < 50 && !__atomic_load_n(&g_loop_done, __ATOMIC_ACQUIRE); i++) {
        pthread_kill(g_main_thread, SIGUSR1);
        struct timespec pause = {0, 100 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    return NULL;
}

static void on_sigusr1(int signo) { (void)signo; }

static void install_signal_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_signal; /* no SA_RESTART: blocking reads return EINTR */
    if (sigaction(SIGTERM, &sa, NULL) || sigaction(SIGINT, &sa, NULL) ||
        sigaction(SIGHUP, &sa, NULL))
        die("sigaction: %s", strerror(errno));
    /* SA_RESTART keeps SIGUSR1 from disturbing other calls; sem_wait() is
     * never restarted after a handler, which is all SIGUSR1 is for. */
    sa.sa_handler = on_sigusr1;
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGUSR1, &sa, NULL))
        die("sigaction: %s", strerror(errno));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    /* A parent may start us with these blocked (the mask is inherited across
     * exec; Foundation's Process does this): unblock them, or SIGTERM would
     * never stop the emulator. */
    sigset_t wanted;
    sigemptyset(&wanted);
    sigaddset(&wanted, SIGTERM);
    sigaddset(&wanted, SIGINT);
    sigaddset(&wanted, SIGHUP);
    sigaddset(&wanted, SIGUSR1);
    pthread_sigmask(SIG_UNBLOCK, &wanted, NULL);
}

/* ---- main ---------------------------------------------------------------- */

static void usage(FILE *to) {
    fprintf(to,
            "usage: sysgenid-fuse [-i N] [-a v4|v5|v7] [-t THREADS] [-o OPTS] [-d] MOUNTPOINT\n"
            "  -i, --initial N      initial generation counter (default 0)\n"
            "  -a, --abi v4|v5|v7   ioctl ABI: v4 = magic 0x2d with GET_OUTDATED_WATCHERS\n"
            "                       (default); v5 = magic 0xE4, WAIT_WATCHERS and\n"
            "                       FORCE_GEN_UPDATE only; v7 = magic 0xE4 with\n"
            "                       SET_WATCHER_TRACKING\n"
            "  -t, --max-threads N  worker threads (default 256)\n"
            "  -o OPTS              extra FUSE mount options\n"
            "  -d, --debug          trace FUSE requests on stderr\n"
            "Files: MOUNTPOINT/sysgenid (device), MOUNTPOINT/control (write: bump |\n"
            "force N | set N | reset-acks), MOUNTPOINT/status (read: generation=G\n"
            "watchers=W outdated=O acks=A ...).\n");
}

int main(int argc, char **argv) {
    static const struct option long_options[] = {
        {"initial", required_argument, NULL, 'i'},
        {"abi", required_argument, NULL, 'a'},
        {"max-threads", required_argument, NULL, 't'},
        {"debug", no_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    uint32_t initial = 0;
    enum abi abi = ABI_V4;
    unsigned max_threads = 256;
    bool debug = false;
    char extra_opts[1024] = "";
    int opt;
    while ((opt = getopt_long(argc, argv, "i:a:t:o:dh", long_options, NULL)) != -1) {
        switch (opt) {
        case 'i':
            if (!parse_u32(optarg, &initial))
                die("--initial wants a number in 0..4294967295, got '%s'", optarg);
            break;
        case 'a':
            if (strcmp(optarg, "v4") == 0)
                abi = ABI_V4;
            else if (strcmp(optarg, "v5") == 0)
                abi = ABI_V5;
            else if (strcmp(optarg, "v7") == 0)
                abi = ABI_V7;
            else
                die("--abi wants v4, v5 or v7, got '%s'", optarg);
            break;
        case 't': {
            uint32_t n;
            if (!parse_u32(optarg, &n) || n < 2 || n > 100000)
                die("--max-threads wants a number in 2..100000, got '%s'", optarg);
            max_threads = n;
            break;
        }
        case 'o':
            if (snprintf(extra_opts, sizeof extra_opts, "%s", optarg) >= (int)sizeof extra_opts)
                die("-o options too long");
            break;
        case 'd':
            debug = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    const char *mountpoint = argv[optind];

    g.generation = initial;
    g.abi = abi;
    g.handles.next = g.handles.prev = &g.handles;
    pthread_condattr_t cattr;
    pthread_condattr_init(&cattr);
    pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
    pthread_cond_init(&g.changed, &cattr);
    pthread_condattr_destroy(&cattr);

    char mount_opts[1200];
    snprintf(mount_opts, sizeof mount_opts,
             "fsname=sysgenid-fuse,subtype=sysgenid,default_permissions%s%s%s",
             geteuid() == 0 ? ",allow_other" : "", extra_opts[0] ? "," : "", extra_opts);
    char *fuse_argv[] = {argv[0], "-o", mount_opts, debug ? "-d" : NULL, NULL};
    struct fuse_args args = FUSE_ARGS_INIT(debug ? 4 : 3, fuse_argv);

    if (pipe2(g_signal_pipe, O_CLOEXEC))
        die("pipe2: %s", strerror(errno));
    g_main_thread = pthread_self();
    install_signal_handlers();

    struct fuse_session *se = fuse_session_new(&args, &ops, sizeof ops, NULL);
    if (!se)
        die("fuse_session_new failed");
    if (fuse_session_mount(se, mountpoint) != 0) {
        fuse_session_destroy(se);
        die("cannot mount on %s", mountpoint);
    }
    g_session = se;

    pthread_t helper;
    if (pthread_create(&helper, NULL, shutdown_thread, NULL))
        die("pthread_create failed");
    pthread_detach(helper);

    fprintf(stderr, "sysgenid-fuse: mounted on %s (generation=%" PRIu32 ", abi=%s)\n",
            mountpoint, initial, abi_name(abi));

    int rc = 0;
    if (!g_signalled) {
        struct fuse_loop_config *config = fuse_loop_cfg_create();
        fuse_loop_cfg_set_max_threads(config, max_threads);
        fuse_loop_cfg_set_idle_threads(config, 4);
        fuse_loop_cfg_set_clone_fd(config, 0);
        rc = fuse_session_loop_mt(se, config);
        fuse_loop_cfg_destroy(config);
    }
    __atomic_store_n(&g_loop_done, 1, __ATOMIC_RELEASE);

    g_session = NULL;
    fuse_session_unmount(se);
    fuse_session_destroy(se);

    pthread_mutex_lock(&g.lock);
    while (g.handles.next != &g.handles) {
        struct watcher *w = g.handles.next;
        g.handles.next = w->next;
        if (w->ph)
            fuse_pollhandle_destroy(w->ph);
        free(w);
    }
    g.handles.prev = &g.handles;
    pthread_mutex_unlock(&g.lock);

    fprintf(stderr, "sysgenid-fuse: unmounted %s\n", mountpoint);
    /* A loop ended by our own signal is a clean exit. */
    return (rc == 0 || g_signalled) ? 0 : 1;
}
