import GeniddGeneration
import GeniddSystem

/// Settings for one libmicrohttpd daemon.
public struct MicroHTTPDaemonSettings: Sendable {
    public var threads: Int
    public var connectionLimit: Int
    public var connectionMemoryLimit: Int
    public var idleTimeoutSeconds: Int
}
