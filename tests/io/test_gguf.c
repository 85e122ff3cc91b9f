/* GGUF container (src/io/gguf.c) and number formats (src/io/numfmt.c):
 * writer -> reader round trips for every value and tensor type, the f16/bf16
 * conversions against their definitions, Q8_0 against its block formula, and
 * hostile files: every truncation, oversized counts and lengths, bad
 * alignment, overlap, duplicates, and a byte-flip fuzz loop (no crash, every
 * failure a message naming the file). */
#include <stdint.h>

#include "io/gguf.h"
#include "io/numfmt.h"
#include "io_util.h"
#include "xfmr/status.h"

/* A small valid file: a few keys of each kind and four tensors, one per type. */
static void build(const char *path) {
    gguf_writer *w;
    CHECK_OK(gguf_writer_create(&w));
    CHECK_OK(gguf_w_str(w, "general.architecture", "llama"));
    CHECK_OK(gguf_w_u32(w, "a.u32", 7));
    CHECK_OK(gguf_w_i32(w, "a.i32", -3));
    CHECK_OK(gguf_w_f32(w, "a.f32", 0.25f));
    CHECK_OK(gguf_w_bool(w, "a.bool", 1));
    const char *s[3] = {"x", "", "hello"};
    size_t l[3] = {1, 0, 5};
    CHECK_OK(gguf_w_arr_str(w, "a.strs", s, l, 3));
    float fv[2] = {1.5f, -2.0f};
    int32_t iv[3] = {4, -5, 6};
    CHECK_OK(gguf_w_arr_f32(w, "a.f32s", fv, 2));
    CHECK_OK(gguf_w_arr_i32(w, "a.i32s", iv, 3));
    float data[64 * 3];
    for (int i = 0; i < 64 * 3; i++) data[i] = sinf((float)i * 0.37f) * (float)(i % 7);
    uint64_t ne2[2] = {64, 3}, ne1[1] = {5};
    CHECK_OK(gguf_w_tensor(w, "t.f32", 2, ne2, GGML_F32, data));
    CHECK_OK(gguf_w_tensor(w, "t.f16", 2, ne2, GGML_F16, data));
    CHECK_OK(gguf_w_tensor(w, "t.bf16", 2, ne2, GGML_BF16, data));
    CHECK_OK(gguf_w_tensor(w, "t.q8", 2, ne2, GGML_Q8_0, data));
    CHECK_OK(gguf_w_tensor(w, "t.vec", 1, ne1, GGML_F32, data));
    CHECK(gguf_w_tensor(w, "t.bad", 1, ne1, GGML_Q8_0, data) != XF_OK); /* 5 is not whole blocks */
    CHECK_OK(gguf_writer_write(w, path));
    gguf_writer_free(w);
}

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n ? *n : 1);
    CHECK(b && fread(b, 1, *n, f) == *n);
    fclose(f);
    return b;
}

