/* xfmr: fast reading of a BPE tokenizer.json's two big members, model.vocab
 * ({"piece": id, ...}) and model.merges (["a b", ...] or [["a", "b"], ...]).
 *
 * A general JSON tree of a 33 MB file (Gemma 3: 262k pieces, 515k merges)
 * costs millions of small allocations; here one pass skims the document
 * (strings and nesting only) to find the two members' byte ranges, the
 * document is handed to cJSON with those ranges blanked to {} and [] (so
 * cJSON sees everything else, small), and the two are decoded straight
 * into one string pool. Any syntax error in them is reported as cJSON would
 * have: the file is not valid JSON. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/tok_json_fast.h"

static size_t skip_ws(const char *s, size_t n, size_t i) {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    return i;
}

/* s[i] == '"': index just past the closing quote, or 0 on error */
static size_t skip_string(const char *s, size_t n, size_t i) {
    /* the closing quote is the first one not escaped by an odd run of backslashes */
    for (i++; i < n;) {
        const char *q = memchr(s + i, '"', n - i);
        if (!q) return 0;
        size_t k = (size_t)(q - s), b = 0;
        while (k - b > i && s[k - b - 1] == '\\') b++;
        if (b % 2 == 0) return k + 1;
        i = k + 1;
    }
    return 0;
}

/* end of the value starting at s[i] (any type), 0 on error; depth-limited */
static size_t skip_value(const char *s, size_t n, size_t i) {
    if (i >= n) return 0;
    if (s[i] == '"') return skip_string(s, n, i);
    if (s[i] != '{' && s[i] != '[') {
        while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\n' &&
               s[i] != '\t' && s[i] != '\r')
            i++;
        return i;
    }
    size_t depth = 0;
    for (; i < n; i++) {
        char c = s[i];
        if (c == '"') {
            size_t e = skip_string(s, n, i);
            if (!e) return 0;
            i = e - 1;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (--depth == 0) return i + 1;
        }
    }
    return 0;
}

/* Within the object at s[i] == '{', call for each key: the key's raw bytes
 * (between quotes) and the value's range. Returns the end of the object or 0. */
typedef void (*member_fn)(void *ctx, const char *key, size_t klen, size_t vs, size_t ve);

static size_t each_member(const char *s, size_t n, size_t i, member_fn fn, void *ctx) {
    if (i >= n || s[i] != '{') return 0;
    i = skip_ws(s, n, i + 1);
    if (i < n && s[i] == '}') return i + 1;
    for (;;) {
        if (i >= n || s[i] != '"') return 0;
        size_t ke = skip_string(s, n, i);
        if (!ke) return 0;
        size_t v = skip_ws(s, n, ke);
        if (v >= n || s[v] != ':') return 0;
        v = skip_ws(s, n, v + 1);
        size_t ve = skip_value(s, n, v);
        if (!ve) return 0;
        fn(ctx, s + i + 1, ke - i - 2, v, ve);
        i = skip_ws(s, n, ve);
        if (i < n && s[i] == ',') {
            i = skip_ws(s, n, i + 1);
            continue;
        }
        if (i < n && s[i] == '}') return i + 1;
        return 0;
    }
}

typedef struct {
    const char *s;
    size_t n;
    size_t model_s, model_e;
    size_t vocab_s, vocab_e, merges_s, merges_e;
    int bpe;
} scan;

static void on_model_member(void *ctx, const char *k, size_t kl, size_t vs, size_t ve) {
    scan *c = ctx;
    if (kl == 5 && !memcmp(k, "vocab", 5) && c->s[vs] == '{') {
        c->vocab_s = vs;
        c->vocab_e = ve;
    } else if (kl == 6 && !memcmp(k, "merges", 6) && c->s[vs] == '[') {
        c->merges_s = vs;
        c->merges_e = ve;
    } else if (kl == 4 && !memcmp(k, "type", 4)) {
        c->bpe = ve - vs == 5 && !memcmp(c->s + vs, "\"BPE\"", 5);
    }
}

static void on_root_member(void *ctx, const char *k, size_t kl, size_t vs, size_t ve) {
    scan *c = ctx;
    if (kl == 5 && !memcmp(k, "model", 5) && c->s[vs] == '{') {
        c->model_s = vs;
        c->model_e = ve;
    }
}

