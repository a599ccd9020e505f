import Testing

/// Every test here starts the real genidd binary and talks HTTP to it. They
/// run one at a time: several hundred sockets per test and latency assertions
/// should not compete with each other on a 2-core machine.
@Suite(.serialized)
struct DaemonTests {}