TEST(test_roundtrip) {
    build(tpath("a.gguf"));
    gguf_file *f;
    CHECK_OK(gguf_open(&f, tpath("a.gguf")));
    CHECK(gguf_version(f) == 3 && gguf_kv_count(f) == 8 && gguf_tensor_count(f) == 5);
    uint64_t u;
    float x;
    int b;
    const char *s;
    size_t l;
    CHECK_OK(gguf_get_uint(f, "a.u32", 1, 100, &u));
    CHECK(u == 7);
    CHECK(gguf_get_uint(f, "a.u32", 1, 6, &u) == XF_ERR_FORMAT); /* out of range */
    CHECK(gguf_get_uint(f, "a.i32", 1, 100, &u) == XF_ERR_FORMAT); /* negative */
    CHECK(gguf_get_uint(f, "missing", 1, 100, &u) == XF_ERR_FORMAT);
    u = 99;
    CHECK_OK(gguf_get_uint(f, "missing", 0, 100, &u));
    CHECK(u == 99);
    CHECK_OK(gguf_get_f32(f, "a.f32", 1, &x));
    CHECK(x == 0.25f);
    CHECK_OK(gguf_get_bool(f, "a.bool", 1, &b));
    CHECK(b == 1);
    CHECK_OK(gguf_get_str(f, "general.architecture", 1, &s, &l));
    CHECK(l == 5 && !memcmp(s, "llama", 5));
    CHECK(gguf_get_str(f, "a.u32", 1, &s, &l) == XF_ERR_FORMAT);
    const gguf_kv *kv = gguf_find(f, "a.strs");
    CHECK(kv && kv->type == GGUF_ARRAY && kv->atype == GGUF_STRING && kv->n == 3);
    gguf_arr_str(kv, 2, &s, &l);
    CHECK(l == 5 && !memcmp(s, "hello", 5));
    gguf_arr_str(kv, 1, &s, &l);
    CHECK(l == 0);
    kv = gguf_find(f, "a.i32s");
    CHECK(kv && gguf_arr_num(kv, 1) == -5);
    float data[64 * 3], got[64 * 3];
    for (int i = 0; i < 64 * 3; i++) data[i] = sinf((float)i * 0.37f) * (float)(i % 7);
    static const char *const names[4] = {"t.f32", "t.f16", "t.bf16", "t.q8"};
    for (int k = 0; k < 4; k++) {
        const gguf_tensor *t = gguf_tensor_find(f, names[k]);
        CHECK(t && t->ndim == 2 && t->ne[0] == 64 && t->ne[1] == 3 && t->numel == 192);
        CHECK(t->offset % GGUF_DEFAULT_ALIGNMENT == 0);
        CHECK_OK(gguf_tensor_f32(f, t, got));
        for (int i = 0; i < 192; i++) {
            float amax = 0; /* Q8_0: the block's max over 127, halved, plus the f16 rounding of the scale */
            for (int j = i / 32 * 32; j < i / 32 * 32 + 32; j++) amax = fmaxf(amax, fabsf(data[j]));
            double tol[4] = {0, fabs(data[i]) / 2048.0, fabs(data[i]) / 256.0, amax / 127.0 * (0.5 + 128 / 1024.0)};
            CHECK_MSG(fabs(got[i] - data[i]) <= tol[k] + 1e-30, "%s[%d]: %g vs %g", names[k], i, got[i], data[i]);
        }
    }
    gguf_close(f);
}

TEST(test_f16_bf16) {
    /* every half that is not NaN survives f16 -> f32 -> f16 */
    for (uint32_t h = 0; h < 65536; h++) {
        float x = num_f16_to_f32((uint16_t)h);
        if (x != x) continue;
        CHECK_MSG(num_f32_to_f16(x) == h, "half 0x%04x -> %g -> 0x%04x", h, x, num_f32_to_f16(x));
    }
    CHECK(num_f32_to_f16(1.0f) == 0x3C00 && num_f32_to_f16(65504.0f) == 0x7BFF && num_f32_to_f16(1e6f) == 0x7C00);
    CHECK(num_f32_to_f16(1.0f + 1.0f / 2048) == 0x3C00);             /* a tie rounds to even */
    CHECK(num_f32_to_f16(1.0f + 3.0f / 2048) == 0x3C02);             /* a tie rounds to even (up) */
    CHECK(num_f16_to_f32(0x0001) == ldexpf(1.0f, -24));              /* smallest subnormal */
    CHECK(num_f32_to_f16(ldexpf(1.0f, -25)) == 0x0000);              /* a tie to the even zero */
    CHECK(num_f32_to_f16(ldexpf(3.0f, -26)) == 0x0001);
    for (uint32_t h = 0; h < 65536; h++) {
        float x = num_bf16_to_f32((uint16_t)h);
        if (x != x) continue;
        CHECK(num_f32_to_bf16(x) == h);
    }
    CHECK(num_f32_to_bf16(1.0f + ldexpf(1.0f, -8)) == 0x3F80);        /* tie to even */
    CHECK(num_f32_to_bf16(1.0f + 3 * ldexpf(1.0f, -8)) == 0x3F82);
}

