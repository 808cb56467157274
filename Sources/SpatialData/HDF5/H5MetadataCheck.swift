import CHDF5
import Foundation

/// A walk over every object and attribute header of a file, decoding their datatypes, before any reader
/// trusts the file. It finds two kinds of trouble early and names them:
/// - header messages newer than this libhdf5 understands (files written with `libver='latest'` by the
///   HDF5 1.12+/2.x that h5py wheels bundle), reported as `.unsupported` with a fix;
/// - damaged headers (flipped bytes, truncation), reported as `.corrupt` with the object's path.
extension H5File {
    func checkMetadata() throws {
        final class Walk {
            var problems: [(path: String, message: String)] = []
            var visited = 0
        }
        let walk = Walk()
        let ctx = Unmanaged.passRetained(walk).toOpaque()
        defer { Unmanaged<Walk>.fromOpaque(ctx).release() }
        let status = H5Ovisit2(id, H5_INDEX_NAME, H5_ITER_NATIVE, { obj, name, info, data in
            guard let name, let info, let data else { return 0 }
            let w = Unmanaged<Walk>.fromOpaque(data).takeUnretainedValue()
            w.visited += 1
            // A damaged file can present an endless object graph; a real h5ad has hundreds of objects.
            if w.visited > 1_000_000 { w.problems.append(("/", "more than a million objects")); return 1 }
            let path = "/" + String(cString: name)
            let o = H5Oopen(obj, name, tsr_p_default())
            guard o >= 0 else { w.problems.append((path, hdf5ErrorMessage())); return 0 }
            defer { H5Oclose(o) }
            if info.pointee.type == H5O_TYPE_DATASET {
                let t = H5Dget_type(o)
                if t < 0 { w.problems.append((path, hdf5ErrorMessage())) } else { H5Tclose(t) }
            }
            for i in 0..<min(info.pointee.num_attrs, 10_000) {
                let a = H5Aopen_by_idx(o, ".", H5_INDEX_NAME, H5_ITER_NATIVE, i, tsr_p_default(), tsr_p_default())
                guard a >= 0 else { w.problems.append((path, hdf5ErrorMessage())); continue }
                let t = H5Aget_type(a)
                if t < 0 { w.problems.append((path, hdf5ErrorMessage())) } else { H5Tclose(t) }
                H5Aclose(a)
            }
            return 0
        }, ctx, UInt32(H5O_INFO_BASIC | H5O_INFO_NUM_ATTRS))
        if status < 0 && walk.problems.isEmpty { walk.problems.append(("/", hdf5ErrorMessage())) }
        _ = hdf5ErrorMessage()
        guard let first = walk.problems.first else { return }
        let all = walk.problems.map(\.message).joined(separator: " ")
        if all.contains("bad version number") || all.contains("version") && all.contains("not supported") {
            throw ImportError(.unsupported, file: path, field: first.path,
                              problem: "the file was written with HDF5 format features newer than this build's libhdf5 \(H5File.libraryVersion) can decode (\(first.message)); h5py does this with libver='latest'",
                              fix: "rewrite it with the default format: in Python, anndata.read_h5ad(path).write_h5ad(out) (h5py's default libver='earliest'), or `h5repack in.h5ad out.h5ad` with an HDF5 1.10-compatible h5repack")
        }
        throw ImportError(.corrupt, file: path, field: first.path,
                          problem: "the object's header is damaged (\(first.message))\(walk.problems.count > 1 ? " and \(walk.problems.count - 1) more" : "")",
                          fix: "the file is truncated or corrupt; copy it again from its source")
    }
}
