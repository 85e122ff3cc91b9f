#!/usr/bin/python3
"""PyTorch side of the encoder-decoder training benchmark (bench-t5 shape).

usage: /usr/bin/python3 bench/bench_torch_t5.py [--batch 8] [--seq 256] [--target-seq 128]
                                                [--steps 6] [--threads 1] [--warmup 2]

Trains torch.nn.Transformer of the bench-t5 shape (d_model 384, 6 heads, 3 encoder +
3 decoder layers, FFN 1536 ReLU, batch_first, norm_first, dropout 0, layer_norm_eps
1e-6) with one token embedding [8192, 384] shared by the encoder and decoder inputs
and a tied LM head (T5's C^-0.5 rescale before it), on random source [B, S] and
target [B, T] tokens, causal target mask.  Not identical to xfmr's bench-t5: PyTorch
uses LayerNorm (with bias) instead of RMSNorm, biased linears, logits scaled by
1/sqrt(D) and no relative position bias -- a few percent of the work either way.

Optimizer and timing are bench/bench_torch.py's recipe: AdamW (betas 0.9/0.95, wd
0.1 on >= 2-D tensors, lr schedule get_lr), global-norm clip 1.0,
torch.set_num_threads(K); the first --warmup steps are untimed, the result is the
median of the timed steps; a step = zero_grad + forward + loss + backward + clip +
optimizer step.  tokens_per_s counts source + target tokens (B*S + B*T), as xfmr does.
Prints one JSON line:
  {"impl":"pytorch","model":"bench-t5","threads":K,"step_ms":..,"tokens_per_s":..,...}
"""
import argparse
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "ref"))
sys.path.insert(0, HERE)

try:
    import torch
    import torch.nn.functional as F
except Exception as e:  # noqa: BLE001
    print(json.dumps({"impl": "pytorch", "error": f"torch not importable: {e}"}))
    sys.exit(2)

import torch_steps as ts  # noqa: E402

# bench-t5 (src/model/config.c)
SHAPE = {"vocab_size": 8192, "d_model": 384, "nhead": 6, "num_encoder_layers": 3,
         "num_decoder_layers": 3, "dim_feedforward": 1536, "layer_norm_eps": 1e-6}


class T5Like(torch.nn.Module):
    def __init__(self, V, C, H, Le, Ld, F_, eps):
        super().__init__()
        self.C = C
        self.shared = torch.nn.Embedding(V, C)          # N(0, 1): T5's factor-1.0 init
        self.tr = torch.nn.Transformer(
            d_model=C, nhead=H, num_encoder_layers=Le, num_decoder_layers=Ld,
            dim_feedforward=F_, dropout=0.0, activation="relu", layer_norm_eps=eps,
            batch_first=True, norm_first=True)

    def forward(self, src, tgt, tgt_mask):
        h = self.tr(self.shared(src), self.shared(tgt), tgt_mask=tgt_mask)
        h = h * (self.C ** -0.5)                         # tied head rescale (T5)
        return h @ self.shared.weight.t()


def main():
    ap = argparse.ArgumentParser(description="PyTorch encoder-decoder training-step benchmark")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=256, help="source tokens per sequence")
    ap.add_argument("--target-seq", type=int, default=128, help="target tokens per sequence")
    ap.add_argument("--steps", type=int, default=6, help="timed steps")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1337)
    args = ap.parse_args()

    ts.setup(args.threads, args.seed)
    V, C, H = SHAPE["vocab_size"], SHAPE["d_model"], SHAPE["nhead"]
    Le, Ld, Fd = SHAPE["num_encoder_layers"], SHAPE["num_decoder_layers"], SHAPE["dim_feedforward"]
    model = T5Like(V, C, H, Le, Ld, Fd, SHAPE["layer_norm_eps"])
    model.train()
    B, S, T = args.batch, args.seq, args.target_seq
    g = torch.Generator().manual_seed(args.seed)
    n = args.warmup + args.steps
    src_all = torch.randint(0, V, (n, B, S), generator=g)
    tgt_all = torch.randint(0, V, (n, B, T + 1), generator=g)
    # float mask, -inf above the diagonal (the form nn.Transformer documents)
    tgt_mask = torch.full((T, T), float("-inf")).triu(1)

    def step_loss(it):
        logits = model(src_all[it], tgt_all[it, :, :T], tgt_mask)
        loss = F.cross_entropy(logits.reshape(-1, V), tgt_all[it, :, 1:].reshape(-1))
        return loss, loss

    r = ts.train_steps(model, step_loss, args.warmup, args.steps)
    NS, N = B * S, B * T
    tokens = NS + N
    # model FLOPs, counted as xfmr's bench does (6 per matmul weight per token it sees,
    # biases and the embedding lookup excluded, tied head included; attention 12·C·Tk per
    # query token per layer for forward + backward):
    enc_w = 4 * C * C + 2 * C * Fd                      # self-attn q,k,v,o + FFN
    dec_w_tgt = 4 * C * C + 2 * C * C + 2 * C * Fd       # self-attn, cross q,o, FFN
    dec_w_src = 2 * C * C                                # cross k,v read the source
    flops = 6 * (Le * enc_w * NS + Ld * (dec_w_tgt * N + dec_w_src * NS) + V * C * N)
    flops += 12 * C * (Le * NS * S + Ld * N * (T + S))
    print(json.dumps(ts.result(r, tokens, flops, model="bench-t5", threads=args.threads, batch=B, seq=S,
                               target_seq=T, steps=args.steps)), flush=True)
    if not all(math.isfinite(v) for v in r["losses"]):
        print("bench_torch_t5: non-finite loss", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
