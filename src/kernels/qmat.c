/* Compact weight formats and their matrix-vector products (see qmat.h).
 *
 * One dot-product function per (path, format) reads one weight row against
 * one input row; qmat_forward splits the output rows over threads and,
 * for each weight row, runs the N input rows against it while the row is in
 * L1, so the weights stream from memory once per call whatever N is.
 * The SIMD paths are compiled with __attribute__((target)) and picked with
 * src/core/cpu.c's cpuid, so the build needs no -march flag for them. */
#include "kernels/qmat.h"

#include "core/cpu.h"
#include "core/parallel.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

/* ---- names and sizes ------------------------------------------------------- */

static const char *const WT_NAMES[XF_WT_COUNT] = {"f32", "bf16", "f16", "q8_0"};

int wtype_parse(const char *name) {
    for (int i = 0; name && i < XF_WT_COUNT; i++)
        if (!strcmp(name, WT_NAMES[i])) return i;
    return -1;
}

const char *wtype_name(xf_wtype dt) { return dt < XF_WT_COUNT ? WT_NAMES[dt] : "?"; }

size_t qmat_row_bytes(xf_wtype dt, size_t cols) {
    switch (dt) {
    case XF_WT_F32: return cols * 4;
    case XF_WT_BF16:
    case XF_WT_F16: return cols * 2;
    case XF_WT_Q8_0: return (cols + XF_Q8_BLOCK - 1) / XF_Q8_BLOCK * XF_Q8_BYTES;
    default: return 0;
    }
}

size_t qmat_bytes(xf_wtype dt, size_t rows, size_t cols) {
    if (cols > SIZE_MAX / 8) return SIZE_MAX;
    size_t rb = qmat_row_bytes(dt, cols);
    if (rb && rows > SIZE_MAX / rb) return SIZE_MAX;
    return rows * rb;
}

/* ---- q8_0 rows ------------------------------------------------------------ */

void qmat_q8_row(uint8_t *dst, const float *x, size_t n) {
    size_t full = n / XF_Q8_BLOCK * XF_Q8_BLOCK;
    q8_0_quantize(x, full, dst);
    if (full < n) { /* the last block, zero padded */
        float tail[XF_Q8_BLOCK] = {0};
        memcpy(tail, x + full, (n - full) * sizeof *x);
        q8_0_quantize(tail, XF_Q8_BLOCK, dst + full / XF_Q8_BLOCK * XF_Q8_BYTES);
    }
}

void qmat_pack(uint8_t *dst, const float *w, xf_wtype dt, size_t rows, size_t cols) {
    size_t rb = qmat_row_bytes(dt, cols);
#pragma omp parallel for schedule(static) if (rows * cols >= 4 * XF_PAR_MIN)
    for (size_t r = 0; r < rows; r++) {
        const float *src = w + r * cols;
        uint8_t *d = dst + r * rb;
        switch (dt) {
        case XF_WT_F32: memcpy(d, src, cols * 4); break;
        case XF_WT_BF16:
            for (size_t c = 0; c < cols; c++) {
                uint16_t h = num_f32_to_bf16(src[c]);
                memcpy(d + 2 * c, &h, 2);
            }
            break;
        case XF_WT_F16:
            for (size_t c = 0; c < cols; c++) {
                uint16_t h = num_f32_to_f16(src[c]);
                memcpy(d + 2 * c, &h, 2);
            }
            break;
        case XF_WT_Q8_0: qmat_q8_row(d, src, cols); break;
        default: break;
        }
    }
}

