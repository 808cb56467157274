import CHDF5
import Foundation

/// An attribute value as anndata writes them.
public enum H5AttributeValue: Sendable {
    case string(String)       // scalar variable-length UTF-8
    case strings([String])    // 1-D variable-length UTF-8
    case bool(Bool)           // h5py bool (8-bit enum FALSE/TRUE)
    case ints([Int64])        // 1-D int64
}

/// Writing groups, datasets and attributes, in the layouts h5py produces so anndata reads them natively.
extension H5Group {
    func writeError(_ name: String, _ what: String) -> ImportError {
        ImportError(.unreadable, file: file.path, field: childPath(name), problem: "cannot write \(what) (\(hdf5ErrorMessage()))",
                    fix: "check free disk space and that the output folder is writable")
    }

    @discardableResult
    public func createGroup(_ name: String, attributes: [(String, H5AttributeValue)] = []) throws -> H5Group {
        try withHDF5 {
            let gid = H5Gcreate2(id, name, tsr_p_default(), tsr_p_default(), tsr_p_default())
            guard gid >= 0 else { throw writeError(name, "group") }
            let g = H5Group(file: file, id: gid, path: childPath(name))
            for (k, v) in attributes { try H5Group.setAttribute(gid, k, v, error: writeError(name, "attribute \(k)")) }
            return g
        }
    }

    public func setAttribute(_ name: String, _ value: H5AttributeValue) throws {
        try withHDF5 { try H5Group.setAttribute(id, name, value, error: writeError(path, "attribute \(name)")) }
    }

    /// Writes a 1-D or 2-D numeric dataset. `fileType` is the on-disk type (e.g. little-endian float32).
    public func writeNumbers<T>(_ name: String, _ values: [T], shape: [Int]? = nil, memType: hid_t, fileType: hid_t,
                                attributes: [(String, H5AttributeValue)] = []) throws {
        let dims = (shape ?? [values.count]).map { hsize_t($0) }
        try withHDF5 {
            let space = H5Screate_simple(Int32(dims.count), dims, nil); defer { H5Sclose(space) }
            let did = H5Dcreate2(id, name, fileType, space, tsr_p_default(), tsr_p_default(), tsr_p_default())
            guard did >= 0 else { throw writeError(name, "dataset") }
            defer { H5Dclose(did) }
            if !values.isEmpty {
                let st = values.withUnsafeBytes { H5Dwrite(did, memType, tsr_s_all(), tsr_s_all(), tsr_p_default(), $0.baseAddress) }
                guard st >= 0 else { throw writeError(name, "values") }
            }
            for (k, v) in attributes { try H5Group.setAttribute(did, k, v, error: writeError(name, "attribute \(k)")) }
        }
    }

    public func writeFloats(_ name: String, _ v: [Float], shape: [Int]? = nil, attributes: [(String, H5AttributeValue)] = []) throws {
        try writeNumbers(name, v, shape: shape, memType: tsr_t_native_float(), fileType: tsr_t_ieee_f32le(), attributes: attributes)
    }
    public func writeDoubles(_ name: String, _ v: [Double], shape: [Int]? = nil, attributes: [(String, H5AttributeValue)] = []) throws {
        try writeNumbers(name, v, shape: shape, memType: tsr_t_native_double(), fileType: tsr_t_ieee_f64le(), attributes: attributes)
    }
    public func writeInt32s(_ name: String, _ v: [Int32], attributes: [(String, H5AttributeValue)] = []) throws {
        try writeNumbers(name, v, memType: tsr_t_native_int32(), fileType: tsr_t_std_i32le(), attributes: attributes)
    }
    public func writeInt64s(_ name: String, _ v: [Int64], attributes: [(String, H5AttributeValue)] = []) throws {
        try writeNumbers(name, v, memType: tsr_t_native_int64(), fileType: tsr_t_std_i64le(), attributes: attributes)
    }
    public func writeInt8s(_ name: String, _ v: [Int8], attributes: [(String, H5AttributeValue)] = []) throws {
        try writeNumbers(name, v, memType: tsr_t_native_int8(), fileType: tsr_t_std_i8le(), attributes: attributes)
    }

