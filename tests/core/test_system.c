/* The machine (include/xfmr/system.h): the monotonic clock never goes back
 * and counts real time (against nanosleep), the CPU description is detected
 * once with consistent flags (AVX-512 implies AVX2 implies AVX, as the
 * detection promises), and the GEMM path table names each path once, with a
 * selected fp32 path this CPU supports. */
#include <string.h>
#include <time.h>

#include "test.h"
#include "xfmr/system.h"

TEST(test_clock_monotonic) {
    double t0 = xf_now_ms(), prev = t0;
    for (int i = 0; i < 100000; i++) {
        double t = xf_now_ms();
        CHECK_MSG(t >= prev, "clock went back: %.6f after %.6f", t, prev);
        prev = t;
    }
    struct timespec ts = {0, 20 * 1000 * 1000}; /* 20 ms */
    double a = xf_now_ms();
    CHECK(nanosleep(&ts, NULL) == 0);
    double dt = xf_now_ms() - a;
    CHECK_MSG(dt >= 19.9 && dt < 5000, "a 20 ms sleep measured %.3f ms", dt);
}

TEST(test_cpu_flags_consistent) {
    const xf_cpu_info *c = xf_cpu();
    CHECK(c == xf_cpu()); /* detected once */
    CHECK(memchr(c->vendor, '\0', sizeof c->vendor) && memchr(c->model, '\0', sizeof c->model));
    if (c->avx512f) CHECK(c->avx2);
    if (c->avx2) CHECK(c->avx);
    if (c->avx512_bf16 || c->avx512_vnni || c->avx512bw) CHECK(c->avx512f);
    CHECK(xf_cpu_mhz_nominal() >= 0);
}

TEST(test_gemm_paths) {
    int n = xf_gemm_path_count();
    CHECK(n >= 2);
    for (int p = 0; p < n; p++) {
        CHECK(xf_gemm_path_name(p) && xf_gemm_path_name(p)[0]);
        for (int q = 0; q < p; q++) CHECK(strcmp(xf_gemm_path_name(p), xf_gemm_path_name(q)) != 0);
        xf_gemm_precision pr = xf_gemm_path_precision(p);
        CHECK(pr == XF_GEMM_FP32 || pr == XF_GEMM_BF16);
    }
    int sel = xf_gemm_path_selected(XF_GEMM_FP32);
    CHECK(sel >= 0 && sel < n && xf_gemm_path_supported(sel));
    CHECK(xf_gemm_path_precision(sel) == XF_GEMM_FP32);
    int bf = xf_gemm_path_selected(XF_GEMM_BF16);
    CHECK(bf == -1 || (xf_gemm_path_supported(bf) && xf_gemm_path_precision(bf) == XF_GEMM_BF16));
}

int main(void) {
    RUN(test_clock_monotonic);
    RUN(test_cpu_flags_consistent);
    RUN(test_gemm_paths);
    return test_summary();
}
