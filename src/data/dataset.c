/* Token files, the training dataset and the parallel text encoder (xfmr/data.h).
 *
 * A dataset is either a memory-mapped token file (ids read in place, 2 or 4
 * bytes little-endian each) or text encoded at open time (ids held as int32).
 * Every token file is treated as hostile: all header fields, the exact size and
 * every id are checked in xf_dataset_open, so the batch functions never fail. */
#include "xfmr/data.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/numeric.h"
#include "core/rng.h"
#include "io/file.h"

struct xf_dataset {
    char *path;                /* for messages */
    xf_mmap map;               /* token file mapping ({NULL, 0} for text) */
    const unsigned char *raw;  /* token file ids: n * width bytes at map.ptr + 64 */
    unsigned width;            /* 2 or 4 for a token file, 0 for text */
    int32_t *ids;              /* text: n ids */
    size_t n, n_train, n_val;  /* n_train + n_val == n */
    uint64_t hash;             /* token file's tokenizer hash, 0 for text */
    size_t vocab, max_id;
};

/* ---- little-endian fields --------------------------------------------------- */

static uint32_t rd32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const unsigned char *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static void wr32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void wr64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* Id number i (i < ds->n). */
static inline int32_t get_id(const xf_dataset *ds, size_t i) {
    if (ds->ids) return ds->ids[i];
    if (ds->width == 2) {
        const unsigned char *p = ds->raw + 2 * i;
        return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8);
    }
    return (int32_t)rd32(ds->raw + 4 * i);
}

/* ---- opening ---------------------------------------------------------------- */

/* Header offsets (see data.h). */
enum { H_MAGIC = 0, H_VERSION = 8, H_WIDTH = 12, H_NTOK = 16, H_HASH = 24, H_VOCAB = 32, H_PAD = 36 };

static xf_status open_token_file(xf_dataset *ds, const xf_tokenizer *tok) {
    const char *path = ds->path;
    const unsigned char *h = ds->map.ptr;
    size_t size = ds->map.len;
    if (size < XF_TOKENS_HEADER_BYTES)
        return xf_fail(XF_ERR_FORMAT, "%s: truncated token file header (%zu bytes, need %u)", path,
                       size, XF_TOKENS_HEADER_BYTES);
    uint32_t version = rd32(h + H_VERSION), width = rd32(h + H_WIDTH), vocab = rd32(h + H_VOCAB);
    uint64_t ntok = rd64(h + H_NTOK), hash = rd64(h + H_HASH);
    if (version != XF_TOKENS_VERSION)
        return xf_fail(XF_ERR_FORMAT, "%s: token file version %u is not supported (expected %u)",
                       path, version, XF_TOKENS_VERSION);
    if (width != 2 && width != 4)
        return xf_fail(XF_ERR_FORMAT, "%s: token file has %u bytes per id (expected 2 or 4)", path,
                       width);
    if (vocab == 0) return xf_fail(XF_ERR_FORMAT, "%s: token file has vocab size 0", path);
    for (size_t i = H_PAD; i < XF_TOKENS_HEADER_BYTES; i++)
        if (h[i] != 0)
            return xf_fail(XF_ERR_FORMAT, "%s: reserved token file header byte %zu is not zero",
                           path, i);
    size_t payload = size - XF_TOKENS_HEADER_BYTES;
    if (ntok > (uint64_t)(SIZE_MAX / width) || (size_t)ntok * width != payload)
        return xf_fail(XF_ERR_FORMAT,
                       "%s: header says %llu tokens of %u bytes but the file holds %zu bytes of ids",
                       path, (unsigned long long)ntok, width, payload);
    if (ntok == 0) return xf_fail(XF_ERR_FORMAT, "%s: token file holds no tokens", path);
    if (tok) {
        uint64_t want = xf_tokenizer_hash(tok);
        if (hash != want)
            return xf_fail(XF_ERR_SHAPE,
                           "%s was made with tokenizer %016llx, the model uses %s (%016llx)", path,
                           (unsigned long long)hash, xf_tokenizer_name(tok),
                           (unsigned long long)want);
        if (vocab != xf_tokenizer_vocab_size(tok))
            return xf_fail(XF_ERR_FORMAT,
                           "%s: header vocab size %u disagrees with tokenizer %s (%zu) of the same hash",
                           path, vocab, xf_tokenizer_name(tok), xf_tokenizer_vocab_size(tok));
    }
    ds->raw = h + XF_TOKENS_HEADER_BYTES;
    ds->width = width;
    ds->n = (size_t)ntok;
    ds->hash = hash;
    ds->vocab = vocab;
    uint32_t max = 0;
    for (size_t i = 0; i < ds->n; i++) {
        uint32_t id = (uint32_t)get_id(ds, i);
        if (id >= vocab)
            return xf_fail(XF_ERR_FORMAT, "%s: token %zu has id %u, not below the vocab size %u",
                           path, i, id, vocab);
        if (id > max) max = id;
    }
    ds->max_id = max;
    return XF_OK;
}

