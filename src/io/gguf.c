/* GGUF v3 reader and writer (see gguf.h; docs/formats.md §GGUF). */
#include "io/gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"
#include "io/numfmt.h"

/* Bounds that no real file reaches; they keep hostile counts from driving
 * huge allocations before the bytes-left checks below catch them. */
#define MAX_KEY_BYTES 65535
#define MAX_NAME_BYTES 255   /* ggml's GGML_MAX_NAME is 64; llama.cpp files stay well under this */

struct gguf_file {
    xf_mmap map;
    const uint8_t *base;
    size_t len;
    char path[512];
    uint32_t version;
    gguf_kv *kv;
    size_t nkv;
    gguf_tensor *t;
    size_t nt;
    size_t alignment;
    size_t data_off; /* start of the data section */
};

/* ---- parsing cursor: every read checks the bytes left ---- */
typedef struct {
    const uint8_t *p;
    size_t left;
    const char *path;
    size_t start_len;
} cur;

static size_t at(const cur *c) { return c->start_len - c->left; }

static xf_status need(cur *c, size_t n, const char *what) {
    if (n > c->left)
        return xf_fail(XF_ERR_FORMAT, "%s: truncated: %s needs %zu bytes at offset %zu, %zu left", c->path, what, n,
                       at(c), c->left);
    return XF_OK;
}

static xf_status rd(cur *c, void *dst, size_t n, const char *what) {
    xf_status s = need(c, n, what);
    if (s) return s;
    memcpy(dst, c->p, n);
    c->p += n;
    c->left -= n;
    return XF_OK;
}

static xf_status skip(cur *c, size_t n, const char *what) {
    xf_status s = need(c, n, what);
    if (s) return s;
    c->p += n;
    c->left -= n;
    return XF_OK;
}

/* A string: u64 length (<= max and <= bytes left) + bytes. */
static xf_status rd_str(cur *c, const char **s, size_t *len, size_t max, const char *what) {
    uint64_t n;
    xf_status st = rd(c, &n, 8, what);
    if (st) return st;
    if (n > max) return xf_fail(XF_ERR_FORMAT, "%s: %s of %llu bytes at offset %zu (at most %zu)", c->path, what,
                                (unsigned long long)n, at(c) - 8, max);
    *s = (const char *)c->p;
    *len = (size_t)n;
    return skip(c, (size_t)n, what);
}

static const size_t k_scalar_size[GGUF_NTYPES] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
static const char *const k_kv_type_name[GGUF_NTYPES] = {"u8",  "i8",     "u16",   "i16", "u32", "i32", "f32",
                                                        "bool", "string", "array", "u64", "i64", "f64"};

/* The value of one key/value pair. */
static xf_status rd_value(cur *c, gguf_kv *kv) {
    xf_status s;
    kv->val = c->p;
    if (kv->type >= GGUF_NTYPES)
        return xf_fail(XF_ERR_FORMAT, "%s: key '%.*s' has unknown value type %u", c->path, (int)kv->klen, kv->key,
                       kv->type);
    if (kv->type == GGUF_STRING) {
        const char *str;
        size_t n;
        return rd_str(c, &str, &n, SIZE_MAX, "a string value");
    }
    if (kv->type != GGUF_ARRAY) return skip(c, k_scalar_size[kv->type], "a value");
    if ((s = rd(c, &kv->atype, 4, "an array type")) || (s = rd(c, &kv->n, 8, "an array length"))) return s;
    kv->val = c->p;
    if (kv->atype >= GGUF_NTYPES || kv->atype == GGUF_ARRAY)
        return xf_fail(XF_ERR_FORMAT, "%s: key '%.*s' is an array of %s (not supported)", c->path, (int)kv->klen,
                       kv->key, kv->atype == GGUF_ARRAY ? "arrays" : "an unknown type");
    if (kv->atype != GGUF_STRING) {
        size_t es = k_scalar_size[kv->atype];
        if (kv->n > c->left / es)
            return xf_fail(XF_ERR_FORMAT, "%s: key '%.*s': array of %llu elements is longer than the %zu bytes left",
                           c->path, (int)kv->klen, kv->key, (unsigned long long)kv->n, c->left);
        return skip(c, (size_t)kv->n * es, "array elements");
    }
    /* strings: each at least 8 bytes, so the count is bounded by the bytes left */
    if (kv->n > c->left / 8)
        return xf_fail(XF_ERR_FORMAT, "%s: key '%.*s': array of %llu strings is longer than the %zu bytes left",
                       c->path, (int)kv->klen, kv->key, (unsigned long long)kv->n, c->left);
    kv->soff = malloc((size_t)(kv->n ? kv->n : 1) * sizeof *kv->soff);
    if (!kv->soff) return xf_fail(XF_ERR_OOM, "%s: out of memory", c->path);
    for (uint64_t i = 0; i < kv->n; i++) {
        const char *str;
        size_t n;
        kv->soff[i] = (size_t)(c->p - kv->val);
        if ((s = rd_str(c, &str, &n, SIZE_MAX, "an array string"))) return s;
    }
    return XF_OK;
}

