import ArgumentParser
import GeniddClient
import GeniddSystem
import Logging

/// `genidd probe live|ready`: a health check for container engines and kubelets.
struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Check genidd's health: exit 0 only when /healthz (live) or /readyz (ready) answers 200.",
        discussion: """
            live asks GET /healthz: the daemon runs and answers HTTP. ready asks GET /readyz: \
            the generation source is healthy too (not stale, not shutting down). Use them as a \
            Docker HEALTHCHECK and as Kubernetes exec probes; they need no shell and no curl in \
            the image.

            --url takes genidd's base URL only (http://127.0.0.1:8080): the probe adds the \
            endpoint's path itself. Without --url or --unix, GENIDD_URL or GENIDD_UNIX is used, \
            else \(DaemonAddress.defaultURL), as for genidd get.

            Prints genidd's answer on success. Exit status: 0 on 200; 1 when genidd cannot be \
            reached or answers anything else (the status and genidd's reason are printed to \
            standard error); 64 for bad flags.
            """
    )

    @Argument(help: ArgumentHelp("live (GET /healthz) or ready (GET /readyz).", valueName: "live|ready"))
    var check: HealthProbe

    @Option(help: "genidd's base URL, http://HOST:PORT, without a path. (GENIDD_URL)")
    var url: String?

    @Option(help: "genidd's Unix socket instead of TCP, such as /run/genidd/genidd.sock. (GENIDD_UNIX)")
    var unix: String?

    @Option(help: "Give up after this long: 2s, 500ms.")
    var timeout: String = "2s"

    func validate() throws {
        if url != nil && unix != nil {
            throw ValidationError("--url and --unix cannot be used together: give one")
        }
        let address = try ConnectionOptions.address(url: url, unix: unix, Environment())
        guard address.basePath.isEmpty else {
            let flag = url == nil ? "GENIDD_URL" : "--url"
            throw ValidationError(
                "\(flag) must be genidd's base URL without a path, such as \(DaemonAddress.defaultURL): "
                    + "the probe adds \(check.path) itself (got the path '\(address.basePath)')")
        }
        guard DurationText.parse(timeout) != nil else {
            throw ValidationError("--timeout must be a duration such as 2s or 500ms, got '\(timeout)'")
        }
    }

    func run() throws {
        ConnectionOptions.bootstrapLogging()
        let address = try ConnectionOptions.address(url: url, unix: unix, Environment())
        let milliseconds = (DurationText.parse(timeout) ?? .seconds(2)).milliseconds
        do {
            let client = try DaemonClient(address: address, token: nil, userAgent: "genidd/\(GeniddVersion.current)")
            Console.out(try client.check(check, timeoutMilliseconds: milliseconds))
        } catch let error as ClientError {
            Console.error("genidd probe \(check.rawValue): \(error)")
            throw ExitCode(1)
        }
    }
}

extension HealthProbe: ExpressibleByArgument {}
