/* llama2.c checkpoints (src/model/llama2c.c) and the q/k permutation
 * (src/model/interop.c): the permutation turns rotate_half RoPE into llama2.c's
 * interleaved RoPE (checked on vectors); v0 and v1 files round-trip a model bit
 * for bit and v2 within its group bound; every truncation and hostile header
 * is refused with a message naming the file. */
#include <stdint.h>

#include "io_util.h"
#include "model/interop.h"
#include "xfmr/model.h"
#include "xfmr/status.h"

/* rotate_half RoPE of one head x[D] at position p: (x_j, x_{j+D/2}) rotated by p*theta_j */
static void rope_half(float *x, size_t D, size_t p) {
    for (size_t j = 0; j < D / 2; j++) {
        double a = (double)p * pow(10000.0, -2.0 * (double)j / (double)D), c = cos(a), s = sin(a);
        double u = x[j], v = x[j + D / 2];
        x[j] = (float)(u * c - v * s), x[j + D / 2] = (float)(u * s + v * c);
    }
}

/* llama2.c's run.c: (x_{2j}, x_{2j+1}) rotated by p*theta_j */
static void rope_pairs(float *x, size_t D, size_t p) {
    for (size_t j = 0; j < D / 2; j++) {
        double a = (double)p * pow(10000.0, -2.0 * (double)j / (double)D), c = cos(a), s = sin(a);
        double u = x[2 * j], v = x[2 * j + 1];
        x[2 * j] = (float)(u * c - v * s), x[2 * j + 1] = (float)(u * s + v * c);
    }
}

TEST(test_permutation_is_the_rope_change) {
    enum { H = 3, D = 8 };
    float x[H * D], px[H * D], back[H * D];
    for (int i = 0; i < H * D; i++) x[i] = sinf((float)i * 1.7f);
    interop_rope_to_pairs(px, x, H, D, 1);
    interop_rope_from_pairs(back, px, H, D, 1);
    CHECK(!memcmp(back, x, sizeof x));
    for (size_t p = 0; p < 5; p++) {
        float a[H * D], b[H * D], pa[H * D];
        memcpy(a, x, sizeof a);
        memcpy(b, px, sizeof b);
        for (int h = 0; h < H; h++) rope_half(a + h * D, D, p), rope_pairs(b + h * D, D, p);
        interop_rope_to_pairs(pa, a, H, D, 1); /* rotate then permute == permute then rotate interleaved */
        for (int i = 0; i < H * D; i++) CHECK_NEAR(pa[i], b[i], 1e-6);
    }
}

static xf_model *tiny(int tied) {
    xf_config c;
    CHECK_OK(xf_config_preset(&c, "llama-tiny"));
    c.hidden_size = 64, c.intermediate_size = 96, c.num_hidden_layers = 2, c.num_attention_heads = 4;
    c.num_key_value_heads = 2, c.vocab_size = 128, c.max_position_embeddings = 32, c.tie_word_embeddings = tied;
    xf_model *m;
    CHECK_OK(xf_model_create(&m, &c));
    xf_model_init_weights(m, 7);
    return m;
}

/* Every tensor of b equals a's within tol * max|a's group| (tol 0: bit for bit). */
static void same_weights(xf_model *a, xf_model *b, double tol) {
    CHECK(xf_model_num_tensors(a) == xf_model_num_tensors(b));
    for (size_t i = 0; i < xf_model_num_tensors(a); i++) {
        const xf_param_info *p = xf_model_tensor(a, i), *q = xf_model_tensor(b, i);
        CHECK(!strcmp(p->name, q->name) && p->numel == q->numel);
        const float *x = xf_model_params(a) + p->offset, *y = xf_model_params(b) + q->offset;
        if (tol == 0 || p->ndim == 1) {
            CHECK_MSG(!memcmp(x, y, p->numel * sizeof *x), "%s differs", p->name);
            continue;
        }
        float amax = 0;
        for (size_t k = 0; k < p->numel; k++) amax = fmaxf(amax, fabsf(x[k]));
        for (size_t k = 0; k < p->numel; k++) CHECK_MSG(fabs(x[k] - y[k]) <= tol * amax, "%s[%zu]", p->name, k);
    }
}