    /// Writes booleans as h5py does (an 8-bit enum with members FALSE = 0, TRUE = 1).
    public func writeBools(_ name: String, _ v: [Bool], attributes: [(String, H5AttributeValue)] = []) throws {
        let bytes = v.map { Int8($0 ? 1 : 0) }
        let t = withHDF5 { H5Group.boolType() }
        defer { withHDF5 { _ = H5Tclose(t) } }
        try writeNumbers(name, bytes, memType: t, fileType: t, attributes: attributes)
    }

    /// Writes a 1-D variable-length UTF-8 string dataset (anndata's string-array).
    public func writeStrings(_ name: String, _ v: [String], attributes: [(String, H5AttributeValue)] = []) throws {
        try withHDF5 {
            let t = H5Group.vlenStringType(); defer { H5Tclose(t) }
            var dims = [hsize_t(v.count)]
            let space = H5Screate_simple(1, &dims, nil); defer { H5Sclose(space) }
            let did = H5Dcreate2(id, name, t, space, tsr_p_default(), tsr_p_default(), tsr_p_default())
            guard did >= 0 else { throw writeError(name, "dataset") }
            defer { H5Dclose(did) }
            if !v.isEmpty {
                let st = H5Group.withCStrings(v) { ptrs in H5Dwrite(did, t, tsr_s_all(), tsr_s_all(), tsr_p_default(), ptrs) }
                guard st >= 0 else { throw writeError(name, "strings") }
            }
            for (k, a) in attributes { try H5Group.setAttribute(did, k, a, error: writeError(name, "attribute \(k)")) }
        }
    }

    // MARK: helpers (HDF5 lock held)

    static func vlenStringType() -> hid_t {
        let t = H5Tcopy(tsr_t_c_s1())
        H5Tset_size(t, tsr_t_variable())
        H5Tset_cset(t, H5T_CSET_UTF8)
        return t
    }

    static func boolType() -> hid_t {
        let t = H5Tenum_create(tsr_t_native_int8())
        var f: Int8 = 0, tr: Int8 = 1
        H5Tenum_insert(t, "FALSE", &f)
        H5Tenum_insert(t, "TRUE", &tr)
        return t
    }

    /// Calls `body` with a C array of NUL-terminated UTF-8 copies of `strings`.
    static func withCStrings<R>(_ strings: [String], _ body: (UnsafeRawPointer) -> R) -> R {
        var total = 0
        for s in strings { total += s.utf8.count + 1 }
        let storage = UnsafeMutablePointer<CChar>.allocate(capacity: max(total, 1))
        defer { storage.deallocate() }
        var ptrs = [UnsafePointer<CChar>?](); ptrs.reserveCapacity(strings.count)
        var offset = 0
        for s in strings {
            let start = storage + offset
            for b in s.utf8 { storage[offset] = CChar(bitPattern: b); offset += 1 }
            storage[offset] = 0; offset += 1
            ptrs.append(UnsafePointer(start))
        }
        return ptrs.withUnsafeBytes { body($0.baseAddress!) }
    }

