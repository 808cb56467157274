import CHDF5
import Foundation

/// String and compound-field reads (called with the HDF5 lock held).
enum H5Strings {
    /// Decodes `n` fixed-size, NUL-padded strings from a byte buffer.
    static func decodeFixed(_ bytes: UnsafeRawBufferPointer, size: Int, count n: Int) -> [String] {
        var out = [String](); out.reserveCapacity(n)
        for i in 0..<n {
            let start = i * size
            var end = start
            while end < start + size && bytes[end] != 0 { end += 1 }
            out.append(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self))
        }
        return out
    }

    /// Reads a variable-length string dataset through libhdf5 and hands `body` the C strings (nil for
    /// a null entry); libhdf5's buffers are reclaimed afterwards. The file's character set is kept.
    static func withVariableStrings<R>(_ d: H5Dataset, _ body: ([UnsafeMutablePointer<CChar>?]) -> R) throws -> R {
        let n = d.count
        let mem = H5Tcopy(tsr_t_c_s1()); defer { H5Tclose(mem) }
        H5Tset_cset(mem, H5Tget_cset(d.fileType))
        H5Tset_size(mem, tsr_t_variable())
        var ptrs = [UnsafeMutablePointer<CChar>?](repeating: nil, count: n)
        guard n == 0 || H5Dread(d.id, mem, tsr_s_all(), tsr_s_all(), tsr_p_default(), &ptrs) >= 0 else {
            throw d.fail(.corrupt, "its strings cannot be read (\(hdf5ErrorMessage()))", fix: "the file is damaged; copy it again from its source")
        }
        let out = body(ptrs)
        let space = H5Dget_space(d.id); defer { H5Sclose(space) }
        if n > 0 { H5Dvlen_reclaim(mem, space, tsr_p_default(), &ptrs) }
        return out
    }

    /// Reads a whole string dataset, variable or fixed length.
    static func read(dataset d: H5Dataset) throws -> [String] {
        let n = d.count
        if n == 0 { return [] }
        if H5Tis_variable_str(d.fileType) > 0 {
            return try withVariableStrings(d) { ptrs in ptrs.map { p in p.map { String(cString: $0) } ?? "" } }
        }
        let size = H5Tget_size(d.fileType)
        guard size > 0 && size < 1 << 20 else { throw d.fail(.corrupt, "has an implausible string size \(size)", fix: "the file is damaged") }
        let mem = H5Tcopy(tsr_t_c_s1()); defer { H5Tclose(mem) }
        H5Tset_cset(mem, H5Tget_cset(d.fileType))
        H5Tset_size(mem, size)
        H5Tset_strpad(mem, H5T_STR_NULLPAD)
        var bytes = [UInt8](repeating: 0, count: n * size)
        guard H5Dread(d.id, mem, tsr_s_all(), tsr_s_all(), tsr_p_default(), &bytes) >= 0 else {
            throw d.fail(.corrupt, "its strings cannot be read (\(hdf5ErrorMessage()))", fix: "the file is damaged; copy it again from its source")
        }
        return bytes.withUnsafeBytes { decodeFixed($0, size: size, count: n) }
    }

    /// Reads a variable-length string dataset as NUL-terminated strings back to back, without building
    /// Swift strings (the HDF5 probe hands these bytes to the reading process).
    static func readVariableBytes(_ d: H5Dataset) throws -> [UInt8] {
        try withVariableStrings(d) { ptrs in
            var out = [UInt8](); out.reserveCapacity(ptrs.count * 16)
            for p in ptrs {
                if let p { out.append(contentsOf: UnsafeRawBufferPointer(start: p, count: strlen(p))) }
                out.append(0)
            }
            return out
        }
    }

    /// The member names and classes of a compound dataset (pre-0.7 anndata obs/var tables).
    static func compoundMembers(_ d: H5Dataset) -> [(name: String, typeClass: H5T_class_t, size: Int)] {
        withHDF5 {
            guard d.isCompound else { return [] }
            let n = H5Tget_nmembers(d.fileType)
            var out: [(String, H5T_class_t, Int)] = []
            for i in 0..<max(n, 0) {
                guard let cname = H5Tget_member_name(d.fileType, UInt32(i)) else { continue }
                let name = String(cString: cname)
                H5free_memory(cname)
                let mt = H5Tget_member_type(d.fileType, UInt32(i)); defer { H5Tclose(mt) }
                out.append((name, H5Tget_member_class(d.fileType, UInt32(i)), Int(H5Tget_size(mt))))
            }
            return out
        }
    }

    /// Reads one numeric member of a compound dataset as Double.
    static func readCompoundNumbers(_ d: H5Dataset, member: String) throws -> [Double] {
        try withHDF5 {
            try d.checkPlausible(bytesPerElement: 8)
            let n = d.count
            let mem = H5Tcreate(H5T_COMPOUND, 8); defer { H5Tclose(mem) }
            H5Tinsert(mem, member, 0, tsr_t_native_double())
            var out = [Double](repeating: 0, count: n)
            if n > 0 && H5Dread(d.id, mem, tsr_s_all(), tsr_s_all(), tsr_p_default(), &out) < 0 {
                throw d.fail(.corrupt, "member '\(member)' cannot be read (\(hdf5ErrorMessage()))", fix: "the file is damaged; copy it again")
            }
            return out
        }
    }

    /// Reads one fixed-length string member of a compound dataset.
    static func readCompoundStrings(_ d: H5Dataset, member: String, size: Int) throws -> [String] {
        try withHDF5 {
            try d.checkPlausible(bytesPerElement: size)
            let n = d.count
            let idx = H5Tget_member_index(d.fileType, member)
            let ft = idx >= 0 ? H5Tget_member_type(d.fileType, UInt32(idx)) : -1
            defer { if ft >= 0 { H5Tclose(ft) } }
            if ft >= 0 && H5Tis_variable_str(ft) > 0 {
                // Variable-length string member (h5py object columns of record arrays).
                let vs = H5Group.vlenStringType(); defer { H5Tclose(vs) }
                let mem = H5Tcreate(H5T_COMPOUND, MemoryLayout<UnsafeMutablePointer<CChar>?>.size); defer { H5Tclose(mem) }
                H5Tinsert(mem, member, 0, vs)
                var ptrs = [UnsafeMutablePointer<CChar>?](repeating: nil, count: n)
                if n > 0 && H5Dread(d.id, mem, tsr_s_all(), tsr_s_all(), tsr_p_default(), &ptrs) < 0 {
                    throw d.fail(.corrupt, "member '\(member)' cannot be read (\(hdf5ErrorMessage()))", fix: "the file is damaged; copy it again")
                }
                let out = ptrs.map { $0.map { String(cString: $0) } ?? "" }
                let space = H5Dget_space(d.id); defer { H5Sclose(space) }
                H5Dvlen_reclaim(mem, space, tsr_p_default(), &ptrs)
                return out
            }
            let st = H5Tcopy(tsr_t_c_s1()); defer { H5Tclose(st) }
            H5Tset_size(st, size); H5Tset_strpad(st, H5T_STR_NULLPAD)
            let mem = H5Tcreate(H5T_COMPOUND, size); defer { H5Tclose(mem) }
            H5Tinsert(mem, member, 0, st)
            var bytes = [UInt8](repeating: 0, count: n * size)
            if n > 0 && H5Dread(d.id, mem, tsr_s_all(), tsr_s_all(), tsr_p_default(), &bytes) < 0 {
                throw d.fail(.corrupt, "member '\(member)' cannot be read (\(hdf5ErrorMessage()))", fix: "the file is damaged; copy it again")
            }
            return bytes.withUnsafeBytes { decodeFixed($0, size: size, count: n) }
        }
    }
}

