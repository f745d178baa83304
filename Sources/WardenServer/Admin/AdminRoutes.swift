import Cedar
import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore
import Guardrails
import WardenCore
import WardenStore

/// `/admin/*`: teams, keys and spend over HTTP, authenticated with the admin key. Errors use OpenAI's shape.
struct AdminRoutes: Sendable {
    let operations: AdminOperations
    let identity: IdentityCache
    /// The admin key's digest; nil disables the admin API.
    let adminKeyDigest: KeyDigest?
    let policies: PolicyEngine
    /// How long a request body may take to arrive (`server.body_timeout`), to tell a timeout from a cut body.
    var bodyTimeout: ConfigDuration = .seconds(30)
    /// Live figures for `GET /admin/stats` (nil in router tests without a server).
    var stats: ServerStats? = nil

    func register(on router: Router<WardenRequestContext>) {
        let ops = operations
        let stats = stats
        router.get("/admin/stats") { request, _ in
            await handle(request, needsBody: false) { _ in stats?.json ?? [:] }
        }
        router.post("/admin/teams") { request, _ in await handle(request, status: 201) { try await ops.createTeam($0) } }
        router.get("/admin/teams") { request, _ in await handle(request, needsBody: false) { _ in try await ops.teams() } }
        router.get("/admin/teams/:name") { request, context in
            await handle(request, needsBody: false) { _ in try await ops.team(context.parameters.get("name") ?? "") }
        }
        router.patch("/admin/teams/:name") { request, context in
            await handle(request) { try await ops.updateTeam(context.parameters.get("name") ?? "", $0) }
        }
        router.post("/admin/keys") { request, _ in await handle(request, status: 201) { try await ops.createKey($0) } }
        router.get("/admin/keys") { request, _ in
            await handle(request, needsBody: false) { _ in try await ops.keys(team: request.uri.queryParameters["team"].map(String.init)) }
        }
        router.get("/admin/keys/:id") { request, context in
            await handle(request, needsBody: false) { _ in try await ops.key(context.parameters.get("id") ?? "") }
        }
        router.patch("/admin/keys/:id") { request, context in
            await handle(request) { try await ops.updateKey(context.parameters.get("id") ?? "", $0) }
        }
        router.delete("/admin/keys/:id") { request, context in
            await handle(request, needsBody: false) { _ in try await ops.revokeKey(context.parameters.get("id") ?? "") }
        }
        router.post("/admin/keys/:id/rotate") { request, context in
            await handle(request, status: 201) { try await ops.rotateKey(context.parameters.get("id") ?? "", $0) }
        }
        let engine = policies
        router.post("/admin/policies/reload") { request, _ in await handle(request, needsBody: false) { _ in try ops.reloadPolicies(engine) } }
        router.get("/admin/policies") { request, _ in
            await handle(request, needsBody: false) { _ in
                guard let loaded = engine.loaded else { return ["directory": .null, "files": [], "policies": []] }
                return AdminOperations.json(loaded)
            }
        }
        router.get("/admin/approvals") { request, _ in
            await handle(request, needsBody: false) { _ in
                let q = request.uri.queryParameters
                return try await ops.approvals(status: q["status"].map(String.init), limit: q["limit"].map(String.init))
            }
        }
        for (verb, approve) in [("approve", true), ("reject", false)] {
            router.post("/admin/approvals/:id/\(verb)") { request, context in
                await handle(request) { try await ops.decideApproval(context.parameters.get("id") ?? "", approve: approve, $0) }
            }
        }
        router.get("/admin/spend") { request, _ in
            await handle(request, needsBody: false) { _ in
                let query = request.uri.queryParameters
                return try await ops.spend { query[Substring($0)].map(String.init) }
            }
        }
    }

    /// Authenticates, reads the body, runs `body`, and answers JSON (errors in OpenAI's shape).
    func handle(
        _ request: Request, status: Int = 200, needsBody: Bool = true, _ body: (JSONValue?) async throws -> JSONObject
    ) async -> Response {
        let requestID = HTTPResponses.requestID(from: request.headers)
        do {
            guard let adminKeyDigest, let header = request.headers[.authorization], let token = Gateway.bearerToken(header),
                KeyMaterial.digest(token) == adminKeyDigest
            else { throw GatewayError.adminUnauthorized }
            var json: JSONValue?
            if needsBody {
                let started = ContinuousClock.now
                let bytes: ByteBuffer
                do {
                    bytes = try await request.body.collect(upTo: 1 << 20)
                } catch {
                    throw Gateway.bodyReadError(error, limit: 1 << 20, waited: ContinuousClock.now - started, timeout: bodyTimeout)
                }
                if bytes.readableBytes > 0 {
                    do { json = try JSONParser.parse(bytes) } catch { throw GatewayError.unparsable(error) }
                }
            }
            let object = try await body(json)
            if request.method != .get { try? await identity.reload() }  // this process sees the change at once
            return HTTPResponses.json(object.jsonBuffer, status: HTTPResponse.Status(code: status), requestID: requestID)
        } catch let error as GatewayError {
            return HTTPResponses.error(error, api: .openAI, requestID: requestID)
        } catch {
            return HTTPResponses.error(.internalError().with(underlying: DescribedError(description: "\(error)")), api: .openAI, requestID: requestID)
        }
    }
}
