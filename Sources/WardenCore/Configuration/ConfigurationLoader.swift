import Foundation
import Yams

/// Reads, decodes and validates configuration files.
public enum ConfigurationLoader {
    /// Loads and validates the file at `path`. Relative paths inside it resolve against its directory.
    public static func load(path: String) throws(ConfigurationError) -> WardenConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(key: "", "cannot read the configuration file \(path)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError(key: "", "the configuration file \(path) is not UTF-8 text")
        }
        let absolute = SecretReference.absolutePath(path, base: FileManager.default.currentDirectoryPath)
        let directory = (absolute as NSString).deletingLastPathComponent
        return try parse(yaml: text, baseDirectory: directory)
    }

    /// Decodes and validates YAML text.
    public static func parse(yaml: String, baseDirectory: String) throws(ConfigurationError) -> WardenConfiguration {
        if yaml.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw ConfigurationError(key: "", "the configuration file is empty")
        }
        var config = try decode(WardenConfiguration.self, yaml: yaml)
        config.baseDirectory = baseDirectory
        try validate(config)
        return config
    }

    /// Decodes any YAML document strictly, with the same error messages as the configuration (key paths).
    public static func decode<T: Decodable>(_ type: T.Type, yaml: String) throws(ConfigurationError) -> T {
        do {
            return try YAMLDecoder().decode(T.self, from: yaml)
        } catch let error as ConfigurationError {
            throw error
        } catch let error as DecodingError {
            throw describe(error)
        } catch {
            throw ConfigurationError(key: "", "YAML syntax error: \(error)")
        }
    }

    static func describe(_ error: DecodingError) -> ConfigurationError {
        switch error {
        case .keyNotFound(let key, let ctx):
            return ConfigurationError(key: (ctx.codingPath + [key]).configKey, "is required")
        case .typeMismatch(let type, let ctx):
            return ConfigurationError(key: ctx.codingPath.configKey, "expected \(typeName(type))")
        case .valueNotFound(let type, let ctx):
            return ConfigurationError(key: ctx.codingPath.configKey, "expected \(typeName(type)), got null")
        case .dataCorrupted(let ctx):
            if let underlying = ctx.underlyingError as? ConfigurationError { return underlying }
            return ConfigurationError(key: ctx.codingPath.configKey, ctx.debugDescription)
        @unknown default:
            return ConfigurationError(key: "", "\(error)")
        }
    }

    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type: "an integer"
        case is Double.Type: "a number"
        case is Bool.Type: "true or false"
        default:
            String(describing: type).hasPrefix("Array") ? "a list" : "a mapping"
        }
    }

    /// Checks what decoding alone cannot: references between sections, ranges, URL shapes.
    /// An absolute http(s) URL with a host and, if it names one, a port in 1...65535.
    public static func isHTTPURL(_ text: String) -> Bool {
        guard let u = URL(string: text), let scheme = u.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = u.host, !host.isEmpty
        else { return false }
        if let port = u.port, !(1...65_535).contains(port) { return false }
        return true
    }

    public static func validate(_ config: WardenConfiguration) throws(ConfigurationError) {
        if let vault = config.vault, !isHTTPURL(vault.address) {
            throw ConfigurationError(key: "vault.address", "must be an http:// or https:// URL with a valid port")
        }
        for (key, reference) in config.secretReferences {
            guard case .vault(let path) = reference else { continue }
            guard SecretReference.parseVaultPath(path) != nil else {
                throw ConfigurationError(key: key, "expected vault:MOUNT/PATH#FIELD, like vault:secret/warden/openai#api_key")
            }
            guard config.vault != nil else { throw ConfigurationError(key: key, "is a vault: reference, but there is no `vault:` section") }
        }
        var providerNames = Set<String>()
        for (name, provider) in config.providers {
            let key = "providers.\(name)"
            providerNames.insert(name)
            switch provider.type {
            case .openai, .anthropic:
                guard let url = provider.baseURL else {
                    throw ConfigurationError(key: "\(key).base_url", "is required for type \(provider.type.rawValue)")
                }
                guard isHTTPURL(url) else {
                    throw ConfigurationError(key: "\(key).base_url", "must be an http:// or https:// URL, got '\(url)'")
                }
            case .mock:
                if provider.baseURL != nil {
                    throw ConfigurationError(key: "\(key).base_url", "is not used by type mock (it runs in-process)")
                }
            }
            if provider.latency != nil, provider.type != .mock {
                throw ConfigurationError(key: "\(key).latency", "only applies to type mock")
            }
            guard (1...100_000).contains(provider.maxConnections) else {
                throw ConfigurationError(key: "\(key).max_connections", "must be between 1 and 100000")
            }
        }
        let modelNames = Set(config.models.map(\.name))
        for (name, model) in config.models {
            let key = "models.\(name)"
            guard !model.deployments.isEmpty else {
                throw ConfigurationError(key: "\(key).deployments", "must list at least one deployment")
            }
            for (i, d) in model.deployments.enumerated() {
                guard providerNames.contains(d.provider) else {
                    throw ConfigurationError(
                        key: "\(key).deployments[\(i)].provider", "unknown provider '\(d.provider)'")
                }
                guard d.weight > 0, d.weight.isFinite else {
                    throw ConfigurationError(key: "\(key).deployments[\(i)].weight", "must be greater than 0")
                }
                guard !d.model.isEmpty else {
                    throw ConfigurationError(key: "\(key).deployments[\(i)].model", "must not be empty")
                }
            }
            for (field, list) in [("fallbacks", model.fallbacks), ("context_fallbacks", model.contextFallbacks)] {
                for (i, f) in list.enumerated() {
                    guard modelNames.contains(f) else {
                        throw ConfigurationError(key: "\(key).\(field)[\(i)]", "unknown model '\(f)'")
                    }
                    guard f != name else {
                        throw ConfigurationError(key: "\(key).\(field)[\(i)]", "a model cannot fall back to itself")
                    }
                }
            }
            guard (0...10).contains(model.retries) else {
                throw ConfigurationError(key: "\(key).retries", "must be between 0 and 10")
            }
            let t = model.timeout
            for (field, d) in [("connect", t.connect), ("first_byte", t.firstByte), ("total", t.total)] where d.seconds <= 0 {
                throw ConfigurationError(key: "\(key).timeout.\(field)", "must be greater than 0")
            }
            if t.firstByte.duration > t.total.duration {
                throw ConfigurationError(key: "\(key).timeout.first_byte", "must not exceed timeout.total")
            }
            if t.connect.duration > t.total.duration {
                throw ConfigurationError(key: "\(key).timeout.connect", "must not exceed timeout.total")
            }
        }
        var keyNames = Set<String>()
        for (i, k) in config.keys.enumerated() {
            guard !k.name.isEmpty else { throw ConfigurationError(key: "keys[\(i)].name", "must not be empty") }
            guard keyNames.insert(k.name).inserted else {
                throw ConfigurationError(key: "keys[\(i)].name", "duplicate key name '\(k.name)'")
            }
            guard !k.team.isEmpty else { throw ConfigurationError(key: "keys[\(i)].team", "must not be empty") }
            for (j, m) in (k.models ?? []).enumerated() where !modelNames.contains(m) {
                throw ConfigurationError(key: "keys[\(i)].models[\(j)]", "unknown model '\(m)'")
            }
        }
        // A llama_guard rule names the model that serves the guard; it must exist and must not guard itself.
        var guardSets: [(String, GuardrailsConfiguration, String?)] = [("guardrails", config.guardrails, nil)]
        guardSets += config.models.map { ("models.\($0.name).guardrails", $0.config.guardrails, $0.name) }
        guardSets += config.keys.enumerated().compactMap { i, k in k.guardrails.map { ("keys[\(i)].guardrails", $0, nil) } }
        for (prefix, g, owner) in guardSets {
            for (field, rules) in [("input", g.input), ("output", g.output)] {
                for (i, rule) in rules.enumerated() where rule.detector == .llamaGuard {
                    guard let m = rule.model, modelNames.contains(m) else {
                        throw ConfigurationError(key: "\(prefix).\(field)[\(i)].model", "unknown model '\(rule.model ?? "")'")
                    }
                    if m == owner { throw ConfigurationError(key: "\(prefix).\(field)[\(i)].model", "a model cannot guard itself") }
                }
            }
        }
        let s = config.server
        guard (1024...(1 << 30)).contains(s.maxBodySize.bytes) else {
            throw ConfigurationError(key: "server.max_body_size", "must be between 1KiB and 1GiB")
        }
        guard s.bodyTimeout.seconds > 0 else {
            throw ConfigurationError(key: "server.body_timeout", "must be greater than 0")
        }
        guard (1...1_000_000).contains(s.maxConnections) else {
            throw ConfigurationError(key: "server.max_connections", "must be between 1 and 1000000")
        }
        guard s.headerTimeout.seconds > 0 else {
            throw ConfigurationError(key: "server.header_timeout", "must be greater than 0")
        }
        guard (1024...(1 << 20)).contains(s.maxHeaderBytes.bytes) else {
            throw ConfigurationError(key: "server.max_header_bytes", "must be between 1KiB and 1MiB")
        }
        guard (8...10_000).contains(s.maxHeaderCount) else {
            throw ConfigurationError(key: "server.max_header_count", "must be between 8 and 10000")
        }
        guard (100...10_000_000).contains(s.maxRecordBacklog) else {
            throw ConfigurationError(key: "server.max_record_backlog", "must be between 100 and 10000000")
        }
        guard s.defaultMaxTokens >= 1 else {
            throw ConfigurationError(key: "server.default_max_tokens", "must be at least 1")
        }
        guard config.reliability.breakerFailures >= 1 else {
            throw ConfigurationError(key: "reliability.breaker_failures", "must be at least 1")
        }
        guard config.reliability.backoffInitial.duration <= config.reliability.backoffMax.duration else {
            throw ConfigurationError(key: "reliability.backoff_initial", "must not exceed reliability.backoff_max")
        }
        guard config.budgets.defaultMaxTokens >= 1 else {
            throw ConfigurationError(key: "budgets.default_max_tokens", "must be at least 1")
        }
        if let alerts = config.budgets.alerts {
            guard isHTTPURL(alerts.webhook) else {
                throw ConfigurationError(key: "budgets.alerts.webhook", "must be an http:// or https:// URL")
            }
            for (i, t) in alerts.thresholds.enumerated() where !(1...1000).contains(t) {
                throw ConfigurationError(key: "budgets.alerts.thresholds[\(i)]", "must be a percentage between 1 and 1000")
            }
        }
        let audit = config.audit
        guard audit.retentionDays >= 180 else {
            throw ConfigurationError(
                key: "audit.retention_days", "must be at least 180: the EU AI Act requires keeping logs six months")
        }
        guard (UsageConfiguration.minimumRetentionDays...36_500).contains(config.usage.retentionDays) else {
            throw ConfigurationError(
                key: "usage.retention_days",
                "must be between \(UsageConfiguration.minimumRetentionDays) (the longest budget period) and 36500")
        }
        guard audit.retentionDays <= 36_500 else {
            throw ConfigurationError(key: "audit.retention_days", "must be at most 36500 (a hundred years)")
        }
        guard audit.checkpointEvery >= 1 else {
            throw ConfigurationError(key: "audit.checkpoint_every", "must be at least 1")
        }
        guard audit.checkpointInterval.seconds > 0 else {
            throw ConfigurationError(key: "audit.checkpoint_interval", "must be greater than 0")
        }
        guard !audit.origin.isEmpty, !audit.origin.contains("\n"), !audit.origin.contains("+"),
            !audit.origin.contains(" ")
        else {
            throw ConfigurationError(key: "audit.origin", "must be a non-empty name without spaces, '+' or newlines")
        }
        if let publish = audit.publish, publish.hasPrefix("http://") || publish.hasPrefix("https://") {
            guard isHTTPURL(publish) else {
                throw ConfigurationError(key: "audit.publish", "is not a valid URL")
            }
            guard audit.publishSecret != nil else {
                throw ConfigurationError(key: "audit.publish_secret", "is required to sign checkpoints published to a webhook")
            }
        }
    }
}
