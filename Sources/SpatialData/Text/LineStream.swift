import CZlib
import Foundation

/// Streams the lines of a text file, gzip-compressed or plain, in 4 MiB blocks: for vendor tables that are
/// larger than memory would hold as strings (a MERSCOPE cell_by_gene.csv or a CosMx expression matrix runs
/// to gigabytes). Lines reach the body as bytes without their terminator (LF or CRLF), with 1-based numbers.
public enum LineStream {
    /// Calls `body(line, number)` for every line; the body returns false to stop early.
    public static func forEach(_ path: String, _ body: (UnsafeBufferPointer<UInt8>, Int) throws -> Bool) throws {
        let gz = try TextFile.open(path)
        defer { gzclose(gz) }
        var capacity = 4 << 20
        var buf = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        defer { buf.deallocate() }
        var filled = 0, number = 0
        func emit(_ start: Int, _ end: Int) throws -> Bool {
            var e = end
            if e > start && buf[e - 1] == UInt8(ascii: "\r") { e -= 1 }
            number += 1
            return try body(UnsafeBufferPointer(start: buf + start, count: e - start), number)
        }
        while true {
            let n = gzread(gz, buf + filled, UInt32(capacity - filled))
            if n < 0 { throw damaged(gz, path) }
            filled += Int(n)
            let eof = n == 0
            var start = 0
            while start < filled, let nl = memchr(buf + start, Int32(UInt8(ascii: "\n")), filled - start) {
                let end = buf.distance(to: nl.assumingMemoryBound(to: UInt8.self))
                if try !emit(start, end) { return }
                start = end + 1
            }
            if eof {
                // A truncated gzip stream shows only now: report it rather than a cut-off last line.
                try checkEnd(gz, path)
                if start < filled { _ = try emit(start, filled) }
                return
            }
            // Keep the partial line; grow the buffer when one line fills it.
            if start > 0 { memmove(buf, buf + start, filled - start); filled -= start }
            if filled == capacity {
                let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity * 2)
                bigger.update(from: buf, count: filled)
                buf.deallocate(); buf = bigger; capacity *= 2
            }
        }
    }

    /// Calls `body(line, fields, number)` for every non-blank line after the header line, each split on
    /// `delimiter`; a line whose field count differs from `width` is an error naming it.
    public static func forEachRow(_ path: String, _ delimiter: DelimitedTable.Delimiter = .comma, width: Int,
                                  _ body: (UnsafeBufferPointer<UInt8>, [Range<Int>], Int) throws -> Void) throws {
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(width)
        try forEach(path) { line, number in
            if number == 1 || line.isEmpty { return true }
            split(line, delimiter, into: &ranges)
            guard ranges.count == width else {
                throw ImportError(.shapeMismatch, file: path, field: "line \(number)", row: number,
                                  problem: "the line has \(ranges.count) fields but the header has \(width)",
                                  fix: "repair the truncated or malformed line (a stray delimiter or quote, or a cut-off file)")
            }
            try body(line, ranges, number)
            return true
        }
    }

    static func checkEnd(_ gz: gzFile, _ path: String) throws {
        var errnum: Int32 = 0
        _ = gzerror(gz, &errnum)
        if errnum == Z_BUF_ERROR {
            throw ImportError(.corrupt, file: path, field: "", problem: "the gzip stream ends early (truncated file)",
                              fix: "the file is truncated; download or copy it again")
        }
        if errnum != Z_OK && errnum != Z_STREAM_END { throw damaged(gz, path) }
    }

    static func damaged(_ gz: gzFile, _ path: String) -> ImportError {
        var errnum: Int32 = 0
        let msg = gzerror(gz, &errnum).map { String(cString: $0) } ?? "read error"
        return ImportError(.corrupt, file: path, field: "", problem: "the compressed stream is damaged (\(msg))",
                           fix: "the file is truncated or corrupt; download or copy it again")
    }

    /// Splits a comma-separated line into field ranges (quotes excluded; a quoted field may hold commas).
    @inline(__always)
    public static func splitCSV(_ line: UnsafeBufferPointer<UInt8>, into fields: inout [Range<Int>]) {
        split(line, .comma, into: &fields)
    }

    /// Splits a line on commas, tabs, or runs of spaces (and tabs), into field ranges; a double-quoted
    /// field may hold the delimiter (its quotes are excluded from the range).
    public static func split(_ line: UnsafeBufferPointer<UInt8>, _ d: DelimitedTable.Delimiter, into fields: inout [Range<Int>]) {
        fields.removeAll(keepingCapacity: true)
        let quote = UInt8(ascii: "\""), space = UInt8(ascii: " "), tab = UInt8(ascii: "\t")
        let sep: UInt8 = d == .comma ? UInt8(ascii: ",") : tab
        let whitespace = d == .whitespace
        @inline(__always) func isSep(_ b: UInt8) -> Bool { whitespace ? (b == space || b == tab) : b == sep }
        var i = 0
        let n = line.count
        if whitespace { while i < n && isSep(line[i]) { i += 1 }; if i == n { return } }
        while true {
            if i < n && line[i] == quote {
                let s = i + 1
                var j = s
                while j < n {
                    if line[j] == quote { if j + 1 < n && line[j + 1] == quote { j += 2; continue }; break }
                    j += 1
                }
                fields.append(s..<min(j, n))
                i = j + 1
                while i < n && !isSep(line[i]) { i += 1 }
            } else {
                let s = i
                while i < n && !isSep(line[i]) { i += 1 }
                fields.append(s..<i)
            }
            if i >= n { break }
            if whitespace {
                while i < n && isSep(line[i]) { i += 1 }
                if i == n { break }
            } else {
                i += 1
                if i == n { fields.append(n..<n); break }
            }
        }
    }

    /// The text of a field (doubled quotes inside a quoted field become one), trimmed of spaces.
    public static func text(_ line: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> String {
        var s = r.lowerBound, e = r.upperBound
        while s < e && line[s] == UInt8(ascii: " ") { s += 1 }
        while e > s && line[e - 1] == UInt8(ascii: " ") { e -= 1 }
        let t = String(decoding: UnsafeBufferPointer(rebasing: line[s..<e]), as: UTF8.self)
        return t.contains("\"\"") ? t.replacingOccurrences(of: "\"\"", with: "\"") : t
    }

    /// Parses a count: digits fast, anything else through strtod; empty is 0; nil when not a number.
    @inline(__always)
    public static func number(_ line: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Double? {
        if r.isEmpty { return 0 }
        var v = 0, digits = true
        if r.count <= 18 {
            for k in r {
                let d = Int(line[k]) &- 48
                if d < 0 || d > 9 { digits = false; break }
                v = v &* 10 &+ d
            }
            if digits { return Double(v) }
        }
        var s = r.lowerBound, e = r.upperBound
        while s < e && line[s] == UInt8(ascii: " ") { s += 1 }
        while e > s && line[e - 1] == UInt8(ascii: " ") { e -= 1 }
        if s == e { return 0 }
        guard e - s < 64 else { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { tmp -> Double? in
            for k in s..<e { tmp[k - s] = CChar(bitPattern: line[k]) }
            tmp[e - s] = 0
            var end: UnsafeMutablePointer<CChar>? = nil
            let v = strtod(tmp.baseAddress!, &end)
            guard let end, tmp.baseAddress!.distance(to: end) == e - s else { return nil }
            return v
        }
    }
}
