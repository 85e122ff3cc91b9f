/* Routing statistics (src/infer/routes.c): token classes, entropy, KL and
 * mutual information on hand-computed cases, and the accumulator on synthetic
 * routing. */
#include "test.h"
#include "xfmr/routes.h"
#include "xfmr/status.h"

#define CLS(s, prev) xf_token_class_of((s), strlen(s), (prev))

TEST(test_class_basic) {
    CHECK(CLS("", -1) == XF_TC_OTHER);
    CHECK(xf_token_class_of(NULL, 0, -1) == XF_TC_OTHER);
    CHECK(CLS(" ", -1) == XF_TC_SPACE);
    CHECK(CLS("\n", 'a') == XF_TC_SPACE);
    CHECK(CLS("\n\n  \t", '.') == XF_TC_SPACE);
    CHECK(CLS("\r", -1) == XF_TC_SPACE);
    CHECK(CLS(",", 'a') == XF_TC_PUNCT);
    CHECK(CLS(" (", -1) == XF_TC_PUNCT);
    CHECK(CLS("'", 'n') == XF_TC_PUNCT);
    CHECK(CLS("~", -1) == XF_TC_PUNCT);
    CHECK(CLS("!", -1) == XF_TC_PUNCT);
    CHECK(CLS("7", 'a') == XF_TC_DIGIT);
    CHECK(CLS(" 1984", -1) == XF_TC_DIGIT);
    CHECK(CLS("\x7f", -1) == XF_TC_OTHER);
    CHECK(CLS("\x01", -1) == XF_TC_OTHER);
    CHECK(CLS("\xc3\xa9", -1) == XF_TC_OTHER);   /* non-ASCII first byte */
    CHECK(CLS("<|endoftext|>", -1) == XF_TC_PUNCT); /* specials are the caller's call */
    for (int c = 0; c < XF_TC_COUNT; c++) CHECK(strcmp(xf_token_class_name((xf_token_class)c), "?") != 0);
    CHECK(strcmp(xf_token_class_name(XF_TC_COUNT), "?") == 0);
}

TEST(test_class_words) {
    /* GPT-2 style pieces carry their leading space */
    CHECK(CLS(" the", 'x') == XF_TC_LOWER_START);
    CHECK(CLS(" The", 'x') == XF_TC_CAP_START);
    CHECK(CLS("\nKING", 'x') == XF_TC_CAP_START);
    CHECK(CLS("ing", 't') == XF_TC_WORD_INNER);
    CHECK(CLS("Ing", 't') == XF_TC_WORD_INNER); /* case does not matter inside a word */
    CHECK(CLS("ing,", 't') == XF_TC_WORD_INNER); /* the first visible byte decides */
    /* byte tokens: the previous token decides */
    CHECK(CLS("T", -1) == XF_TC_CAP_START);
    CHECK(CLS("h", 'T') == XF_TC_WORD_INNER);
    CHECK(CLS("c", ' ') == XF_TC_LOWER_START);
    CHECK(CLS("c", '\n') == XF_TC_LOWER_START);
    CHECK(CLS("t", '\'') == XF_TC_LOWER_START);  /* after an apostrophe */
    CHECK(CLS("a", '-') == XF_TC_LOWER_START);
    CHECK(CLS("x", '3') == XF_TC_WORD_INNER);    /* 3x */
    CHECK(CLS("s", 0xa9) == XF_TC_WORD_INNER);   /* after a UTF-8 byte: cafés */
    CHECK(CLS("A", 'b') == XF_TC_WORD_INNER);
}

TEST(test_entropy) {
    double u4[4] = {1, 1, 1, 1}, d[3] = {0, 5, 0}, z[2] = {0, 0}, h2[2] = {3, 1};
    CHECK_NEAR(xf_entropy_bits(u4, 4), 2.0, 1e-12);
    CHECK_NEAR(xf_entropy_bits(d, 3), 0.0, 1e-12);
    CHECK_NEAR(xf_entropy_bits(z, 2), 0.0, 1e-12);
    /* H(3/4, 1/4) = 2 - (3/4) log2 3 */
    CHECK_NEAR(xf_entropy_bits(h2, 2), 2.0 - 0.75 * log2(3.0), 1e-12);
}

