import GeniddSystem

#if canImport(Glibc)
    import Glibc
#endif

/// `watch --exec CMD`: `/bin/sh -c CMD`, run for a new generation with its
/// state in the environment and waited for.
struct ShellCommand {
    let command: String

    /// How the command ended.
    enum Outcome: Equatable, CustomStringConvertible {
        case exited(Int32)
        case killed(signal: Int32)

        var succeeded: Bool { self == .exited(0) }

        var description: String {
            switch self {
            case .exited(let status): return "exit status \(status)"
            case .killed(let signal): return "killed by signal \(signal)"
            }
        }
    }

    /// Starts the command (`posix_spawn`) with the caller's environment plus
    /// `environment`, standard input from `/dev/null`, and the signal mask and
    /// dispositions reset; waits for it. A SIGTERM or SIGINT meanwhile is
    /// passed on to the command, which is still waited for.
    func run(environment: [(String, String)], signals: StopSignals) throws -> Outcome {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for number in [SIGTERM, SIGINT, SIGCHLD, SIGPIPE] {
            sigaddset(&defaults, number)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0)

        let arguments = CStringArray(["sh", "-c", command])
        let variables = CStringArray(Self.mergedEnvironment(environment))
        var pid = pid_t()
        let started = withExtendedLifetime((arguments, variables)) {
            posix_spawn(&pid, "/bin/sh", &actions, &attributes, arguments.pointers, variables.pointers)
        }
        guard started == 0 else { throw SystemError("posix_spawn", path: "/bin/sh", code: started) }
        return try wait(for: pid, signals: signals)
    }

    /// Waits on the signal descriptor (SIGCHLD, or a stop to pass on) and reaps the command.
    private func wait(for pid: pid_t, signals: StopSignals) throws -> Outcome {
        var forwarded = false
        while true {
            var status: Int32 = 0
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid {
                let signal = status & 0x7f
                return signal == 0 ? .exited((status >> 8) & 0xff) : .killed(signal: signal)
            }
            if reaped < 0 && errno != EINTR {
                throw SystemError("waitpid")
            }
            if let stop = signals.stopSignal, !forwarded {
                kill(pid, stop)
                forwarded = true
            }
            signals.wait(milliseconds: -1)
        }
    }

    /// `environ` with `extra` replacing variables of the same names.
    private static func mergedEnvironment(_ extra: [(String, String)]) -> [String] {
        let names = Set(extra.map { $0.0 })
        var entries: [String] = []
        var cursor = environ
        while let entry = cursor.pointee {
            let text = String(cString: entry)
            let name = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            if !names.contains(String(name)) {
                entries.append(text)
            }
            cursor += 1
        }
        return entries + extra.map { "\($0.0)=\($0.1)" }
    }
}

/// A NULL-terminated `char *[]` for `posix_spawn`, freed with the value.
private final class CStringArray {
    let pointers: [UnsafeMutablePointer<CChar>?]

    init(_ strings: [String]) {
        pointers = strings.map { strdup($0) } + [nil]
    }

    deinit {
        pointers.forEach { free($0) }
    }
}
