"""What the two parity suites (parity.py: decoders; parity_families.py: every
family and MoE) share: the tolerances, the error measures, the PASS/FAIL
reporter, running the C driver, and the checks of its outputs against the
float32 and float64 torch references. Without numpy (no torch) only
skip_without_torch is usable, which is what a suite calls then.

Error measures (ref = torch float32 result):
  tensor  : max|c - ref| / max|ref|   (one scalar per tensor)
  gradient: max|c - ref| / max(max|ref|, GRAD_FLOOR * G), G = the largest
            max|ref| over the case's gradient tensors
  scalar  : |c - ref| / |ref|
"""
import os
import subprocess
import sys

try:
    import numpy as np

    import xf_safetensors as st
except ImportError:  # no numpy means no torch: the suite is about to skip
    np = st = None

TOL_LOGITS = 1e-4
TOL_LOSS = 1e-4
TOL_GRAD = 1e-3
TOL_TRAIN = 1e-3
TRAIN_STEPS = 10
GRAD_FLOOR = 1e-2  # gradient denominators are at least GRAD_FLOOR * (largest gradient)


def skip_without_torch(suite, what, e):
    """Print the loud SKIP banner and exit 0 (tests/run.sh makes it a failure in CI)."""
    msg = (f"SKIP {suite}: torch not importable by /usr/bin/python3 (install python3-torch)"
           f" [{type(e).__name__}: {e}]")
    banner = "!" * 78
    print(banner, file=sys.stderr)
    print("!!! " + msg, file=sys.stderr)
    print(f"!!! {what} NOT being checked against PyTorch.", file=sys.stderr)
    print(banner, file=sys.stderr)
    print("=" * 78)
    print(msg)
    print("=" * 78)
    sys.exit(0)


