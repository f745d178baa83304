extension SQLDatabase {
    /// Inserts `rows` into `table` with multi-row `INSERT … VALUES (…), (…)` statements, `chunk` rows
    /// at a time: one statement per chunk instead of one per row, which is what lets the background
    /// writers keep up with thousands of requests a second.
    /// - Parameters:
    ///   - columns: the column names, in the order of each row's values.
    ///   - suffix: what follows the values, e.g. `ON CONFLICT (request_id) DO NOTHING`.
    public func insert(
        into table: String, columns: [String], rows: [[SQLValue]], suffix: String = "", chunk: Int = 200
    ) async throws {
        guard !rows.isEmpty else { return }
        let placeholders = "(" + Array(repeating: "?", count: columns.count).joined(separator: ", ") + ")"
        let head = "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES "
        var start = 0
        while start < rows.count {
            let end = min(start + chunk, rows.count)
            var binds: [SQLValue] = []
            binds.reserveCapacity((end - start) * columns.count)
            for row in rows[start..<end] {
                precondition(row.count == columns.count, "a row has \(row.count) values for \(columns.count) columns")
                binds.append(contentsOf: row)
            }
            let values = Array(repeating: placeholders, count: end - start).joined(separator: ", ")
            try await query(head + values + (suffix.isEmpty ? "" : " " + suffix), binds)
            start = end
        }
    }

    /// Deletes the rows of `table` whose `column` is one of `values`, in chunks.
    public func delete(from table: String, where column: String, in values: [SQLValue], chunk: Int = 500) async throws {
        var start = 0
        while start < values.count {
            let end = min(start + chunk, values.count)
            let list = Array(repeating: "?", count: end - start).joined(separator: ", ")
            try await query("DELETE FROM \(table) WHERE \(column) IN (\(list))", Array(values[start..<end]))
            start = end
        }
    }
}
