/* Supervised pairs: a file of `input<TAB>target` lines (include/xfmr/objective.h).
 *
 * Every line is tokenized once at open; the ids of all pairs share one pool.
 * Layouts (eos appended only when the tokenizer has one):
 *   encoder_decoder  src = (input ++ [eos])[0..S), target = (target ++ [eos])[0..T)
 *   prefix_lm        seq = in ++ tg with tg = (target ++ [eos])[0..T) and in the
 *                    first min(|input|, T + 1 - |tg|) input tokens; prefix_len = |in|
 *   decoder          the same sequence, causal, loss on the target part only */
#include <stdlib.h>
#include <string.h>

#include "core/numeric.h"
#include "core/rng.h"
#include "io/file.h"
#include "xfmr/objective.h"

#define PAIRS_FILE_MAX ((size_t)1 << 34) /* largest pairs file read: 16 GiB */

struct xf_pairs {
    char *path;          /* for messages */
    int32_t *pool;       /* every pair's ids */
    size_t pool_n, pool_cap;
    size_t *off;         /* pair i: input at off[2i] (len[2i]), target at off[2i+1] */
    size_t *len;
    size_t n, cap, n_val;
};

void xf_pairs_free(xf_pairs *p) {
    if (!p) return;
    free(p->path);
    free(p->pool);
    free(p->off);
    free(p->len);
    free(p);
}

size_t xf_pairs_count(const xf_pairs *p) { return p ? p->n : 0; }
size_t xf_pairs_val_count(const xf_pairs *p) { return p ? p->n_val : 0; }

/* Append n ids to the pool as one side of the current pair. */
static xf_status pool_add(xf_pairs *p, const int32_t *ids, size_t n) {
    if (n > p->pool_cap - p->pool_n) {
        size_t cap = p->pool_cap ? p->pool_cap : 4096;
        while (cap - p->pool_n < n) {
            if (cap > SIZE_MAX / 2 / sizeof(int32_t))
                return xf_fail(XF_ERR_OOM, "%s: too many tokens", p->path);
            cap *= 2;
        }
        int32_t *grown = realloc(p->pool, cap * sizeof *grown);
        if (!grown) return xf_fail(XF_ERR_OOM, "%s: out of memory for %zu tokens", p->path, cap);
        p->pool = grown;
        p->pool_cap = cap;
    }
    if (n) memcpy(p->pool + p->pool_n, ids, n * sizeof *ids);
    p->pool_n += n;
    return XF_OK;
}

/* Tokenize text[0..len) into the pool; side 0 input, 1 target, of pair p->n. */
static xf_status add_side(xf_pairs *p, const xf_tokenizer *tok, const char *text, size_t len,
                          int side, size_t line) {
    static const char *const what[2] = {"input", "target"};
    if (len == 0)
        return xf_fail(XF_ERR_FORMAT, "%s:%zu: empty %s (expected input<TAB>target)", p->path, line,
                       what[side]);
    int32_t *ids = NULL;
    size_t n = 0;
    xf_status st = xf_tokenizer_encode(tok, text, len, &ids, &n);
    if (st != XF_OK) {
        xf_error_prefix("%s:%zu", p->path, line);
        return st;
    }
    size_t V = xf_tokenizer_vocab_size(tok);
    for (size_t i = 0; st == XF_OK && i < n; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= V)
            st = xf_fail(XF_ERR_FORMAT, "%s:%zu: tokenizer gave id %d", p->path, line, (int)ids[i]);
    if (st == XF_OK && n == 0)
        st = xf_fail(XF_ERR_FORMAT, "%s:%zu: the %s encodes to no tokens", p->path, line, what[side]);
    if (st == XF_OK) {
        p->off[2 * p->n + (size_t)side] = p->pool_n;
        p->len[2 * p->n + (size_t)side] = n;
        st = pool_add(p, ids, n);
    }
    free(ids);
    return st;
}

