/* safetensors reader and writer (include/xfmr/safetensors.h).
 *
 * Reference: huggingface/safetensors @24b0b28, summarised in docs/formats.md
 * section 1. File layout:
 *   [0, 8)        u64 LE N, the header length, N <= 100,000,000
 *   [8, 8+N)      UTF-8 JSON object: name -> {dtype, shape, data_offsets},
 *                 optional "__metadata__": {string: string}
 *   [8+N, size)   data buffer, exactly tiled by the tensors' data_offsets
 *
 * Reading treats the file as hostile, in four layers:
 *   1. sizes: file >= 8 bytes, N <= limit, 8+N <= file size;
 *   2. bytes: the header is valid UTF-8 (no overlongs, surrogates or code
 *      points past U+10FFFF) and strict JSON (st_check_json), because cJSON
 *      alone accepts control characters in strings, a BOM, leading zeros,
 *      "\u0000" (which would truncate names) and any number syntax;
 *   3. tree: cJSON builds the object; every entry is checked against the
 *      schema (exact fields, known dtype, integers in [0, 2^53), rank <=
 *      XF_ST_MAX_DIMS, overflow-checked numel*bits == end-begin);
 *   4. layout: sorted by offsets the tensors tile [0, data size) exactly;
 *      names are unique (sorted, adjacent compare) and so are metadata keys.
 * Nothing is read from the data buffer before all four pass.
 *
 * Writing copies the reference writer: "__metadata__" first, tensors sorted
 * by reference dtype order descending then name, offsets back to back, header
 * padded with spaces to a multiple of 8, then the data streamed through the
 * atomic writer (io/file.h). Data is written in host order, so the host must
 * be little-endian (checked at compile time). */
#include "xfmr/safetensors.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"
#include "io/numfmt.h"

#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && \
    __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c writes tensor data in host byte order and needs a little-endian host"
#endif

#define ST_MAX_HEADER ((uint64_t)100000000)  /* reference MAX_HEADER_SIZE */
#define ST_INT_LIMIT ((size_t)1 << 53)       /* integers in the header are below this */
#define ST_JSON_MAX_DEPTH 64                  /* a valid header nests 3 deep */
#define ST_JSON_MAX_ARRAY 64                  /* a valid header's arrays hold <= 8 */
#define ST_META_KEY "__metadata__"

/* ---- dtypes ------------------------------------------------------------- */

/* name, bits per element, and position in the reference Dtype enum (which is
 * ordered by increasing alignment; the writer sorts by it, descending). */
static const struct {
    const char *name;
    unsigned bits;
    unsigned ref_order;
} g_dtypes[XF_DT_COUNT] = {
    [XF_DT_F32] = {"F32", 32, 17},
    [XF_DT_F16] = {"F16", 16, 13},
    [XF_DT_BF16] = {"BF16", 16, 14},
    [XF_DT_F64] = {"F64", 64, 19},
    [XF_DT_I64] = {"I64", 64, 20},
    [XF_DT_I32] = {"I32", 32, 15},
    [XF_DT_I16] = {"I16", 16, 11},
    [XF_DT_I8] = {"I8", 8, 5},
    [XF_DT_U8] = {"U8", 8, 4},
    [XF_DT_BOOL] = {"BOOL", 8, 0},
    [XF_DT_U16] = {"U16", 16, 12},
    [XF_DT_U32] = {"U32", 32, 16},
    [XF_DT_U64] = {"U64", 64, 21},
    [XF_DT_C64] = {"C64", 64, 18},
    [XF_DT_F8_E5M2] = {"F8_E5M2", 8, 6},
    [XF_DT_F8_E4M3] = {"F8_E4M3", 8, 7},
    [XF_DT_F8_E8M0] = {"F8_E8M0", 8, 8},
    [XF_DT_F8_E4M3FNUZ] = {"F8_E4M3FNUZ", 8, 9},
    [XF_DT_F8_E5M2FNUZ] = {"F8_E5M2FNUZ", 8, 10},
    [XF_DT_F6_E2M3] = {"F6_E2M3", 6, 2},
    [XF_DT_F6_E3M2] = {"F6_E3M2", 6, 3},
    [XF_DT_F4] = {"F4", 4, 1},
};

const char *xf_dtype_name(xf_dtype dt) {
    return ((unsigned)dt < XF_DT_COUNT && g_dtypes[dt].name) ? g_dtypes[dt].name : "?";
}

size_t xf_dtype_bits(xf_dtype dt) {
    return (unsigned)dt < XF_DT_COUNT ? g_dtypes[dt].bits : 0;
}

/* dtype named s, or XF_DT_COUNT if none (exact, case-sensitive match). */
static xf_dtype dtype_from_name(const char *s) {
    for (int d = 0; d < XF_DT_COUNT; d++)
        if (g_dtypes[d].name && strcmp(g_dtypes[d].name, s) == 0) return (xf_dtype)d;
    return XF_DT_COUNT;
}

/* ---- shared helpers ------------------------------------------------------ */

/* Offset of the first byte of s[0..n) that is not part of valid UTF-8, or n.
 * Rejects overlong forms, surrogates (U+D800..DFFF) and code points past
 * U+10FFFF, like Rust's str::from_utf8. */
