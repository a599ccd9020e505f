import GeniddGeneration
import GeniddSystem

/// Settings for one libmicrohttpd daemon.
struct MicroHTTPDaemonSettings: Sendable {
    var threads: Int
    var connectionLimit: Int
    var connectionMemoryLimit: Int
    var idleTimeoutSeconds: Int
}
