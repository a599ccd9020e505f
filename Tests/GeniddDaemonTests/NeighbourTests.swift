import Foundation
import Testing

extension DaemonTests {
    @Suite("Neighbours: closed clients are freed, budgets per peer, probes never starve, slowloris costs the sender")
    struct Neighbours {
        static let events = "GET /v1/events HTTP/1.1\r\nHost: localhost\r\n\r\n"

        @Test("SSE subscribers and parked long-polls whose clients close are freed within a second")
        func hangupsFreed() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            // Heartbeats and long-poll timeouts far away: only the hang-up watch can free them.
            let daemon = try DaemonProcess(
                directory: directory, arguments: ["--source", counter.sourceArgument, "--heartbeat", "300s"])
            let baseline = openDescriptors(of: daemon.process)
            var streams = try (0..<150).map { index in try EventStreamClient(index % 2 == 0 ? daemon.tcp : daemon.unix)
            }
            var polls = try (0..<150).map { index -> TestSocket in
                let socket = try TestSocket(index % 2 == 0 ? daemon.tcp : daemon.unix)
                try socket.sendRequest("GET", "/v1/generation?wait=1&timeout=300")
                return socket
            }
            let held = try #require(secondsUntil(5) { openDescriptors(of: daemon.process) >= baseline + 300 })
            _ = held
            let metrics = try request(daemon.unix, "/metrics").text
            #expect(Metrics.sample(metrics, "genidd_subscribers{kind=\"sse\"}") == 150)
            #expect(Metrics.sample(metrics, "genidd_subscribers{kind=\"longpoll\"}") == 150)

            streams.removeAll()
            polls.removeAll()
            let freed = secondsUntil(5) { openDescriptors(of: daemon.process) <= baseline + 2 }
            #expect(freed != nil && freed! < 1.0, "descriptors freed after \(freed ?? -1) s")
            let after = try request(daemon.unix, "/metrics").text
            #expect(Metrics.sample(after, "genidd_subscribers{kind=\"sse\"}") == 0)
            #expect(Metrics.sample(after, "genidd_subscribers{kind=\"longpoll\"}") == 0)
            #expect(Metrics.sample(after, "genidd_http_connections_closed_total{reason=\"hangup\"}") ?? 0 >= 300)
        }

        @Test(
            "a second user spending its whole budget on the Unix socket: its extra requests get 503, probes from anyone answer within 100 ms",
            .enabled(if: getuid() == 0, "switching to a second user needs root"))
        func budgetPerUser() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let daemon = try DaemonProcess(
                directory: directory,
                arguments: [
                    "--source", counter.sourceArgument, "--unix-mode", "0666", "--max-connections", "40",
                    "--max-connections-per-peer", "20",
                ])
            let load = try PeerLoad(daemon.unix, count: 60, request: Self.events, uid: 1000)
            defer { load.stop() }
            // 20 within the budget; beyond it 8 at a time are let in for probes
            // only (503 to anything else, which closes them and frees the
            // place), the rest are closed at once.
            #expect(load.answers["200"] == 20, "\(load.answers)")
            #expect(load.answers["503", default: 0] >= 8, "\(load.answers)")
            #expect(load.answers["503", default: 0] + load.answers["closed", default: 0] == 40, "\(load.answers)")
            for endpoint in [daemon.unix, daemon.tcp] {
                for path in ["/healthz", "/readyz", "/metrics", "/v1/generation"] {
                    let probe = try timedRequest(endpoint, path)
                    #expect(probe.status == 200, "\(path)")
                    #expect(probe.seconds < 0.1, "\(path) took \(probe.seconds) s")
                }
            }
            // The same user's probes still get through on its probe-only
            // allowance (its 503-answered connections are closed by now);
            // anything else from it is refused.
            let probe = try Admin.requestAs(
                uid: 1000, gid: 1000, socket: daemon.unixSocket, method: "GET", path: "/healthz")
            #expect(probe.status == 200, "\(probe.body)")
            let other = try Admin.requestAs(
                uid: 1000, gid: 1000, socket: daemon.unixSocket, method: "GET", path: "/v1/generation")
            #expect(other.status == 503)
            #expect(other.body.contains("too many connections from uid 1000"), "\(other.body)")
            let metrics = try request(daemon.unix, "/metrics").text
            #expect(
                Metrics.sample(metrics, "genidd_http_connections_closed_total{reason=\"refused\"}")
                    == Double(load.answers["closed", default: -1]))
        }

        @Test("a TCP address spending its whole budget: other addresses and probes are served")
        func budgetPerAddress() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let daemon = try DaemonProcess(
                directory: directory,
                arguments: [
                    "--source", counter.sourceArgument, "--max-connections", "40", "--max-connections-per-peer", "20",
                ])
            let load = try PeerLoad(daemon.tcp, count: 40, request: Self.events, sourceAddress: "127.0.0.2")
            defer { load.stop() }
            #expect(load.answers["200"] == 20, "\(load.answers)")
            #expect(load.answers["503", default: 0] >= 8, "\(load.answers)")
            for path in ["/healthz", "/readyz", "/metrics", "/v1/generation"] {
                let probe = try timedRequest(daemon.tcp, path)
                #expect(probe.status == 200, "\(path)")
                #expect(probe.seconds < 0.1, "\(path) took \(probe.seconds) s")
            }
            let stream = try EventStreamClient(daemon.tcp)
            #expect(stream.status == 200, "another address still subscribes")
        }

        @Test("connections that do not finish their request headers in time are closed (slowloris), idle ones too")
        func headerDeadline() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let daemon = try DaemonProcess(
                directory: directory,
                arguments: [
                    "--source", counter.sourceArgument, "--request-header-timeout", "500ms",
                    "--max-connections", "40", "--max-connections-per-peer", "40",
                ])
            let baseline = openDescriptors(of: daemon.process)
            // Partial headers, one byte at a time, never finished.
            let slow = try (0..<30).map { _ -> TestSocket in
                let socket = try TestSocket(daemon.tcp)
                try socket.send("GET /v1/generation HTTP/1.1\r\nX-Slow: ")
                return socket
            }
            for _ in 0..<3 {
                Thread.sleep(forTimeInterval: 0.2)
                for socket in slow where !socket.closed {
                    try? socket.send("a")
                }
            }
            #expect(slow.allSatisfy { $0.waitForClose(timeout: 2) }, "slowloris connections are closed")
            // A keep-alive connection idle after its answer goes too.
            let idle = try TestSocket(daemon.tcp)
            try idle.sendRequest("GET", "/healthz")
            #expect(try idle.readResponse(timeout: 2).status == 200)
            #expect(idle.waitForClose(timeout: 2))
            #expect(secondsUntil(2) { openDescriptors(of: daemon.process) <= baseline + 1 } != nil)
            let metrics = try request(daemon.tcp, "/metrics").text
            #expect(
                Metrics.sample(metrics, "genidd_http_connections_closed_total{reason=\"header_timeout\"}") ?? 0 >= 31)
            // Parked requests have no such deadline.
            let poll = try TestSocket(daemon.tcp)
            try poll.sendRequest("GET", "/v1/generation?wait=1&timeout=1.5")
            #expect(try poll.readResponse(timeout: 3).status == 200)
        }
    }
}