    static func setAttribute(_ obj: hid_t, _ name: String, _ value: H5AttributeValue, error: @autoclosure () -> ImportError) throws {
        if H5Aexists(obj, name) > 0 { H5Adelete(obj, name) }
        var st: herr_t = -1
        switch value {
        case .string(let s):
            let t = vlenStringType(); defer { H5Tclose(t) }
            let space = H5Screate(H5S_SCALAR); defer { H5Sclose(space) }
            let a = H5Acreate2(obj, name, t, space, tsr_p_default(), tsr_p_default())
            guard a >= 0 else { throw error() }
            defer { H5Aclose(a) }
            st = withCStrings([s]) { H5Awrite(a, t, $0) }
        case .strings(let v):
            let t = vlenStringType(); defer { H5Tclose(t) }
            var dims = [hsize_t(v.count)]
            let space = H5Screate_simple(1, &dims, nil); defer { H5Sclose(space) }
            let a = H5Acreate2(obj, name, t, space, tsr_p_default(), tsr_p_default())
            guard a >= 0 else { throw error() }
            defer { H5Aclose(a) }
            st = v.isEmpty ? 0 : withCStrings(v) { H5Awrite(a, t, $0) }
        case .bool(let b):
            let t = boolType(); defer { H5Tclose(t) }
            let space = H5Screate(H5S_SCALAR); defer { H5Sclose(space) }
            let a = H5Acreate2(obj, name, t, space, tsr_p_default(), tsr_p_default())
            guard a >= 0 else { throw error() }
            defer { H5Aclose(a) }
            var v: Int8 = b ? 1 : 0
            st = H5Awrite(a, t, &v)
        case .ints(let v):
            var dims = [hsize_t(v.count)]
            let space = H5Screate_simple(1, &dims, nil); defer { H5Sclose(space) }
            let a = H5Acreate2(obj, name, tsr_t_std_i64le(), space, tsr_p_default(), tsr_p_default())
            guard a >= 0 else { throw error() }
            defer { H5Aclose(a) }
            st = v.withUnsafeBytes { H5Awrite(a, tsr_t_native_int64(), $0.baseAddress) }
        }
        if st < 0 { throw error() }
    }
}

extension H5File {
    /// Flushes everything to disk (call before renaming a finished file into place).
    public func flush() { withHDF5 { _ = H5Fflush(id, H5F_SCOPE_GLOBAL) } }
}

extension H5Group {
    /// Writes a 0-d variable-length UTF-8 string (anndata's `string` scalar).
    public func writeScalarString(_ name: String, _ value: String, attributes: [(String, H5AttributeValue)] = []) throws {
        try withHDF5 {
            let t = H5Group.vlenStringType(); defer { H5Tclose(t) }
            let space = H5Screate(H5S_SCALAR); defer { H5Sclose(space) }
            let did = H5Dcreate2(id, name, t, space, tsr_p_default(), tsr_p_default(), tsr_p_default())
            guard did >= 0 else { throw writeError(name, "dataset") }
            defer { H5Dclose(did) }
            let st = H5Group.withCStrings([value]) { H5Dwrite(did, t, tsr_s_all(), tsr_s_all(), tsr_p_default(), $0) }
            guard st >= 0 else { throw writeError(name, "string") }
            for (k, a) in attributes { try H5Group.setAttribute(did, k, a, error: writeError(name, "attribute \(k)")) }
        }
    }

    /// Writes a 0-d float64 (anndata's `numeric-scalar`).
    public func writeScalarDouble(_ name: String, _ value: Double, attributes: [(String, H5AttributeValue)] = []) throws {
        try withHDF5 {
            let space = H5Screate(H5S_SCALAR); defer { H5Sclose(space) }
            let did = H5Dcreate2(id, name, tsr_t_ieee_f64le(), space, tsr_p_default(), tsr_p_default(), tsr_p_default())
            guard did >= 0 else { throw writeError(name, "dataset") }
            defer { H5Dclose(did) }
            var v = value
            guard H5Dwrite(did, tsr_t_native_double(), tsr_s_all(), tsr_s_all(), tsr_p_default(), &v) >= 0 else { throw writeError(name, "value") }
            for (k, a) in attributes { try H5Group.setAttribute(did, k, a, error: writeError(name, "attribute \(k)")) }
        }
    }
}

extension H5File {
    /// Opens an existing file for in-place edits (tests that damage files on purpose use it).
    public static func openForEditing(_ path: String) throws -> H5File {
        try withHDF5 {
            tsr_silence_errors()
            let fid = H5Fopen(path, tsr_f_acc_rdwr(), tsr_fapl_close_strong())
            guard fid >= 0 else {
                throw ImportError(.unreadable, file: path, field: "", problem: "cannot open for writing (\(hdf5ErrorMessage()))", fix: "check permissions")
            }
            return H5File(id: fid, path: path)
        }
    }
}

extension H5Group {
    /// Removes a link (a dataset or group) from this group.
    public func delete(_ name: String) throws {
        try withHDF5 {
            guard H5Ldelete(id, name, tsr_p_default()) >= 0 else { throw writeError(name, "deletion") }
        }
    }
}
