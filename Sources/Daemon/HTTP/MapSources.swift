import Foundation
import Render
import SpatialData
import Store
import Workflows

/// Where the map routes get their data: a registered dataset (`datasets/ID`) or a finished job's result
/// (`jobs/ID`: the job's `map.tmap` on top of the input dataset it describes). Loaded data and prepared maps are
/// kept in small in-memory LRU caches; every key includes the content hash, so a changed file is never served
/// from a stale entry.
final class MapSources: @unchecked Sendable {
    let service: DaemonService
    private let lock = NSLock()
    private var data: [(key: String, value: MapData)] = []
    private var maps: [(key: String, value: PreparedMap)] = []
    static let keepData = 3, keepMaps = 12

    /// A map ready for tiles: the drawn state plus its grid index and pyramid.
    struct PreparedMap: Sendable {
        let map: SpatialMap
        let index: GridIndex
        let summary: TileSummary?
        let pyramid: TilePyramid
        let colouring: MapColouring
        let cellIDs: [String]
    }

    /// A resolved source: its identity for cache keys and how to load it.
    struct Source: Sendable {
        let kind: String, id: String
        /// Content identity: the dataset's SHA-256, or the job id plus its map columns' hash.
        let hash: String
        let datasetPath: String
        let columns: URL?
    }

    init(service: DaemonService) { self.service = service }

    /// Resolves `kind` ("datasets" or "jobs") and `id` to a source, or a 404/409 naming the fix.
    func source(kind: String, id: String) throws -> Source {
        switch kind {
        case "datasets":
            let d = try service.store.dataset(id)
            return Source(kind: kind, id: d.id, hash: d.contentHash, datasetPath: d.path, columns: nil)
        case "jobs":
            let j = try service.store.job(matching: id)
            guard j.state == .succeeded else {
                throw APIError(status: .conflict, code: "not_ready", message: "job \(j.id) is \(j.state.rawValue); maps of a job exist once it has succeeded (GET /api/maps/datasets/ID/… draws its input now)")
            }
            let url = service.queue.folder(j.id).url.appendingPathComponent("artifacts/map.tmap")
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw APIError(status: .notFound, code: "no_map", message: "job \(j.id) (\(j.workflow)) stored no map columns; jobs of embed, impute and cluster-supcon from this version do")
            }
            let inputs = (try? JSONDecoder().decode([String: String].self, from: Data(j.inputs.utf8))) ?? [:]
            let attrs = try? FileManager.default.attributesOfItem(atPath: url.path)
            let cells = try MapColumns.read(url).cells
            for role in inputs.keys.sorted() {
                guard let d = try? service.store.dataset(inputs[role]!), d.cells == cells else { continue }
                let stamp = "\(attrs?[.size] ?? 0)-\((attrs?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)"
                return Source(kind: kind, id: j.id, hash: SHA256.hex(j.id + d.contentHash + stamp), datasetPath: d.path, columns: url)
            }
            throw APIError(status: .notFound, code: "no_map", message: "job \(j.id): none of its input datasets has the \(cells) cells of its map columns")
        default:
            throw APIError(status: .notFound, code: "not_found", message: "maps are of datasets or jobs: /api/maps/datasets/ID/… or /api/maps/jobs/ID/…")
        }
    }

    /// The source's data, read once and kept while recently used.
    func data(_ s: Source) throws -> MapData {
        let key = s.kind + s.id + s.hash
        if let d = cached(&data, key) { return d }
        let ds = try DatasetReader.read(path: s.datasetPath)
        let d = try MapData(dataset: ds, extra: try s.columns.map { try MapColumns.read($0) })
        store(&data, key, d, keep: Self.keepData)
        return d
    }

    /// The prepared map for a request (colouring, basis, FOV and style), kept while recently used.
    func prepared(_ s: Source, _ r: MapRequest) throws -> PreparedMap {
        let key = s.kind + s.id + s.hash + r.dataKey
        if let m = cached(&maps, key) { return m }
        let d = try data(s)
        var positions = try d.positions(basis: r.basis)
        var colouring = try d.colouring(color: r.color, gene: r.gene, layer: r.layer, asCategories: r.asCategories)
        var ids = d.dataset.cellIDs
        if let fov = r.fov {
            let groups = d.dataset.fov ?? d.dataset.sample
            guard let code = groups.categories.firstIndex(of: fov) else {
                throw APIError(status: .unprocessableContent, code: "invalid_query",
                               message: "fov: '\(fov)' is not a FOV or sample here; choose one of \(groups.categories.prefix(20).joined(separator: ", "))")
            }
            let rows = (0..<groups.count).filter { groups.codes[$0] == Int32(code) }
            if rows.isEmpty { throw RenderError.noCells(what: "FOV '\(fov)'") }
            positions = CellPositions(x: rows.map { positions.x[$0] }, y: rows.map { positions.y[$0] }, note: positions.note)
            switch colouring {
            case .categories(let k, let c, let n, let col): colouring = .categories(key: k, codes: rows.map { c[$0] }, names: n, colours: col)
            case .values(let k, let v): colouring = .values(key: k, values: rows.map { v[$0] })
            }
            ids = rows.map { ids[$0] }
        }
        let map = try SpatialMap(positions: positions, colouring: colouring, style: r.style)
        let pyramid = map.pyramid
        let m = PreparedMap(map: map, index: GridIndex(map), summary: TileSummary(map, pyramid: pyramid), pyramid: pyramid, colouring: colouring, cellIDs: ids)
        store(&maps, key, m, keep: Self.keepMaps)
        return m
    }

    private func cached<T>(_ list: inout [(key: String, value: T)], _ key: String) -> T? {
        lock.lock(); defer { lock.unlock() }
        guard let i = list.firstIndex(where: { $0.key == key }) else { return nil }
        let e = list.remove(at: i); list.append(e)
        return e.value
    }

    private func store<T>(_ list: inout [(key: String, value: T)], _ key: String, _ value: T, keep: Int) {
        lock.lock(); defer { lock.unlock() }
        list.removeAll { $0.key == key }
        list.append((key, value))
        if list.count > keep { list.removeFirst(list.count - keep) }
    }
}
