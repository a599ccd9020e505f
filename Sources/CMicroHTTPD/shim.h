// Non-variadic entry points into libmicrohttpd for Swift, which cannot call C
// variadic functions. Everything else in <microhttpd.h> is used directly.
#ifndef GENIDD_CMICROHTTPD_SHIM_H
#define GENIDD_CMICROHTTPD_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <microhttpd.h>

/// Options genidd sets on every libmicrohttpd daemon it starts.
struct cmhd_daemon_config {
    unsigned int flags;               ///< MHD_FLAG bits (epoll, internal thread, suspend/resume)
    int listen_fd;                    ///< a bound, listening socket owned by genidd
    unsigned int thread_pool_size;    ///< worker threads, each with its own epoll set
    unsigned int connection_limit;    ///< hard limit inside libmicrohttpd
    size_t connection_memory_limit;   ///< per-connection pool: caps request header size
    unsigned int connection_timeout;  ///< idle seconds before a non-suspended connection closes
    /// Called with each request's raw target (before libmicrohttpd decodes the
    /// path or parses the query); its result becomes the request's context.
    void *(*uri_log_callback)(void *cls, const char *uri, struct MHD_Connection *connection);
    void *uri_log_context;
};

/// Starts a daemon on an already listening socket. Called once per listener
/// from the main thread; the returned daemon is stopped with MHD_stop_daemon.
/// The callbacks run on libmicrohttpd's worker threads.
static inline struct MHD_Daemon *cmhd_start_daemon(
    const struct cmhd_daemon_config *config,
    MHD_AccessHandlerCallback access_handler, void *access_context,
    MHD_RequestCompletedCallback completed, void *completed_context,
    MHD_NotifyConnectionCallback connection_notify, void *connection_context)
{
    return MHD_start_daemon(
        config->flags, 0, NULL, NULL, access_handler, access_context,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)config->listen_fd,
        MHD_OPTION_THREAD_POOL_SIZE, config->thread_pool_size,
        MHD_OPTION_CONNECTION_LIMIT, config->connection_limit,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, config->connection_memory_limit,
        MHD_OPTION_CONNECTION_TIMEOUT, config->connection_timeout,
        MHD_OPTION_NOTIFY_COMPLETED, completed, completed_context,
        MHD_OPTION_NOTIFY_CONNECTION, connection_notify, connection_context,
        MHD_OPTION_URI_LOG_CALLBACK, config->uri_log_callback, config->uri_log_context,
        MHD_OPTION_END);
}

/// The peer address of a connection, or NULL. Called from the access handler
/// (worker thread); the pointer is owned by libmicrohttpd and valid for the
/// lifetime of the connection.
static inline const struct sockaddr *cmhd_connection_peer(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    return info == NULL ? NULL : info->client_addr;
}

/// The socket of a connection, or -1. Used for SO_PEERCRED on Unix sockets.
static inline int cmhd_connection_fd(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info == NULL ? -1 : (int)info->connect_fd;
}

/// The context genidd stored for a connection when it opened
/// (MHD_CONNECTION_INFO_SOCKET_CONTEXT), or NULL. Called on the connection's
/// worker thread; the pointer stays genidd's until the CLOSED notification.
static inline void *cmhd_connection_socket_context(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info == NULL ? NULL : info->socket_context;
}

/// `MHD_CONTENT_READER_END_WITH_ERROR`, a macro Swift does not import: ends a
/// streaming response by closing the connection (the peer is gone).
static inline ssize_t cmhd_content_reader_end_with_error(void) { return MHD_CONTENT_READER_END_WITH_ERROR; }

/// `MHD_CONTENT_READER_END_OF_STREAM`, a macro Swift does not import.
static inline ssize_t cmhd_content_reader_end_of_stream(void) { return MHD_CONTENT_READER_END_OF_STREAM; }

/// `MHD_SIZE_UNKNOWN`, a macro Swift does not import.
static inline uint64_t cmhd_size_unknown(void) { return MHD_SIZE_UNKNOWN; }

#endif
