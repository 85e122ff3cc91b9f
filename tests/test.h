/* Minimal test harness. Each tests/<dir>/test_<module>.c is one binary:
 *
 *   TEST(test_something) { CHECK(x == 1); CHECK_NEAR(a, b, 1e-6); }
 *   int main(void) { RUN(test_something); return test_summary(); }
 *
 * Each test prints one line "PASS name" or "FAIL name: file:line: what"
 * (or "SKIP name: why"); tests/run.sh counts these lines across binaries.
 * A test stops at its first failed check. */
#ifndef XF_TEST_H
#define XF_TEST_H

#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_passed, t_failed, t_skipped;
static jmp_buf t_jmp;
static char t_msg[1024];
static int t_skip;

#define TEST(name) static void name(void)

#define FAILF(...)                                                                   \
    do {                                                                             \
        int t_n_ = snprintf(t_msg, sizeof t_msg, "%s:%d: ", __FILE__, __LINE__);      \
        snprintf(t_msg + t_n_, sizeof t_msg - (size_t)t_n_, __VA_ARGS__);              \
        longjmp(t_jmp, 1);                                                           \
    } while (0)

#define CHECK(cond)                                   \
    do {                                              \
        if (!(cond)) FAILF("check failed: %s", #cond); \
    } while (0)

#define CHECK_MSG(cond, ...)            \
    do {                                \
        if (!(cond)) FAILF(__VA_ARGS__); \
    } while (0)

/* |a-b| <= tol (absolute) */
#define CHECK_NEAR(a, b, tol)                                                                \
    do {                                                                                     \
        double t_a_ = (double)(a), t_b_ = (double)(b);                                       \
        if (!(fabs(t_a_ - t_b_) <= (tol)))                                                   \
            FAILF("%s = %.9g, %s = %.9g, diff %.3g > %.3g", #a, t_a_, #b, t_b_,               \
                  fabs(t_a_ - t_b_), (double)(tol));                                         \
    } while (0)

/* xf_status must be XF_OK; prints the library's message otherwise */
#define CHECK_OK(expr)                                                                  \
    do {                                                                                \
        int t_s_ = (int)(expr);                                                         \
        if (t_s_ != 0) FAILF("%s returned %d: %s", #expr, t_s_, xf_last_error());       \
    } while (0)

#define SKIP(...)                                          \
    do {                                                   \
        snprintf(t_msg, sizeof t_msg, __VA_ARGS__);        \
        t_skip = 1;                                        \
        longjmp(t_jmp, 1);                                 \
    } while (0)

#define RUN(fn)                                              \
    do {                                                     \
        t_skip = 0;                                          \
        if (setjmp(t_jmp) == 0) {                            \
            fn();                                            \
            printf("PASS %s\n", #fn);                        \
            t_passed++;                                      \
        } else if (t_skip) {                                 \
            printf("SKIP %s: %s\n", #fn, t_msg);             \
            t_skipped++;                                     \
        } else {                                             \
            printf("FAIL %s: %s\n", #fn, t_msg);             \
            t_failed++;                                      \
        }                                                    \
        fflush(stdout);                                      \
    } while (0)

static inline int test_summary(void) {
    printf("# %d passed, %d failed, %d skipped\n", t_passed, t_failed, t_skipped);
    return t_failed ? 1 : 0;
}

/* Max relative error between two arrays, relative to max(|ref|, floor). */
static inline double test_max_rel_err(const double *got, const double *ref, size_t n,
                                      double floor_) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(got[i] - ref[i]);
        double s = fabs(ref[i]) > floor_ ? fabs(ref[i]) : floor_;
        if (d / s > worst) worst = d / s;
    }
    return worst;
}

#endif