static int hexv(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decode the JSON string at s[i] == '"' into out (NUL-terminated); returns the
 * index past it or 0 (bad escape, control character, \u0000, lone surrogate). */
static size_t decode_string(const char *s, size_t n, size_t i, char *out, size_t *olen) {
    size_t o = 0;
    for (i++; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"') {
            out[o] = '\0';
            *olen = o;
            return i + 1;
        }
        if (c < 0x20) return 0;
        if (c != '\\') {
            out[o++] = (char)c;
            continue;
        }
        if (++i >= n) return 0;
        switch (s[i]) {
        case '"': out[o++] = '"'; break;
        case '\\': out[o++] = '\\'; break;
        case '/': out[o++] = '/'; break;
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'u': {
            uint32_t cp = 0;
            for (int k = 1; k <= 4; k++) {
                int h = i + (size_t)k < n ? hexv(s[i + k]) : -1;
                if (h < 0) return 0;
                cp = cp << 4 | (uint32_t)h;
            }
            i += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF) return 0;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                uint32_t lo = 0;
                if (i + 6 >= n || s[i + 1] != '\\' || s[i + 2] != 'u') return 0;
                for (int k = 3; k <= 6; k++) {
                    int h = hexv(s[i + k]);
                    if (h < 0) return 0;
                    lo = lo << 4 | (uint32_t)h;
                }
                if (lo < 0xDC00 || lo > 0xDFFF) return 0;
                i += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (cp == 0) return 0;
            /* a \u escape is at least 6 bytes and yields at most 4 */
            o += tok_utf8_put(out + o, cp);
            break;
        }
        default:
            return 0;
        }
    }
    return 0;
}

void tok_json_fast_free(tok_json_fast *f) {
    free(f->rest);
    free(f->pool);
    free(f->piece);
    free(f->id_num);
    free(f->ma);
    free(f->mb);
    memset(f, 0, sizeof *f);
}

static xf_status bad(const char *path) { return xf_fail(XF_ERR_FORMAT, "%s: not valid JSON", path); }

