import Foundation
import Testing
@testable import Daemon

@Suite struct SHA256Tests {
    @Test func knownVectors() {
        #expect(SHA256.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    /// A multi-chunk file against coreutils' sha256sum.
    @Test func fileMatchesSha256sum() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-sha-\(UUID().uuidString)")
        var bytes = [UInt8](repeating: 0, count: 2_500_003)
        var x: UInt32 = 7
        for i in bytes.indices { x = x &* 1_664_525 &+ 1_013_904_223; bytes[i] = UInt8(truncatingIfNeeded: x >> 24) }
        try Data(bytes).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let p = Process(); p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum"); p.arguments = [url.path]
        let out = Pipe(); p.standardOutput = out
        try p.run(); p.waitUntilExit()
        let expected = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: " ").first.map(String.init)
        let (hash, size) = try SHA256.file(url)
        #expect(size == 2_500_003)
        #expect(hash == expected)
    }
}
