// swift-tools-version:6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

/// Tests import what they use loosely; only the library code keeps strict member import visibility.
let testSwiftSettings: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]

let package = Package(
    name: "warden",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "warden", targets: ["warden"]),
        .library(name: "WardenCore", targets: ["WardenCore"]),
        .library(name: "WardenServer", targets: ["WardenServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
    ],
    targets: [
        // Wire types, canonical types, JSON, errors, configuration, reliability state machines.
        .target(
            name: "WardenCore",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        // Upstream clients over one shared AsyncHTTPClient transport.
        .target(
            name: "WardenProviders",
            dependencies: [
                "WardenCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPCompression", package: "swift-nio-extras"),
            ],
            swiftSettings: swiftSettings
        ),
        // The deterministic OpenAI/Anthropic mock upstream (a real HTTP server).
        .target(
            name: "WardenMockUpstream",
            dependencies: [
                "WardenCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The tamper-evident audit log: RFC 6962 Merkle tree, RFC 8785 canonical JSON, Ed25519 signed checkpoints.
        .target(
            name: "WardenAudit",
            dependencies: [
                "WardenCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // A native Cedar engine: parser, evaluator, authorizer, JSON formats. No server dependencies.
        .target(
            name: "Cedar",
            dependencies: ["WardenCore"],
            swiftSettings: swiftSettings
        ),
        // Guardrail detectors: PII and secrets (pattern detectors with validators), evaluation. No server dependencies.
        .target(
            name: "Guardrails",
            dependencies: ["WardenCore"],
            resources: [.copy("Resources/injection.bin"), .copy("Resources/harmful.bin"), .copy("Resources/names")],
            swiftSettings: swiftSettings
        ),
        // Persistent stores: SQLite for one machine, PostgreSQL for many replicas, behind one SQL interface.
        .target(
            name: "WardenStore",
            dependencies: [
                "WardenCore",
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Everything that touches Hummingbird: routes, stages, health, lifecycle.
        .target(
            name: "WardenServer",
            dependencies: [
                "WardenCore", "WardenProviders", "WardenStore", "WardenMockUpstream", "WardenAudit", "Cedar", "Guardrails",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // What only the command line needs: the demo, the doctor, the policy and audit tools, store sessions.
        .target(
            name: "WardenTools",
            dependencies: [
                "WardenServer", "WardenCore", "WardenStore", "WardenAudit", "WardenProviders", "Cedar", "Guardrails",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "warden",
            dependencies: [
                "WardenServer", "WardenTools", "WardenStore", "WardenAudit", "WardenMockUpstream", "Cedar", "Guardrails",
                "WardenCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The code that reads untrusted bytes, one entry per fuzz target (driven by bench/fuzz, replayed by the tests).
        .target(
            name: "WardenFuzzTargets",
            dependencies: ["WardenCore", "WardenAudit", "Cedar", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        // libFuzzer driver for WardenFuzzTargets (bench/fuzz.sh builds it with the fuzzer; a normal build replays files).
        .executableTarget(
            name: "warden-fuzz",
            dependencies: ["WardenFuzzTargets"],
            path: "bench/fuzz",
            exclude: ["README.md"]
        ),
        // Benchmark baseline: a bare Hummingbird + AsyncHTTPClient pass-through proxy.
        .executableTarget(
            name: "bare-proxy",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "bench/BareProxy"
        ),
        .testTarget(
            name: "WardenCoreTests",
            dependencies: [
                "WardenCore", "WardenMockUpstream", "WardenAudit",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: testSwiftSettings
        ),
        .testTarget(
            name: "FuzzRegressionTests",
            dependencies: ["WardenFuzzTargets"],
            exclude: ["corpus", "crashes"],
            swiftSettings: testSwiftSettings
        ),
        .testTarget(
            name: "GuardrailsTests",
            dependencies: ["Guardrails", "WardenCore"],
            swiftSettings: testSwiftSettings
        ),
        .testTarget(
            name: "CedarTests",
            dependencies: ["Cedar", "WardenCore"],
            swiftSettings: testSwiftSettings
        ),
        .testTarget(
            name: "WardenServerTests",
            dependencies: [
                "WardenServer", "WardenTools", "WardenStore", "WardenCore", "WardenAudit", "WardenProviders", "WardenMockUpstream",
                "Guardrails",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: testSwiftSettings
        ),
    ]
)
