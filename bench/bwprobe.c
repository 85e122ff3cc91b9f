/* Memory read bandwidth probe for the decode benchmark (bench/decode.sh).
 *
 * usage: bwprobe [MiB] [passes] [threads]      (defaults 1024, 8, all)
 * Streams a buffer of MiB (far larger than any L3) with every thread summing
 * its static share, the way a matrix-vector product reads its weights, and
 * prints the best pass as one JSON line:
 *   {"bench":"bandwidth","mib":1024,"threads":2,"gbps":12.3}
 * GB/s is 10^9 bytes per second. The sum is printed so the reads are not
 * optimised away. The pages are written once before timing (no first-touch
 * faults in the timed passes). */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
    int passes = argc > 2 ? atoi(argv[2]) : 8;
    if (argc > 3) omp_set_num_threads(atoi(argv[3]));
    if (mib == 0 || passes <= 0) {
        fprintf(stderr, "usage: bwprobe [MiB > 0] [passes > 0] [threads]\n");
        return 2;
    }
    size_t n = mib * 1048576 / sizeof(float);
    float *buf = aligned_alloc(64, n * sizeof(float));
    if (!buf) {
        fprintf(stderr, "bwprobe: out of memory for %zu MiB\n", mib);
        return 1;
    }
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) buf[i] = (float)(i & 1023) * 1e-3f;
    double best = 1e30, total = 0;
    int threads = omp_get_max_threads();
    for (int p = 0; p < passes; p++) {
        double t0 = now_s(), sum = 0;
#pragma omp parallel for schedule(static) reduction(+ : sum)
        for (size_t blk = 0; blk < n / 4096; blk++) {
            const float *b = buf + blk * 4096;
            /* 64 independent partial sums: several vector accumulators, so
             * the adds' latency does not limit the read rate */
            float acc[64] = {0};
            for (size_t i = 0; i < 4096; i += 64)
                for (size_t k = 0; k < 64; k++) acc[k] += b[i + k];
            for (size_t k = 0; k < 64; k++) sum += acc[k];
        }
        double dt = now_s() - t0;
        best = dt < best ? dt : best;
        total += sum;
    }
    printf("{\"bench\":\"bandwidth\",\"mib\":%zu,\"threads\":%d,\"gbps\":%.2f,\"checksum\":%.6g}\n", mib,
           threads, (double)(n / 4096 * 4096) * sizeof(float) / best / 1e9, total);
    free(buf);
    return 0;
}
