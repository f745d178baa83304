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

    @Test("duplicate keys: the last one wins")
    func duplicates() throws {
        let value = try JSONParser.parse(#"{"a":1,"a":2}"#)
        #expect(value.objectValue?.count == 1)
        #expect(value["a"]?.intValue == 2)
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