static xf_status open_text_file(xf_dataset *ds, const xf_tokenizer *tok) {
    const char *path = ds->path;
    const char *text = ds->map.ptr;
    size_t len = ds->map.len;
    if (len == 0) return xf_fail(XF_ERR_FORMAT, "%s: empty file, no tokens", path);
    const char *nul = memchr(text, '\0', len);
    if (nul)
        return xf_fail(XF_ERR_FORMAT,
                       "%s: not a token file (no %s magic) and not text (NUL byte at offset %zu)",
                       path, XF_TOKENS_MAGIC, (size_t)(nul - text));
    if (!tok)
        return xf_fail(XF_ERR_ARG,
                       "%s: not a token file (no %s magic), and reading it as text needs a tokenizer",
                       path, XF_TOKENS_MAGIC);
    xf_status st = xf_data_encode(tok, text, len, path, 0, &ds->ids, &ds->n, NULL, NULL);
    xf_mmap_close(&ds->map);
    if (st != XF_OK) return st;
    if (ds->n == 0) return xf_fail(XF_ERR_FORMAT, "%s: text encodes to no tokens", path);
    size_t vocab = xf_tokenizer_vocab_size(tok), max = 0;
    for (size_t i = 0; i < ds->n; i++) {
        int32_t id = ds->ids[i];
        if (id < 0 || (size_t)id >= vocab)
            return xf_fail(XF_ERR_FORMAT, "%s: tokenizer %s gave id %d at token %zu (vocab %zu)",
                           path, xf_tokenizer_name(tok), (int)id, i, vocab);
        if ((size_t)id > max) max = (size_t)id;
    }
    ds->vocab = vocab;
    ds->max_id = max;
    ds->hash = 0;
    return XF_OK;
}

xf_status xf_dataset_open(xf_dataset **out, const char *path, const xf_tokenizer *tok) {
    *out = NULL;
    if (!path || !*path) return xf_fail(XF_ERR_ARG, "dataset: empty path");
    xf_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) return xf_fail(XF_ERR_OOM, "%s: out of memory", path);
    size_t pl = strlen(path);
    ds->path = malloc(pl + 1);
    if (!ds->path) {
        free(ds);
        return xf_fail(XF_ERR_OOM, "%s: out of memory", path);
    }
    memcpy(ds->path, path, pl + 1);
    xf_status st = xf_mmap_open(&ds->map, path);
    if (st == XF_OK) {
        size_t ml = strlen(XF_TOKENS_MAGIC);
        if (ds->map.len >= ml && memcmp(ds->map.ptr, XF_TOKENS_MAGIC, ml) == 0)
            st = open_token_file(ds, tok);
        else
            st = open_text_file(ds, tok);
    }
    if (st != XF_OK) {
        xf_dataset_free(ds);
        return st;
    }
    ds->n_train = ds->n;
    ds->n_val = 0;
    *out = ds;
    return XF_OK;
}

void xf_dataset_free(xf_dataset *ds) {
    if (!ds) return;
    xf_mmap_close(&ds->map);
    free(ds->ids);
    free(ds->path);
    free(ds);
}

size_t xf_dataset_len(const xf_dataset *ds) { return ds->n; }
uint64_t xf_dataset_tokenizer_hash(const xf_dataset *ds) { return ds->hash; }
size_t xf_dataset_vocab_size(const xf_dataset *ds) { return ds->vocab; }
size_t xf_dataset_max_id(const xf_dataset *ds) { return ds->max_id; }
size_t xf_dataset_train_len(const xf_dataset *ds) { return ds->n_train; }
size_t xf_dataset_val_len(const xf_dataset *ds) { return ds->n_val; }

/* ---- split and batches -------------------------------------------------------- */

