import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import Testing
import WardenCore
import WardenProviders
import WardenStore

@testable import WardenServer

/// Every route declares its stages in one table, and the server is built from it.
@Suite("Route table")
struct RouteTableTests {
    /// A gateway assembled the way `warden serve` assembles it, over a fresh SQLite store.
    static func withGateway(_ body: (Gateway, Router<WardenRequestContext>) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("warden-routes-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        var config = WardenConfiguration.embeddedDefault(baseDirectory: directory)
        config.dataDir = directory
        let store = try await SQLStore.open(.sqlite(path: directory + "/warden.sqlite"), password: nil, logger: logger)
        let transport = HTTPTransport()
        let runtime = try GatewayRuntime.build(config: config, transport: transport, mockBaseURL: "http://127.0.0.1:1")
        let governance = try await Governance.start(store: store, runtime: runtime, transport: transport, logger: logger)
        let health = DeploymentHealth(failureThreshold: 5, cooldown: .seconds(30))
        let policies = PolicyCheck(engine: PolicyEngine(logger: logger), identity: governance.identity)
        let gateway = Gateway(
            holder: RuntimeHolder(runtime), health: health, pipeline: .standard(governance: governance, policies: policies, health: health),
            connections: ConnectionRegistry(), governance: governance, policies: policies, accessLog: nil, logger: logger)
        let router = gateway.router(readiness: Readiness(store: store, storeDescription: "test"), adminKeyDigest: nil)
        try await body(gateway, router)
        await transport.shutdown()
        await store.close()
    }

    @Test("every registered route is in the table, and every route in the table is registered")
    func registeredRoutesAreDeclared() async throws {
        try await Self.withGateway { _, router in
            let registered = Set(router.routes.map { "\($0.method.rawValue) \($0.path)" })
            let declared = Set(RouteTable.all.map(\.description))
            #expect(registered.subtracting(declared).isEmpty, "registered but not in RouteTable: \(registered.subtracting(declared).sorted())")
            #expect(declared.subtracting(registered).isEmpty, "in RouteTable but not registered: \(declared.subtracting(registered).sorted())")
            #expect(RouteTable.all.count == declared.count, "a route is listed twice")
        }
    }

    @Test("every route that calls a model gets every stage a model call needs")
    func modelRoutesGetEveryStage() {
        let modelRoutes = RouteTable.all.filter(\.callsModel)
        #expect(Set(modelRoutes.map(\.path)) == ["/v1/chat/completions", "/v1/messages", "/v1/embeddings", "/v1/messages/count_tokens"])
        for route in modelRoutes where route != RouteTable.countTokens {
            #expect(route.stages.isSuperset(of: RouteTable.modelCall), "\(route) lacks \(RouteTable.modelCall.subtracting(route.stages).sorted())")
        }
        // Counting tokens is free, but still authenticated, authorized and counted against the request limit.
        #expect(RouteTable.countTokens.stages == [.authentication, .recordAdmission, .modelAccess, .policies, .requestLimit, .upstream, .audit])
    }

    @Test("each model route's pipeline implements exactly the stages its entry declares, in Warden's order")
    func pipelinesFollowTheTable() async throws {
        try await Self.withGateway { gateway, _ in
            for route in RouteTable.all where route.callsModel {
                let pipeline = try #require(gateway.pipelines[route])
                let wanted = route.stages.subtracting(RouteStage.skeleton)
                #expect(pipeline.roles.isSuperset(of: wanted), "\(route): no stage does \(wanted.subtracting(pipeline.roles).sorted())")
                for stage in pipeline.stages {
                    #expect(!stage.roles.isDisjoint(with: route.stages), "\(route): \(type(of: stage)) runs but the route does not declare it")
                }
                #expect(pipeline.stages.last is UpstreamStage, "\(route): the upstream call comes last")
            }
            #expect(gateway.pipelines[RouteTable.embeddings]?.stages.contains { $0 is BudgetStage } == true)
            #expect(gateway.pipelines[RouteTable.countTokens]?.stages.contains { $0 is BudgetStage } == false)
        }
    }
}