TEST(test_roundtrips) {
    for (int tied = 0; tied < 2; tied++) {
        xf_model *m = tiny(tied), *r;
        static const char *const fmt[3] = {"llama2c-v0", "llama2c", "llama2c"};
        static const char *const dt[3] = {NULL, "f32", "q8_0"};
        for (int k = 0; k < 3; k++) {
            const char *path = tpath("m.bin");
            CHECK_OK(xf_model_export(m, NULL, fmt[k], path, dt[k]));
            CHECK(!strcmp(xf_model_format_name(path), "llama2c"));
            CHECK_OK(xf_model_open(&r, path));
            CHECK(xf_model_config(r)->tie_word_embeddings == tied);
            same_weights(m, r, k == 2 ? 0.5 / 127 + 1e-6 : 0); /* q8_0: half a step of max|w|/127 */
            xf_model_free(r);
        }
        xf_model_free(m);
    }
}

static void expect_bad(const unsigned char *b, size_t n, const char *what) {
    const char *path = tpath("bad.bin");
    put_bytes(path, b, n);
    xf_model *m = NULL;
    xf_status s = xf_model_open(&m, path);
    CHECK_MSG(s != XF_OK && m == NULL, "%s: opened", what);
    CHECK_MSG(strstr(xf_last_error(), path) != NULL, "%s: message '%s' does not name the file", what, xf_last_error());
}

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n);
    CHECK(b && fread(b, 1, *n, f) == *n);
    fclose(f);
    return b;
}

TEST(test_hostile) {
    xf_model *m = tiny(1);
    for (int v = 0; v < 2; v++) {
        CHECK_OK(xf_model_export(m, NULL, v ? "llama2c" : "llama2c-v0", tpath("g.bin"), NULL));
        size_t n;
        unsigned char *b = slurp(tpath("g.bin"), &n), *c = malloc(n + 8);
        for (size_t k = 0; k < n; k += (k < 300 ? 1 : 997)) expect_bad(b, k, "truncated");
        memcpy(c, b, n), memset(c + n, 0, 8);
        expect_bad(c, n + 8, "trailing bytes");
        size_t h = v ? 8 : 0; /* the 7 ints */
        int32_t bad[][2] = {{0, 0}, {0, -5}, {3, 3}, {4, 5}, {6, 0}, {5, INT32_MIN}, {2, 1 << 21}, {1, 0x7fffffff}};
        for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
            memcpy(c, b, n);
            memcpy(c + h + 4 * (size_t)bad[k][0], &bad[k][1], 4);
            expect_bad(c, n, "header field");
        }
        if (v) {
            memcpy(c, b, n), c[4] = 3;
            expect_bad(c, n, "version 3");
            memcpy(c, b, n), c[36] = 2;
            expect_bad(c, n, "shared flag");
            int32_t ver = 2, gs = 48; /* v2 with a group size that does not divide dim */
            memcpy(c, b, n), memcpy(c + 4, &ver, 4), memcpy(c + 37, &gs, 4);
            expect_bad(c, n, "group size");
        }
        free(b);
        free(c);
    }
    xf_model_free(m);
    /* an xfmr model llama2.c cannot hold: refused, nothing written */
    xf_config c;
    CHECK_OK(xf_config_preset(&c, "gpt2-tiny"));
    xf_model *g;
    CHECK_OK(xf_model_create(&g, &c));
    CHECK(xf_model_export(g, NULL, "llama2c", tpath("gpt.bin"), NULL) == XF_ERR_UNSUPPORTED);
    FILE *f = fopen(tpath("gpt.bin"), "rb");
    CHECK(f == NULL);
    xf_model_free(g);
}

int main(void) {
    if (io_tmpdir_create("xf-llama2c")) return 1;
    RUN(test_permutation_is_the_rope_change);
    RUN(test_roundtrips);
    RUN(test_hostile);
    io_tmpdir_remove();
    return test_summary();
}
