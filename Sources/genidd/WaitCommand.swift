import ArgumentParser
import GeniddSystem
import Logging

/// `genidd wait`: blocks until the generation moves on from a known seq.
struct WaitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait",
        abstract: "Wait until genidd's seq differs from the one you know, then print the new state.",
        discussion: """
            Long-polls GET /v1/generation?wait=SEQ, re-issuing the long-poll (at most 300 s each) \
            until the state differs from --since or --timeout passes. --since takes a seq or, \
            better, INSTANCE.SEQ (the ETag's tag), which also notices a restart into a new \
            series whose seq numbers start again. The first request must reach genidd; later \
            outages, such as a daemon restart, are retried while time allows.

            Exit status: 0 when seq changed (the new state is printed); 2 when --timeout passed \
            without a change; 1 when genidd cannot be reached or answers with an error; 64 for \
            bad flags.
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "What you know: SEQ or INSTANCE.SEQ; returns as soon as genidd's state differs.")
    var since: String

    @Option(help: "Give up after this long: 30, 30s, 500ms or 5m; 0 checks once (default: wait forever).")
    var timeout: String?

    @Flag(help: "Print the JSON document instead of a line.")
    var json = false

    func validate() throws {
        _ = try timeoutDuration()
        _ = try seen()
    }

    func run() throws {
        ConnectionOptions.bootstrapLogging()
        let client = try connection.makeClient()
        let limit = try timeoutDuration()
        let logger = Logger(label: "genidd.wait")
        guard
            let state = try client.waitForChange(
                from: try seen(), timeoutMilliseconds: limit?.milliseconds, logger: logger)
        else {
            let waited = limit.map { " within \(DurationText.describe($0))" } ?? ""
            Console.error("genidd wait: seq is still \(since)\(waited)")
            throw ExitCode(2)
        }
        Console.out(json ? state.jsonText : state.line)
    }

    private func seen() throws -> StateTag {
        guard let tag = StateTag(parsing: since) else {
            throw ValidationError("--since must be a seq or INSTANCE.SEQ (the ETag's tag), got '\(since)'")
        }
        return tag
    }

    private func timeoutDuration() throws -> Duration? {
        guard let timeout else { return nil }
        if timeout == "0" || timeout == "0s" || timeout == "0ms" {
            return .zero
        }
        guard let duration = DurationText.parse(timeout) else {
            throw ValidationError("--timeout must be a duration such as 30, 30s, 500ms or 5m, got '\(timeout)'")
        }
        return duration
    }
}
