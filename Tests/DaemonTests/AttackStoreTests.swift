import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SpatialData
import Store
import Testing

/// The outside attack on what the daemon reads and stores, replayed against a real `tesserad` (issue 14):
/// special files and huge files registered as datasets, folder hashes, error messages that disclose files, two
/// daemons on one root, a damaged, emptied or newer database, and a full disk.
@Suite(.serialized) struct AttackStoreTests {
    static func project(_ d: RealDaemon, _ name: String = "p") throws {
        #expect(try d.send("POST", "/api/projects", json: #"{"name": "\#(name)"}"#).0 == 201)
    }

    static func register(_ d: RealDaemon, _ path: String, name: String? = nil, timeout: Int = 60) throws -> (Int, [String: Any], String) {
        let body = try JSONSerialization.data(withJSONObject: ["path": path, "name": name ?? UUID().uuidString])
        let (st, text) = try d.send("POST", "/api/projects/p/datasets", json: String(decoding: body, as: UTF8.self), timeout: timeout)
        return (st, jsonObject(text), text)
    }

    /// Folds the write-ahead log into the database file, so the file alone holds everything.
    static func checkpoint(_ db: String) throws {
        let s = try ProjectStore(path: db)
        try s.writer.writeWithoutTransaction { try $0.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        try s.writer.close()
        removeWAL(db)
    }

    static func removeWAL(_ db: String) {
        for ext in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: db + ext) }
    }

    /// FIFOs, devices and huge files never reach the daemon's own memory or block it.
    @Test func specialAndHugeFilesAreRefusedOutOfProcess() throws {
        let root = RealDaemon.tempRoot("register")
        let d = try RealDaemon(root: root + "/data", config: ["registerMemoryMB": 1024, "registerTimeoutSeconds": 20])
        defer { d.stop() }
        try Self.project(d)
        let fifo = root + "/cells.h5ad"
        #expect(mkfifo(fifo, 0o644) == 0)
        let zero = root + "/zero.csv"
        try FileManager.default.createSymbolicLink(atPath: zero, withDestinationPath: "/dev/zero")
        let folder = root + "/merscope"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        #expect(mkfifo(folder + "/cell_by_gene.csv", 0o644) == 0)
        for path in [fifo, zero, folder, "/dev/zero", "/proc/self/mem"] {
            let t0 = Date()
            let (st, _, text) = try Self.register(d, path)
            #expect(st == 422, "\(path) → \(st) \(text.prefix(200))")
            #expect(!text.contains("cell_by_gene"), "the answer does not name what a folder holds: \(text)")
            #expect(Date().timeIntervalSince(t0) < 10, "\(path) took \(Date().timeIntervalSince(t0)) s")
            #expect(try d.send("GET", "/api/health", timeout: 5).0 == 200)
        }
        // A 3 GB sparse file of NUL bytes (no line ends) as a counts table: the child runs into its memory limit
        // or the reader's errors; the daemon's own memory does not grow.
        let sparse = root + "/huge.csv"
        let fd = open(sparse, O_CREAT | O_WRONLY, 0o644)
        #expect(ftruncate(fd, 3 << 30) == 0)
        close(fd)
        let before = d.residentMiB()
        let (st, _, text) = try Self.register(d, sparse, timeout: 120)
        #expect(st == 422, "huge sparse file → \(st) \(text.prefix(300))")
        #expect(d.residentMiB() < before + 100, "daemon RSS \(before) → \(d.residentMiB()) MiB")
        #expect(d.process.isRunning)
        let (_, list) = try d.send("GET", "/api/projects/p/datasets")
        #expect(list == "[]", "nothing was registered")
    }

    /// Paths and bad files get messages that say what to fix without quoting the file or listing a folder.
    @Test func errorsDoNotDiscloseFiles() throws {
        let root = RealDaemon.tempRoot("disclose")
        let d = try RealDaemon(root: root + "/data")
        defer { d.stop() }
        try Self.project(d)
        let secrets = root + "/home"
        try FileManager.default.createDirectory(atPath: secrets, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: secrets + "/secret-name-passwords.txt"))
        let csv = root + "/counts.csv"
        try Data("cell,GeneA,GeneB\nc1,1,2\nc2,SECRETVALUE42,3\n".utf8).write(to: URL(fileURLWithPath: csv))
        for path in [secrets, csv, "/root", "/etc"] {
            let (st, _, text) = try Self.register(d, path)
            #expect(st == 422, "\(path) → \(st)")
            #expect(!text.contains("secret-name") && !text.contains("SECRETVALUE42") && !text.contains(".bashrc") && !text.contains("passwd"),
                    "\(path): \(text)")
        }
    }

    /// A folder dataset is hashed by its files' contents: change one and the hash changes; the same content
    /// registered twice says so.
    @Test func folderHashFollowsContentAndDuplicatesAreNamed() throws {
        let source = "../shared/data/visium-10x-mini"
        guard FileManager.default.fileExists(atPath: source) else {
            print("skipped: ../shared/data/visium-10x-mini is absent (the real datasets live beside the checkout)")
            return
        }
        let root = RealDaemon.tempRoot("folderhash")
        let copy = root + "/visium"
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
        for item in ["filtered_feature_bc_matrix.h5", "spatial"] { try FileManager.default.copyItem(atPath: source + "/" + item, toPath: copy + "/" + item) }
        let d = try RealDaemon(root: root + "/data")
        defer { d.stop() }
        try Self.project(d)
        let (st1, first, t1) = try Self.register(d, copy, name: "a")
        #expect(st1 == 201, "\(t1.prefix(300))")
        let (st2, second, _) = try Self.register(d, copy, name: "b")
        #expect(st2 == 201 && second["contentHash"] as? String == first["contentHash"] as? String)
        #expect(second["sameContentAs"] as? [String] == ["a"], "the same content registered twice is named: \(second["sameContentAs"] ?? "nil")")
        // Change a file inside: a whitespace change in the scale factors keeps it readable.
        let sf = copy + "/spatial/scalefactors_json.json"
        if FileManager.default.fileExists(atPath: sf) {
            try (try String(contentsOfFile: sf, encoding: .utf8) + " ").write(toFile: sf, atomically: true, encoding: .utf8)
            let (st3, third, _) = try Self.register(d, copy, name: "c")
            #expect(st3 == 201 && third["contentHash"] as? String != first["contentHash"] as? String, "a changed file changes the folder's hash")
        }
    }

    /// `kill -9` of the daemon in the middle of a registration (its child still reading a 3 GB file): a restart
    /// on the same root is not blocked, stores nothing half-done, and the store passes `integrity_check`.
    @Test func killNineMidRegistration() throws {
        let root = RealDaemon.tempRoot("killmid")
        let sparse = root + "/huge.csv"
        let fd = open(sparse, O_CREAT | O_WRONLY, 0o644)
        #expect(ftruncate(fd, 3 << 30) == 0)
        close(fd)
        let d = try RealDaemon(root: root + "/data", config: ["registerMemoryMB": 1024])
        try Self.project(d)
        let port = d.port
        Thread.detachNewThread {   // the request that never gets its answer
            let body = #"{"path": "\#(sparse)", "name": "huge"}"#
            _ = try? TestHTTP.exchange(Data("POST /api/projects/p/datasets HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)".utf8), port: port, timeout: 30)
        }
        Thread.sleep(forTimeInterval: 0.4)
        d.kill9()
        let again = try RealDaemon(root: root + "/data")
        defer { again.stop() }
        let (st, list) = try again.send("GET", "/api/projects/p/datasets")
        #expect(st == 200 && list == "[]", "nothing half-registered: \(list)")
        again.stop()
        #expect(try ProjectStore(path: root + "/data/tessera.sqlite").integrityCheck() == "ok")
    }

    /// A second daemon on the same root refuses to start and names the first one's PID.
    @Test func twoDaemonsOnOneRoot() throws {
        let root = RealDaemon.tempRoot("tworoots")
        let first = try RealDaemon(root: root)
        defer { first.stop() }
        let second = try RealDaemon(root: root, ready: false)
        defer { second.stop() }
        let status = second.exitStatus(within: 20)
        #expect(status != nil && status != 0, "the second daemon must exit")
        #expect(second.log.contains("another tesserad (PID \(first.pid))"), "\(second.log)")
        #expect(try first.send("GET", "/api/health").0 == 200)
        first.kill9()
        // SIGKILL drops the lock with the process: a restart is never blocked by a stale lock.
        let third = try RealDaemon(root: root)
        third.stop()
    }

    /// Damaged, emptied and newer databases are refused at start with what to do.
    @Test func damagedEmptiedAndNewerDatabasesAreRefused() throws {
        let root = RealDaemon.tempRoot("damaged")
        var d = try RealDaemon(root: root)
        for i in 0..<40 { try Self.project(d, "project-\(i)-" + String(repeating: "x", count: 100)) }
        try FileManager.default.createDirectory(atPath: root + "/jobs/0000-old-job", withIntermediateDirectories: true)
        d.stop()
        let db = root + "/tessera.sqlite"
        try Self.checkpoint(db)
        let pristine = try Data(contentsOf: URL(fileURLWithPath: db))
        #expect(pristine.count >= 3 * 4096)

        // Random bytes over page 2.
        var damaged = pristine
        var rng = SystemRandomNumberGenerator()
        for i in 4096..<8192 { damaged[i] = UInt8.random(in: 0...255, using: &rng) }
        try damaged.write(to: URL(fileURLWithPath: db))
        Self.removeWAL(db)
        d = try RealDaemon(root: root, ready: false)
        #expect(d.exitStatus(within: 20) == 2)
        #expect(d.log.contains("is damaged") || d.log.contains("not a readable SQLite database"), "\(d.log)")

        // An empty file (and a missing one) beside existing job folders.
        try Data().write(to: URL(fileURLWithPath: db))
        Self.removeWAL(db)
        d = try RealDaemon(root: root, ready: false)
        #expect(d.exitStatus(within: 20) == 2)
        #expect(d.log.contains("is empty but") && d.log.contains("1 job folder"), "\(d.log)")
        try FileManager.default.removeItem(atPath: db)
        d = try RealDaemon(root: root, ready: false)
        #expect(d.exitStatus(within: 20) == 2)
        #expect(d.log.contains("is missing but"), "\(d.log)")

        // A migration this version does not know.
        try pristine.write(to: URL(fileURLWithPath: db))
        Self.removeWAL(db)
        let store = try ProjectStore(path: db)
        try store.writer.write { try $0.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99: from the future')") }
        d = try RealDaemon(root: root, ready: false)
        #expect(d.exitStatus(within: 20) == 2)
        #expect(d.log.contains("newer tesserad") && d.log.contains("v99: from the future"), "\(d.log)")
        _ = store
    }
}

