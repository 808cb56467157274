import CHDF5
import Foundation

/// An HDF5 dataset with typed, checked reads. Every read converts to the requested native type (HDF5 does
/// the conversion) and refuses element types that cannot mean what the caller asked for.
public final class H5Dataset: @unchecked Sendable {
    public let file: H5File
    let id: hid_t
    public let path: String
    public let shape: [Int]
    let fileType: hid_t
    let typeClass: H5T_class_t

    init(file: H5File, id: hid_t, path: String) throws {
        self.file = file; self.id = id; self.path = path
        let space = H5Dget_space(id)
        defer { if space >= 0 { H5Sclose(space) } }
        let rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1
        fileType = H5Dget_type(id)
        typeClass = fileType >= 0 ? H5Tget_class(fileType) : H5T_NO_CLASS
        if rank < 0 || fileType < 0 || rank > 32 {
            let msg = hdf5ErrorMessage()
            shape = []
            if fileType >= 0 { H5Tclose(fileType) }
            H5Dclose(id)
            throw ImportError(.corrupt, file: file.path, field: path, problem: "the dataset header is unreadable (\(msg))",
                              fix: "the file is damaged; copy it again from its source")
        }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        H5Sget_simple_extent_dims(space, &dims, nil)
        shape = dims.map { Int(clamping: $0) }
    }

    deinit { withHDF5 { H5Tclose(fileType); H5Dclose(id) } }