xf_status xf_dataset_split(xf_dataset *ds, double val_fraction, size_t T) {
    const char *path = ds->path;
    if (!(val_fraction >= 0.0 && val_fraction < 1.0))
        return xf_fail(XF_ERR_ARG, "%s: validation fraction %g is not in [0, 1)", path,
                       val_fraction);
    if (T == 0) return xf_fail(XF_ERR_ARG, "%s: sequence length 0", path);
    size_t n = ds->n;
    if (T >= n)
        return xf_fail(XF_ERR_SHAPE,
                       "%s: %zu tokens are too few for sequence length %zu (need at least %zu for "
                       "training alone)",
                       path, n, T, T + 1);
    size_t n_val = 0;
    if (val_fraction > 0) {
        double v = floor(val_fraction * (double)n);
        n_val = v >= (double)n ? n : (size_t)v;
        if (n_val < T + 1) n_val = T + 1;
    }
    if (n_val > n || n - n_val < T + 1)
        return xf_fail(XF_ERR_SHAPE,
                       "%s: %zu tokens are too few to split with validation fraction %g and "
                       "sequence length %zu: training would get %zu tokens and validation %zu, "
                       "each needs at least %zu",
                       path, n, val_fraction, T, n_val > n ? 0 : n - n_val, n_val, T + 1);
    ds->n_val = n_val;
    ds->n_train = n - n_val;
    return XF_OK;
}

/* Copy the T+1 ids at `start` into inputs (first T) and targets (last T). */
static void window(const xf_dataset *ds, size_t start, size_t T, int32_t *in, int32_t *tg) {
    if (ds->ids) {
        memcpy(in, ds->ids + start, T * sizeof *in);
        memcpy(tg, ds->ids + start + 1, T * sizeof *tg);
        return;
    }
    int32_t prev = get_id(ds, start);
    for (size_t t = 0; t < T; t++) {
        int32_t next = get_id(ds, start + t + 1);
        in[t] = prev;
        tg[t] = next;
        prev = next;
    }
}

void xf_dataset_train_batch(const xf_dataset *ds, xf_rng *rng, size_t B, size_t T,
                            int32_t *inputs, int32_t *targets) {
    if (T == 0 || ds->n_train <= T) {
        /* precondition broken (no successful split): nothing sensible to read */
        memset(inputs, 0, B * T * sizeof *inputs);
        memset(targets, 0, B * T * sizeof *targets);
        return;
    }
    for (size_t b = 0; b < B; b++) {
        size_t start = (size_t)xf_rng_below(rng, (uint64_t)(ds->n_train - T));
        window(ds, start, T, inputs + b * T, targets + b * T);
    }
}

size_t xf_dataset_val_windows(const xf_dataset *ds, size_t T) {
    if (T == 0 || ds->n_val < T + 1) return 0;
    return (ds->n_val - 1) / T;
}

void xf_dataset_val_batch(const xf_dataset *ds, size_t index, size_t B, size_t T,
                          int32_t *inputs, int32_t *targets) {
    size_t nw = xf_dataset_val_windows(ds, T);
    if (nw == 0) {
        memset(inputs, 0, B * T * sizeof *inputs);
        memset(targets, 0, B * T * sizeof *targets);
        return;
    }
    size_t w = xf_mulmod(index % nw, B % nw, nw); /* window of b = 0 */
    for (size_t b = 0; b < B; b++) {
        window(ds, ds->n_train + w * T, T, inputs + b * T, targets + b * T);
        w = w + 1 == nw ? 0 : w + 1;
    }
}

xf_status xf_dataset_copy(const xf_dataset *ds, size_t start, size_t n, int32_t *out) {
    if (start > ds->n || n > ds->n - start)
        return xf_fail(XF_ERR_ARG, "%s: tokens %zu..+%zu are past the end (%zu tokens)", ds->path,
                       start, n, ds->n);
    if (ds->ids) {
        memcpy(out, ds->ids + start, n * sizeof *out);
        return XF_OK;
    }
    for (size_t i = 0; i < n; i++) out[i] = get_id(ds, start + i);
    return XF_OK;
}

/* ---- writing ------------------------------------------------------------------ */

