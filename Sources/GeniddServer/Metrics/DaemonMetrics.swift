import GeniddGeneration
import GeniddSystem
import Prometheus
import Synchronization

/// genidd's Prometheus metrics, exposed at `GET /metrics`. Label values are
/// bounded: routes are path templates, source errors are grouped in a few
/// reasons, and there is one `source` and `kind` per daemon.
final class DaemonMetrics: GenerationObserver {
    private let registry = PrometheusCollectorRegistry()
    private let generation: Gauge
    private let seq: Gauge
    private let changes: Counter
    private let clockDisruptions: Counter
    private let sseSubscribers: Gauge
    private let longPollSubscribers: Gauge
    private let watchersOutdated: Gauge
    private let sourceUp: Gauge
    private let connections: Gauge
    private let notifyLatency: DurationHistogram
    private let statePersisted: Gauge
    private let stateSaveErrors: Counter
    private let exportsCurrent: Gauge
    private let exportErrors: Counter
    private let sourceErrorCounters: [SourceError.Reason: Counter]
    private let requestCounters = Mutex<[String: Counter]>([:])
    private let sourceInfo = Mutex<Gauge?>(nil)
    /// `genidd_generation_info{generation_id}` of the current `seq`, and its id.
    private let generationInfo = Mutex<(id: String, gauge: Gauge)?>(nil)
    private let closedConnections: [ClosedConnectionReason: Counter]

    /// Why genidd itself closed (or refused) a connection, as
    /// `genidd_http_connections_closed_total{reason}` labels.
    enum ClosedConnectionReason: String, Sendable, CaseIterable {
        /// Over the total or its peer's budget, and over the probe-only allowance.
        case refused
        /// Its request headers did not arrive in time (`--request-header-timeout`).
        case headerTimeout = "header_timeout"
        /// Its client hung up while it was suspended (SSE, long-poll).
        case hangup
    }

    init(version: String, source: String) {
        generation = registry.makeGauge(descriptor: Self.name("generation", "", "The source's VM generation counter."))
        seq = registry.makeGauge(descriptor: Self.name("seq", "", "genidd's change sequence: +1 per reported change."))
        changes = registry.makeCounter(
            descriptor: Self.name(
                "generation_changes", "total",
                "Changes reported to clients (new seq), except those due to genidd starting or switching sources."))
        clockDisruptions = registry.makeCounter(
            descriptor: Self.name("clock_disruptions", "total", "VMClock disruption marker changes (live migrations)."))
        sseSubscribers = registry.makeGauge(
            descriptor: Self.name("subscribers", "", "Connected subscribers by kind."), labels: [("kind", "sse")])
        longPollSubscribers = registry.makeGauge(
            descriptor: Self.name("subscribers", "", "Connected subscribers by kind."), labels: [("kind", "longpoll")])
        watchersOutdated = registry.makeGauge(
            descriptor: Self.name("watchers_outdated", "", "Watchers that have not acknowledged the current seq."))
        sourceUp = registry.makeGauge(
            descriptor: Self.name("source_up", "", "1 while the source is healthy, 0 while stale."))
        connections = registry.makeGauge(descriptor: Self.name("http_connections", "", "Open HTTP connections."))
        notifyLatency = registry.makeDurationHistogram(
            descriptor: Self.name(
                "notify_latency", "seconds",
                "From a change being reported to the last connected SSE subscriber taking the event."),
            buckets: [
                .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
                .seconds(2.5),
            ])
        statePersisted = registry.makeGauge(
            descriptor: Self.name("state_persisted", "", "1 while the last state save succeeded, 0 while saves fail."))
        stateSaveErrors = registry.makeCounter(
            descriptor: Self.name("state_save_errors", "total", "Failed saves of the state file."))
        exportsCurrent = registry.makeGauge(
            descriptor: Self.name(
                "exports_current", "", "1 while every --export-* file holds the current seq (or there is none)."))
        exportErrors = registry.makeCounter(
            descriptor: Self.name("export_errors", "total", "Failed updates of --export-* files."))
        statePersisted.set(to: 1)
        exportsCurrent.set(to: 1)
        var sourceErrors: [SourceError.Reason: Counter] = [:]
        for reason in SourceError.Reason.allCases {
            sourceErrors[reason] = registry.makeCounter(
                descriptor: Self.name("source_errors", "total", "Source failures by reason."),
                labels: [("reason", reason.rawValue)])
        }
        sourceErrorCounters = sourceErrors
        var closed: [ClosedConnectionReason: Counter] = [:]
        for reason in ClosedConnectionReason.allCases {
            closed[reason] = registry.makeCounter(
                descriptor: Self.name(
                    "http_connections_closed", "total",
                    "Connections genidd closed itself: refused over a peer's budget, header timeout, client hung up."),
                labels: [("reason", reason.rawValue)])
        }
        closedConnections = closed
        registry.makeGauge(
            descriptor: Self.name("build_info", "", "genidd's version and generation source (always 1)."),
            labels: [("version", version), ("source", source)]
        ).set(to: 1.0)
        // Every (route, code) series a route can produce exists from the start,
        // so that rate() sees the first occurrence.
        for route in Route.all {
            for status in route.statuses {
                request(route: route.template, status: status, increment: false)
            }
        }
        for status in Route.unmatchedStatuses {
            request(route: Route.unmatchedLabel, status: status, increment: false)
        }
    }

