import Testing
import WardenCore

@testable import Cedar

@Suite("Cedar schemas")
struct SchemaTests {
    static let text = """
        // A photo-sharing app, in a namespace.
        namespace Photos {
            type Context = { authenticated: Bool, "source ip"?: ipaddr };
            @doc("a person")
            entity User in [Group] = { department: String, level: Long, manager?: User };
            entity Group;
            entity Photo in [Album] { owner: User, viewers: Set<User>, score: decimal } tags String;
            entity Album, Folder;
            entity Color enum ["red", "green"];
            action view, "view thumbnail" in [readOnly] appliesTo { principal: [User], resource: [Photo], context: Context };
            action readOnly;
        }
        """

    @Test(
        "common types defined in terms of themselves are refused, as Cedar does",
        arguments: [
            "type T = Set<T>;",
            "type R = { a: R };",
            "namespace N { type A = Set<B>; type B = { x: A }; }",
        ])
    func cyclicCommonTypes(_ text: String) {
        let error = #expect(throws: CedarSchemaError.self) { try CedarSchema(text: text) }
        #expect(error?.message.contains("in terms of itself") == true)
    }

    @Test("cyclic common types in the JSON form are refused too")
    func cyclicJSON() throws {
        let json = try JSONParser.parse(#"{"": {"commonTypes": {"T": {"type": "Set", "element": {"type": "T"}}}, "entityTypes": {}, "actions": {}}}"#)
        #expect(throws: CedarSchemaError.self) { try CedarSchema(json: json) }
    }

    @Test("deeply nested types are refused instead of exhausting the stack")
    func deepTypes() throws {
        let deep = "type T = " + String(repeating: "Set<", count: 100_000) + "Long" + String(repeating: ">", count: 100_000) + ";"
        let error = #expect(throws: CedarSchemaError.self) { try CedarSchema(text: deep) }
        #expect(error?.message.contains("nest deeper") == true)
        let fine = "type T = " + String(repeating: "Set<", count: 30) + "Long" + String(repeating: ">", count: 30) + ";"
        _ = try CedarSchema(text: fine)
    }

    @Test("the human-readable form: namespaces, entities, enums, common types, actions and their groups")
    func humanReadable() throws {
        let schema = try CedarSchema(text: Self.text)
        #expect(Set(schema.entityTypes.keys) == ["Photos::User", "Photos::Group", "Photos::Photo", "Photos::Album", "Photos::Folder", "Photos::Color"])
        #expect(schema.entityTypes["Photos::User"]?.memberOf == ["Photos::Group"])
        #expect(schema.entityTypes["Photos::User"]?.attributes["manager"]?.required == false)
        #expect(schema.entityTypes["Photos::Color"]?.enumeration == ["red", "green"])
        let view = try #require(schema.actions[EntityUID(type: "Photos::Action", id: "view thumbnail")])
        #expect(view.memberOf == [EntityUID(type: "Photos::Action", id: "readOnly")])
        #expect(view.principals == ["Photos::User"])
        guard case .record(let context)? = view.context.map({ schema.resolve($0) }) else {
            Issue.record("context type")
            return
        }
        #expect(context["source ip"]?.required == false)
    }

    @Test("schema errors say where", arguments: ["entity User = { a: Long ", "action view appliesTo { owner: [User] };", "entity 1;"])
    func errors(_ text: String) {
        #expect(throws: CedarSchemaError.self) { try CedarSchema(text: text) }
    }

    @Test("the schema guides JSON: entity references without __entity, extension values as strings, action groups")
    func directedParsing() throws {
        let schema = try CedarSchema(text: Self.text)
        let entities = try CedarJSON.entities(
            try JSONParser.parse(
                #"""
                [{"uid": {"type": "Photos::Photo", "id": "p"}, "parents": [],
                  "attrs": {"owner": {"type": "Photos::User", "id": "ana"}, "viewers": [{"type": "Photos::User", "id": "bo"}], "score": "0.75"},
                  "tags": {"color": "red"}}]
                """#), schema: schema)
        let photo = try #require(entities[EntityUID(type: "Photos::Photo", id: "p")])
        #expect(photo.attributes["owner"] == .entity(EntityUID(type: "Photos::User", id: "ana")))
        #expect(photo.attributes["viewers"] == .set([.entity(EntityUID(type: "Photos::User", id: "bo"))]))
        #expect(photo.attributes["score"] == .decimal(CedarDecimal(parsing: "0.75")!))
        // Without the schema the same JSON is a record and a string.
        let plain = try CedarJSON.entities(try JSONParser.parse(#"[{"uid": {"type": "A", "id": "p"}, "attrs": {"owner": {"type": "U", "id": "a"}, "s": "0.75"}}]"#))
        #expect(plain[EntityUID(type: "A", id: "p")]?.attributes["s"] == .string("0.75"))
        // Action groups come from the schema.
        #expect(entities.isDescendant(EntityUID(type: "Photos::Action", id: "view"), of: EntityUID(type: "Photos::Action", id: "readOnly")))
        let context = try CedarJSON.record(
            try JSONParser.parse(#"{"authenticated": true, "source ip": "10.0.0.1"}"#),
            type: schema.actions[EntityUID(type: "Photos::Action", id: "view")]?.context, schema: schema)
        #expect(context["source ip"] == .ip(IPAddress(parsing: "10.0.0.1")!))
        // A string that is not a valid value of the declared extension type is an input error.
        #expect(throws: CedarInputError.self) {
            try CedarJSON.record(
                try JSONParser.parse(#"{"authenticated": true, "source ip": "nope"}"#),
                type: schema.actions[EntityUID(type: "Photos::Action", id: "view")]?.context, schema: schema)
        }
    }

    @Test("the JSON form")
    func jsonForm() throws {
        let schema = try CedarSchema(
            json: try JSONParser.parse(
                #"""
                {"": {"entityTypes": {"User": {"memberOfTypes": ["Group"], "shape": {"type": "Record", "attributes": {"age": {"type": "Long"}, "boss": {"type": "Entity", "name": "User", "required": false}}}}, "Group": {}},
                      "actions": {"read": {"memberOf": [{"id": "all"}], "appliesTo": {"principalTypes": ["User"], "resourceTypes": ["Group"], "context": {"type": "Record", "attributes": {"ip": {"type": "Extension", "name": "ipaddr"}}}}}, "all": {}}}}
                """#))
        #expect(schema.entityTypes["User"]?.attributes["boss"]?.required == false)
        #expect(schema.actions[EntityUID(type: "Action", id: "read")]?.memberOf == [EntityUID(type: "Action", id: "all")])
    }
}

@Suite("Cedar validator")
struct ValidatorTests {
    static let schema = """
        entity Group;
        entity User in [Group] = { level: Long, nickname?: String, boss?: User, address: { city: String, zip?: String } } tags String;
        entity Doc = { owner: User, score: decimal, public: Bool };
        action read, write appliesTo { principal: [User], resource: [Doc], context: { ip: ipaddr, urgent?: Bool } };
        """

    static func problems(_ text: String) throws -> [Validator.Problem] {
        Validator(schema: try CedarSchema(text: schema)).validate(try PolicySet(text: text))
    }

    @Test(
        "policies that validate",
        arguments: [
            #"permit (principal, action == Action::"read", resource) when { principal.level > 3 && resource.owner == principal };"#,
            #"permit (principal, action, resource) when { principal has nickname && principal.nickname like "a*" };"#,
            #"permit (principal, action, resource) when { context has urgent && context.urgent };"#,
            #"permit (principal, action, resource) when { if principal has boss then principal.boss.level > 1 else false };"#,
            #"permit (principal in Group::"eng", action in [Action::"read", Action::"write"], resource is Doc) when { resource.score.lessThan(decimal("1.5")) };"#,
            #"permit (principal, action, resource) when { context.ip.isInRange(ip("10.0.0.0/8")) && principal.address has zip && principal.address.zip == "75" };"#,
            #"permit (principal, action, resource) when { principal.hasTag("team") && principal.getTag("team") == "x" };"#,
            #"forbid (principal, action, resource) when { principal == resource };"#,
        ])
    func valid(_ text: String) throws {
        let problems = try Self.problems(text)
        #expect(problems.isEmpty, "\(problems)")
    }

    @Test(
        "policies that do not validate",
        arguments: [
            #"permit (principal, action, resource) when { principal.nickname == "x" };"#,
            #"permit (principal, action, resource) when { principal.age > 3 };"#,
            #"permit (principal, action, resource) when { principal.level == "high" };"#,
            #"permit (principal, action, resource) when { principal.level + "a" > 0 };"#,
            #"permit (principal, action, resource) when { [].contains(1) };"#,
            #"permit (principal, action, resource) when { resource.score.lessThan(decimal("1.23456")) };"#,
            #"permit (principal, action, resource) when { resource.score < decimal("1.5") };"#,
            #"permit (principal, action, resource) when { principal.getTag("team") == "x" };"#,
            #"permit (principal, action, resource) when { context.urgent };"#,
            #"permit (principal == Robot::"r2", action, resource);"#,
            #"permit (principal, action == Action::"delete", resource);"#,
            #"permit (principal, action in [], resource);"#,
            #"permit (principal, action, resource) when { 1 };"#,
        ])
    func invalid(_ text: String) throws {
        #expect(!(try Self.problems(text)).isEmpty, "\(text)")
    }
}
