"""Minimal safetensors reader/writer (numpy only; torch tensors accepted on save).

Format (docs/formats.md §1): u64 LE header length N, N bytes of JSON
{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}},
then the data buffer; offsets are relative to byte 8+N.  Data is C order,
little-endian, tensors back to back with no holes.  The writer pads the header
with spaces to a multiple of 8 and always writes "__metadata__": {"format": "pt"}.
The reader checks the rules the reference Rust reader enforces (contiguous
offsets starting at 0, sizes match, no trailing bytes).
"""
import json
import struct

import numpy as np

# dtype name -> (numpy dtype, bytes per element, alignment rank for writer ordering)
_DTYPES = {
    "F64": (np.dtype("<f8"), 8),
    "I64": (np.dtype("<i8"), 8),
    "U64": (np.dtype("<u8"), 8),
    "F32": (np.dtype("<f4"), 4),
    "I32": (np.dtype("<i4"), 4),
    "U32": (np.dtype("<u4"), 4),
    "F16": (np.dtype("<f2"), 2),
    "BF16": (np.dtype("<u2"), 2),  # raw bits; see bf16_to_f32
    "I16": (np.dtype("<i2"), 2),
    "U16": (np.dtype("<u2"), 2),
    "I8": (np.dtype("i1"), 1),
    "U8": (np.dtype("u1"), 1),
    "BOOL": (np.dtype("?"), 1),
}
_NP2NAME = {
    np.dtype("float64"): "F64", np.dtype("int64"): "I64", np.dtype("uint64"): "U64",
    np.dtype("float32"): "F32", np.dtype("int32"): "I32", np.dtype("uint32"): "U32",
    np.dtype("float16"): "F16", np.dtype("int16"): "I16", np.dtype("uint16"): "U16",
    np.dtype("int8"): "I8", np.dtype("uint8"): "U8", np.dtype("bool"): "BOOL",
}

MAX_HEADER = 100_000_000


class SafetensorsError(ValueError):
    pass


def _to_numpy(t):
    if isinstance(t, np.ndarray):
        return t
    # torch tensor (imported lazily so this module works without torch)
    if hasattr(t, "detach"):
        return t.detach().cpu().contiguous().numpy()
    return np.asarray(t)


def bf16_to_f32(bits):
    """uint16 array of bf16 bits -> float32 array."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


def save(path, tensors, metadata=None, bf16=()):
    """Write dict name -> array (numpy or torch). dtype chosen from the array's dtype;
    names in `bf16` are uint16 arrays of bf16 bits, written as BF16."""
    meta = {"format": "pt"}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(v, str):
                raise SafetensorsError(f"__metadata__ value for {k!r} must be a string")
            meta[k] = v
    items = []
    for name, t in tensors.items():
        if name == "__metadata__":
            raise SafetensorsError("tensor name __metadata__ is reserved")
        a = _to_numpy(t)
        dt = a.dtype.newbyteorder("=") if a.dtype.byteorder not in ("=", "|") else a.dtype
        if dt not in _NP2NAME:
            raise SafetensorsError(f"{name}: unsupported dtype {a.dtype}")
        dname = "BF16" if name in bf16 else _NP2NAME[dt]
        a = np.ascontiguousarray(a, dtype=_DTYPES[dname][0])
        items.append((name, dname, a))
    # reference writer: alignment descending, then name
    items.sort(key=lambda x: (-_DTYPES[x[1]][1], x[0]))
    header = {"__metadata__": meta}
    off = 0
    for name, dname, a in items:
        nb = a.nbytes
        header[name] = {"dtype": dname, "shape": [int(s) for s in a.shape],
                        "data_offsets": [off, off + nb]}
        off += nb
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((-len(hb)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for _, _, a in items:
            f.write(a.tobytes(order="C"))


def load(path, with_metadata=False):
    """Read a file -> dict name -> numpy array (BF16 is converted to float32).
    With with_metadata=True returns (tensors, metadata)."""
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 8:
        raise SafetensorsError(f"{path}: file shorter than 8 bytes")
    (n,) = struct.unpack("<Q", buf[:8])
    if n > MAX_HEADER or 8 + n > len(buf):
        raise SafetensorsError(f"{path}: bad header length {n}")
    try:
        hdr = json.loads(buf[8:8 + n].decode("utf-8"),
                         object_pairs_hook=_no_dup_pairs)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(f"{path}: bad header JSON: {e}")
    if not isinstance(hdr, dict):
        raise SafetensorsError(f"{path}: header is not an object")
    meta = hdr.pop("__metadata__", None) or {}
    data = memoryview(buf)[8 + n:]
    entries = []
    for name, e in hdr.items():
        if not isinstance(e, dict) or set(e) - {"dtype", "shape", "data_offsets"}:
            raise SafetensorsError(f"{path}: {name}: bad entry {e!r}")
        if e.get("dtype") not in _DTYPES:
            raise SafetensorsError(f"{path}: {name}: unknown dtype {e.get('dtype')!r}")
        shape = e.get("shape")
        offs = e.get("data_offsets")
        if (not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape)
                or not isinstance(offs, list) or len(offs) != 2
                or not all(isinstance(o, int) and o >= 0 for o in offs)):
            raise SafetensorsError(f"{path}: {name}: bad shape/offsets")
        entries.append((offs[0], offs[1], name, e["dtype"], shape))
    entries.sort()
    pos = 0
    out = {}
    for b, en, name, dname, shape in entries:
        if b != pos or en < b:
            raise SafetensorsError(f"{path}: {name}: invalid offsets [{b},{en}] (expected begin {pos})")
        npdt, size = _DTYPES[dname]
        numel = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if numel * size != en - b:
            raise SafetensorsError(f"{path}: {name}: {numel} x {size} bytes != {en - b}")
        a = np.frombuffer(data[b:en], dtype=npdt).reshape(shape).copy()
        if dname == "BF16":
            a = bf16_to_f32(a)
        out[name] = a
        pos = en
    if pos != len(data):
        raise SafetensorsError(f"{path}: data buffer has {len(data) - pos} unindexed bytes")
    return (out, meta) if with_metadata else out


def _no_dup_pairs(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise SafetensorsError(f"duplicate key {k!r} in header")
        d[k] = v
    return d


def _selftest():
    import os
    import tempfile
    rng = np.random.default_rng(0)
    t = {
        "a": rng.standard_normal((3, 4)).astype(np.float32),
        "b.c": rng.integers(-5, 5, size=(2, 5)).astype(np.int32),
        "d": np.array([1.5], dtype=np.float32),
        "e": rng.standard_normal((2, 2, 3)),  # F64
        "s": np.zeros((0, 3), dtype=np.float32),
        "h": rng.standard_normal(7).astype(np.float16),
    }
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "x.safetensors")
        save(p, t, {"k": "v"})
        back, meta = load(p, with_metadata=True)
        assert meta == {"format": "pt", "k": "v"}, meta
        assert set(back) == set(t)
        for k in t:
            assert back[k].dtype == t[k].dtype and back[k].shape == t[k].shape, k
            assert np.array_equal(back[k], t[k]), k
        raw = open(p, "rb").read()
        (n,) = struct.unpack("<Q", raw[:8])
        assert n % 8 == 0 and raw[8:9] == b"{"
        # trailing byte must be rejected
        with open(p, "ab") as f:
            f.write(b"\0")
        try:
            load(p)
            raise AssertionError("trailing byte accepted")
        except SafetensorsError:
            pass
    return True


if __name__ == "__main__":
    _selftest()
    print("PASS xf_safetensors_selftest")