xf_status tok_json_fast_split(const char *data, size_t len, tok_json_fast *f, const char *path) {
    memset(f, 0, sizeof *f);
    scan c = {data, len, 0, 0, 0, 0, 0, 0, 0};
    size_t i = skip_ws(data, len, 0);
    if (i >= len || data[i] != '{' || !each_member(data, len, i, on_root_member, &c) || !c.model_e)
        return XF_OK; /* not the expected shape: cJSON reads it all and says why */
    if (!each_member(data, len, c.model_s, on_model_member, &c) || !c.bpe) return XF_OK;
    size_t span = (c.vocab_e - c.vocab_s) + (c.merges_e - c.merges_s);
    if (!c.vocab_e && !c.merges_e) return XF_OK;
    f->pool = malloc(span + 2);
    if (!f->pool) {
        tok_json_fast_free(f);
        return xf_fail(XF_ERR_OOM, "out of memory reading %s", path);
    }
    size_t po = 0;
    xf_status st = XF_OK;
    if (c.vocab_e) {
        /* count entries (upper bound: commas + 1) */
        size_t cap = 1;
        for (size_t k = c.vocab_s; k < c.vocab_e; k++) cap += data[k] == ',';
        f->piece = malloc(cap * sizeof *f->piece);
        f->id_num = malloc(cap * sizeof *f->id_num);
        if (!f->piece || !f->id_num) {
            tok_json_fast_free(f);
            return xf_fail(XF_ERR_OOM, "out of memory reading %s", path);
        }
        size_t k = skip_ws(data, c.vocab_e, c.vocab_s + 1);
        while (!st && k < c.vocab_e && data[k] != '}') {
            size_t pl;
            size_t e = data[k] == '"' ? decode_string(data, c.vocab_e, k, f->pool + po, &pl) : 0;
            if (!e) {
                st = bad(path);
                break;
            }
            k = skip_ws(data, c.vocab_e, e);
            if (k >= c.vocab_e || data[k] != ':') {
                st = bad(path);
                break;
            }
            k = skip_ws(data, c.vocab_e, k + 1);
            size_t ne = k;
            while (ne < c.vocab_e && strchr("-+.0123456789eE", data[ne]) && data[ne]) ne++;
            char num[40];
            if (ne == k || ne - k >= sizeof num) {
                /* not a number: leave the whole vocab to cJSON for its message */
                f->n_vocab = 0;
                c.vocab_e = 0;
                break;
            }
            memcpy(num, data + k, ne - k);
            num[ne - k] = '\0';
            char *endp;
            double d = strtod(num, &endp);
            if (*endp) {
                st = bad(path);
                break;
            }
            f->piece[f->n_vocab] = f->pool + po;
            f->id_num[f->n_vocab++] = d;
            po += pl + 1;
            k = skip_ws(data, c.vocab_e, ne);
            if (k < c.vocab_e && data[k] == ',') k = skip_ws(data, c.vocab_e, k + 1);
            else if (k < c.vocab_e && data[k] != '}') st = bad(path);
        }
        if (!st && c.vocab_e) f->have_vocab = 1;
    }
    if (!st && c.merges_e) {
        size_t cap = 1;
        for (size_t k = c.merges_s; k < c.merges_e; k++) cap += data[k] == ',';
        f->ma = malloc(cap * sizeof *f->ma);
        f->mb = malloc(cap * sizeof *f->mb);
        if (!f->ma || !f->mb) {
            tok_json_fast_free(f);
            return xf_fail(XF_ERR_OOM, "out of memory reading %s", path);
        }
        size_t k = skip_ws(data, c.merges_e, c.merges_s + 1);
        int ok = 1;
        while (!st && ok && k < c.merges_e && data[k] != ']') {
            size_t r = f->n_merges, pl, e;
            if (data[k] == '"') {
                /* legacy "a b" */
                char *m = f->pool + po;
                e = decode_string(data, c.merges_e, k, m, &pl);
                if (!e) {
                    st = bad(path);
                    break;
                }
                char *sp = memchr(m, ' ', pl);
                if (!sp || sp == m || sp + 1 == m + pl || memchr(sp + 1, ' ', (size_t)(m + pl - sp - 1))) {
                    st = xf_fail(XF_ERR_FORMAT, "%s: merge %zu \"%.60s\" is not \"left right\"", path, r, m);
                    break;
                }
                *sp = '\0';
                f->ma[r] = m;
                f->mb[r] = sp + 1;
                po += pl + 1;
            } else if (data[k] == '[') {
                k = skip_ws(data, c.merges_e, k + 1);
                char *a = f->pool + po;
                e = k < c.merges_e && data[k] == '"' ? decode_string(data, c.merges_e, k, a, &pl) : 0;
                if (!e) {
                    ok = 0;
                    break;
                }
                po += pl + 1;
                k = skip_ws(data, c.merges_e, e);
                if (k >= c.merges_e || data[k] != ',') {
                    ok = 0;
                    break;
                }
                k = skip_ws(data, c.merges_e, k + 1);
                char *b = f->pool + po;
                e = k < c.merges_e && data[k] == '"' ? decode_string(data, c.merges_e, k, b, &pl) : 0;
                if (!e) {
                    ok = 0;
                    break;
                }
                po += pl + 1;
                k = skip_ws(data, c.merges_e, e);
                if (k >= c.merges_e || data[k] != ']') {
                    ok = 0;
                    break;
                }
                e = k + 1;
                f->ma[r] = a;
                f->mb[r] = b;
            } else {
                ok = 0;
                break;
            }
            f->n_merges++;
            k = skip_ws(data, c.merges_e, e);
            if (k < c.merges_e && data[k] == ',') k = skip_ws(data, c.merges_e, k + 1);
            else if (k < c.merges_e && data[k] != ']') st = bad(path);
        }
        if (!ok) {
            /* an unusual merge: leave the list to cJSON (its messages) */
            f->n_merges = 0;
        } else if (!st) {
            f->have_merges = 1;
        }
    }
    if (!st && (f->have_vocab || f->have_merges)) {
        /* the document without the members read here: the pieces between
         * them, with {} and [] in their place */
        size_t cut[2][2] = {{f->have_vocab ? c.vocab_s : 0, f->have_vocab ? c.vocab_e : 0},
                            {f->have_merges ? c.merges_s : 0, f->have_merges ? c.merges_e : 0}};
        if (cut[0][1] && cut[1][1] && cut[1][0] < cut[0][0]) {
            size_t t0 = cut[0][0], t1 = cut[0][1];
            cut[0][0] = cut[1][0];
            cut[0][1] = cut[1][1];
            cut[1][0] = t0;
            cut[1][1] = t1;
        }
        f->rest = malloc(len + 5);
        if (!f->rest) {
            tok_json_fast_free(f);
            return xf_fail(XF_ERR_OOM, "out of memory reading %s", path);
        }
        size_t from = 0, o = 0;
        for (int k = 0; k < 2; k++) {
            if (!cut[k][1]) continue;
            memcpy(f->rest + o, data + from, cut[k][0] - from);
            o += cut[k][0] - from;
            memcpy(f->rest + o, data[cut[k][0]] == '{' ? "{}" : "[]", 2);
            o += 2;
            from = cut[k][1];
        }
        memcpy(f->rest + o, data + from, len - from);
        o += len - from;
        f->rest[o] = '\0';
        f->rest_len = o;
    }
    if (st) tok_json_fast_free(f);
    return st;
}
