/* Tests for src/io/safetensors.c.
 *
 * - round trip of every dtype (bit-exact), scalar [] and empty tensors,
 *   metadata, odd names, write order and alignment, header layout;
 * - F16/BF16/F64 -> f32 and integer -> i64 conversion values;
 * - read errors (absent tensor, shape and dtype mismatch) naming what differs;
 * - hostile files, each refused with XF_ERR_FORMAT and a message naming the
 *   file and the problem;
 * - writer argument errors and atomic replacement;
 * - a fixed-seed fuzz loop: 2000 mutated files must each open cleanly or fail
 *   with XF_ERR_FORMAT (run it under `make SAN=1` for memory errors).
 * Files live in a fresh directory under /tmp, removed at the end. */
#include "test.h"
#include "io_util.h"

#include <stdint.h>
#include <unistd.h>

#include "core/rng.h"
#include "xfmr/safetensors.h"
#include "xfmr/status.h"

/* Whole file into a malloc'd buffer. */
static unsigned char *get_bytes(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) FAILF("cannot open %s", path);
    fseek(fp, 0, SEEK_END);
    long sz = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)sz + 1);
    if (b == NULL || fread(b, 1, (size_t)sz, fp) != (size_t)sz) FAILF("cannot read %s", path);
    fclose(fp);
    *n = (size_t)sz;
    return b;
}

/* A raw safetensors file: u64 LE `n`, hdr[0..hlen), then data_len bytes. */
static void put_st(const char *path, uint64_t n, const char *hdr, size_t hlen, size_t data_len) {
    size_t total = 8 + hlen + data_len;
    unsigned char *b = calloc(total, 1);
    if (b == NULL) FAILF("oom");
    for (int k = 0; k < 8; k++) b[k] = (unsigned char)(n >> (8 * k));
    memcpy(b + 8, hdr, hlen);
    for (size_t i = 0; i < data_len; i++) b[8 + hlen + i] = (unsigned char)(i * 7 + 1);
    put_bytes(path, b, total);
    free(b);
}

/* Opening `path` must fail with XF_ERR_FORMAT, f NULL, message naming the
 * path and containing `needle` (if not NULL). */
static void expect_format(const char *path, const char *needle) {
    xf_st_file *f = (xf_st_file *)&f;
    xf_status s = xf_st_open(&f, path);
    const char *msg = xf_last_error();
    if (s == XF_OK) xf_st_close(f);
    CHECK_MSG(s == XF_ERR_FORMAT, "%s: status %s, message: %s", path, xf_status_name(s), msg);
    CHECK(f == NULL);
    CHECK_MSG(strstr(msg, path) != NULL, "message does not name the file: %s", msg);
    if (needle) CHECK_MSG(strstr(msg, needle) != NULL, "message lacks '%s': %s", needle, msg);
}

/* Header text `hdr` (length strlen) followed by data_len bytes must be refused. */
static void expect_bad(const char *name, const char *hdr, size_t data_len, const char *needle) {
    const char *p = tpath(name);
    put_st(p, strlen(hdr), hdr, strlen(hdr), data_len);
    expect_format(p, needle);
}

/* Same header must open fine. */
static void expect_good(const char *name, const char *hdr, size_t data_len) {
    const char *p = tpath(name);
    put_st(p, strlen(hdr), hdr, strlen(hdr), data_len);
    xf_st_file *f;
    CHECK_OK(xf_st_open(&f, p));
    xf_st_close(f);
}

TEST(test_dtype_table) {
    for (int d = 0; d < XF_DT_COUNT; d++) {
        const char *nm = xf_dtype_name((xf_dtype)d);
        size_t b = xf_dtype_bits((xf_dtype)d);
        CHECK_MSG(strcmp(nm, "?") != 0, "dtype %d has no name", d);
        CHECK_MSG(b == 4 || b == 6 || b == 8 || b == 16 || b == 32 || b == 64, "dtype %s bits %zu",
                  nm, b);
        for (int e = 0; e < d; e++) CHECK(strcmp(nm, xf_dtype_name((xf_dtype)e)) != 0);
    }
    CHECK(strcmp(xf_dtype_name(XF_DT_BF16), "BF16") == 0 && xf_dtype_bits(XF_DT_BF16) == 16);
    CHECK(xf_dtype_bits(XF_DT_F4) == 4 && xf_dtype_bits(XF_DT_F6_E3M2) == 6);
    CHECK(strcmp(xf_dtype_name(XF_DT_COUNT), "?") == 0 && xf_dtype_bits(XF_DT_COUNT) == 0);
}

/* ---- round trip ------------------------------------------------------------ */

#define WEIRD_NAME "name \"quoted\"\n\t\xc3\xbc\\"

typedef struct {
    const char *name;
    xf_dtype dt;
    size_t ndim;
    size_t shape[3];
    size_t nbytes;
    unsigned char bytes[48];
} rt_tensor;

/* Added in this order (not the write order). */
static const rt_tensor g_rt[] = {
    {"w.f32", XF_DT_F32, 2, {2, 3}, 24, {0}},
    {"w.f16", XF_DT_F16, 1, {4}, 8, {0}},
    {"mask", XF_DT_BOOL, 1, {3}, 3, {0}},
    {"w.bf16", XF_DT_BF16, 1, {3}, 6, {0}},
    {"ids.i64", XF_DT_I64, 1, {3}, 24, {0}},
    {"w.f64", XF_DT_F64, 1, {2}, 16, {0}},
    {"ids.i32", XF_DT_I32, 2, {2, 2}, 16, {0}},
    {"ids.i16", XF_DT_I16, 1, {2}, 4, {0}},
    {"ids.i8", XF_DT_I8, 1, {3}, 3, {0}},
    {"ids.u8", XF_DT_U8, 1, {5}, 5, {0}},
    {"ids.u16", XF_DT_U16, 1, {1}, 2, {0}},
    {"ids.u32", XF_DT_U32, 1, {1}, 4, {0}},
    {"ids.u64", XF_DT_U64, 1, {2}, 16, {0}},
    {"c", XF_DT_C64, 1, {1}, 8, {0}},
    {"f8", XF_DT_F8_E4M3, 1, {3}, 3, {0}},
    {"f4", XF_DT_F4, 1, {2}, 1, {0}},
    {"f6", XF_DT_F6_E2M3, 1, {4}, 3, {0}},
    {"scalar", XF_DT_F32, 0, {0}, 4, {0}},
    {"empty", XF_DT_F32, 2, {0, 3}, 0, {0}},
    {"empty.i64", XF_DT_I64, 1, {0}, 0, {0}},
    {WEIRD_NAME, XF_DT_F32, 1, {1}, 4, {0}},
};
#define N_RT (sizeof g_rt / sizeof g_rt[0])

