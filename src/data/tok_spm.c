/* xfmr: SentencePiece models: the .model protobuf (BPE as Llama 2's
 * tokenizer.model, Unigram as T5's spiece.model: tok_unigram.c encodes those)
 * and llama2.c's tokenizer.bin, with SentencePiece's BPE encoder.
 *
 * .model (protobuf2 wire format; every length is checked against the bytes
 * left, unknown fields are skipped by wire type, groups are rejected):
 *   ModelProto      1 pieces (repeated SentencePiece), 2 trainer_spec, 3 normalizer_spec
 *   SentencePiece   1 piece (string), 2 score (fixed32 float), 3 type (varint;
 *                   absent = NORMAL 1; 2 UNKNOWN, 3 CONTROL, 4 USER_DEFINED,
 *                   5 UNUSED, 6 BYTE)
 *   ModelProto      5 denormalizer_spec (rules must be empty)
 *   TrainerSpec     3 model_type (1 = UNIGRAM, 2 = BPE; others unsupported), 24
 *                   treat_whitespace_as_suffix (unsupported), 35 byte_fallback,
 *                   41 bos_id, 42 eos_id, 43 pad_id (int32 varints)
 *   NormalizerSpec  1 name, 2 precompiled_charsmap (tok_spmnorm.c),
 *                   3 add_dummy_prefix, 4 remove_extra_whitespaces,
 *                   5 escape_whitespaces (all default true)
 *
 * tokenizer.bin (llama2.c): u32 max_token_length, then until the end of the
 * file: f32 score, i32 len, len bytes. Spaces are real spaces (we store U+2581
 * internally), BOS/EOS are "\n<s>\n" / "\n</s>\n", byte pieces "<0xNN>". It is
 * treated as an identity-normalized BPE model with the dummy prefix.
 *
 * Encoding (sentencepiece 0.1.97 bpe_model.cc + normalizer.cc):
 *   normalize (tok_spmnorm.c): the charsmap's rules; invalid UTF-8 bytes
 *     become U+FFFD (one per byte); with remove_extra_whitespaces,
 *     leading/trailing spaces go and runs collapse; with add_dummy_prefix a
 *     space is prepended to non-empty text; spaces become U+2581.
 *   split into characters (user-defined pieces, longest first, are single
 *     frozen symbols); put every adjacent pair whose concatenation is a
 *     NORMAL/USER_DEFINED/UNUSED piece on a heap keyed by (score desc, left
 *     position asc); pop, merge, push the two new neighbour pairs.
 *   UNUSED results are split back into the pieces they were merged from.
 *   A final symbol that is not a piece becomes its bytes' <0xNN> pieces with
 *     byte_fallback, else <unk> (consecutive unknowns fuse into one <unk>). */
#include <stdlib.h>
#include <string.h>

#include "data/tok_impl.h"

/* ------------------------------------------------------------ protobuf */

typedef struct {
    const unsigned char *p, *end;
} pb;