TEST(test_q8_0) {
    float x[32], y[32];
    uint8_t b[XF_Q8_0_BYTES];
    for (int i = 0; i < 32; i++) x[i] = (float)(i - 16) / 4.0f;
    q8_0_quantize(x, 32, b);
    float d = num_f16_to_f32((uint16_t)(b[0] | b[1] << 8));
    CHECK_NEAR(d, 4.0 / 127.0, 1e-5); /* max |x| = 4 */
    CHECK((int8_t)b[2] == -127);
    q8_0_dequantize(b, 32, y);
    for (int i = 0; i < 32; i++) CHECK_NEAR(y[i], (double)(int8_t)b[2 + i] * d, 0);
    memset(x, 0, sizeof x); /* an all-zero block has scale 0 and zeros */
    q8_0_quantize(x, 32, b);
    q8_0_dequantize(b, 32, y);
    for (int i = 0; i < 32; i++) CHECK(y[i] == 0);
}

/* The parse must fail with a message naming the file, or succeed. */
static int parse_ok(const unsigned char *b, size_t n) {
    gguf_file *f = NULL;
    xf_status s = gguf_parse(&f, b, n, "mem.gguf");
    if (s) {
        CHECK_MSG(strstr(xf_last_error(), "mem.gguf") != NULL, "message '%s'", xf_last_error());
        CHECK(f == NULL);
        return 0;
    }
    for (size_t i = 0; i < gguf_tensor_count(f); i++) { /* what parsed is inside the buffer */
        const gguf_tensor *t = gguf_tensor_at(f, i);
        CHECK(t->data >= b && t->data + t->nbytes <= b + n);
    }
    gguf_close(f);
    return 1;
}

TEST(test_truncations) {
    size_t n;
    unsigned char *b = slurp(tpath("a.gguf"), &n);
    CHECK(parse_ok(b, n));
    gguf_file *f;
    CHECK_OK(gguf_parse(&f, b, n, "mem.gguf"));
    size_t end = 0; /* past the last tensor's data: only the alignment padding follows */
    for (size_t i = 0; i < gguf_tensor_count(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        if ((size_t)(t->data - b) + t->nbytes > end) end = (size_t)(t->data - b) + t->nbytes;
    }
    gguf_close(f);
    CHECK(end > n - GGUF_DEFAULT_ALIGNMENT && end <= n);
    for (size_t k = 0; k < end; k++) {
        unsigned char *c = malloc(k ? k : 1); /* exact size, so ASan sees any read past it */
        memcpy(c, b, k);
        CHECK_MSG(!parse_ok(c, k), "a file cut to %zu of %zu bytes parsed", k, n);
        free(c);
    }
    free(b);
}

static void put_u64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }

static void expect_error(const unsigned char *b, size_t n, const char *what) {
    gguf_file *f = NULL;
    xf_status s = gguf_parse(&f, b, n, "mem.gguf");
    CHECK_MSG(s != XF_OK, "parsed");
    CHECK_MSG(strstr(xf_last_error(), what) != NULL, "message '%s' lacks '%s'", xf_last_error(), what);
}

TEST(test_hostile_fields) {
    size_t n;
    unsigned char *b = slurp(tpath("a.gguf"), &n), *c = malloc(n);
    memcpy(c, b, n), c[0] = 'X';
    expect_error(c, n, "not a GGUF file");
    memcpy(c, b, n), c[4] = 2;
    expect_error(c, n, "version 2");
    memcpy(c, b, n), put_u64(c + 8, (uint64_t)1 << 60);
    expect_error(c, n, "tensors cannot fit");
    memcpy(c, b, n), put_u64(c + 16, (uint64_t)1 << 50);
    expect_error(c, n, "key/value pairs cannot fit");
    memcpy(c, b, n), put_u64(c + 24, UINT64_MAX);
    expect_error(c, n, "a key of");
    memcpy(c, b, n), put_u64(c + 16, 9); /* one more pair than there is: reads into the tensor infos */
    gguf_file *f = NULL;
    CHECK(gguf_parse(&f, c, n, "mem.gguf") != XF_OK);
    /* a duplicated key: the second key "a.u32" renamed "a.i32" would need the same length: write one */
    gguf_writer *w;
    CHECK_OK(gguf_writer_create(&w));
    CHECK_OK(gguf_w_u32(w, "k", 1));
    CHECK_OK(gguf_w_u32(w, "k", 2));
    CHECK_OK(gguf_writer_write(w, tpath("dup.gguf")));
    gguf_writer_free(w);
    size_t dn;
    unsigned char *d = slurp(tpath("dup.gguf"), &dn);
    expect_error(d, dn, "appears twice");
    free(d);
    /* general.alignment not a power of two */
    CHECK_OK(gguf_writer_create(&w));
    CHECK_OK(gguf_w_u32(w, "general.alignment", 24));
    CHECK_OK(gguf_writer_write(w, tpath("al.gguf")));
    gguf_writer_free(w);
    d = slurp(tpath("al.gguf"), &dn);
    expect_error(d, dn, "power of two");
    free(d);
    free(b);
    free(c);
}

