import NIOCore
import Testing

@testable import WardenCore

@Suite("JSON parser and writer")
struct JSONTests {
    @Test("numbers keep their exact text, objects keep member order")
    func fidelity() throws {
        let text = #"{"b":0.70,"a":12345678901234567890,"c":-1e-7,"d":[true,false,null],"e":"x"}"#
        let value = try JSONParser.parse(text)
        #expect(value.jsonString == text)
        #expect(value["a"] == .number("12345678901234567890"))
        #expect(value.objectValue?.keys == ["b", "a", "c", "d", "e"])
    }

    @Test("escapes and surrogate pairs decode; output escapes only what JSON requires")
    func escapes() throws {
        let value = try JSONParser.parse(#""line\nbreak \"q\" \\ \u00e9 \ud83d\ude00 \/ \u0001""#)
        #expect(value == .string("line\nbreak \"q\" \\ é 😀 / \u{01}"))
        #expect(value.jsonString == #""line\nbreak \"q\" \\ é 😀 / \u0001""#)
    }

    @Test(
        "malformed input is rejected with a reason",
        arguments: [
            "", "{", "{\"a\":}", "[1,]", "{\"a\":1,}", "tru", "01", "1.", "-", "\"abc", "{'a':1}", "NaN", "[1] 2",
            "\"\\x\"", "\"\\ud800\"", "{\"a\" 1}", "\"tab\there\"",
        ])
    func malformed(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
    }

    @Test("invalid UTF-8 inside a string is rejected")
    func invalidUTF8() {
        let bytes: [UInt8] = Array(#"{"a":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(bytes) }
        let overlong: [UInt8] = [0x22, 0xE0, 0x80, 0xAF, 0x22]
        #expect(throws: JSONParseError.self) { try JSONParser.parse(overlong) }
    }

    @Test("nesting is bounded")
    func depth() throws {
        let ok = String(repeating: "[", count: JSONParser.maximumDepth) + String(repeating: "]", count: JSONParser.maximumDepth)
        _ = try JSONParser.parse(ok)
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let error = #expect(throws: JSONParseError.self) { try JSONParser.parse(deep) }
        #expect(error?.reason.contains("nesting") == true)
    }

    @Test(
        "a key twice in one object is refused, naming the key, at any depth and past the hashing threshold",
        arguments: [
            (#"{"model":"a","model":"b"}"#, "model"),
            (#"{"messages":[{"role":"user","role":"system"}]}"#, "role"),
            ("{" + (0..<40).map { "\"k\($0)\":1" }.joined(separator: ",") + #","k7":2}"#, "k7"),
        ])
    func duplicates(_ text: String, key: String) {
        let error = #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
        #expect(error?.duplicateKey == key)
        #expect(error?.reason.contains("duplicate key '\(key)'") == true)
    }

    @Test("the same key in different objects is fine")
    func sameKeyInSiblings() throws {
        let value = try JSONParser.parse(#"{"a":{"x":1},"b":{"x":2},"x":3}"#)
        #expect(value["a"]?["x"]?.intValue == 1)
        #expect(value["x"]?.intValue == 3)
    }

    @Test("members, values and strings are bounded")
    func limits() throws {
        var limits = JSONParser.Limits()
        limits.members = 50
        let fifty = "{" + (0..<50).map { "\"k\($0)\":1" }.joined(separator: ",") + "}"
        #expect(try JSONParser.parse(Array(fifty.utf8), limits: limits).objectValue?.count == 50)
        let more = "{" + (0..<51).map { "\"k\($0)\":1" }.joined(separator: ",") + "}"
        let members = #expect(throws: JSONParseError.self) { try JSONParser.parse(Array(more.utf8), limits: limits) }
        #expect(members?.reason.contains("more than 50 members") == true)

        limits = JSONParser.Limits()
        limits.values = 10
        #expect(try JSONParser.parse(Array("[1,2,3,4,5,6,7,8,9]".utf8), limits: limits).arrayValue?.count == 9)
        let values = #expect(throws: JSONParseError.self) { try JSONParser.parse(Array("[1,2,3,4,5,6,7,8,9,10]".utf8), limits: limits) }
        #expect(values?.reason.contains("more than 10 values") == true)

        limits = JSONParser.Limits()
        limits.stringBytes = 8
        #expect(try JSONParser.parse(Array(#"["12345678"]"#.utf8), limits: limits).arrayValue?.count == 1)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(Array(#"["123456789"]"#.utf8), limits: limits) }
        #expect(throws: JSONParseError.self) { try JSONParser.parse(Array(#"["1234\n6789"]"#.utf8), limits: limits) }
    }

    @Test("a large object parses and is looked up through its hash index, in order")
    func largeObject() throws {
        let n = 9_000
        let text = "{" + (0..<n).map { "\"key\($0)\":\($0)" }.joined(separator: ",") + "}"
        let value = try JSONParser.parse(text)
        guard case .object(var object) = value else {
            Issue.record("not an object")
            return
        }
        #expect(object.count == n)
        #expect(object["key8999"]?.intValue == 8999)
        #expect(object["key0"]?.intValue == 0)
        #expect(object["missing"] == nil)
        object["key5"] = nil
        #expect(object["key5"] == nil)
        #expect(object["key6"]?.intValue == 6)
        #expect(object.keys[5] == "key6")
        object["new"] = 1
        #expect(object["new"]?.intValue == 1)
        #expect(object.keys.last == "new")
        #expect(object.removeValue(forKey: "key8999")?.intValue == 8999)
        #expect(object.count == n - 1)
        // Shrinking below the threshold keeps lookups right.
        var small: JSONObject = [:]
        for i in 0..<20 { small["k\(i)"] = .int(i) }
        for i in 0..<15 { small["k\(i)"] = nil }
        #expect(small.count == 5)
        #expect(small["k17"]?.intValue == 17)
        #expect(small["k3"] == nil)
    }

    @Test("integer access accepts 3, 3.0 and 3e0 but not 3.5")
    func integers() throws {
        #expect(JSONValue.number("3").intValue == 3)
        #expect(JSONValue.number("3.0").intValue == 3)
        #expect(JSONValue.number("3e0").intValue == 3)
        #expect(JSONValue.number("3.5").intValue == nil)
    }

    @Test("parsing from a ByteBuffer equals parsing from a String")
    func byteBuffer() throws {
        let text = #"{"k":["v",1,{"n":null}]}"#
        #expect(try JSONParser.parse(ByteBuffer(string: text)) == JSONParser.parse(text))
    }
}

@Suite("Server-sent events")
struct ServerSentEventTests {
    @Test("events split anywhere across chunks are reassembled, CRLF and comments handled")
    func splitAnywhere() throws {
        let wire = ": comment\r\nevent: message_start\r\ndata: {\"a\":1}\r\n\r\ndata: line1\ndata: line2\n\ndata: [DONE]\n\n"
        let bytes = Array(wire.utf8)
        for split in 1..<bytes.count {
            var parser = ServerSentEventParser()
            var events = try parser.parse(ByteBuffer(bytes: bytes[..<split]))
            events += try parser.parse(ByteBuffer(bytes: bytes[split...]))
            #expect(
                events == [
                    ServerSentEvent(event: "message_start", data: #"{"a":1}"#), ServerSentEvent(data: "line1\nline2"),
                    ServerSentEvent(data: "[DONE]"),
                ], "split at \(split)")
        }
    }

    @Test("a final event without a blank line is delivered by finish()")
    func finish() throws {
        var parser = ServerSentEventParser()
        #expect(try parser.parse(ByteBuffer(string: "data: last")) == [])
        #expect(parser.finish() == ServerSentEvent(data: "last"))
    }
}