/// A full disk under the data root (a small tmpfs, where the test may mount one): the worker removes its
/// half-written checkpoint and fails once with the reason; the daemon answers writes with 507/503 instead of
/// 500, does not retry onto the full disk, does not flood its log, and recovers when space is freed.
@Suite(.serialized) struct DiskFullTests {
    @Test func fullDiskFailsTheJobOnceAndLeavesNoTemporaryFiles() throws {
        let mountPoint = RealDaemon.tempRoot("diskfull")
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/bin/mount")
        mount.arguments = ["-t", "tmpfs", "-o", "size=48m", "tmpfs", mountPoint]
        mount.standardError = FileHandle.nullDevice; mount.standardOutput = FileHandle.nullDevice
        guard (try? mount.run()) != nil, ({ mount.waitUntilExit(); return mount.terminationStatus == 0 })() else {
            print("skipped: cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN); the disk-full case was not run")
            return
        }
        defer {
            RealDaemon.killWorkers(under: mountPoint)
            let u = Process(); u.executableURL = URL(fileURLWithPath: "/bin/umount"); u.arguments = ["-l", mountPoint]
            try? u.run(); u.waitUntilExit()
        }
        let outside = RealDaemon.tempRoot("diskfull-data")
        var c = SimulationConfig.tiny
        c.cells = 600; c.referenceCells = 100
        try H5ADWriter.write(TissueSimulator.simulate(c).spatial, to: outside + "/tissue.h5ad")
        let d = try RealDaemon(root: mountPoint + "/root")
        defer { d.stop(); RealDaemon.killWorkers(under: mountPoint) }
        #expect(try d.send("POST", "/api/projects", json: #"{"name": "p"}"#).0 == 201)
        #expect(try d.send("POST", "/api/projects/p/datasets", json: #"{"path": "\#(outside)/tissue.h5ad", "name": "tissue"}"#).0 == 201)
        let (st, sub) = try d.send("POST", "/api/jobs", json: #"{"project": "p", "workflow": "pretrain", "inputs": {"spatial": "tissue"}, "parameters": {"preset": "tiny", "steps": 1000000, "checkpoint_every": 5}}"#)
        #expect(st == 201, "\(sub)")
        let job = try #require((jsonObject(sub)["job"] as? [String: Any])?["id"] as? String)
        let folder = mountPoint + "/root/jobs/" + job
        // Wait for the first checkpoint, then fill the disk.
        var end = Date().addingTimeInterval(60)
        while Date() < end, ((try? FileManager.default.contentsOfDirectory(atPath: folder + "/checkpoints")) ?? []).isEmpty {
            Thread.sleep(forTimeInterval: 0.1)
        }
        let filler = FileHandle(forWritingAtPath: { FileManager.default.createFile(atPath: mountPoint + "/filler", contents: nil); return mountPoint + "/filler" }())!
        let block = Data(count: 1 << 16)
        while (try? filler.write(contentsOf: block)) != nil {}
        try? filler.close()
        // While the disk is full, a write answers 507 or 503 with the reason, never 500.
        let (wst, wbody) = try d.send("POST", "/api/projects", json: #"{"name": "while-full-\#(String(repeating: "x", count: 3000))"}"#)
        #expect([201, 422, 503, 507].contains(wst), "a write on a full disk → \(wst) \(wbody.prefix(200))")
        end = Date().addingTimeInterval(90)
        while Date() < end, !FileManager.default.fileExists(atPath: folder + "/exit.json") { Thread.sleep(forTimeInterval: 0.1) }
        let exit = (try? String(contentsOfFile: folder + "/exit.json", encoding: .utf8)) ?? ""
        #expect(exit.contains("no space left on device"), "exit.json: \(exit)")
        try FileManager.default.removeItem(atPath: mountPoint + "/filler")
        end = Date().addingTimeInterval(30)
        var state = "", body = ""
        while Date() < end {
            (_, body) = try d.send("GET", "/api/jobs/\(job)")
            state = jsonObject(body)["state"] as? String ?? ""
            if ["failed", "succeeded", "cancelled"].contains(state) { break }
            Thread.sleep(forTimeInterval: 0.2)
        }
        let j = jsonObject(body)
        #expect(state == "failed" && j["attempts"] as? Int == 1, "\(body.prefix(400))")
        #expect((j["exitReason"] as? String ?? "").contains("no space left on device"))
        let leftovers = (FileManager.default.enumerator(atPath: mountPoint + "/root")?.allObjects as? [String] ?? []).filter { $0.contains(".tmp") }
        #expect(leftovers.isEmpty, "temporary files left: \(leftovers)")
        let schedulerLines = d.log.split(separator: "\n").filter { $0.contains("scheduler:") }.count
        #expect(schedulerLines <= 6, "the scheduler logged \(schedulerLines) lines: \(d.log.suffix(800))")
        #expect(try d.send("POST", "/api/projects", json: #"{"name": "after"}"#).0 == 201, "the daemon recovers once space is freed")
    }
}