static int key_is(const gguf_kv *kv, const char *key) {
    size_t n = strlen(key);
    return kv->klen == n && memcmp(kv->key, key, n) == 0;
}

const char *gguf_type_name(uint32_t type) {
    switch (type) {
    case GGML_F32: return "f32";
    case GGML_F16: return "f16";
    case GGML_BF16: return "bf16";
    case GGML_Q8_0: return "q8_0";
    default: return "unsupported";
    }
}

size_t gguf_type_bytes(uint32_t type, size_t n) {
    switch (type) {
    case GGML_F32: return n <= SIZE_MAX / 4 ? n * 4 : 0;
    case GGML_F16:
    case GGML_BF16: return n <= SIZE_MAX / 2 ? n * 2 : 0;
    case GGML_Q8_0: return n % XF_Q8_0_BLOCK ? 0 : n / XF_Q8_0_BLOCK * XF_Q8_0_BYTES;
    default: return 0;
    }
}

/* One tensor info. */
static xf_status rd_tensor(cur *c, gguf_tensor *t, size_t idx) {
    xf_status s;
    if ((s = rd_str(c, &t->name, &t->nlen, MAX_NAME_BYTES, "a tensor name"))) return s;
    if ((s = rd(c, &t->ndim, 4, "a tensor's dimension count"))) return s;
    if (t->ndim < 1 || t->ndim > GGUF_MAX_DIMS)
        return xf_fail(XF_ERR_FORMAT, "%s: tensor '%.*s' has %u dimensions (1 to %d allowed)", c->path, (int)t->nlen,
                       t->name, t->ndim, GGUF_MAX_DIMS);
    size_t numel = 1;
    for (uint32_t d = 0; d < t->ndim; d++) {
        if ((s = rd(c, &t->ne[d], 8, "a tensor dimension"))) return s;
        if (t->ne[d] == 0 || t->ne[d] > (uint64_t)INT64_MAX || (size_t)t->ne[d] > SIZE_MAX / numel)
            return xf_fail(XF_ERR_FORMAT, "%s: tensor '%.*s' dimension %u is %llu (zero, or the size overflows)",
                           c->path, (int)t->nlen, t->name, d, (unsigned long long)t->ne[d]);
        numel *= (size_t)t->ne[d];
    }
    for (uint32_t d = t->ndim; d < GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    if ((s = rd(c, &t->type, 4, "a tensor type")) || (s = rd(c, &t->offset, 8, "a tensor offset"))) return s;
    t->numel = numel;
    if (t->type != GGML_F32 && t->type != GGML_F16 && t->type != GGML_BF16 && t->type != GGML_Q8_0)
        return xf_fail(XF_ERR_UNSUPPORTED, "%s: tensor '%.*s' has ggml type %u (supported: f32, f16, bf16, q8_0)",
                       c->path, (int)t->nlen, t->name, t->type);
    if (t->type == GGML_Q8_0 && t->ne[0] % XF_Q8_0_BLOCK)
        return xf_fail(XF_ERR_FORMAT, "%s: tensor '%.*s' is q8_0 but its rows (%llu) are not whole blocks of %d",
                       c->path, (int)t->nlen, t->name, (unsigned long long)t->ne[0], XF_Q8_0_BLOCK);
    t->nbytes = gguf_type_bytes(t->type, numel);
    if (!t->nbytes)
        return xf_fail(XF_ERR_FORMAT, "%s: tensor '%.*s' is too large", c->path, (int)t->nlen, t->name);
    (void)idx;
    return XF_OK;
}

static int cmp_off(const void *a, const void *b) {
    const gguf_tensor *x = *(const gguf_tensor *const *)a, *y = *(const gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int cmp_name(const void *a, const void *b) {
    const gguf_tensor *x = *(const gguf_tensor *const *)a, *y = *(const gguf_tensor *const *)b;
    size_t n = x->nlen < y->nlen ? x->nlen : y->nlen;
    int r = memcmp(x->name, y->name, n);
    return r ? r : (x->nlen > y->nlen) - (x->nlen < y->nlen);
}

static xf_status parse(gguf_file *f) {
    cur c = {.p = f->base, .left = f->len, .path = f->path, .start_len = f->len};
    char magic[4];
    uint64_t nt, nkv;
    xf_status s;
    if ((s = rd(&c, magic, 4, "the magic"))) return s;
    if (memcmp(magic, "GGUF", 4))
        return xf_fail(XF_ERR_FORMAT, "%s: not a GGUF file (magic is not \"GGUF\")", f->path);
    if ((s = rd(&c, &f->version, 4, "the version"))) return s;
    if (f->version != 3)
        return xf_fail(XF_ERR_UNSUPPORTED, "%s: GGUF version %u (only version 3 is read)", f->path, f->version);
    if ((s = rd(&c, &nt, 8, "the tensor count")) || (s = rd(&c, &nkv, 8, "the key/value count"))) return s;
    /* a key/value pair takes at least 8 + 4 + 1 bytes and a tensor info 8 + 4 + 8 + 4 + 8 */
    if (nkv > c.left / 13)
        return xf_fail(XF_ERR_FORMAT, "%s: %llu key/value pairs cannot fit in the %zu bytes left", f->path,
                       (unsigned long long)nkv, c.left);
    if (nt > c.left / 32)
        return xf_fail(XF_ERR_FORMAT, "%s: %llu tensors cannot fit in the %zu bytes left", f->path,
                       (unsigned long long)nt, c.left);
    f->kv = calloc(nkv ? (size_t)nkv : 1, sizeof *f->kv);
    f->t = calloc(nt ? (size_t)nt : 1, sizeof *f->t);
    if (!f->kv || !f->t) return xf_fail(XF_ERR_OOM, "%s: out of memory", f->path);
    for (uint64_t i = 0; i < nkv; i++) {
        gguf_kv *kv = &f->kv[i];
        f->nkv = (size_t)i + 1;
        if ((s = rd_str(&c, &kv->key, &kv->klen, MAX_KEY_BYTES, "a key")) ||
            (s = rd(&c, &kv->type, 4, "a value type")) || (s = rd_value(&c, kv)))
            return s;
        for (uint64_t j = 0; j < i; j++)
            if (f->kv[j].klen == kv->klen && !memcmp(f->kv[j].key, kv->key, kv->klen))
                return xf_fail(XF_ERR_FORMAT, "%s: key '%.*s' appears twice", f->path, (int)kv->klen, kv->key);
    }
    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    const gguf_kv *al = gguf_find(f, "general.alignment");
    if (al) {
        uint32_t a;
        if (al->type != GGUF_U32) return xf_fail(XF_ERR_FORMAT, "%s: general.alignment is not a u32", f->path);
        memcpy(&a, al->val, 4);
        if (a == 0 || (a & (a - 1)) || a > (1u << 20))
            return xf_fail(XF_ERR_FORMAT, "%s: general.alignment %u is not a power of two up to 2^20", f->path, a);
        f->alignment = a;
    }
    for (uint64_t i = 0; i < nt; i++) {
        f->nt = (size_t)i + 1;
        if ((s = rd_tensor(&c, &f->t[i], (size_t)i))) return s;
    }
    size_t off = at(&c), pad = (f->alignment - off % f->alignment) % f->alignment;
    if (nt && pad > c.left) return xf_fail(XF_ERR_FORMAT, "%s: truncated before the tensor data", f->path);
    f->data_off = off + (nt ? pad : 0);
    size_t dlen = f->data_off <= f->len ? f->len - f->data_off : 0;
    gguf_tensor **ord = malloc((f->nt ? f->nt : 1) * sizeof *ord);
    if (!ord) return xf_fail(XF_ERR_OOM, "%s: out of memory", f->path);
    for (size_t i = 0; i < f->nt; i++) {
        gguf_tensor *t = &f->t[i];
        ord[i] = t;
        if (t->offset % f->alignment) {
            s = xf_fail(XF_ERR_FORMAT, "%s: tensor '%.*s' data offset %llu is not a multiple of the alignment %zu",
                        f->path, (int)t->nlen, t->name, (unsigned long long)t->offset, f->alignment);
            goto out;
        }
        if (t->offset > dlen || t->nbytes > dlen - t->offset) {
            s = xf_fail(XF_ERR_FORMAT, "%s: tensor '%.*s' data [%llu, +%zu) runs past the end of the file (%zu data bytes)",
                        f->path, (int)t->nlen, t->name, (unsigned long long)t->offset, t->nbytes, dlen);
            goto out;
        }
        t->data = f->base + f->data_off + t->offset;
    }
    qsort(ord, f->nt, sizeof *ord, cmp_off);
    for (size_t i = 1; i < f->nt; i++)
        if (ord[i - 1]->offset + ord[i - 1]->nbytes > ord[i]->offset) {
            s = xf_fail(XF_ERR_FORMAT, "%s: the data of tensors '%.*s' and '%.*s' overlap", f->path,
                        (int)ord[i - 1]->nlen, ord[i - 1]->name, (int)ord[i]->nlen, ord[i]->name);
            goto out;
        }
    qsort(ord, f->nt, sizeof *ord, cmp_name);
    for (size_t i = 1; i < f->nt; i++)
        if (!cmp_name(&ord[i - 1], &ord[i])) {
            s = xf_fail(XF_ERR_FORMAT, "%s: tensor '%.*s' appears twice", f->path, (int)ord[i]->nlen, ord[i]->name);
            goto out;
        }
    s = XF_OK;
out:
    free(ord);
    return s;
}

static xf_status make(gguf_file **out, const char *path) {
    *out = calloc(1, sizeof **out);
    if (!*out) return xf_fail(XF_ERR_OOM, "%s: out of memory", path);
    snprintf((*out)->path, sizeof (*out)->path, "%s", path);
    return XF_OK;
}

xf_status gguf_parse(gguf_file **out, const void *data, size_t len, const char *path) {
    gguf_file *f;
    xf_status s = make(&f, path);
    if (s) return s;
    f->base = data;
    f->len = len;
    if ((s = parse(f))) {
        gguf_close(f);
        return s;
    }
    *out = f;
    return XF_OK;
}

xf_status gguf_open(gguf_file **out, const char *path) {
    *out = NULL;
    gguf_file *f;
    xf_status s = make(&f, path);
    if (s) return s;
    if ((s = xf_mmap_open(&f->map, path))) {
        free(f);
        return s;
    }
    f->base = f->map.ptr;
    f->len = f->map.len;
    if ((s = parse(f))) {
        gguf_close(f);
        return s;
    }
    *out = f;
    return XF_OK;
}

void gguf_close(gguf_file *f) {
    if (!f) return;
    for (size_t i = 0; i < f->nkv; i++) free(f->kv[i].soff);
    free(f->kv);
    free(f->t);
    xf_mmap_close(&f->map);
    free(f);
}

const char *gguf_path(const gguf_file *f) { return f->path; }
uint32_t gguf_version(const gguf_file *f) { return f->version; }
size_t gguf_kv_count(const gguf_file *f) { return f->nkv; }
const gguf_kv *gguf_kv_at(const gguf_file *f, size_t i) { return i < f->nkv ? &f->kv[i] : NULL; }
size_t gguf_tensor_count(const gguf_file *f) { return f->nt; }
const gguf_tensor *gguf_tensor_at(const gguf_file *f, size_t i) { return i < f->nt ? &f->t[i] : NULL; }

const gguf_kv *gguf_find(const gguf_file *f, const char *key) {
    for (size_t i = 0; i < f->nkv; i++)
        if (key_is(&f->kv[i], key)) return &f->kv[i];
    return NULL;
}

const gguf_tensor *gguf_tensor_find(const gguf_file *f, const char *name) {
    size_t n = strlen(name);
    for (size_t i = 0; i < f->nt; i++)
        if (f->t[i].nlen == n && !memcmp(f->t[i].name, name, n)) return &f->t[i];
    return NULL;
}

/* A numeric value of type `type` at p, as a double (integers exactly up to 2^53). */
static double num_at(uint32_t type, const uint8_t *p, int *is_int, int *neg, uint64_t *u) {
    union { uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32; float f; uint64_t u64;
            int64_t i64; double d; } v;
    memcpy(&v, p, k_scalar_size[type]);
    *is_int = 1;
    *neg = 0;
    int64_t sv = 0;
    switch (type) {
    case GGUF_U8: case GGUF_BOOL: *u = v.u8; break;
    case GGUF_U16: *u = v.u16; break;
    case GGUF_U32: *u = v.u32; break;
    case GGUF_U64: *u = v.u64; break;
    case GGUF_I8: sv = v.i8; goto sgn;
    case GGUF_I16: sv = v.i16; goto sgn;
    case GGUF_I32: sv = v.i32; goto sgn;
    case GGUF_I64: sv = v.i64; goto sgn;
    case GGUF_F32: *is_int = 0; return v.f;
    default: *is_int = 0; return v.d;
    }
    return (double)*u;
sgn:
    *neg = sv < 0;
    *u = sv < 0 ? 0 : (uint64_t)sv;
    return (double)sv;
}

static xf_status lookup(const gguf_file *f, const char *key, int required, const gguf_kv **kv) {
    *kv = gguf_find(f, key);
    if (!*kv && required) return xf_fail(XF_ERR_FORMAT, "%s: missing key '%s'", f->path, key);
    return XF_OK;
}

xf_status gguf_get_uint(const gguf_file *f, const char *key, int required, uint64_t max, uint64_t *out) {
    const gguf_kv *kv;
    xf_status s = lookup(f, key, required, &kv);
    if (s || !kv) return s;
    if (kv->type >= GGUF_NTYPES || kv->type == GGUF_STRING || kv->type == GGUF_ARRAY || kv->type == GGUF_F32 ||
        kv->type == GGUF_F64 || kv->type == GGUF_BOOL)
        return xf_fail(XF_ERR_FORMAT, "%s: key '%s' is a %s, expected an integer", f->path, key,
                       k_kv_type_name[kv->type]);
    int is_int, neg;
    uint64_t u;
    num_at(kv->type, kv->val, &is_int, &neg, &u);
    if (neg || u > max)
        return xf_fail(XF_ERR_FORMAT, "%s: key '%s' is out of range [0, %llu]", f->path, key, (unsigned long long)max);
    *out = u;
    return XF_OK;
}

xf_status gguf_get_f32(const gguf_file *f, const char *key, int required, float *out) {
    const gguf_kv *kv;
    xf_status s = lookup(f, key, required, &kv);
    if (s || !kv) return s;
    if (kv->type == GGUF_STRING || kv->type == GGUF_ARRAY || kv->type == GGUF_BOOL)
        return xf_fail(XF_ERR_FORMAT, "%s: key '%s' is a %s, expected a number", f->path, key, k_kv_type_name[kv->type]);
    int is_int, neg;
    uint64_t u;
    *out = (float)num_at(kv->type, kv->val, &is_int, &neg, &u);
    return XF_OK;
}

xf_status gguf_get_bool(const gguf_file *f, const char *key, int required, int *out) {
    const gguf_kv *kv;
    xf_status s = lookup(f, key, required, &kv);
    if (s || !kv) return s;
    if (kv->type != GGUF_BOOL) return xf_fail(XF_ERR_FORMAT, "%s: key '%s' is not a bool", f->path, key);
    *out = kv->val[0] != 0;
    return XF_OK;
}

xf_status gguf_get_str(const gguf_file *f, const char *key, int required, const char **str, size_t *len) {
    const gguf_kv *kv;
    xf_status s = lookup(f, key, required, &kv);
    if (s || !kv) return s;
    if (kv->type != GGUF_STRING) return xf_fail(XF_ERR_FORMAT, "%s: key '%s' is not a string", f->path, key);
    uint64_t n;
    memcpy(&n, kv->val, 8);
    *str = (const char *)kv->val + 8;
    *len = (size_t)n;
    return XF_OK;
}

void gguf_arr_str(const gguf_kv *kv, uint64_t i, const char **str, size_t *len) {
    uint64_t n;
    memcpy(&n, kv->val + kv->soff[i], 8);
    *str = (const char *)kv->val + kv->soff[i] + 8;
    *len = (size_t)n;
}

double gguf_arr_num(const gguf_kv *kv, uint64_t i) {
    int is_int, neg;
    uint64_t u;
    return num_at(kv->atype, kv->val + i * k_scalar_size[kv->atype], &is_int, &neg, &u);
}

xf_status gguf_tensor_f32(const gguf_file *f, const gguf_tensor *t, float *dst) {
    const uint8_t *p = t->data;
    size_t n = t->numel;
    switch (t->type) {
    case GGML_F32: memcpy(dst, p, n * 4); break;
    case GGML_F16:
        for (size_t i = 0; i < n; i++) dst[i] = num_f16_to_f32((uint16_t)(p[2 * i] | (p[2 * i + 1] << 8)));
        break;
    case GGML_BF16:
        for (size_t i = 0; i < n; i++) dst[i] = num_bf16_to_f32((uint16_t)(p[2 * i] | (p[2 * i + 1] << 8)));
        break;
    case GGML_Q8_0: q8_0_dequantize(p, n, dst); break;
    default:
        return xf_fail(XF_ERR_UNSUPPORTED, "%s: tensor '%.*s' has type %u", f->path, (int)t->nlen, t->name, t->type);
    }
    return XF_OK;
}

/* ---- writer ---- */
typedef struct {
    char *name;
    uint32_t ndim, type;
    uint64_t ne[GGUF_MAX_DIMS];
    uint8_t *data;
    size_t nbytes;
} wtensor;

struct gguf_writer {
    uint8_t *kv; /* serialised key/value pairs */
    size_t kvlen, kvcap, nkv;
    wtensor *t;
    size_t nt, tcap;
};

xf_status gguf_writer_create(gguf_writer **out) {
    *out = calloc(1, sizeof **out);
    return *out ? XF_OK : xf_fail(XF_ERR_OOM, "out of memory");
}

void gguf_writer_free(gguf_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->nt; i++) {
        free(w->t[i].name);
        free(w->t[i].data);
    }
    free(w->t);
    free(w->kv);
    free(w);
}

static xf_status put(gguf_writer *w, const void *p, size_t n) {
    if (w->kvcap - w->kvlen < n) {
        size_t cap = w->kvcap ? w->kvcap : 4096;
        while (cap - w->kvlen < n) {
            if (cap > SIZE_MAX / 2) return xf_fail(XF_ERR_OOM, "gguf: metadata too large");
            cap *= 2;
        }
        uint8_t *b = realloc(w->kv, cap);
        if (!b) return xf_fail(XF_ERR_OOM, "out of memory");
        w->kv = b;
        w->kvcap = cap;
    }
    memcpy(w->kv + w->kvlen, p, n);
    w->kvlen += n;
    return XF_OK;
}

static xf_status put_str(gguf_writer *w, const char *s, size_t n) {
    uint64_t len = n;
    xf_status st = put(w, &len, 8);
    return st ? st : put(w, s, n);
}

static xf_status put_key(gguf_writer *w, const char *key, uint32_t type) {
    xf_status s = put_str(w, key, strlen(key));
    if (!s) s = put(w, &type, 4);
    if (!s) w->nkv++;
    return s;
}

xf_status gguf_w_str(gguf_writer *w, const char *key, const char *val) {
    xf_status s = put_key(w, key, GGUF_STRING);
    return s ? s : put_str(w, val, strlen(val));
}

xf_status gguf_w_u32(gguf_writer *w, const char *key, uint32_t val) {
    xf_status s = put_key(w, key, GGUF_U32);
    return s ? s : put(w, &val, 4);
}

xf_status gguf_w_i32(gguf_writer *w, const char *key, int32_t val) {
    xf_status s = put_key(w, key, GGUF_I32);
    return s ? s : put(w, &val, 4);
}

xf_status gguf_w_f32(gguf_writer *w, const char *key, float val) {
    xf_status s = put_key(w, key, GGUF_F32);
    return s ? s : put(w, &val, 4);
}

xf_status gguf_w_bool(gguf_writer *w, const char *key, int val) {
    uint8_t b = val != 0;
    xf_status s = put_key(w, key, GGUF_BOOL);
    return s ? s : put(w, &b, 1);
}

static xf_status put_arr_head(gguf_writer *w, const char *key, uint32_t atype, size_t n) {
    uint64_t len = n;
    xf_status s = put_key(w, key, GGUF_ARRAY);
    if (!s) s = put(w, &atype, 4);
    if (!s) s = put(w, &len, 8);
    return s;
}

xf_status gguf_w_arr_str(gguf_writer *w, const char *key, const char *const *str, const size_t *len, size_t n) {
    xf_status s = put_arr_head(w, key, GGUF_STRING, n);
    for (size_t i = 0; i < n && !s; i++) s = put_str(w, str[i], len[i]);
    return s;
}

xf_status gguf_w_arr_f32(gguf_writer *w, const char *key, const float *v, size_t n) {
    xf_status s = put_arr_head(w, key, GGUF_F32, n);
    return s ? s : put(w, v, n * 4);
}

xf_status gguf_w_arr_i32(gguf_writer *w, const char *key, const int32_t *v, size_t n) {
    xf_status s = put_arr_head(w, key, GGUF_I32, n);
    return s ? s : put(w, v, n * 4);
}

xf_status gguf_w_tensor(gguf_writer *w, const char *name, uint32_t ndim, const uint64_t *ne, uint32_t type,
                        const float *data) {
    if (ndim < 1 || ndim > GGUF_MAX_DIMS) return xf_fail(XF_ERR_ARG, "gguf: tensor '%s' has %u dims", name, ndim);
    size_t n = 1;
    for (uint32_t d = 0; d < ndim; d++) n *= (size_t)ne[d];
    if (type == GGML_Q8_0 && ne[0] % XF_Q8_0_BLOCK)
        return xf_fail(XF_ERR_ARG, "gguf: tensor '%s' rows of %llu are not whole q8_0 blocks", name,
                       (unsigned long long)ne[0]);
    size_t nb = gguf_type_bytes(type, n);
    if (!nb) return xf_fail(XF_ERR_ARG, "gguf: tensor '%s': unsupported type %u", name, type);
    if (w->nt == w->tcap) {
        size_t cap = w->tcap ? 2 * w->tcap : 64;
        wtensor *t = realloc(w->t, cap * sizeof *t);
        if (!t) return xf_fail(XF_ERR_OOM, "out of memory");
        w->t = t;
        w->tcap = cap;
    }
    wtensor *t = &w->t[w->nt];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    t->data = malloc(nb);
    if (!t->name || !t->data) {
        free(t->name);
        free(t->data);
        return xf_fail(XF_ERR_OOM, "out of memory");
    }
    t->ndim = ndim;
    t->type = type;
    t->nbytes = nb;
    memcpy(t->ne, ne, ndim * sizeof *ne);
    uint16_t *h = (uint16_t *)(void *)t->data;
    switch (type) {
    case GGML_F32: memcpy(t->data, data, nb); break;
    case GGML_F16: for (size_t i = 0; i < n; i++) h[i] = num_f32_to_f16(data[i]); break;
    case GGML_BF16: for (size_t i = 0; i < n; i++) h[i] = num_f32_to_bf16(data[i]); break;
    default: q8_0_quantize(data, n, t->data); break;
    }
    w->nt++;
    return XF_OK;
}

static size_t pad_to(size_t off, size_t a) { return (a - off % a) % a; }

xf_status gguf_writer_write(gguf_writer *w, const char *path) {
    static const uint8_t zeros[GGUF_DEFAULT_ALIGNMENT] = {0};
    xf_afile *af;
    xf_status s = afile_open(&af, path);
    if (s) return s;
    uint32_t version = 3;
    uint64_t nt = w->nt, nkv = w->nkv;
    size_t off = 0;
#define W(p, n) do { if (!s) s = afile_write(af, (p), (n)); off += (n); } while (0)
    W("GGUF", 4);
    W(&version, 4);
    W(&nt, 8);
    W(&nkv, 8);
    W(w->kv, w->kvlen);
    uint64_t doff = 0;
    for (size_t i = 0; i < w->nt; i++) {
        wtensor *t = &w->t[i];
        uint64_t nl = strlen(t->name);
        W(&nl, 8);
        W(t->name, nl);
        W(&t->ndim, 4);
        W(t->ne, 8 * (size_t)t->ndim);
        W(&t->type, 4);
        W(&doff, 8);
        doff += t->nbytes + pad_to(t->nbytes, GGUF_DEFAULT_ALIGNMENT);
    }
    W(zeros, pad_to(off, GGUF_DEFAULT_ALIGNMENT));
    for (size_t i = 0; i < w->nt; i++) {
        W(w->t[i].data, w->t[i].nbytes);
        W(zeros, pad_to(w->t[i].nbytes, GGUF_DEFAULT_ALIGNMENT));
    }
#undef W
    if (s) {
        afile_abort(af);
        return s;
    }
    return afile_commit(af);
}
