/* GEMM paths (src/kernels/gemm.c): every path this CPU has, against the scalar
 * path of the same precision and against a double-precision reference, on
 * odd shapes (1x1x1, primes, edge tiles, K past the cache block, N past the
 * column block), all four transposes, padded leading dimensions, and
 * alpha/beta (beta = 0 must not read C: C starts as NaN there), with and
 * without a column bias, K = 0. Paths the CPU
 * lacks print SKIP. Also: 1 vs 2 threads bit for bit, a call from inside a
 * parallel region, the bf16 rounding rule, and the bf16 refusal rule.
 *
 * Error measure: |got - ref| / (|alpha| sum_k |a_ik b_kj| + |beta c_ij|), the
 * scale of the terms the element sums, so cancellation cannot hide an error. */
#include <math.h>
#include <omp.h>
#include <stdint.h>

#include "core/cpu.h"
#include "kernels/gemm.h"
#include "kernels/gemm_impl.h"
#include "test.h"
#include "kernels/fd.h"

typedef struct {
    size_t M, N, K;
} shape;

static const shape SHAPES[] = {
    {1, 1, 1},    {2, 3, 5},     {7, 13, 17},   {12, 32, 1},  {13, 33, 257}, {11, 31, 2},
    {97, 101, 103}, {25, 67, 513}, {1, 300, 7}, {300, 1, 7},  {200, 45, 64},  {30, 1600, 3},
    {24, 64, 600},  {5, 7, 1030},  {4, 9, 0},
};
enum { NSHAPES = (int)(sizeof SHAPES / sizeof SHAPES[0]) };

static const float AB[][2] = {{1.0f, 0.0f}, {1.0f, 1.0f}, {0.5f, -2.0f}, {-1.5f, 0.0f}};

typedef struct {
    float *A, *B, *C0; /* inputs and C's starting value */
    float *bias;       /* [N] */
    const float *use_bias; /* bias or NULL for this run */
    size_t lda, ldb, ldc;
} operands;

static size_t pad(size_t n) { return n + 3; } /* leading dimensions with slack */

static void make_operands(operands *o, const shape *s, int ta, int tb) {
    size_t ar = ta ? s->K : s->M, ac = ta ? s->M : s->K;
    size_t br = tb ? s->N : s->K, bc = tb ? s->K : s->N;
    o->lda = pad(ac);
    o->ldb = pad(bc);
    o->ldc = pad(s->N);
    o->A = malloc(ar * o->lda * sizeof(float));
    o->B = malloc(br * o->ldb * sizeof(float));
    o->C0 = malloc(s->M * o->ldc * sizeof(float));
    o->bias = malloc(s->N * sizeof(float));
    o->use_bias = NULL;
    fd_fill(o->A, NULL, ar * o->lda, -1, 1);
    fd_fill(o->B, NULL, br * o->ldb, -1, 1);
    fd_fill(o->C0, NULL, s->M * o->ldc, -1, 1);
    fd_fill(o->bias, NULL, s->N, -1, 1);
}

static void free_operands(operands *o) {
    free(o->A);
    free(o->B);
    free(o->C0);
    free(o->bias);
}

static double rnd(float x, int bf) {
    return bf ? (double)((union { uint32_t u; float f; }){(uint32_t)xf_bf16_round(x) << 16}).f
              : (double)x;
}

/* double reference (inputs rounded to bf16 when bf) and the scale of each element */
static void reference(double *ref, double *scale, const operands *o, const shape *s, int ta, int tb,
                      float alpha, float beta, int bf) {
    for (size_t i = 0; i < s->M; i++)
        for (size_t j = 0; j < s->N; j++) {
            double acc = 0, mag = 0;
            for (size_t k = 0; k < s->K; k++) {
                double a = rnd(ta ? o->A[k * o->lda + i] : o->A[i * o->lda + k], bf);
                double b = rnd(tb ? o->B[j * o->ldb + k] : o->B[k * o->ldb + j], bf);
                acc += a * b;
                mag += fabs(a * b);
            }
            double c = o->C0[i * o->ldc + j], b = o->use_bias ? o->use_bias[j] : 0.0;
            ref[i * s->N + j] = alpha * acc + (beta == 0.0f ? 0.0 : beta * c) + b;
            scale[i * s->N + j] =
                fabs(alpha) * mag + (beta == 0.0f ? 0.0 : fabs(beta * c)) + fabs(b) + 1e-30;
        }
}

