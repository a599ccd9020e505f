// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "genidd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "genidd", targets: ["genidd"]),
        .executable(name: "genidd-daemon", targets: ["genidd-daemon"]),
        .library(name: "GeniddSystem", targets: ["GeniddSystem"]),
        .library(name: "GeniddGeneration", targets: ["GeniddGeneration"]),
        .library(name: "GeniddServer", targets: ["GeniddServer"]),
        .library(name: "GeniddClient", targets: ["GeniddClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // libmicrohttpd, the HTTP server (Debian: libmicrohttpd-dev).
        .systemLibrary(
            name: "CMicroHTTPD",
            pkgConfig: "libmicrohttpd",
            providers: [.apt(["libmicrohttpd-dev"])]
        ),
        // json-c, used for every JSON document genidd writes or reads (Debian: libjson-c-dev).
        .systemLibrary(
            name: "CJSONC",
            pkgConfig: "json-c",
            providers: [.apt(["libjson-c-dev"])]
        ),
        // libcurl, the HTTP client of `genidd get`, `wait` and `watch` (Debian: libcurl4-openssl-dev).
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // Nettle, for the HMAC-SHA256 of uuid_hash (Debian: nettle-dev). libmicrohttpd
        // loads it already, through GnuTLS, so it adds no library to the daemon.
        .systemLibrary(
            name: "CNettle",
            pkgConfig: "nettle",
            providers: [.apt(["nettle-dev"])]
        ),
        // Kernel ABI pieces Swift cannot express (ioctl numbers, volatile reads, netlink structs).
        .target(name: "CGeniddSys"),
        // The layers, each depending only on the ones before it, so that the
        // compiler enforces the architecture (see docs/development.md):
        // system calls, JSON, clocks, logging and the wire vocabulary.
        .target(
            name: "GeniddSystem",
            dependencies: [
                "CGeniddSys",
                "CJSONC",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Where the generation comes from and how changes are numbered and kept:
        // sources, the tracker, the state store, the watcher registry. No HTTP.
        .target(
            name: "GeniddGeneration",
            dependencies: [
                "GeniddSystem",
                "CNettle",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The daemon: fan-out to subscribers, the libmicrohttpd binding, the
        // HTTP API, metrics, and the assembly of it all.
        .target(
            name: "GeniddServer",
            dependencies: [
                "GeniddSystem",
                "GeniddGeneration",
                "CMicroHTTPD",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The client side: talks to a running genidd with libcurl, follows its
        // event stream, runs commands and acknowledges generations.
        .target(
            name: "GeniddClient",
            dependencies: [
                "CCurl",
                "GeniddSystem",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `genidd`: the client commands, and `serve`, which runs genidd-daemon.
        .executableTarget(
            name: "genidd",
            dependencies: [
                "GeniddSystem",
                "GeniddClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `genidd-daemon`: the daemon's command line, read from its option table
        // (no swift-argument-parser, which brings Foundation into the process).
        .executableTarget(
            name: "genidd-daemon",
            dependencies: [
                "GeniddSystem",
                "GeniddServer",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "GeniddUnitTests",
            dependencies: ["GeniddSystem", "GeniddGeneration", "GeniddServer"]
        ),
        .testTarget(
            name: "GeniddClientTests",
            dependencies: ["GeniddClient"]
        ),
        .testTarget(
            name: "GeniddDaemonTests",
            dependencies: []
        ),
    ]
)

for target in package.targets where target.type != .system && target.name != "CGeniddSys" {
    var settings = target.swiftSettings ?? []
    // Require `any` for existential types.
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    target.swiftSettings = settings
}
