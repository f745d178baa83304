import Testing
import WardenCore

@testable import Cedar

@Suite("Cedar parser")
struct ParserTests {
    @Test("a policy with annotations, scope and conditions parses; ids are positional")
    func policy() throws {
        let ps = try PolicySet(text: """
            @id("research-only")
            @advice
            permit (principal in Team::"research", action == Action::"chat", resource is Model)
            when { resource.tier == "frontier" } unless { context.stream };

            forbid (principal is Warden::Key in Warden::Team::"contractors", action in [Action::"chat", Action::"embed"], resource);
            """)
        #expect(ps.policies.count == 2)
        #expect(ps.policies[0].annotation("id") == "research-only")
        #expect(ps.policies[0].annotation("advice") == "")
        #expect(ps.policies.map(\.id) == ["policy0", "policy1"])
        #expect(ps.policies[1].effect == .forbid)
        guard case .isIn("Warden::Key", let team) = ps.policies[1].principal else {
            Issue.record("principal scope")
            return
        }
        #expect(team == EntityUID(type: "Warden::Team", id: "contractors"))
        guard case .in(let actions) = ps.policies[1].action else {
            Issue.record("action scope")
            return
        }
        #expect(actions.count == 2)
    }

    @Test(
        "parse errors give line, column and what was expected",
        arguments: [
            ("permit (principal, action, resource)", 1, 37, "`;`"),
            ("permit (principal, action, resource) when { 1 < 2 < 3 };", 1, 51, "chained"),
            ("permit (principal, action, resource) when { 1 == };", 1, 50, "expected an expression"),
            ("permit (principal, action, resource)\n  when { principal.foo( };", 2, 25, "expected an expression"),
            ("allow (principal, action, resource);", 1, 1, "`permit` or `forbid`"),
            ("permit (principal, action, resource) when { x };", 1, 45, "unknown variable `x`"),
            ("permit (principal, action, resource) when { foo(1) };", 1, 45, "unknown function"),
            ("permit (principal, action, resource) when { context.x.frobnicate() };", 1, 55, "unknown method"),
            ("permit (principal, action, resource) when { 9223372036854775808 == 1 };", 1, 45, "out of range"),
            ("permit (principal, action, resource) when { !!!!!true };", 1, 50, "four unary"),
            ("permit (principal, action, resource) when { {a: 1, a: 2} };", 1, 52, "duplicate key"),
            ("@id(\"a\") @id(\"b\") permit (principal, action, resource);", 1, 11, "duplicate annotation"),
            ("permit (principal == ?principal, action, resource);", 1, 22, "template slots"),
            ("permit (principal, action, resource) when { \"abc };", 1, 45, "unterminated"),
            ("permit (principal, action, resource) when { \"\\q\" };", 1, 45, "invalid escape"),
            ("permit (principal, action, resource) when {};", 1, 44, "needs a condition"),
            ("permit (principal, action, resource) when { [1].contains(1, 2) };", 1, 49, "takes 1 argument"),
        ])
    func errors(_ text: String, line: Int, column: Int, message: String) {
        do {
            _ = try PolicySet(text: text)
            Issue.record("parsed: \(text)")
        } catch {
            #expect(error.location == SourceLocation(line: line, column: column), "\(error)")
            #expect(error.message.contains(message), "\(error)")
        }
    }

    @Test("-9223372036854775808 is a Long literal; negating it again overflows")
    func minLong() throws {
        let e = try CedarParser.parseExpression("-9223372036854775808")
        guard case .literal(.long(Int64.min)) = e else {
            Issue.record("\(e)")
            return
        }
        let twice = try CedarParser.parseExpression("--9223372036854775808")
        let evaluator = Evaluator(request: .placeholder, entities: .empty)
        #expect(throws: EvaluationError.self) { try evaluator.eval(twice) }
    }

    @Test("deep nesting is refused with an error, not a crash")
    func deepNesting() {
        let deep = String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000)
        #expect(throws: CedarParseError.self) { try CedarParser.parseExpression(deep) }
        let deepSets = String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)
        #expect(throws: CedarParseError.self) { try CedarParser.parseExpression(deepSets) }
        let longChain = Array(repeating: "true", count: 5000).joined(separator: " && ")
        #expect(throws: CedarParseError.self) { try CedarParser.parseExpression(longChain) }
        // Within the limits, fine.
        let ok = String(repeating: "(", count: 150) + "1" + String(repeating: ")", count: 150)
        #expect(throws: Never.self) { try CedarParser.parseExpression(ok) }
    }

    @Test("string escapes and like patterns")
    func escapes() throws {
        let e = try CedarParser.parseExpression(#""a\tb\u{1F600}\x41\"" like "a*\*""#)
        guard case .like(.literal(.string(let s)), let pattern) = e else {
            Issue.record("\(e)")
            return
        }
        #expect(s == "a\tb😀A\"")
        #expect(pattern == [.scalar("a"), .wildcard, .scalar("*")])
    }
}
