"""xfmr from Python: a thin ctypes layer over libxfmr.so, with numpy arrays.

    import xfmr
    m = xfmr.Model("ckpt")                     # a checkpoint, foreign model, preset or config.json
    print(m.generate("Once upon a time", n=50))

The library is found at $XFMR_LIB, else ../../build/libxfmr.so next to this
package (a source checkout), else by the system's library search (an
installed libxfmr.so.0). Errors raise XfmrError with the library's one-line
message. docs/library.md describes the C API underneath.
"""
import ctypes
import ctypes.util
import json
import os

import numpy as np

__all__ = ["XfmrError", "Model", "Tokenizer", "Optimizer", "version", "set_threads", "threads"]

_c_size = ctypes.c_size_t
_c_i32p = ctypes.POINTER(ctypes.c_int32)
_c_f32p = ctypes.POINTER(ctypes.c_float)


def _load():
    env = os.environ.get("XFMR_LIB")
    here = os.path.dirname(os.path.abspath(__file__))
    for path in [env, os.path.join(here, "..", "..", "build", "libxfmr.so")]:
        if path and os.path.exists(path):
            return ctypes.CDLL(os.path.abspath(path))
    found = ctypes.util.find_library("xfmr")
    if found:
        return ctypes.CDLL(found)
    raise OSError("libxfmr.so not found: build it (make) or set XFMR_LIB")


_lib = _load()
_libc = ctypes.CDLL(None)
_libc.free.argtypes = [ctypes.c_void_p]


class XfmrError(RuntimeError):
    """A library call failed; the message is xf_last_error()."""


class _Batch(ctypes.Structure):  # xf_batch (include/xfmr/model.h)
    _fields_ = [("B", _c_size), ("T", _c_size), ("ids", _c_i32p), ("targets", _c_i32p),
                ("lengths", _c_i32p), ("prefix_len", _c_i32p), ("token_types", _c_i32p),
                ("S", _c_size), ("src", _c_i32p), ("src_lengths", _c_i32p),
                ("position_ids", _c_i32p), ("block_position_ids", _c_i32p)]


class _SampleOpts(ctypes.Structure):  # xf_sample_opts (include/xfmr/generate.h)
    _fields_ = [("temperature", ctypes.c_float), ("top_k", _c_size), ("top_p", ctypes.c_float),
                ("seed", ctypes.c_uint64)]


class _TrainOpts(ctypes.Structure):  # the head of xf_train_opts (include/xfmr/train.h)
    _fields_ = [("steps", _c_size), ("decay_steps", _c_size), ("batch", _c_size), ("seq", _c_size),
                ("accum", _c_size), ("warmup", _c_size), ("lr", ctypes.c_float), ("min_lr", ctypes.c_float),
                ("weight_decay", ctypes.c_float), ("beta1", ctypes.c_float), ("beta2", ctypes.c_float),
                ("eps", ctypes.c_float), ("grad_clip", ctypes.c_float)]