/// Attribute reads shared by groups and datasets. Missing or unreadable attributes read as nil.
enum H5Attributes {
    static func has(objectID: hid_t, _ name: String) -> Bool {
        withHDF5 {
            let r = H5Aexists(objectID, name)
            if r < 0 { _ = hdf5ErrorMessage() }
            return r > 0
        }
    }

    static func names(objectID: hid_t) -> [String] {
        withHDF5 {
            var info = H5O_info_t()
            guard H5Oget_info2(objectID, &info, UInt32(H5O_INFO_NUM_ATTRS)) >= 0 else { _ = hdf5ErrorMessage(); return [] }
            var out: [String] = []
            for i in 0..<info.num_attrs {
                var buf = [CChar](repeating: 0, count: 256)
                if H5Aget_name_by_idx(objectID, ".", H5_INDEX_CRT_ORDER, H5_ITER_INC, i, &buf, 256, tsr_p_default()) < 0 {
                    if H5Aget_name_by_idx(objectID, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buf, 256, tsr_p_default()) < 0 { _ = hdf5ErrorMessage(); continue }
                }
                out.append(String(nulTerminated: buf))
            }
            return out
        }
    }

    /// Opens attribute `name`, runs `body(attr, type, count)`, closes everything.
    private static func withAttribute<T>(_ objectID: hid_t, _ name: String, _ body: (hid_t, hid_t, Int) -> T?) -> T? {
        withHDF5 {
            guard H5Aexists(objectID, name) > 0 else { _ = hdf5ErrorMessage(); return nil }
            let attr = H5Aopen(objectID, name, tsr_p_default())
            guard attr >= 0 else { _ = hdf5ErrorMessage(); return nil }
            defer { H5Aclose(attr) }
            let t = H5Aget_type(attr); defer { H5Tclose(t) }
            let space = H5Aget_space(attr); defer { H5Sclose(space) }
            let n = Int(H5Sget_simple_extent_npoints(space))
            guard n >= 0 && n < 10_000_000 else { return nil }
            return body(attr, t, n)
        }
    }

