#!/usr/bin/env python3
"""Reader and writer for Tessera's tensor file format (``.tsr``), used for golden fixtures,
converted model weights and training checkpoints.

Layout (all integers little-endian):

    bytes 0..7       magic ASCII ``TESSTNSR``
    bytes 8..11      format version, uint32 = 1
    bytes 12..15     header length H, uint32
    bytes 16..16+H   header: UTF-8 JSON object
                     {"kind": "golden"|"weights"|"checkpoint", "config": object|null, "meta": object,
                      "tensors": [{"name", "dtype": "f32"|"i32"|"u64", "shape": [..],
                                   "offset", "nbytes"}, ...]}
    zero padding up to the data region, which starts at a multiple of 64 bytes from file start;
    each tensor's ``offset`` is counted from the start of the data region and is a multiple of 64;
    values are little-endian, row-major (C order); gaps between tensors are zero bytes.

Only numpy is needed (no torch), so the converter's output can be checked anywhere.

Command line: ``python scripts/tessera_tensors.py FILE.tsr [--meta] [--config]`` prints a summary.
"""
import argparse
import json
import os
import sys

import numpy as np

MAGIC = b"TESSTNSR"
VERSION = 1
ALIGN = 64
PREAMBLE = 16  # magic + version + header length
KINDS = ("golden", "weights", "checkpoint")
DTYPES = {"f32": np.dtype("<f4"), "i32": np.dtype("<i4"), "u64": np.dtype("<u8")}


class TensorFileError(ValueError):
    """Raised for a malformed tensor file or for data the format cannot hold."""


def align_up(n, align=ALIGN):
    """Smallest multiple of ``align`` that is >= n."""
    return (n + align - 1) // align * align


def dtype_code(arr):
    """Map a numpy array's dtype to the format's dtype code ('f32', 'i32' or 'u64')."""
    kind, size = arr.dtype.kind, arr.dtype.itemsize
    if kind == "f" and size == 4:
        return "f32"
    if kind == "i" and size == 4:
        return "i32"
    if kind == "u" and size == 8:
        return "u64"
    raise TensorFileError(f"dtype {arr.dtype} is not storable (only float32, int32, uint64); "
                          "cast it before writing")


def _plan(tensors):
    """Validate the tensors and compute each one's header entry (offsets relative to the data region)."""
    entries, arrays, offset, seen = [], [], 0, set()
    for name, arr in tensors:
        if not isinstance(name, str) or not name:
            raise TensorFileError(f"tensor name must be a non-empty string, got {name!r}")
        if name in seen:
            raise TensorFileError(f"duplicate tensor name {name!r}")
        seen.add(name)
        arr = np.asarray(arr)
        code = dtype_code(arr)
        arr = np.asarray(arr, dtype=DTYPES[code], order="C")  # keeps 0-d shapes
        offset = align_up(offset)
        entries.append({"name": name, "dtype": code, "shape": [int(s) for s in arr.shape],
                        "offset": offset, "nbytes": int(arr.nbytes)})
        arrays.append(arr)
        offset += arr.nbytes
    return entries, arrays