/* Tensor infos follow the key/values; find "t.f16"'s offset field by its name. */
static unsigned char *find_name(unsigned char *b, size_t n, const char *name) {
    size_t l = strlen(name);
    for (size_t i = 8; i + l <= n; i++)
        if (!memcmp(b + i, name, l) && b[i - 8] == l) return b + i;
    return NULL;
}

TEST(test_hostile_tensors) {
    size_t n;
    unsigned char *b = slurp(tpath("a.gguf"), &n), *c = malloc(n);
    unsigned char *p = find_name(b, n, "t.f16");
    CHECK(p != NULL);
    size_t at = (size_t)(p - b) + 5; /* n_dims, ne[0], ne[1], type, offset */
    uint64_t off;
    memcpy(&off, b + at + 4 + 16 + 4, 8);
    memcpy(c, b, n), put_u64(c + at + 4 + 16 + 4, off + 2);
    expect_error(c, n, "not a multiple of the alignment");
    memcpy(c, b, n), put_u64(c + at + 4 + 16 + 4, 0);
    expect_error(c, n, "overlap");
    memcpy(c, b, n), put_u64(c + at + 4 + 16 + 4, (uint64_t)1 << 40);
    expect_error(c, n, "past the end");
    memcpy(c, b, n), put_u64(c + at + 4, 0);
    expect_error(c, n, "dimension 0 is 0");
    memcpy(c, b, n), put_u64(c + at + 4, (uint64_t)1 << 62);
    expect_error(c, n, "too large");
    memcpy(c, b, n), put_u64(c + at + 4, (uint64_t)1 << 63);
    expect_error(c, n, "overflows");
    memcpy(c, b, n), c[at] = 5;
    expect_error(c, n, "5 dimensions");
    memcpy(c, b, n), c[at + 4 + 16] = 2;
    expect_error(c, n, "ggml type 2");
    memcpy(c, b, n), memcpy(c + (p - b), "t.f32", 5);
    expect_error(c, n, "appears twice");
    free(b);
    free(c);
}

TEST(test_fuzz) {
    size_t n;
    unsigned char *b = slurp(tpath("a.gguf"), &n), *c = malloc(n);
    uint64_t r = 0x9E3779B97F4A7C15ULL;
    int parsed = 0;
    for (int it = 0; it < 3000; it++) {
        memcpy(c, b, n);
        for (int k = 0; k < 1 + it % 4; k++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            size_t pos = (size_t)(r % (n < 600 ? n : 600)); /* the header and infos, where the counts live */
            c[pos] = (unsigned char)(r >> 32);
        }
        parsed += parse_ok(c, n);
    }
    CHECK(parsed > 0 && parsed < 3000);
    free(b);
    free(c);
}

int main(void) {
    if (io_tmpdir_create("xf-gguf")) return 1;
    RUN(test_roundtrip);
    RUN(test_f16_bf16);
    RUN(test_q8_0);
    RUN(test_truncations);
    RUN(test_hostile_fields);
    RUN(test_hostile_tensors);
    RUN(test_fuzz);
    io_tmpdir_remove();
    return test_summary();
}
