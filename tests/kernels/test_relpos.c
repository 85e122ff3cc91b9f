/* T5 relative position bias: the bucket function against both boundary tables
 * of docs/algorithms.md §2.3 (32 buckets, max_distance 128, every |rel| up to 400
 * and the extremes of long), the per-offset forward against a direct double
 * reference of HF's [H, Tq, Tk] bias (entry (i, j) is offset j - i) with
 * past = 0 and past > 0, the KV-cache slicing (past = p gives rows p.. of a
 * past = 0 run, bit for bit), the backward against central finite differences
 * of the reference loss L = sum(bias * R) (FD_TOL relative, see fd.h), the +=
 * rule, and 1 vs 2 threads bit for bit. The small cases use 8
 * buckets and max_distance 12 so that short sequences reach the log buckets
 * and the cap. */
#include <limits.h>
#include <omp.h>

#include "kernels/relpos.h"
#include "test.h"
#include "kernels/fd.h"

#define FD_TOL 1e-3
#define FD_EPS 1e-3

/* ---- the tables of docs/algorithms.md §2.3 ---------------------------------------- */

/* bucket of n = |rel| (bidirectional, before the +16 for rel > 0) */
static int32_t table_bidir(unsigned long n) {
    static const unsigned long from[] = {8, 12, 16, 23, 32, 46, 64, 91}; /* -> 8..15 */
    if (n < 8) return (int32_t)n;
    int32_t b = 7;
    for (size_t k = 0; k < sizeof from / sizeof from[0]; k++)
        if (n >= from[k]) b = 8 + (int32_t)k;
    return b;
}

/* bucket of n = -rel (decoder) */
static int32_t table_decoder(unsigned long n) {
    static const unsigned long from[] = {16, 19, 21, 24, 27, 31, 35, 40,
                                         46, 52, 59, 67, 77, 87, 99, 113}; /* -> 16..31 */
    if (n < 16) return (int32_t)n;
    int32_t b = 15;
    for (size_t k = 0; k < sizeof from / sizeof from[0]; k++)
        if (n >= from[k]) b = 16 + (int32_t)k;
    return b;
}

TEST(test_relpos_bucket_bidirectional_table) {
    for (long n = 0; n <= 400; n++) {
        int32_t want = table_bidir((unsigned long)n);
        int32_t past = relpos_bucket(-n, 1, 32, 128);
        CHECK_MSG(past == want, "bidirectional rel=%ld: bucket %d, table %d", -n, past, want);
        if (n > 0) {
            int32_t fut = relpos_bucket(n, 1, 32, 128);
            CHECK_MSG(fut == 16 + want, "bidirectional rel=%ld: bucket %d, table %d", n, fut,
                      16 + want);
        }
    }
    /* each boundary and the value below it, spelled out */
    static const long edge[][2] = {{7, 7},   {8, 8},   {11, 8},  {12, 9},  {15, 9},  {16, 10},
                                   {22, 10}, {23, 11}, {31, 11}, {32, 12}, {45, 12}, {46, 13},
                                   {63, 13}, {64, 14}, {90, 14}, {91, 15}, {128, 15}, {1000, 15}};
    for (size_t k = 0; k < sizeof edge / sizeof edge[0]; k++) {
        CHECK(relpos_bucket(-edge[k][0], 1, 32, 128) == edge[k][1]);
        CHECK(relpos_bucket(edge[k][0], 1, 32, 128) == 16 + edge[k][1]);
    }
    CHECK(relpos_bucket(LONG_MIN, 1, 32, 128) == 15);
    CHECK(relpos_bucket(LONG_MAX, 1, 32, 128) == 31);
}

TEST(test_relpos_bucket_decoder_table) {
    for (long n = 0; n <= 400; n++) {
        int32_t want = table_decoder((unsigned long)n);
        int32_t got = relpos_bucket(-n, 0, 32, 128);
        CHECK_MSG(got == want, "decoder rel=%ld: bucket %d, table %d", -n, got, want);
        /* future keys (rel > 0) fall in bucket 0 */
        CHECK_MSG(relpos_bucket(n, 0, 32, 128) == 0, "decoder rel=%ld not bucket 0", n);
    }
    static const long edge[][2] = {{15, 15},  {16, 16},  {18, 16},  {19, 17}, {20, 17},
                                   {21, 18},  {31, 21},  {32, 21},  {63, 26}, {64, 26},
                                   {112, 30}, {113, 31}, {128, 31}, {5000, 31}};
    for (size_t k = 0; k < sizeof edge / sizeof edge[0]; k++)
        CHECK_MSG(relpos_bucket(-edge[k][0], 0, 32, 128) == edge[k][1], "n=%ld", edge[k][0]);
    CHECK(relpos_bucket(LONG_MIN, 0, 32, 128) == 31);
    CHECK(relpos_bucket(LONG_MAX, 0, 32, 128) == 0);
}

