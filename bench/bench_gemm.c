/* GEMM benchmark: xfmr's GEMM against oneDNN's dnnl_sgemm on the GEMMs of one
 * bench-gpt training step, in the same run, and (where the CPU has
 * AVX512-BF16) xfmr's bf16 path on the same shapes. oneDNN 2.6 has no public
 * bf16 GEMM call (only its matmul primitive), so bf16 is compared with the
 * fp32 figures. Built only by `make bench` (links libdnnl; libdnnl-dev).
 *
 * usage: bench_gemm [--threads N] [--reps R] [--tokens N]
 * Prints one line per shape and then one JSON line with the FLOP-weighted
 * totals (total FLOPs of a step / total time):
 *   {"bench":"gemm", "xfmr_gflops":.., "onednn_gflops":.., "ratio":..,
 *    "xfmr_bf16_gflops":.., "bf16_over_fp32":..}
 * Each figure is the best of 2 rounds x R runs (wall clock, R = 10) after a warm-up;
 * the contenders run in turn within each repetition. */
#include <dnnl.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/cpu.h"
#include "core/parallel.h"
#include "kernels/gemm.h"

typedef struct {
    const char *what;
    int ta, tb;
    size_t M, N, K, per_step; /* per_step: how many of this GEMM one step runs */
} shape;

typedef struct {
    const shape *s;
    const float *A, *B;
    float *C;
    int path;
} run_ctx;

static void run_xf(void *v) {
    run_ctx *c = v;
    const shape *s = c->s;
    sgemm_path(c->path, s->ta, s->tb, s->M, s->N, s->K, 1.0f, c->A, s->ta ? s->M : s->K, c->B,
                  s->tb ? s->K : s->N, 0.0f, NULL, c->C, s->N);
}

static dnnl_status_t g_dnnl_status = dnnl_success;

static void run_dnnl(void *v) {
    run_ctx *c = v;
    const shape *s = c->s;
    g_dnnl_status = dnnl_sgemm(s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', (dnnl_dim_t)s->M, (dnnl_dim_t)s->N,
               (dnnl_dim_t)s->K, 1.0f, c->A, (dnnl_dim_t)(s->ta ? s->M : s->K), c->B,
               (dnnl_dim_t)(s->tb ? s->K : s->N), 0.0f, c->C, (dnnl_dim_t)s->N);
}

