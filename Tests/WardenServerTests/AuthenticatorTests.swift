import Testing
import WardenCore
import WardenStore

@testable import WardenServer

@Suite("Authentication")
struct AuthenticatorTests {
    @Test("bearer tokens: case-insensitive scheme, extra spaces, other schemes refused")
    func bearer() {
        #expect(Gateway.bearerToken("Bearer wk-abc") == "wk-abc")
        #expect(Gateway.bearerToken("bearer   wk-abc") == "wk-abc")
        #expect(Gateway.bearerToken("BEARER wk-abc") == "wk-abc")
        #expect(Gateway.bearerToken("Basic dXNlcjpwYXNz") == nil)
        #expect(Gateway.bearerToken("Bearer") == nil)
    }

    @Test("stored hashes and static keys authenticate; unknown and expired keys do not")
    func table() throws {
        let stored = KeyMaterial.generate()
        let expired = KeyMaterial.generate()
        let authenticator = Authenticator(
            stored: [
                StoredKey(id: "k1", name: "stored", team: "t1", hash: KeyMaterial.hash(stored), prefix: "", models: ["a"], createdAt: 0),
                StoredKey(id: "k2", name: "old", team: "t1", hash: KeyMaterial.hash(expired), prefix: "", createdAt: 0, expiresAt: 1000),
            ],
            staticKeys: [(StaticKeyConfiguration(name: "ci", team: "research", key: .literal("x")), "static-secret")])
        let p = try authenticator.authenticate(stored, nowMilliseconds: 0)
        #expect(p.team == "t1" && p.mayUse(model: "a") && !p.mayUse(model: "b"))
        #expect(try authenticator.authenticate("static-secret", nowMilliseconds: 0).keyName == "ci")
        #expect(throws: GatewayError.self) { try authenticator.authenticate("wk-nope", nowMilliseconds: 0) }
        #expect(throws: GatewayError.self) { try authenticator.authenticate(nil, nowMilliseconds: 0) }
        #expect(throws: GatewayError.self) { try authenticator.authenticate(expired, nowMilliseconds: 5000) }
        #expect(KeyMaterial.hash(stored).count == 64)
        #expect(KeyDigest(hex: KeyMaterial.hash(stored)) == KeyMaterial.digest(stored))
    }
}