xf_status xf_tokens_write(const char *path, const int32_t *ids, size_t n, size_t vocab_size,
                          uint64_t tok_hash) {
    if (vocab_size == 0 || vocab_size > UINT32_MAX)
        return xf_fail(XF_ERR_ARG, "%s: vocab size %zu is not in [1, 2^32)", path, vocab_size);
    unsigned width = vocab_size <= 65536 ? 2 : 4;
    if (n > (SIZE_MAX - XF_TOKENS_HEADER_BYTES) / width)
        return xf_fail(XF_ERR_OOM, "%s: %zu tokens are too many", path, n);
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= vocab_size)
            return xf_fail(XF_ERR_ARG, "%s: token %zu has id %d, not in [0, %zu)", path, i,
                           (int)ids[i], vocab_size);

    unsigned char head[XF_TOKENS_HEADER_BYTES];
    memset(head, 0, sizeof head);
    memcpy(head + H_MAGIC, XF_TOKENS_MAGIC, strlen(XF_TOKENS_MAGIC));
    wr32(head + H_VERSION, XF_TOKENS_VERSION);
    wr32(head + H_WIDTH, width);
    wr64(head + H_NTOK, (uint64_t)n);
    wr64(head + H_HASH, tok_hash);
    wr32(head + H_VOCAB, (uint32_t)vocab_size);

    xf_afile *f;
    xf_status st = xf_afile_open(&f, path);
    if (st != XF_OK) return st;
    st = xf_afile_write(f, head, sizeof head);
    enum { CHUNK = 16384 };
    unsigned char buf[CHUNK * 4];
    for (size_t i = 0; st == XF_OK && i < n; i += CHUNK) {
        size_t m = n - i < CHUNK ? n - i : CHUNK;
        for (size_t j = 0; j < m; j++) {
            uint32_t v = (uint32_t)ids[i + j];
            if (width == 2) {
                buf[2 * j] = (unsigned char)v;
                buf[2 * j + 1] = (unsigned char)(v >> 8);
            } else {
                wr32(buf + 4 * j, v);
            }
        }
        st = xf_afile_write(f, buf, m * width);
    }
    if (st != XF_OK) {
        xf_afile_abort(f);
        return st;
    }
    return xf_afile_commit(f);
}

/* ---- parallel encoding ---------------------------------------------------------- */

#define ENC_AUTO_CHUNK ((size_t)4 << 20) /* automatic chunks are at least 4 MiB */
#define ENC_CHECK_SPAN 1024              /* bytes each side of a cut that are re-encoded */
#define ENC_MAX_CANDIDATES 16            /* newline cuts tried per boundary */
#define ENC_SEARCH_SPAN ((size_t)1 << 16) /* how far past the target a cut is looked for */

static int same_ids(const int32_t *a, size_t na, const int32_t *b, size_t nb) {
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0);
}

/* 1 if encoding text[lo..hi) whole equals encoding text[lo..p) then text[p..hi),
 * with lo/hi about ENC_CHECK_SPAN bytes from p (kept on UTF-8 character starts). */
static int cut_is_safe(const xf_tokenizer *tok, const char *text, size_t len, size_t lo_limit,
                       size_t p) {
    size_t lo = p - lo_limit > ENC_CHECK_SPAN ? p - ENC_CHECK_SPAN : lo_limit;
    size_t hi = len - p > ENC_CHECK_SPAN ? p + ENC_CHECK_SPAN : len;
    while (lo > lo_limit && ((unsigned char)text[lo] & 0xC0) == 0x80) lo--;
    while (hi < len && ((unsigned char)text[hi] & 0xC0) == 0x80) hi++;
    int32_t *w = NULL, *l = NULL, *r = NULL;
    size_t nw = 0, nl = 0, nr = 0;
    int ok = xf_tokenizer_encode(tok, text + lo, hi - lo, &w, &nw) == XF_OK &&
             xf_tokenizer_encode(tok, text + lo, p - lo, &l, &nl) == XF_OK &&
             xf_tokenizer_encode(tok, text + p, hi - p, &r, &nr) == XF_OK;
    ok = ok && nl + nr == nw && same_ids(w, nl, l, nl) && same_ids(w + nl, nr, r, nr);
    free(w);
    free(l);
    free(r);
    return ok;
}

/* The first of the next ENC_MAX_CANDIDATES positions p in [target, target +
 * ENC_SEARCH_SPAN) just after a '\n' that passes cut_is_safe; 0 if none.
 * Cuts are strictly inside (lo_limit, len). */
static size_t find_cut(const xf_tokenizer *tok, const char *text, size_t len, size_t lo_limit,
                       size_t target) {
    size_t end = len - target > ENC_SEARCH_SPAN ? target + ENC_SEARCH_SPAN : len;
    int tries = 0;
    for (size_t p = target; p < end && tries < ENC_MAX_CANDIDATES; p++) {
        if (p <= lo_limit || text[p - 1] != '\n') continue;
        tries++;
        if (cut_is_safe(tok, text, len, lo_limit, p)) return p;
    }
    return 0;
}

