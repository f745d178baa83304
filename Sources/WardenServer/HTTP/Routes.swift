import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import WardenCore
import WardenStore

/// Answers anything the router did not (unknown path, wrong method) or a handler threw, as JSON in the
/// caller's API shape; Hummingbird alone would send an empty body.
struct ErrorShapingMiddleware: RouterMiddleware {
    typealias Context = WardenRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            let path = request.uri.path
            let api: ClientAPI = path.hasPrefix("/v1/messages") ? .anthropic : .openAI
            let gatewayError: GatewayError =
                error.status == .notFound
                ? .notFound(path: path)
                : error.status == .methodNotAllowed
                    ? .methodNotAllowed(request.method.rawValue, path: path)
                    : .invalidValue("request", error.body ?? "Bad request.")
            return HTTPResponses.error(gatewayError, api: api, requestID: HTTPResponses.requestID(from: request.headers))
        } catch let error as GatewayError {
            let api: ClientAPI = request.uri.path.hasPrefix("/v1/messages") ? .anthropic : .openAI
            return HTTPResponses.error(error, api: api, requestID: HTTPResponses.requestID(from: request.headers))
        }
    }
}

extension Gateway {
    /// The data-plane, admin and health routes.
    func router(readiness: Readiness, adminKeyDigest: KeyDigest?, stats: ServerStats? = nil) -> Router<WardenRequestContext> {
        let router = Router(context: WardenRequestContext.self)
        router.add(middleware: ErrorShapingMiddleware())
        AdminRoutes(
            operations: AdminOperations(service: AdminService(store: governance.store), audit: governance.audit, actor: "admin_api"),
            identity: governance.identity, adminKeyDigest: adminKeyDigest, policies: policies.engine,
            bodyTimeout: holder.runtime.config.server.bodyTimeout, stats: stats
        ).register(on: router)
        for route in [ModelRoute.chat(.openAI), .chat(.anthropic), .embeddings, .countTokens] {
            router.on(RouterPath(route.spec.path), method: route.spec.method) { request, context in
                await self.serve(request, context: context, route: route)
            }
        }
        router.post("/v1/actions/authorize") { request, context in
            await self.authorizeAction(request, context: context)
        }
        router.get("/v1/actions/approvals/:id") { request, context in
            await self.approvalStatus(request, context: context, id: context.parameters.get("id") ?? "")
        }
        router.get("/v1/models") { request, context in
            await self.models(request, context: context)
        }
        router.get("/v1/models/:id") { request, context in
            await self.model(request, context: context, id: context.parameters.get("id") ?? "")
        }
        router.get("/health/live") { request, _ in
            HTTPResponses.json(ByteBuffer(string: #"{"status":"live"}"#), requestID: HTTPResponses.requestID(from: request.headers))
        }
        router.get("/health/ready") { request, context in
            let report = await readiness.check(runtime: self.holder.runtime, health: self.health, logger: context.logger)
            return HTTPResponses.json(
                report.body.jsonBuffer, status: report.isReady ? .ok : .serviceUnavailable,
                requestID: HTTPResponses.requestID(from: request.headers))
        }
        return router
    }
}