static xf_status grow_pairs(xf_pairs *p) {
    if (p->n < p->cap) return XF_OK;
    size_t cap = p->cap ? 2 * p->cap : 256;
    if (cap > SIZE_MAX / 2 / sizeof(size_t)) return xf_fail(XF_ERR_OOM, "%s: too many lines", p->path);
    size_t *off = realloc(p->off, 2 * cap * sizeof *off);
    if (!off) return xf_fail(XF_ERR_OOM, "%s: out of memory", p->path);
    p->off = off;
    size_t *len = realloc(p->len, 2 * cap * sizeof *len);
    if (!len) return xf_fail(XF_ERR_OOM, "%s: out of memory", p->path);
    p->len = len;
    p->cap = cap;
    return XF_OK;
}

static xf_status parse(xf_pairs *p, const char *data, size_t len, const xf_tokenizer *tok) {
    size_t line = 0;
    for (size_t at = 0; at < len;) {
        line++;
        const char *s = data + at;
        const char *nl = memchr(s, '\n', len - at);
        size_t n = nl ? (size_t)(nl - s) : len - at;
        at += n + (nl ? 1 : 0);
        if (n && s[n - 1] == '\r') n--;
        if (n == 0) continue;
        if (memchr(s, '\0', n))
            return xf_fail(XF_ERR_FORMAT, "%s:%zu: NUL byte (not a text file?)", p->path, line);
        const char *tab = memchr(s, '\t', n);
        size_t tabs = 0;
        for (size_t i = 0; i < n; i++) tabs += s[i] == '\t';
        if (tabs != 1)
            return xf_fail(XF_ERR_FORMAT, "%s:%zu: expected input<TAB>target, found %zu TABs",
                           p->path, line, tabs);
        xf_status st = grow_pairs(p);
        size_t k = (size_t)(tab - s);
        if (st == XF_OK) st = add_side(p, tok, s, k, 0, line);
        if (st == XF_OK) st = add_side(p, tok, tab + 1, n - k - 1, 1, line);
        if (st != XF_OK) return st;
        p->n++;
    }
    if (p->n == 0) return xf_fail(XF_ERR_FORMAT, "%s: no input<TAB>target lines", p->path);
    return XF_OK;
}

xf_status xf_pairs_open(xf_pairs **out, const char *path, const xf_tokenizer *tok) {
    if (!out) return xf_fail(XF_ERR_ARG, "pairs: out is NULL");
    *out = NULL;
    if (!path || !*path || !tok) return xf_fail(XF_ERR_ARG, "pairs: empty path or no tokenizer");
    xf_pairs *p = calloc(1, sizeof *p);
    size_t pl = strlen(path);
    if (p) p->path = malloc(pl + 1);
    if (!p || !p->path) {
        xf_pairs_free(p);
        return xf_fail(XF_ERR_OOM, "%s: out of memory", path);
    }
    memcpy(p->path, path, pl + 1);
    char *data = NULL;
    size_t len = 0;
    xf_status st = xf_file_read_all(path, &data, &len, PAIRS_FILE_MAX);
    if (st == XF_OK) st = parse(p, data, len, tok);
    free(data);
    if (st != XF_OK) {
        xf_pairs_free(p);
        return st;
    }
    *out = p;
    return XF_OK;
}

xf_status xf_pairs_split(xf_pairs *p, double val_fraction) {
    if (!p) return xf_fail(XF_ERR_ARG, "pairs: NULL");
    if (!(val_fraction >= 0 && val_fraction < 1))
        return xf_fail(XF_ERR_ARG, "%s: validation fraction %g is not in [0, 1)", p->path,
                       val_fraction);
    size_t nv = 0;
    if (val_fraction > 0) {
        double v = val_fraction * (double)p->n;
        nv = v >= (double)p->n ? p->n : (size_t)v;
        if (nv < 1) nv = 1;
    }
    if (nv >= p->n)
        return xf_fail(XF_ERR_SHAPE, "%s: %zu pairs are too few to hold out %zu for validation and "
                       "keep one for training", p->path, p->n, nv);
    p->n_val = nv;
    return XF_OK;
}

