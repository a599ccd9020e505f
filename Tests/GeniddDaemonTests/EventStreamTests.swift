import Foundation
import Testing

extension DaemonTests {
    @Suite("Server-Sent Events: GET /v1/events")
    struct EventStream {
        @Test("retry, the current state, then one event per change")
        func initialAndChanges() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: "3")
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let stream = try EventStreamClient(daemon.tcp)
            #expect(stream.status == 200)
            #expect(stream.headers.first { $0.0 == "Content-Type" }?.1 == "text/event-stream")
            let first = try #require(stream.nextEvent(timeout: 5))
            #expect(stream.retry == 2000)
            #expect(first.event == "generation")
            let instance = try #require(first.json["instance"] as? String)
            #expect(first.id == "\(instance).1", "the id is the ETag's tag <instance>.<seq>")
            #expect(
                stream.blocks.first?.prefix(3) == ["retry: 2000", "event: generation", "id: \(instance).1"],
                "retry: shares the first event's block: \(stream.text)")
            #expect(first.json["generation"] as? Int == 3)
            let rest = try request(daemon.tcp, "/v1/generation")
            #expect(first.data + "\n" == rest.text, "SSE data is the same JSON as GET /v1/generation")

            var generationIDs = [first.json["generation_id"] as? String]
            for value in 4...6 {
                try counter.write("\(value)")
                let event = try #require(stream.nextEvent(timeout: 5))
                generationIDs.append(event.json["generation_id"] as? String)
                #expect(event.event == "generation")
                #expect(event.id == "\(instance).\(value - 2)")
                #expect(event.json["generation"] as? Int == value)
                #expect(event.json["seq"] as? Int == value - 2)
            }
            #expect(stream.nextEvent(timeout: 0.3) == nil, "no event without a change")
            #expect(
                Set(generationIDs.compactMap { $0 }).count == 4, "each seq has its own generation_id: \(generationIDs)")
            #expect(stream.blocksWithoutData == 0, "no block a client would dispatch as empty: \(stream.text)")
        }

        @Test(
            "Last-Event-ID naming the current instance and seq skips the initial event; an older one, a bare seq or another instance's gets it"
        )
        func resume() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: "1")
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let instance = try #require(try request(daemon.tcp, "/v1/generation").json["instance"] as? String)
            let current = try EventStreamClient(daemon.unix, headers: [("Last-Event-ID", "\(instance).1")])
            #expect(current.nextEvent(timeout: 0.4) == nil)
            #expect(current.retry == 2000)
            #expect(current.text == "retry: 2000\n", "the retry: line opens the next event's block, alone")
            let behind = try EventStreamClient(daemon.unix, headers: [("Last-Event-ID", "\(instance).0")])
            #expect(behind.nextEvent(timeout: 5)?.id == "\(instance).1")
            // A bare seq cannot tell series apart, and another instance is another series.
            let bare = try EventStreamClient(daemon.unix, headers: [("Last-Event-ID", "1")])
            #expect(bare.nextEvent(timeout: 5)?.id == "\(instance).1")
            let otherSeries = try EventStreamClient(daemon.unix, headers: [("Last-Event-ID", "0123456789abcdef.1")])
            #expect(otherSeries.nextEvent(timeout: 5)?.id == "\(instance).1")
            try counter.write("2")
            #expect(current.nextEvent(timeout: 5)?.id == "\(instance).2")
            #expect(current.blocks.first?.first == "retry: 2000")
            #expect(current.blocksWithoutData == 0)
            #expect(behind.nextEvent(timeout: 5)?.id == "\(instance).2")
        }

        @Test("keepalive comments arrive at the --heartbeat interval")
        func heartbeat() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let daemon = try DaemonProcess(
                directory: directory, arguments: ["--source", counter.sourceArgument, "--heartbeat", "200ms"])
            let stream = try EventStreamClient(daemon.tcp)
            _ = stream.nextEvent(timeout: 5)
            let start = Date()
            #expect(stream.waitForComments(3, timeout: 5))
            let elapsed = Date().timeIntervalSince(start)
            #expect(stream.comments.prefix(3).allSatisfy { $0 == "keepalive" })
            #expect(elapsed > 0.3 && elapsed < 2.5, "3 heartbeats took \(elapsed) s")
        }

        @Test("keepalives are comment lines that end no block: no client dispatches an event for them")
        func keepalivesDispatchNothing() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: "1")
            let daemon = try DaemonProcess(
                directory: directory, arguments: ["--source", counter.sourceArgument, "--heartbeat", "100ms"])
            let stream = try EventStreamClient(daemon.tcp)
            let first = try #require(stream.nextEvent(timeout: 5))
            stream.drain(for: 0.5)
            #expect(stream.comments.count >= 3)
            #expect(stream.blocksWithoutData == 0, "a keepalive ended a block: \(stream.text)")
            try counter.write("2")
            let change = try #require(stream.nextEvent(timeout: 5))
            #expect(change.json["seq"] as? Int == 2)
            #expect(change.id != first.id)
            let lines = try #require(stream.blocks.last)
            let fields = lines.drop { $0 == ": keepalive" }
            #expect(lines.count > fields.count, "the keepalives joined the change's block: \(lines)")
            #expect(fields.first == "event: generation")
            #expect(stream.text.contains(": keepalive\n: keepalive\n"))
            #expect(!stream.text.contains(": keepalive\n\n"))
        }

        @Test("two hundred concurrent subscribers all receive a change")
        func twoHundredSubscribers() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: "10")
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let streams = try (0..<200).map { index in
                try EventStreamClient(index % 2 == 0 ? daemon.tcp : daemon.unix)
            }
            for stream in streams {
                #expect(stream.nextEvent(timeout: 5)?.id?.hasSuffix(".1") == true)
            }
            try counter.write("11")
            var received = 0
            for stream in streams where stream.nextEvent(timeout: 5)?.json["generation"] as? Int == 11 {
                received += 1
            }
            #expect(received == 200)
        }

        @Test("subscribers that went away are freed by the heartbeat")
        func deadSubscribersFreed() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let daemon = try DaemonProcess(
                directory: directory,
                arguments: [
                    "--source", counter.sourceArgument, "--heartbeat", "100ms", "--max-connections", "20",
                    "--max-connections-per-peer", "20",
                ])
            for _ in 0..<3 {
                // 20 subscribers connect and vanish; if they were not freed the next round would hit the limit.
                var streams = try (0..<20).map { _ in try EventStreamClient(daemon.tcp) }
                #expect(streams.allSatisfy { $0.status == 200 })
                streams.removeAll()
                Thread.sleep(forTimeInterval: 0.6)
            }
            let reply = try request(daemon.tcp, "/v1/generation")
            #expect(reply.status == 200)
        }
    }
}
