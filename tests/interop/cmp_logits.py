#!/usr/bin/env python3
"""Compare two float32 logits dumps [rows, V] (xfmr score --dump-logits).
Usage: cmp_logits.py A B V TOL [--argmax] [--width-b VB]
--width-b: B has VB >= V columns (a model with a padded vocabulary, A its
export without the padding rows): the first V are compared and the other
VB - V must be -inf (padding ids never predicted). Prints the error and exits 0 when max|A-B| / max|B| <= TOL (TOL 0: bit for
bit); with --argmax also requires the same argmax in every row. Exit 2 when a
file is missing or the sizes differ."""
import sys

import numpy as np

a = np.fromfile(sys.argv[1], dtype="<f4")
b = np.fromfile(sys.argv[2], dtype="<f4")
V, tol = int(sys.argv[3]), float(sys.argv[4])
VB = int(sys.argv[sys.argv.index("--width-b") + 1]) if "--width-b" in sys.argv else V
if a.size == 0 or a.size % V or b.size % VB or a.size // V != b.size // VB or VB < V:
    print(f"sizes {a.size} and {b.size} (V {V}, width of B {VB})")
    sys.exit(2)
a, b = a.reshape(-1, V).astype(np.float64), b.reshape(-1, VB).astype(np.float64)
if VB > V:
    if not np.isneginf(b[:, V:]).all():
        print(f"the padding columns {V}..{VB} of B are not all -inf")
        sys.exit(1)
    b = b[:, :V]
err = np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)
same = (a.argmax(1) == b.argmax(1)).mean()
print(f"rel err {err:.3g}, argmax agree {same:.3f}")
ok = (err == 0) if tol == 0 else (err <= tol)
if "--argmax" in sys.argv:
    ok = ok and same == 1.0
sys.exit(0 if ok else 1)
