import CZlib
import Foundation

/// Reads text files, gzip-compressed or not (zlib's gzread passes plain files through unchanged).
public enum TextFile {
    /// The whole decompressed content of `path`.
    public static func bytes(_ path: String) throws -> [UInt8] {
        let gz = try open(path)
        defer { gzclose(gz) }
        var out = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { gzread(gz, $0.baseAddress, UInt32($0.count)) }
            if n < 0 { throw LineStream.damaged(gz, path) }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<Int(n)])
        }
        try LineStream.checkEnd(gz, path)
        return out
    }

    /// Writes `text` gzip-compressed to `path` (exports and test fixtures of `.gz` inputs).
    public static func writeGzip(_ path: String, _ text: String) throws {
        guard let gz = gzopen(path, "wb") else {
            throw ImportError(.unreadable, file: path, field: "", problem: "the file cannot be created", fix: "check that the folder exists and is writable")
        }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { bytes.isEmpty ? 0 : gzwrite(gz, $0.baseAddress, UInt32($0.count)) }
        let closed = gzclose(gz)
        guard Int(written) == bytes.count, closed == Z_OK else {
            throw ImportError(.unreadable, file: path, field: "", problem: "the compressed file could not be written completely",
                              fix: "check free disk space and that the folder is writable")
        }
    }

    /// Opens `path` for gzread (plain files pass through), with errors that say why not.
    static func open(_ path: String) throws -> gzFile {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ImportError(.unreadable, file: path, field: "", problem: "the file does not exist", fix: "check the path")
        }
        guard let gz = gzopen(path, "rb") else {
            throw ImportError(.unreadable, file: path, field: "", problem: "the file cannot be opened", fix: "check its permissions")
        }
        gzbuffer(gz, 1 << 20)
        return gz
    }

    /// The lines of `path` (LF or CRLF), without terminators; a trailing empty line is dropped.
    public static func lines(_ path: String) throws -> [Substring] {
        let b = try bytes(path)
        guard let text = String(validating: b, as: UTF8.self) else {
            throw ImportError(.invalidValue, file: path, field: "", problem: "the file is not UTF-8 text",
                              fix: "check that this is the expected text export (binary or differently-encoded files cannot be read)")
        }
        // "\r\n" is one Character (grapheme) in Swift, so CRLF files must be split on it explicitly.
        var out = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        if out.last?.isEmpty == true { out.removeLast() }
        for i in out.indices where out[i].hasSuffix("\r") { out[i] = out[i].dropLast() }
        return out
    }
}
