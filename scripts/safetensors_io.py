#!/usr/bin/python3
"""Pure-Python safetensors reader/writer (struct + json + numpy), so greensed's scripts need no
`safetensors` package. The writer lays files out exactly as safetensors.torch.save_file does
(tensors sorted by dtype I64 before F32, then by name; compact JSON, `__metadata__` first, entry
keys in the order dtype, shape, data_offsets; header padded with spaces to a multiple of 8), and so
exactly as greensed's C++ writer does (src/model/safetensors.cpp).

Run as a script it writes tests/data/model_io/reference.safetensors, the file the C++ test
compares its writer against byte for byte (and, when the `safetensors` package is importable,
checks that the package writes the same bytes).
"""
import json
import math
import os
import struct
import sys

import numpy as np

_DTYPES = {"F32": np.dtype("<f4"), "I64": np.dtype("<i8")}
_RANK = {"F32": 11, "I64": 13}  # the safetensors package's Dtype enum order


def _dtype_name(array):
    if array.dtype == np.float32:
        return "F32"
    if array.dtype == np.int64:
        return "I64"
    raise ValueError(f"unsupported dtype {array.dtype} (greensed stores F32 and I64)")


def serialize(tensors, metadata=None):
    """tensors: dict name -> numpy array (float32 or int64). Returns the file's bytes."""
    entries = sorted(tensors.items(), key=lambda kv: (-_RANK[_dtype_name(kv[1])], kv[0]))
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    offset = 0
    blobs = []
    for name, array in entries:
        dtype = _dtype_name(array)
        blob = np.ascontiguousarray(array, dtype=_DTYPES[dtype]).tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def save(path, tensors, metadata=None):
    """Writes atomically (temp file + rename)."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(serialize(tensors, metadata))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load(path):
    """Returns (dict name -> numpy array, metadata dict)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    metadata = header.pop("__metadata__", {})
    body = data[8 + n:]
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = _DTYPES[info["dtype"]]
        tensors[name] = np.frombuffer(body[begin:end], dtype=dtype).reshape(info["shape"]).copy()
    return tensors, metadata


def reference_tensors():
    """The tensors of tests/data/model_io/reference.safetensors; the C++ test builds the same:
    value i of a F32 tensor = sin(0.5·i + 0.25·j) for the j-th tensor below (float32 of the
    double), I64 values given literally."""
    shapes = [("cnn.cnn.conv0.weight", (2, 1, 3, 3)), ("cnn.cnn.conv0.bias", (2,)),
              ("dense.weight", (3, 4)), ("scalar", ())]
    tensors = {}
    for j, (name, shape) in enumerate(shapes):
        n = int(np.prod(shape)) if shape else 1
        values = np.array([math.sin(0.5 * i + 0.25 * j) for i in range(n)], dtype=np.float64)
        tensors[name] = values.astype(np.float32).reshape(shape)
    tensors["cnn.cnn.batchnorm0.num_batches_tracked"] = np.array(7, dtype=np.int64)
    tensors["step"] = np.array([1, -2, 1 << 40], dtype=np.int64)
    return tensors


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = os.path.join(root, "tests", "data", "model_io", "reference.safetensors")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tensors = reference_tensors()
    metadata = {"format": "pt"}
    save(out, tensors, metadata)
    try:
        import safetensors.numpy
    except ImportError:
        print(f"wrote {out} (safetensors package not importable: cross-check skipped)")
        return 0
    theirs = safetensors.numpy.save(tensors, metadata=metadata)
    ours = open(out, "rb").read()
    if theirs != ours:
        print("MISMATCH with the safetensors package", file=sys.stderr)
        return 1
    back = safetensors.numpy.load(ours)
    assert all(np.array_equal(back[k], v) for k, v in tensors.items())
    print(f"wrote {out}; identical to safetensors {safetensors.__version__}'s bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
