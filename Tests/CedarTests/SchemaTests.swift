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
