/* Decode weight formats (kernels/qmat.c):
 *   - f32 -> f16 against the CPU's own F16C conversion (round to nearest even)
 *     on edge values (ties, subnormals, overflow, inf, NaN) and random bit
 *     patterns, and f16 -> f32 exactly for all 65536 halves;
 *   - f32 -> bf16 against a brute-force nearest-even choice between the two
 *     neighbouring bf16 values;
 *   - q8_0 round trip: |w - dequant(quant(w))| <= d/2 + 127 |d - f16(d)| per
 *     element with d = max|w|/127 per block of 32, |q| <= 127, padding zero;
 *   - the products of every format on every path the CPU has (portable C,
 *     AVX2, AVX-512, VNNI) against a double reference on the dequantised
 *     weights (and, for q8_0, the dequantised q8_0 input), for N = 1 and 3
 *     input rows and column counts that leave SIMD tails, and 1 vs 2 threads
 *     bit for bit. */
#include <immintrin.h>
#include <omp.h>

#include "kernels/qmat.h"
#include "test.h"
#include "kernels/fd.h"

static float bits_f(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

__attribute__((target("f16c"))) static uint16_t hw_f16(float x) {
    return (uint16_t)_cvtss_sh(x, _MM_FROUND_TO_NEAREST_INT);
}
__attribute__((target("f16c"))) static float hw_f32(uint16_t h) { return _cvtsh_ss(h); }

TEST(test_f16_conversion) {
    if (!__builtin_cpu_supports("f16c")) {
        SKIP("the CPU has no F16C to compare against");
        return;
    }
    static const float edge[] = {0.0f, -0.0f, 1.0f, -1.0f, 65504.0f, 65519.99f, 65520.0f, 1e6f,
                                 5.96e-8f, 2.98e-8f, 2.99e-8f, 6.1035e-5f, 6.1e-5f, 1e-10f,
                                 1.00048828125f /* tie */, 1.00146484375f /* tie */, 3.14159265f,
                                 INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++)
        CHECK_MSG(num_f32_to_f16(edge[i]) == hw_f16(edge[i]), "f16(%g): 0x%04x, F16C 0x%04x",
                  (double)edge[i], num_f32_to_f16(edge[i]), hw_f16(edge[i]));
    CHECK((num_f32_to_f16(NAN) & 0x7c00) == 0x7c00 && (num_f32_to_f16(NAN) & 0x3ff) != 0);
    xf_rng r;
    xf_rng_seed(&r, 140);
    int bad = 0;
    for (int i = 0; i < 200000; i++) {
        /* exponents around the f16 range, every mantissa pattern */
        uint32_t u = (uint32_t)xf_rng_u64(&r);
        u = (u & 0x807fffffu) | ((uint32_t)(96 + xf_rng_below(&r, 50)) << 23);
        float x = bits_f(u);
        if (num_f32_to_f16(x) != hw_f16(x)) bad++;
    }
    CHECK_MSG(bad == 0, "%d random values convert differently from F16C", bad);
    for (uint32_t h = 0; h < 65536; h++) {
        float a = num_f16_to_f32((uint16_t)h), b = hw_f32((uint16_t)h);
        if (isnan(b)) CHECK(isnan(a));
        else if (memcmp(&a, &b, 4)) bad++;
    }
    CHECK_MSG(bad == 0, "%d halves widen differently from F16C", bad);
}

TEST(test_bf16_conversion) {
    xf_rng r;
    xf_rng_seed(&r, 141);
    int bad = 0;
    for (int i = 0; i < 200000; i++) {
        uint32_t u = (uint32_t)xf_rng_u64(&r);
        if (i < 4) u = (0x3f800000u + 0x8000u) + (uint32_t)i * 0x10000u; /* exact ties */
        float x = bits_f(u);
        if (!isfinite(x)) continue;
        uint32_t lo = u & 0xffff0000u, hi = lo + 0x10000u;
        /* past the largest finite value the next step up is 2^128, which rounds to inf */
        double hv = isfinite(bits_f(hi)) ? (double)bits_f(hi) : copysign(ldexp(1.0, 128), (double)x);
        double dl = fabs((double)x - (double)bits_f(lo)), dh = fabs(hv - (double)x);
        uint32_t want = dl < dh ? lo : dh < dl ? hi : ((lo >> 16) & 1u) ? hi : lo;
        if (((uint32_t)num_f32_to_bf16(x) << 16) != want) bad++;
    }
    CHECK_MSG(bad == 0, "%d values round differently from nearest-even", bad);
    CHECK(num_bf16_to_f32(num_f32_to_bf16(1.5f)) == 1.5f);
    CHECK(isnan(num_bf16_to_f32(num_f32_to_bf16(NAN))));
}

TEST(test_q8_0_round_trip) {
    enum { COLS = 100, ROWS = 7 }; /* 4 blocks, the last one 4 wide */
    float w[ROWS * COLS], back[COLS];
    fd_seed(142);
    fd_fill(w, NULL, ROWS * COLS, -2, 2);
    for (size_t c = 0; c < 32; c++) w[c] *= 1e-3f; /* a block of small weights */
    for (size_t c = 32; c < 64; c++) w[c] = 0.0f; /* an all-zero block */
    uint8_t q[ROWS * 4 * XF_Q8_BYTES];
    CHECK(qmat_bytes(XF_WT_Q8_0, ROWS, COLS) == sizeof q);
    qmat_pack(q, w, XF_WT_Q8_0, ROWS, COLS);
    xf_qmat m = {XF_WT_Q8_0, ROWS, COLS, q};
    for (size_t r = 0; r < ROWS; r++) {
        qmat_unpack_row(back, &m, r);
        for (size_t b = 0; b < 4; b++) {
            const uint8_t *blk = q + (r * 4 + b) * XF_Q8_BYTES;
            size_t c0 = b * 32, c1 = c0 + 32 < COLS ? c0 + 32 : COLS;
            float amax = 0;
            for (size_t c = c0; c < c1; c++) amax = fmaxf(amax, fabsf(w[r * COLS + c]));
            double d = amax / 127.0, dh = num_f16_to_f32(*(const uint16_t *)blk);
            double bound = d / 2 + 127 * fabs(d - dh) + 1e-12;
            for (size_t c = c0; c < c1; c++)
                CHECK_MSG(fabs(back[c] - w[r * COLS + c]) <= bound, "row %zu col %zu: %g -> %g, bound %g", r,
                          c, (double)w[r * COLS + c], (double)back[c], bound);
            const int8_t *qs = (const int8_t *)(blk + 2);
            for (size_t i = 0; i < 32; i++) {
                CHECK(qs[i] >= -127 && qs[i] <= 127);
                if (c0 + i >= COLS) CHECK(qs[i] == 0);
            }
        }
    }
}

/* double reference of out [N, rows] for w in its format */
static void ref_product(double *out, const xf_qmat *m, const float *x, const float *b, size_t N) {
    float *row = fd_alloc(m->cols, 4), *xd = fd_alloc(m->cols, 4);
    uint8_t *xq = fd_alloc(qmat_row_bytes(XF_WT_Q8_0, m->cols), 1);
    for (size_t n = 0; n < N; n++) {
        const float *xn = x + n * m->cols;
        if (m->dt == XF_WT_Q8_0) { /* the kernel's input is x quantised */
            qmat_q8_row(xq, xn, m->cols);
            xf_qmat xm = {XF_WT_Q8_0, 1, m->cols, xq};
            qmat_unpack_row(xd, &xm, 0);
            xn = xd;
        }
        for (size_t r = 0; r < m->rows; r++) {
            qmat_unpack_row(row, m, r);
            double s = b ? b[r] : 0.0;
            for (size_t c = 0; c < m->cols; c++) s += (double)row[c] * xn[c];
            out[n * m->rows + r] = s;
        }
    }
    free(row), free(xd), free(xq);
}

TEST(test_qmat_products_every_path) {
    static const size_t COLS[] = {16, 100, 768, 2048 + 40};
    enum { ROWS = 37, NMAX = 3 };
    int best = qmat_set_path(-1), saved_threads = omp_get_max_threads();
    for (size_t ci = 0; ci < sizeof COLS / sizeof COLS[0]; ci++) {
        size_t cols = COLS[ci];
        float *w = fd_alloc(ROWS * cols, 4), *x = fd_alloc(NMAX * cols, 4), *b = fd_alloc(ROWS, 4);
        float *out = fd_alloc(NMAX * ROWS, 4), *out2 = fd_alloc(NMAX * ROWS, 4);
        double *ref = fd_alloc(NMAX * ROWS, 8);
        fd_seed(143 + ci);
        fd_fill(w, NULL, ROWS * cols, -1, 1);
        fd_fill(x, NULL, NMAX * cols, -1, 1);
        fd_fill(b, NULL, ROWS, -1, 1);
        for (int dt = 0; dt < XF_WT_COUNT; dt++) {
            uint8_t *data = fd_alloc(qmat_bytes((xf_wtype)dt, ROWS, cols), 1);
            uint8_t *scratch = fd_alloc(qmat_scratch_bytes((xf_wtype)dt, NMAX, cols) + 1, 1);
            qmat_pack(data, w, (xf_wtype)dt, ROWS, cols);
            xf_qmat m = {(xf_wtype)dt, ROWS, cols, data};
            for (size_t N = 1; N <= NMAX; N += 2) {
                ref_product(ref, &m, x, b, N);
                /* the products are sums of cols terms of size ~1/3: absolute
                 * tolerance relative to sqrt(cols) */
                double tol = 2e-6 * (double)cols;
                for (int path = 0; path <= best; path++) {
                    qmat_set_path(path);
                    omp_set_num_threads(1);
                    qmat_forward(out, x, &m, b, N, scratch);
                    omp_set_num_threads(2);
                    qmat_forward(out2, x, &m, b, N, scratch);
                    double err = 0;
                    for (size_t i = 0; i < N * ROWS; i++) err = fmax(err, fabs(out[i] - ref[i]));
                    CHECK_MSG(err < tol, "%s cols %zu N %zu on %s: max err %.3g (tol %.3g)",
                              wtype_name((xf_wtype)dt), cols, N, qmat_path_name(path), err, tol);
                    CHECK_MSG(!memcmp(out, out2, N * ROWS * 4), "%s on %s: 1 and 2 threads differ",
                              wtype_name((xf_wtype)dt), qmat_path_name(path));
                }
            }
            free(data), free(scratch);
        }
        free(w), free(x), free(b), free(out), free(out2), free(ref);
    }
    qmat_set_path(-1);
    omp_set_num_threads(saved_threads);
    printf("# paths tested: %s (best on this CPU)%s\n", qmat_path_name(best),
           __builtin_cpu_supports("avx512vnni") ? ", q8_0 with VNNI" : "");
}

int main(void) {
    RUN(test_f16_conversion);
    RUN(test_bf16_conversion);
    RUN(test_q8_0_round_trip);
    RUN(test_qmat_products_every_path);
    return test_summary();
}
