/* Padding rows of a tokenizer-sized vocabulary (xf_model_set_live_vocab) and
 * --set overrides (xf_config_apply_sets):
 *  - with n live ids of V, logits [n, V) are -inf in every row; the loss equals
 *    a double-precision cross-entropy over the first n logits of the unmasked
 *    model; the gradients of the padding rows of the tied embedding and of the
 *    head bias are exactly zero, and the other gradients are finite;
 *  - padded_vocab rounds up to multiples of 64;
 *  - overrides go through config.json's field checks (each bad one refused
 *    naming the field), follow MHA/dense widths, and validate. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "xfmr/model.h"

static xf_config tiny(void) {
    xf_config c;
    xf_config_defaults(&c);
    c.vocab_size = 64;
    c.hidden_size = 16;
    c.intermediate_size = 32;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 2;
    c.num_key_value_heads = 2;
    c.max_position_embeddings = 8;
    c.initializer_range = 0.5f;
    c.moe_intermediate_size = c.intermediate_size; /* as config.json parsing leaves it */
    return c;
}

enum { B = 2, T = 5, LIVE = 50 };

static void forward(xf_model *m, const int32_t *ids, const int32_t *tg, float *loss) {
    xf_batch b;
    memset(&b, 0, sizeof b);
    b.B = B;
    b.T = T;
    b.ids = ids;
    b.targets = tg;
    size_t valid;
    CHECK_OK(xf_model_forward_batch(m, &b, loss, &valid));
}

TEST(test_live_vocab_masks_padding) {
    xf_config c = tiny();
    c.use_bias = 1;
    xf_model *m;
    CHECK_OK(xf_model_create(&m, &c));
    CHECK_OK(xf_model_reserve_ex(m, B, T, 0, 1));
    xf_model_init_weights(m, 7);
    int32_t ids[B * T], tg[B * T];
    for (int i = 0; i < B * T; i++) {
        ids[i] = (i * 7 + 3) % LIVE;
        tg[i] = (i * 11 + 1) % LIVE;
    }
    float loss_all, loss_live;
    forward(m, ids, tg, &loss_all);
    size_t V = c.vocab_size;
    double *raw = malloc(B * T * V * sizeof(double));
    const float *lg = xf_model_logits(m);
    for (size_t i = 0; i < B * T * V; i++) raw[i] = lg[i];
    /* reference: mean over rows of logsumexp(first LIVE logits) - logit[target] */
    double ref = 0;
    for (int r = 0; r < B * T; r++) {
        double mx = -INFINITY, s = 0;
        for (int j = 0; j < LIVE; j++) mx = fmax(mx, raw[r * V + j]);
        for (int j = 0; j < LIVE; j++) s += exp(raw[r * V + j] - mx);
        ref += mx + log(s) - raw[r * V + tg[r]];
    }
    ref /= B * T;
    xf_model_set_live_vocab(m, LIVE);
    xf_model_zero_grad(m);
    forward(m, ids, tg, &loss_live);
    lg = xf_model_logits(m);
    for (int r = 0; r < B * T; r++)
        for (size_t j = 0; j < V; j++) {
            if (j >= LIVE) CHECK_MSG(isinf(lg[r * V + j]) && lg[r * V + j] < 0, "row %d logit %zu = %g", r, j, lg[r * V + j]);
            else CHECK_NEAR(lg[r * V + j], raw[r * V + j], 0);
        }
    CHECK_NEAR(loss_live, ref, 1e-5 * fabs(ref));
    CHECK(loss_live < loss_all); /* the padding no longer takes probability */
    CHECK_OK(xf_model_backward(m, 1.0f));
    const float *g = xf_model_grads(m);
    size_t wte = xf_model_find_tensor(m, "model.embed_tokens.weight");
    if (wte == (size_t)-1) wte = xf_model_find_tensor(m, "transformer.wte.weight");
    CHECK_MSG(wte != (size_t)-1, "no token embedding tensor");
    const xf_param_info *pi = xf_model_tensor(m, wte);
    size_t C = c.hidden_size;
    for (size_t j = LIVE; j < V; j++)
        for (size_t k = 0; k < C; k++) CHECK_MSG(g[pi->offset + j * C + k] == 0, "padding row %zu has a gradient", j);
    double norm = 0;
    for (size_t i = 0; i < xf_model_num_params(m); i++) {
        CHECK_MSG(isfinite(g[i]), "gradient %zu is not finite", i);
        norm += fabs(g[i]);
    }
    CHECK(norm > 0);
    /* switching it off restores the plain logits */
    xf_model_set_live_vocab(m, 0);
    forward(m, ids, tg, &loss_live);
    CHECK_NEAR(loss_live, loss_all, 0);
    free(raw);
    xf_model_free(m);
}