/* ---- forward and backward --------------------------------------------------- */

/* The bucket formula written out again for the reference (floor of a double) */
static size_t ref_bucket(long rel, int bidir, size_t nb, size_t md) {
    size_t base = 0;
    double n;
    if (bidir) {
        nb /= 2;
        base = rel > 0 ? nb : 0;
        n = fabs((double)rel);
    } else {
        n = rel < 0 ? -(double)rel : 0.0;
    }
    double me = (double)(nb / 2);
    if (n < me) return base + (size_t)n;
    double b = me + floor(log(n / me) / log((double)md / me) * ((double)nb - me));
    return base + (size_t)fmin(b, (double)nb - 1);
}

typedef struct {
    size_t H, Tq, Tk, past, nb, md;
    int bidir;
} rp_case;

/* HF's bias: out[h,i,j] = table[ref_bucket(j - past - i), h] */
static void ref_forward(double *out, const double *table, const rp_case *c) {
    for (size_t h = 0; h < c->H; h++)
        for (size_t i = 0; i < c->Tq; i++)
            for (size_t j = 0; j < c->Tk; j++) {
                long rel = (long)j - (long)(c->past + i);
                size_t b = ref_bucket(rel, c->bidir, c->nb, c->md);
                out[(h * c->Tq + i) * c->Tk + j] = table[b * c->H + h];
            }
}

/* entry (h, i, j) of the kernel's per-offset layout [H, Tq+Tk-1] */
static size_t off_index(const rp_case *c, size_t h, size_t i, size_t j) {
    return h * (c->Tq + c->Tk - 1) + j + c->Tq - 1 - i;
}

typedef struct {
    const rp_case *c;
    double *table;   /* [nb, H] */
    const double *R; /* [H, Tq, Tk]: L = sum over (h, i, j) of bias * R */
} rp_ctx;

static double rp_loss(void *vctx) {
    rp_ctx *x = vctx;
    size_t n = x->c->H * x->c->Tq * x->c->Tk;
    double *out = fd_alloc(n, sizeof *out);
    ref_forward(out, x->table, x->c);
    double l = fd_dot(out, x->R, n);
    free(out);
    return l;
}

static const rp_case CASES[] = {
    /* H, Tq, Tk, past, nb, md, bidir */
    {3, 5, 5, 0, 8, 12, 1},   /* encoder self-attention */
    {3, 5, 5, 0, 8, 12, 0},   /* decoder self-attention */
    {2, 3, 20, 17, 8, 12, 0}, /* decoding with a cache: far past keys reach the cap */
    {2, 4, 24, 6, 8, 12, 1},  /* bidirectional with past: future keys too */
    {2, 1, 9, 8, 32, 128, 0}, /* one-token decode step, T5 sizes */
    {4, 6, 6, 0, 32, 128, 1}, /* T5 sizes: exact buckets only */
};

static void check_case(const rp_case *c) {
    size_t nt = c->nb * c->H, nbias = c->H * c->Tq * c->Tk, no = c->H * (c->Tq + c->Tk - 1);
    float *table = fd_alloc(nt, sizeof(float)), *R = fd_alloc(nbias, sizeof(float));
    float *bias = fd_alloc(no, sizeof(float));
    float *dtable = fd_alloc(nt, sizeof(float)), *dacc = fd_alloc(nt, sizeof(float));
    double *table_d = fd_alloc(nt, sizeof(double)), *R_d = fd_alloc(nbias, sizeof(double));
    double *ref = fd_alloc(nbias, sizeof(double)), *g = fd_alloc(nt, sizeof(double));
    double *dbias = fd_alloc(no, sizeof(double));
    fd_fill(table, table_d, nt, -1, 1);
    fd_fill(R, R_d, nbias, -1, 1);

    fd_const(bias, no, NAN);
    relpos_forward(bias, table, c->H, c->Tq, c->Tk, c->past, c->bidir, c->nb, c->md);
    ref_forward(ref, table_d, c);
    /* a gather: exact, and every (i, j) reads its offset's entry */
    for (size_t h = 0; h < c->H; h++)
        for (size_t i = 0; i < c->Tq; i++)
            for (size_t j = 0; j < c->Tk; j++) {
                double want = ref[(h * c->Tq + i) * c->Tk + j];
                float got = bias[off_index(c, h, i, j)];
                CHECK_MSG((double)got == want, "forward[%zu,%zu,%zu] = %g, ref %g (Tq=%zu Tk=%zu past=%zu)",
                          h, i, j, (double)got, want, c->Tq, c->Tk, c->past);
            }

    /* what the attention backward hands over: R summed along each diagonal */
    for (size_t h = 0; h < c->H; h++)
        for (size_t i = 0; i < c->Tq; i++)
            for (size_t j = 0; j < c->Tk; j++) dbias[off_index(c, h, i, j)] += R_d[(h * c->Tq + i) * c->Tk + j];
    rp_ctx ctx = {c, table_d, R_d};
    fd_grad(g, table_d, nt, FD_EPS, rp_loss, &ctx);
    relpos_backward(dtable, dbias, c->H, c->Tq, c->Tk, c->past, c->bidir, c->nb, c->md);
    double eb = fd_rel_err(dtable, g, nt);
    CHECK_MSG(eb < FD_TOL, "backward rel err %.3g (H=%zu Tq=%zu Tk=%zu past=%zu)", eb, c->H,
              c->Tq, c->Tk, c->past);

    /* += rule */
    fd_const(dacc, nt, FD_PREFILL);
    relpos_backward(dacc, dbias, c->H, c->Tq, c->Tk, c->past, c->bidir, c->nb, c->md);
    double ea = fd_accum_err(dacc, dtable, nt, FD_PREFILL);
    CHECK_MSG(ea < 1e-6, "accumulate err %.3g", ea);

    free(table), free(R), free(bias), free(dtable), free(dacc);
    free(table_d), free(R_d), free(ref), free(g), free(dbias);
}

