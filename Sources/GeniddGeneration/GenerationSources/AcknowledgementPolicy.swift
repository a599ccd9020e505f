/// When genidd acknowledges a new generation to a sysgenid character device.
public enum AcknowledgementPolicy: String, Sendable, CaseIterable {
    /// Once the change was delivered to genidd's SSE subscribers.
    case delivered
    /// Once, in addition, every registered HTTP watcher acknowledged it, so that
    /// the kernel's outdated-watcher count covers containers too.
    case watchers
}
