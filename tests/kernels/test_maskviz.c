/* xf_mask_visible against the attention kernel itself: for every mask kind,
 * prefix lengths 0..Tk, past = 0 and past > 0, and Tk > past + Tq (keys
 * beyond the last query), a key gets a nonzero softmax probability from
 * attention_forward iff xf_mask_visible says it is visible. Then the
 * closed-form counts of visible cells that `xfmr masks` reports. */
#include "kernels/kernels.h"
#include "kernels/maskviz.h"
#include "test.h"
#include "kernels/fd.h"

enum { MAXT = 12, MD = MAXT };

/* att > 0 iff visible, for one (kind, P, past, Tq, Tk). The kernel keeps no
 * probabilities, so they are read through its output: head dim MD >= Tk and
 * v row j = e_j make out row i = P[i, :]. */
static void check_against_kernel(xf_mask_kind kind, int32_t P, size_t past, size_t Tq, size_t Tk) {
    float q[MAXT * MD], k[MAXT * MD], v[MAXT * MD], att[MAXT * MD];
    fd_fill(q, NULL, Tq * MD, -1, 1);
    fd_fill(k, NULL, Tk * MD, -1, 1);
    for (size_t j = 0; j < Tk; j++)
        for (size_t d = 0; d < MD; d++) v[j * MD + d] = (float)(d == j);
    xf_mask m = {kind, &P, NULL, past};
    attention_forward(att, NULL, q, k, v, NULL, &m, 1, Tq, Tk, Tk, 1, 1, MD, 0.5f);
    for (size_t i = 0; i < Tq; i++)
        for (size_t j = 0; j < Tk; j++) {
            int vis = xf_mask_visible(kind, i, j, (size_t)P, past);
            CHECK_MSG(vis == (att[i * MD + j] > 0.0f),
                      "kind %d P=%d past=%zu i=%zu j=%zu: visible %d, att %g", (int)kind, (int)P,
                      past, i, j, vis, (double)att[i * MD + j]);
        }
}

TEST(test_mask_visible_matches_attention) {
    fd_seed(95);
    static const xf_mask_kind kinds[] = {XF_MASK_CAUSAL, XF_MASK_BIDIR, XF_MASK_PREFIX};
    for (size_t a = 0; a < 3; a++)
        for (size_t past = 0; past <= 3; past += 3)
            for (size_t extra = 0; extra <= 2; extra += 2) {
                size_t Tq = 6, Tk = past + Tq + extra;
                for (int32_t P = 0; P <= (int32_t)Tk; P++) {
                    check_against_kernel(kinds[a], P, past, Tq, Tk);
                    if (kinds[a] != XF_MASK_PREFIX) break;
                }
            }
}

static size_t count(xf_mask_kind kind, size_t rows, size_t cols, size_t P) {
    size_t n = 0;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) n += (size_t)xf_mask_visible(kind, i, j, P, 0);
    return n;
}

TEST(test_mask_visible_counts) {
    for (size_t N = 1; N <= 40; N++) {
        CHECK(count(XF_MASK_CAUSAL, N, N, 0) == N * (N + 1) / 2);
        CHECK(count(XF_MASK_BIDIR, N, N, 0) == N * N);
        CHECK(count(XF_MASK_BIDIR, N, N + 3, 0) == N * (N + 3)); /* cross-attention */
        for (size_t P = 0; P <= N; P++) /* P^2 + the causal part of the targets */
            CHECK(count(XF_MASK_PREFIX, N, N, P) == P * P + N * (N + 1) / 2 - P * (P + 1) / 2);
    }
}

int main(void) {
    RUN(test_mask_visible_matches_attention);
    RUN(test_mask_visible_counts);
    return test_summary();
}