void qmat_unpack_row(float *dst, const xf_qmat *m, size_t r) {
    const uint8_t *s = m->data + r * qmat_row_bytes(m->dt, m->cols);
    for (size_t c = 0; c < m->cols; c++) {
        uint16_t h;
        switch (m->dt) {
        case XF_WT_F32: memcpy(&dst[c], s + 4 * c, 4); break;
        case XF_WT_BF16: memcpy(&h, s + 2 * c, 2), dst[c] = num_bf16_to_f32(h); break;
        case XF_WT_F16: memcpy(&h, s + 2 * c, 2), dst[c] = num_f16_to_f32(h); break;
        case XF_WT_Q8_0: {
            const uint8_t *blk = s + c / XF_Q8_BLOCK * XF_Q8_BYTES;
            memcpy(&h, blk, 2);
            dst[c] = num_f16_to_f32(h) * (float)((const int8_t *)(blk + 2))[c % XF_Q8_BLOCK];
            break;
        }
        default: dst[c] = 0.0f;
        }
    }
}

size_t qmat_scratch_bytes(xf_wtype dt, size_t N, size_t cols) {
    return dt == XF_WT_Q8_0 ? N * qmat_row_bytes(dt, cols) : 0;
}

/* ---- dot products: one weight row . one input row ------------------------- */
/* w: the row's bytes; x: f32 [cols], or for q8_0 the q8_0 row of x. */
typedef float (*dot_fn)(const uint8_t *w, const void *x, size_t cols);

static float q8_scale(const uint8_t *blk) {
    uint16_t h;
    memcpy(&h, blk, 2);
    return num_f16_to_f32(h);
}

/* portable C */
static float dot_f32_c(const uint8_t *w, const void *xv, size_t n) {
    const float *x = xv;
    float s = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float wi;
        memcpy(&wi, w + 4 * i, 4);
        s += wi * x[i];
    }
    return s;
}
static float dot_bf16_c(const uint8_t *w, const void *xv, size_t n) {
    const float *x = xv;
    float s = 0.0f;
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, w + 2 * i, 2);
        s += num_bf16_to_f32(h) * x[i];
    }
    return s;
}
static float dot_f16_c(const uint8_t *w, const void *xv, size_t n) {
    const float *x = xv;
    float s = 0.0f;
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, w + 2 * i, 2);
        s += num_f16_to_f32(h) * x[i];
    }
    return s;
}
static float dot_q8_c(const uint8_t *w, const void *xv, size_t n) {
    const uint8_t *x = xv;
    float s = 0.0f;
    for (size_t b = 0; b < (n + XF_Q8_BLOCK - 1) / XF_Q8_BLOCK; b++, w += XF_Q8_BYTES, x += XF_Q8_BYTES) {
        const int8_t *qw = (const int8_t *)(w + 2), *qx = (const int8_t *)(x + 2);
        int32_t acc = 0;
        for (int i = 0; i < XF_Q8_BLOCK; i++) acc += (int32_t)qw[i] * (int32_t)qx[i];
        s += (float)acc * (q8_scale(w) * q8_scale(x));
    }
    return s;
}

/* AVX2 + FMA + F16C: 8 lanes */
#define T_AVX2 __attribute__((target("avx2,fma,f16c")))

T_AVX2 static float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* the 16-bit formats share one loop: cvt8 turns 8 halves into 8 floats */
#define DOT16_AVX2(name, cvt8, scalar)                                                      \
    T_AVX2 static float name(const uint8_t *w, const void *xv, size_t n) {                  \
        const float *x = xv;                                                                \
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();                          \
        size_t i = 0;                                                                       \
        for (; i + 16 <= n; i += 16) {                                                      \
            a0 = _mm256_fmadd_ps(cvt8(_mm_loadu_si128((const __m128i *)(w + 2 * i))),        \
                                 _mm256_loadu_ps(x + i), a0);                               \
            a1 = _mm256_fmadd_ps(cvt8(_mm_loadu_si128((const __m128i *)(w + 2 * i + 16))),   \
                                 _mm256_loadu_ps(x + i + 8), a1);                           \
        }                                                                                   \
        float s = hsum256(_mm256_add_ps(a0, a1));                                           \
        return s + scalar(w + 2 * i, x + i, n - i);                                         \
    }

