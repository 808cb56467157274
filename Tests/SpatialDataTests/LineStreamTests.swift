import Foundation
import Testing
@testable import SpatialData

@Suite struct LineStreamTests {
    func lines(_ path: String) throws -> [(String, Int)] {
        var out: [(String, Int)] = []
        try LineStream.forEach(path) { line, n in out.append((String(decoding: line, as: UTF8.self), n)); return true }
        return out
    }

    @Test func crlfNoTrailingNewlineAndGzip() throws {
        let dir = TestEnv.tempDir()
        try "a,b\r\n1,2\r\n3,4".write(toFile: dir + "/t.csv", atomically: true, encoding: .utf8)
        #expect(try lines(dir + "/t.csv").map(\.0) == ["a,b", "1,2", "3,4"])
        try TextFile.writeGzip(dir + "/t.csv.gz", "x\ny\n")
        #expect(try lines(dir + "/t.csv.gz").map(\.0) == ["x", "y"])
        #expect(try lines(dir + "/t.csv.gz").map(\.1) == [1, 2])
    }

    @Test func linesLongerThanTheBlock() throws {
        let dir = TestEnv.tempDir()
        let long = String(repeating: "7,", count: 3_000_000) + "7"   // 6 MB, more than one 4 MiB block
        try ("h\n" + long + "\nend\n").write(toFile: dir + "/long.csv", atomically: true, encoding: .utf8)
        let got = try lines(dir + "/long.csv")
        #expect(got.count == 3 && got[1].0.count == long.count && got[2].0 == "end")
    }

    @Test func truncatedGzipIsCorrupt() throws {
        let dir = TestEnv.tempDir()
        try TextFile.writeGzip(dir + "/t.csv.gz", String(repeating: "1,2,3\n", count: 50_000))
        let d = try Data(contentsOf: URL(fileURLWithPath: dir + "/t.csv.gz"))
        try d.prefix(d.count / 2).write(to: URL(fileURLWithPath: dir + "/t.csv.gz"))
        #expect(throws: ImportError.self) { try lines(dir + "/t.csv.gz") }
    }

    @Test func csvFieldsQuotesAndNumbers() {
        let line = Array("12,\"a,b\",,\"say \"\"hi\"\"\", 3.5e1 ,x".utf8)
        line.withUnsafeBufferPointer { p in
            var f: [Range<Int>] = []
            LineStream.splitCSV(p, into: &f)
            #expect(f.count == 6)
            #expect(LineStream.text(p, f[1]) == "a,b" && LineStream.text(p, f[3]) == "say \"hi\"")
            #expect(LineStream.number(p, f[0]) == 12 && LineStream.number(p, f[2]) == 0 && LineStream.number(p, f[4]) == 35)
            #expect(LineStream.number(p, f[5]) == nil)
        }
        let trailing = Array("1,2,".utf8)
        trailing.withUnsafeBufferPointer { p in
            var f: [Range<Int>] = []
            LineStream.splitCSV(p, into: &f)
            #expect(f.count == 3 && f[2].isEmpty)
        }
    }
}
