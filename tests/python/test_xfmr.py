"""The Python module (python/xfmr) against the CLI on the same checkpoints:
logits equal `xfmr score --dump-logits` (decoder, prefix LM, encoder-decoder),
greedy and sampled generation equal `xfmr generate`, tokenizer round trips,
and training steps lower the loss. Prints PASS/FAIL/SKIP lines; without
numpy it prints SKIP (FAIL in CI)."""
import argparse
import os
import subprocess
import sys
import tempfile
import traceback

ap = argparse.ArgumentParser()
ap.add_argument("--build", default="build")
args = ap.parse_args()
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
XFMR = os.path.join(ROOT, args.build, "xfmr")

try:
    import numpy as np
except ImportError:
    if os.environ.get("CI"):
        print("FAIL python: numpy missing in CI (make deps)")
        sys.exit(1)
    print("SKIP python: numpy missing (python3-numpy; make deps)")
    sys.exit(0)

sys.path.insert(0, os.path.join(ROOT, "python"))
import xfmr  # noqa: E402

failed = 0
tmp = tempfile.TemporaryDirectory()
TEXT = "Once upon a time, a little fox found a red ball."


def check(name, fn):
    global failed
    try:
        fn()
        print("PASS " + name)
    except Exception as e:  # noqa: BLE001 - any failure is one FAIL line
        failed = 1
        where = traceback.extract_tb(e.__traceback__)[-1]
        print("FAIL %s: line %d: %s" % (name, where.lineno, str(e).replace("\n", " ")[:400]))
    sys.stdout.flush()


def cli(*a):
    r = subprocess.run([XFMR, *a], capture_output=True)
    if r.returncode != 0:
        raise AssertionError("xfmr %s: %s" % (" ".join(a[:2]), r.stderr.decode(errors="replace").strip()))
    return r.stdout


def checkpoint(preset, seed):
    """A preset's fresh weights saved with the byte tokenizer, as the CLI reads it."""
    d = os.path.join(tmp.name, "%s-%d" % (preset, seed))
    xfmr.Model(preset, seed=seed).save(d, xfmr.Tokenizer("byte"))
    return d


def cli_logits(d, V, *a):
    f = os.path.join(tmp.name, "logits.bin")
    cli("score", "--model", d, "--threads", "1", "--dump-logits", f, *a)
    return np.fromfile(f, dtype="<f4").reshape(-1, V)


def ids_arg(ids):
    return " ".join(str(int(i)) for i in ids)


def test_tokenizer():
    tok = xfmr.Tokenizer("byte")
    ids = tok.encode(TEXT)
    assert ids.dtype == np.int32 and ids.size == len(TEXT.encode())
    assert list(ids[:4]) == list(TEXT.encode()[:4])  # the byte tokenizer: id = byte
    assert tok.decode(ids) == TEXT
    assert tok.special("eos") >= 256 and tok.vocab_size >= 260
    try:
        tok.decode(np.array([tok.vocab_size], dtype=np.int32))
        raise AssertionError("an id out of range was decoded")
    except xfmr.XfmrError as e:
        assert str(e)


def test_logits_decoder():
    d = checkpoint("llama-tiny", 3)
    m = xfmr.Model(d)
    xfmr.set_threads(1)
    ids = m.tokenizer.encode(TEXT)
    got = m.logits(ids)
    want = cli_logits(d, m.vocab_size, "--ids", ids_arg(ids))
    assert got.shape == want.shape == (ids.size, m.vocab_size), (got.shape, want.shape)
    assert np.array_equal(got, want), "max diff %g" % np.abs(got - want).max()
    # a batch of two rows gives each row's logits
    both = m.logits(np.stack([ids[:10], ids[5:15]]))
    assert np.allclose(both[0], m.logits(ids[:10]), rtol=1e-5, atol=1e-6)
    assert np.allclose(both[1], m.logits(ids[5:15]), rtol=1e-5, atol=1e-6)


