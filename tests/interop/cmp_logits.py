#!/usr/bin/env python3
"""Compare two float32 logits dumps [rows, V] (xfmr score --dump-logits).
Usage: cmp_logits.py A B V TOL [--argmax]
Prints the error and exits 0 when max|A-B| / max|B| <= TOL (TOL 0: bit for
bit); with --argmax also requires the same argmax in every row. Exit 2 when a
file is missing or the sizes differ."""
import sys

import numpy as np

a = np.fromfile(sys.argv[1], dtype="<f4")
b = np.fromfile(sys.argv[2], dtype="<f4")
V, tol = int(sys.argv[3]), float(sys.argv[4])
if a.size != b.size or a.size == 0 or a.size % V:
    print(f"sizes {a.size} and {b.size} (V {V})")
    sys.exit(2)
a, b = a.reshape(-1, V).astype(np.float64), b.reshape(-1, V).astype(np.float64)
err = np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)
same = (a.argmax(1) == b.argmax(1)).mean()
print(f"rel err {err:.3g}, argmax agree {same:.3f}")
ok = (err == 0) if tol == 0 else (err <= tol)
if "--argmax" in sys.argv:
    ok = ok and same == 1.0
sys.exit(0 if ok else 1)
