/* Packed, cache-blocked GEMM with runtime dispatch (see gemm.h).
 *
 * Blocking (Goto / BLIS order), for C[M,N] += op(A)[M,K] op(B)[K,N]:
 *   for jc in N step NC:                  B block [KC,NC] packed (L2/L3)
 *     for pc in K step KC:                (beta applies at pc = 0 only)
 *       pack B[pc:pc+kc, jc:jc+nc]
 *       for ic in M step MC:              A block [MC,KC] packed (L2)
 *         pack A[ic:ic+mc, pc:pc+kc]
 *         for jr in nc step NR:           B micro-panel [KC,NR] (L1)
 *           for ir in mc step MR:         micro-kernel: MR x NR tile in registers
 * Edge tiles (fewer than MR rows or NR columns left) run the same micro-kernel
 * into a local tile and are stored by scalar code with the same store rule.
 *
 * The paths are a table (PATHS): name, precision, CPU test, tile and block
 * sizes, packing element size and the micro-kernel. */
#include "kernels/gemm.h"

#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "kernels/gemm_impl.h"

#define MR_MAX 12
#define NR_MAX 32

/* ---- scalar micro-kernels (the references) ------------------------------ */

/* gemm_impl.h's store rule; bias: this column's bias or NULL */
static inline float store_rule(float acc, float c, float alpha, float beta, const float *bias) {
    float t = beta == 0.0f ? 0.0f : beta * c;
    if (bias) t = beta == 0.0f ? *bias : t + *bias;
    return fmaf(alpha, acc, t);
}

enum { S_MR = 4, S_NR = 8 };

static void ukr_scalar(size_t kc, const void *pav, const void *pbv, float *c, size_t ldc,
                       float alpha, float beta, const float *bias) {
    const float *pa = pav, *pb = pbv;
    float acc[S_MR][S_NR] = {{0}};
    for (size_t k = 0; k < kc; k++, pa += S_MR, pb += S_NR)
        for (int r = 0; r < S_MR; r++)
            for (int j = 0; j < S_NR; j++) acc[r][j] += pa[r] * pb[j];
    for (int r = 0; r < S_MR; r++)
        for (int j = 0; j < S_NR; j++)
            c[r * ldc + j] = store_rule(acc[r][j], c[r * ldc + j], alpha, beta, bias ? bias + j : NULL);
}

static inline float bf16_to_f32(uint16_t h) {
    union { uint32_t u; float f; } v = {(uint32_t)h << 16};
    return v.f;
}

/* bf16 products are exact in fp32; each pair adds its two products in order,
 * as vdpbf16ps does */
static void ukr_scalar_bf16(size_t kp, const void *pav, const void *pbv, float *c, size_t ldc,
                            float alpha, float beta, const float *bias) {
    const uint16_t *pa = pav, *pb = pbv;
    float acc[S_MR][S_NR] = {{0}};
    for (size_t k = 0; k < kp; k++, pa += 2 * S_MR, pb += 2 * S_NR)
        for (int r = 0; r < S_MR; r++)
            for (int j = 0; j < S_NR; j++) {
                acc[r][j] += bf16_to_f32(pa[2 * r]) * bf16_to_f32(pb[2 * j]);
                acc[r][j] += bf16_to_f32(pa[2 * r + 1]) * bf16_to_f32(pb[2 * j + 1]);
            }
    for (int r = 0; r < S_MR; r++)
        for (int j = 0; j < S_NR; j++)
            c[r * ldc + j] = store_rule(acc[r][j], c[r * ldc + j], alpha, beta, bias ? bias + j : NULL);
}

/* ---- the table ---------------------------------------------------------- */

static int has_avx512(void) {
    const xf_cpu_info *ci = xf_cpu();
    return ci->avx512f && ci->avx512bw && ci->avx512vl && ci->avx512dq;
}
static int has_avx512bf16(void) { return has_avx512() && xf_cpu()->avx512_bf16; }
static int has_avx2(void) { return xf_cpu()->avx2 && xf_cpu()->fma; }
static int has_any(void) { return 1; }

typedef struct {
    const char *name;
    xf_gemm_precision prec;
    int (*supported)(void);
    int selectable;     /* 0: a reference only */
    int mr, nr;         /* register tile */
    size_t mc, kc, nc;  /* cache blocks (kc even) */
    size_t lanes;       /* fp32 lanes of the inner instruction (peak FLOPs) */
    xf_gemm_ukr ukr;
    xf_gemm_pack_rows pack_rows;   /* vectorised packing or NULL (gemm_impl.h) */
    xf_gemm_interleave interleave; /* bf16 pairs from two rows, or NULL */
} gemm_path;