    /// String attribute values (scalar → one element). Numeric attributes are formatted as text.
    static func strings(file: H5File, objectID: hid_t, path: String, _ name: String) -> [String]? {
        withAttribute(objectID, name) { attr, t, n in
            let cls = H5Tget_class(t)
            if cls == H5T_INTEGER || cls == H5T_FLOAT {
                var v = [Double](repeating: 0, count: n)
                guard n == 0 || H5Aread(attr, tsr_t_native_double(), &v) >= 0 else { _ = hdf5ErrorMessage(); return nil }
                return cls == H5T_INTEGER ? v.map { String(Int64(saturating: $0)) } : (n == 0 ? [] : v.map { String($0) })
            }
            guard cls == H5T_STRING else { return nil }
            if n == 0 { return [] }
            let mem = H5Tcopy(tsr_t_c_s1()); defer { H5Tclose(mem) }
            H5Tset_cset(mem, H5Tget_cset(t))
            if H5Tis_variable_str(t) > 0 {
                H5Tset_size(mem, tsr_t_variable())
                var ptrs = [UnsafeMutablePointer<CChar>?](repeating: nil, count: n)
                guard H5Aread(attr, mem, &ptrs) >= 0 else { _ = hdf5ErrorMessage(); return nil }
                let out = ptrs.map { $0.map { String(cString: $0) } ?? "" }
                let space = H5Aget_space(attr); defer { H5Sclose(space) }
                H5Dvlen_reclaim(mem, space, tsr_p_default(), &ptrs)
                return out
            }
            let size = H5Tget_size(t)
            guard size > 0 && size < 1 << 20 else { return nil }
            H5Tset_size(mem, size); H5Tset_strpad(mem, H5T_STR_NULLPAD)
            var bytes = [UInt8](repeating: 0, count: n * size)
            guard H5Aread(attr, mem, &bytes) >= 0 else { _ = hdf5ErrorMessage(); return nil }
            return bytes.withUnsafeBytes { H5Strings.decodeFixed($0, size: size, count: n) }
        }
    }

    /// Integer attribute values; h5py bools (an 8-bit enum) read as 0/1.
    static func ints(objectID: hid_t, _ name: String) -> [Int64]? {
        withAttribute(objectID, name) { attr, t, n in
            let cls = H5Tget_class(t)
            if cls == H5T_ENUM && H5Tget_size(t) == 1 {
                let mem = H5Tget_native_type(t, H5T_DIR_ASCEND); defer { H5Tclose(mem) }
                var b = [Int8](repeating: 0, count: n)
                guard n == 0 || H5Aread(attr, mem, &b) >= 0 else { _ = hdf5ErrorMessage(); return nil }
                return b.map { Int64($0) }
            }
            guard cls == H5T_INTEGER || cls == H5T_FLOAT else { return nil }
            var v = [Int64](repeating: 0, count: n)
            guard n == 0 || H5Aread(attr, tsr_t_native_int64(), &v) >= 0 else { _ = hdf5ErrorMessage(); return nil }
            return v
        }
    }
}
