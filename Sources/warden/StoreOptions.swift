import ArgumentParser
import Foundation
import NIOCore
import WardenAudit
import WardenCore
import WardenServer
import WardenTools

/// Where a store command finds its store: `--config FILE`, or the embedded default's data directory.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: "The YAML configuration file whose store to use. Without it: the embedded default's (./warden-data).")
    var config: String?

    @Option(name: .customLong("data-dir"), help: "Data directory, overriding the config's `data_dir`.")
    var dataDir: String?

    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    /// Opens the store, runs `body`, and closes it (committing the audit records of any change). Errors
    /// print as `warden: …` and exit 1 (78 for configuration errors).
    func withSession(_ body: (StoreSession) async throws -> Void) async throws {
        let session: StoreSession
        do {
            session = try await StoreSession.open(options: WardenServer.Options(configPath: config, dataDirOverride: dataDir))
        } catch let error as ConfigurationError {
            fail("configuration error: \(error)", code: 78)
        } catch {
            fail("cannot open the store: \(error)")
        }
        do {
            try await body(session)
            await session.close()
        } catch let error as GatewayError {
            await session.close()
            fail(error.message)
        } catch let error as ExitCode {
            await session.close()
            throw error
        } catch {
            await session.close()
            fail("\(error)")
        }
    }

    func fail(_ message: String, code: Int32 = 1) -> Never {
        FileHandle.standardError.write(Data("warden: \(message)\n".utf8))
        Foundation.exit(code)
    }
}

/// Tags and metadata of teams and keys (policies read them as `tags` and `metadata`).
struct LabelOptions: ParsableArguments {
    @Option(name: .customLong("tag"), help: "A tag (repeat for several); replaces the tags. `--tag none` removes them.")
    var tags: [String] = []

    @Option(name: .customLong("metadata"), help: "KEY=VALUE metadata (repeat for several); replaces the metadata.")
    var metadata: [String] = []

    @Option(
        name: .customLong("guardrails"),
        help: "Own guardrails, added to the global ones: the config's `guardrails:` shape as JSON or YAML, or @FILE; `none` removes them.")
    var guardrails: String?

    func fields() throws -> JSONObject {
        var out: JSONObject = [:]
        if tags == ["none"] {
            out["tags"] = .array([])
        } else if !tags.isEmpty {
            out["tags"] = .array(tags.map { .string($0) })
        }
        if !metadata.isEmpty {
            var m: JSONObject = [:]
            for pair in metadata {
                guard let eq = pair.firstIndex(of: "=") else { throw ValidationError("--metadata takes KEY=VALUE") }
                m[String(pair[..<eq])] = .string(String(pair[pair.index(after: eq)...]))
            }
            out["metadata"] = .object(m)
        }
        if let guardrails {
            if guardrails == "none" {
                out["guardrails"] = .null
            } else {
                let text = guardrails.hasPrefix("@") ? try String(contentsOfFile: String(guardrails.dropFirst()), encoding: .utf8) : guardrails
                do {
                    out["guardrails"] = try ConfigurationLoader.decode(JSONValue.self, yaml: text)
                } catch {
                    throw ValidationError("--guardrails: \(error)")
                }
            }
        }
        return out
    }
}

/// Limits shared by teams and keys, turned into the admin API's JSON fields.
struct LimitOptions: ParsableArguments {
    @Option(name: .customLong("budget-usd"), help: "Budget in USD per period (e.g. 25 or 0.50); `none` removes it.")
    var budgetUSD: String?

    @Option(name: .customLong("budget-period"), help: "daily, weekly (from Monday), monthly or total; UTC. Default monthly.")
    var budgetPeriod: String?

    @Option(help: "Requests per minute (sliding 60 s window); `none` removes the limit.")
    var rpm: String?

    @Option(help: "Tokens per minute; `none` removes the limit.")
    var tpm: String?

    func fields() throws -> JSONObject {
        var out: JSONObject = [:]
        if let budgetUSD { out["budget_usd"] = budgetUSD == "none" ? .null : .number(budgetUSD) }
        if let budgetPeriod { out["budget_period"] = .string(budgetPeriod) }
        for (name, value) in [("rpm", rpm), ("tpm", tpm)] {
            guard let value else { continue }
            if value == "none" {
                out[name] = .null
            } else {
                guard Int(value) != nil else { throw ValidationError("--\(name) must be a whole number or `none`") }
                out[name] = .number(value)
            }
        }
        return out
    }
}