def encode_header(kind, config, meta, entries):
    """Serialise the JSON header (strict JSON: NaN/inf in config or meta are rejected)."""
    if kind not in KINDS:
        raise TensorFileError(f"kind must be one of {KINDS}, got {kind!r}")
    if config is not None and not isinstance(config, dict):
        raise TensorFileError("config must be a JSON object or None")
    header = {"kind": kind, "config": config, "meta": meta or {}, "tensors": entries}
    try:
        return json.dumps(header, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except ValueError as err:
        raise TensorFileError(f"header is not valid JSON: {err}") from err


def write_tensors(path, tensors, kind, config=None, meta=None):
    """Write ``tensors`` (a dict or an iterable of (name, array) pairs, in file order) to ``path``.

    The file is written next to its target and renamed into place. Returns the file size in bytes.
    """
    items = list(tensors.items()) if isinstance(tensors, dict) else list(tensors)
    entries, arrays = _plan(items)
    header = encode_header(kind, config, meta, entries)
    data_start = align_up(PREAMBLE + len(header))
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(MAGIC)
            f.write(np.uint32(VERSION).astype("<u4").tobytes())
            f.write(np.uint32(len(header)).astype("<u4").tobytes())
            f.write(header)
            f.write(b"\0" * (data_start - PREAMBLE - len(header)))
            pos = 0
            for entry, arr in zip(entries, arrays):
                f.write(b"\0" * (entry["offset"] - pos))
                f.write(memoryview(arr.reshape(-1)).cast("B"))
                pos = entry["offset"] + entry["nbytes"]
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return os.path.getsize(path)


def _check_entry(entry, data_size, path):
    """Validate one header tensor entry against the data region size."""
    name = entry.get("name")
    where = f"{path}: tensor {name!r}"
    if not isinstance(name, str) or not name:
        raise TensorFileError(f"{path}: tensor entry without a name: {entry!r}")
    if entry.get("dtype") not in DTYPES:
        raise TensorFileError(f"{where}: unknown dtype {entry.get('dtype')!r}")
    shape = entry.get("shape")
    if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
        raise TensorFileError(f"{where}: bad shape {shape!r}")
    expected = int(np.prod(shape, dtype=np.int64)) * DTYPES[entry["dtype"]].itemsize
    if entry.get("nbytes") != expected:
        raise TensorFileError(f"{where}: nbytes {entry.get('nbytes')} != {expected} for shape {shape}")
    offset = entry.get("offset")
    if not isinstance(offset, int) or offset < 0 or offset % ALIGN:
        raise TensorFileError(f"{where}: offset {offset!r} is not a non-negative multiple of {ALIGN}")
    if offset + expected > data_size:
        raise TensorFileError(f"{where}: data [{offset}, {offset + expected}) runs past the end of the file")


def read_header(path):
    """Read and validate the preamble and header. Returns (header dict, data region start)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        pre = f.read(PREAMBLE)
        if len(pre) < PREAMBLE or pre[:8] != MAGIC:
            raise TensorFileError(f"{path}: not a Tessera tensor file (bad magic)")
        version = int(np.frombuffer(pre[8:12], "<u4")[0])
        if version != VERSION:
            raise TensorFileError(f"{path}: format version {version} is not supported (expected {VERSION})")
        hlen = int(np.frombuffer(pre[12:16], "<u4")[0])
        if PREAMBLE + hlen > size:
            raise TensorFileError(f"{path}: header length {hlen} runs past the end of the file")
        try:
            header = json.loads(f.read(hlen).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise TensorFileError(f"{path}: header is not UTF-8 JSON: {err}") from err
    if not isinstance(header, dict):
        raise TensorFileError(f"{path}: header is not a JSON object")
    for key in ("kind", "config", "meta", "tensors"):
        if key not in header:
            raise TensorFileError(f"{path}: header lacks key {key!r}")
    if header["kind"] not in KINDS:
        raise TensorFileError(f"{path}: unknown kind {header['kind']!r}")
    data_start = align_up(PREAMBLE + hlen)
    names, spans = set(), []
    for entry in header["tensors"]:
        _check_entry(entry, size - data_start, path)
        if entry["name"] in names:
            raise TensorFileError(f"{path}: duplicate tensor name {entry['name']!r}")
        names.add(entry["name"])
        spans.append((entry["offset"], entry["offset"] + entry["nbytes"], entry["name"]))
    spans.sort()
    for (_, end, a), (start, _, b) in zip(spans, spans[1:]):
        if start < end:
            raise TensorFileError(f"{path}: tensors {a!r} and {b!r} overlap")
    return header, data_start


def read_tensors(path, names=None, mmap=False):
    """Read a tensor file. Returns (header, {name: numpy array}) in file order.

    ``names`` restricts which tensors are loaded; ``mmap=True`` returns read-only memory-mapped views.
    """
    header, data_start = read_header(path)
    wanted = None if names is None else set(names)
    if wanted is not None:
        missing = wanted - {e["name"] for e in header["tensors"]}
        if missing:
            raise TensorFileError(f"{path}: no tensor named {sorted(missing)}")
    out = {}
    if mmap:
        raw = np.memmap(path, dtype=np.uint8, mode="r")
    else:
        with open(path, "rb") as f:
            raw = np.frombuffer(f.read(), dtype=np.uint8)
    for entry in header["tensors"]:
        if wanted is not None and entry["name"] not in wanted:
            continue
        start = data_start + entry["offset"]
        buf = raw[start:start + entry["nbytes"]]
        out[entry["name"]] = buf.view(DTYPES[entry["dtype"]]).reshape(entry["shape"])
    return header, out


def summarize(path, show_meta=False, show_config=False, stream=sys.stdout):
    """Print a human-readable summary of a tensor file."""
    header, data_start = read_header(path)
    tensors = header["tensors"]
    total = sum(e["nbytes"] for e in tensors)
    print(f"{path}: kind={header['kind']} tensors={len(tensors)} data={total} bytes "
          f"(data region at {data_start}) file={os.path.getsize(path)} bytes", file=stream)
    for e in tensors:
        print(f"  {e['name']:<70} {e['dtype']} {e['shape']}", file=stream)
    if show_config:
        print(json.dumps(header["config"], indent=1), file=stream)
    if show_meta:
        print(json.dumps(header["meta"], indent=1), file=stream)


def main(argv=None):
    """Command line entry point: summarize one or more tensor files."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="+", help=".tsr files to summarize")
    p.add_argument("--meta", action="store_true", help="also print the meta object")
    p.add_argument("--config", action="store_true", help="also print the config object")
    a = p.parse_args(argv)
    status = 0
    for path in a.files:
        try:
            summarize(path, a.meta, a.config)
        except (OSError, TensorFileError) as err:
            print(f"error: {err}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
