/// Delays between reconnection attempts: doubling from ``initialMilliseconds``
/// up to a cap, each drawn between half and all of the step (jitter), so that
/// many clients that lost the same daemon do not come back in lockstep.
struct ReconnectBackoff {
    static let initialMilliseconds = 100
    let maximumMilliseconds: Int
    private(set) var attempt = 0

    init(maximumMilliseconds: Int = 5000) {
        self.maximumMilliseconds = maximumMilliseconds
    }

    /// The delay before the next attempt.
    mutating func nextDelay(using generator: inout some RandomNumberGenerator) -> Int {
        let step = min(maximumMilliseconds, Self.initialMilliseconds << min(attempt, 16))
        attempt += 1
        return Int.random(in: (step / 2)...step, using: &generator)
    }

    /// After a connection worked: start again from the shortest delay.
    mutating func reset() {
        attempt = 0
    }
}
