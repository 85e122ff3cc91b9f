#!/usr/bin/python3
"""PyTorch side of the training benchmark.

usage: /usr/bin/python3 bench/bench_torch.py [--config NAME_OR_JSON] [--batch 8] [--seq 256]
                                             [--steps 6] [--threads 2] [--warmup 2]

Trains the reference decoder (tests/ref/xf_torch_model.py, same model as xfmr) on
random synthetic tokens with AdamW (betas 0.9/0.95, wd 0.1 on >= 2-D tensors, grad
clip 1.0), torch.set_num_threads(K).  The first --warmup steps are not timed; the
result is the median of the timed steps.  A step = forward + loss + backward + clip
+ optimizer step (zero_grad included).  cpu_ms is the median process CPU time of a
step (all threads), a contention-insensitive cross-check.  Prints one JSON line:
  {"impl":"pytorch","threads":K,"step_ms":..,"tokens_per_s":..,...}
--config: a preset name (bench-gpt), a JSON file path, a directory holding
config.json, or an inline JSON object.
"""
import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "ref"))

try:
    import torch
except Exception as e:  # noqa: BLE001
    print(json.dumps({"impl": "pytorch", "error": f"torch not importable: {e}"}))
    sys.exit(2)

import xf_torch_model as xm  # noqa: E402


def load_config(spec):
    if spec in xm.PRESETS:
        return dict(xm.PRESETS[spec])
    if spec.lstrip().startswith("{"):
        return json.loads(spec)
    path = os.path.join(spec, "config.json") if os.path.isdir(spec) else spec
    if os.path.isfile(path):
        with open(path) as f:
            return json.load(f)
    raise SystemExit(f"bench_torch: unknown config {spec!r} (presets: {', '.join(xm.PRESETS)})")


def main():
    ap = argparse.ArgumentParser(description="PyTorch training-step benchmark")
    ap.add_argument("--config", default="bench-gpt")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--steps", type=int, default=6, help="timed steps")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1337)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.manual_seed(args.seed)
    cfg = xm.make_config(load_config(args.config))
    if args.seq > cfg["max_position_embeddings"] and cfg["position_type"] == "learned":
        raise SystemExit("bench_torch: --seq exceeds max_position_embeddings")
    model = xm.XfModel(cfg, generator=torch.Generator().manual_seed(args.seed), mode="gpt")
    model.train()
    params = list(model.parameters())
    nparams = sum(p.numel() for p in params)
    decay = [p for p in params if p.dim() >= 2]
    nodecay = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": nodecay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.95), eps=1e-8)
    V, B, T = cfg["vocab_size"], args.batch, args.seq
    g = torch.Generator().manual_seed(args.seed)
    data = torch.randint(0, V, (args.warmup + args.steps, B, T + 1), generator=g)

    times, cpus, losses = [], [], []
    for it in range(args.warmup + args.steps):
        x, y = data[it, :, :T], data[it, :, 1:]
        t0 = time.perf_counter()
        c0 = time.process_time()
        for gr in opt.param_groups:
            gr["lr"] = xm.get_lr(it, warmup=2, decay=max(10, args.warmup + args.steps))
        opt.zero_grad(set_to_none=True)
        _, loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        dt = time.perf_counter() - t0
        dc = time.process_time() - c0
        losses.append(loss.item())
        if it >= args.warmup:
            times.append(dt)
            cpus.append(dc)

    step_s = statistics.median(times)
    tokens = B * T
    # training FLOPs: 6 * N_matmul * tokens + attention (12 * L * T * C per token for fwd+bwd,
    # causal halves neither in a dense implementation)
    nmat = nparams - (cfg["max_position_embeddings"] * cfg["hidden_size"]
                      if cfg["position_type"] == "learned" else 0)
    flops = 6 * nmat * tokens + 12 * cfg["num_hidden_layers"] * cfg["hidden_size"] * T * tokens
    print(json.dumps({
        "impl": "pytorch", "threads": args.threads, "step_ms": round(step_s * 1e3, 2),
        "tokens_per_s": round(tokens / step_s, 1), "gflops": round(flops / step_s / 1e9, 2),
        "batch": B, "seq": T, "steps": args.steps, "params": nparams,
        "loss_first": round(losses[0], 4), "loss_last": round(losses[-1], 4),
        "step_ms_min": round(min(times) * 1e3, 2),
        "cpu_ms": round(statistics.median(cpus) * 1e3, 2), "torch": torch.__version__,
    }), flush=True)


if __name__ == "__main__":
    main()
