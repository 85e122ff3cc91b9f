"""The training-step timing every PyTorch benchmark shares (bench_torch.py,
bench_torch_t5.py, bench_torch_moe.py): thread setup, the AdamW recipe
(betas 0.9/0.95, eps 1e-8, weight decay 0.1 on >= 2-D tensors, the warmup +
cosine schedule of xf_torch_model.get_lr), global-norm clipping 1.0, and the
timed loop: the first `warmup` steps are not timed; a step is zero_grad +
forward + loss + backward + clip + optimizer step."""
import statistics
import time

import torch

from xf_torch_model import get_lr


def setup(threads, seed):
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.manual_seed(seed)


def train_steps(model, step_loss, warmup, steps):
    """step_loss(it) -> (loss to minimise, loss to report). Returns the median
    step time, median process CPU time of a step (all threads), the reported
    losses, the fastest step and the parameter count."""
    params = list(model.parameters())
    decay = [p for p in params if p.dim() >= 2]
    nodecay = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": nodecay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.95), eps=1e-8)
    times, cpus, losses = [], [], []
    n = warmup + steps
    for it in range(n):
        t0 = time.perf_counter()
        c0 = time.process_time()
        for gr in opt.param_groups:
            gr["lr"] = get_lr(it, warmup=2, decay=max(10, n))
        opt.zero_grad(set_to_none=True)
        loss, shown = step_loss(it)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        dt = time.perf_counter() - t0
        dc = time.process_time() - c0
        losses.append(shown.item())
        if it >= warmup:
            times.append(dt)
            cpus.append(dc)
    return {"step_s": statistics.median(times), "cpu_s": statistics.median(cpus), "losses": losses,
            "min_s": min(times), "params": sum(p.numel() for p in params)}


def result(r, tokens, flops, **fields):
    """The JSON fields every benchmark prints, from train_steps' result."""
    s = r["step_s"]
    out = {"impl": "pytorch"}
    out.update(fields)
    out.update({"step_ms": round(s * 1e3, 2), "tokens_per_s": round(tokens / s, 1),
                "gflops": round(flops / s / 1e9, 2), "params": r["params"],
                "loss_first": round(r["losses"][0], 4), "loss_last": round(r["losses"][-1], 4),
                "step_ms_min": round(r["min_s"] * 1e3, 2), "cpu_ms": round(r["cpu_s"] * 1e3, 2),
                "torch": torch.__version__})
    return out