/* run `path` into a fresh C (NaN where beta = 0); max scaled error against ref */
static double run_path(int path, const operands *o, const shape *s, int ta, int tb, float alpha,
                       float beta, const double *ref, const double *scale, float *C) {
    for (size_t i = 0; i < s->M * o->ldc; i++) C[i] = beta == 0.0f ? NAN : o->C0[i];
    sgemm_path(path, ta, tb, s->M, s->N, s->K, alpha, o->A, o->lda, o->B, o->ldb, beta,
                  o->use_bias, C, o->ldc);
    double worst = 0;
    for (size_t i = 0; i < s->M; i++)
        for (size_t j = 0; j < s->N; j++) {
            double e = fabs(C[i * o->ldc + j] - ref[i * s->N + j]) / scale[i * s->N + j];
            if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;
        }
    /* the padding columns of C are never written */
    for (size_t i = 0; i < s->M; i++)
        for (size_t j = s->N; j < o->ldc; j++) {
            float want = beta == 0.0f ? NAN : o->C0[i * o->ldc + j];
            float got = C[i * o->ldc + j];
            if (!(isnan(want) ? isnan(got) : got == want)) return INFINITY;
        }
    return worst;
}

static int find_path(const char *name) {
    for (int p = 0; p < xf_gemm_path_count(); p++)
        if (!strcmp(xf_gemm_path_name(p), name)) return p;
    return -1;
}

/* Each path against the double reference and against its scalar sibling. */
static void check_path(const char *name) {
    int path = find_path(name);
    CHECK_MSG(path >= 0, "no path %s in the table", name);
    if (!xf_gemm_path_supported(path)) SKIP("this CPU lacks the %s path", name);
    int bf = xf_gemm_path_precision(path) == XF_GEMM_BF16;
    int ref_path = find_path(bf ? "scalar-bf16" : "scalar");
    /* fp32: reordering and FMA rounding only; bf16: fp32 sums of exact products */
    double tol = 1e-5;
    fd_seed(900 + (uint64_t)path);
    for (int si = 0; si < NSHAPES; si++) {
        const shape *s = &SHAPES[si];
        for (int t = 0; t < 4; t++) {
            int ta = t & 1, tb = t >> 1;
            operands o;
            make_operands(&o, s, ta, tb);
            double *ref = malloc(s->M * s->N * sizeof(double));
            double *scale = malloc(s->M * s->N * sizeof(double));
            float *C = malloc(s->M * o.ldc * sizeof(float));
            float *C2 = malloc(s->M * o.ldc * sizeof(float));
            for (size_t ab = 0; ab < 2 * sizeof AB / sizeof AB[0]; ab++) {
                float alpha = AB[ab / 2][0], beta = AB[ab / 2][1];
                o.use_bias = ab % 2 ? o.bias : NULL;
                reference(ref, scale, &o, s, ta, tb, alpha, beta, bf);
                double e = run_path(path, &o, s, ta, tb, alpha, beta, ref, scale, C);
                double e2 = run_path(ref_path, &o, s, ta, tb, alpha, beta, ref, scale, C2);
                double d = 0; /* this path against the scalar one */
                for (size_t i = 0; i < s->M; i++)
                    for (size_t j = 0; j < s->N; j++) {
                        double x = fabs((double)C[i * o.ldc + j] - C2[i * o.ldc + j]) /
                                   scale[i * s->N + j];
                        if (!(x <= d)) d = isnan(x) ? INFINITY : x;
                    }
                int ok = e < tol && e2 < tol && d < tol;
                if (!ok) {
                    free(ref), free(scale), free(C), free(C2), free_operands(&o);
                    FAILF("%s %zux%zux%zu ta=%d tb=%d alpha=%g beta=%g bias=%d: err vs double "
                          "%.3g, scalar vs double %.3g, vs scalar %.3g (tol %.1g)",
                          name, s->M, s->N, s->K, ta, tb, alpha, beta, (int)(ab % 2), e, e2, d, tol);
                }
            }
            free(ref), free(scale), free(C), free(C2), free_operands(&o);
        }
    }
}

TEST(test_gemm_scalar) { check_path("scalar"); }
TEST(test_gemm_avx2) { check_path("avx2"); }
TEST(test_gemm_avx512) { check_path("avx512"); }
TEST(test_gemm_scalar_bf16) { check_path("scalar-bf16"); }
TEST(test_gemm_avx512_bf16) { check_path("avx512-bf16"); }

/* bf16 against unrounded fp32 inputs: about 2^-8 relative per input, so the
 * error is bounded by 2 * 2^-8 of the scale (and is not zero: it is bf16) */