static const gemm_path PATHS[] = {
    {"avx512", XF_GEMM_FP32, has_avx512, 1, 12, 32, 96, 384, 1536, 16, gemm_ukr_avx512_12x32,
     gemm_pack_rows_avx512, NULL},
    {"avx2", XF_GEMM_FP32, has_avx2, 1, 6, 16, 96, 256, 1024, 8, gemm_ukr_avx2_6x16, NULL, NULL},
    {"scalar", XF_GEMM_FP32, has_any, 1, S_MR, S_NR, 64, 256, 512, 1, ukr_scalar, NULL, NULL},
    {"avx512-bf16", XF_GEMM_BF16, has_avx512bf16, 1, 12, 32, 96, 512, 1536, 32,
     gemm_ukr_avx512bf16_12x32, gemm_pack_rows_bf16_avx512, gemm_bf16_interleave_avx512},
    {"scalar-bf16", XF_GEMM_BF16, has_any, 0, S_MR, S_NR, 64, 256, 512, 2, ukr_scalar_bf16, NULL,
     NULL},
};
enum { NPATHS = (int)(sizeof PATHS / sizeof PATHS[0]) };

int xf_gemm_path_count(void) { return NPATHS; }
const char *xf_gemm_path_name(int p) { return p >= 0 && p < NPATHS ? PATHS[p].name : "none"; }
xf_gemm_precision xf_gemm_path_precision(int p) { return PATHS[p].prec; }
int xf_gemm_path_supported(int p) { return p >= 0 && p < NPATHS && PATHS[p].supported(); }

double xf_gemm_path_flops_per_cycle(int p) {
    const xf_cpu_info *ci = xf_cpu();
    double lanes = (double)PATHS[p].lanes;
    int narrow = !strcmp(ci->vendor, "AuthenticAMD") && ci->family < 0x1a;
    if (narrow && lanes > 8 && strcmp(PATHS[p].name, "scalar-bf16")) lanes /= 2;
    return 2.0 /* pipes */ * 2.0 /* mul + add */ * lanes;
}

static int g_selected[2] = {-2, -2};
static xf_gemm_precision g_prec = XF_GEMM_FP32;

static int select_path(xf_gemm_precision prec) {
    const char *want = getenv("XF_GEMM");
    if (want && *want)
        for (int p = 0; p < NPATHS; p++)
            if (PATHS[p].prec == prec && !strcmp(PATHS[p].name, want) && PATHS[p].supported())
                return p;
    for (int p = 0; p < NPATHS; p++)
        if (PATHS[p].prec == prec && PATHS[p].selectable && PATHS[p].supported()) return p;
    return -1;
}

int xf_gemm_path_selected(xf_gemm_precision prec) {
    int i = prec == XF_GEMM_BF16;
    int s = __atomic_load_n(&g_selected[i], __ATOMIC_ACQUIRE);
    if (s == -2) {
        s = select_path(prec);
        __atomic_store_n(&g_selected[i], s, __ATOMIC_RELEASE);
    }
    return s;
}

xf_status gemm_set_precision(xf_gemm_precision prec) {
    if (prec == XF_GEMM_BF16 && xf_gemm_path_selected(XF_GEMM_BF16) < 0) {
        const xf_cpu_info *ci = xf_cpu();
        return xf_fail(XF_ERR_UNSUPPORTED,
                       "bf16 needs a CPU with AVX512-BF16 (vdpbf16ps); this one (%s) lacks it",
                       ci->model[0] ? ci->model : "unknown model");
    }
    g_prec = prec;
    return XF_OK;
}

xf_gemm_precision gemm_precision_get(void) { return g_prec; }

/* ---- packing ------------------------------------------------------------- */

/* op(X)[i,k] for A (t = ta) and, with i = column j, for B (t = !tb): the
 * element at X[i*ld + k] when !t, X[k*ld + i] when t. Packing reads
 * op(X)[i0 + p*R + r, k0 + k] into panels of R. */
