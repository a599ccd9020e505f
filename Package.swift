// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "genidd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "genidd", targets: ["genidd"]),
        .library(name: "GeniddCore", targets: ["GeniddCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
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
        // Kernel ABI pieces Swift cannot express (ioctl numbers, volatile reads, netlink structs).
        .target(name: "CGeniddSys"),
        .target(
            name: "GeniddCore",
            dependencies: [
                "CMicroHTTPD",
                "CJSONC",
                "CGeniddSys",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "genidd",
            dependencies: [
                "GeniddCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "GeniddCoreTests",
            dependencies: ["GeniddCore"]
        ),
        .testTarget(
            name: "GeniddDaemonTests",
            dependencies: ["GeniddCore"]
        ),
    ]
)

for target in package.targets where target.type != .system && target.name != "CGeniddSys" {
    var settings = target.swiftSettings ?? []
    // Require `any` for existential types.
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    target.swiftSettings = settings
}
