#!/usr/bin/env python3
"""llama.cpp's next-token log-probabilities against xfmr's logits.
Usage: cmp_logprobs.py LP.f32 LOGITS.f32 V TOL [VL]
VL: LOGITS has VL >= V columns (a padded vocabulary exported without its
padding rows); the other VL - V must be -inf and are left out.
LP: float32 [T, V] log-probabilities (tests/interop/llama_cpp_eval.mjs);
LOGITS: float32 [T, V] (xfmr score --dump-logits), turned into log-softmax in
float64 here. Passes when max |lp - ref| / max |ref| <= TOL and every entry is
finite."""
import sys

import numpy as np

V, tol = int(sys.argv[3]), float(sys.argv[4])
VL = int(sys.argv[5]) if len(sys.argv) > 5 else V
lp = np.fromfile(sys.argv[1], dtype="<f4").astype(np.float64)
x = np.fromfile(sys.argv[2], dtype="<f4").astype(np.float64)
if x.size == 0 or lp.size % V or x.size % VL or lp.size // V != x.size // VL or VL < V:
    print(f"sizes {lp.size} and {x.size} (V {V}, logits width {VL})")
    sys.exit(2)
lp, x = lp.reshape(-1, V), x.reshape(-1, VL)
if VL > V:
    if not np.isneginf(x[:, V:]).all():
        print(f"the padding columns {V}..{VL} of the logits are not all -inf")
        sys.exit(1)
    x = x[:, :V]
m = x.max(1, keepdims=True)
ref = x - m - np.log(np.exp(x - m).sum(1, keepdims=True))
if not np.isfinite(lp).all():
    print(f"{int((~np.isfinite(lp)).sum())} log-probabilities missing or not finite")
    sys.exit(1)
err = np.abs(lp - ref).max() / np.abs(ref).max()
print(f"rel err {err:.3g} over {lp.shape[0]}x{V}")
sys.exit(0 if err <= tol else 1)