static void pack_f32(int t, const float *X, size_t ld, size_t i0, size_t ni, size_t k0,
                     size_t kc, int R, float *dst, xf_gemm_pack_rows fast) {
    size_t np = (ni + (size_t)R - 1) / (size_t)R, pstride = kc * (size_t)R;
    if (t) {
        /* rows of X are k: read each once, left to right, into every panel */
        for (size_t k = 0; k < kc; k++) {
            const float *src = X + (k0 + k) * ld + i0;
            for (size_t p = 0; p < np; p++) {
                size_t rows = ni - p * (size_t)R < (size_t)R ? ni - p * (size_t)R : (size_t)R;
                float *d = dst + p * pstride + k * (size_t)R;
                memcpy(d, src + p * (size_t)R, rows * sizeof(float));
                for (size_t r = rows; r < (size_t)R; r++) d[r] = 0.0f;
            }
        }
        return;
    }
    for (size_t p = 0; p < np; p++, dst += pstride) {
        size_t rows = ni - p * (size_t)R < (size_t)R ? ni - p * (size_t)R : (size_t)R;
        if (fast && rows == (size_t)R) {
            fast(X + (i0 + p * (size_t)R) * ld + k0, ld, kc, R, dst);
            continue;
        }
        for (size_t r = 0; r < rows; r++) {
            const float *src = X + (i0 + p * (size_t)R + r) * ld + k0;
            for (size_t k = 0; k < kc; k++) dst[k * (size_t)R + r] = src[k];
        }
        for (size_t r = rows; r < (size_t)R; r++)
            for (size_t k = 0; k < kc; k++) dst[k * (size_t)R + r] = 0.0f;
    }
}

/* columns converted in one go by the interleaved bf16 packing (>= every nc, mc) */
#define PAIR_MAX 2048

/* the same into bf16 pairs: dst[p][k/2][r][k&1], kc padded to even with 0 */
static void pack_bf16(int t, const float *X, size_t ld, size_t i0, size_t ni, size_t k0,
                      size_t kc, int R, uint16_t *dst, xf_gemm_pack_rows fast_rows,
                      xf_gemm_interleave interleave) {
    size_t kp = (kc + 1) / 2, R2 = 2 * (size_t)R, np = (ni + (size_t)R - 1) / (size_t)R;
    size_t pstride = kp * R2;
    /* zero the padding first: the odd k of the last pair, the rows past ni */
    if (kc & 1)
        for (size_t p = 0; p < np; p++)
            for (size_t r = 0; r < (size_t)R; r++) dst[p * pstride + (kp - 1) * R2 + 2 * r + 1] = 0;
    size_t last = ni - (np - 1) * (size_t)R;
    for (size_t r = last; r < (size_t)R; r++)
        for (size_t k = 0; k < kp; k++)
            dst[(np - 1) * pstride + k * R2 + 2 * r] = dst[(np - 1) * pstride + k * R2 + 2 * r + 1] = 0;
    if (t && interleave && ni <= PAIR_MAX) {
        /* rows k, k+1 -> pairs for all ni columns, then R pairs into each panel */
        uint16_t pairs[2 * PAIR_MAX];
        for (size_t k = 0; k < kc; k += 2) {
            const float *x0 = X + (k0 + k) * ld + i0;
            interleave(x0, k + 1 < kc ? x0 + ld : NULL, ni, pairs);
            for (size_t p = 0; p < np; p++) {
                size_t rows = p + 1 < np ? (size_t)R : last;
                memcpy(dst + p * pstride + (k >> 1) * R2, pairs + 2 * p * (size_t)R,
                       2 * rows * sizeof(uint16_t));
            }
        }
        return;
    }
    if (t) {
        for (size_t k = 0; k < kc; k++) {
            const float *src = X + (k0 + k) * ld + i0;
            for (size_t p = 0; p < np; p++) {
                size_t rows = p + 1 < np ? (size_t)R : last;
                uint16_t *d = dst + p * pstride + (k >> 1) * R2 + (k & 1);
                const float *s = src + p * (size_t)R;
                for (size_t r = 0; r < rows; r++) d[2 * r] = xf_bf16_round(s[r]);
            }
        }
        return;
    }
    for (size_t p = 0; p < np; p++, dst += pstride) {
        size_t rows = p + 1 < np ? (size_t)R : last;
        if (fast_rows && rows == (size_t)R) {
            fast_rows(X + (i0 + p * (size_t)R) * ld + k0, ld, kc, R, dst);
            continue;
        }
        for (size_t r = 0; r < rows; r++) {
            const float *src = X + (i0 + p * (size_t)R + r) * ld + k0;
            for (size_t k = 0; k < kc; k++) dst[(k >> 1) * R2 + 2 * r + (k & 1)] = xf_bf16_round(src[k]);
        }
    }
}

/* ---- per-thread workspace ------------------------------------------------ */

/* One buffer per thread, sized for the largest path, allocated on the first
 * GEMM the thread runs and kept for the life of the process. */
