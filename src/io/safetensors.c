/* safetensors dtypes and reader (include/xfmr/safetensors.h); the strict JSON
 * check is in safetensors_json.c, the writer in safetensors_write.c.
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
 *      points past U+10FFFF) and strict JSON (st_check_json in
 *      safetensors_json.c), because cJSON
 *      alone accepts control characters in strings, a BOM, leading zeros,
 *      "\u0000" (which would truncate names) and any number syntax;
 *   3. tree: cJSON builds the object; every entry is checked against the
 *      schema (exact fields, known dtype, integers in [0, 2^53), rank <=
 *      XF_ST_MAX_DIMS, overflow-checked numel*bits == end-begin);
 *   4. layout: sorted by offsets the tensors tile [0, data size) exactly;
 *      names are unique (sorted, adjacent compare) and so are metadata keys.
 * Nothing is read from the data buffer before all four pass.
 *
 * The writer (safetensors_write.c) copies the reference writer; both read and
 * write tensor data in host order, so the host must be little-endian (checked
 * at compile time in io/safetensors_int.h). */
#include "xfmr/safetensors.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"
#include "io/numfmt.h"
#include "io/safetensors_int.h"

/* ---- dtypes ------------------------------------------------------------- */

const st_dtype_info g_dtypes[XF_DT_COUNT] = {
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
size_t utf8_invalid_at(const unsigned char *s, size_t n) {
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
int mul_ok(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
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
            dst[i] = num_f16_to_f32((uint16_t)(src[2 * i] | (src[2 * i + 1] << 8)));
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