TEST(test_padded_vocab) {
    CHECK(xf_config_padded_vocab(1) == 64);
    CHECK(xf_config_padded_vocab(64) == 64);
    CHECK(xf_config_padded_vocab(65) == 128);
    CHECK(xf_config_padded_vocab(360) == 384);
    CHECK(xf_config_padded_vocab(50257) == 50304); /* GPT-2's, as llm.c pads it */
    CHECK(xf_config_is_preset("llama-tiny"));
    CHECK(!xf_config_is_preset("llama-tiny.json"));
    CHECK(!xf_config_is_preset(NULL));
}

static void expect_set_fail(const char *set, const char *needle) {
    xf_config c = tiny(), before = c;
    const char *sets[] = {set};
    CHECK_MSG(xf_config_apply_sets(&c, sets, 1, "--set") != XF_OK, "%s was accepted", set);
    CHECK_MSG(strstr(xf_last_error(), needle) != NULL, "%s: message \"%s\" lacks \"%s\"", set, xf_last_error(), needle);
    CHECK_MSG(!strchr(xf_last_error(), '\n'), "%s: message has a newline", set);
    CHECK_MSG(memcmp(&c, &before, sizeof c) == 0, "%s changed the config", set);
}

TEST(test_config_sets) {
    xf_config c = tiny();
    const char *ok[] = {"hidden_size=32", "num_attention_heads=4", "intermediate_size=40", "arch=encoder",
                        "hidden_act=\"silu\"", "norm_eps=1e-6", "use_bias=false", "vocab_size=100"};
    CHECK_OK(xf_config_apply_sets(&c, ok, 8, "--set"));
    CHECK(c.hidden_size == 32 && c.num_attention_heads == 4 && c.intermediate_size == 40);
    CHECK(c.num_key_value_heads == 4);           /* MHA stays MHA */
    CHECK(c.moe_intermediate_size == 40);        /* follows the dense width */
    CHECK(c.arch == XF_ARCH_ENCODER && c.hidden_act == XF_ACT_SILU && !c.use_bias && c.vocab_size == 100);
    CHECK_NEAR(c.norm_eps, 1e-6, 1e-12);
    expect_set_fail("hidden_size=abc", "hidden_size");
    expect_set_fail("hidden_size=1.5", "hidden_size");
    expect_set_fail("hidden_size=-4", "hidden_size");
    expect_set_fail("nonsense=1", "unknown field \"nonsense\"");
    expect_set_fail("n_embd=64", "hidden_size");
    expect_set_fail("arch=sideways", "arch");
    expect_set_fail("use_bias=maybe", "use_bias");
    expect_set_fail("hidden_size", "KEY=VALUE");
    expect_set_fail("=3", "KEY=VALUE");
    expect_set_fail("num_attention_heads=3", "num_attention_heads"); /* 16 % 3: validation */
    expect_set_fail("vocab_size=0", "vocab_size");
    /* GQA kept when it was GQA: kv 1 of 2 heads, heads to 4 */
    xf_config g = tiny();
    g.num_key_value_heads = 1;
    const char *h4[] = {"num_attention_heads=4"};
    CHECK_OK(xf_config_apply_sets(&g, h4, 1, "--set"));
    CHECK(g.num_key_value_heads == 1);
}

int main(void) {
    RUN(test_live_vocab_masks_padding);
    RUN(test_padded_vocab);
    RUN(test_config_sets);
    return test_summary();
}