TEST(test_kl) {
    double p[2] = {1, 1}, q[2] = {3, 1}, z[2] = {0, 0}, one[2] = {1, 0};
    /* KL((1/2,1/2) || (3/4,1/4)) = 1/2 log2(2/3) + 1/2 log2(2) = 1 - log2(3)/2 */
    CHECK_NEAR(xf_kl_bits(p, q, 2), 1.0 - 0.5 * log2(3.0), 1e-12);
    /* KL((3/4,1/4) || (1/2,1/2)) = 3/4 log2(3/2) + 1/4 log2(1/2) = 3/4 log2 3 - 1 */
    CHECK_NEAR(xf_kl_bits(q, p, 2), 0.75 * log2(3.0) - 1.0, 1e-12);
    CHECK_NEAR(xf_kl_bits(q, q, 2), 0.0, 1e-12);
    double q2[2] = {30, 10}; /* scale does not matter */
    CHECK_NEAR(xf_kl_bits(p, q2, 2), 1.0 - 0.5 * log2(3.0), 1e-12);
    CHECK(isinf(xf_kl_bits(p, one, 2)));
    CHECK_NEAR(xf_kl_bits(one, p, 2), 1.0, 1e-12);
    CHECK(isnan(xf_kl_bits(z, p, 2)));
    CHECK(isnan(xf_kl_bits(p, z, 2)));
}

TEST(test_mutual_info) {
    double hy = -1, hyx = -1;
    /* Y = X, uniform over 4: I = H = 2 */
    double id[16] = {0};
    for (int i = 0; i < 4; i++) id[i * 4 + i] = 5;
    CHECK_NEAR(xf_mutual_info_bits(id, 4, 4, &hy, &hyx), 2.0, 1e-12);
    CHECK_NEAR(hy, 2.0, 1e-12);
    CHECK_NEAR(hyx, 0.0, 1e-12);
    /* independent: I = 0 */
    double ind[6] = {1, 2, 3, 2, 4, 6};
    CHECK_NEAR(xf_mutual_info_bits(ind, 2, 3, &hy, &hyx), 0.0, 1e-12);
    CHECK_NEAR(hy, hyx, 1e-12);
    /* joint [[1/2, 0], [1/4, 1/4]]: H(Y) = H(3/4, 1/4); H(Y|X) = 1/2 * 0 + 1/2 * 1 */
    double j[4] = {2, 0, 1, 1};
    double hy_ref = 2.0 - 0.75 * log2(3.0);
    CHECK_NEAR(xf_mutual_info_bits(j, 2, 2, &hy, &hyx), hy_ref - 0.5, 1e-12);
    CHECK_NEAR(hy, hy_ref, 1e-12);
    CHECK_NEAR(hyx, 0.5, 1e-12);
    double empty[4] = {0};
    CHECK_NEAR(xf_mutual_info_bits(empty, 2, 2, NULL, NULL), 0.0, 0);
}

/* Synthetic routing, E = 4, K = 2, V = 6:
 *   token 0 (class punct)   -> experts 0, 1
 *   token 1 (class lower)   -> experts 2, 3
 *   token 2 (class lower)   -> experts 2, 1; its second assignment dropped on odd rows
 * in 12 rows: 0 1 2 0 1 2 0 1 2 0 1 2 */
