import Foundation
import Testing

/// An SSE subscriber and a parked long-poll on one daemon, to check that a
/// change reaches both kinds of client, and how fast.
final class ChangeWatch {
    let daemon: DaemonProcess
    let stream: EventStreamClient
    private(set) var seq: Int
    /// The daemon's instance: SSE ids are `<instance>.<seq>`.
    let instance: String

    init(_ daemon: DaemonProcess) throws {
        self.daemon = daemon
        stream = try EventStreamClient(daemon.tcp)
        guard let first = stream.nextEvent(timeout: 5), let seq = first.json["seq"] as? Int,
            let instance = first.json["instance"] as? String
        else {
            throw DaemonTestError("no initial SSE event\n\(daemon.log)")
        }
        self.seq = seq
        self.instance = instance
    }

    /// Runs `change` (the emulated hypervisor's write) with a long-poll parked,
    /// and returns the new state once both clients saw `seq + 1`, with the
    /// slower client's latency in seconds.
    func expectChange(
        timeout: Double = 5, sourceLocation: SourceLocation = #_sourceLocation, _ change: () throws -> Void
    ) throws -> (state: [String: Any], latency: Double) {
        let poll = try TestSocket(daemon.tcp)
        try poll.sendRequest("GET", "/v1/generation?wait=\(seq)&timeout=30")
        Thread.sleep(forTimeInterval: 0.05)
        let start = Date()
        try change()
        guard let event = stream.nextEvent(timeout: timeout) else {
            throw DaemonTestError("no SSE event after the change\n\(daemon.log)")
        }
        let streamLatency = Date().timeIntervalSince(start)
        let reply = try poll.readResponse(timeout: timeout)
        let pollLatency = Date().timeIntervalSince(start)
        #expect(event.id == "\(instance).\(seq + 1)", sourceLocation: sourceLocation)
        #expect(reply.json["seq"] as? Int == seq + 1, sourceLocation: sourceLocation)
        #expect(stream.nextEvent(timeout: 0.2) == nil, "exactly one event per change", sourceLocation: sourceLocation)
        seq += 1
        return (event.json, max(streamLatency, pollLatency))
    }

    /// Asserts that nothing is reported for `duration` seconds after `action`.
    func expectNoChange(
        for duration: Double = 0.4, sourceLocation: SourceLocation = #_sourceLocation, _ action: () throws -> Void
    ) throws {
        try action()
        let event = stream.nextEvent(timeout: duration)
        #expect(event == nil, "unexpected event \(event?.data ?? "")", sourceLocation: sourceLocation)
        #expect(try request(daemon.tcp, "/v1/generation").json["seq"] as? Int == seq, sourceLocation: sourceLocation)
    }
}