static _Thread_local void *tl_ws;
static _Thread_local int tl_ws_failed;

static size_t ws_bytes(void) {
    size_t best = 0;
    for (int p = 0; p < NPATHS; p++) {
        const gemm_path *g = &PATHS[p];
        size_t e = g->prec == XF_GEMM_BF16 ? 2 : 4;
        size_t b = (g->mc * g->kc + g->kc * (g->nc + (size_t)g->nr)) * e + 256;
        if (b > best) best = b;
    }
    return best;
}

static void *workspace(void) {
    if (!tl_ws && !tl_ws_failed) {
        void *p = NULL;
        if (posix_memalign(&p, 64, ws_bytes())) p = NULL;
        if (!p) tl_ws_failed = 1;
        tl_ws = p;
    }
    return tl_ws;
}

/* ---- the blocked GEMM on one thread ------------------------------------- */

typedef struct {
    int ta, tb;
    size_t M, N, K;
    float alpha, beta;
    const float *A, *B;
    size_t lda, ldb, ldc;
    float *C;
    const float *bias; /* [N] column bias or NULL */
} gemm_args;

static float opA(const gemm_args *g, size_t i, size_t k) {
    return g->ta ? g->A[k * g->lda + i] : g->A[i * g->lda + k];
}
static float opB(const gemm_args *g, size_t k, size_t j) {
    return g->tb ? g->B[j * g->ldb + k] : g->B[k * g->ldb + j];
}

/* no workspace: a plain loop (fp32 accumulation in k order; the rounding to
 * bf16 is kept so a bf16 run stays bf16) */
static void gemm_unpacked(const gemm_path *P, const gemm_args *g) {
    int bf = P->prec == XF_GEMM_BF16;
    for (size_t i = 0; i < g->M; i++)
        for (size_t j = 0; j < g->N; j++) {
            float acc = 0.0f;
            for (size_t k = 0; k < g->K; k++) {
                float a = opA(g, i, k), b = opB(g, k, j);
                if (bf) {
                    a = bf16_to_f32(xf_bf16_round(a));
                    b = bf16_to_f32(xf_bf16_round(b));
                }
                acc += a * b;
            }
            float *c = g->C + i * g->ldc + j;
            *c = store_rule(acc, *c, g->alpha, g->beta, g->bias ? g->bias + j : NULL);
        }
}

/* K = 0 or alpha = 0: the store rule with acc = 0 */
static void scale_c(const gemm_args *g) {
    for (size_t i = 0; i < g->M; i++) {
        float *c = g->C + i * g->ldc;
        for (size_t j = 0; j < g->N; j++)
            c[j] = store_rule(0.0f, c[j], g->alpha, g->beta, g->bias ? g->bias + j : NULL);
    }
}

static void gemm_serial(const gemm_path *P, const gemm_args *g) {
    if (g->K == 0 || g->alpha == 0.0f) {
        scale_c(g);
        return;
    }
    void *ws = workspace();
    if (!ws) {
        gemm_unpacked(P, g);
        return;
    }
    int bf = P->prec == XF_GEMM_BF16;
    size_t es = bf ? 2 : 4, MR = (size_t)P->mr, NR = (size_t)P->nr;
    char *pa = ws, *pb = (char *)ws + ((P->mc * P->kc * es + 63) & ~(size_t)63);
    float tile[MR_MAX * NR_MAX];
    for (size_t jc = 0; jc < g->N; jc += P->nc) {
        size_t nc = g->N - jc < P->nc ? g->N - jc : P->nc;
        for (size_t pc = 0; pc < g->K; pc += P->kc) {
            size_t kc = g->K - pc < P->kc ? g->K - pc : P->kc;
            size_t ksteps = bf ? (kc + 1) / 2 : kc; /* packed k steps */
            size_t kstride = bf ? 2 * ksteps : kc;  /* elements per row of a panel */
            float beta = pc == 0 ? g->beta : 1.0f;
            const float *bias = pc == 0 ? g->bias : NULL;
            /* B block: op(B)[pc.., jc..] = element (j, k) of B read with !tb */
            if (bf)
                pack_bf16(!g->tb, g->B, g->ldb, jc, nc, pc, kc, P->nr, (uint16_t *)(void *)pb,
                          P->pack_rows, P->interleave);
            else pack_f32(!g->tb, g->B, g->ldb, jc, nc, pc, kc, P->nr, (float *)(void *)pb, P->pack_rows);
            for (size_t ic = 0; ic < g->M; ic += P->mc) {
                size_t mc = g->M - ic < P->mc ? g->M - ic : P->mc;
                if (bf)
                    pack_bf16(g->ta, g->A, g->lda, ic, mc, pc, kc, P->mr, (uint16_t *)(void *)pa,
                              P->pack_rows, P->interleave);
                else pack_f32(g->ta, g->A, g->lda, ic, mc, pc, kc, P->mr, (float *)(void *)pa, P->pack_rows);
                for (size_t jr = 0; jr < nc; jr += NR) {
                    size_t nr = nc - jr < NR ? nc - jr : NR;
                    const char *bp = pb + jr * kstride * es;
                    for (size_t ir = 0; ir < mc; ir += MR) {
                        size_t mr = mc - ir < MR ? mc - ir : MR;
                        const char *ap = pa + ir * kstride * es;
                        float *c = g->C + (ic + ir) * g->ldc + jc + jr;
                        const float *bj = bias ? bias + jc + jr : NULL;
                        if (mr == MR && nr == NR) {
                            P->ukr(ksteps, ap, bp, c, g->ldc, g->alpha, beta, bj);
                        } else {
                            P->ukr(ksteps, ap, bp, tile, NR, 1.0f, 0.0f, NULL);
                            for (size_t r = 0; r < mr; r++)
                                for (size_t j = 0; j < nr; j++)
                                    c[r * g->ldc + j] = store_rule(tile[r * NR + j], c[r * g->ldc + j],
                                                                   g->alpha, beta, bj ? bj + j : NULL);
                        }
                    }
                }
            }
        }
    }
}

