import Testing
import WardenCore

@testable import Cedar

@Suite("Cedar evaluator and authorizer")
struct EvaluatorTests {
    static let entitiesJSON = """
        [
          {"uid": {"type": "User", "id": "alice"}, "attrs": {"age": 30, "tags": ["a", "b"], "manager": {"__entity": {"type": "User", "id": "bob"}},
            "address": {"city": "Paris"}, "limit": {"__extn": {"fn": "decimal", "arg": "12.5"}}}, "parents": [{"type": "Group", "id": "eng"}]},
          {"uid": {"type": "User", "id": "bob"}, "attrs": {"name": "Bob"}, "parents": []},
          {"uid": {"type": "Group", "id": "eng"}, "attrs": {}, "parents": [{"type": "Group", "id": "all"}]},
          {"uid": {"type": "Group", "id": "all"}, "attrs": {}, "parents": []},
          {"uid": {"type": "Doc", "id": "d1"}, "attrs": {}, "parents": [], "tags": {"color": "red"}},
          {"uid": {"type": "Loop", "id": "a"}, "attrs": {}, "parents": [{"type": "Loop", "id": "b"}]},
          {"uid": {"type": "Loop", "id": "b"}, "attrs": {}, "parents": [{"type": "Loop", "id": "a"}]}
        ]
        """

