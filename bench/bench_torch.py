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
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "ref"))
sys.path.insert(0, HERE)

try:
    import torch
except Exception as e:  # noqa: BLE001
    print(json.dumps({"impl": "pytorch", "error": f"torch not importable: {e}"}))
    sys.exit(2)

import torch_steps as ts  # noqa: E402
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

    ts.setup(args.threads, args.seed)
    cfg = xm.make_config(load_config(args.config))
    if args.seq > cfg["max_position_embeddings"] and cfg["position_type"] == "learned":
        raise SystemExit("bench_torch: --seq exceeds max_position_embeddings")
    model = xm.XfModel(cfg, generator=torch.Generator().manual_seed(args.seed), mode="gpt")
    model.train()
    V, B, T = cfg["vocab_size"], args.batch, args.seq
    g = torch.Generator().manual_seed(args.seed)
    data = torch.randint(0, V, (args.warmup + args.steps, B, T + 1), generator=g)

    def step_loss(it):
        _, loss = model(data[it, :, :T], data[it, :, 1:])
        return loss, loss

    r = ts.train_steps(model, step_loss, args.warmup, args.steps)
    tokens = B * T
    # training FLOPs: 6 * N_matmul * tokens + attention (12 * L * T * C per token for fwd+bwd,
    # causal halves neither in a dense implementation)
    nmat = r["params"] - (cfg["max_position_embeddings"] * cfg["hidden_size"]
                          if cfg["position_type"] == "learned" else 0)
    flops = 6 * nmat * tokens + 12 * cfg["num_hidden_layers"] * cfg["hidden_size"] * T * tokens
    print(json.dumps(ts.result(r, tokens, flops, threads=args.threads, batch=B, seq=T, steps=args.steps)),
          flush=True)


if __name__ == "__main__":
    main()