/* ---- threads ------------------------------------------------------------- */

/* below this many multiply-adds a GEMM stays on one thread */
#define GEMM_PAR_MIN 65536.0

static void gemm_run(const gemm_path *P, const gemm_args *g) {
    if (g->M == 0 || g->N == 0) return;
    int nt = omp_in_parallel() ? 1 : omp_get_max_threads();
    if ((double)g->M * (double)g->N * (double)(g->K ? g->K : 1) < GEMM_PAR_MIN) nt = 1;
    /* split the larger of M and N into nt ranges of whole tiles */
    int split_m = g->M >= g->N;
    size_t unit = split_m ? (size_t)P->mr : (size_t)P->nr;
    size_t len = split_m ? g->M : g->N, units = (len + unit - 1) / unit;
    if ((size_t)nt > units) nt = (int)units;
    if (nt <= 1) {
        gemm_serial(P, g);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        size_t t = (size_t)omp_get_thread_num(), n = (size_t)omp_get_num_threads();
        size_t u0 = units * t / n, u1 = units * (t + 1) / n;
        size_t a0 = u0 * unit, a1 = u1 * unit < len ? u1 * unit : len;
        if (a1 > a0) {
            gemm_args s = *g;
            if (split_m) {
                s.M = a1 - a0;
                s.A = g->ta ? g->A + a0 : g->A + a0 * g->lda;
                s.C = g->C + a0 * g->ldc;
            } else {
                s.N = a1 - a0;
                s.B = g->tb ? g->B + a0 * g->ldb : g->B + a0;
                s.C = g->C + a0;
                if (g->bias) s.bias = g->bias + a0;
            }
            gemm_serial(P, &s);
        }
    }
}

void sgemm_path(int path, int ta, int tb, size_t M, size_t N, size_t K, float alpha,
                   const float *A, size_t lda, const float *B, size_t ldb, float beta,
                   const float *bias, float *C, size_t ldc) {
    gemm_args g = {ta, tb, M, N, K, alpha, beta, A, B, lda, ldb, ldc, C, bias};
    gemm_run(&PATHS[path], &g);
}

static int current_path(void) {
    int p = xf_gemm_path_selected(g_prec);
    return p < 0 ? xf_gemm_path_selected(XF_GEMM_FP32) : p;
}

void sgemm(int ta, int tb, size_t M, size_t N, size_t K, float alpha, const float *A,
              size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc) {
    sgemm_path(current_path(), ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, NULL, C, ldc);
}

void sgemm_fp32(int ta, int tb, size_t M, size_t N, size_t K, float alpha, const float *A,
                  size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc) {
    sgemm_path(xf_gemm_path_selected(XF_GEMM_FP32), ta, tb, M, N, K, alpha, A, lda, B, ldb,
                  beta, NULL, C, ldc);
}

void sgemm_bias(int ta, int tb, size_t M, size_t N, size_t K, const float *A, size_t lda,
                   const float *B, size_t ldb, const float *bias, float *C, size_t ldc) {
    sgemm_path(current_path(), ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, bias, C, ldc);
}