T_AVX2 static __m256 bf16x8_avx2(__m128i h) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
T_AVX2 static __m256 f16x8_avx2(__m128i h) { return _mm256_cvtph_ps(h); }
DOT16_AVX2(dot_bf16_avx2, bf16x8_avx2, dot_bf16_c)
DOT16_AVX2(dot_f16_avx2, f16x8_avx2, dot_f16_c)

T_AVX2 static float dot_f32_avx2(const uint8_t *w, const void *xv, size_t n) {
    const float *x = xv, *wf = (const float *)(const void *)w;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(wf + i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(wf + i + 8), _mm256_loadu_ps(x + i + 8), a1);
    }
    return hsum256(_mm256_add_ps(a0, a1)) + dot_f32_c(w + 4 * i, x + i, n - i);
}

/* int8 . int8 of one block in int32 lanes: |x| (u8) times sign(x)*w (s8), as
 * the unsigned-by-signed multiply needs; |q| <= 127 so nothing saturates */
T_AVX2 static __m256i q8_block_avx2(const uint8_t *w, const uint8_t *x) {
    __m256i qw = _mm256_loadu_si256((const __m256i *)(w + 2));
    __m256i qx = _mm256_loadu_si256((const __m256i *)(x + 2));
    __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(qx, qx), _mm256_sign_epi8(qw, qx));
    return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

/* d_w * d_x of a block pair with the F16C conversion */
T_AVX2 static __m256 q8_scales_avx2(const uint8_t *w, const uint8_t *x) {
    uint16_t hw, hx;
    memcpy(&hw, w, 2);
    memcpy(&hx, x, 2);
    return _mm256_set1_ps(_cvtsh_ss(hw) * _cvtsh_ss(hx));
}

T_AVX2 static float dot_q8_avx2(const uint8_t *w, const void *xv, size_t n) {
    const uint8_t *x = xv;
    __m256 acc = _mm256_setzero_ps();
    for (size_t b = 0; b < (n + XF_Q8_BLOCK - 1) / XF_Q8_BLOCK; b++, w += XF_Q8_BYTES, x += XF_Q8_BYTES)
        acc = _mm256_fmadd_ps(q8_scales_avx2(w, x), _mm256_cvtepi32_ps(q8_block_avx2(w, x)), acc);
    return hsum256(acc);
}

/* AVX-512: 16 lanes */
#define T_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))
#define T_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

#define DOT16_AVX512(name, cvt16, scalar)                                                   \
    T_AVX512 static float name(const uint8_t *w, const void *xv, size_t n) {                \
        const float *x = xv;                                                                \
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();                          \
        size_t i = 0;                                                                       \
        for (; i + 32 <= n; i += 32) {                                                      \
            a0 = _mm512_fmadd_ps(cvt16(_mm256_loadu_si256((const __m256i *)(w + 2 * i))),   \
                                 _mm512_loadu_ps(x + i), a0);                               \
            a1 = _mm512_fmadd_ps(cvt16(_mm256_loadu_si256((const __m256i *)(w + 2 * i + 32))), \
                                 _mm512_loadu_ps(x + i + 16), a1);                          \
        }                                                                                   \
        float s = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));                              \
        return s + scalar(w + 2 * i, x + i, n - i);                                         \
    }

T_AVX512 static __m512 bf16x16_avx512(__m256i h) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
T_AVX512 static __m512 f16x16_avx512(__m256i h) { return _mm512_cvtph_ps(h); }
DOT16_AVX512(dot_bf16_avx512, bf16x16_avx512, dot_bf16_c)
DOT16_AVX512(dot_f16_avx512, f16x16_avx512, dot_f16_c)

T_AVX512 static float dot_f32_avx512(const uint8_t *w, const void *xv, size_t n) {
    const float *x = xv, *wf = (const float *)(const void *)w;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(wf + i), _mm512_loadu_ps(x + i), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(wf + i + 16), _mm512_loadu_ps(x + i + 16), a1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1)) + dot_f32_c(w + 4 * i, x + i, n - i);
}