static int pb_varint(pb *b, uint64_t *v) {
    uint64_t x = 0;
    for (int i = 0; i < 10; i++) {
        if (b->p >= b->end) return -1;
        unsigned char c = *b->p++;
        x |= (uint64_t)(c & 0x7F) << (7 * i);
        if (!(c & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* Next field: *field, *wire; for wire 2 *sub is the payload. Returns 1 at end,
 * 0 ok, -1 malformed. */
static int pb_next(pb *b, uint32_t *field, int *wire, pb *sub, uint64_t *val) {
    if (b->p >= b->end) return 1;
    uint64_t key;
    if (pb_varint(b, &key)) return -1;
    *field = (uint32_t)(key >> 3);
    *wire = (int)(key & 7);
    if (*field == 0 || key >> 3 > 0x1FFFFFFF) return -1;
    switch (*wire) {
    case 0:
        return pb_varint(b, val);
    case 1:
        if (b->end - b->p < 8) return -1;
        memcpy(val, b->p, 8);
        b->p += 8;
        return 0;
    case 2: {
        uint64_t len;
        if (pb_varint(b, &len)) return -1;
        if (len > (uint64_t)(b->end - b->p)) return -1;
        sub->p = b->p;
        sub->end = b->p + len;
        b->p += len;
        return 0;
    }
    case 5: {
        if (b->end - b->p < 4) return -1;
        uint32_t v;
        memcpy(&v, b->p, 4);
        b->p += 4;
        *val = v;
        return 0;
    }
    default:
        return -1; /* groups (3, 4) and invalid wire types */
    }
}

typedef struct {
    const char *s;
    size_t len;
    float score;
    int type;
} spiece;

typedef struct {
    spiece *v;
    size_t n, cap;
    int model_type, byte_fallback, ws_suffix;
    int64_t bos_id, eos_id, pad_id;
    int add_dummy_prefix, remove_extra_ws, escape_ws;
    const unsigned char *charsmap;
    size_t charsmap_len;
    size_t denorm_charsmap_len;
} spm_model;

#define BAD(...) return xf_fail(XF_ERR_FORMAT, __VA_ARGS__)

static xf_status parse_piece(pb *b, spiece *sp, const char *path, size_t idx) {
    sp->s = NULL;
    sp->len = 0;
    sp->score = 0;
    sp->type = TT_NORMAL;
    uint32_t f;
    int w, r;
    pb sub;
    uint64_t v = 0;
    while ((r = pb_next(b, &f, &w, &sub, &v)) == 0) {
        if (f == 1 && w == 2) {
            sp->s = (const char *)sub.p;
            sp->len = (size_t)(sub.end - sub.p);
        } else if (f == 2 && w == 5) {
            uint32_t bits = (uint32_t)v;
            memcpy(&sp->score, &bits, 4);
        } else if (f == 3 && w == 0) {
            if (v < 1 || v > 6) BAD("%s: piece %zu has unknown type %llu", path, idx, (unsigned long long)v);
            sp->type = (int)v;
        } else if (f <= 3) {
            BAD("%s: piece %zu: field %u has wire type %d", path, idx, f, w);
        }
    }
    if (r < 0) BAD("%s: piece %zu is truncated or malformed", path, idx);
    if (!sp->s || sp->len == 0) BAD("%s: piece %zu has an empty string", path, idx);
    if (sp->len > TOK_MAX_TOKEN_BYTES) BAD("%s: piece %zu is longer than %d bytes", path, idx, TOK_MAX_TOKEN_BYTES);
    if (sp->score != sp->score) BAD("%s: piece %zu has a NaN score", path, idx);
    return XF_OK;
}

static xf_status parse_trainer(pb *b, spm_model *m, const char *path) {
    uint32_t f;
    int w, r;
    pb sub;
    uint64_t v = 0;
    while ((r = pb_next(b, &f, &w, &sub, &v)) == 0) {
        if (w != 0) continue;
        switch (f) {
        case 3: m->model_type = (int)(v > 100 ? 100 : v); break;
        case 24: m->ws_suffix = v != 0; break;
        case 35: m->byte_fallback = v != 0; break;
        case 41: m->bos_id = (int32_t)(uint32_t)v; break;
        case 42: m->eos_id = (int32_t)(uint32_t)v; break;
        case 43: m->pad_id = (int32_t)(uint32_t)v; break;
        default: break;
        }
    }
    if (r < 0) BAD("%s: trainer_spec is truncated or malformed", path);
    return XF_OK;
}

static xf_status parse_normalizer(pb *b, spm_model *m, const char *path) {
    uint32_t f;
    int w, r;
    pb sub;
    uint64_t v = 0;
    while ((r = pb_next(b, &f, &w, &sub, &v)) == 0) {
        if (f == 2 && w == 2) {
            m->charsmap = sub.p;
            m->charsmap_len = (size_t)(sub.end - sub.p);
        }
        else if (f == 3 && w == 0) m->add_dummy_prefix = v != 0;
        else if (f == 4 && w == 0) m->remove_extra_ws = v != 0;
        else if (f == 5 && w == 0) m->escape_ws = v != 0;
    }
    if (r < 0) BAD("%s: normalizer_spec is truncated or malformed", path);
    return XF_OK;
}

/* "<0xNN>" (uppercase or lowercase hex) -> byte, else -1 */
static int byte_piece(const char *s, size_t len) {
    if (len != 6 || s[0] != '<' || s[1] != '0' || s[2] != 'x' || s[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = s[i];
        int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'A' && c <= 'F') ? c - 'A' + 10
              : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

static const char k_unk_text[] = " \xE2\x81\x87 "; /* " ⁇ " */
static int spm_segmentable(const xf_tokenizer *t);

/* Build the tokenizer from parsed pieces (pieces already use U+2581). */
static xf_status build_spm(xf_tokenizer **out, const spm_model *m, int src, const char *data,
                           size_t len, const char *path) {
    *out = NULL;
    if (m->n == 0) BAD("%s: no pieces", path);
    xf_tokenizer *t;
    xf_status s = tok_alloc(&t, m->model_type == 1 ? TOK_UNIGRAM : TOK_SPM, m->n);
    if (s) return s;
    t->spm_src = src;
    t->add_dummy_prefix = m->add_dummy_prefix;
    t->remove_extra_ws = m->remove_extra_ws;
    t->escape_ws = m->escape_ws;
    t->byte_fallback = m->byte_fallback;
    t->score = malloc(m->n * sizeof *t->score);
    char *raw = malloc(TOK_MAX_TOKEN_BYTES + 1);
    if (!t->score || !raw) {
        free(raw);
        xf_tokenizer_free(t);
        return xf_fail(XF_ERR_OOM, "out of memory");
    }
    for (size_t i = 0; i < m->n && !s; i++) {
        const spiece *p = &m->v[i];
        t->score[i] = p->score;
        size_t rl = 0;
        switch (p->type) {
        case TT_CONTROL: break;
        case TT_UNKNOWN:
            memcpy(raw, k_unk_text, sizeof k_unk_text - 1);
            rl = sizeof k_unk_text - 1;
            if (t->unk_id < 0) t->unk_id = (int32_t)i;
            break;
        case TT_BYTE: {
            int b = byte_piece(p->s, p->len);
            if (b < 0) {
                s = xf_fail(XF_ERR_FORMAT, "%s: byte piece %zu is not <0xNN>", path, i);
                break;
            }
            if (t->spm_byte[b] < 0) t->spm_byte[b] = (int32_t)i;
            raw[0] = (char)b;
            rl = 1;
            break;
        }
        default: /* U+2581 -> space */
            for (size_t j = 0; j < p->len;) {
                if (j + 3 <= p->len && memcmp(p->s + j, "\xE2\x96\x81", 3) == 0) {
                    raw[rl++] = ' ';
                    j += 3;
                } else {
                    raw[rl++] = p->s[j++];
                }
            }
        }
        if (!s) s = tok_set(t, i, p->s, p->len, raw, rl, p->type);
    }
    free(raw);
    if (!s && t->unk_id < 0) s = xf_fail(XF_ERR_FORMAT, "%s: no <unk> (UNKNOWN) piece", path);
    if (!s && m->byte_fallback)
        for (int b = 0; b < 256 && !s; b++)
            if (t->spm_byte[b] < 0) s = xf_fail(XF_ERR_FORMAT, "%s: byte_fallback without piece <0x%02X>", path, b);
    if (!s) {
        t->special[XF_TOK_UNK] = t->unk_id;
        if (m->bos_id >= 0 && (size_t)m->bos_id < m->n) t->special[XF_TOK_BOS] = (int32_t)m->bos_id;
        if (m->eos_id >= 0 && (size_t)m->eos_id < m->n) t->special[XF_TOK_EOS] = (int32_t)m->eos_id;
        if (m->pad_id >= 0 && (size_t)m->pad_id < m->n) t->special[XF_TOK_PAD] = (int32_t)m->pad_id;
        s = tok_finish(t, path);
    }
    for (size_t i = 0; i < m->n && !s; i++)
        if (t->type[i] == TT_USER) {
            t->has_user = 1;
            if (t->piece_len[i] > t->user_max) t->user_max = t->piece_len[i];
            unsigned char c0 = (unsigned char)tok_piece(t, i)[0];
            t->user_first[c0 >> 3] |= (uint8_t)(1u << (c0 & 7));
        }
    if (!s) s = tok_charsmap_init(&t->cmap, m->charsmap, m->charsmap_len, path);
    if (!s && t->kind == TOK_UNIGRAM) s = tok_unigram_prepare(t, path);
    if (!s) t->spm_segment = t->kind == TOK_SPM && spm_segmentable(t);
    if (!s) {
        t->src_data = malloc(len ? len : 1);
        if (!t->src_data) s = xf_fail(XF_ERR_OOM, "out of memory");
        else {
            if (len) memcpy(t->src_data, data, len);
            t->src_len = len;
        }
    }
    if (s) {
        xf_tokenizer_free(t);
        return s;
    }
    tok_seal(t);
    *out = t;
    return XF_OK;
}

static xf_status push_piece(spm_model *m, const spiece *p) {
    if (m->n == m->cap) {
        size_t c = m->cap ? m->cap * 2 : 1024;
        if (c > TOK_MAX_VOCAB) c = TOK_MAX_VOCAB;
        if (m->n >= c) return xf_fail(XF_ERR_FORMAT, "more than %zu pieces", TOK_MAX_VOCAB);
        spiece *v = realloc(m->v, c * sizeof *v);
        if (!v) return xf_fail(XF_ERR_OOM, "out of memory for pieces");
        m->v = v;
        m->cap = c;
    }
    m->v[m->n++] = *p;
    return XF_OK;
}

xf_status tok_spm_parse_model(xf_tokenizer **out, const char *data, size_t len, const char *path) {
    *out = NULL;
    spm_model m;
    memset(&m, 0, sizeof m);
    m.model_type = 1; /* protobuf default: UNIGRAM */
    m.bos_id = 1;
    m.eos_id = 2;
    m.pad_id = -1;
    m.add_dummy_prefix = m.remove_extra_ws = m.escape_ws = 1;
    pb b = {(const unsigned char *)data, (const unsigned char *)data + len};
    uint32_t f;
    int w, r;
    pb sub;
    uint64_t v = 0;
    xf_status s = XF_OK;
    while (!s && (r = pb_next(&b, &f, &w, &sub, &v)) == 0) {
        if (f == 1 && w == 2) {
            spiece sp;
            s = parse_piece(&sub, &sp, path, m.n);
            if (!s) s = push_piece(&m, &sp);
        } else if (f == 2 && w == 2) {
            s = parse_trainer(&sub, &m, path);
        } else if (f == 3 && w == 2) {
            s = parse_normalizer(&sub, &m, path);
        } else if (f == 5 && w == 2) {
            /* denormalizer_spec: only its rules matter (decoding) */
            spm_model d;
            memset(&d, 0, sizeof d);
            s = parse_normalizer(&sub, &d, path);
            m.denorm_charsmap_len = d.charsmap_len;
        } else if (f <= 3) {
            s = xf_fail(XF_ERR_FORMAT, "%s: field %u has wire type %d", path, f, w);
        }
    }
    if (!s && r < 0) s = xf_fail(XF_ERR_FORMAT, "%s: truncated or malformed protobuf", path);
    if (!s && m.model_type != 1 && m.model_type != 2)
        s = xf_fail(XF_ERR_UNSUPPORTED, "%s: model_type %d is not supported (UNIGRAM = 1 and BPE = 2 are; WORD and CHAR are not)",
                    path, m.model_type);
    if (!s && m.ws_suffix) s = xf_fail(XF_ERR_UNSUPPORTED, "%s: treat_whitespace_as_suffix is not supported", path);
    if (!s && m.denorm_charsmap_len)
        s = xf_fail(XF_ERR_UNSUPPORTED, "%s: denormalization rules (denormalizer_spec) are not supported", path);
    if (!s) s = build_spm(out, &m, SPM_SRC_MODEL, data, len, path);
    free(m.v);
    return s;
}

xf_status tok_spm_parse_bin(xf_tokenizer **out, const char *data, size_t len, const char *path) {
    *out = NULL;
    if (len < 4) BAD("%s: too short for a tokenizer.bin header", path);
    uint32_t maxlen;
    memcpy(&maxlen, data, 4);
    if (maxlen == 0 || maxlen > TOK_MAX_TOKEN_BYTES)
        BAD("%s: max_token_length %u out of range [1, %d]", path, maxlen, TOK_MAX_TOKEN_BYTES);
    spm_model m;
    memset(&m, 0, sizeof m);
    m.add_dummy_prefix = 1;
    m.escape_ws = 1;
    m.bos_id = m.eos_id = m.pad_id = -1;
    /* pieces are rewritten (space -> U+2581), so they need their own storage */
    size_t cap = 3 * (len - 4) + 16, used = 0;
    char *store = malloc(cap);
    if (!store) return xf_fail(XF_ERR_OOM, "out of memory");
    xf_status s = XF_OK;
    size_t pos = 4;
    int nbytes = 0;
    while (!s && pos < len) {
        size_t id = m.n;
        if (len - pos < 8) {
            s = xf_fail(XF_ERR_FORMAT, "%s: entry %zu truncated (%zu bytes left)", path, id, len - pos);
            break;
        }
        float score;
        int32_t l;
        memcpy(&score, data + pos, 4);
        memcpy(&l, data + pos + 4, 4);
        pos += 8;
        if (l <= 0 || (uint32_t)l > maxlen || (size_t)l > len - pos) {
            s = xf_fail(XF_ERR_FORMAT, "%s: entry %zu has length %ld (max %u, %zu bytes left)", path, id,
                        (long)l, maxlen, len - pos);
            break;
        }
        if (score != score) {
            s = xf_fail(XF_ERR_FORMAT, "%s: entry %zu has a NaN score", path, id);
            break;
        }
        const char *p = data + pos;
        pos += (size_t)l;
        spiece sp = {store + used, 0, score, TT_NORMAL};
        if (l == 5 && memcmp(p, "\n<s>\n", 5) == 0) {
            memcpy(store + used, "<s>", 3);
            sp.len = 3;
            sp.type = TT_CONTROL;
            if (m.bos_id < 0) m.bos_id = (int64_t)id;
        } else if (l == 6 && memcmp(p, "\n</s>\n", 6) == 0) {
            memcpy(store + used, "</s>", 4);
            sp.len = 4;
            sp.type = TT_CONTROL;
            if (m.eos_id < 0) m.eos_id = (int64_t)id;
        } else if (l == 5 && memcmp(p, "<unk>", 5) == 0) {
            memcpy(store + used, p, 5);
            sp.len = 5;
            sp.type = TT_UNKNOWN;
        } else if (byte_piece(p, (size_t)l) >= 0) {
            memcpy(store + used, p, (size_t)l);
            sp.len = (size_t)l;
            sp.type = TT_BYTE;
            nbytes++;
        } else {
            for (int32_t j = 0; j < l; j++) {
                if (p[j] == ' ') {
                    memcpy(store + used + sp.len, "\xE2\x96\x81", 3);
                    sp.len += 3;
                } else {
                    store[used + sp.len++] = p[j];
                }
            }
        }
        if (sp.len > TOK_MAX_TOKEN_BYTES) {
            s = xf_fail(XF_ERR_FORMAT, "%s: entry %zu is too long", path, id);
            break;
        }
        used += sp.len;
        s = push_piece(&m, &sp);
    }
    m.byte_fallback = nbytes > 0;
    if (!s) s = build_spm(out, &m, SPM_SRC_BIN, data, len, path);
    free(store);
    free(m.v);
    return s;
}

/* ------------------------------------------------------------- encoding */

typedef struct {
    char *p;
    size_t n, cap;
} nbuf;

static const char k_ws[] = "\xE2\x96\x81"; /* U+2581 */

typedef struct {
    size_t start;
    uint32_t len;
    int32_t prev, next;
    int frozen;
} sym_t;

typedef struct {
    float score;
    int32_t left, right;
    uint32_t size;
} agenda_t;

static int ag_better(const agenda_t *a, const agenda_t *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

typedef struct {
    agenda_t *h;
    size_t n, cap;
} agenda;

static int ag_push(agenda *q, agenda_t e) {
    if (q->n == q->cap) {
        size_t c = q->cap ? q->cap * 2 : 1024;
        agenda_t *h = realloc(q->h, c * sizeof *h);
        if (!h) return -1;
        q->h = h;
        q->cap = c;
    }
    size_t i = q->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!ag_better(&e, &q->h[p])) break;
        q->h[i] = q->h[p];
        i = p;
    }
    q->h[i] = e;
    return 0;
}

static agenda_t ag_pop(agenda *q) {
    agenda_t top = q->h[0], last = q->h[--q->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= q->n) break;
        if (c + 1 < q->n && ag_better(&q->h[c + 1], &q->h[c])) c++;
        if (!ag_better(&q->h[c], &last)) break;
        q->h[i] = q->h[c];
        i = c;
    }
    if (q->n) q->h[i] = last;
    return top;
}

static int mergeable(int type) { return type == TT_NORMAL || type == TT_USER || type == TT_UNUSED; }

typedef struct {
    const xf_tokenizer *t;
    const char *norm;
    sym_t *sym;
    agenda q;
    /* merges that produced UNUSED pieces: (start, len, left_len) */
    size_t (*unused)[3];
    size_t n_unused, cap_unused;
    int oom;
} spm_enc;

static void maybe_add(spm_enc *e, int32_t l, int32_t r) {
    if (l < 0 || r < 0 || e->sym[l].frozen || e->sym[r].frozen) return;
    size_t size = (size_t)e->sym[l].len + e->sym[r].len;
    if (size > TOK_MAX_TOKEN_BYTES) return;
    int32_t id = tok_find(e->t, e->norm + e->sym[l].start, size);
    if (id < 0 || !mergeable(e->t->type[id])) return;
    if (ag_push(&e->q, (agenda_t){e->t->score[id], l, r, (uint32_t)size})) e->oom = 1;
}

static xf_status emit_bytes(const xf_tokenizer *t, tok_ivec *out, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        xf_status st = tok_ivec_push(out, t->spm_byte[(unsigned char)s[i]]);
        if (st) return st;
    }
    return XF_OK;
}

/* Append the ids of one final symbol [s, s+n), splitting UNUSED pieces. */
static xf_status emit(spm_enc *e, tok_ivec *out, size_t start, size_t n, int *prev_unk, int depth) {
    const xf_tokenizer *t = e->t;
    int32_t id = tok_find(t, e->norm + start, n);
    if (id >= 0 && t->type[id] == TT_UNUSED && depth < 64) {
        for (size_t k = e->n_unused; k-- > 0;)
            if (e->unused[k][0] == start && e->unused[k][1] == n) {
                size_t ll = e->unused[k][2];
                xf_status st = emit(e, out, start, ll, prev_unk, depth + 1);
                if (!st) st = emit(e, out, start + ll, n - ll, prev_unk, depth + 1);
                return st;
            }
    }
    if (id >= 0) {
        *prev_unk = 0;
        return tok_ivec_push(out, id);
    }
    if (t->byte_fallback) {
        *prev_unk = 0;
        return emit_bytes(t, out, e->norm + start, n);
    }
    if (*prev_unk) return XF_OK; /* fused into the previous <unk> */
    *prev_unk = 1;
    return tok_ivec_push(out, t->unk_id);
}

/* Merge the symbols of one segment norm[start, start+len) and append its ids. */
static xf_status encode_segment(spm_enc *e, size_t start, size_t len, tok_ivec *out,
                                int *prev_unk) {
    const xf_tokenizer *t = e->t;
    const char *s = e->norm + start;
    size_t nsym = 0;
    e->q.n = 0;
    e->n_unused = 0;
    /* symbols: characters, or user-defined pieces (longest match, frozen) */
    for (size_t i = 0; i < len;) {
        size_t l = tok_utf8_char_len((const unsigned char *)s + i, len - i);
        if (l == 0) l = 1; /* cannot happen after normalize */
        int frozen = 0;
        if (t->has_user) {
            size_t best = 0, lim = len - i < TOK_MAX_TOKEN_BYTES ? len - i : TOK_MAX_TOKEN_BYTES;
            for (size_t k = 1; k <= lim; k++) {
                int32_t id = tok_find(t, s + i, k);
                if (id >= 0 && t->type[id] == TT_USER) best = k;
            }
            if (best) {
                l = best;
                frozen = 1;
            }
        }
        e->sym[nsym] = (sym_t){start + i, (uint32_t)l, (int32_t)nsym - 1, -1, frozen};
        if (nsym) e->sym[nsym - 1].next = (int32_t)nsym;
        nsym++;
        i += l;
    }
    for (size_t i = 1; i < nsym; i++) maybe_add(e, (int32_t)i - 1, (int32_t)i);
    while (e->q.n && !e->oom) {
        agenda_t top = ag_pop(&e->q);
        sym_t *L = &e->sym[top.left], *R = &e->sym[top.right];
        if (L->len == 0 || R->len == 0 || (size_t)L->len + R->len != top.size || L->next != top.right)
            continue;
        int32_t id = tok_find(t, e->norm + L->start, top.size);
        if (id >= 0 && t->type[id] == TT_UNUSED) {
            if (e->n_unused == e->cap_unused) {
                size_t c = e->cap_unused ? e->cap_unused * 2 : 64;
                size_t(*u)[3] = realloc(e->unused, c * sizeof *u);
                if (!u) {
                    e->oom = 1;
                    break;
                }
                e->unused = u;
                e->cap_unused = c;
            }
            e->unused[e->n_unused][0] = L->start;
            e->unused[e->n_unused][1] = top.size;
            e->unused[e->n_unused][2] = L->len;
            e->n_unused++;
        }
        L->len = top.size;
        L->next = R->next;
        if (R->next >= 0) e->sym[R->next].prev = top.left;
        R->len = 0;
        maybe_add(e, L->prev, top.left);
        maybe_add(e, top.left, L->next);
    }
    if (e->oom) return xf_fail(XF_ERR_OOM, "out of memory encoding");
    xf_status st = XF_OK;
    for (int32_t i = nsym ? 0 : -1; i >= 0 && !st; i = e->sym[i].next)
        st = emit(e, out, e->sym[i].start, e->sym[i].len, prev_unk, 0);
    return st;
}

/* Segments: when no mergeable piece has U+2581 after a non-U+2581 character
 * (true for Llama 2), no symbol can ever span the point before a U+2581 that
 * follows another character, so the text is encoded segment by segment
 * (same ids; smaller heaps) and segment results are cached per call. */
static int spm_segmentable(const xf_tokenizer *t) {
    if (!t->escape_ws) return 0;
    for (size_t id = 0; id < t->n; id++) {
        if (!mergeable(t->type[id])) continue;
        const char *p = tok_piece(t, id);
        size_t l = t->piece_len[id], i = 0;
        while (i + 3 <= l && memcmp(p + i, k_ws, 3) == 0) i += 3;
        for (; i + 3 <= l; i++)
            if (memcmp(p + i, k_ws, 3) == 0) return 0;
    }
    return 1;
}

/* 1 if a segment starts at byte i of s[0..n): U+2581 not preceded by U+2581 */
static inline int seg_start(const char *s, size_t n, size_t i) {
    const unsigned char *u = (const unsigned char *)s;
    if (i < 3 || i + 3 > n || u[i] != 0xE2 || u[i + 1] != 0x96 || u[i + 2] != 0x81) return 0;
    return !(u[i - 3] == 0xE2 && u[i - 2] == 0x96 && u[i - 1] == 0x81);
}

#define SEG_CACHE_KEY 64
#define SEG_CACHE_MAX ((size_t)1 << 20)

typedef struct {
    uint64_t h;
    size_t key;      /* offset into norm of one occurrence */
    uint32_t ids;    /* offset into the ids store */
    uint16_t len, n; /* key length (0 = empty), id count */
} seg_ent;

typedef struct {
    seg_ent *tab;
    size_t cap, used;
    tok_ivec ids;
} seg_cache;

static int seg_grow(seg_cache *c) {
    size_t nc = c->cap ? c->cap * 2 : 1 << 14;
    seg_ent *nt = calloc(nc, sizeof *nt);
    if (!nt) return -1;
    for (size_t i = 0; i < c->cap; i++) {
        if (!c->tab[i].len) continue;
        size_t j = (size_t)c->tab[i].h & (nc - 1);
        while (nt[j].len) j = (j + 1) & (nc - 1);
        nt[j] = c->tab[i];
    }
    free(c->tab);
    c->tab = nt;
    c->cap = nc;
    return 0;
}

/* Append the cached ids of a segment, applying <unk> fusion at its start. */
static xf_status append_cached(const xf_tokenizer *t, tok_ivec *out, const int32_t *v, size_t n,
                               int *prev_unk) {
    if (n == 0) return XF_OK;
    size_t k = 0;
    if (*prev_unk && !t->byte_fallback && v[0] == t->unk_id) k = 1;
    xf_status st = tok_ivec_reserve(out, n - k);
    if (st) return st;
    memcpy(out->v + out->n, v + k, (n - k) * sizeof *v);
    out->n += n - k;
    *prev_unk = !t->byte_fallback && v[n - 1] == t->unk_id;
    return XF_OK;
}

xf_status tok_spm_encode(const xf_tokenizer *t, const char *text, size_t len, int32_t **ids,
                         size_t *n) {
    nbuf nb = {0};
    tok_ivec out = {0};
    spm_enc e;
    memset(&e, 0, sizeof e);
    e.t = t;
    seg_cache cache;
    memset(&cache, 0, sizeof cache);
    xf_status st = XF_OK;
    st = tok_spm_normalize(t, text, len, &nb.p, &nb.n);
    if (st) goto done;
    e.norm = nb.p;
    if (nb.n > (size_t)INT32_MAX) {
        st = xf_fail(XF_ERR_ARG, "text too long for one SentencePiece encode call (%zu bytes)", len);
        goto done;
    }
    int segmented = t->spm_segment;
    int use_cache = segmented && nb.n >= 4096;
    /* symbol storage: the longest segment (whole text when not segmented) */
    size_t maxseg = nb.n;
    if (segmented) {
        maxseg = 0;
        for (size_t a = 0, i = 3; i <= nb.n; i++)
            if (i == nb.n || seg_start(nb.p, nb.n, i)) {
                if (i - a > maxseg) maxseg = i - a;
                a = i;
            }
    }
    e.sym = malloc((maxseg ? maxseg : 1) * sizeof *e.sym);
    if (!e.sym || tok_ivec_reserve(&out, nb.n / 3 + 16)) {
        st = xf_fail(XF_ERR_OOM, "out of memory encoding %zu bytes", len);
        goto done;
    }
    int prev_unk = 0;
    size_t a = 0;
    for (size_t i = segmented ? 3 : nb.n; a < nb.n && !st; i++) {
        if (i < nb.n && !seg_start(nb.p, nb.n, i)) continue;
        size_t sl = i - a;
        seg_ent *ce = NULL;
        uint64_t h = 0;
        if (use_cache && sl <= SEG_CACHE_KEY) {
            if (!cache.cap && seg_grow(&cache)) {
                st = xf_fail(XF_ERR_OOM, "out of memory for the segment cache");
                break;
            }
            h = tok_str_hash(nb.p + a, sl);
            size_t j = (size_t)h & (cache.cap - 1);
            while (cache.tab[j].len &&
                   !(cache.tab[j].h == h && cache.tab[j].len == sl &&
                     memcmp(nb.p + cache.tab[j].key, nb.p + a, sl) == 0))
                j = (j + 1) & (cache.cap - 1);
            ce = &cache.tab[j];
            if (ce->len) {
                st = append_cached(t, &out, cache.ids.v + ce->ids, ce->n, &prev_unk);
                a = i;
                continue;
            }
        }
        size_t before = out.n;
        int fused_start = prev_unk;
        st = encode_segment(&e, a, sl, &out, &prev_unk);
        size_t m = out.n - before;
        /* cache only results that do not depend on the previous segment */
        if (!st && ce && !(fused_start && !t->byte_fallback) && m <= 0xFFFF && cache.used < SEG_CACHE_MAX &&
            cache.ids.n + m < UINT32_MAX && tok_ivec_reserve(&cache.ids, m) == XF_OK) {
            memcpy(cache.ids.v + cache.ids.n, out.v + before, m * sizeof(int32_t));
            *ce = (seg_ent){h, a, (uint32_t)cache.ids.n, (uint16_t)sl, (uint16_t)m};
            cache.ids.n += m;
            cache.used++;
            if (cache.used * 2 > cache.cap && seg_grow(&cache)) use_cache = 0;
        }
        xf_clear_error();
        a = i;
    }
done:
    free(nb.p);
    free(e.sym);
    free(e.q.h);
    free(e.unused);
    free(cache.tab);
    free(cache.ids.v);
    if (st) {
        free(out.v);
        return st;
    }
    if (!out.v) {
        out.v = malloc(sizeof(int32_t));
        if (!out.v) return xf_fail(XF_ERR_OOM, "out of memory");
    }
    *ids = out.v;
    *n = out.n;
    return XF_OK;
}