def test_logits_prefix_lm():
    d = checkpoint("prefix-tiny", 4)
    m = xfmr.Model(d)
    ids = m.tokenizer.encode(TEXT)
    got = m.logits(ids, prefix_len=7)
    want = cli_logits(d, m.vocab_size, "--ids", ids_arg(ids), "--prefix-len", "7")
    assert np.array_equal(got, want), "max diff %g" % np.abs(got - want).max()
    assert not np.array_equal(got, m.logits(ids, prefix_len=0))  # the prefix changes the mask


def test_logits_encoder_decoder():
    d = checkpoint("t5-tiny", 5)
    m = xfmr.Model(d)
    tok = m.tokenizer
    src, tgt = tok.encode("The fox ran."), tok.encode("A red ball")
    pad = tok.special("pad")
    dstart = m.config.get("decoder_start_token_id", -1)
    start = dstart if dstart >= 0 else (pad if pad >= 0 else 0)
    dec_in = np.concatenate([[start], tgt[:-1]]).astype(np.int32)
    got = m.logits(dec_in, src=src)
    want = cli_logits(d, m.vocab_size, "--source-ids", ids_arg(src), "--ids", ids_arg(tgt))
    assert got.shape == want.shape, (got.shape, want.shape)
    assert np.array_equal(got, want), "max diff %g" % np.abs(got - want).max()


def test_generate_matches_cli():
    d = checkpoint("gpt2-tiny", 6)
    m = xfmr.Model(d)
    xfmr.set_threads(1)
    for temp in (0.0, 0.9):
        text = m.generate("Once upon", n=25, temperature=temp, seed=3)
        want = cli("generate", "--model", d, "--prompt", "Once upon", "-n", "25", "--temperature", str(temp),
                   "--seed", "3", "--threads", "1", "--quiet").decode("utf-8", "replace")
        assert want == "Once upon" + text + "\n", (temp, repr(text[:60]), repr(want[:60]))
    ids = m.generate(m.tokenizer.encode("Once upon"), n=25, temperature=0.9, seed=3)
    assert ids.dtype == np.int32 and 1 <= ids.size <= 25


def test_train_step_lowers_loss():
    m = xfmr.Model("gpt2-tiny", seed=7)
    tok = xfmr.Tokenizer("byte")
    ids = tok.encode(TEXT * 2)[:33]
    x, y = ids[:-1].reshape(1, -1), ids[1:].reshape(1, -1)
    opt = xfmr.Optimizer(m, lr=3e-3, min_lr=3e-3, warmup=0, steps=100)
    before = m.loss(x, y)
    first = m.train_step(opt, x, y)
    assert abs(first - before) < 1e-4 * max(1.0, abs(before)), (first, before)
    after_one = m.loss(x, y)
    assert after_one < before, (before, after_one)
    for _ in range(9):
        m.train_step(opt, x, y)
    assert opt.steps == 10 and opt.lr == np.float32(3e-3) and opt.grad_norm > 0
    after = m.loss(x, y)
    assert after < before - 0.5, (before, after)
    try:
        xfmr.Optimizer(m, beta1=1.5)
        raise AssertionError("beta1 1.5 accepted")
    except xfmr.XfmrError as e:
        assert "beta1" in str(e)


def test_errors():
    try:
        xfmr.Model(os.path.join(tmp.name, "nothing-here"))
        raise AssertionError("a missing model opened")
    except xfmr.XfmrError as e:
        assert "nothing-here" in str(e), str(e)


check("python_tokenizer", test_tokenizer)
check("python_logits_decoder", test_logits_decoder)
check("python_logits_prefix_lm", test_logits_prefix_lm)
check("python_logits_encoder_decoder", test_logits_encoder_decoder)
check("python_generate_matches_cli", test_generate_matches_cli)
check("python_train_step_lowers_loss", test_train_step_lowers_loss)
check("python_errors", test_errors)
sys.exit(failed)