TEST(test_acc_synthetic) {
    xf_routes_acc a;
    CHECK_OK(xf_routes_acc_init(&a, 6, 4, 2, 3, 2));
    enum { N = 12 };
    int32_t ids[N], pos[N], seg[N], sel[N * 2];
    uint8_t cls[N];
    for (int t = 0; t < N; t++) {
        int v = t % 3;
        ids[t] = v;
        cls[t] = v == 0 ? XF_TC_PUNCT : XF_TC_LOWER_START;
        pos[t] = t % 3;      /* position bucket = token: as informative as the token */
        seg[t] = t < 6 ? 0 : 1; /* segments carry no information */
        int e0 = v == 0 ? 0 : 2, e1 = v == 0 ? 1 : v == 1 ? 3 : 1;
        if (v == 2 && (t & 1)) e1 = -1;
        sel[2 * t] = e0;
        sel[2 * t + 1] = e1;
    }
    CHECK_OK(xf_routes_acc_add(&a, 6, ids, cls, pos, seg, sel));
    CHECK_OK(xf_routes_acc_add(&a, 6, ids + 6, cls + 6, pos + 6, seg + 6, sel + 12));
    CHECK_NEAR(a.rows, 12, 0);
    /* token 2 sits at rows 2, 5, 8, 11: odd rows 5 and 11 drop */
    CHECK_NEAR(a.dropped, 2, 0);
    CHECK_NEAR(a.expert[0], 4, 0);
    CHECK_NEAR(a.expert[1], 6, 0);
    CHECK_NEAR(a.expert[2], 8, 0);
    CHECK_NEAR(a.expert[3], 4, 0);
    CHECK_NEAR(xf_routes_share(&a, 2), 8.0 / 24, 1e-12);
    CHECK_NEAR(xf_routes_share(&a, 9), 0, 0);
    CHECK_NEAR(a.token[2], 4, 0);
    CHECK_NEAR(a.cls[XF_TC_LOWER_START], 8, 0);

    int32_t top[3];
    double cnt[3];
    /* expert 1: token 0 four times, token 2 twice */
    size_t n = xf_routes_top_tokens(&a, 1, 3, top, cnt);
    CHECK(n == 2 && top[0] == 0 && top[1] == 2);
    CHECK_NEAR(cnt[0], 4, 0);
    CHECK_NEAR(cnt[1], 2, 0);
    /* expert 2: tokens 1 and 2 tie at 4: lower id first; n = 1 keeps the first */
    n = xf_routes_top_tokens(&a, 2, 1, top, cnt);
    CHECK(n == 1 && top[0] == 1);
    n = xf_routes_top_tokens(&a, 2, 3, top, NULL);
    CHECK(n == 2 && top[0] == 1 && top[1] == 2);
    CHECK(xf_routes_top_tokens(&a, 7, 3, top, cnt) == 0);

    /* classes: 22 kept assignments, punct 8, lower 14 */
    double all[XF_TC_COUNT], q[XF_TC_COUNT];
    xf_routes_class_dist(&a, XF_ROUTES_ALL, all);
    CHECK_NEAR(all[XF_TC_PUNCT], 8.0 / 22, 1e-12);
    CHECK_NEAR(all[XF_TC_LOWER_START], 14.0 / 22, 1e-12);
    xf_routes_class_dist(&a, 0, q);
    CHECK_NEAR(q[XF_TC_PUNCT], 1, 0);
    /* expert 0 gets only punct: KL = log2(22/8); lift 22/8 */
    CHECK_NEAR(xf_routes_class_kl(&a, 0), log2(22.0 / 8), 1e-12);
    xf_token_class which = XF_TC_OTHER;
    CHECK_NEAR(xf_routes_class_max_lift(&a, 0, 0.0, &which), 22.0 / 8, 1e-12);
    CHECK(which == XF_TC_PUNCT);
    /* expert 1: lifts punct (2/3)/(8/22) = 11/6, lower (1/3)/(14/22) = 11/21 */
    CHECK_NEAR(xf_routes_class_max_lift(&a, 1, 0.0, &which), 11.0 / 6, 1e-12);
    CHECK(which == XF_TC_PUNCT);
    /* punct holds 8/22 = 36% of the assignments: a 40% floor leaves lower-start only */
    CHECK_NEAR(xf_routes_class_max_lift(&a, 1, 0.4, &which), 11.0 / 21, 1e-12);
    CHECK(which == XF_TC_LOWER_START);
    CHECK(isnan(xf_routes_class_max_lift(&a, 1, 0.9, NULL)));
    /* expert 1: punct 4, lower 2 -> (2/3, 1/3) vs (8/22, 14/22) */
    double kl1 = 2.0 / 3 * log2((2.0 / 3) / (8.0 / 22)) + 1.0 / 3 * log2((1.0 / 3) / (14.0 / 22));
    CHECK_NEAR(xf_routes_class_kl(&a, 1), kl1, 1e-12);
    CHECK_NEAR(xf_routes_class_kl(&a, 2), log2(22.0 / 14), 1e-12);

    /* information: over 22 kept assignments, token decides the expert set */
    xf_routes_info in;
    xf_routes_info_of(&a, XF_RV_TOKEN, &in);
    double e_counts[4] = {4, 6, 8, 4};
    double hE = xf_entropy_bits(e_counts, 4);
    CHECK_NEAR(in.h_expert, hE, 1e-12);
    /* H(E|token): token 0 (8 of 22): {0:4,1:4} = 1 bit; token 1 (8): {2:4,3:4} = 1 bit;
     * token 2 (6): {2:4,1:2} = H(2/3,1/3) */
    double h2 = xf_entropy_bits((double[]){4, 2}, 2);
    double hc = 8.0 / 22 + 8.0 / 22 + 6.0 / 22 * h2;
    CHECK_NEAR(in.h_cond, hc, 1e-12);
    CHECK_NEAR(in.mi, hE - hc, 1e-12);
    CHECK(in.values == 3);
    CHECK_NEAR(in.chance, 2.0 * 3.0 / (2 * 22 * log(2.0)), 1e-12);
    xf_routes_info ip;
    xf_routes_info_of(&a, XF_RV_POSITION, &ip);
    CHECK_NEAR(ip.mi, in.mi, 1e-12);
    xf_routes_info is;
    xf_routes_info_of(&a, XF_RV_SEGMENT, &is);
    /* both segments hold the same pattern except the drop rows (5 in seg 0, 11 in seg 1): identical */
    CHECK_NEAR(is.mi, 0, 1e-12);
    CHECK(is.values == 2);
    xf_routes_info icl;
    xf_routes_info_of(&a, XF_RV_CLASS, &icl);
    CHECK(icl.mi > 0 && icl.mi < in.mi);
    CHECK(strcmp(xf_routes_var_name(XF_RV_SEGMENT), "text segment") == 0);
    xf_routes_acc_free(&a);
    xf_routes_acc_free(&a); /* twice is fine */
    xf_routes_acc_free(NULL);
}

