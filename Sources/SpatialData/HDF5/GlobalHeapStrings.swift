import CHDF5
import Foundation

/// A reader of variable-length string datasets straight from the file's bytes, for the layout h5py and
/// anndata write by default: a contiguous, unfiltered dataset of 16-byte references (UInt32 length,
/// UInt64 global-heap collection address, UInt32 object index) into "GCOL" collections (HDF5 format spec,
/// "Global Heap"). Every offset and length is checked against the file and the collection before use, so
/// damaged bytes give a `.corrupt` error, never a crash; and it is several times faster than libhdf5's
/// per-string path, which matters for a million cell ids. Other layouts go through `H5Dread`.
enum GlobalHeapStrings {
    /// The reference array's extent when the dataset has the plain layout (the HDF5 lock held), else nil.
    static func extent(_ d: H5Dataset) -> (offset: UInt64, count: Int)? {
        guard d.isString, H5Tis_variable_str(d.fileType) > 0, d.shape.count <= 1 else { return nil }
        let dcpl = H5Dget_create_plist(d.id); defer { H5Pclose(dcpl) }
        let fcpl = H5Fget_create_plist(d.file.id); defer { H5Pclose(fcpl) }
        var sizeofAddr = 0, sizeofSize = 0
        guard H5Pget_layout(dcpl) == H5D_CONTIGUOUS, H5Pget_nfilters(dcpl) == 0,
              H5Pget_sizes(fcpl, &sizeofAddr, &sizeofSize) >= 0, sizeofAddr == 8, sizeofSize == 8 else { _ = hdf5ErrorMessage(); return nil }
        let n = d.count
        let offset = H5Dget_offset(d.id)
        guard n > 0, offset != haddr_t.max, Int(H5Dget_storage_size(d.id)) == n * 16 else { _ = hdf5ErrorMessage(); return nil }
        return (UInt64(offset), n)
    }

    /// The strings, or nil when the dataset does not have the plain layout.
    static func read(_ d: H5Dataset) throws -> [String]? {
        guard let (offset, n) = withHDF5({ extent(d) }) else { return nil }
        let path = d.file.path
        func corrupt(_ what: String) -> ImportError {
            ImportError(.corrupt, file: path, field: d.path, problem: "its string storage is damaged (\(what))",
                        fix: "the file is damaged or truncated; copy it again from its source")
        }
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw corrupt("the file cannot be reopened") }
        defer { close(fd) }
        let fileSize = Int(lseek(fd, 0, SEEK_END))
        func bytes(_ at: UInt64, _ count: Int) throws -> [UInt8] {
            guard count >= 0, at <= UInt64(fileSize), Int(at) + count <= fileSize else { throw corrupt("a read past the end of the file") }
            var out = [UInt8](repeating: 0, count: count)
            var done = 0
            while done < count {
                let r = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(at) + off_t(done)) }
                guard r > 0 else { throw corrupt("a short read") }
                done += r
            }
            return out
        }
        let refs = try bytes(offset, n * 16)
        // Collections, parsed once each: object index → byte range inside the collection. Strings are
        // written in order, so consecutive references almost always share the last collection used.
        final class Collection {
            let data: [UInt8]
            var objects: [Range<Int>?] = []
            init(_ data: [UInt8]) { self.data = data }
        }
        var collections: [UInt64: Collection] = [:]
        func collection(_ addr: UInt64) throws -> Collection {
            if let c = collections[addr] { return c }
            let head = try bytes(addr, 16)
            guard head[0] == 0x47, head[1] == 0x43, head[2] == 0x4F, head[3] == 0x4C, head[4] == 1 else {
                throw corrupt("no global heap collection at address \(addr)")
            }
            let size = head.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self).littleEndian }
            guard size >= 16, size <= 1 << 31 else { throw corrupt("a collection of \(size) bytes") }
            let c = Collection(try bytes(addr, Int(size)))
            try c.data.withUnsafeBytes { raw in
                var p = 16
                while p + 16 <= raw.count {
                    let index = Int(raw.loadUnaligned(fromByteOffset: p, as: UInt16.self).littleEndian)
                    let length = raw.loadUnaligned(fromByteOffset: p + 8, as: UInt64.self).littleEndian
                    if index == 0 { break }   // free space: the rest of the collection
                    guard length <= UInt64(raw.count - p - 16) else { throw corrupt("object \(index) overruns its collection") }
                    if index >= c.objects.count { c.objects += [Range<Int>?](repeating: nil, count: index + 1 - c.objects.count) }
                    c.objects[index] = (p + 16)..<(p + 16 + Int(length))
                    p += 16 + (Int(length) + 7) / 8 * 8
                }
            }
            collections[addr] = c
            return c
        }
        var out = [String](); out.reserveCapacity(n)
        var lastAddr = UInt64.max
        var last: Collection? = nil
        try refs.withUnsafeBytes { raw in
            for i in 0..<n {
                let length = Int(raw.loadUnaligned(fromByteOffset: i * 16, as: UInt32.self).littleEndian)
                if length == 0 { out.append(""); continue }
                let addr = raw.loadUnaligned(fromByteOffset: i * 16 + 4, as: UInt64.self).littleEndian
                let index = Int(raw.loadUnaligned(fromByteOffset: i * 16 + 12, as: UInt32.self).littleEndian)
                if addr != lastAddr { last = try collection(addr); lastAddr = addr }
                let c = last!
                guard index < c.objects.count, let r = c.objects[index], r.count >= length else {
                    throw corrupt("string \(i) points to a missing heap object")
                }
                out.append(c.data.withUnsafeBufferPointer {
                    String(decoding: UnsafeBufferPointer(rebasing: $0[r.lowerBound..<r.lowerBound + length]), as: UTF8.self)
                })
            }
        }
        return out
    }
}