_TOKEN_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int32, ctypes.c_void_p)
_P = ctypes.c_void_p
_SIGS = {  # name: (restype, argtypes)
    "xf_version": (ctypes.c_char_p, []),
    "xf_last_error": (ctypes.c_char_p, []),
    "xf_set_threads": (None, [ctypes.c_int]),
    "xf_threads": (ctypes.c_int, []),
    "xf_model_new": (ctypes.c_int, [ctypes.POINTER(_P), ctypes.c_char_p, ctypes.c_uint64]),
    "xf_model_free": (None, [_P]),
    "xf_model_config": (_P, [_P]),
    "xf_config_to_json": (_P, [_P]),
    "xf_model_num_params": (_c_size, [_P]),
    "xf_model_open_tokenizer": (ctypes.c_int, [ctypes.POINTER(_P), ctypes.c_char_p]),
    "xf_model_set_live_vocab": (None, [_P, _c_size]),
    "xf_model_reserve_ex": (ctypes.c_int, [_P, _c_size, _c_size, _c_size, ctypes.c_int]),
    "xf_model_forward_batch": (ctypes.c_int, [_P, ctypes.POINTER(_Batch), _c_f32p, ctypes.POINTER(_c_size)]),
    "xf_model_logits": (_c_f32p, [_P]),
    "xf_model_backward": (ctypes.c_int, [_P, ctypes.c_float]),
    "xf_model_zero_grad": (None, [_P]),
    "xf_model_save": (ctypes.c_int, [_P, ctypes.c_char_p]),
    "xf_decoder_start_id": (ctypes.c_int32, [_P, ctypes.c_int32]),
    "xf_tokenizer_load": (ctypes.c_int, [ctypes.POINTER(_P), ctypes.c_char_p]),
    "xf_tokenizer_free": (None, [_P]),
    "xf_tokenizer_vocab_size": (_c_size, [_P]),
    "xf_tokenizer_special": (ctypes.c_int32, [_P, ctypes.c_int]),
    "xf_tokenizer_name": (ctypes.c_char_p, [_P]),
    "xf_tokenizer_encode": (ctypes.c_int, [_P, ctypes.c_char_p, _c_size, ctypes.POINTER(_c_i32p),
                                           ctypes.POINTER(_c_size)]),
    "xf_tokenizer_decode": (ctypes.c_int, [_P, _c_i32p, _c_size, ctypes.POINTER(_P), ctypes.POINTER(_c_size)]),
    "xf_tokenizer_save": (ctypes.c_int, [_P, ctypes.c_char_p]),
    "xf_tokenizer_piece": (ctypes.c_int, [_P, ctypes.c_int32, ctypes.c_int32, ctypes.c_char_p, _c_size,
                                          ctypes.POINTER(_c_size)]),
    "xf_sampler_create": (ctypes.c_int, [ctypes.POINTER(_P), _c_size, ctypes.POINTER(_SampleOpts)]),
    "xf_sampler_free": (None, [_P]),
    "xf_generate": (ctypes.c_int, [_P, _c_i32p, _c_size, _c_size, _P, ctypes.c_int32, _TOKEN_CB, _P]),
    "xf_generate_seq2seq": (ctypes.c_int, [_P, _c_i32p, _c_size, ctypes.c_int32, _c_size, _P, ctypes.c_int32,
                                           _TOKEN_CB, _P]),
    "xf_train_opts_default": (None, [_P]),
    "xf_optimizer_create": (ctypes.c_int, [ctypes.POINTER(_P), _P, _P]),
    "xf_optimizer_free": (None, [_P]),
    "xf_optimizer_step": (ctypes.c_int, [_P, _c_f32p, _c_f32p]),
    "xf_optimizer_steps": (_c_size, [_P]),
}
for _name, (_res, _args) in _SIGS.items():
    _fn = getattr(_lib, _name)
    _fn.restype, _fn.argtypes = _res, _args

_PIECE_MAX = 1024  # XF_TOKENIZER_PIECE_MAX
_SPECIAL = {"bos": 0, "eos": 1, "pad": 2, "unk": 3, "mask": 4}  # xf_tok_special


def _check(status):
    if status != 0:
        raise XfmrError(_lib.xf_last_error().decode("utf-8", "replace"))


def _ids(a, ndim=None):
    a = np.ascontiguousarray(a, dtype=np.int32)
    if ndim is not None and a.ndim != ndim:
        raise ValueError("expected a %d-d array of ids, got shape %s" % (ndim, a.shape))
    return a


def _ptr(a):
    return None if a is None else a.ctypes.data_as(_c_i32p)


def version():
    """The linked library's version, e.g. "0.1.0"."""
    return _lib.xf_version().decode()


def set_threads(n):
    """Threads for kernels and BLAS (n <= 0: all cores)."""
    _lib.xf_set_threads(int(n))


def threads():
    return _lib.xf_threads()


