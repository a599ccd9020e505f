import GeniddGeneration
import GeniddSystem

/// The query of `GET /v1/generation`: `wait=SEQ` or `wait=INSTANCE.SEQ`, and `timeout=SECONDS`.
struct LongPollRequest: Sendable, Equatable {
    /// Answer once the state differs from this (nil: answer at once).
    var wait: StateTag?
    /// How long to wait, in milliseconds (default 30 s, at most 300 s).
    var timeoutMilliseconds: Int

    static let defaultTimeout = 30_000
    static let maximumTimeout = 300_000

    /// Validates raw query values; throws a 400 problem that names the parameter.
    init(wait: String?, timeout: String?) throws {
        if let wait {
            guard let seen = StateTag(parsing: wait) else {
                throw HTTPProblem(
                    status: 400,
                    detail:
                        "wait must be a seq (a non-negative integer) or an ETag's INSTANCE.SEQ, got '\(wait.prefix(40))'"
                )
            }
            self.wait = seen
        } else {
            self.wait = nil
        }
        if let timeout {
            guard let milliseconds = Self.parseSeconds(timeout), milliseconds <= Self.maximumTimeout else {
                throw HTTPProblem(
                    status: 400,
                    detail: "timeout must be a number of seconds from 0 to 300, got '\(timeout.prefix(40))'")
            }
            timeoutMilliseconds = milliseconds
        } else {
            timeoutMilliseconds = Self.defaultTimeout
        }
    }

    /// `12`, `0.5` or `1.250` seconds as milliseconds (at most 3 decimals).
    static func parseSeconds(_ text: String) -> Int? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, whole.count <= 6,
            whole.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let seconds = Int(whole)
        else { return nil }
        var milliseconds = seconds * 1000
        if parts.count == 2 {
            let fraction = parts[1]
            guard !fraction.isEmpty, fraction.count <= 3, fraction.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
                return nil
            }
            milliseconds += (Int(fraction) ?? 0) * [100, 10, 1][fraction.count - 1]
        }
        return milliseconds
    }
}