xf_status xf_data_encode(const xf_tokenizer *tok, const char *text, size_t len, const char *name,
                         size_t chunk_bytes, int32_t **ids, size_t *n, xf_progress_fn progress,
                         void *ctx) {
    *ids = NULL;
    *n = 0;
    if (!name) name = "text";
    if (len == 0) {
        *ids = malloc(sizeof **ids);
        if (!*ids) return xf_fail(XF_ERR_OOM, "%s: out of memory", name);
        if (progress) progress(0, 0, ctx);
        return XF_OK;
    }
    int threads = omp_get_max_threads();
    if (chunk_bytes == 0) {
        chunk_bytes = len / (4 * (size_t)(threads > 0 ? threads : 1));
        if (chunk_bytes < ENC_AUTO_CHUNK) chunk_bytes = ENC_AUTO_CHUNK;
    }

    /* cut points: cuts[0] = 0 < cuts[1] < ... < cuts[k] = len */
    size_t cap = 64, k = 0;
    size_t *cuts = malloc(cap * sizeof *cuts);
    if (!cuts) return xf_fail(XF_ERR_OOM, "%s: out of memory", name);
    cuts[0] = 0;
    size_t target = chunk_bytes;
    while (target < len) {
        size_t p = find_cut(tok, text, len, cuts[k], target);
        if (p) {
            if (k + 2 >= cap) {
                size_t *grown = realloc(cuts, 2 * cap * sizeof *cuts);
                if (!grown) {
                    free(cuts);
                    return xf_fail(XF_ERR_OOM, "%s: out of memory", name);
                }
                cuts = grown;
                cap *= 2;
            }
            cuts[++k] = p;
        }
        size_t from = p ? p : target;
        if (chunk_bytes > len - from) break;
        target = from + chunk_bytes;
    }
    cuts[++k] = len;
    size_t nchunks = k;

    int32_t **part = calloc(nchunks, sizeof *part);
    size_t *part_n = calloc(nchunks, sizeof *part_n);
    if (!part || !part_n) {
        free(cuts);
        free(part);
        free(part_n);
        return xf_fail(XF_ERR_OOM, "%s: out of memory", name);
    }
    xf_status first_st = XF_OK;
    size_t first_bad = SIZE_MAX, done = 0;
    char msg[1024] = "";

#pragma omp parallel for schedule(dynamic, 1) if (nchunks > 1)
    for (size_t c = 0; c < nchunks; c++) {
        xf_status st = xf_tokenizer_encode(tok, text + cuts[c], cuts[c + 1] - cuts[c], &part[c],
                                           &part_n[c]);
#pragma omp critical(xf_data_encode)
        {
            if (st != XF_OK && c < first_bad) {
                first_bad = c;
                first_st = st;
                snprintf(msg, sizeof msg, "%s", xf_last_error());
            }
            done += cuts[c + 1] - cuts[c];
            if (progress) progress(done, len, ctx);
        }
    }

    size_t bad_at = first_bad < nchunks ? cuts[first_bad] : 0;
    xf_status st = first_st;
    size_t total = 0;
    for (size_t c = 0; st == XF_OK && c < nchunks; c++) {
        if (part_n[c] > SIZE_MAX / sizeof(int32_t) - total) st = XF_ERR_OOM;
        total += part_n[c];
    }
    int32_t *all = NULL;
    if (st == XF_OK) {
        all = malloc((total ? total : 1) * sizeof *all);
        if (!all) st = XF_ERR_OOM;
    }
    if (st == XF_OK) {
        size_t at = 0;
        for (size_t c = 0; c < nchunks; c++) {
            if (part_n[c]) memcpy(all + at, part[c], part_n[c] * sizeof *all);
            at += part_n[c];
        }
    }
    for (size_t c = 0; c < nchunks; c++) free(part[c]);
    free(part);
    free(part_n);
    free(cuts);
    if (st != XF_OK) {
        if (first_st != XF_OK) {
            if (nchunks > 1)
                return xf_fail(st, "%s: in the text from byte %zu: %s", name, bad_at, msg);
            return xf_fail(st, "%s: %s", name, msg);
        }
        return xf_fail(st, "%s: out of memory for %zu tokens", name, total);
    }
    *ids = all;
    *n = total;
    return XF_OK;
}