/* Reference writer order: dtype alignment descending (reference enum), then
 * name bytewise. */
static const char *const g_rt_order[N_RT] = {
    "ids.u64", "empty.i64", "ids.i64", "w.f64",  "c",      "empty", WEIRD_NAME,
    "scalar",  "w.f32",     "ids.u32", "ids.i32", "w.bf16", "w.f16", "ids.u16",
    "ids.i16", "f8",        "ids.i8",  "ids.u8", "f6",     "f4",    "mask",
};

/* Distinct pseudo-random bytes per tensor. */
static void rt_fill(unsigned char *b, size_t n, size_t seed) {
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)(seed * 31 + i * 17 + 5);
}

TEST(test_roundtrip) {
    unsigned char data[N_RT][48];
    xf_st_writer *w;
    CHECK_OK(xf_st_writer_create(&w));
    for (size_t i = 0; i < N_RT; i++) {
        rt_fill(data[i], g_rt[i].nbytes, i);
        CHECK_OK(xf_st_writer_add(w, g_rt[i].name, g_rt[i].dt, g_rt[i].ndim, g_rt[i].shape,
                                  g_rt[i].nbytes ? data[i] : NULL));
    }
    CHECK_OK(xf_st_writer_meta(w, "note", "say \"hi\"\n\xe2\x82\xac"));
    CHECK_OK(xf_st_writer_meta(w, "step", "100"));
    CHECK_OK(xf_st_writer_meta(w, "step", "200")); /* replaces */
    const char *p = tpath("rt.safetensors");
    CHECK_OK(xf_st_writer_write(w, p));
    xf_st_writer_free(w);

    xf_st_file *f;
    CHECK_OK(xf_st_open(&f, p));
    CHECK(strcmp(xf_st_path(f), p) == 0);
    CHECK(xf_st_count(f) == N_RT);
    for (size_t i = 0; i < N_RT; i++) {
        const xf_st_tensor *t = xf_st_find(f, g_rt[i].name);
        CHECK_MSG(t != NULL, "tensor %s missing", g_rt[i].name);
        CHECK(strcmp(t->name, g_rt[i].name) == 0);
        CHECK(t->dtype == g_rt[i].dt);
        CHECK(t->ndim == g_rt[i].ndim);
        size_t numel = 1;
        for (size_t d = 0; d < t->ndim; d++) {
            CHECK(t->shape[d] == g_rt[i].shape[d]);
            numel *= t->shape[d];
        }
        CHECK(t->numel == numel);
        CHECK(t->end - t->begin == g_rt[i].nbytes);
        CHECK_MSG(g_rt[i].nbytes == 0 || memcmp(xf_st_data(f, t), data[i], g_rt[i].nbytes) == 0,
                  "tensor %s data differs", g_rt[i].name);
        size_t eb = xf_dtype_bits(t->dtype) / 8;
        CHECK_MSG(eb == 0 || t->begin % eb == 0, "tensor %s at %zu not aligned", t->name,
                  t->begin);
    }
    for (size_t i = 0; i < N_RT; i++)
        CHECK_MSG(strcmp(xf_st_at(f, i)->name, g_rt_order[i]) == 0, "position %zu: %s, want %s",
                  i, xf_st_at(f, i)->name, g_rt_order[i]);
    CHECK(xf_st_at(f, N_RT) == NULL);
    CHECK(xf_st_find(f, "nope") == NULL);
    CHECK(xf_st_find(f, "") == NULL);
    CHECK(strcmp(xf_st_meta(f, "format"), "pt") == 0);
    CHECK(strcmp(xf_st_meta(f, "note"), "say \"hi\"\n\xe2\x82\xac") == 0);
    CHECK(strcmp(xf_st_meta(f, "step"), "200") == 0);
    CHECK(xf_st_meta(f, "absent") == NULL);

    float sc;
    memcpy(&sc, data[17], 4);
    float got = 0;
    CHECK_OK(xf_st_read_f32(f, "scalar", &got, 0, NULL));
    CHECK(memcmp(&got, &sc, 4) == 0);
    CHECK_OK(xf_st_read_f32(f, "empty", NULL, 2, (const size_t[]){0, 3}));
    xf_st_close(f);
    xf_st_close(NULL);
}

/* The header starts with '{' right after the length, N % 8 == 0, ends with
 * '}' plus space padding, and "__metadata__" with "format":"pt" comes first. */
TEST(test_header_layout) {
    xf_st_writer *w;
    CHECK_OK(xf_st_writer_create(&w));
    float x[3] = {1, 2, 3};
    CHECK_OK(xf_st_writer_add(w, "x", XF_DT_F32, 1, (const size_t[]){3}, x));
    const char *p = tpath("layout.safetensors");
    CHECK_OK(xf_st_writer_write(w, p));
    xf_st_writer_free(w);

    size_t sz;
    unsigned char *b = get_bytes(p, &sz);
    uint64_t n = 0;
    for (int k = 7; k >= 0; k--) n = (n << 8) | b[k];
    CHECK(n % 8 == 0);
    CHECK(8 + n + 12 == sz);
    CHECK(b[8] == '{');
    const char *want = "{\"__metadata__\":{\"format\":\"pt\"},"
                       "\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}";
    CHECK(memcmp(b + 8, want, strlen(want)) == 0);
    for (size_t i = 8 + strlen(want); i < 8 + n; i++) CHECK(b[i] == ' ');
    CHECK(memcmp(b + 8 + n, x, 12) == 0);
    free(b);

    /* no tensors at all: still a valid file with metadata */
    CHECK_OK(xf_st_writer_create(&w));
    p = tpath("none.safetensors");
    CHECK_OK(xf_st_writer_write(w, p));
    xf_st_writer_free(w);
    xf_st_file *f;
    CHECK_OK(xf_st_open(&f, p));
    CHECK(xf_st_count(f) == 0);
    CHECK(xf_st_find(f, "x") == NULL);
    CHECK(strcmp(xf_st_meta(f, "format"), "pt") == 0);
    xf_st_close(f);
}

/* Tolerated: whitespace on both sides of the object, no metadata, empty
 * object, tensors listed out of offset order, empty tensors anywhere. */