class Tokenizer:
    """A tokenizer from a SPEC: "byte", a checkpoint directory, tokenizer.json, a
    SentencePiece .model, a llama2.c .bin or gpt2:DIR (docs/tokenizers.md)."""

    def __init__(self, spec=None, _handle=None):
        self._h = _P(_handle) if _handle else _P()
        if not _handle:
            _check(_lib.xf_tokenizer_load(ctypes.byref(self._h), spec.encode()))

    def __del__(self):
        if getattr(self, "_h", None):
            _lib.xf_tokenizer_free(self._h)
            self._h = None

    @property
    def vocab_size(self):
        return _lib.xf_tokenizer_vocab_size(self._h)

    @property
    def name(self):
        return _lib.xf_tokenizer_name(self._h).decode()

    def special(self, which):
        """Id of "bos", "eos", "pad", "unk" or "mask", or -1."""
        return _lib.xf_tokenizer_special(self._h, _SPECIAL[which])

    def encode(self, text):
        """UTF-8 text (str or bytes) -> int32 array of ids."""
        data = text.encode() if isinstance(text, str) else bytes(text)
        out, n = _c_i32p(), _c_size()
        _check(_lib.xf_tokenizer_encode(self._h, data, len(data), ctypes.byref(out), ctypes.byref(n)))
        try:
            return np.ctypeslib.as_array(out, shape=(n.value,)).copy() if n.value else np.zeros(0, np.int32)
        finally:
            _libc.free(ctypes.cast(out, ctypes.c_void_p))

    def decode_bytes(self, ids):
        ids = _ids(ids, 1)
        out, n = _P(), _c_size()
        _check(_lib.xf_tokenizer_decode(self._h, _ptr(ids), ids.size, ctypes.byref(out), ctypes.byref(n)))
        try:
            return ctypes.string_at(out, n.value)
        finally:
            _libc.free(out)

    def decode(self, ids):
        """ids -> str (invalid UTF-8 replaced)."""
        return self.decode_bytes(ids).decode("utf-8", "replace")

    def piece(self, prev, id):
        """The bytes token `id` adds after token `prev` (-1 at the start), as
        streaming output prints them; b"" for an id the tokenizer lacks."""
        buf, n = ctypes.create_string_buffer(_PIECE_MAX), _c_size()
        if _lib.xf_tokenizer_piece(self._h, int(prev), int(id), buf, _PIECE_MAX, ctypes.byref(n)) != 0:
            return b""
        return buf.raw[:n.value]

    def save(self, directory):
        _check(_lib.xf_tokenizer_save(self._h, os.fsencode(directory)))