TEST(test_relpos_forward_backward_fd) {
    fd_seed(90);
    for (size_t k = 0; k < sizeof CASES / sizeof CASES[0]; k++) check_case(&CASES[k]);
}

/* HF computes the bias for all past + Tq queries and keeps the last Tq rows:
 * past = p must give exactly rows p.. of the past = 0 bias. Query row i of
 * the tail is row p + i of the full run, so offset o of the tail is offset
 * o - p of the full run: the tail's entries are the full run's first
 * TQ + TK - 1 entries. */
TEST(test_relpos_past_slicing) {
    enum { H = 3, P = 5, TQ = 4, TK = P + TQ, NB = 8, MD = 12 };
    float table[NB * H], full[H * (2 * TK - 1)], tail[H * (TQ + TK - 1)];
    fd_seed(91);
    fd_fill(table, NULL, NB * H, -1, 1);
    for (int bidir = 0; bidir <= 1; bidir++) {
        relpos_forward(full, table, H, TK, TK, 0, bidir, NB, MD);
        relpos_forward(tail, table, H, TQ, TK, P, bidir, NB, MD);
        for (size_t h = 0; h < H; h++)
            CHECK(memcmp(tail + h * (TQ + TK - 1), full + h * (2 * TK - 1), (TQ + TK - 1) * sizeof(float)) == 0);
    }
}

/* Large enough for the parallel paths; 1 and 2 threads give the same bits. */
TEST(test_relpos_threads) {
    enum { H = 8, T = 640, PAST = 40, TK = PAST + T, NB = 32, MD = 128, NO = T + TK - 1 };
    float *table = fd_alloc(NB * H, sizeof(float)), *dbf = fd_alloc(H * NO, sizeof(float));
    double *dbias = fd_alloc(H * NO, sizeof(double));
    float *b1 = fd_alloc(H * NO, sizeof(float)), *b2 = fd_alloc(H * NO, sizeof(float));
    float *d1 = fd_alloc(NB * H, sizeof(float)), *d2 = fd_alloc(NB * H, sizeof(float));
    fd_seed(92);
    fd_fill(table, NULL, NB * H, -1, 1);
    fd_fill(dbf, dbias, H * NO, -1, 1);
    int saved = omp_get_max_threads();
    for (int bidir = 0; bidir <= 1; bidir++) {
        memset(d1, 0, NB * H * sizeof(float));
        memset(d2, 0, NB * H * sizeof(float));
        omp_set_num_threads(1);
        relpos_forward(b1, table, H, T, TK, PAST, bidir, NB, MD);
        relpos_backward(d1, dbias, H, T, TK, PAST, bidir, NB, MD);
        omp_set_num_threads(2);
        relpos_forward(b2, table, H, T, TK, PAST, bidir, NB, MD);
        relpos_backward(d2, dbias, H, T, TK, PAST, bidir, NB, MD);
        omp_set_num_threads(saved);
        CHECK(memcmp(b1, b2, H * NO * sizeof(float)) == 0);
        CHECK(memcmp(d1, d2, NB * H * sizeof(float)) == 0);
        /* every offset lands in some bucket: the column sums of dtable equal the
         * sum of dbias per head */
        for (size_t h = 0; h < H; h++) {
            double want = 0, got = 0;
            for (size_t k = 0; k < (size_t)NO; k++) want += dbias[h * NO + k];
            for (size_t b = 0; b < NB; b++) got += d1[b * H + h];
            CHECK_NEAR(got, want, 1e-3);
        }
    }
    free(table), free(dbf), free(dbias), free(b1), free(b2), free(d1), free(d2);
}

int main(void) {
    RUN(test_relpos_bucket_bidirectional_table);
    RUN(test_relpos_bucket_decoder_table);
    RUN(test_relpos_forward_backward_fd);
    RUN(test_relpos_past_slicing);
    RUN(test_relpos_threads);
    return test_summary();
}