    /// Number of elements (1 for a scalar).
    public var count: Int { shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 } }
    public var isString: Bool { typeClass == H5T_STRING }
    public var isNumeric: Bool { typeClass == H5T_INTEGER || typeClass == H5T_FLOAT || isBoolEnum }
    public var isFloat: Bool { typeClass == H5T_FLOAT }
    public var isInteger: Bool { typeClass == H5T_INTEGER }
    public var isCompound: Bool { typeClass == H5T_COMPOUND }
    /// h5py stores numpy bools as an 8-bit enum {FALSE, TRUE}.
    public var isBoolEnum: Bool { typeClass == H5T_ENUM && withHDF5 { H5Tget_size(fileType) } == 1 }
    public var elementSize: Int { withHDF5 { Int(H5Tget_size(fileType)) } }
    public var isSignedInteger: Bool { withHDF5 { typeClass == H5T_INTEGER && H5Tget_sign(fileType) == H5T_SGN_2 } }

    func fail(_ kind: ImportError.Kind, _ problem: String, fix: String) -> ImportError {
        ImportError(kind, file: file.path, field: path, problem: problem, fix: fix)
    }

    /// Refuses sizes a corrupt header might claim: more elements than the file could hold (allowing for
    /// compression) or than this machine's memory.
    func checkPlausible(bytesPerElement: Int) throws {
        try checkFilters()
        let n = count
        let need = n.multipliedReportingOverflow(by: bytesPerElement)
        let memory = Int(clamping: ProcessInfo.processInfo.physicalMemory)
        if need.overflow || need.partialValue > memory {
            throw fail(.corrupt, "claims \(shape) elements, more than this machine's memory could hold",
                       fix: "the file is damaged, or too large for this machine")
        }
        let storage = Int(clamping: withHDF5 { H5Dget_storage_size(id) })
        let fileSize = (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? Int.max
        let stored = Int(withHDF5 { H5Tget_size(fileType) }).multipliedReportingOverflow(by: n)
        if stored.overflow { throw fail(.corrupt, "claims \(shape) elements, more than any file holds", fix: "the file is damaged") }
        let storedBytes = stored.partialValue
        // Compressed data rarely shrinks more than ~1000x; a contiguous dataset must fit in the file.
        if storage > fileSize || (storage == 0 && n > 0 && !isChunked && storedBytes > fileSize) {
            throw fail(.corrupt, "its storage (\(storage) bytes) does not fit in the file (\(fileSize) bytes)",
                       fix: "the file is truncated or damaged; copy it again from its source")
        }
        if storedBytes / 1000 > max(fileSize, 1 << 20) {
            throw fail(.corrupt, "claims \(shape) elements, far more than a \(fileSize)-byte file can hold",
                       fix: "the file is truncated or damaged; copy it again from its source")
        }
    }

    /// Refuses data compressed with a filter this libhdf5 lacks (e.g. Blosc or Zstd from hdf5plugin),
    /// naming the filter, instead of failing later with HDF5's generic read error.
    func checkFilters() throws {
        let missing: String? = withHDF5 {
            let dcpl = H5Dget_create_plist(id); defer { H5Pclose(dcpl) }
            let n = H5Pget_nfilters(dcpl)
            for i in 0..<max(n, 0) {
                var flags: UInt32 = 0, nelmts: Int = 8, config: UInt32 = 0
                var cd = [UInt32](repeating: 0, count: 8)
                var name = [CChar](repeating: 0, count: 128)
                let fid = H5Pget_filter2(dcpl, UInt32(i), &flags, &nelmts, &cd, 128, &name, &config)
                if fid >= 0 && H5Zfilter_avail(fid) <= 0 {
                    let label = String(nulTerminated: name)
                    return "\(label.isEmpty ? "unnamed" : label) (HDF5 filter id \(fid))"
                }
            }
            _ = hdf5ErrorMessage()
            return nil
        }
        if let missing {
            throw fail(.unsupported, "is compressed with \(missing), which this build's libhdf5 \(H5File.libraryVersion) does not provide",
                       fix: "rewrite the file with gzip or no compression, e.g. in Python: anndata.read_h5ad(path).write_h5ad(out, compression='gzip'), or `h5repack -f GZIP=4 in.h5ad out.h5ad`")
        }
    }

    var isChunked: Bool {
        withHDF5 {
            let dcpl = H5Dget_create_plist(id); defer { H5Pclose(dcpl) }
            return H5Pget_layout(dcpl) == H5D_CHUNKED
        }
    }

    /// Reads all elements converted to `memType` (a native HDF5 type matching `T`).
    func read<T>(_ memType: hid_t, as: T.Type) throws -> [T] {
        guard isNumeric else {
            throw fail(.invalidValue, "holds \(typeDescription) values where numbers are expected",
                       fix: "store this element as a numeric array")
        }
        try checkPlausible(bytesPerElement: MemoryLayout<T>.stride)
        let n = count
        if let fast = try readContiguous(memType, as: T.self) { return fast }
        return try withHDF5 {
            try [T](unsafeUninitializedCapacity: n) { buf, initialized in
                if n == 0 { initialized = 0; return }
                if H5Dread(id, memType, tsr_s_all(), tsr_s_all(), tsr_p_default(), buf.baseAddress) < 0 {
                    initialized = 0
                    throw fail(.corrupt, "its values cannot be read (\(hdf5ErrorMessage()))",
                               fix: "the file is truncated or damaged; copy it again from its source")
                }
                initialized = n
            }
        }
    }

    public func readFloats() throws -> [Float] { try read(tsr_t_native_float(), as: Float.self) }
    public func readDoubles() throws -> [Double] { try read(tsr_t_native_double(), as: Double.self) }
    public func readInt64s() throws -> [Int64] {
        if isBoolEnum { return try readBools().map { $0 ? 1 : 0 } }
        if isFloat { return try readDoubles().map { Int64(saturating: $0) } }
        return try read(tsr_t_native_int64(), as: Int64.self)
    }

    /// Reads an integer dataset as Int32, refusing values out of Int32 range.
    public func readInt32s() throws -> [Int32] {
        if isInteger && elementSize <= 4 && (isSignedInteger || elementSize < 4) {
            return try read(tsr_t_native_int32(), as: Int32.self)
        }
        let wide = try readInt64s()
        if let bad = wide.firstIndex(where: { $0 < Int64(Int32.min) || $0 > Int64(Int32.max) }) {
            throw fail(.invalidValue, "value \(wide[bad]) at position \(bad) does not fit a 32-bit index",
                       fix: "matrices wider than 2^31 columns are not supported")
        }
        return wide.map { Int32($0) }
    }

    /// Reads booleans from an h5py bool enum or any integer type (non-zero = true).
    public func readBools() throws -> [Bool] {
        if typeClass == H5T_ENUM {
            try checkPlausible(bytesPerElement: 1)
            let n = count
            let bytes: [Int8] = try withHDF5 {
                let mem = H5Tget_native_type(fileType, H5T_DIR_ASCEND); defer { H5Tclose(mem) }
                guard H5Tget_size(mem) == 1 else { throw fail(.invalidValue, "is an enum wider than one byte, not a boolean", fix: "store booleans as h5py bools") }
                return try [Int8](unsafeUninitializedCapacity: n) { buf, k in
                    k = 0
                    if n > 0 && H5Dread(id, mem, tsr_s_all(), tsr_s_all(), tsr_p_default(), buf.baseAddress) < 0 {
                        throw fail(.corrupt, "its values cannot be read (\(hdf5ErrorMessage()))", fix: "the file is damaged; copy it again")
                    }
                    k = n
                }
            }
            return bytes.map { $0 != 0 }
        }
        return try read(tsr_t_native_int64(), as: Int64.self).map { $0 != 0 }
    }

    /// Reads strings from variable- or fixed-length string datasets; numbers are formatted as text.
    public func readStrings() throws -> [String] {
        if isNumeric {
            if isFloat { return try readDoubles().map { $0 == $0.rounded() && abs($0) < 1e15 ? String(Int64($0)) : String($0) } }
            return try readInt64s().map { String($0) }
        }
        guard isString else {
            throw fail(.invalidValue, "holds \(typeDescription) values where strings are expected",
                       fix: "store this element as a string array")
        }
        try checkPlausible(bytesPerElement: 16)
        if let known = file.probedStrings[path], known.count == count { return known }
        if let fast = try GlobalHeapStrings.read(self) { return fast }
        return try withHDF5 { try H5Strings.read(dataset: self) }
    }

    public var typeDescription: String {
        withHDF5 {
            switch typeClass {
            case H5T_INTEGER: return "\(H5Tget_sign(fileType) == H5T_SGN_2 ? "int" : "uint")\(H5Tget_size(fileType) * 8)"
            case H5T_FLOAT: return "float\(H5Tget_size(fileType) * 8)"
            case H5T_STRING: return "string"
            case H5T_COMPOUND: return "compound"
            case H5T_REFERENCE: return "reference"
            case H5T_ENUM: return "enum"
            case H5T_OPAQUE: return "opaque"
            case H5T_ARRAY: return "array"
            case H5T_VLEN: return "vlen"
            default: return "unknown-type"
            }
        }
    }

    // MARK: attributes

    public func hasAttribute(_ name: String) -> Bool { H5Attributes.has(objectID: id, name) }
    public func stringAttribute(_ name: String) -> String? { H5Attributes.strings(file: file, objectID: id, path: path, name)?.first }
    public func stringsAttribute(_ name: String) -> [String]? { H5Attributes.strings(file: file, objectID: id, path: path, name) }
    public func intsAttribute(_ name: String) -> [Int64]? { H5Attributes.ints(objectID: id, name) }
    public var encodingType: String? { stringAttribute("encoding-type") }

    /// Follows an object-reference attribute (anndata 0.7 stores a categorical's categories this way).
    public func referencedDataset(attribute name: String) throws -> H5Dataset? {
        try withHDF5 {
            guard H5Aexists(id, name) > 0 else { _ = hdf5ErrorMessage(); return nil }
            let attr = H5Aopen(id, name, tsr_p_default()); defer { H5Aclose(attr) }
            let t = H5Aget_type(attr); defer { H5Tclose(t) }
            guard H5Tget_class(t) == H5T_REFERENCE else { return nil }
            var ref = hobj_ref_t()
            guard H5Aread(attr, tsr_t_std_ref_obj(), &ref) >= 0 else {
                throw fail(.corrupt, "its '\(name)' reference cannot be read (\(hdf5ErrorMessage()))", fix: "the file is damaged; copy it again")
            }
            let target = tsr_deref_object(id, &ref)
            guard target >= 0 else {
                throw fail(.corrupt, "its '\(name)' reference points nowhere (\(hdf5ErrorMessage()))", fix: "the file is damaged; copy it again")
            }
            guard H5Iget_type(target) == H5I_DATASET else {
                H5Oclose(target)
                throw fail(.corrupt, "its '\(name)' reference does not point to a dataset", fix: "the file is damaged; copy it again")
            }
            var buf = [CChar](repeating: 0, count: 1024)
            H5Iget_name(target, &buf, 1024)
            return try H5Dataset(file: file, id: target, path: String(nulTerminated: buf))
        }
    }
}