/* q8_0 with AVX512-VNNI: vpdpbusd does the u8 x s8 products and the int32 sums */
T_VNNI static float dot_q8_vnni(const uint8_t *w, const void *xv, size_t n) {
    const uint8_t *x = xv;
    __m256 acc = _mm256_setzero_ps();
    for (size_t b = 0; b < (n + XF_Q8_BLOCK - 1) / XF_Q8_BLOCK; b++, w += XF_Q8_BYTES, x += XF_Q8_BYTES) {
        __m256i qw = _mm256_loadu_si256((const __m256i *)(w + 2));
        __m256i qx = _mm256_loadu_si256((const __m256i *)(x + 2));
        __m256i s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_sign_epi8(qx, qx),
                                        _mm256_sign_epi8(qw, qx));
        acc = _mm256_fmadd_ps(q8_scales_avx2(w, x), _mm256_cvtepi32_ps(s), acc);
    }
    return hsum256(acc);
}

/* ---- dispatch -------------------------------------------------------------- */

static const dot_fn DOTS[3][XF_WT_COUNT] = {
    {dot_f32_c, dot_bf16_c, dot_f16_c, dot_q8_c},
    {dot_f32_avx2, dot_bf16_avx2, dot_f16_avx2, dot_q8_avx2},
    {dot_f32_avx512, dot_bf16_avx512, dot_f16_avx512, dot_q8_avx2}, /* q8_0: VNNI when present */
};
static const char *const PATH_NAMES[3] = {"portable C", "AVX2", "AVX-512"};

/* The CPU's features as src/core/cpu.c reads them (cpuid and the OS's
 * register state; one detector for the GEMM and these kernels alike). */
static int best_path(void) {
    const xf_cpu_info *c = xf_cpu();
    if (c->avx512f && c->avx512bw && c->avx512vl && c->avx2 && c->fma && c->f16c) return 2;
    if (c->avx2 && c->fma && c->f16c) return 1;
    return 0;
}

static int g_path = -1;

int qmat_path(void) {
    if (g_path < 0) g_path = best_path();
    return g_path;
}

int qmat_set_path(int path) {
    int best = best_path();
    g_path = path < 0 || path > best ? best : path;
    return g_path;
}

const char *qmat_path_name(int path) { return path >= 0 && path < 3 ? PATH_NAMES[path] : "?"; }

static dot_fn pick(xf_wtype dt) {
    int p = qmat_path();
    if (p == 2 && dt == XF_WT_Q8_0 && xf_cpu()->avx512_vnni) return dot_q8_vnni;
    return DOTS[p][dt];
}

void qmat_forward(float *out, const float *x, const xf_qmat *w, const float *b, size_t N,
                     uint8_t *scratch) {
    size_t rows = w->rows, cols = w->cols, rb = qmat_row_bytes(w->dt, cols);
    const void *xs = x;
    size_t xstride = cols * sizeof(float);
    if (w->dt == XF_WT_Q8_0) { /* x rows to q8_0 once */
        xstride = rb;
        for (size_t n = 0; n < N; n++) qmat_q8_row(scratch + n * rb, x + n * cols, cols);
        xs = scratch;
    }
    dot_fn dot = pick(w->dt);
    /* chunks of 16 rows; one thread per chunk, the N inputs inside */
    size_t nch = (rows + 15) / 16;
#pragma omp parallel for schedule(static) if (rows * cols >= 2 * XF_PAR_MIN)
    for (size_t ch = 0; ch < nch; ch++) {
        size_t r1 = ch * 16 + 16 < rows ? ch * 16 + 16 : rows;
        for (size_t r = ch * 16; r < r1; r++) {
            const uint8_t *wr = w->data + r * rb;
            for (size_t n = 0; n < N; n++)
                out[n * rows + r] =
                    dot(wr, (const uint8_t *)xs + n * xstride, cols) + (b ? b[r] : 0.0f);
        }
    }
}
