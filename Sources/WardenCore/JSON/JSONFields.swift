/// Typed access to the members of a request object, throwing `GatewayError`s that name the field.
///
/// `path` is the dotted/indexed location of the object in the body (`messages[2]`), so every error
/// carries a `param` the client can act on.
public struct JSONFields: Sendable {
    public let object: JSONObject
    public let path: String

    public init(_ object: JSONObject, path: String = "") {
        self.object = object
        self.path = path
    }

    /// Wraps `value` as an object, or throws naming `path`.
    public init(_ value: JSONValue, path: String) throws(GatewayError) {
        guard case .object(let o) = value else {
            throw GatewayError.wrongType(path.isEmpty ? "body" : path, expected: "an object", got: value)
        }
        self.init(o, path: path)
    }

    public func param(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The member, treating JSON `null` as absent.
    public func value(_ key: String) -> JSONValue? {
        guard let v = object[key], !v.isNull else { return nil }
        return v
    }

    public func require(_ key: String) throws(GatewayError) -> JSONValue {
        guard let v = value(key) else { throw GatewayError.missingField(param(key)) }
        return v
    }

    public func string(_ key: String) throws(GatewayError) -> String? {
        guard let v = value(key) else { return nil }
        guard case .string(let s) = v else { throw GatewayError.wrongType(param(key), expected: "a string", got: v) }
        return s
    }

    public func requireString(_ key: String) throws(GatewayError) -> String {
        guard let s = try string(key) else { throw GatewayError.missingField(param(key)) }
        return s
    }

    public func bool(_ key: String) throws(GatewayError) -> Bool? {
        guard let v = value(key) else { return nil }
        guard case .bool(let b) = v else { throw GatewayError.wrongType(param(key), expected: "a boolean", got: v) }
        return b
    }

    public func int(_ key: String, min: Int? = nil, max: Int? = nil) throws(GatewayError) -> Int? {
        guard let v = value(key) else { return nil }
        guard let i = v.intValue else { throw GatewayError.wrongType(param(key), expected: "an integer", got: v) }
        if let min, i < min {
            throw GatewayError.invalidValue(param(key), "Invalid '\(param(key))': \(i) is less than the minimum of \(min).")
        }
        if let max, i > max {
            throw GatewayError.invalidValue(param(key), "Invalid '\(param(key))': \(i) is greater than the maximum of \(max).")
        }
        return i
    }

    public func double(_ key: String, min: Double? = nil, max: Double? = nil) throws(GatewayError) -> Double? {
        guard let v = value(key) else { return nil }
        guard let d = v.doubleValue, d.isFinite else {
            throw GatewayError.wrongType(param(key), expected: "a number", got: v)
        }
        if let min, d < min {
            throw GatewayError.invalidValue(param(key), "Invalid '\(param(key))': \(d) is less than the minimum of \(min).")
        }
        if let max, d > max {
            throw GatewayError.invalidValue(param(key), "Invalid '\(param(key))': \(d) is greater than the maximum of \(max).")
        }
        return d
    }

    public func array(_ key: String) throws(GatewayError) -> [JSONValue]? {
        guard let v = value(key) else { return nil }
        guard case .array(let a) = v else { throw GatewayError.wrongType(param(key), expected: "an array", got: v) }
        return a
    }

    public func requireArray(_ key: String) throws(GatewayError) -> [JSONValue] {
        guard let a = try array(key) else { throw GatewayError.missingField(param(key)) }
        return a
    }

    public func fields(_ key: String) throws(GatewayError) -> JSONFields? {
        guard let v = value(key) else { return nil }
        return try JSONFields(v, path: param(key))
    }

    /// A string or an array of strings (OpenAI `stop`).
    public func stringList(_ key: String) throws(GatewayError) -> [String]? {
        guard let v = value(key) else { return nil }
        switch v {
        case .string(let s): return [s]
        case .array(let a):
            var out: [String] = []
            for (i, e) in a.enumerated() {
                guard case .string(let s) = e else {
                    throw GatewayError.wrongType("\(param(key))[\(i)]", expected: "a string", got: e)
                }
                out.append(s)
            }
            return out
        default:
            throw GatewayError.wrongType(param(key), expected: "a string or an array of strings", got: v)
        }
    }
}
