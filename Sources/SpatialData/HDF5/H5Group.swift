import CHDF5
import Foundation

/// What a name in a group refers to.
public enum H5ObjectKind: Sendable { case group, dataset, other }

/// A group (or the file root) of an open HDF5 file. Paths are relative to the file root.
public final class H5Group: @unchecked Sendable {
    public let file: H5File
    let ownedID: hid_t
    public let path: String

    init(file: H5File, id: hid_t, path: String) { self.file = file; self.ownedID = id; self.path = path }

    /// The id used for calls: the file id for the root.
    var id: hid_t { ownedID < 0 ? file.id : ownedID }

    deinit { if ownedID >= 0 { withHDF5 { _ = H5Gclose(ownedID) } } }

    func childPath(_ name: String) -> String { path == "/" ? "/" + name : path + "/" + name }

    /// The kind of the object at relative path `name`, nil when absent.
    public func kind(of name: String) -> H5ObjectKind? {
        withHDF5 {
            // Check each path component's link, so a missing intermediate group is "absent", not an error.
            var prefix = ""
            for part in name.split(separator: "/") {
                prefix = prefix.isEmpty ? String(part) : prefix + "/" + part
                if H5Lexists(id, prefix, tsr_p_default()) <= 0 { _ = hdf5ErrorMessage(); return nil }
            }
            var info = H5O_info_t()
            if H5Oget_info_by_name2(id, name, &info, UInt32(H5O_INFO_BASIC), tsr_p_default()) < 0 {
                _ = hdf5ErrorMessage(); return nil
            }
            switch info.type {
            case H5O_TYPE_GROUP: return .group
            case H5O_TYPE_DATASET: return .dataset
            default: return .other
            }
        }
    }

    public func has(_ name: String) -> Bool { kind(of: name) != nil }

    /// Names of the direct children, in name order.
    public func children() -> [String] {
        withHDF5 {
            var info = H5G_info_t()
            guard H5Gget_info(id, &info) >= 0 else { _ = hdf5ErrorMessage(); return [] }
            var names: [String] = []
            for i in 0..<info.nlinks {
                let len = H5Lget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, i, nil, 0, tsr_p_default())
                guard len >= 0 else { _ = hdf5ErrorMessage(); continue }
                var buf = [CChar](repeating: 0, count: Int(len) + 1)
                _ = H5Lget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buf, Int(len) + 1, tsr_p_default())
                names.append(String(nulTerminated: buf))
            }
            return names
        }
    }

    public func group(_ name: String) throws -> H5Group {
        try withHDF5 {
            let gid = H5Gopen2(id, name, tsr_p_default())
            if gid < 0 {
                throw ImportError(.missingField, file: file.path, field: childPath(name),
                                  problem: "the group cannot be opened (\(hdf5ErrorMessage()))",
                                  fix: "check that the file is complete and of the expected format")
            }
            return H5Group(file: file, id: gid, path: childPath(name))
        }
    }

    public func dataset(_ name: String) throws -> H5Dataset {
        try withHDF5 {
            let did = H5Dopen2(id, name, tsr_p_default())
            if did < 0 {
                throw ImportError(.missingField, file: file.path, field: childPath(name),
                                  problem: "the dataset cannot be opened (\(hdf5ErrorMessage()))",
                                  fix: "check that the file is complete and of the expected format")
            }
            return try H5Dataset(file: file, id: did, path: childPath(name))
        }
    }

    // MARK: attributes

    public func hasAttribute(_ name: String) -> Bool { H5Attributes.has(objectID: id, name) }
    public func stringAttribute(_ name: String) -> String? { H5Attributes.strings(file: file, objectID: id, path: path, name)?.first }
    public func stringsAttribute(_ name: String) -> [String]? { H5Attributes.strings(file: file, objectID: id, path: path, name) }
    public func intsAttribute(_ name: String) -> [Int64]? { H5Attributes.ints(objectID: id, name) }
    public func attributeNames() -> [String] { H5Attributes.names(objectID: id) }

    /// anndata's element type, e.g. "csr_matrix", "dataframe"; nil for legacy elements without one.
    public var encodingType: String? { stringAttribute("encoding-type") }
}