    static func evaluator() throws -> Evaluator {
        let store = try CedarJSON.entities(try JSONParser.parse(entitiesJSON))
        let context = try CedarJSON.record(try JSONParser.parse(#"{"n": 5, "s": "Hello", "ts": {"__extn": {"fn": "datetime", "arg": "2024-10-15T11:35:00Z"}}}"#))
        let request = CedarRequest(
            principal: EntityUID(type: "User", id: "alice"), action: EntityUID(type: "Action", id: "view"),
            resource: EntityUID(type: "Doc", id: "d1"), context: context)
        return Evaluator(request: request, entities: store)
    }

    @Test(
        "expressions evaluate to true",
        arguments: [
            "1 + 2 * 3 == 7", "5 - 10 == -5", "1 != \"1\"", "!(User::\"a\" == Group::\"a\")", "[1, 2, 2] == [2, 1]",
            "{a: 1, b: [true]} == {b: [true], a: 1}", "if true then true else 1 < \"x\"", "false && (1 < \"x\")" + " || true",
            "principal in Group::\"all\"", "principal in [Group::\"x\", Group::\"eng\"]", "principal in principal",
            "!(Group::\"all\" in principal)", "principal is User", "principal is User in Group::\"eng\"", "!(resource is User in Group::\"eng\")",
            "principal.age >= 18", "principal has age", "principal has \"age\"", "!(principal has nickname)", "principal has address.city",
            "!(principal has address.zip)", "principal.address.city == \"Paris\"", "principal.manager.name == \"Bob\"",
            "principal.tags.contains(\"a\")", "principal.tags.containsAll([\"a\"])", "principal.tags.containsAny([\"z\", \"b\"])", "[].isEmpty()",
            "context.s like \"Hel*\"", "!(context.s like \"hel*\")", "\"a*c\" like \"a\\*c\"", "!(\"abc\" like \"a\\*c\")", "\"\" like \"\"",
            "\"aXbXc\" like \"a*b*c\"", "\"abc\" like \"*\"", "!(\"ab\" like \"a*b*c\")",
            "context has n", "!(context has missing)", "context[\"n\"] == 5",
            "ip(\"192.168.1.20\").isInRange(ip(\"192.168.0.0/16\"))", "!ip(\"10.0.0.1\").isInRange(ip(\"192.168.0.0/16\"))",
            "ip(\"127.0.0.1\").isLoopback()", "ip(\"224.0.0.1\").isMulticast()", "ip(\"::1\").isIpv6()", "ip(\"::1\").isLoopback()",
            "ip(\"10.0.0.0/24\").isInRange(ip(\"10.0.0.0/8\"))", "!ip(\"10.0.0.0/8\").isInRange(ip(\"10.0.0.0/24\"))",
            "ip(\"0.0.0.0/0\").isIpv4()", "ip(\"10.0.0.1\").isInRange(ip(\"0.0.0.0/0\"))", "ip(\"2001:db8::1\").isInRange(ip(\"2001:db8::/32\"))",
            "decimal(\"1.10\") == decimal(\"1.1\")", "principal.limit.greaterThan(decimal(\"12.4999\"))", "decimal(\"-0.5\").lessThan(decimal(\"0.0\"))",
            "context.ts > datetime(\"2024-10-15\")", "datetime(\"2024-10-15\").offset(duration(\"1d\")) == datetime(\"2024-10-16\")",
            "context.ts.toDate() == datetime(\"2024-10-15\")", "context.ts.toTime() == duration(\"11h35m\")",
            "duration(\"1d2h3m4s5ms\").toMilliseconds() == 93784005", "duration(\"90m\").toHours() == 1", "duration(\"-90m\").toHours() == -1",
            "datetime(\"2024-10-15T00:00:00+0100\") == datetime(\"2024-10-14T23:00:00Z\")", "datetime(\"1969-12-31T23:00:00Z\").toDate() == datetime(\"1969-12-31\")",
            "datetime(\"2024-10-16\").durationSince(datetime(\"2024-10-15\")) == duration(\"24h\")", "duration(\"1h\") < duration(\"61m\")",
            "resource.hasTag(\"color\")", "resource.getTag(\"color\") == \"red\"", "!resource.hasTag(\"size\")", "!User::\"ghost\".hasTag(\"x\")",
            "!(User::\"ghost\" has age)", "Loop::\"a\" in Loop::\"b\"", "Loop::\"b\" in Loop::\"a\"", "-(-5) == 5",
        ])
    func truths(_ text: String) throws {
        let e = try CedarParser.parseExpression(text)
        let ev = try Self.evaluator()
        #expect(try ev.eval(e) == .bool(true), "\(text)")
        #expect(try Compiler.compile(e)(ev) == .bool(true), "compiled: \(text)")
    }

    @Test(
        "expressions that are evaluation errors",
        arguments: [
            "9223372036854775807 + 1 > 0", "-9223372036854775807 - 2 < 0", "9223372036854775807 * 2 > 0", "\"a\" + \"b\"", "\"a\" < \"b\"",
            "true && (1 < \"x\")", "1 && true", "if \"yes\" then true else false", "principal in 1", "principal in [1]", "1 is User",
            "principal.nickname == \"x\"", "User::\"ghost\".age == 1", "context.missing", "1 has a", "principal.age has a.b",
            "1 like \"x\"", "1.contains(1)", "[1].containsAll(1)", "ip(\"not an ip\").isIpv4()", "ip(\"1.2.3.04\").isIpv4()", "ip(\"::ffff:1.2.3.4\").isIpv6()", "ip(\"1.2.3.4\").isInRange(1, 2)", "ip(\"1.2.3\").isIpv4()", "ip(\"1.2.3.4.5\").isIpv4()", "ip(\"256.1.1.1\").isIpv4()", "ip(\"1..2.3\").isIpv4()",
            "ip(\"10.0.0.0/33\").isIpv4()", "decimal(\"1.23456\") == decimal(\"1.0\")", "decimal(\"1\") == decimal(\"1.0\")",
            "decimal(\"922337203685477.5808\") == decimal(\"1.0\")", "datetime(\"2024-02-30\") < datetime(\"2025-01-01\")",
            "datetime(\"2024-10-15T25:00:00Z\") < datetime(\"2025-01-01\")", "duration(\"1m1d\") < duration(\"1d\")", "duration(\"\") < duration(\"1d\")",
            "decimal(\"1.0\") < decimal(\"2.0\")", "context.ts < duration(\"1h\")", "resource.getTag(\"size\") == \"L\"", "User::\"ghost\".getTag(\"x\")",
            "datetime(\"2024-01-01\").offset(duration(\"106751991167d\"))", "decimal(1)", "ip(\"1.1.1.1\").isInRange(\"1.1.1.0/24\")",
        ])
    func errors(_ text: String) throws {
        let e = try CedarParser.parseExpression(text)
        let ev = try Self.evaluator()
        #expect(throws: EvaluationError.self, "\(text)") { try ev.eval(e) }
        #expect(throws: EvaluationError.self, "compiled: \(text)") { try Compiler.compile(e)(ev) }
    }

    @Test("authorization: default deny, forbid overrides permit, erroring policies are skipped and reported")
    func authorize() throws {
        let ps = try PolicySet(text: """
            permit (principal in Group::"eng", action, resource);
            permit (principal, action, resource) when { principal.nickname == "x" };
            forbid (principal, action == Action::"delete", resource);
            forbid (principal, action, resource) unless { context.n == 5 };
            permit (principal, action, resource) when { 1 };
            """)
        let ev = try Self.evaluator()
        let allow = Authorizer.isAuthorized(ev.request, policies: ps, entities: ev.entities)
        #expect(allow.decision == .allow)
        #expect(allow.reasons == ["policy0"])
        #expect(allow.errors.map(\.policy) == ["policy1", "policy4"])
        var delete = ev.request
        delete.action = EntityUID(type: "Action", id: "delete")
        let deny = Authorizer.isAuthorized(delete, policies: ps, entities: ev.entities)
        #expect(deny.decision == .deny)
        #expect(deny.reasons == ["policy2"])
        var stranger = ev.request
        stranger.principal = EntityUID(type: "User", id: "ghost")
        let nobody = Authorizer.isAuthorized(stranger, policies: ps, entities: ev.entities)
        #expect(nobody.decision == .deny)
        #expect(nobody.reasons.isEmpty)
    }

    @Test("bad entity JSON is a clear input error", arguments: [
        #"{"uid": {"type": "A", "id": "x"}}"#,
        #"[{"uid": {"type": "A", "id": "x"}}, {"uid": {"type": "A", "id": "x"}}]"#,
        #"[{"uid": {"type": "A", "id": "x"}, "attrs": {"f": 1.5}}]"#,
        #"[{"uid": {"type": "A", "id": "x"}, "attrs": {"f": null}}]"#,
        #"[{"uid": {"type": "A", "id": "x"}, "attrs": {"f": {"__extn": {"fn": "decimal", "arg": "x"}}}}]"#,
        #"[{"uid": {"type": "1A", "id": "x"}}]"#,
        #"[{"uid": {"type": "A", "id": "x"}, "parentz": []}]"#,
    ])
    func badEntities(_ json: String) throws {
        #expect(throws: CedarInputError.self) { try CedarJSON.entities(try JSONParser.parse(json)) }
    }

    @Test("a huge set and a long hierarchy chain evaluate without trouble")
    func scale() throws {
        var entities: [Entity] = []
        for i in 0..<10_000 {
            entities.append(Entity(uid: EntityUID(type: "G", id: "\(i)"), parents: [EntityUID(type: "G", id: "\(i + 1)")]))
        }
        let store = try EntityStore(entities)
        let request = CedarRequest(principal: EntityUID(type: "G", id: "0"), action: EntityUID(type: "A", id: "a"), resource: EntityUID(type: "R", id: "r"))
        let ev = Evaluator(request: request, entities: store)
        #expect(try ev.eval(CedarParser.parseExpression(#"principal in G::"9999""#)) == .bool(true))
        let big = "[" + (0..<20_000).map(String.init).joined(separator: ",") + "].contains(19999)"
        #expect(try ev.eval(CedarParser.parseExpression(big)) == .bool(true))
    }
}
