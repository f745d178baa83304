// A bare Hummingbird + AsyncHTTPClient pass-through proxy: the floor Warden's own cost is measured
// against (bench/cpu_per_request.sh --baseline). It forwards POST /v1/chat/completions bodies to
// UPSTREAM (default http://127.0.0.1:18080/v1) and returns the upstream's status and body, nothing else.
//
//   .build/release/bare-proxy [PORT] [UPSTREAM_BASE_URL] [--dispatch]
//
// By default it runs Swift Concurrency on NIO's event loops, as `warden` does; --dispatch keeps
// Dispatch's global pool, to show what that choice costs.
import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore
import NIOPosix

@main
enum BareProxy {
    static func main() async throws {
        let args = CommandLine.arguments.dropFirst().filter { !$0.hasPrefix("--") }
        if !CommandLine.arguments.contains("--dispatch") {
            NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        }
        let port = args.first.flatMap(Int.init) ?? 4040
        let upstream = args.dropFirst().first ?? "http://127.0.0.1:18080/v1"
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 512)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let router = Router()
        router.post("/v1/chat/completions") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 8 * 1024 * 1024)
            var upstreamRequest = HTTPClientRequest(url: upstream + "/chat/completions")
            upstreamRequest.method = .POST
            upstreamRequest.headers.add(name: "Content-Type", value: "application/json")
            upstreamRequest.headers.add(name: "Authorization", value: "Bearer sk-fake-upstream-key")
            upstreamRequest.body = .bytes(body)
            let response = try await client.execute(upstreamRequest, timeout: .seconds(60))
            if response.headers.first(name: "content-type")?.hasPrefix("text/event-stream") == true {
                return Response(
                    status: .init(code: Int(response.status.code)), headers: [.contentType: "text/event-stream"],
                    body: .init(asyncSequence: response.body))
            }
            let bytes = try await response.body.collect(upTo: 64 * 1024 * 1024)
            return Response(
                status: .init(code: Int(response.status.code)), headers: [.contentType: "application/json"],
                body: .init(byteBuffer: bytes))
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
        try await app.runService()
        try await client.shutdown()
    }
}
