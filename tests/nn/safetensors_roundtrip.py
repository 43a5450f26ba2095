#!/usr/bin/python3
"""Independent safetensors reader/writer (json + numpy only) used by safetensors_test.cc.

  safetensors_roundtrip.py IN OUT

Reads IN exactly as the spec says (8-byte little-endian header length, JSON header, raw
little-endian data), checks the header, and writes OUT holding, for every tensor t of IN,
a tensor of the same name, dtype and shape with values f(t): 2 t + 1 for floats, t + 1 for
int64, not t for bool. Metadata gains "reader": "numpy". Exits non-zero with a message on any
inconsistency, so the C++ test fails with it.
"""
import json
import struct
import sys

import numpy as np

NP = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8"), "I64": np.dtype("<i8"), "BOOL": np.dtype("?")}


def read(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    if (8 + n) % 8 != 0:
        sys.exit(f"data section not 8-byte aligned: header length {n}")
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]
    metadata = header.pop("__metadata__", {})
    tensors, end = {}, 0
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
        begin, stop = info["data_offsets"]
        if begin != end:
            sys.exit(f"{name}: offsets do not tile the data ({begin} != {end})")
        dtype = NP[info["dtype"]]
        count = int(np.prod(info["shape"], dtype=np.int64))
        if stop - begin != count * dtype.itemsize:
            sys.exit(f"{name}: {stop - begin} bytes for shape {info['shape']}")
        if begin % dtype.itemsize != 0:
            sys.exit(f"{name}: data not aligned to its element size")
        tensors[name] = np.frombuffer(data[begin:stop], dtype=dtype).reshape(info["shape"])
        end = stop
    if end != len(data):
        sys.exit(f"{len(data) - end} trailing bytes")
    return tensors, metadata


def write(path, tensors, metadata):
    header, chunks, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors, key=lambda k: -tensors[k].dtype.itemsize):
        t = np.array(tensors[name], order="C")  # keeps 0-d arrays 0-d
        code = {v: k for k, v in NP.items()}[t.dtype.newbyteorder("<") if t.dtype != np.bool_ else t.dtype]
        data = t.astype(t.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def transform(t):
    if t.dtype == np.bool_:
        return np.logical_not(t)
    if t.dtype.kind == "i":
        return t + 1
    return (t * 2 + 1).astype(t.dtype)


if __name__ == "__main__":
    tensors, metadata = read(sys.argv[1])
    metadata = dict(metadata, reader="numpy")
    write(sys.argv[2], {k: transform(v) for k, v in tensors.items()}, metadata)
