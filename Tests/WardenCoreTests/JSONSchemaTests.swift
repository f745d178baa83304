import Testing

@testable import WardenCore

@Suite("JSON Schema validation")
struct JSONSchemaTests {
    static let order = JSONSchema(
        try! JSONParser.parse(
            #"""
            {"type": "object", "required": ["sku", "qty"], "additionalProperties": false,
             "properties": {
               "sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]+$"},
               "qty": {"type": "integer", "minimum": 1, "maximum": 10},
               "tags": {"type": "array", "items": {"enum": ["gift", "rush"]}, "uniqueItems": true, "maxItems": 2},
               "ship": {"$ref": "#/$defs/address"}},
             "$defs": {"address": {"type": "object", "required": ["country"], "properties": {"country": {"const": "FR"}}}}}
            """#))

    @Test("a valid instance has no violations")
    func valid() throws {
        #expect(Self.order.validate(try JSONParser.parse(#"{"sku":"ABC-12","qty":3,"tags":["gift"],"ship":{"country":"FR"}}"#)).isEmpty)
        #expect(Self.order.isValid(try JSONParser.parse(#"{"sku":"ABC-1","qty":10.0}"#)))
    }

    @Test(
        "each broken constraint is named with its path",
        arguments: [
            (#"{"qty":3}"#, "the required property 'sku' is missing"),
            (#"{"sku":"abc","qty":3}"#, "/sku: must match the pattern"),
            (#"{"sku":"ABC-1","qty":0}"#, "/qty: must be ≥ 1"),
            (#"{"sku":"ABC-1","qty":2.5}"#, "/qty: expected integer, got number"),
            (#"{"sku":"ABC-1","qty":1,"extra":true}"#, "/extra: the property 'extra' is not allowed"),
            (#"{"sku":"ABC-1","qty":1,"tags":["gift","gift"]}"#, "/tags: items 0 and 1 are equal"),
            (#"{"sku":"ABC-1","qty":1,"tags":["free"]}"#, "/tags/0: must be one of"),
            (#"{"sku":"ABC-1","qty":1,"ship":{"country":"DE"}}"#, "/ship/country: must be \"FR\""),
            (#"[1]"#, "expected object, got array"),
        ])
    func violations(_ instance: String, _ expected: String) throws {
        let found = Self.order.validate(try JSONParser.parse(instance)).map(\.description)
        #expect(found.contains { $0.contains(expected) }, "\(found)")
    }

    @Test("combinators and conditionals")
    func combinators() throws {
        let s = JSONSchema(
            try JSONParser.parse(
                #"{"oneOf":[{"type":"string"},{"type":"integer","multipleOf":5}],"not":{"const":"no"},"if":{"type":"integer"},"then":{"maximum":100}}"#))
        #expect(s.isValid("yes"))
        #expect(s.isValid(15))
        #expect(!s.isValid(7))
        #expect(!s.isValid("no"))
        #expect(!s.isValid(105))
        #expect(!s.isValid(true))
    }

    @Test("what cannot be checked fails instead of passing: an unknown $ref, a bad pattern")
    func unknowable() throws {
        #expect(!JSONSchema(try JSONParser.parse(#"{"$ref":"https://example.com/s.json"}"#)).isValid(1))
        #expect(!JSONSchema(try JSONParser.parse(#"{"pattern":"(["}"#)).isValid("x"))
        #expect(JSONSchema(true).isValid(1) && !JSONSchema(false).isValid(1))
    }
}