class Model:
    """A model from any SPEC (xf_model_new): a checkpoint directory or foreign
    model with its weights, or a preset / config.json initialised from `seed`.
    `tokenizer` is the one the source carries (or None)."""

    def __init__(self, spec, seed=1):
        self._h = _P()
        _check(_lib.xf_model_new(ctypes.byref(self._h), os.fsencode(spec), int(seed)))
        js = _lib.xf_config_to_json(_lib.xf_model_config(self._h))
        if not js:
            raise XfmrError("out of memory")
        try:
            self.config = json.loads(ctypes.string_at(js).decode())
        finally:
            _libc.free(js)
        self.vocab_size = self.config["vocab_size"]
        tok = _P()
        _check(_lib.xf_model_open_tokenizer(ctypes.byref(tok), os.fsencode(spec)))
        self.tokenizer = Tokenizer(_handle=tok.value) if tok.value else None
        if self.tokenizer is not None:  # the vocabulary rows past the tokenizer's ids are padding, never predicted
            _lib.xf_model_set_live_vocab(self._h, self.tokenizer.vocab_size)
        self._shape = None

    def __del__(self):
        if getattr(self, "_h", None):
            _lib.xf_model_free(self._h)
            self._h = None

    @property
    def num_params(self):
        return _lib.xf_model_num_params(self._h)

    def _reserve(self, B, T, S, training):
        shape = (B, T, S, training)
        if self._shape != shape:
            _check(_lib.xf_model_reserve_ex(self._h, B, T, S, int(training)))
            self._shape = shape

    def _forward(self, ids, targets=None, prefix_len=None, src=None, training=False):
        ids = _ids(ids)
        single = ids.ndim == 1
        ids = ids.reshape(1, -1) if single else ids
        if ids.ndim != 2:
            raise ValueError("ids must be [T] or [B,T]")
        B, T = ids.shape
        tg = None if targets is None else _ids(targets).reshape(B, T)
        pl = None if prefix_len is None else _ids(np.broadcast_to(np.asarray(prefix_len), (B,)))
        sr = None if src is None else _ids(src).reshape(B, -1)
        S = sr.shape[1] if sr is not None else 0
        self._reserve(B, T, S if sr is not None else T, training)
        b = _Batch(B=B, T=T, ids=_ptr(ids), targets=_ptr(tg), prefix_len=_ptr(pl), S=S, src=_ptr(sr))
        loss, valid = ctypes.c_float(0), _c_size(0)
        _check(_lib.xf_model_forward_batch(self._h, ctypes.byref(b), ctypes.byref(loss), ctypes.byref(valid)))
        return single, B, T, loss.value

    def logits(self, ids, prefix_len=None, src=None):
        """Logits as float32 [T,V] for ids [T] (or [B,T,V] for [B,T]). prefix_len:
        a prefix_lm's bidirectional prefix; src: an encoder_decoder's source (ids
        are then the decoder's inputs)."""
        single, B, T, _ = self._forward(ids, prefix_len=prefix_len, src=src)
        out = np.ctypeslib.as_array(_lib.xf_model_logits(self._h), shape=(B, T, self.vocab_size)).copy()
        return out[0] if single else out

    def loss(self, ids, targets, prefix_len=None, src=None):
        """Mean cross-entropy over targets (-1: no loss there)."""
        return self._forward(ids, targets, prefix_len, src)[3]

    def train_step(self, optimizer, ids, targets, prefix_len=None, src=None):
        """Forward, backward and one optimizer step; returns the loss before the step."""
        loss = self._forward(ids, targets, prefix_len, src, training=True)[3]
        _check(_lib.xf_model_backward(self._h, 1.0))
        optimizer.step()
        return loss

    def generate(self, prompt, n=100, temperature=0.0, top_k=0, top_p=1.0, seed=1, tokenizer=None):
        """Continue `prompt` (text, or an array of ids) by up to n tokens; stops at
        the tokenizer's EOS. Returns the new text (or the new ids when the prompt
        is ids). An encoder_decoder reads the prompt as its source."""
        tok = tokenizer or self.tokenizer
        as_text = isinstance(prompt, (str, bytes))
        if as_text and tok is None:
            raise XfmrError("this model carries no tokenizer: pass tokenizer=")
        ids = tok.encode(prompt) if as_text else _ids(prompt, 1)
        eos = tok.special("eos") if tok else -1
        encdec = self.config.get("arch") == "encoder_decoder"
        if encdec and as_text and eos >= 0:
            ids = np.append(ids, np.int32(eos))  # a source ends with EOS, as `xfmr generate` does
        if ids.size == 0:
            raise ValueError("empty prompt")
        so = _SampleOpts(temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
        sampler = _P()
        _check(_lib.xf_sampler_create(ctypes.byref(sampler), self.vocab_size, ctypes.byref(so)))
        made = []
        cb = _TOKEN_CB(lambda i, ctx: made.append(i) or 0)
        try:
            if encdec:
                start = _lib.xf_decoder_start_id(_lib.xf_model_config(self._h), tok.special("pad") if tok else -1)
                st = _lib.xf_generate_seq2seq(self._h, _ptr(ids), ids.size, start, n, sampler, eos, cb, None)
            else:
                st = _lib.xf_generate(self._h, _ptr(ids), ids.size, n, sampler, eos, cb, None)
            self._shape = None  # generation reserved the cache
            _check(st)
        finally:
            _lib.xf_sampler_free(sampler)
        out = np.array(made, dtype=np.int32)
        if not as_text:
            return out
        # the text the new tokens add, piece by piece (ids the tokenizer lacks add nothing)
        prev, pieces = (-1 if encdec else int(ids[-1])), []
        for i in made:
            pieces.append(tok.piece(prev, i))
            prev = i
        return b"".join(pieces).decode("utf-8", "replace")

    def save(self, directory, tokenizer=None):
        """Write directory/config.json and model.safetensors (and the tokenizer)."""
        _check(_lib.xf_model_save(self._h, os.fsencode(directory)))
        tok = tokenizer or self.tokenizer
        if tok is not None:
            tok.save(directory)


class Optimizer:
    """AdamW with warmup + cosine schedule and clipping (xf_optimizer, owning its
    moments). Keyword arguments set xf_train_opts fields: lr, min_lr, warmup,
    steps, decay_steps, weight_decay, beta1, beta2, eps, grad_clip."""

    def __init__(self, model, **opts):
        # xf_train_opts_default fills the struct; a spare 1 KiB behind it keeps a
        # library whose struct grew (fields are appended) from writing past it
        buf = (ctypes.c_char * (ctypes.sizeof(_TrainOpts) + 1024))()
        _lib.xf_train_opts_default(buf)
        o = _TrainOpts.from_buffer(buf)
        names = {f[0] for f in _TrainOpts._fields_}
        for k, v in opts.items():
            if k not in names:
                raise TypeError("unknown optimizer option %r" % k)
            setattr(o, k, v)
        self._model = model  # the optimizer borrows the model: keep it alive
        self._h = _P()
        _check(_lib.xf_optimizer_create(ctypes.byref(self._h), model._h, buf))
        self.lr = self.grad_norm = None

    def __del__(self):
        if getattr(self, "_h", None):
            _lib.xf_optimizer_free(self._h)
            self._h = None

    def step(self):
        """Clip, AdamW, zero the gradients. Returns (lr, gradient norm before clipping)."""
        lr, norm = ctypes.c_float(), ctypes.c_float()
        _check(_lib.xf_optimizer_step(self._h, ctypes.byref(lr), ctypes.byref(norm)))
        self.lr, self.grad_norm = lr.value, norm.value
        return self.lr, self.grad_norm

    @property
    def steps(self):
        return _lib.xf_optimizer_steps(self._h)
