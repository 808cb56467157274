import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Render
import Testing

/// The viewer in a real browser: Debian's headless Chromium against a real `tesserad` (token on) with a finished
/// cluster-supcon job on simulated tissue. Chromium runs each page to completion (`--virtual-time-budget`) and
/// dumps the DOM or a screenshot; the pages record what they drew (painted pixels and a hash of the tile pixels
/// per panel, computed in the browser from the decoded tiles) as data attributes. Checked: the project page lists
/// the job; the map's tiles load and are not blank; the legend lists the cluster names with the counts the API
/// reports; colouring by a gene changes the pixels; the UMAP panel is drawn; the URL state round-trips; no
/// JavaScript error reaches the page or the console; a screenshot shows colour in both panels.
@Suite(.serialized) struct ViewerBrowserTests {
    /// A port the kernel hands out as free now (bind to port 0, read it back).
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET); addr.sin_port = 0; addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    static let token = "viewer-test-token-0123456789"

    static func chromium() -> String? {
        if let c = ProcessInfo.processInfo.environment["TESSERA_CHROMIUM"] { return c }
        for c in ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"] where FileManager.default.isExecutableFile(atPath: c) { return c }
        return nil
    }
    static let leaflet = FileManager.default.fileExists(atPath: "/usr/share/javascript/leaflet/leaflet.js")

    static func binary(_ name: String) throws -> String {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for c in [dir.appendingPathComponent(name).path, dir.deletingLastPathComponent().appendingPathComponent(name).path, ".build/debug/\(name)"]
        where FileManager.default.isExecutableFile(atPath: c) { return c }
        throw Failure("\(name) is not built next to the tests; run `swift build --build-tests` first")
    }

    struct Failure: Error, CustomStringConvertible { let description: String; init(_ d: String) { description = d } }

    @discardableResult
    static func run(_ exe: String, _ args: [String], env: [String: String] = [:], timeout: Double = 120) throws -> (out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe); p.arguments = args
        p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        // Output goes to files: a pipe that fills up would stall the child.
        let tmp = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("viewer-run-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: tmp.path + ".out", contents: nil); FileManager.default.createFile(atPath: tmp.path + ".err", contents: nil)
        defer { try? FileManager.default.removeItem(atPath: tmp.path + ".out"); try? FileManager.default.removeItem(atPath: tmp.path + ".err") }
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: tmp.path + ".out"))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: tmp.path + ".err"))
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(50_000) }
        if p.isRunning { p.terminate(); throw Failure("\(exe) \(args.joined(separator: " ")) timed out after \(timeout) s") }
        let o = (try? Data(contentsOf: URL(fileURLWithPath: tmp.path + ".out"))) ?? Data()
        let e = (try? Data(contentsOf: URL(fileURLWithPath: tmp.path + ".err"))) ?? Data()
        let (so, se) = (String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
        guard p.terminationStatus == 0 else { throw Failure("\(exe) \(args.joined(separator: " ")) exited \(p.terminationStatus): \(se.suffix(1500))") }
        return (so, se)
    }

    /// Chromium's profile for this test process (removed at the end of the test).
    static let profile = NSTemporaryDirectory() + "tessera-chromium-\(getpid())"

    /// A page loaded to completion: its DOM, and the browser's console lines.
    static func page(_ chromium: String, _ url: String, screenshot: String? = nil) throws -> (dom: String, console: [String]) {
        var args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1400,900",
                    "--virtual-time-budget=20000", "--enable-logging=stderr", "--v=0", "--user-data-dir=" + profile]
        args.append(screenshot.map { "--screenshot=" + $0 } ?? "--dump-dom")
        args.append(url)
        let r = try run(chromium, args, timeout: 90)
        return (r.out, r.err.split(separator: "\n").map(String.init).filter { $0.contains("CONSOLE") })
    }

    /// `name="value"` of the element with `id`, from a dumped DOM.
    static func attribute(_ dom: String, id: String, _ name: String) -> String? {
        guard let r = dom.range(of: "id=\"\(id)\"") else { return nil }
        let tagStart = dom[..<r.lowerBound].lastIndex(of: "<")!, tagEnd = dom[r.lowerBound...].firstIndex(of: ">")!
        let tag = dom[tagStart..<tagEnd]
        guard let a = tag.range(of: " \(name)=\"") else { return nil }
        return String(tag[a.upperBound...].prefix { $0 != "\"" })
    }
    static func bodyAttribute(_ dom: String, _ name: String) -> String? {
        guard let b = dom.range(of: "<body") else { return nil }
        let tag = dom[b.lowerBound..<dom[b.lowerBound...].firstIndex(of: ">")!]
        guard let a = tag.range(of: " \(name)=\"") else { return nil }
        return String(tag[a.upperBound...].prefix { $0 != "\"" })
    }

    @Test(.enabled(if: chromium() != nil && leaflet, "Chromium or Debian's libjs-leaflet is not installed (scripts/setup --test-venv installs both): skipped"))
    func viewerInHeadlessChromium() throws {
        let chrome = Self.chromium()!
        let tessera = try Self.binary("tessera"), tesserad = try Self.binary("tesserad")
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("viewer-test-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: dir); try? FileManager.default.removeItem(atPath: Self.profile) }
        try Self.run(tessera, ["simulate", "--cells", "1500", "--genes", "120", "--fovs", "2", "--seed", "3", "--out", dir.appendingPathComponent("sim").path])

        // A real daemon on a free port, with a token.
        let port = Self.freePort()   // not derived from the PID: suites of other targets run in the same process
        let d = Process()
        d.executableURL = URL(fileURLWithPath: tesserad)
        d.arguments = ["serve", "--root", dir.appendingPathComponent("root").path, "--port", String(port),
                       "--web-static", FileManager.default.currentDirectoryPath + "/web-static"]
        d.environment = ProcessInfo.processInfo.environment.merging(["TESSERAD_TOKEN": Self.token]) { $1 }   // never on the command line
        d.standardOutput = FileHandle.nullDevice; d.standardError = FileHandle.nullDevice
        try d.run()
        defer { d.terminate(); d.waitUntilExit() }
        let base = "http://127.0.0.1:\(port)"
        let env = ["TESSERA_URL": base, "TESSERA_TOKEN": Self.token]
        var up = false
        for _ in 0..<100 where !up { usleep(100_000); up = (try? Self.run(tessera, ["project", "list"], env: env)) != nil }
        guard up else { throw Failure("tesserad did not start on port \(port)") }
        try Self.run(tessera, ["project", "create", "viewer"], env: env)
        try Self.run(tessera, ["dataset", "add", dir.appendingPathComponent("sim/spatial.h5ad").path, "--project", "viewer", "--name", "tissue"], env: env)
        let submitted = try Self.run(tessera, ["submit", FileManager.default.currentDirectoryPath + "/workflows/cluster-supcon.json", "--project", "viewer",
                                              "--dataset", "data=tissue", "--set", "label_column=cell_type", "--set", "steps=5", "--set", "pretrain_steps=5",
                                              "--set", "preset=tiny", "--quiet"], env: env).out
        let job = submitted.trimmingCharacters(in: .whitespacesAndNewlines)
        try Self.run(tessera, ["logs", job, "--follow"], env: env, timeout: 180)
        let status = try Self.run(tessera, ["status", job], env: env).out
        #expect(status.contains("succeeded"))
        let projects = try Self.run(tessera, ["project", "list", "--json"], env: env).out
        let project = try #require((try JSONSerialization.jsonObject(with: Data(projects.utf8)) as? [[String: Any]])?.first?["id"] as? String)
        let hash = "#token=" + Self.token

        // The project page lists the job.
        let proj = try Self.page(chrome, "\(base)/project.html?project=\(project)\(hash)")
        #expect(Self.bodyAttribute(proj.dom, "data-loaded") == "1")
        #expect(proj.dom.contains("data-job=\"\(job)\""))
        #expect(proj.dom.contains("cluster-supcon") && proj.dom.contains("succeeded"))
        #expect(!proj.dom.contains("id=\"errors\""))
        // Without the token (a new browser, nothing in sessionStorage): a red line saying how to give it, in the
        // browser's terms (the #token= fragment), not the CLI's.
        let bare = try Self.page(chrome, "\(base)/project.html?project=\(project)")
        #expect(bare.dom.contains("id=\"errors\"") && bare.dom.contains("requires a token: add #token="), "\(bare.dom.prefix(600))")
        #expect(!bare.dom.contains("--token-file"))

        // The map view: tissue by k-means clusters (k = the class count, so never one cluster) beside the UMAP, at a given zoom and centre.
        let state = "src=jobs/\(job)&p1=spatial:color:kmeans&p2=X_umap:color:kmeans&z=1&x=900.0&y=500.0"
        let map = try Self.page(chrome, "\(base)/map.html?\(state)\(hash)")
        #expect(!map.dom.contains("id=\"errors\""), "page error: \(map.dom.components(separatedBy: "id=\"errors\"").dropFirst().first?.prefix(300) ?? "")")
        #expect(Self.bodyAttribute(map.dom, "data-ready") == "1")
        #expect(Self.bodyAttribute(map.dom, "data-state")?.replacingOccurrences(of: "&amp;", with: "&") == state)   // the URL state round-trips
        let painted0 = Int(Self.attribute(map.dom, id: "panel0", "data-painted") ?? "") ?? 0
        let painted1 = Int(Self.attribute(map.dom, id: "panel1", "data-painted") ?? "") ?? 0
        #expect(painted0 > 2_000, "tissue panel painted \(painted0) pixels")
        #expect(painted1 > 2_000, "UMAP panel painted \(painted1) pixels")
        #expect(Self.attribute(map.dom, id: "panel0", "data-scale")?.contains("µm") == true)
        // The legend lists every cluster with the count the API reports.
        let legend = try Self.run("/usr/bin/curl", ["-sf", "-H", "Authorization: Bearer \(Self.token)", "\(base)/api/maps/jobs/\(job)/legend?color=kmeans"]).out
        let cats = (((try JSONSerialization.jsonObject(with: Data(legend.utf8)) as? [String: Any])?["legend"] as? [String: Any])?["categories"] as? [[String: Any]]) ?? []
        #expect(cats.count >= 2)
        for c in cats {
            let row = "<span class=\"name\">\(c["name"]!)</span><span class=\"count\">\(c["count"]!)</span>"
            #expect(map.dom.contains(row), "legend row \(row) missing")
        }

        // A hidden category (what a click on its legend row does, here from the URL): struck out in the legend,
        // fewer pixels drawn in the same view.
        let hidden = try Self.page(chrome, "\(base)/map.html?src=jobs/\(job)&p1=spatial:color:kmeans&h1=0&z=1&x=900.0&y=500.0\(hash)")
        #expect(hidden.dom.contains("class=\"row off\" data-code=\"0\""))
        let paintedHidden = Int(Self.attribute(hidden.dom, id: "panel0", "data-painted") ?? "") ?? 0
        #expect(paintedHidden > 0 && paintedHidden < painted0, "hiding cluster 0: \(paintedHidden) of \(painted0) pixels")
        #expect(Self.bodyAttribute(hidden.dom, "data-state")?.contains("h1=0") == true)

        // Colouring by a gene changes the pixels.
        let gene = try Self.run("/usr/bin/curl", ["-sf", "-H", "Authorization: Bearer \(Self.token)", "\(base)/api/maps/jobs/\(job)/keys"]).out
        let genes = ((try JSONSerialization.jsonObject(with: Data(gene.utf8)) as? [String: Any])?["genes"] as? [String]) ?? []
        let g = try #require(genes.first)
        let byGene = try Self.page(chrome, "\(base)/map.html?src=jobs/\(job)&p1=spatial:gene:\(g)&z=1&x=900.0&y=500.0\(hash)")
        #expect(!byGene.dom.contains("id=\"errors\""))
        let hash0 = Self.attribute(map.dom, id: "panel0", "data-hash"), hashGene = Self.attribute(byGene.dom, id: "panel0", "data-hash")
        #expect(hash0 != nil && hashGene != nil && hash0 != hashGene)
        #expect((Int(Self.attribute(byGene.dom, id: "panel0", "data-painted") ?? "") ?? 0) > 2_000)
        #expect(byGene.dom.contains("viridis"))

        // One FOV of the two: a map of its cells only (framed to it), and the FOV stays in the URL.
        let fovs = ((try JSONSerialization.jsonObject(with: Data(gene.utf8)) as? [String: Any])?["fovs"] as? [String]) ?? []
        #expect(fovs.count == 2)
        let oneFOV = try Self.page(chrome, "\(base)/map.html?src=jobs/\(job)&p1=spatial:color:kmeans&fov=\(fovs[0])\(hash)")
        let paintedFOV = Int(Self.attribute(oneFOV.dom, id: "panel0", "data-painted") ?? "") ?? 0
        #expect(paintedFOV > 2_000, "one FOV painted \(paintedFOV)")
        let cellsShown = oneFOV.dom.components(separatedBy: "</b> · ").dropFirst().first.flatMap { Int($0.prefix { $0.isNumber }) } ?? 0
        #expect(cellsShown > 0 && cellsShown < 1500, "the FOV's legend counts \(cellsShown) cells of 1,500")
        #expect(Self.bodyAttribute(oneFOV.dom, "data-state")?.contains("fov=\(fovs[0])") == true)

        // No JavaScript error or failed request reached the console.
        for line in proj.console + map.console + byGene.console + oneFOV.console + hidden.console {
            #expect(!(line.contains("Uncaught") || line.contains("Failed to load") || line.lowercased().contains("error")), "console: \(line)")
        }

        // A screenshot of the two panels shows colour in each half.
        let shot = dir.appendingPathComponent("shot.png").path
        _ = try Self.page(chrome, "\(base)/map.html?\(state)\(hash)", screenshot: shot)
        let img = try PNGDecoder.rgba(Array(try Data(contentsOf: URL(fileURLWithPath: shot))))
        var coloured = [0, 0]
        for y in 120..<(img.height - 120) { for x in 0..<img.width {
            let i = 4 * (y * img.width + x), r = Int(img.pixels[i]), gg = Int(img.pixels[i + 1]), b = Int(img.pixels[i + 2])
            if max(r, gg, b) - min(r, gg, b) > 60 { coloured[x < img.width / 2 ? 0 : 1] += 1 }
        } }
        #expect(coloured[0] > 2_000 && coloured[1] > 2_000, "coloured pixels per half: \(coloured)")
    }
}
