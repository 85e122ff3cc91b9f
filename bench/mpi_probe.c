/* Allreduce latency and bandwidth of this machine's MPI transport (bench/mpi.sh).
 * Run under mpirun -np N: for each size, the median of REPS timings of
 * xfmr's deterministic allreduce (src/dist: all-to-all + all-gather, in
 * buckets) and of MPI_Allreduce, each after a barrier. Rank 0 prints one JSON
 * line per size: bytes, microseconds, and the "bus bandwidth" 2(N-1)/N * bytes
 * / time that a ring allreduce would need (the alpha-beta fit in
 * docs/scale-out.md reads these). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "dist/dist.h"

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(void) {
    if (xf_dist_init() || xf_dist_size() < 2) {
        fprintf(stderr, "mpi_probe: run it under mpirun -np 2 or more\n");
        return 1;
    }
    int P = xf_dist_size(), rank = xf_dist_rank();
    enum { REPS = 15 };
    size_t maxn = (size_t)16 << 20; /* 64 MiB of floats */
    float *x = malloc(maxn * sizeof(float)), *y = malloc(maxn * sizeof(float));
    if (!x || !y) return 1;
    for (size_t i = 0; i < maxn; i++) x[i] = (float)(i % 7);
    for (size_t n = 2; n <= maxn; n *= 8) {
        double t[2][REPS];
        for (int k = 0; k < REPS; k++) {
            dist_barrier();
            double t0 = MPI_Wtime();
            dist_allreduce_sum(x, n);
            t[0][k] = MPI_Wtime() - t0;
            for (size_t i = 0; i < n; i++) x[i] = (float)(i % 7);
            dist_barrier();
            t0 = MPI_Wtime();
            MPI_Allreduce(x, y, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            t[1][k] = MPI_Wtime() - t0;
        }
        qsort(t[0], REPS, sizeof(double), cmp);
        qsort(t[1], REPS, sizeof(double), cmp);
        double bytes = (double)n * sizeof(float), ours = t[0][REPS / 2], mpi = t[1][REPS / 2];
        double f = 2.0 * (P - 1) / P;
        if (rank == 0)
            printf("{\"bench\":\"allreduce\",\"ranks\":%d,\"bytes\":%.0f,\"xfmr_us\":%.1f,\"mpi_us\":%.1f,"
                   "\"xfmr_busbw_gbs\":%.3f,\"mpi_busbw_gbs\":%.3f}\n",
                   P, bytes, ours * 1e6, mpi * 1e6, f * bytes / ours / 1e9, f * bytes / mpi / 1e9);
    }
    free(x);
    free(y);
    xf_dist_finalize();
    return 0;
}
