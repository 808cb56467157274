import CHDF5
import Foundation

/// Decoder for h5py's LZF compression filter (HDF5 filter id 32000). anndata 0.7 wrote h5ad files with
/// `compression="lzf"`; Debian's libhdf5 does not ship the filter, so we register our own decoder.
/// The format is liblzf's: a control byte < 32 starts a literal run of ctrl+1 bytes; otherwise the top three
/// bits are a match length (7 = length continues in the next byte) and the rest plus the next byte a
/// backwards offset into the output.
enum LZFFilter {
    static let id: H5Z_filter_t = 32000

    /// Decompresses `input` into `output`; returns the number of bytes written, or nil when the stream is
    /// malformed or the output does not fit.
    static func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int? {
        var ip = 0, op = 0
        let inEnd = input.count, outEnd = output.count
        while ip < inEnd {
            var ctrl = Int(input[ip]); ip += 1
            if ctrl < 32 {
                ctrl += 1
                guard op + ctrl <= outEnd, ip + ctrl <= inEnd else { return nil }
                for k in 0..<ctrl { output[op + k] = input[ip + k] }
                op += ctrl; ip += ctrl
            } else {
                var len = ctrl >> 5
                var ref = op - ((ctrl & 0x1f) << 8) - 1
                if len == 7 { guard ip < inEnd else { return nil }; len += Int(input[ip]); ip += 1 }
                guard ip < inEnd else { return nil }
                ref -= Int(input[ip]); ip += 1
                len += 2
                guard op + len <= outEnd, ref >= 0 else { return nil }
                // Byte by byte: the source may overlap the bytes being written (run-length style).
                for _ in 0..<len { output[op] = output[ref]; op += 1; ref += 1 }
            }
        }
        return op
    }

    /// Registers the decoder with libhdf5 once per process (idempotent; call with the HDF5 lock held).
    static let register: Void = {
        let callback: H5Z_func_t = { flags, cdNelmts, cdValues, nbytes, bufSize, buf in
            guard let buf, let bufSize, let input = buf.pointee else { return 0 }
            // Compression is never requested: we only write uncompressed files.
            if flags & UInt32(H5Z_FLAG_REVERSE) == 0 { return 0 }
            // h5py stores the uncompressed chunk size in cd_values[2]; fall back to growing the buffer.
            var outSize = (cdNelmts >= 3 && cdValues != nil && cdValues![2] != 0) ? Int(cdValues![2]) : max(nbytes * 4, 1024)
            for _ in 0..<8 {
                guard let out = malloc(outSize) else { return 0 }
                let n = LZFFilter.decompress(UnsafeRawBufferPointer(start: input, count: nbytes),
                                             into: UnsafeMutableRawBufferPointer(start: out, count: outSize))
                if let n {
                    free(input)
                    buf.pointee = out
                    bufSize.pointee = outSize
                    return n
                }
                free(out)
                if cdNelmts >= 3 && cdValues != nil && cdValues![2] != 0 && outSize >= Int(cdValues![2]) * 2 { break }
                outSize *= 2
            }
            return 0  // malformed stream: HDF5 reports a read error, which we turn into a typed error
        }
        var cls = H5Z_class2_t(version: 1, id: LZFFilter.id, encoder_present: 0, decoder_present: 1,
                               name: UnsafePointer(strdup("lzf (tessera decoder)")), can_apply: nil, set_local: nil, filter: callback)
        if H5Zfilter_avail(LZFFilter.id) <= 0 { H5Zregister(&cls) }
    }()
}