TEST(test_lenient_but_valid) {
    expect_good("ws.st",
                " \n\t{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}\r\n  ", 4);
    expect_good("emptyobj.st", "{}", 0);
    expect_good("order.st",
                "{\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[4,6]},"
                "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
                "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                6);
    expect_good("escaped.st",
                "{\"\\u00fc\\ud83d\\ude00\\n\":{\"data_offsets\":[0,1],\"shape\":[],\"dtype\":"
                "\"I8\"}}",
                1);
}

/* ---- conversions ----------------------------------------------------------- */

static void write_one(const char *path, const char *name, xf_dtype dt, size_t n, const void *d) {
    xf_st_writer *w;
    CHECK_OK(xf_st_writer_create(&w));
    CHECK_OK(xf_st_writer_add(w, name, dt, 1, (const size_t[]){n}, d));
    CHECK_OK(xf_st_writer_write(w, path));
    xf_st_writer_free(w);
}

static uint32_t fbits(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

TEST(test_f16_bf16_f64_values) {
    static const uint16_t h[] = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x03FF, 0x0400, 0x8000,
                                 0x7C00, 0xFC00, 0x3555, 0x5640, 0x8001, 0x7E00};
    static const float hv[] = {1.0f,     -2.0f,     65504.0f,    0x1p-24f,   0x3FFp-24f,
                               0x1p-14f, -0.0f,     INFINITY,    -INFINITY,  0.333251953125f,
                               100.0f,   -0x1p-24f, 0.0f /* NaN, checked apart */};
    const size_t nh = sizeof h / sizeof h[0];
    const char *p = tpath("f16.st");
    write_one(p, "h", XF_DT_F16, nh, h);
    xf_st_file *f;
    float out[16];
    CHECK_OK(xf_st_open(&f, p));
    CHECK_OK(xf_st_read_f32(f, "h", out, 1, (const size_t[]){nh}));
    for (size_t i = 0; i + 1 < nh; i++)
        CHECK_MSG(fbits(out[i]) == fbits(hv[i]), "f16 0x%04x -> %a, want %a", h[i], out[i], hv[i]);
    CHECK(isnan(out[nh - 1]));
    xf_st_close(f);

    static const uint16_t bf[] = {0x3F80, 0xC0A0, 0x4049, 0x7F80, 0xFF80, 0x0001, 0x8000, 0x7FC0};
    const size_t nb = sizeof bf / sizeof bf[0];
    p = tpath("bf16.st");
    write_one(p, "b", XF_DT_BF16, nb, bf);
    CHECK_OK(xf_st_open(&f, p));
    CHECK_OK(xf_st_read_f32(f, "b", out, 1, (const size_t[]){nb}));
    for (size_t i = 0; i < nb; i++)
        CHECK_MSG(fbits(out[i]) == (uint32_t)bf[i] << 16, "bf16 0x%04x -> %a", bf[i], out[i]);
    CHECK(out[0] == 1.0f && out[1] == -5.0f && out[2] == 3.140625f && isinf(out[3]));
    CHECK(isnan(out[7]));
    xf_st_close(f);

    static const double dv[] = {1.0 / 3.0, -2.5, 1e300, 1e-300};
    p = tpath("f64.st");
    write_one(p, "d", XF_DT_F64, 4, dv);
    CHECK_OK(xf_st_open(&f, p));
    CHECK_OK(xf_st_read_f32(f, "d", out, 1, (const size_t[]){4}));
    CHECK(out[0] == (float)(1.0 / 3.0) && out[1] == -2.5f && isinf(out[2]) && out[3] == 0.0f);
    xf_st_close(f);

    static const float fv[] = {1.5f, -0.0f, 3e38f};
    p = tpath("f32.st");
    write_one(p, "x", XF_DT_F32, 3, fv);
    CHECK_OK(xf_st_open(&f, p));
    CHECK_OK(xf_st_read_f32(f, "x", out, 1, (const size_t[]){3}));
    CHECK(memcmp(out, fv, sizeof fv) == 0);
    xf_st_close(f);
}

TEST(test_read_i64_values) {
    int64_t out[8];
    xf_st_file *f;
    static const int32_t i32[] = {-7, 0, 2147483647, -2147483647 - 1};
    const char *p = tpath("i32.st");
    write_one(p, "v", XF_DT_I32, 4, i32);
    CHECK_OK(xf_st_open(&f, p));
    CHECK_OK(xf_st_read_i64(f, "v", out, 1, (const size_t[]){4}));
    for (int i = 0; i < 4; i++) CHECK(out[i] == i32[i]);
    xf_st_close(f);

    static const uint8_t u8[] = {0, 1, 200, 255};
    p = tpath("u8.st");
    write_one(p, "v", XF_DT_U8, 4, u8);
    CHECK_OK(xf_st_open(&f, p));
    CHECK_OK(xf_st_read_i64(f, "v", out, 1, (const size_t[]){4}));
    CHECK(out[0] == 0 && out[1] == 1 && out[2] == 200 && out[3] == 255);
    xf_st_close(f);

    static const uint8_t bo[] = {0, 1, 2};
    p = tpath("bool.st");
    write_one(p, "v", XF_DT_BOOL, 3, bo);
    CHECK_OK(xf_st_open(&f, p));
    CHECK_OK(xf_st_read_i64(f, "v", out, 1, (const size_t[]){3}));
    CHECK(out[0] == 0 && out[1] == 1 && out[2] == 1);
    xf_st_close(f);

    static const int8_t i8[] = {-128, 127};
    p = tpath("i8.st");
    write_one(p, "v", XF_DT_I8, 2, i8);
    CHECK_OK(xf_st_open(&f, p));
    CHECK_OK(xf_st_read_i64(f, "v", out, 1, (const size_t[]){2}));
    CHECK(out[0] == -128 && out[1] == 127);
    xf_st_close(f);

    static const int64_t i64[] = {INT64_MIN, INT64_MAX, -1};
    p = tpath("i64.st");
    write_one(p, "v", XF_DT_I64, 3, i64);
    CHECK_OK(xf_st_open(&f, p));
    CHECK_OK(xf_st_read_i64(f, "v", out, 1, (const size_t[]){3}));
    CHECK(memcmp(out, i64, sizeof i64) == 0);
    xf_st_close(f);

    static const uint64_t u64[] = {5, (uint64_t)INT64_MAX + 1};
    p = tpath("u64.st");
    write_one(p, "v", XF_DT_U64, 2, u64);
    CHECK_OK(xf_st_open(&f, p));
    out[0] = 42;
    CHECK(xf_st_read_i64(f, "v", out, 1, (const size_t[]){2}) == XF_ERR_FORMAT);
    CHECK(strstr(xf_last_error(), p) && strstr(xf_last_error(), "element 1"));
    CHECK(out[0] == 42); /* untouched on failure */
    xf_st_close(f);
}

TEST(test_read_errors) {
    const char *p = tpath("errs.st");
    xf_st_writer *w;
    float x[6] = {0};
    int32_t ids[2] = {1, 2};
    CHECK_OK(xf_st_writer_create(&w));
    CHECK_OK(xf_st_writer_add(w, "proj.weight", XF_DT_F32, 2, (const size_t[]){2, 3}, x));
    CHECK_OK(xf_st_writer_add(w, "ids", XF_DT_I32, 1, (const size_t[]){2}, ids));
    CHECK_OK(xf_st_writer_write(w, p));
    xf_st_writer_free(w);

    xf_st_file *f;
    CHECK_OK(xf_st_open(&f, p));
    float out[8];
    int64_t iout[8];
    const char *m;

    CHECK(xf_st_read_f32(f, "proj.weight", out, 2, (const size_t[]){3, 2}) == XF_ERR_SHAPE);
    m = xf_last_error();
    CHECK_MSG(strstr(m, p) && strstr(m, "proj.weight") && strstr(m, "[2, 3]") &&
                  strstr(m, "[3, 2]"),
              "shape message: %s", m);
    CHECK(xf_st_read_f32(f, "proj.weight", out, 1, (const size_t[]){6}) == XF_ERR_SHAPE);
    CHECK(strstr(xf_last_error(), "[6]") != NULL);
    CHECK(xf_st_read_f32(f, "proj.weight", out, 3, (const size_t[]){2, 3, 1}) == XF_ERR_SHAPE);

    CHECK(xf_st_read_f32(f, "ids", out, 1, (const size_t[]){2}) == XF_ERR_UNSUPPORTED);
    m = xf_last_error();
    CHECK_MSG(strstr(m, p) && strstr(m, "'ids'") && strstr(m, "I32") && strstr(m, "F32"),
              "dtype message: %s", m);
    CHECK(xf_st_read_i64(f, "proj.weight", iout, 2, (const size_t[]){2, 3}) ==
          XF_ERR_UNSUPPORTED);
    m = xf_last_error();
    CHECK_MSG(strstr(m, p) && strstr(m, "proj.weight") && strstr(m, "F32"), "dtype: %s", m);

    CHECK(xf_st_read_f32(f, "missing.weight", out, 1, (const size_t[]){2}) == XF_ERR_FORMAT);
    m = xf_last_error();
    CHECK(strstr(m, p) && strstr(m, "missing.weight") && strstr(m, "not found"));
    CHECK(xf_st_read_i64(f, "missing", iout, 0, NULL) == XF_ERR_FORMAT);
    xf_st_close(f);

    xf_st_file *g = (xf_st_file *)&g;
    const char *none = tpath("no-such-file.st");
    CHECK(xf_st_open(&g, none) == XF_ERR_IO);
    CHECK(g == NULL);
    CHECK(strstr(xf_last_error(), none) != NULL);
    CHECK(xf_st_open(&g, g_dir) == XF_ERR_IO);
    CHECK(strstr(xf_last_error(), g_dir) != NULL);
}

/* ---- upstream vectors ------------------------------------------------------- */

/* Byte strings from the reference's own tests (safetensors/src/tensor.rs):
 * the same verdicts here. */
#define UP_HDR "{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}"
#define UP_Z16 "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"

static void put_lit(const char *name, const char *bytes, size_t n) {
    put_bytes(tpath(name), bytes, n);
}
#define PUT_LIT(name, lit) put_lit(name, lit, sizeof(lit) - 1)

TEST(test_upstream_vectors) {
    xf_st_file *f;
    PUT_LIT("up-deser.st", "<\0\0\0\0\0\0\0" UP_HDR UP_Z16);
    CHECK_OK(xf_st_open(&f, tpath("up-deser.st")));
    CHECK(xf_st_count(f) == 1);
    const xf_st_tensor *t = xf_st_find(f, "test");
    CHECK(t && t->dtype == XF_DT_I32 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 2);
    CHECK(t->begin == 0 && t->end == 16 && xf_st_meta(f, "format") == NULL);
    xf_st_close(f);

    PUT_LIT("up-scalar.st", "8\0\0\0\0\0\0\0{\"test\":{\"dtype\":\"I32\",\"shape\":[],"
                            "\"data_offsets\":[0,4]}}\0\0\0\0");
    CHECK_OK(xf_st_open(&f, tpath("up-scalar.st")));
    CHECK(xf_st_at(f, 0)->ndim == 0 && xf_st_at(f, 0)->numel == 1);
    xf_st_close(f);

    PUT_LIT("up-ws.st", "\x06\0\0\0\0\0\0\0{}\x0D\x20\x09\x0A");
    CHECK_OK(xf_st_open(&f, tpath("up-ws.st")));
    CHECK(xf_st_count(f) == 0);
    xf_st_close(f);

    PUT_LIT("up-zero.st", "<\0\0\0\0\0\0\0{\"test\":{\"dtype\":\"I32\",\"shape\":[2,0],"
                          "\"data_offsets\":[0, 0]}}");
    CHECK_OK(xf_st_open(&f, tpath("up-zero.st")));
    CHECK(xf_st_at(f, 0)->numel == 0);
    xf_st_close(f);

    PUT_LIT("up-polyglot.st", "<\0\0\0\0\0\0\0" UP_HDR UP_Z16 "extra_bogus_data_for_polyglot_file");
    expect_format(tpath("up-polyglot.st"), "trailing");
    PUT_LIT("up-missing2.st", "<\0\0\0\0\0\0\0" UP_HDR "\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
    expect_format(tpath("up-missing2.st"), "truncated");
    PUT_LIT("up-too-large.st", "<\0\0\0\0\xff\xff\xff" UP_HDR UP_Z16);
    expect_format(tpath("up-too-large.st"), "exceeds the limit");
    PUT_LIT("up-too-small.st", "");
    expect_format(tpath("up-too-small.st"), "too small");
    PUT_LIT("up-bad-len.st", "<\0\0\0\0\0\0\0");
    expect_format(tpath("up-bad-len.st"), "past the end");
    PUT_LIT("up-non-utf8.st", "\x01\0\0\0\0\0\0\0\xff");
    expect_format(tpath("up-non-utf8.st"), "UTF-8");
    PUT_LIT("up-not-json.st", "\x01\0\0\0\0\0\0\0{");
    expect_format(tpath("up-not-json.st"), "not valid JSON");
    PUT_LIT("up-invalid-info.st", "<\0\0\0\0\0\0\0{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],"
                                  "\"data_offsets\":[0, 4]}}");
    expect_format(tpath("up-invalid-info.st"), "needs 16 bytes");
    PUT_LIT("up-overflow1.st", "O\0\0\0\0\0\0\0{\"test\":{\"dtype\":\"I32\",\"shape\":[2,"
                               "18446744073709551614],\"data_offsets\":[0,16]}}" UP_Z16);
    expect_format(tpath("up-overflow1.st"), NULL);
    PUT_LIT("up-overflow2.st", "N\0\0\0\0\0\0\0{\"test\":{\"dtype\":\"I32\",\"shape\":[2,"
                               "9223372036854775807],\"data_offsets\":[0,16]}}" UP_Z16);
    expect_format(tpath("up-overflow2.st"), NULL);

    /* test_json_attack: ten tensors all claiming bytes [0, 16) */
    char hdr[1024];
    size_t k = 0;
    hdr[k++] = '{';
    for (int i = 0; i < 10; i++)
        k += (size_t)snprintf(hdr + k, sizeof hdr - k,
                              "%s\"weight_%d\":{\"dtype\":\"F32\",\"shape\":[2,2],"
                              "\"data_offsets\":[0,16]}",
                              i ? "," : "", i);
    snprintf(hdr + k, sizeof hdr - k, "}");
    expect_bad("up-json-attack.st", hdr, 16, "overlaps");
}

/* ---- hostile files --------------------------------------------------------- */

#define ENTRY(name, dt, shape, offs) \
    "\"" name "\":{\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":" offs "}"

TEST(test_bad_sizes) {
    const char *p = tpath("empty.st");
    put_bytes(p, "", 0);
    expect_format(p, "too small");
    p = tpath("seven.st");
    put_bytes(p, "\x02\0\0\0\0\0\0", 7);
    expect_format(p, "too small");

    p = tpath("past-end.st");
    put_st(p, 100, "{}", 2, 0);
    expect_format(p, "past the end");
    p = tpath("past-end-by-one.st");
    put_st(p, 3, "{}", 2, 0);
    expect_format(p, "past the end");
    p = tpath("huge-n.st");
    put_st(p, 100000001, "{}", 2, 0);
    expect_format(p, "exceeds the limit");
    p = tpath("max-n.st");
    put_st(p, UINT64_MAX, "{}", 2, 0);
    expect_format(p, "exceeds the limit");
    p = tpath("zero-n.st");
    put_st(p, 0, "", 0, 0);
    expect_format(p, "not a JSON object");
}

TEST(test_bad_json) {
    expect_bad("notjson.st", "this is not json", 0, "not a JSON object");
    expect_bad("array.st", "[1, 2, 3]", 0, "not a JSON object");
    expect_bad("string.st", "\"abc\"", 0, "not a JSON object");
    expect_bad("number.st", "12", 0, "not a JSON object");
    expect_bad("bom.st", "\xef\xbb\xbf{}", 0, "not a JSON object");
    expect_bad("trunc.st", "{\"a\":{\"dtype\":\"F32\",", 0, "not valid JSON");
    expect_bad("novalue.st", "{\"a\":}", 0, "not valid JSON");
    expect_bad("trailing-comma.st", "{\"a\":{},}", 0, "not valid JSON");
    expect_bad("garbage-after.st", "{} x", 0, "after the top-level object");
    expect_bad("two-objects.st", "{}{}", 0, "after the top-level object");
    expect_bad("single-quote.st", "{'a':1}", 0, "not valid JSON");
    expect_bad("ctrl-char.st", "{\"a\x01\":{}}", 0, "control character");
    expect_bad("nul-escape.st", "{\"a\\u0000b\":{}}", 0, "NUL");
    expect_bad("lone-surrogate.st", "{\"\\ud800\":{}}", 0, "surrogate");
    expect_bad("bad-escape.st", "{\"\\x41\":{}}", 0, "escape");
    expect_bad("word.st", "{\"__metadata__\":nul}", 0, "not valid JSON");
    char deep[400];
    size_t k = 0;
    k += (size_t)snprintf(deep, sizeof deep, "{\"__metadata__\":");
    for (int i = 0; i < 100; i++) deep[k++] = '[';
    for (int i = 0; i < 100; i++) deep[k++] = ']';
    deep[k++] = '}';
    deep[k] = '\0';
    expect_bad("deep.st", deep, 0, "nesting");
    char longarr[400];
    k = (size_t)snprintf(longarr, sizeof longarr, "{\"a\":{\"dtype\":\"U8\",\"shape\":[");
    for (int i = 0; i < 65; i++) k += (size_t)snprintf(longarr + k, sizeof longarr - k, "1,");
    snprintf(longarr + k - 1, sizeof longarr - k + 1, "],\"data_offsets\":[0,1]}}");
    expect_bad("longarr.st", longarr, 1, "more than 64");
}

TEST(test_bad_utf8) {
    expect_bad("utf8-ff.st", "{\"a\xff\":{}}", 0, "UTF-8");
    expect_bad("utf8-overlong.st", "{\"\xc0\xaf\":{}}", 0, "UTF-8");
    expect_bad("utf8-surrogate.st", "{\"\xed\xa0\x80\":{}}", 0, "UTF-8");
    expect_bad("utf8-too-big.st", "{\"\xf4\x90\x80\x80\":{}}", 0, "UTF-8");
    expect_bad("utf8-cut.st", "{}\xe2\x82", 0, "UTF-8");
    expect_bad("utf8-cont.st", "{\"\x80\":{}}", 0, "UTF-8");
}

TEST(test_bad_entries) {
    expect_bad("dtype-unknown.st", "{" ENTRY("a", "F33", "[1]", "[0,4]") "}", 4, "unknown dtype");
    expect_bad("dtype-case.st", "{" ENTRY("a", "f32", "[1]", "[0,4]") "}", 4, "unknown dtype");
    expect_bad("dtype-num.st", "{\"a\":{\"dtype\":5,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
               "dtype is not a string");
    expect_bad("shape-neg.st", "{" ENTRY("a", "F32", "[-1]", "[0,4]") "}", 4, "negative");
    expect_bad("shape-frac.st", "{" ENTRY("a", "F32", "[1.5]", "[0,4]") "}", 4, "fraction");
    expect_bad("shape-float.st", "{" ENTRY("a", "F32", "[1.0]", "[0,4]") "}", 4, "fraction");
    expect_bad("shape-exp.st", "{" ENTRY("a", "F32", "[1e0]", "[0,4]") "}", 4, "fraction");
    expect_bad("shape-zero.st", "{" ENTRY("a", "F32", "[01]", "[0,4]") "}", 4, "leading zero");
    expect_bad("shape-str.st", "{" ENTRY("a", "F32", "[\"1\"]", "[0,4]") "}", 4, "shape[0]");
    expect_bad("shape-null.st", "{" ENTRY("a", "F32", "[1,null]", "[0,4]") "}", 4, "shape[1]");
    expect_bad("shape-bool.st", "{" ENTRY("a", "F32", "[true]", "[0,4]") "}", 4, "shape[0]");
    expect_bad("shape-nested.st", "{" ENTRY("a", "F32", "[[1]]", "[0,4]") "}", 4, "shape[0]");
    expect_bad("shape-scalar.st", "{" ENTRY("a", "F32", "1", "[0,4]") "}", 4, "not an array");
    expect_bad("shape-2p53.st", "{" ENTRY("a", "U8", "[9007199254740992]", "[0,4]") "}", 4,
               "2^53");
    expect_bad("shape-17digits.st", "{" ENTRY("a", "U8", "[10000000000000000]", "[0,4]") "}", 4,
               "too large");
    expect_bad("rank9.st", "{" ENTRY("a", "F32", "[1,1,1,1,1,1,1,1,1]", "[0,4]") "}", 4,
               "rank 9");
    expect_good("rank8.st", "{" ENTRY("a", "F32", "[1,1,1,1,1,1,1,1]", "[0,4]") "}", 4);

    expect_bad("off-neg.st", "{" ENTRY("a", "F32", "[1]", "[-4,0]") "}", 4, "negative");
    expect_bad("off-three.st", "{" ENTRY("a", "F32", "[1]", "[0,4,4]") "}", 4, "data_offsets");
    expect_bad("off-one.st", "{" ENTRY("a", "F32", "[1]", "[4]") "}", 4, "data_offsets");
    expect_bad("off-str.st", "{" ENTRY("a", "F32", "[1]", "[\"0\",4]") "}", 4, "data_offsets");
    expect_bad("off-obj.st", "{" ENTRY("a", "F32", "[1]", "{}") "}", 4, "data_offsets");
    expect_bad("off-reversed.st", "{" ENTRY("a", "F32", "[0]", "[4,0]") "}", 4,
               "end before begin");

    expect_bad("extra-field.st",
               "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}}", 4,
               "unexpected field 'extra'");
    expect_bad("missing-field.st", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4,
               "missing field 'data_offsets'");
    expect_bad("twice-field.st",
               "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
               4, "appears twice");
    expect_bad("entry-num.st", "{\"a\":5}", 0, "not a JSON object");
    expect_bad("entry-arr.st", "{\"a\":[]}", 0, "not a JSON object");
}

TEST(test_bad_sizes_in_header) {
    expect_bad("numel-mismatch.st", "{" ENTRY("a", "F32", "[3]", "[0,8]") "}", 8, "needs 12 bytes");
    expect_bad("numel-short.st", "{" ENTRY("a", "F16", "[2,2]", "[0,4]") "}", 4, "needs 8 bytes");
    expect_bad("overflow.st",
               "{" ENTRY("a", "F32", "[1099511627776,1099511627776]", "[0,4]") "}", 4,
               "overflows");
    expect_bad("overflow-zero.st",
               "{" ENTRY("a", "F32", "[1099511627776,1099511627776,0]", "[0,0]") "}", 0,
               "overflows");
    expect_bad("bits-overflow.st",
               "{" ENTRY("a", "F32", "[1073741824,1073741824,4]", "[0,4]") "}", 4, "overflows");
    expect_bad("subbyte.st", "{" ENTRY("a", "F4", "[3]", "[0,2]") "}", 2,
               "not a whole number of bytes");
    expect_good("subbyte-ok.st", "{" ENTRY("a", "F6_E3M2", "[4]", "[0,3]") "}", 3);
    expect_bad("empty-nonzero.st", "{" ENTRY("a", "F32", "[0,5]", "[0,4]") "}", 4,
               "needs 0 bytes");
}

TEST(test_bad_layout) {
    expect_bad("overlap.st",
               "{" ENTRY("a", "F32", "[2]", "[0,8]") "," ENTRY("b", "F32", "[2]", "[4,12]") "}", 12,
               "overlaps");
    expect_bad("same-range.st",
               "{" ENTRY("a", "F32", "[2]", "[0,8]") "," ENTRY("b", "F32", "[2]", "[0,8]") "}", 8,
               "overlaps");
    expect_bad("gap.st",
               "{" ENTRY("a", "F32", "[2]", "[0,8]") "," ENTRY("b", "F32", "[2]", "[12,20]") "}",
               20, "gap of 4 bytes");
    expect_bad("first-not-0.st", "{" ENTRY("a", "F32", "[2]", "[4,12]") "}", 12,
               "must start at 0");
    expect_bad("trailing.st", "{" ENTRY("a", "F32", "[2]", "[0,8]") "}", 9, "1 trailing bytes");
    expect_bad("trailing-no-tensors.st", "{}", 3, "3 trailing bytes");
    expect_bad("short-data.st", "{" ENTRY("a", "F32", "[2]", "[0,8]") "}", 4, "truncated");
    expect_bad("no-data.st", "{" ENTRY("a", "F32", "[2]", "[0,8]") "}", 0, "truncated");
    expect_bad("dup-name.st",
               "{" ENTRY("a", "F32", "[2]", "[0,8]") "," ENTRY("a", "F32", "[2]", "[8,16]") "}", 16,
               "duplicate tensor name 'a'");
    expect_bad("dup-empty.st",
               "{" ENTRY("e", "F32", "[0]", "[0,0]") "," ENTRY("e", "F32", "[0]", "[0,0]") "}", 0,
               "duplicate tensor name 'e'");
}

TEST(test_bad_metadata) {
    expect_bad("meta-num.st", "{\"__metadata__\":{\"k\":1}}", 0, "not a string");
    expect_bad("meta-null.st", "{\"__metadata__\":{\"format\":\"pt\",\"k\":null}}", 0,
               "key 'k' is not a string");
    expect_bad("meta-obj.st", "{\"__metadata__\":{\"k\":{}}}", 0, "not a string");
    expect_bad("meta-arr.st", "{\"__metadata__\":[\"pt\"]}", 0, "not a JSON object");
    expect_bad("meta-str.st", "{\"__metadata__\":\"pt\"}", 0, "not a JSON object");
    expect_bad("meta-null-all.st", "{\"__metadata__\":null}", 0, "not a JSON object");
    expect_bad("meta-dup-key.st", "{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", 0,
               "duplicate \"__metadata__\" key 'k'");
    expect_bad("meta-twice.st", "{\"__metadata__\":{},\"__metadata__\":{}}", 0, "appears twice");
    expect_good("meta-ok.st", "{\"__metadata__\":{\"format\":\"pt\",\"x\":\"\"}}", 0);
}

/* ---- writer ----------------------------------------------------------------- */

TEST(test_writer_errors) {
    xf_st_writer *w;
    CHECK_OK(xf_st_writer_create(&w));
    float x[4] = {0};
    size_t s2[] = {2, 2};
    CHECK_OK(xf_st_writer_add(w, "a", XF_DT_F32, 2, s2, x));
    CHECK(xf_st_writer_add(w, "a", XF_DT_F32, 2, s2, x) == XF_ERR_ARG);
    CHECK(strstr(xf_last_error(), "'a'") != NULL);
    CHECK(xf_st_writer_add(w, "__metadata__", XF_DT_F32, 2, s2, x) == XF_ERR_ARG);
    CHECK(xf_st_writer_add(w, "bad\xff", XF_DT_F32, 2, s2, x) == XF_ERR_ARG);
    size_t s9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    CHECK(xf_st_writer_add(w, "r9", XF_DT_F32, 9, s9, x) == XF_ERR_ARG);
    CHECK(xf_st_writer_add(w, "f4", XF_DT_F4, 1, (const size_t[]){3}, x) == XF_ERR_ARG);
    CHECK(xf_st_writer_add(w, "null", XF_DT_F32, 1, (const size_t[]){1}, NULL) == XF_ERR_ARG);
    CHECK(xf_st_writer_add(w, "dt", XF_DT_COUNT, 1, (const size_t[]){1}, x) == XF_ERR_ARG);
    CHECK(xf_st_writer_add(w, "big", XF_DT_U8, 1, (const size_t[]){(size_t)1 << 53}, x) ==
          XF_ERR_ARG);
    size_t huge[2] = {(size_t)1 << 40, (size_t)1 << 40};
    CHECK(xf_st_writer_add(w, "ovf", XF_DT_U8, 2, huge, x) == XF_ERR_OOM);
    CHECK(xf_st_writer_meta(w, "k", "bad\xc0") == XF_ERR_ARG);
    CHECK_OK(xf_st_writer_meta(w, "format", "mlx"));

    /* failures above left the writer usable and unchanged */
    const char *p = tpath("after-errors.st");
    CHECK_OK(xf_st_writer_write(w, p));
    char nodir[600];
    snprintf(nodir, sizeof nodir, "%s/missing-dir/x.st", g_dir);
    CHECK(xf_st_writer_write(w, nodir) == XF_ERR_IO);
    CHECK(strstr(xf_last_error(), nodir) != NULL);
    xf_st_writer_free(w);
    xf_st_writer_free(NULL);

    xf_st_file *f;
    CHECK_OK(xf_st_open(&f, p));
    CHECK(xf_st_count(f) == 1);
    CHECK(strcmp(xf_st_meta(f, "format"), "mlx") == 0);
    xf_st_close(f);
}

/* Writing over an existing file replaces it atomically; many tensors exercise
 * the writer's name index and the reader's sorted lookup. */
TEST(test_writer_many_and_replace) {
    enum { N = 3000 };
    static float vals[N];
    char name[32];
    xf_st_writer *w;
    CHECK_OK(xf_st_writer_create(&w));
    for (int i = N - 1; i >= 0; i--) {
        vals[i] = (float)i * 0.5f;
        snprintf(name, sizeof name, "layer.%d.w", i);
        CHECK_OK(xf_st_writer_add(w, name, XF_DT_F32, 0, NULL, &vals[i]));
    }
    snprintf(name, sizeof name, "layer.%d.w", 17);
    CHECK(xf_st_writer_add(w, name, XF_DT_F32, 0, NULL, &vals[0]) == XF_ERR_ARG);
    const char *p = tpath("many.st");
    put_bytes(p, "old", 3);
    CHECK_OK(xf_st_writer_write(w, p));
    xf_st_writer_free(w);

    xf_st_file *f;
    CHECK_OK(xf_st_open(&f, p));
    CHECK(xf_st_count(f) == N);
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "layer.%d.w", i);
        float v = -1;
        CHECK_OK(xf_st_read_f32(f, name, &v, 0, NULL));
        CHECK(v == vals[i]);
    }
    for (size_t i = 1; i < N; i++)
        CHECK(strcmp(xf_st_at(f, i - 1)->name, xf_st_at(f, i)->name) < 0);
    xf_st_close(f);
}

