import ArgumentParser
import GeniddClient
import GeniddSystem
import Logging

/// `--url`, `--unix` and `--token-file`, shared by the client commands.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "genidd's base URL, http://HOST:PORT (default: \(DaemonAddress.defaultURL)). (GENIDD_URL)")
    var url: String?

    @Option(help: "genidd's Unix socket instead of TCP, such as /run/genidd/genidd.sock. (GENIDD_UNIX)")
    var unix: String?

    @Option(help: "File holding the bearer token genidd requires (its --read-token-file). (GENIDD_TOKEN_FILE)")
    var tokenFile: String?

    func validate() throws {
        if url != nil && unix != nil {
            throw ValidationError("--url and --unix cannot be used together: give one")
        }
        let environment = Environment()
        _ = try makeAddress(environment)
        _ = try loadToken(environment, warn: false)
    }

    /// The address from the flags, else from GENIDD_URL or GENIDD_UNIX, else the default URL.
    func makeAddress(_ environment: Environment) throws -> DaemonAddress {
        try Self.address(url: url, unix: unix, environment)
    }

    /// `--url` or `--unix` when given, else GENIDD_URL or GENIDD_UNIX, else the default URL.
    static func address(url: String?, unix: String?, _ environment: Environment) throws -> DaemonAddress {
        do {
            if let url { return try DaemonAddress(url: url) }
            if let unix { return try DaemonAddress(unixSocket: unix) }
            switch (environment["URL"], environment["UNIX"]) {
            case (.some, .some):
                throw ValidationError("GENIDD_URL and GENIDD_UNIX are both set: unset one, or give --url or --unix")
            case (.some(let url), nil):
                return try DaemonAddress(url: url)
            case (nil, .some(let path)):
                return try DaemonAddress(unixSocket: path)
            case (nil, nil):
                return try DaemonAddress(url: DaemonAddress.defaultURL)
            }
        } catch let error as ConfigurationError {
            throw ValidationError(error.description)
        }
    }

    /// The client for the chosen address and token.
    func makeClient(signals: StopSignals? = nil) throws -> DaemonClient {
        let environment = Environment()
        let address = try makeAddress(environment)
        let token = try loadToken(environment, warn: true)
        return try DaemonClient(
            address: address, token: token, signals: signals, userAgent: "genidd/\(GeniddVersion.current)")
    }

    /// The token of `--token-file` (or GENIDD_TOKEN_FILE), if one is given.
    /// `warn` prints a warning about a token file others can read.
    private func loadToken(_ environment: Environment, warn: Bool) throws -> [UInt8]? {
        guard let path = tokenFile ?? environment["TOKEN_FILE"] else { return nil }
        do {
            return try TokenFile.load(path, flag: "--token-file") { message in
                if warn { Console.error("genidd: warning: \(message)") }
            }
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// Logs to standard error as `genidd serve` does, at info unless `level` says otherwise.
    static func bootstrapLogging(level: Logger.Level = .info) {
        LoggingSystem.bootstrap { label in LineLogHandler(label: label, format: .text, level: level) }
    }
}