    /// Names the source and how it notices changes (known once it is open).
    /// Replaces the previous description when a reload (SIGHUP) switched sources.
    func describeSource(_ source: String, notification: String) {
        let gauge = registry.makeGauge(
            descriptor: Self.name("source_info", "", "The generation source and how it notices changes (always 1)."),
            labels: [("source", source), ("notification", notification)])
        gauge.set(to: 1.0)
        let previous = sourceInfo.withLock { current in
            defer { current = gauge }
            return current
        }
        if let previous, previous !== gauge {
            registry.unregisterGauge(previous)
        }
    }

    /// A new state was published.
    func stateChanged(generation value: UInt64, seq sequence: UInt64, generationID: String, stale: Bool) {
        generation.set(to: Double(value))
        seq.set(to: Double(sequence))
        sourceUp.set(to: stale ? 0 : 1)
        describeGeneration(id: generationID)
    }

    /// Exposes `genidd_generation_info{generation_id="…"} 1` for the current
    /// `seq` only: the previous id's series is removed, so that across a fleet
    /// `count by (generation_id)` counts the machines serving each id now.
    private func describeGeneration(id: String) {
        generationInfo.withLock { current in
            guard current?.id != id else { return }
            let gauge = registry.makeGauge(
                descriptor: Self.name(
                    "generation_info", "",
                    "The random id of the current seq (always 1). Two machines with the same id were cloned unannounced."
                ),
                labels: [("generation_id", id)])
            gauge.set(to: 1.0)
            if let previous = current?.gauge {
                registry.unregisterGauge(previous)
            }
            current = (id, gauge)
        }
    }

    /// A new seq was reported for a change of the VM (not for genidd starting).
    func changeReported() { changes.increment() }

    /// genidd closed `count` connections for `reason`.
    func connectionsClosed(_ reason: ClosedConnectionReason, count: Int) {
        closedConnections[reason]?.increment(by: Int64(count))
    }

    /// A save of the state file failed.
    func stateSaveFailed() { stateSaveErrors.increment() }

    /// `count` export files could not be updated.
    func exportFailed(count: Int) { exportErrors.increment(by: Int64(count)) }

    /// Whether the state and every export file hold the current seq.
    func writeHealth(statePersisted persisted: Bool, exportsCurrent current: Bool) {
        statePersisted.set(to: persisted ? 1 : 0)
        exportsCurrent.set(to: current ? 1 : 0)
    }

    func clockDisrupted() { clockDisruptions.increment() }

    /// Counts a source failure under a bounded reason.
    func sourceFailed(_ reason: SourceError.Reason) {
        sourceErrorCounters[reason]?.increment()
    }

    /// Records how long delivering a change to every SSE subscriber took.
    func delivered(after latency: Duration) {
        notifyLatency.record(latency)
    }

    /// Counts an answered request by route template (or `other`) and status.
    func request(route: String, status: Int, increment: Bool = true) {
        let counter = requestCounters.withLock { counters in
            let key = "\(route) \(status)"
            if let existing = counters[key] { return existing }
            let created = registry.makeCounter(
                descriptor: Self.name("http_requests", "total", "HTTP requests by route and status code."),
                labels: [("route", route), ("code", String(status))])
            counters[key] = created
            return created
        }
        if increment {
            counter.increment()
        }
    }

    /// The exposition, after refreshing the gauges read at scrape time.
    func scrape(sse: Int, longPolls: Int, watchersOutdated outdated: Int, connections open: Int) -> [UInt8] {
        sseSubscribers.set(to: Double(sse))
        longPollSubscribers.set(to: Double(longPolls))
        watchersOutdated.set(to: Double(outdated))
        connections.set(to: Double(open))
        return registry.emitToBuffer()
    }

    /// `genidd_NAME[_UNIT]` with its help text.
    private static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "genidd", metricName: metric, unitName: unit, helpText: help)
    }
}