TEST(test_acc_rejects) {
    xf_routes_acc a;
    CHECK(xf_routes_acc_init(&a, 0, 4, 2, 1, 1) == XF_ERR_ARG);
    CHECK(xf_routes_acc_init(&a, 4, 2, 3, 1, 1) == XF_ERR_ARG); /* K > E */
    CHECK(xf_routes_acc_init(&a, 4, 2, 1, 0, 1) == XF_ERR_ARG);
    CHECK_OK(xf_routes_acc_init(&a, 4, 2, 1, 2, 2));
    int32_t id = 1, bad_id = 4, p = 0, bad_p = 2, s = 1, e = 1, bad_e = 2, drop = -1, bad_drop = -2;
    uint8_t c = XF_TC_DIGIT, bad_c = XF_TC_COUNT;
    CHECK(xf_routes_acc_add(&a, 1, &bad_id, &c, &p, &s, &e) == XF_ERR_ARG);
    CHECK(xf_routes_acc_add(&a, 1, &id, &bad_c, &p, &s, &e) == XF_ERR_ARG);
    CHECK(xf_routes_acc_add(&a, 1, &id, &c, &bad_p, &s, &e) == XF_ERR_ARG);
    CHECK(xf_routes_acc_add(&a, 1, &id, &c, &p, &bad_p, &e) == XF_ERR_ARG);
    CHECK(xf_routes_acc_add(&a, 1, &id, &c, &p, &s, &bad_e) == XF_ERR_ARG);
    CHECK(xf_routes_acc_add(&a, 1, &id, &c, &p, &s, &bad_drop) == XF_ERR_ARG);
    CHECK(a.rows == 0); /* nothing was added */
    CHECK(strstr(xf_last_error(), "routes:") != NULL);
    CHECK_OK(xf_routes_acc_add(&a, 1, &id, &c, &p, &s, &drop));
    CHECK(a.rows == 1 && a.dropped == 1 && a.expert[0] == 0 && a.expert[1] == 0);
    /* nothing kept: KL and lift are NAN, information 0 */
    CHECK(isnan(xf_routes_class_kl(&a, 0)));
    CHECK(isnan(xf_routes_class_max_lift(&a, 0, 0.0, NULL)));
    xf_routes_info in;
    xf_routes_info_of(&a, XF_RV_TOKEN, &in);
    CHECK(in.mi == 0 && in.chance == 0 && in.values == 0);
    xf_routes_acc_free(&a);
}

int main(void) {
    RUN(test_class_basic);
    RUN(test_class_words);
    RUN(test_entropy);
    RUN(test_kl);
    RUN(test_mutual_info);
    RUN(test_acc_synthetic);
    RUN(test_acc_rejects);
    return test_summary();
}
