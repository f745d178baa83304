import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import WardenCore
import WardenMockUpstream
import WardenServer

/// Runs a real mock upstream and a real Warden, both in-process on free loopback ports.
struct Harness {
    let directory: String
    let mockURL: String
    let mock: MockUpstream
    let baseURL: String
    let key = "wk-test-0123456789abcdef0123456789abcdef01234567"
    let adminKey = "wadm-test-0123456789abcdef0123456789abcdef0123"
    let control: WardenControl
    let logs: CapturedLog
    let client: HTTPClient

    /// A config with static key `key` (file secret), the admin key `adminKey`, an audit signing key, and
    /// providers `local` (OpenAI) and `claude` (Anthropic) pointing at the mock.
    static func config(mockURL: String, extra: String) -> String {
        """
        listen: 127.0.0.1:0
        data_dir: ./data
        admin_key: file:./admin-key
        \(extra.contains("audit:") ? "" : "audit: {signing_key: file:./audit-key}")
        keys:
          - {name: test, team: qa, key: file:./key}
        providers:
          local: {type: openai, base_url: "\(mockURL)/v1", api_key: file:./upstream-key}
          claude: {type: anthropic, base_url: "\(mockURL)", api_key: file:./upstream-key}
        \(extra.contains("reliability:") ? "" : "reliability: {backoff_initial: 10ms, backoff_max: 50ms}")
        \(extra)
        """.replacingOccurrences(of: "{MOCK}", with: mockURL)
    }

    /// Starts the mock and Warden, runs `body`, then shuts both down.
    static func with(
        models: String, extra: String = "", backend: StoreBackend = .sqlite, mockLatency: Duration = .zero,
        afterShutdown: ((_ configPath: String) async throws -> Void)? = nil, files: [String: String] = [:],
        _ body: (Harness) async throws -> Void
    ) async throws {
        let extra = extra + "\n" + (try await backend.storageConfig())
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("warden-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let key = "wk-test-0123456789abcdef0123456789abcdef01234567"
        try key.write(toFile: directory + "/key", atomically: true, encoding: .utf8)
        try "upstream-secret".write(toFile: directory + "/upstream-key", atomically: true, encoding: .utf8)
        for (name, text) in files {
            let path = directory + "/" + name
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
        try "alert-secret".write(toFile: directory + "/alert-secret", atomically: true, encoding: .utf8)
        try "wadm-test-0123456789abcdef0123456789abcdef0123".write(toFile: directory + "/admin-key", atomically: true, encoding: .utf8)
        try Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
            .write(toFile: directory + "/audit-key", atomically: true, encoding: .utf8)

        let mock = MockUpstream(configuration: .init(latency: mockLatency))
        let (mockPorts, mockPortSink) = AsyncStream.makeStream(of: Int.self)
        let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        let mockApp = mock.application(host: "127.0.0.1", port: 0, logger: quiet) { mockPortSink.yield($0) }
        let mockGroup = ServiceGroup(configuration: .init(services: [mockApp], logger: quiet))

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await mockGroup.run() }
            guard let mockPort = await mockPorts.first(where: { _ in true }) else { throw HarnessError.notStarted }
            let mockURL = "http://127.0.0.1:\(mockPort)"
            let configPath = directory + "/warden.yaml"
            try config(mockURL: mockURL, extra: models + "\n" + extra).write(toFile: configPath, atomically: true, encoding: .utf8)

            let logs = CapturedLog()
            let control = WardenControl()
            let (ports, portSink) = AsyncStream.makeStream(of: WardenServer.Listening.self)
            group.addTask {
                defer { portSink.finish() }
                try await WardenServer.run(
                    options: .init(configPath: configPath, logSink: logs.sink, printGeneratedKey: false), control: control
                ) { portSink.yield($0) }
            }
            guard let listening = await ports.first(where: { _ in true }) else { throw HarnessError.notStarted }
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            let harness = Harness(
                directory: directory, mockURL: mockURL, mock: mock, baseURL: listening.baseURL, control: control, logs: logs,
                client: client)
            do {
                try await body(harness)
            } catch {
                control.shutdown()
                try? await client.shutdown()
                await mockGroup.triggerGracefulShutdown()
                throw error
            }
            control.shutdown()
            try await client.shutdown()
            // Warden first (it drains), then the mock.
            _ = try await group.next()
            await mockGroup.triggerGracefulShutdown()
            try await group.waitForAll()
        }
        try await afterShutdown?(directory + "/warden.yaml")
    }

    enum HarnessError: Error { case notStarted, unexpected(String) }

    struct Reply {
        var status: Int
        var headers: HTTPHeaders
        var body: ByteBuffer
        var json: JSONValue? { try? JSONParser.parse(body) }
        var text: String { String(buffer: body) }
    }

    /// Sends a request to Warden with the test key.
    func send(
        _ path: String, method: HTTPMethod = .POST, json: JSONValue? = nil, headers: [(String, String)] = [],
        authenticated: Bool = true, bearer: String? = nil, timeout: TimeAmount = .seconds(30)
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if authenticated { request.headers.add(name: "Authorization", value: "Bearer \(bearer ?? key)") }
        for (n, v) in headers { request.headers.add(name: n, value: v) }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(json.jsonBuffer)
        }
        let response = try await client.execute(request, timeout: timeout)
        let body = try await response.body.collect(upTo: 16 * 1024 * 1024)
        return Reply(status: Int(response.status.code), headers: response.headers, body: body)
    }

    /// Sends an admin API request with the admin key.
    func admin(_ path: String, method: HTTPMethod = .POST, json: JSONValue? = nil) async throws -> Reply {
        try await send(path, method: method, json: json, bearer: adminKey)
    }

    /// Creates a key with the admin API and returns its id and secret.
    func createKey(_ body: JSONObject) async throws -> (id: String, secret: String) {
        let reply = try await admin("/admin/keys", json: .object(body))
        guard reply.status == 201, let id = reply.json?["id"]?.stringValue, let secret = reply.json?["key"]?.stringValue else {
            throw HarnessError.unexpected(reply.text)
        }
        return (id, secret)
    }

    func chat(_ model: String, _ text: String = "hello", stream: Bool = false) -> JSONValue {
        var body: JSONObject = ["model": .string(model), "messages": [["role": "user", "content": .string(text)]]]
        if stream { body["stream"] = true }
        return .object(body)
    }

    /// Rewrites the config file with other models (the server notices within about a second).
    func rewriteConfig(models: String, extra: String = "") throws {
        try Harness.config(mockURL: mockURL, extra: models + "\n" + extra)
            .write(toFile: directory + "/warden.yaml", atomically: true, encoding: .utf8)
    }
}

/// Collects what Warden logs, line by line, for assertions.
final class CapturedLog: Sendable {
    let sink: LogSink
    private let path: String

    init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("warden-log-\(UUID().uuidString)").path
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let fd = open(path, O_WRONLY | O_APPEND)
        sink = LogSink(fd: fd, flushThreshold: 1)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    var lines: [JSONValue] {
        sink.flush()
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }
    }

    var requests: [JSONValue] { lines.filter { $0["msg"] == "request" } }
}

/// Polls `condition` until it holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(5), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}