/* ---- fuzz ------------------------------------------------------------------- */

/* 2000 mutations of a valid file (bit flips, byte overwrites with JSON-ish
 * characters, changed digits, truncation, appended bytes, a changed length
 * prefix; every fourth iteration only the data bytes), fixed seed. Each must
 * open or fail with XF_ERR_FORMAT naming the file; opened files must keep
 * every tensor inside the file, and all their data is read. */
TEST(test_fuzz) {
    const char *base = tpath("fuzz-base.st");
    float a[12];
    uint16_t h[5] = {0x3C00, 1, 2, 3, 4};
    int32_t ids[2] = {7, -7};
    uint8_t u8[7] = {1, 2, 3, 4, 5, 6, 7};
    uint8_t mask[1] = {1};
    float sc = 2.0f;
    for (int i = 0; i < 12; i++) a[i] = (float)i;
    xf_st_writer *w;
    CHECK_OK(xf_st_writer_create(&w));
    CHECK_OK(xf_st_writer_add(w, "a", XF_DT_F32, 2, (const size_t[]){3, 4}, a));
    CHECK_OK(xf_st_writer_add(w, "h", XF_DT_F16, 1, (const size_t[]){5}, h));
    CHECK_OK(xf_st_writer_add(w, "ids", XF_DT_I32, 1, (const size_t[]){2}, ids));
    CHECK_OK(xf_st_writer_add(w, "u8", XF_DT_U8, 1, (const size_t[]){7}, u8));
    CHECK_OK(xf_st_writer_add(w, "mask", XF_DT_BOOL, 1, (const size_t[]){1}, mask));
    CHECK_OK(xf_st_writer_add(w, "s", XF_DT_F32, 0, NULL, &sc));
    CHECK_OK(xf_st_writer_add(w, "e", XF_DT_BF16, 2, (const size_t[]){0, 4}, NULL));
    CHECK_OK(xf_st_writer_meta(w, "k", "v"));
    CHECK_OK(xf_st_writer_write(w, base));
    xf_st_writer_free(w);

    size_t n0;
    unsigned char *orig = get_bytes(base, &n0);
    size_t hlen = 0;
    for (int k = 7; k >= 0; k--) hlen = (hlen << 8) | orig[k];
    unsigned char *buf = malloc(n0 + 64);
    CHECK(buf != NULL);
    static const char jchars[] = "{}[]\":,0123456789-.eE\\u \x00\xff";
    const char *p = tpath("fuzz.st");
    xf_rng r;
    xf_rng_seed(&r, 12345);
    int n_ok = 0, n_bad = 0;
    for (int it = 0; it < 2000; it++) {
        memcpy(buf, orig, n0);
        size_t n = n0;
        int muts = 1 + (int)xf_rng_below(&r, 3);
        if (it % 4 == 0) { /* data only: the file stays valid, its values change */
            for (int m = 0; m < muts; m++)
                buf[8 + hlen + xf_rng_below(&r, n0 - 8 - hlen)] ^= (unsigned char)xf_rng_u64(&r);
            muts = 0;
        }
        for (int m = 0; m < muts; m++) {
            switch (xf_rng_below(&r, 7)) {
            case 0: /* flip a bit in the length or header */
                if (n) {
                    size_t i = (size_t)xf_rng_below(&r, 8 + hlen < n ? 8 + hlen : n);
                    buf[i] ^= (unsigned char)(1u << xf_rng_below(&r, 8));
                }
                break;
            case 1: /* overwrite a header byte with a JSON-ish character */
                if (n > 8) {
                    size_t lim = 8 + hlen < n ? hlen : n - 8;
                    if (lim) buf[8 + xf_rng_below(&r, lim)] =
                        (unsigned char)jchars[xf_rng_below(&r, sizeof jchars - 1)];
                }
                break;
            case 2: /* truncate */
                n = (size_t)xf_rng_below(&r, n + 1);
                break;
            case 3: /* append */
            {
                size_t add = 1 + (size_t)xf_rng_below(&r, 16);
                if (n + add > n0 + 64) break;
                for (size_t i = 0; i < add; i++) buf[n + i] = (unsigned char)xf_rng_u64(&r);
                n += add;
                break;
            }
            case 4: /* nudge the length prefix */
                if (n >= 8) {
                    uint64_t v = 0;
                    for (int k = 7; k >= 0; k--) v = (v << 8) | buf[k];
                    v += (uint64_t)xf_rng_below(&r, 33) - 16;
                    if (xf_rng_below(&r, 8) == 0) v = xf_rng_u64(&r);
                    for (int k = 0; k < 8; k++) buf[k] = (unsigned char)(v >> (8 * k));
                }
                break;
            case 5: /* change a digit in the header (shapes, offsets) */
            {
                size_t lim = 8 + hlen < n ? 8 + hlen : n;
                for (size_t tries = 0; tries < 64 && lim > 8; tries++) {
                    size_t i = 8 + (size_t)xf_rng_below(&r, lim - 8);
                    if (buf[i] >= '0' && buf[i] <= '9') {
                        buf[i] = (unsigned char)('0' + xf_rng_below(&r, 10));
                        break;
                    }
                }
                break;
            }
            default: /* flip a bit anywhere */
                if (n) buf[xf_rng_below(&r, n)] ^= (unsigned char)(1u << xf_rng_below(&r, 8));
            }
        }
        put_bytes(p, buf, n);
        xf_st_file *f;
        xf_status s = xf_st_open(&f, p);
        if (s != XF_OK) {
            CHECK_MSG(s == XF_ERR_FORMAT, "iteration %d: status %s: %s", it, xf_status_name(s),
                      xf_last_error());
            CHECK_MSG(strstr(xf_last_error(), p) != NULL, "iteration %d: %s", it, xf_last_error());
            n_bad++;
            continue;
        }
        n_ok++;
        uint64_t hn = 0;
        for (int k = 7; k >= 0; k--) hn = (hn << 8) | buf[k];
        unsigned sum = 0;
        for (size_t i = 0; i < xf_st_count(f); i++) {
            const xf_st_tensor *t = xf_st_at(f, i);
            CHECK(t->begin <= t->end && 8 + hn + t->end <= n);
            const unsigned char *d = xf_st_data(f, t);
            for (size_t b = 0; b < t->end - t->begin; b++) sum += d[b];
            size_t cap = t->numel ? t->numel : 1;
            void *out = malloc(cap * sizeof(int64_t));
            CHECK(out != NULL);
            xf_status rs = xf_st_read_f32(f, t->name, out, t->ndim, t->shape);
            if (rs != XF_OK) rs = xf_st_read_i64(f, t->name, out, t->ndim, t->shape);
            free(out);
            CHECK(xf_st_find(f, t->name) == t);
        }
        (void)sum;
        xf_st_close(f);
    }
    free(buf);
    free(orig);
    CHECK_MSG(n_ok > 0 && n_bad > 0, "ok %d, refused %d", n_ok, n_bad);
}

int main(void) {
    if (io_tmpdir_create("xfmr-test-st") != 0) return 1;
    RUN(test_dtype_table);
    RUN(test_roundtrip);
    RUN(test_header_layout);
    RUN(test_lenient_but_valid);
    RUN(test_f16_bf16_f64_values);
    RUN(test_read_i64_values);
    RUN(test_read_errors);
    RUN(test_upstream_vectors);
    RUN(test_bad_sizes);
    RUN(test_bad_json);
    RUN(test_bad_utf8);
    RUN(test_bad_entries);
    RUN(test_bad_sizes_in_header);
    RUN(test_bad_layout);
    RUN(test_bad_metadata);
    RUN(test_writer_errors);
    RUN(test_writer_many_and_replace);
    RUN(test_fuzz);
    io_tmpdir_remove();
    return test_summary();
}
