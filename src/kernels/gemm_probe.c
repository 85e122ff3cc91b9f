/* Timing one GEMM shape on one path (gemm.h: xf_gemm_measure). */
#include <stdint.h>
#include <stdlib.h>

#include "core/clock.h"
#include "kernels/gemm.h"

double xf_gemm_measure(int path, int ta, int tb, size_t M, size_t N, size_t K, int reps,
                       double budget_ms) {
    float *A = malloc(M * K * sizeof(float)), *B = malloc(K * N * sizeof(float));
    float *C = malloc(M * N * sizeof(float));
    double best = 0;
    if (A && B && C) {
        uint32_t x = 12345u; /* a fixed LCG: the values only need to be ordinary */
        for (size_t i = 0; i < M * K; i++) A[i] = (float)((x = x * 1664525u + 1013904223u) >> 8) / 8388608.0f - 1.0f;
        for (size_t i = 0; i < K * N; i++) B[i] = (float)((x = x * 1664525u + 1013904223u) >> 8) / 8388608.0f - 1.0f;
        double start = xf_now_ms();
        for (int r = -1; r < reps && (r < 1 || xf_now_ms() - start < budget_ms); r++) {
            double t0 = xf_now_ms();
            sgemm_path(path, ta, tb, M, N, K, 1.0f, A, ta ? M : K, B, tb ? K : N, 0.0f, NULL, C, N);
            double ms = xf_now_ms() - t0;
            double gf = ms > 0 ? 2.0 * (double)M * (double)N * (double)K / (ms * 1e6) : 0;
            if (r >= 0 && gf > best) best = gf;
        }
    }
    free(A);
    free(B);
    free(C);
    return best;
}