TEST(test_gemm_bf16_precision) {
    int path = find_path("scalar-bf16");
    shape s = {20, 30, 200};
    operands o;
    fd_seed(77);
    make_operands(&o, &s, 0, 1);
    double ref[20 * 30], scale[20 * 30];
    float C[20 * 33];
    reference(ref, scale, &o, &s, 0, 1, 1.0f, 0.0f, 0);
    double e = run_path(path, &o, &s, 0, 1, 1.0f, 0.0f, ref, scale, C);
    free_operands(&o);
    CHECK_MSG(e < 2.0 / 256 && e > 1e-6, "bf16 error vs fp32 %.3g", e);
}

TEST(test_bf16_round) {
    /* round to nearest, ties to even, on the bit patterns */
    union { uint32_t u; float f; } v;
    v.u = 0x3f808000u; /* 1 + 2^-8: tie, rounds to even (down) */
    CHECK(xf_bf16_round(v.f) == 0x3f80);
    v.u = 0x3f818000u; /* tie, odd below: rounds up */
    CHECK(xf_bf16_round(v.f) == 0x3f82);
    v.u = 0x3f808001u; /* above the tie: up */
    CHECK(xf_bf16_round(v.f) == 0x3f81);
    v.u = 0x7f7fffffu; /* FLT_MAX rounds to inf */
    CHECK(xf_bf16_round(v.f) == 0x7f80);
    CHECK((xf_bf16_round(NAN) & 0x7fc0) == 0x7fc0);
    CHECK(xf_bf16_round(-0.0f) == 0x8000);
}

/* The selected path, 1 vs 2 threads, and from inside a parallel region: the
 * same bits (each element is computed the same way whatever the split). */
TEST(test_gemm_threads) {
    size_t M = 170, N = 150, K = 300; /* M > N: first split M, then (swapped) N */
    /* the second case swaps M and N: A and B hold max(M, N) rows */
    float *A = malloc(M * K * sizeof(float)), *B = malloc(M * K * sizeof(float));
    float *C1 = malloc(M * N * sizeof(float)), *C2 = malloc(M * N * sizeof(float));
    float *C3 = malloc(M * N * sizeof(float));
    fd_seed(5);
    fd_fill(A, NULL, M * K, -1, 1);
    fd_fill(B, NULL, M * K, -1, 1);
    int saved = omp_get_max_threads();
    for (int t = 0; t < 2; t++) { /* split M (M >= N), then split N */
        size_t m = t ? N : M, n = t ? M : N;
        omp_set_num_threads(1);
        sgemm(0, 1, m, n, K, 1.0f, A, K, B, K, 0.0f, C1, n);
        omp_set_num_threads(2);
        sgemm(0, 1, m, n, K, 1.0f, A, K, B, K, 0.0f, C2, n);
#pragma omp parallel num_threads(2)
        {
#pragma omp single
            sgemm(0, 1, m, n, K, 1.0f, A, K, B, K, 0.0f, C3, n);
        }
        int same = !memcmp(C1, C2, m * n * sizeof(float)) && !memcmp(C1, C3, m * n * sizeof(float));
        if (!same) {
            omp_set_num_threads(saved);
            free(A), free(B), free(C1), free(C2), free(C3);
            FAILF("%zux%zu: 1 thread, 2 threads and nested differ", m, n);
        }
    }
    omp_set_num_threads(saved);
    free(A), free(B), free(C1), free(C2), free(C3);
}

/* bf16 is accepted exactly when a bf16 path is selectable on this CPU */
TEST(test_gemm_bf16_refusal) {
    int has = xf_cpu()->avx512_bf16 && xf_cpu()->avx512f;
    xf_status st = gemm_set_precision(XF_GEMM_BF16);
    CHECK((st == XF_OK) == (has != 0));
    if (st != XF_OK) CHECK(strstr(xf_last_error(), "AVX512-BF16") != NULL);
    CHECK_OK(gemm_set_precision(XF_GEMM_FP32));
    CHECK(gemm_precision_get() == XF_GEMM_FP32);
}

int main(void) {
    RUN(test_gemm_scalar);
    RUN(test_gemm_avx2);
    RUN(test_gemm_avx512);
    RUN(test_gemm_scalar_bf16);
    RUN(test_gemm_avx512_bf16);
    RUN(test_gemm_bf16_precision);
    RUN(test_bf16_round);
    RUN(test_gemm_threads);
    RUN(test_gemm_bf16_refusal);
    return test_summary();
}