int main(int argc, char **argv) {
    int threads = 0, reps = 10;
    size_t tokens = 2048; /* bench-gpt: batch 8 x seq 256 */
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--tokens")) tokens = (size_t)atol(argv[i + 1]);
        else {
            fprintf(stderr, "bench_gemm: unknown flag %s\n", argv[i]);
            return 2;
        }
    }
    xf_set_threads(threads);
    size_t Nt = tokens, C = 384, I = 1536, V = 8192, L = 6;
    /* bench-gpt (C 384, FFN 1536, vocab 8192, 6 layers): forward out = x w^T (A Bt),
     * backward dx = dy w (A B) and dw = dy^T x (At B) */
    const shape S[] = {
        {"attn q/k/v/o fwd", 0, 1, Nt, C, C, 4 * L},  {"attn q/k/v/o dx", 0, 0, Nt, C, C, 4 * L},
        {"attn q/k/v/o dw", 1, 0, C, C, Nt, 4 * L},   {"ffn up fwd", 0, 1, Nt, I, C, L},
        {"ffn up dx", 0, 0, Nt, C, I, L},             {"ffn up dw", 1, 0, I, C, Nt, L},
        {"ffn down fwd", 0, 1, Nt, C, I, L},          {"ffn down dx", 0, 0, Nt, I, C, L},
        {"ffn down dw", 1, 0, C, I, Nt, L},           {"lm head fwd", 0, 1, Nt, V, C, 1},
        {"lm head dx", 0, 0, Nt, C, V, 1},            {"lm head dw", 1, 0, V, C, Nt, 1},
    };
    size_t ns = sizeof S / sizeof S[0];
    const xf_cpu_info *ci = xf_cpu();
    int p32 = xf_gemm_path_selected(XF_GEMM_FP32), pbf = xf_gemm_path_selected(XF_GEMM_BF16);
    printf("bench gemm: %s, %d threads, xfmr path %s%s%s, oneDNN %d.%d.%d\n", ci->model,
           omp_get_max_threads(), xf_gemm_path_name(p32), pbf >= 0 ? " and " : "",
           pbf >= 0 ? xf_gemm_path_name(pbf) : "", dnnl_version()->major, dnnl_version()->minor,
           dnnl_version()->patch);
    double fl_all = 0, t_xf = 0, t_dn = 0, t_xfb = 0;
    /* two rounds over the shapes, the best of each kept, so no shape is judged
     * only by what the machine was doing when its turn came */
    enum { MAXS = 16, ROUNDS = 2 };
    double bx[MAXS], bd[MAXS], bb[MAXS];
    for (size_t i = 0; i < ns; i++) bx[i] = bd[i] = bb[i] = 1e30;
    for (int round = 0; round < ROUNDS; round++)
        for (size_t i = 0; i < ns; i++) {
            const shape *s = &S[i];
            size_t na = s->M * s->K, nb = s->K * s->N;
            float *A = malloc(na * sizeof(float)), *B = malloc(nb * sizeof(float));
            float *Cm = malloc(s->M * s->N * sizeof(float));
            if (!A || !B || !Cm) {
                fprintf(stderr, "bench_gemm: out of memory\n");
                return 1;
            }
            uint32_t x = 1u + (uint32_t)i;
            for (size_t j = 0; j < na; j++) A[j] = (float)((x = x * 1664525u + 1013904223u) >> 8) / 8388608.0f - 1.0f;
            for (size_t j = 0; j < nb; j++) B[j] = (float)((x = x * 1664525u + 1013904223u) >> 8) / 8388608.0f - 1.0f;
            run_ctx c = {s, A, B, Cm, p32};
            /* the contenders take turns, so a machine whose speed drifts slows all alike */
            for (int r = -1; r < reps; r++) {
                double t0 = xf_now_ms();
                c.path = p32;
                run_xf(&c);
                double t1 = xf_now_ms();
                run_dnnl(&c);
                double t2 = xf_now_ms(), t3 = t2;
                if (pbf >= 0) {
                    c.path = pbf;
                    run_xf(&c);
                    t3 = xf_now_ms();
                }
                if (r < 0) continue; /* warm-up */
                if (t1 - t0 < bx[i]) bx[i] = t1 - t0;
                if (t2 - t1 < bd[i]) bd[i] = t2 - t1;
                if (pbf >= 0 && t3 - t2 < bb[i]) bb[i] = t3 - t2;
            }
            if (g_dnnl_status != dnnl_success) {
                fprintf(stderr, "bench_gemm: dnnl_sgemm failed (status %d)\n", (int)g_dnnl_status);
                return 1;
            }
            free(A), free(B), free(Cm);
        }
    for (size_t i = 0; i < ns; i++) {
        const shape *s = &S[i];
        double fl = 2.0 * (double)s->M * (double)s->N * (double)s->K;
        double mx = bx[i], md = bd[i], mxb = pbf >= 0 ? bb[i] : 0;
        fl_all += fl * (double)s->per_step;
        t_xf += mx * (double)s->per_step;
        t_dn += md * (double)s->per_step;
        t_xfb += mxb * (double)s->per_step;
        printf("  %-18s %s%s %5zux%5zux%5zu  xfmr %6.1f  oneDNN %6.1f GFLOP/s (%.2f)", s->what,
               s->ta ? "At" : "A ", s->tb ? "Bt" : "B ", s->M, s->N, s->K, fl / mx / 1e6, fl / md / 1e6,
               md / mx);
        if (pbf >= 0) printf(" | bf16 xfmr %6.1f (%.2fx fp32)", fl / mxb / 1e6, mx / mxb);
        printf("\n");
    }
    printf("{\"bench\":\"gemm\",\"cpu\":\"%s\",\"threads\":%d,\"path\":\"%s\",\"xfmr_gflops\":%.1f,"
           "\"onednn_gflops\":%.1f,\"ratio\":%.3f",
           ci->model, omp_get_max_threads(), xf_gemm_path_name(p32), fl_all / t_xf / 1e6,
           fl_all / t_dn / 1e6, t_dn / t_xf);
    if (pbf >= 0)
        printf(",\"xfmr_bf16_gflops\":%.1f,\"bf16_over_fp32\":%.3f", fl_all / t_xfb / 1e6,
               t_xf / t_xfb);
    printf("}\n");
    return 0;
}
