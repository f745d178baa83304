import ArgumentParser
import Foundation
import NIOCore
import WardenAudit
import WardenCore
import WardenServer
import WardenTools

/// Plain tables and JSON for the store commands.
enum Output {
    static func merge(_ a: JSONObject, _ b: JSONObject) -> JSONObject {
        var out = a
        for (k, v) in b { out[k] = v }
        return out
    }

    static func object(_ object: JSONObject, json: Bool) {
        if json {
            print(String(buffer: object.jsonBuffer))
            return
        }
        let width = object.keys.map(\.count).max() ?? 0
        for (key, value) in object {
            print(key.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + cell(value))
        }
    }

    static func list(_ object: JSONObject, columns: [String], json: Bool) {
        if json {
            print(String(buffer: object.jsonBuffer))
            return
        }
        let rows: [[String]] = (object["data"]?.arrayValue ?? []).map { row in columns.map { row[$0].map(cell) ?? "" } }
        var widths = columns.map(\.count)
        for row in rows { for (i, c) in row.enumerated() { widths[i] = max(widths[i], c.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }
        print(line(columns))
        for row in rows { print(line(row)) }
    }

    static func cell(_ value: JSONValue) -> String {
        switch value {
        case .null: "-"
        case .string(let s): s
        case .number(let n): n
        case .bool(let b): b ? "true" : "false"
        default: value.jsonString
        }
    }
}
