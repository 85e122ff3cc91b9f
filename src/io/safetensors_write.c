/* safetensors writer (include/xfmr/safetensors.h).
 *
 * It copies the reference writer (huggingface/safetensors @24b0b28,
 * docs/formats.md §1): "__metadata__" first, tensors sorted by
 * reference dtype order descending then name, offsets back to back, header
 * padded with spaces to a multiple of 8, then the data streamed through the
 * atomic writer (io/file.h). Data is written in host order, so the host must
 * be little-endian (checked at compile time in io/safetensors_int.h). */
#include "xfmr/safetensors.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "io/file.h"
#include "io/safetensors_int.h"

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
    xf_strbuf hb = {0};
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
        sb_json_str(&hb, w->mkey[i], strlen(w->mkey[i]));
        sb_cstr(&hb, ":");
        sb_json_str(&hb, w->mval[i], strlen(w->mval[i]));
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
        sb_json_str(&hb, t->name, strlen(t->name));
        sb_cstr(&hb, ":{\"dtype\":\"");
        sb_cstr(&hb, g_dtypes[t->dtype].name);
        sb_cstr(&hb, "\",\"shape\":[");
        for (size_t d = 0; d < t->ndim; d++) {
            if (d) sb_cstr(&hb, ",");
            sb_printf(&hb, "%zu", t->shape[d]);
        }
        sb_cstr(&hb, "],\"data_offsets\":[");
        sb_printf(&hb, "%zu", off);
        sb_cstr(&hb, ",");
        sb_printf(&hb, "%zu", off + t->nbytes);
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
    if ((s = afile_open(&af, path)) != XF_OK) goto done;
    s = afile_write(af, len8, 8);
    if (s == XF_OK) s = afile_write(af, hb.p, hb.len);
    for (size_t k = 0; s == XF_OK && k < w->n; k++) {
        const st_wtensor *t = &w->t[ord[k]];
        if (t->nbytes) s = afile_write(af, t->data, t->nbytes);
    }
    if (s != XF_OK)
        afile_abort(af);
    else
        s = afile_commit(af);
done:
    free(ord);
    free(tmp);
    free(hb.p);
    return s;
}