static size_t utf8_invalid_at(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return i;
        }
        if (len > n - i) return i;
        for (size_t k = 1; k < len; k++) {
            unsigned cc = s[i + k];
            if ((cc & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (cc & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += len;
    }
    return n;
}

/* "[d0, d1, ...]" into buf (truncated to cap, always NUL-terminated). */
static const char *fmt_shape(char *buf, size_t cap, size_t ndim, const size_t *shape) {
    size_t used = 0;
    int w = snprintf(buf, cap, "[");
    if (w > 0) used = (size_t)w;
    for (size_t i = 0; i < ndim && used < cap; i++) {
        w = snprintf(buf + used, cap - used, i ? ", %zu" : "%zu", shape[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
    if (used < cap) snprintf(buf + used, cap - used, "]");
    return buf;
}

/* a*b into *out; 0 on overflow. */
static int mul_ok(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}

/* ---- layer 2: strict JSON syntax ---------------------------------------- */

typedef struct {
    const char *path;
    const unsigned char *s; /* header bytes */
    size_t n;               /* header length */
    size_t i;               /* scan position */
} jscan;

static xf_status jfail(const jscan *j, const char *what) {
    return xf_fail(XF_ERR_FORMAT, "%s: header is not valid JSON: %s at header byte %zu", j->path,
                   what, j->i);
}

static int is_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static void skip_ws(jscan *j) {
    while (j->i < j->n && is_ws(j->s[j->i])) j->i++;
}

/* Four hex digits at p (caller checked they are in range) into *out. */
static int hex4(const unsigned char *p, unsigned *out) {
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned c = p[k], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return 0;
        v = v * 16 + d;
    }
    *out = v;
    return 1;
}

/* String at j->i (which is '"'): no raw control characters, only JSON
 * escapes, \u escapes well-formed (surrogates paired) and not \u0000. */
static xf_status json_string(jscan *j) {
    j->i++;
    for (;;) {
        if (j->i >= j->n) return jfail(j, "unterminated string");
        unsigned char c = j->s[j->i];
        if (c == '"') {
            j->i++;
            return XF_OK;
        }
        if (c < 0x20) return jfail(j, "raw control character in a string");
        if (c != '\\') {
            j->i++; /* UTF-8 was checked over the whole header already */
            continue;
        }
        if (j->n - j->i < 2) return jfail(j, "unterminated escape");
        unsigned char e = j->s[j->i + 1];
        if (e != 'u') {
            if (!strchr("\"\\/bfnrt", e) || e == '\0') return jfail(j, "invalid escape");
            j->i += 2;
            continue;
        }
        unsigned cp;
        if (j->n - j->i < 6 || !hex4(j->s + j->i + 2, &cp)) return jfail(j, "invalid \\u escape");
        if (cp == 0) return jfail(j, "\\u0000 (NUL) in a string");
        if (cp >= 0xDC00 && cp <= 0xDFFF) return jfail(j, "unpaired low surrogate escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            unsigned lo;
            if (j->n - j->i < 12 || j->s[j->i + 6] != '\\' || j->s[j->i + 7] != 'u' ||
                !hex4(j->s + j->i + 8, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                return jfail(j, "unpaired high surrogate escape");
            j->i += 12;
        } else {
            j->i += 6;
        }
    }
}

/* Number at j->i. safetensors headers hold only unsigned integers (shape and
 * data_offsets), so anything but plain digits is refused here: a sign,
 * fraction or exponent, a leading zero, more than 16 digits (2^53 has 16). */
static xf_status json_number(jscan *j) {
    if (j->s[j->i] == '-') return jfail(j, "negative number (only non-negative integers allowed)");
    size_t start = j->i;
    while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9') j->i++;
    size_t digits = j->i - start;
    if (j->i < j->n && (j->s[j->i] == '.' || j->s[j->i] == 'e' || j->s[j->i] == 'E'))
        return jfail(j, "number with a fraction or exponent (only non-negative integers allowed)");
    if (digits > 1 && j->s[start] == '0') {
        j->i = start;
        return jfail(j, "number with a leading zero");
    }
    if (digits > 16) {
        j->i = start;
        return jfail(j, "number too large");
    }
    return XF_OK;
}

static xf_status json_literal(jscan *j) {
    static const char *const lits[] = {"true", "false", "null"};
    for (size_t k = 0; k < 3; k++) {
        size_t l = strlen(lits[k]);
        if (j->n - j->i >= l && memcmp(j->s + j->i, lits[k], l) == 0) {
            j->i += l;
            return XF_OK;
        }
    }
    return jfail(j, "unexpected word");
}

/* Whole-header syntax check (RFC 8259 plus the number rule above): optional
 * whitespace, one object, optional whitespace, end. Iterative, with a nesting
 * cap so a hostile header cannot exhaust the stack (cJSON recurses). */
static xf_status st_check_json(const char *path, const unsigned char *s, size_t n) {
    enum { J_VALUE, J_VALUE_OR_CLOSE, J_KEY, J_KEY_OR_CLOSE, J_COLON, J_AFTER };
    jscan j = {path, s, n, 0};
    unsigned char stack[ST_JSON_MAX_DEPTH]; /* '{' or '[' */
    size_t count[ST_JSON_MAX_DEPTH];        /* elements so far, per array */
    size_t depth = 0;
    int state = J_VALUE;
    xf_status st;

    skip_ws(&j);
    if (j.i >= n || s[j.i] != '{')
        return xf_fail(XF_ERR_FORMAT, "%s: header is not a JSON object (does not start with '{')",
                       path);
    for (;;) {
        skip_ws(&j);
        if (state == J_AFTER && depth == 0) {
            if (j.i != n) return jfail(&j, "unexpected data after the top-level object");
            return XF_OK;
        }
        if (j.i >= n) return jfail(&j, "header ends inside the JSON object");
        unsigned char c = s[j.i];
        if (state == J_VALUE_OR_CLOSE && c == ']') {
            depth--;
            j.i++;
            state = J_AFTER;
        } else if (state == J_VALUE || state == J_VALUE_OR_CLOSE) {
            if (depth > 0 && stack[depth - 1] == '[' && ++count[depth - 1] > ST_JSON_MAX_ARRAY)
                return jfail(&j, "array with more than 64 elements");
            if (c == '{' || c == '[') {
                if (depth == ST_JSON_MAX_DEPTH) return jfail(&j, "nesting deeper than 64");
                stack[depth] = c;
                count[depth] = 0;
                depth++;
                j.i++;
                state = c == '{' ? J_KEY_OR_CLOSE : J_VALUE_OR_CLOSE;
                continue;
            }
            if (c == '"')
                st = json_string(&j);
            else if (c == '-' || (c >= '0' && c <= '9'))
                st = json_number(&j);
            else if (c == 't' || c == 'f' || c == 'n')
                st = json_literal(&j);
            else if (c >= 0x20 && c < 0x7F)
                st = xf_fail(XF_ERR_FORMAT,
                             "%s: header is not valid JSON: unexpected character '%c' at header "
                             "byte %zu",
                             path, c, j.i);
            else
                st = xf_fail(XF_ERR_FORMAT,
                             "%s: header is not valid JSON: unexpected byte 0x%02x at header byte "
                             "%zu",
                             path, c, j.i);
            if (st != XF_OK) return st;
            state = J_AFTER;
        } else if (state == J_KEY_OR_CLOSE && c == '}') {
            depth--;
            j.i++;
            state = J_AFTER;
        } else if (state == J_KEY || state == J_KEY_OR_CLOSE) {
            if (c != '"') return jfail(&j, "expected a string key");
            if ((st = json_string(&j)) != XF_OK) return st;
            state = J_COLON;
        } else if (state == J_COLON) {
            if (c != ':') return jfail(&j, "expected ':'");
            j.i++;
            state = J_VALUE;
        } else { /* J_AFTER inside a container */
            unsigned char top = stack[depth - 1];
            if (c == ',') {
                j.i++;
                state = top == '{' ? J_KEY : J_VALUE;
            } else if (c == (top == '{' ? '}' : ']')) {
                depth--;
                j.i++;
            } else {
                return jfail(&j, top == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
            }
        }
    }
}

/* ---- reader --------------------------------------------------------------- */

typedef struct {
    const char *key, *value;
} st_meta;

struct xf_st_file {
    xf_mmap map;
    char *path;                 /* owned copy */
    size_t header_len;          /* N */
    const unsigned char *data;  /* map + 8 + N: the data buffer */
    xf_st_tensor *tensors;      /* [n], header order */
    size_t n;
    const xf_st_tensor **by_name; /* [n], sorted by name (strcmp) */
    st_meta *meta;              /* [n_meta], sorted by key */
    size_t n_meta;
    char *strings;              /* arena holding names, keys and values */
};

/* JSON number in [0, 2^53) that is an integer, into *out. st_check_json
 * already limited numbers to plain digit strings; this is the backstop. */
static int json_uint(const cJSON *v, size_t *out) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0.0 && d < (double)ST_INT_LIMIT)) return 0;
    size_t u = (size_t)d;
    if ((double)u != d) return 0;
    *out = u;
    return 1;
}

/* Check one tensor entry e (t->name already set) and fill t. */
static xf_status st_parse_entry(const char *path, const cJSON *e, xf_st_tensor *t) {
    const char *name = t->name;
    if (!cJSON_IsObject(e))
        return xf_fail(XF_ERR_FORMAT, "%s: tensor '%s': entry is not a JSON object", path, name);
    const cJSON *dt = NULL, *sh = NULL, *off = NULL;
    for (const cJSON *c = e->child; c != NULL; c = c->next) {
        const cJSON **slot = strcmp(c->string, "dtype") == 0          ? &dt
                             : strcmp(c->string, "shape") == 0        ? &sh
                             : strcmp(c->string, "data_offsets") == 0 ? &off
                                                                      : NULL;
        if (slot == NULL)
            return xf_fail(XF_ERR_FORMAT,
                           "%s: tensor '%s': unexpected field '%s' (only dtype, shape and "
                           "data_offsets are allowed)",
                           path, name, c->string);
        if (*slot != NULL)
            return xf_fail(XF_ERR_FORMAT, "%s: tensor '%s': field '%s' appears twice", path, name,
                           c->string);
        *slot = c;
    }
    if (dt == NULL || sh == NULL || off == NULL)
        return xf_fail(XF_ERR_FORMAT, "%s: tensor '%s': missing field '%s'", path, name,
                       dt == NULL ? "dtype" : sh == NULL ? "shape" : "data_offsets");

    if (!cJSON_IsString(dt))
        return xf_fail(XF_ERR_FORMAT, "%s: tensor '%s': dtype is not a string", path, name);
    t->dtype = dtype_from_name(dt->valuestring);
    if (t->dtype == XF_DT_COUNT)
        return xf_fail(XF_ERR_FORMAT, "%s: tensor '%s': unknown dtype \"%s\"", path, name,
                       dt->valuestring);

    if (!cJSON_IsArray(sh))
        return xf_fail(XF_ERR_FORMAT, "%s: tensor '%s': shape is not an array", path, name);
    size_t ndim = 0, numel = 1;
    for (const cJSON *c = sh->child; c != NULL; c = c->next, ndim++) {
        if (ndim == XF_ST_MAX_DIMS) {
            size_t rank = ndim;
            for (; c != NULL; c = c->next) rank++;
            return xf_fail(XF_ERR_FORMAT, "%s: tensor '%s': rank %zu exceeds the maximum of %d",
                           path, name, rank, XF_ST_MAX_DIMS);
        }
        if (!json_uint(c, &t->shape[ndim]))
            return xf_fail(XF_ERR_FORMAT,
                           "%s: tensor '%s': shape[%zu] is not a non-negative integer below 2^53",
                           path, name, ndim);
        if (!mul_ok(numel, t->shape[ndim], &numel))
            return xf_fail(XF_ERR_FORMAT, "%s: tensor '%s': element count overflows", path, name);
    }
    t->ndim = ndim;
    t->numel = numel;

    if (!cJSON_IsArray(off) || off->child == NULL || off->child->next == NULL ||
        off->child->next->next != NULL || !json_uint(off->child, &t->begin) ||
        !json_uint(off->child->next, &t->end))
        return xf_fail(XF_ERR_FORMAT,
                       "%s: tensor '%s': data_offsets is not two non-negative integers below 2^53",
                       path, name);
    if (t->end < t->begin)
        return xf_fail(XF_ERR_FORMAT, "%s: tensor '%s': data_offsets [%zu, %zu] end before begin",
                       path, name, t->begin, t->end);

    size_t bits;
    char sbuf[256];
    if (!mul_ok(numel, g_dtypes[t->dtype].bits, &bits))
        return xf_fail(XF_ERR_FORMAT, "%s: tensor '%s': size in bits overflows", path, name);
    if (bits % 8 != 0)
        return xf_fail(XF_ERR_FORMAT,
                       "%s: tensor '%s': %zu elements of %s are %zu bits, not a whole number of "
                       "bytes",
                       path, name, numel, g_dtypes[t->dtype].name, bits);
    if (bits / 8 != t->end - t->begin)
        return xf_fail(XF_ERR_FORMAT,
                       "%s: tensor '%s': shape %s of %s needs %zu bytes but data_offsets [%zu, "
                       "%zu] span %zu",
                       path, name, fmt_shape(sbuf, sizeof sbuf, ndim, t->shape),
                       g_dtypes[t->dtype].name, bits / 8, t->begin, t->end, t->end - t->begin);
    return XF_OK;
}

static int cmp_tensor_offsets(const void *a, const void *b) {
    const xf_st_tensor *x = *(const xf_st_tensor *const *)a, *y = *(const xf_st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int cmp_tensor_names(const void *a, const void *b) {
    return strcmp((*(const xf_st_tensor *const *)a)->name, (*(const xf_st_tensor *const *)b)->name);
}

static int cmp_meta_keys(const void *a, const void *b) {
    return strcmp(((const st_meta *)a)->key, ((const st_meta *)b)->key);
}

/* Copy s into the arena at *pos and return the copy. */
static const char *arena_put(char *arena, size_t *pos, const char *s) {
    size_t l = strlen(s) + 1;
    char *d = arena + *pos;
    memcpy(d, s, l);
    *pos += l;
    return d;
}

/* Layers 3 and 4 on the parsed header `root`. */
static xf_status st_build(xf_st_file *f, const cJSON *root) {
    const char *path = f->path;
    const cJSON *meta = NULL;
    size_t nt = 0, nm = 0, strbytes = 0;

    /* pass 1: classify entries, check __metadata__, size the arena */
    for (const cJSON *it = root->child; it != NULL; it = it->next) {
        if (strcmp(it->string, ST_META_KEY) != 0) {
            nt++;
            strbytes += strlen(it->string) + 1;
            continue;
        }
        if (meta != NULL)
            return xf_fail(XF_ERR_FORMAT, "%s: \"" ST_META_KEY "\" appears twice", path);
        meta = it;
        if (!cJSON_IsObject(meta))
            return xf_fail(XF_ERR_FORMAT, "%s: \"" ST_META_KEY "\" is not a JSON object", path);
        for (const cJSON *m = meta->child; m != NULL; m = m->next) {
            if (!cJSON_IsString(m))
                return xf_fail(XF_ERR_FORMAT,
                               "%s: \"" ST_META_KEY "\" value of key '%s' is not a string", path,
                               m->string);
            nm++;
            strbytes += strlen(m->string) + 1 + strlen(m->valuestring) + 1;
        }
    }

    f->tensors = calloc(nt ? nt : 1, sizeof *f->tensors);
    f->by_name = calloc(nt ? nt : 1, sizeof *f->by_name);
    f->meta = calloc(nm ? nm : 1, sizeof *f->meta);
    f->strings = malloc(strbytes ? strbytes : 1);
    const xf_st_tensor **by_off = calloc(nt ? nt : 1, sizeof *by_off);
    if (!f->tensors || !f->by_name || !f->meta || !f->strings || !by_off) {
        free(by_off);
        return xf_fail(XF_ERR_OOM, "%s: out of memory for %zu tensor entries", path, nt);
    }

    /* pass 2: copy strings, check every tensor entry */
    size_t pos = 0;
    xf_status s = XF_OK;
    for (const cJSON *it = root->child; it != NULL; it = it->next) {
        if (it == meta) continue;
        xf_st_tensor *t = &f->tensors[f->n];
        t->name = arena_put(f->strings, &pos, it->string);
        f->n++;
        if ((s = st_parse_entry(path, it, t)) != XF_OK) goto done;
        by_off[f->n - 1] = t;
        f->by_name[f->n - 1] = t;
    }
    if (meta != NULL)
        for (const cJSON *m = meta->child; m != NULL; m = m->next) {
            f->meta[f->n_meta].key = arena_put(f->strings, &pos, m->string);
            f->meta[f->n_meta].value = arena_put(f->strings, &pos, m->valuestring);
            f->n_meta++;
        }

    /* unique names and metadata keys */
    qsort(f->by_name, f->n, sizeof *f->by_name, cmp_tensor_names);
    for (size_t i = 1; i < f->n; i++)
        if (strcmp(f->by_name[i - 1]->name, f->by_name[i]->name) == 0) {
            s = xf_fail(XF_ERR_FORMAT, "%s: duplicate tensor name '%s'", path, f->by_name[i]->name);
            goto done;
        }
    qsort(f->meta, f->n_meta, sizeof *f->meta, cmp_meta_keys);
    for (size_t i = 1; i < f->n_meta; i++)
        if (strcmp(f->meta[i - 1].key, f->meta[i].key) == 0) {
            s = xf_fail(XF_ERR_FORMAT, "%s: duplicate \"" ST_META_KEY "\" key '%s'", path,
                        f->meta[i].key);
            goto done;
        }

    /* sorted by (begin, end) the tensors must tile the data buffer */
    qsort(by_off, f->n, sizeof *by_off, cmp_tensor_offsets);
    size_t end = 0;
    for (size_t i = 0; i < f->n; i++) {
        const xf_st_tensor *t = by_off[i];
        if (t->begin == end) {
            end = t->end;
            continue;
        }
        if (i == 0)
            s = xf_fail(XF_ERR_FORMAT,
                        "%s: tensor '%s' starts at data offset %zu; the first tensor must start "
                        "at 0",
                        path, t->name, t->begin);
        else if (t->begin > end)
            s = xf_fail(XF_ERR_FORMAT,
                        "%s: gap of %zu bytes in the data between tensor '%s' (ends at %zu) and "
                        "tensor '%s' (starts at %zu)",
                        path, t->begin - end, by_off[i - 1]->name, end, t->name, t->begin);
        else
            s = xf_fail(XF_ERR_FORMAT,
                        "%s: tensor '%s' (data_offsets [%zu, %zu]) overlaps tensor '%s' (ends "
                        "at %zu)",
                        path, t->name, t->begin, t->end, by_off[i - 1]->name, end);
        goto done;
    }
    size_t data_len = f->map.len - 8 - f->header_len;
    if (end > data_len)
        s = xf_fail(XF_ERR_FORMAT,
                    "%s: header describes %zu bytes of tensor data but only %zu follow the header "
                    "(file truncated?)",
                    path, end, data_len);
    else if (end < data_len)
        s = xf_fail(XF_ERR_FORMAT,
                    "%s: %zu trailing bytes after the tensor data (the data must be exactly "
                    "covered by data_offsets)",
                    path, data_len - end);
done:
    free(by_off);
    return s;
}

xf_status xf_st_open(xf_st_file **out, const char *path) {
    *out = NULL;
    if (path == NULL || path[0] == '\0') return xf_fail(XF_ERR_ARG, "safetensors: empty file path");
    xf_st_file *f = calloc(1, sizeof *f);
    size_t pl = strlen(path);
    if (f == NULL || (f->path = malloc(pl + 1)) == NULL) {
        free(f);
        return xf_fail(XF_ERR_OOM, "%s: out of memory opening safetensors file", path);
    }
    memcpy(f->path, path, pl + 1);
    path = f->path;

    cJSON *root = NULL;
    xf_status s = xf_mmap_open(&f->map, path);
    if (s != XF_OK) goto fail;

    /* layer 1: sizes */
    const unsigned char *p = f->map.ptr;
    size_t size = f->map.len;
    if (size < 8) {
        s = xf_fail(XF_ERR_FORMAT,
                    "%s: file is %zu bytes, too small for a safetensors header length (8 bytes)",
                    path, size);
        goto fail;
    }
    uint64_t n = 0;
    for (int k = 7; k >= 0; k--) n = (n << 8) | p[k];
    if (n > ST_MAX_HEADER) {
        s = xf_fail(XF_ERR_FORMAT, "%s: header length %llu exceeds the limit of %llu bytes", path,
                    (unsigned long long)n, (unsigned long long)ST_MAX_HEADER);
        goto fail;
    }
    if (n > size - 8) {
        s = xf_fail(XF_ERR_FORMAT,
                    "%s: header length %llu runs past the end of the file (%zu bytes)", path,
                    (unsigned long long)n, size);
        goto fail;
    }
    f->header_len = (size_t)n;
    f->data = p + 8 + f->header_len;
    const unsigned char *h = p + 8;

    /* layer 2: bytes */
    size_t bad = utf8_invalid_at(h, f->header_len);
    if (bad != f->header_len) {
        s = xf_fail(XF_ERR_FORMAT, "%s: header is not valid UTF-8 (at header byte %zu)", path, bad);
        goto fail;
    }
    if ((s = st_check_json(path, h, f->header_len)) != XF_OK) goto fail;

    /* layers 3 and 4 */
    root = cJSON_ParseWithLength((const char *)h, f->header_len);
    if (root == NULL) { /* the syntax passed st_check_json, so this is memory */
        s = xf_fail(XF_ERR_OOM, "%s: out of memory parsing the %zu-byte header", path,
                    f->header_len);
        goto fail;
    }
    if ((s = st_build(f, root)) != XF_OK) goto fail;
    cJSON_Delete(root);
    *out = f;
    return XF_OK;
fail:
    cJSON_Delete(root);
    xf_st_close(f);
    return s;
}

void xf_st_close(xf_st_file *f) {
    if (f == NULL) return;
    xf_mmap_close(&f->map);
    free(f->tensors);
    free(f->by_name);
    free(f->meta);
    free(f->strings);
    free(f->path);
    free(f);
}

size_t xf_st_count(const xf_st_file *f) { return f->n; }

const xf_st_tensor *xf_st_at(const xf_st_file *f, size_t i) {
    return i < f->n ? &f->tensors[i] : NULL;
}

static int cmp_find_name(const void *key, const void *elem) {
    return strcmp((const char *)key, (*(const xf_st_tensor *const *)elem)->name);
}

const xf_st_tensor *xf_st_find(const xf_st_file *f, const char *name) {
    if (f->n == 0) return NULL;
    const xf_st_tensor *const *hit = bsearch(name, f->by_name, f->n, sizeof *f->by_name,
                                             cmp_find_name);
    return hit ? *hit : NULL;
}

const void *xf_st_data(const xf_st_file *f, const xf_st_tensor *t) { return f->data + t->begin; }

static int cmp_find_key(const void *key, const void *elem) {
    return strcmp((const char *)key, ((const st_meta *)elem)->key);
}

const char *xf_st_meta(const xf_st_file *f, const char *key) {
    if (f->n_meta == 0) return NULL;
    const st_meta *hit = bsearch(key, f->meta, f->n_meta, sizeof *f->meta, cmp_find_key);
    return hit ? hit->value : NULL;
}

const char *xf_st_path(const xf_st_file *f) { return f->path; }

/* Find `name` and check its shape equals (ndim, shape). */
static xf_status st_lookup(const xf_st_file *f, const char *name, size_t ndim,
                           const size_t *shape, const xf_st_tensor **out) {
    const xf_st_tensor *t = xf_st_find(f, name);
    if (t == NULL) return xf_fail(XF_ERR_FORMAT, "%s: tensor '%s' not found", f->path, name);
    int same = t->ndim == ndim;
    for (size_t i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same) {
        char got[256], want[256];
        return xf_fail(XF_ERR_SHAPE, "%s: tensor '%s' has shape %s, expected %s", f->path, name,
                       fmt_shape(got, sizeof got, t->ndim, t->shape),
                       fmt_shape(want, sizeof want, ndim, shape));
    }
    *out = t;
    return XF_OK;
}

xf_status xf_st_read_f32(const xf_st_file *f, const char *name, float *dst, size_t ndim,
                         const size_t *shape) {
    const xf_st_tensor *t;
    xf_status s = st_lookup(f, name, ndim, shape, &t);
    if (s != XF_OK) return s;
    const unsigned char *src = xf_st_data(f, t);
    size_t n = t->numel;
    switch (t->dtype) {
    case XF_DT_F32:
        if (n) memcpy(dst, src, n * 4);
        break;
    case XF_DT_F16:
        for (size_t i = 0; i < n; i++)
            dst[i] = xf_f16_to_f32((uint16_t)(src[2 * i] | (src[2 * i + 1] << 8)));
        break;
    case XF_DT_BF16:
        for (size_t i = 0; i < n; i++) {
            uint32_t bits = (uint32_t)(src[2 * i] | (src[2 * i + 1] << 8)) << 16;
            memcpy(&dst[i], &bits, 4);
        }
        break;
    case XF_DT_F64:
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, src + 8 * i, 8);
            dst[i] = (float)d;
        }
        break;
    default:
        return xf_fail(XF_ERR_UNSUPPORTED,
                       "%s: tensor '%s' has dtype %s, expected a float dtype (F32, F16, BF16 or "
                       "F64)",
                       f->path, name, xf_dtype_name(t->dtype));
    }
    return XF_OK;
}

/* dst[i] = (int64_t)v for the n elements v of type T stored at src (bytes,
 * unaligned; the file's little-endian layout is the host's) */
#define ST_WIDEN_LOOP(T, dst, src, n)                   \
    for (size_t i_ = 0; i_ < (n); i_++) {               \
        T v_;                                           \
        memcpy(&v_, (src) + sizeof(T) * i_, sizeof(T)); \
        (dst)[i_] = v_;                                 \
    }

xf_status xf_st_read_i64(const xf_st_file *f, const char *name, int64_t *dst, size_t ndim,
                         const size_t *shape) {
    const xf_st_tensor *t;
    xf_status s = st_lookup(f, name, ndim, shape, &t);
    if (s != XF_OK) return s;
    const unsigned char *src = xf_st_data(f, t);
    size_t n = t->numel;
    switch (t->dtype) {
    case XF_DT_I64:
        if (n) memcpy(dst, src, n * 8);
        break;
    case XF_DT_U64:
        for (size_t i = 0; i < n; i++) { /* check all first: dst untouched on failure */
            uint64_t v;
            memcpy(&v, src + 8 * i, 8);
            if (v > (uint64_t)INT64_MAX)
                return xf_fail(XF_ERR_FORMAT,
                               "%s: tensor '%s' (U64) element %zu = %llu does not fit in int64",
                               f->path, name, i, (unsigned long long)v);
        }
        if (n) memcpy(dst, src, n * 8);
        break;
    case XF_DT_I32:
        ST_WIDEN_LOOP(int32_t, dst, src, n);
        break;
    case XF_DT_U32:
        ST_WIDEN_LOOP(uint32_t, dst, src, n);
        break;
    case XF_DT_I16:
        ST_WIDEN_LOOP(int16_t, dst, src, n);
        break;
    case XF_DT_U16:
        ST_WIDEN_LOOP(uint16_t, dst, src, n);
        break;
    case XF_DT_I8:
        ST_WIDEN_LOOP(int8_t, dst, src, n);
        break;
    case XF_DT_U8:
        ST_WIDEN_LOOP(uint8_t, dst, src, n);
        break;
    case XF_DT_BOOL:
        for (size_t i = 0; i < n; i++) dst[i] = src[i] != 0;
        break;
    default:
        return xf_fail(XF_ERR_UNSUPPORTED,
                       "%s: tensor '%s' has dtype %s, expected an integer dtype (I64, I32, I16, "
                       "I8, U64, U32, U16, U8 or BOOL)",
                       f->path, name, xf_dtype_name(t->dtype));
    }
    return XF_OK;
}

#undef ST_WIDEN_LOOP

/* ---- writer ------------------------------------------------------------- */

typedef struct {
    char *name;
    xf_dtype dtype;
    size_t ndim;
    size_t shape[XF_ST_MAX_DIMS];
    size_t nbytes;
    const void *data; /* borrowed */
} st_wtensor;

struct xf_st_writer {
    st_wtensor *t; /* [n], in add order */
    size_t n, cap;
    size_t *slots; /* open-addressing name index: tensor index + 1, 0 = empty */
    size_t nslots; /* power of two, >= 2n */
    char **mkey, **mval; /* [nm]; mkey[0] is "format" */
    size_t nm, mcap;
};

static size_t hash_name(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)h;
}

/* Index of tensor `name` or SIZE_MAX; *slot_out gets the slot it is in or
 * the empty slot where it would go. */
static size_t writer_lookup(const xf_st_writer *w, const char *name, size_t *slot_out) {
    size_t mask = w->nslots - 1, k = hash_name(name) & mask;
    while (w->slots[k] != 0) {
        if (strcmp(w->t[w->slots[k] - 1].name, name) == 0) {
            *slot_out = k;
            return w->slots[k] - 1;
        }
        k = (k + 1) & mask;
    }
    *slot_out = k;
    return SIZE_MAX;
}

static char *dup_str(const char *s) {
    size_t l = strlen(s) + 1;
    char *d = malloc(l);
    if (d) memcpy(d, s, l);
    return d;
}

xf_status xf_st_writer_meta(xf_st_writer *w, const char *key, const char *value) {
    if (key == NULL || value == NULL)
        return xf_fail(XF_ERR_ARG, "safetensors writer: metadata key or value is NULL");
    if (utf8_invalid_at((const unsigned char *)key, strlen(key)) != strlen(key) ||
        utf8_invalid_at((const unsigned char *)value, strlen(value)) != strlen(value))
        return xf_fail(XF_ERR_ARG, "safetensors writer: metadata '%s' is not valid UTF-8", key);
    char *v = dup_str(value);
    if (v == NULL) return xf_fail(XF_ERR_OOM, "safetensors writer: out of memory");
    for (size_t i = 0; i < w->nm; i++)
        if (strcmp(w->mkey[i], key) == 0) {
            free(w->mval[i]);
            w->mval[i] = v;
            return XF_OK;
        }
    if (w->nm == w->mcap) {
        size_t nc = w->mcap ? 2 * w->mcap : 4;
        char **nk = realloc(w->mkey, nc * sizeof *nk);
        if (nk) w->mkey = nk;
        char **nv = nk ? realloc(w->mval, nc * sizeof *nv) : NULL;
        if (nv) w->mval = nv;
        if (!nk || !nv) {
            free(v);
            return xf_fail(XF_ERR_OOM, "safetensors writer: out of memory");
        }
        w->mcap = nc;
    }
    char *k = dup_str(key);
    if (k == NULL) {
        free(v);
        return xf_fail(XF_ERR_OOM, "safetensors writer: out of memory");
    }
    w->mkey[w->nm] = k;
    w->mval[w->nm] = v;
    w->nm++;
    return XF_OK;
}

xf_status xf_st_writer_create(xf_st_writer **out) {
    *out = NULL;
    xf_st_writer *w = calloc(1, sizeof *w);
    if (w == NULL) return xf_fail(XF_ERR_OOM, "safetensors writer: out of memory");
    w->nslots = 16;
    w->slots = calloc(w->nslots, sizeof *w->slots);
    if (w->slots == NULL || xf_st_writer_meta(w, "format", "pt") != XF_OK) {
        xf_st_writer_free(w);
        return xf_fail(XF_ERR_OOM, "safetensors writer: out of memory");
    }
    *out = w;
    return XF_OK;
}

/* Double the name index (rehash). */
static int writer_grow_index(xf_st_writer *w) {
    if (w->nslots > SIZE_MAX / 2 / sizeof *w->slots) return 0;
    size_t ns = w->nslots * 2;
    size_t *slots = calloc(ns, sizeof *slots);
    if (slots == NULL) return 0;
    for (size_t i = 0; i < w->n; i++) {
        size_t k = hash_name(w->t[i].name) & (ns - 1);
        while (slots[k] != 0) k = (k + 1) & (ns - 1);
        slots[k] = i + 1;
    }
    free(w->slots);
    w->slots = slots;
    w->nslots = ns;
    return 1;
}

xf_status xf_st_writer_add(xf_st_writer *w, const char *name, xf_dtype dt, size_t ndim,
                           const size_t *shape, const void *data) {
    const char *who = "safetensors writer";
    if (name == NULL) return xf_fail(XF_ERR_ARG, "%s: tensor name is NULL", who);
    size_t nl = strlen(name);
    if (utf8_invalid_at((const unsigned char *)name, nl) != nl)
        return xf_fail(XF_ERR_ARG, "%s: tensor name '%s' is not valid UTF-8", who, name);
    if (strcmp(name, ST_META_KEY) == 0)
        return xf_fail(XF_ERR_ARG, "%s: '%s' is reserved and cannot name a tensor", who, name);
    if ((unsigned)dt >= XF_DT_COUNT)
        return xf_fail(XF_ERR_ARG, "%s: tensor '%s': invalid dtype %d", who, name, (int)dt);
    if (ndim > XF_ST_MAX_DIMS)
        return xf_fail(XF_ERR_ARG, "%s: tensor '%s': rank %zu exceeds the maximum of %d", who,
                       name, ndim, XF_ST_MAX_DIMS);
    if (ndim > 0 && shape == NULL)
        return xf_fail(XF_ERR_ARG, "%s: tensor '%s': shape is NULL", who, name);
    size_t numel = 1, bits;
    for (size_t i = 0; i < ndim; i++) {
        if (shape[i] >= ST_INT_LIMIT)
            return xf_fail(XF_ERR_ARG, "%s: tensor '%s': shape[%zu] = %zu is not below 2^53", who,
                           name, i, shape[i]);
        if (!mul_ok(numel, shape[i], &numel))
            return xf_fail(XF_ERR_OOM, "%s: tensor '%s': element count overflows", who, name);
    }
    if (!mul_ok(numel, g_dtypes[dt].bits, &bits))
        return xf_fail(XF_ERR_OOM, "%s: tensor '%s': size in bits overflows", who, name);
    if (bits % 8 != 0)
        return xf_fail(XF_ERR_ARG, "%s: tensor '%s': %zu elements of %s are not a whole byte count",
                       who, name, numel, g_dtypes[dt].name);
    if (data == NULL && bits != 0)
        return xf_fail(XF_ERR_ARG, "%s: tensor '%s': data is NULL", who, name);
    size_t slot;
    if (writer_lookup(w, name, &slot) != SIZE_MAX)
        return xf_fail(XF_ERR_ARG, "%s: tensor '%s' added twice", who, name);

    if (w->n == w->cap) {
        size_t nc = w->cap ? 2 * w->cap : 16;
        st_wtensor *nt = nc <= SIZE_MAX / sizeof *nt ? realloc(w->t, nc * sizeof *nt) : NULL;
        if (nt == NULL) return xf_fail(XF_ERR_OOM, "%s: out of memory", who);
        w->t = nt;
        w->cap = nc;
    }
    if (2 * (w->n + 1) > w->nslots) {
        if (!writer_grow_index(w)) return xf_fail(XF_ERR_OOM, "%s: out of memory", who);
        writer_lookup(w, name, &slot);
    }
    st_wtensor *t = &w->t[w->n];
    memset(t, 0, sizeof *t);
    if ((t->name = dup_str(name)) == NULL) return xf_fail(XF_ERR_OOM, "%s: out of memory", who);
    t->dtype = dt;
    t->ndim = ndim;
    for (size_t i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->nbytes = bits / 8;
    t->data = data;
    w->slots[slot] = w->n + 1;
    w->n++;
    return XF_OK;
}

void xf_st_writer_free(xf_st_writer *w) {
    if (w == NULL) return;
    for (size_t i = 0; i < w->n; i++) free(w->t[i].name);
    for (size_t i = 0; i < w->nm; i++) {
        free(w->mkey[i]);
        free(w->mval[i]);
    }
    free(w->t);
    free(w->slots);
    free(w->mkey);
    free(w->mval);
    free(w);
}

/* Growable header text; `oom` latches the first allocation failure. */
typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (n > SIZE_MAX - b->len - 1) {
        b->oom = 1;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->len + n + 1) nc = nc > SIZE_MAX / 2 ? b->len + n + 1 : nc * 2;
        char *np = realloc(b->p, nc);
        if (np == NULL) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_cstr(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_size(sbuf *b, size_t v) {
    char tmp[32];
    int w = snprintf(tmp, sizeof tmp, "%zu", v);
    sb_put(b, tmp, (size_t)w);
}

/* s as a JSON string: quote, backslash and control characters escaped the
 * way serde_json does; other bytes (valid UTF-8, checked on add) verbatim. */
static void sb_json_str(sbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        switch (*p) {
        case '"': sb_put(b, "\\\"", 2); break;
        case '\\': sb_put(b, "\\\\", 2); break;
        case '\b': sb_put(b, "\\b", 2); break;
        case '\f': sb_put(b, "\\f", 2); break;
        case '\n': sb_put(b, "\\n", 2); break;
        case '\r': sb_put(b, "\\r", 2); break;
        case '\t': sb_put(b, "\\t", 2); break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                sb_put(b, esc, 6);
            } else {
                sb_put(b, (const char *)p, 1);
            }
        }
    }
    sb_put(b, "\"", 1);
}

/* Write order as indices into w->t: reference dtype order (alignment)
 * descending, then name bytewise. Merge sort with tmp[n] as scratch, since
 * qsort has no context argument. */
static void sort_order(const xf_st_writer *w, size_t *ord, size_t *tmp, size_t n) {
    if (n < 2) return;
    size_t h = n / 2;
    sort_order(w, ord, tmp, h);
    sort_order(w, ord + h, tmp, n - h);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) {
        const st_wtensor *x = &w->t[ord[i]], *y = &w->t[ord[j]];
        unsigned rx = g_dtypes[x->dtype].ref_order, ry = g_dtypes[y->dtype].ref_order;
        int c = rx != ry ? (rx > ry ? -1 : 1) : strcmp(x->name, y->name);
        tmp[k++] = c <= 0 ? ord[i++] : ord[j++];
    }
    while (i < h) tmp[k++] = ord[i++];
    while (j < n) tmp[k++] = ord[j++];
    memcpy(ord, tmp, n * sizeof *ord);
}

xf_status xf_st_writer_write(xf_st_writer *w, const char *path) {
    if (path == NULL || path[0] == '\0') return xf_fail(XF_ERR_ARG, "safetensors: empty file path");
    size_t *ord = malloc((w->n ? w->n : 1) * sizeof *ord);
    size_t *tmp = malloc((w->n ? w->n : 1) * sizeof *tmp);
    sbuf hb = {0};
    xf_status s = XF_OK;
    if (ord == NULL || tmp == NULL) {
        s = xf_fail(XF_ERR_OOM, "%s: out of memory writing safetensors", path);
        goto done;
    }
    for (size_t i = 0; i < w->n; i++) ord[i] = i;
    sort_order(w, ord, tmp, w->n);

    /* header: {"__metadata__":{...},"name":{"dtype":..,"shape":[..],"data_offsets":[b,e]},...} */
    sb_cstr(&hb, "{\"" ST_META_KEY "\":{");
    for (size_t i = 0; i < w->nm; i++) {
        if (i) sb_cstr(&hb, ",");
        sb_json_str(&hb, w->mkey[i]);
        sb_cstr(&hb, ":");
        sb_json_str(&hb, w->mval[i]);
    }
    sb_cstr(&hb, "}");
    size_t off = 0;
    for (size_t k = 0; k < w->n; k++) {
        const st_wtensor *t = &w->t[ord[k]];
        if (t->nbytes >= ST_INT_LIMIT - off) {
            s = xf_fail(XF_ERR_ARG, "%s: tensor data would exceed 2^53 bytes", path);
            goto done;
        }
        sb_cstr(&hb, ",");
        sb_json_str(&hb, t->name);
        sb_cstr(&hb, ":{\"dtype\":\"");
        sb_cstr(&hb, g_dtypes[t->dtype].name);
        sb_cstr(&hb, "\",\"shape\":[");
        for (size_t d = 0; d < t->ndim; d++) {
            if (d) sb_cstr(&hb, ",");
            sb_size(&hb, t->shape[d]);
        }
        sb_cstr(&hb, "],\"data_offsets\":[");
        sb_size(&hb, off);
        sb_cstr(&hb, ",");
        sb_size(&hb, off + t->nbytes);
        sb_cstr(&hb, "]}");
        off += t->nbytes;
    }
    sb_cstr(&hb, "}");
    while (!hb.oom && hb.len % 8 != 0) sb_cstr(&hb, " ");
    if (hb.oom) {
        s = xf_fail(XF_ERR_OOM, "%s: out of memory building the safetensors header", path);
        goto done;
    }
    if ((uint64_t)hb.len > ST_MAX_HEADER) {
        s = xf_fail(XF_ERR_ARG, "%s: safetensors header would be %zu bytes, over the limit of %llu",
                    path, hb.len, (unsigned long long)ST_MAX_HEADER);
        goto done;
    }

    unsigned char len8[8];
    for (int k = 0; k < 8; k++) len8[k] = (unsigned char)((uint64_t)hb.len >> (8 * k));
    xf_afile *af;
    if ((s = xf_afile_open(&af, path)) != XF_OK) goto done;
    s = xf_afile_write(af, len8, 8);
    if (s == XF_OK) s = xf_afile_write(af, hb.p, hb.len);
    for (size_t k = 0; s == XF_OK && k < w->n; k++) {
        const st_wtensor *t = &w->t[ord[k]];
        if (t->nbytes) s = xf_afile_write(af, t->data, t->nbytes);
    }
    if (s != XF_OK)
        xf_afile_abort(af);
    else
        s = xf_afile_commit(af);
done:
    free(ord);
    free(tmp);
    free(hb.p);
    return s;
}