def rel_tensor(a, ref, floor=0.0):
    a = np.asarray(a, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    den = max(float(np.max(np.abs(ref))) if ref.size else 0.0, floor)
    num = float(np.max(np.abs(a - ref))) if ref.size else 0.0
    if not np.all(np.isfinite(a)):
        return float("nan"), num, den
    if den == 0.0:
        return (0.0 if num == 0.0 else float("inf")), num, den
    return num / den, num, den


def rel_scalar(a, ref):
    a, ref = float(a), float(ref)
    if a != a:
        return float("nan")
    return abs(a - ref) / abs(ref) if ref != 0 else (0.0 if a == ref else float("inf"))


def ok(err, tol):
    return err == err and err <= tol  # NaN fails


def reporter(name, results):
    """report(what, passed, detail): one "PASS|FAIL parity_<name>_<what>" line."""
    def report(what, passed, detail):
        line = f"{'PASS' if passed else 'FAIL'} parity_{name}_{what}"
        if detail:
            line += (": " if not passed else "  # ") + detail
        print(line, flush=True)
        results.append(passed)
    return report


def run_driver(driver, mdir, bpath, outp, report, env=None):
    """Run `driver MODEL_DIR BATCH OUT`; the loaded outputs, or None after a FAIL line."""
    if driver is None or not os.path.isfile(driver):
        report("driver", False, f"driver not found: {driver}")
        return None
    try:
        cp = subprocess.run([driver, mdir, bpath, outp], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, timeout=300, env=env)
    except subprocess.TimeoutExpired:
        report("driver", False, "driver timed out after 300 s")
        return None
    if cp.returncode != 0 or not os.path.isfile(outp):
        tail = (cp.stderr.decode(errors="replace") + cp.stdout.decode(errors="replace"))[-600:]
        report("driver", False, f"exit {cp.returncode}; output tail: {tail.strip()!r}")
        return None
    try:
        return st.load(outp)
    except Exception as e:  # noqa: BLE001
        report("driver", False, f"cannot read {outp}: {e}")
        return None


def check_outputs(out, expect, report, optional=None):
    """Every expected key present with its shape, nothing else (optional keys may be absent), all F32."""
    allk = dict(expect, **(optional or {}))
    missing = [k for k in expect if k not in out]
    extra = [k for k in out if k not in allk]
    badshape = [f"{k} {tuple(out[k].shape)} != {allk[k]}" for k in allk
                if k in out and tuple(out[k].shape) != allk[k]]
    baddtype = [f"{k} {out[k].dtype}" for k in allk if k in out and out[k].dtype != np.float32]
    problems = []
    if missing:
        problems.append("missing " + ", ".join(missing))
    if extra:
        problems.append("unexpected " + ", ".join(extra))
    if badshape:
        problems.append("shape " + "; ".join(badshape))
    if baddtype:
        problems.append("dtype not F32: " + ", ".join(baddtype))
    report("outputs", not problems, "; ".join(problems))


def check_logits(out, r32, r64, shape, report):
    if "logits" in out and tuple(out["logits"].shape) == shape:
        e32, num, den = rel_tensor(out["logits"], r32["logits"])
        e64, _, _ = rel_tensor(out["logits"], r64["logits"])
        base, _, _ = rel_tensor(r32["logits"], r64["logits"])
        finite = np.all(np.isfinite(out["logits"]))
        idx = np.unravel_index(np.argmax(np.abs(out["logits"] - r32["logits"].numpy())),
                               out["logits"].shape) if finite else None
        report("logits", ok(e32, TOL_LOGITS),
               f"max|c-ref|/max|ref| = {e32:.3g} (abs {num:.3g}, max|ref| {den:.3g}, worst at "
               f"{tuple(int(i) for i in idx) if idx is not None else 'non-finite'}); "
               f"vs fp64 {e64:.3g}; torch fp32 vs fp64 {base:.3g}; tol {TOL_LOGITS:g}")
    else:
        report("logits", False, "logits missing or wrong shape")


def check_loss(out, r32, r64, report):
    if "loss" in out and out["loss"].size == 1:
        c = float(out["loss"].reshape(-1)[0])
        e32 = rel_scalar(c, r32["loss"])
        e64 = rel_scalar(c, r64["loss"])
        report("loss", ok(e32, TOL_LOSS),
               f"c {c:.7g} ref {r32['loss']:.7g} (fp64 {r64['loss']:.9g}); rel {e32:.3g}, "
               f"vs fp64 {e64:.3g}; tol {TOL_LOSS:g}")
    else:
        report("loss", False, "loss missing or wrong size")


def grad_errors(out, r32, r64, params64, keys):
    """Compare "grad.<k>" for k in keys. Returns (fails, worst, base_worst, G32):
    failure descriptions, the worst tensor (name, err, abs, denominator, err vs fp64),
    torch's own fp32-vs-fp64 worst, and the floor scale of the fp32 reference."""
    worst = None
    fails = []
    base_worst = 0.0
    G32 = max(float(r32["grads"][k].abs().max()) for k in keys)
    G64 = max(float(r64["grads"][k].abs().max()) for k in keys)
    for k in keys:
        key = "grad." + k
        if key not in out or tuple(out[key].shape) != tuple(params64[k].shape):
            fails.append(f"{k}: missing/wrong shape")
            continue
        e32, num, den = rel_tensor(out[key], r32["grads"][k], GRAD_FLOOR * G32)
        e64, _, _ = rel_tensor(out[key], r64["grads"][k], GRAD_FLOOR * G64)
        b, _, _ = rel_tensor(r32["grads"][k], r64["grads"][k], GRAD_FLOOR * G64)
        base_worst = max(base_worst, b)
        if worst is None or not (e32 <= worst[1]):
            worst = (k, e32, num, den, e64)
        if not ok(e32, TOL_GRAD):
            fails.append(f"{k}: {e32:.3g} (abs {num:.3g}, denominator {den:.3g}, vs fp64 {e64:.3g})")
    return fails, worst, base_worst, G32


def report_grads(fails, worst, base_worst, ntensors, counted, report):
    """The "grads" line: the failures (at most 8 named), or what was `counted`; the worst tensor."""
    wdesc = (f"worst {worst[0]} max|c-ref|/max|ref| = {worst[1]:.3g} (abs {worst[2]:.3g}, "
             f"denominator {worst[3]:.3g}, vs fp64 {worst[4]:.3g})") if worst else "no gradients"
    if fails:
        report("grads", False, f"{len(fails)}/{ntensors} tensors over {TOL_GRAD:g}: "
               + "; ".join(fails[:8]) + ("; ..." if len(fails) > 8 else "") + f"; {wdesc}")
    else:
        report("grads", True, f"{counted}; {wdesc}; torch fp32 vs fp64 worst {base_worst:.3g}; "
               f"tol {TOL_GRAD:g}")


def check_series(out, key, what, ref32, ref64, report):
    """A [TRAIN_STEPS] series (the losses of the AdamW steps) against the references."""
    if key in out and out[key].size == TRAIN_STEPS:
        cv = out[key].astype(np.float64).reshape(-1)
        errs = [rel_scalar(cv[i], ref32[i]) for i in range(TRAIN_STEPS)]
        errs64 = [rel_scalar(cv[i], ref64[i]) for i in range(TRAIN_STEPS)]
        base = max(rel_scalar(ref32[i], ref64[i]) for i in range(TRAIN_STEPS))
        bad = [i for i in range(TRAIN_STEPS) if not ok(errs[i], TOL_TRAIN)]
        wi = int(np.nanargmax(errs)) if not all(e != e for e in errs) else 0
        fmt = lambda xs: "[" + ", ".join(f"{x:.5g}" for x in xs) + "]"  # noqa: E731
        detail = (f"worst step {wi}: c {cv[wi]:.6g} ref {ref32[wi]:.6g} rel {errs[wi]:.3g}"
                  f" (vs fp64 {max(errs64):.3g}; torch fp32 vs fp64 {base:.3g}); tol {TOL_TRAIN:g}")
        if bad:
            detail = f"steps {bad} over tol; " + detail + f"; c {fmt(cv)} ref {fmt(ref32)}"
        else:
            detail += f"; {ref32[0]:.5g} -> {ref32[-1]:.5g}"
        report(what, not bad, detail)
    else:
        report(what, False, f"{key} missing or wrong size")