/* side ++ [eos], cut to cap tokens, into out; returns the count. */
static size_t with_eos(const xf_objective_opts *o, const int32_t *ids, size_t n, size_t cap,
                       int32_t *out) {
    size_t m = n < cap ? n : cap;
    memcpy(out, ids, m * sizeof *out);
    if (o->eos >= 0 && m < cap) out[m++] = o->eos;
    return m;
}

xf_status xf_pairs_batch(const xf_objective_opts *o, const xf_pairs *p, int val, size_t index,
                         xf_rng *rng, xf_batch_buf *b) {
    if (!o || !p || !b || (!val && !rng)) return xf_fail(XF_ERR_ARG, "pairs: NULL argument");
    if (o->arch != XF_ARCH_DECODER && o->arch != XF_ARCH_PREFIX_LM &&
        o->arch != XF_ARCH_ENCODER_DECODER)
        return xf_fail(XF_ERR_ARG, "%s: supervised pairs need a model with a decoder (decoder, "
                       "prefix_lm or encoder_decoder); arch %s has none", p->path,
                       xf_arch_name(o->arch));
    int encdec = o->arch == XF_ARCH_ENCODER_DECODER;
    size_t B = b->B, T = b->T, S = b->S;
    if (B == 0 || T == 0 || !b->ids || !b->targets || (encdec && (S == 0 || !b->src)))
        return xf_fail(XF_ERR_ARG, "%s: the batch needs B, T%s > 0 and its buffers", p->path,
                       encdec ? ", S" : "");
    if (o->vocab_size == 0 || (o->eos >= 0 && (size_t)o->eos >= o->vocab_size) ||
        (o->pad >= 0 && (size_t)o->pad >= o->vocab_size) || o->decoder_start < 0 ||
        (size_t)o->decoder_start >= o->vocab_size)
        return xf_fail(XF_ERR_ARG, "%s: objective options without a valid vocabulary", p->path);
    size_t n_train = p->n - p->n_val;
    if (val && p->n_val == 0)
        return xf_fail(XF_ERR_ARG, "%s: no validation pairs (split first)", p->path);
    if (T > SIZE_MAX / 4 - S) return xf_fail(XF_ERR_OOM, "%s: lengths too large", p->path);
    int32_t *seq = malloc((S + 2 * T + 2) * sizeof *seq);
    if (!seq) return xf_fail(XF_ERR_OOM, "%s: out of memory", p->path);
    xf_status st = XF_OK;
    size_t first = val ? mulmod(index % p->n_val, B % p->n_val, p->n_val) : 0;
    for (size_t r = 0; st == XF_OK && r < B; r++) {
        size_t i = val ? n_train + (first + r) % p->n_val : (size_t)xf_rng_below(rng, n_train);
        const int32_t *in = p->pool + p->off[2 * i], *tg = p->pool + p->off[2 * i + 1];
        size_t n_in = p->len[2 * i], n_tg = p->len[2 * i + 1];
        if (encdec) {
            int32_t *src = seq, *target = seq + S + 1;
            size_t ns = with_eos(o, in, n_in, S, src), nt = with_eos(o, tg, n_tg, T, target);
            st = xf_batch_put_seq2seq(o, b, r, src, ns, target, nt);
        } else {
            /* target part first (it owns the loss), then as much input as fits before it */
            int32_t *target = seq + T + 1;
            size_t nt = with_eos(o, tg, n_tg, T, target);
            size_t ni = n_in < T + 1 - nt ? n_in : T + 1 - nt;
            memcpy(seq, in, ni * sizeof *seq);
            memmove(seq + ni, target, nt * sizeof *seq);
            st = xf_batch_put_lm(o, b, r, seq, ni + nt, ni);
        }
    }
    free(seq);
    return st;
}
