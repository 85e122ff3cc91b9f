/* Model-level proof for every family and for MoE:
 *  - whole-model gradients against central finite differences (in the style of
 *    test_model.c) for a BERT-style encoder, a prefix LM, T5- and BART-style
 *    encoder-decoders, MoE decoders with each router type and an MoE
 *    encoder-decoder (the MoE loss is the total CE + xf_model_aux_loss);
 *  - leakage: perturb one input token and check exactly which logits change,
 *    for every mask (causal, prefix, bidirectional, cross) and every padding;
 *  - inference: KV-cache / encoder-cache / beam decoding (with reorder) against
 *    the full forward;
 *  - the parameter table of the new families, parameter counts of every preset
 *    and checkpoint round trips.
 * A dropped MoE token's zero FFN contribution is covered by tests/kernels/test_moe.c. */
#include <stdlib.h>
#include <string.h>

#include "core/parallel.h"
#include "core/rng.h"
#include "test.h"
#include "xfmr/model.h"

/* ---- configs ------------------------------------------------------------- */

static xf_config small(void) {
    xf_config c;
    xf_config_defaults(&c);
    c.vocab_size = 23;
    c.hidden_size = 16;
    c.intermediate_size = 24;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 4;
    c.num_key_value_heads = 4;
    c.max_position_embeddings = 12;
    c.initializer_range = 0.3f;
    return c;
}

static void llama_style(xf_config *c) {
    c->num_key_value_heads = 2;
    c->hidden_act = XF_ACT_SILU;
    c->gated_ffn = 1;
    c->norm_type = XF_NORM_RMSNORM;
    c->position_type = XF_POS_ROPE;
    c->use_bias = 0;
    c->tie_word_embeddings = 0;
}

/* BERT: post-norm encoder, embedding norm, token types, MLM transform, head bias. */
static xf_config cfg_bert(void) {
    xf_config c = small();
    c.arch = XF_ARCH_ENCODER;
    c.hidden_act = XF_ACT_GELU;
    c.norm_placement = XF_NORM_POST;
    c.embed_layernorm = 1;
    c.type_vocab_size = 2;
    c.mlm_transform = 1;
    c.lm_head_bias = 1;
    return c;
}

/* Prefix LM, LLaMA style (RoPE, RMSNorm, SwiGLU, GQA, untied). */
static xf_config cfg_prefix(void) {
    xf_config c = small();
    llama_style(&c);
    c.arch = XF_ARCH_PREFIX_LM;
    return c;
}

/* T5: relative positions (few buckets so the log buckets are used at these
 * lengths), unscaled logits, RMSNorm, no biases, ReLU, tied head rescaled. */
static xf_config cfg_t5(void) {
    xf_config c = small();
    c.arch = XF_ARCH_ENCODER_DECODER;
    c.num_decoder_layers = 2;
    c.hidden_act = XF_ACT_RELU;
    c.norm_type = XF_NORM_RMSNORM;
    c.position_type = XF_POS_RELATIVE;
    c.relative_attention_num_buckets = 8;
    c.relative_attention_max_distance = 16;
    c.use_bias = 0;
    c.scale_attn_logits = 0;
    c.tie_word_embeddings = 1;
    c.rescale_tied_head = 1;
    return c;
}

/* BART: learned positions at offset 2, post-norm, biases, GELU, embedding norm, head bias. */
static xf_config cfg_bart(void) {
    xf_config c = small();
    c.arch = XF_ARCH_ENCODER_DECODER;
    c.num_decoder_layers = 2;
    c.hidden_act = XF_ACT_GELU;
    c.norm_placement = XF_NORM_POST;
    c.position_offset = 2;
    c.embed_layernorm = 1;
    c.lm_head_bias = 1;
    return c;
}

/* MoE decoders. */
static xf_config cfg_moe(xf_router_type r) {
    xf_config c = small();
    c.num_experts = 4;
    c.num_experts_per_tok = 2;
    c.moe_intermediate_size = 8;
    c.router_type = r;
    c.router_aux_loss_coef = 0.1f;
    c.router_z_loss_coef = 0.05f;
    if (r == XF_ROUTER_SOFTMAX_TOPK_RENORM) { /* Mixtral: LLaMA style, gated experts */
        llama_style(&c);
    } else if (r == XF_ROUTER_SOFTMAX_TOPK) { /* Switch-like: GPT-2 style, plain ReLU experts, capacity */
        c.hidden_act = XF_ACT_RELU;
        c.capacity_factor = 0.5f; /* ceil(2*14*0.5/4) = 4 slots per expert for 28 assignments */
    } else { /* DeepSeek-V3: sigmoid router, shared expert, first layer dense */
        llama_style(&c);
        c.num_hidden_layers = 3;
        c.num_shared_experts = 1;
        c.first_k_dense_layers = 1;
        c.routed_scaling_factor = 2.0f;
    }
    return c;
}

/* MoE encoder-decoder (T5 names): MoE in layer 0 of each stack, dense layer 1. */
static xf_config cfg_moe_encdec(void) {
    xf_config c = cfg_t5();
    c.hidden_act = XF_ACT_SILU;
    c.gated_ffn = 1;
    c.num_experts = 4;
    c.num_experts_per_tok = 2;
    c.moe_intermediate_size = 8;
    c.moe_layer_freq = 2;
    c.router_aux_loss_coef = 0.1f;
    c.router_z_loss_coef = 0.05f;
    return c;
}

/* ---- helpers -------------------------------------------------------------- */

static int is_router(const char *name) {
    const char *s = strstr(name, "block_sparse_moe.gate.weight");
    return s && s[strlen("block_sparse_moe.gate.weight")] == '\0';
}
static int is_routed_expert(const char *name) { return strstr(name, ".experts.") != NULL; }
/* A key bias adds q·b to every logit of a query: softmax ignores it, so its
 * gradient is zero (up to rounding). */
static int is_key_bias(const char *name) {
    size_t n = strlen(name);
    return (n >= 11 && !strcmp(name + n - 11, "k_proj.bias")) || (n >= 7 && !strcmp(name + n - 7, ".k.bias"));
}

/* A model of cfg with initialised weights; norm gains, biases and the balancing
 * bias moved away from their 1/0 init so their gradients matter, and routers
 * with a large init so the top-k choices have margins. */
static xf_model *new_model(const xf_config *c, uint64_t seed) {
    xf_model *m = NULL;
    CHECK_OK(xf_model_create(&m, c));
    xf_model_init_weights(m, seed);
    xf_rng r;
    xf_rng_seed(&r, seed * 7919 + 1);
    float *w = xf_model_params(m);
    for (size_t i = 0; i < xf_model_num_tensors(m); i++) {
        const xf_param_info *p = xf_model_tensor(m, i);
        if (p->init_std == 0)
            for (size_t j = 0; j < p->numel; j++) w[p->offset + j] += (float)(0.2 * xf_rng_normal(&r));
        else if (is_router(p->name)) /* logits ~ N(0, 4^2); sigmoid scores would saturate: half that */
            for (size_t j = 0; j < p->numel; j++)
                w[p->offset + j] = (float)((c->router_type == XF_ROUTER_SIGMOID_TOPK_NORM ? 0.5 : 1.0) *
                                           xf_rng_normal(&r));
    }
    return m;
}

static void fill_ids(int32_t *x, size_t n, size_t V, uint64_t seed) {
    xf_rng r;
    xf_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) x[i] = (int32_t)xf_rng_below(&r, V);
}

static double total_loss(xf_model *m, const xf_batch *b) {
    float loss = 0;
    CHECK_OK(xf_model_forward_batch(m, b, &loss, NULL));
    return (double)loss + (double)xf_model_aux_loss(m);
}

#define RCAP 2048
/* The routing of the last forward (every MoE layer's sel, -1 = dropped). */
static size_t get_routes(const xf_model *m, int32_t *buf) {
    size_t n = 0;
    for (size_t i = 0; i < xf_model_num_moe_layers(m); i++) {
        const int32_t *sel;
        const float *gate;
        size_t N, k;
        CHECK_OK(xf_model_moe_routes(m, i, &sel, &gate, &N, &k));
        CHECK(n + N * k <= RCAP);
        memcpy(buf + n, sel, N * k * sizeof *sel);
        n += N * k;
    }
    return n;
}

static int routes_same(const xf_model *m, const int32_t *r0, size_t n0) {
    static int32_t r1[RCAP];
    size_t n1 = get_routes(m, r1);
    return n1 == n0 && !memcmp(r0, r1, n0 * sizeof *r0);
}

/* Central differences in float of the total loss on entries of every tensor:
 * the entry with the largest analytic gradient, then random ones. MoE: an
 * entry whose perturbation changes the routing is skipped (another is drawn).
 * Returns 0 when checked, 1 when the routing of this seed is too close to a
 * tie to check (the caller tries another seed); a mismatch fails the test. */
static int check_grads_seed(const xf_config *c, const xf_batch *b, uint64_t seed) {
    xf_model *m = new_model(c, seed);
    int moe = c->num_experts > 0, unstable = 0;
    static int32_t r0[RCAP];
    size_t nr = 0, skipped = 0, checked = 0;
    CHECK_OK(xf_model_reserve_ex(m, b->B, b->T, b->S, 1));
    xf_model_zero_grad(m);
    size_t valid = 0;
    float ce = 0;
    CHECK_OK(xf_model_forward_batch(m, b, &ce, &valid));
    size_t want = 0;
    for (size_t i = 0; i < b->B * b->T; i++) want += b->targets[i] != -1;
    CHECK_MSG(valid == want && valid > 0 && isfinite(ce), "valid %zu of %zu targets, loss %g", valid, want, ce);
    if (moe) {
        CHECK_MSG(xf_model_num_moe_layers(m) > 0, "no MoE layers");
        CHECK_MSG(xf_model_aux_loss(m) > 0, "aux loss %g must be part of the total", xf_model_aux_loss(m));
        nr = get_routes(m, r0);
        if (c->capacity_factor > 0) {
            int dropped = 0;
            for (size_t i = 0; i < nr; i++) dropped |= r0[i] < 0;
            CHECK_MSG(dropped, "capacity_factor %g drops no token", c->capacity_factor);
        }
    }
    CHECK_OK(xf_model_backward(m, 1.0f));
    float *params = xf_model_params(m), *grads = xf_model_grads(m);
    xf_rng r;
    xf_rng_seed(&r, seed + 101);
    for (size_t i = 0; i < xf_model_num_tensors(m) && !unstable; i++) {
        const xf_param_info *p = xf_model_tensor(m, i);
        size_t amax = 0;
        for (size_t j = 1; j < p->numel; j++)
            if (fabsf(grads[p->offset + j]) > fabsf(grads[p->offset + amax])) amax = j;
        float gmax = fabsf(grads[p->offset + amax]);
        if (!p->trainable) CHECK_MSG(gmax == 0, "buffer %s has a gradient %g", p->name, gmax);
        else if (!is_routed_expert(p->name) && !is_key_bias(p->name))
            CHECK_MSG(gmax > 1e-6f, "%s gets no gradient (max |g| = %g)", p->name, gmax);
        int accepted = 0;
        for (int tries = 0; accepted < 3 && tries < 16; tries++) {
            size_t j = p->offset + (tries == 0 ? amax : (size_t)xf_rng_below(&r, p->numel));
            double g = grads[j], fd = 0, fd1 = 0;
            int same = 1, ok = 0;
            /* eps 1e-2 as test_model.c; a ReLU kink crossed by the perturbation
             * spoils the quotient, so smaller steps get a say before a mismatch */
            static const float steps[3] = {1e-2f, 3e-3f, 1e-3f};
            for (int s = 0; s < 3 && same && !ok; s++) {
                float save = params[j], eps = steps[s];
                params[j] = save + eps;
                double lp = total_loss(m, b);
                same = !moe || routes_same(m, r0, nr);
                params[j] = save - eps;
                double lm = total_loss(m, b);
                same = same && (!moe || routes_same(m, r0, nr));
                params[j] = save;
                fd = (lp - lm) / (2.0 * eps);
                if (s == 0) fd1 = fd;
                ok = fabs(fd - g) <= 2e-3 + 3e-2 * fabs(fd);
            }
            if (!same) {
                skipped++;
                continue;
            }
            CHECK_MSG(ok, "%s[%zu]: analytic %.6g vs numeric %.6g (eps 1e-2), %.6g (eps 1e-3)", p->name,
                      j - p->offset, g, fd1, fd);
            accepted++;
            checked++;
        }
        /* every perturbation of this tensor changed the routing, or many did */
        unstable = accepted == 0 || skipped > 30;
    }
    /* the routers' margins keep flips rare; many mean a near-tie in this seed */
    unstable = unstable || skipped * 4 > checked;
    xf_model_free(m);
    return unstable;
}

static void check_grads(const xf_config *c, const xf_batch *b, uint64_t seed) {
    for (int attempt = 0; attempt < 8; attempt++)
        if (!check_grads_seed(c, b, seed + 1000 * (uint64_t)attempt)) return;
    FAILF("the routing flips under most perturbations for every seed tried");
}

/* ---- 1. gradients ---------------------------------------------------------- */

TEST(test_grads_bert_encoder) {
    xf_config c = cfg_bert();
    enum { B = 2, T = 7 };
    int32_t ids[B * T], tg[B * T], types[B * T], len[B] = {7, 5};
    fill_ids(ids, B * T, c.vocab_size, 1);
    fill_ids(tg, B * T, c.vocab_size, 2);
    fill_ids(types, B * T, 2, 3);
    for (size_t i = 0; i < B * T; i++) /* MLM: targets on some valid positions only */
        if (i % T >= (size_t)len[i / T] || i % 3 == 1) tg[i] = -1;
    xf_batch b = {.B = B, .T = T, .ids = ids, .targets = tg, .lengths = len, .token_types = types};
    check_grads(&c, &b, 3);
}

TEST(test_grads_prefix_lm) {
    xf_config c = cfg_prefix();
    enum { B = 3, T = 7 };
    int32_t ids[B * T], tg[B * T], pre[B] = {3, 0, 7}, len[B] = {7, 7, 5};
    fill_ids(ids, B * T, c.vocab_size, 4);
    fill_ids(tg, B * T, c.vocab_size, 5);
    for (size_t i = 0; i < B * T; i++)
        if (i % T >= (size_t)len[i / T] || i % 5 == 3) tg[i] = -1;
    xf_batch b = {.B = B, .T = T, .ids = ids, .targets = tg, .lengths = len, .prefix_len = pre};
    check_grads(&c, &b, 5);
}

/* GLM's 2D positions (docs/objectives.md §GLM): a prefix LM with learned
 * positions and block positions, fed explicit position and block ids as the
 * glm objective makes them (part A: 0..|A|-1 and block 0; part B: the span's
 * mask position and 1..len). */
static void logits_of(xf_model *m, const xf_batch *b, float *out);
static double row_diff(const float *a, const float *b, size_t V);

static xf_config cfg_glm(void) {
    xf_config c = small();
    c.arch = XF_ARCH_PREFIX_LM;
    c.block_position_embeddings = 1;
    return c;
}

TEST(test_grads_glm_2d_positions) {
    xf_config c = cfg_glm();
    enum { B = 2, T = 8 };
    /* row 0: A = x x M x (mask at 2), B = [S] y y; row 1: A = M x x, B = [S] y [S] y y */
    int32_t pos[B * T] = {0, 1, 2, 3, 2, 2, 2, 0, 0, 1, 2, 0, 0, 2, 2, 2};
    int32_t blk[B * T] = {0, 0, 0, 0, 1, 2, 3, 0, 0, 0, 0, 1, 2, 1, 2, 3};
    int32_t ids[B * T], tg[B * T], pre[B] = {4, 3}, len[B] = {7, 8};
    fill_ids(ids, B * T, c.vocab_size, 61);
    fill_ids(tg, B * T, c.vocab_size, 62);
    for (size_t i = 0; i < B * T; i++)
        if (i % T < (size_t)pre[i / T] || i % T >= (size_t)len[i / T]) tg[i] = -1;
    xf_batch b = {.B = B, .T = T, .ids = ids, .targets = tg, .lengths = len, .prefix_len = pre,
                  .position_ids = pos, .block_position_ids = blk};
    check_grads(&c, &b, 63);
    /* the ids matter: other positions give other logits; out-of-range ids are refused */
    static float with[B * T * 32], without[B * T * 32];
    xf_model *m = new_model(&c, 64);
    CHECK_OK(xf_model_reserve_ex(m, B, T, 0, 0));
    logits_of(m, &b, with);
    xf_batch plain = b;
    plain.position_ids = plain.block_position_ids = NULL;
    logits_of(m, &plain, without);
    CHECK(row_diff(with + 5 * c.vocab_size, without + 5 * c.vocab_size, c.vocab_size) > 1e-4);
    pos[3] = (int32_t)c.max_position_embeddings;
    CHECK(xf_model_forward_batch(m, &b, NULL, NULL) == XF_ERR_ARG);
    CHECK_MSG(strstr(xf_last_error(), "position id 12 at position 3") != NULL, "%s", xf_last_error());
    pos[3] = 3;
    blk[9] = -1;
    CHECK(xf_model_forward_batch(m, &b, NULL, NULL) == XF_ERR_ARG);
    blk[9] = 0;
    xf_model_free(m);
    /* a model without the block table refuses block ids; one without learned positions refuses both */
    xf_config c2 = cfg_prefix();
    m = new_model(&c2, 65);
    CHECK_OK(xf_model_reserve_ex(m, B, T, 0, 0));
    CHECK(xf_model_forward_batch(m, &b, NULL, NULL) == XF_ERR_ARG);
    xf_model_free(m);
    c2 = cfg_glm();
    c2.position_type = XF_POS_ROPE;
    CHECK(xf_config_validate(&c2, "glm") == XF_ERR_ARG);
    CHECK_MSG(strstr(xf_last_error(), "block_position_embeddings") != NULL, "%s", xf_last_error());
}

/* enc-dec batch: 2 rows of T decoder tokens and S source tokens (<= 8), both padded */
static void check_grads_encdec(const xf_config *c, uint64_t seed, size_t T, size_t S) {
    enum { B = 2 };
    int32_t ids[B * 8], tg[B * 8], src[B * 8], len[B] = {(int32_t)T, (int32_t)T - 2},
                                               slen[B] = {(int32_t)S, (int32_t)S - 2};
    CHECK(T <= 8 && S <= 8);
    fill_ids(ids, B * T, c->vocab_size, seed + 1);
    fill_ids(tg, B * T, c->vocab_size, seed + 2);
    fill_ids(src, B * S, c->vocab_size, seed + 3);
    for (size_t i = 0; i < B * T; i++)
        if (i % T >= (size_t)len[i / T] || i % 5 == 2) tg[i] = -1;
    xf_batch b = {.B = B, .T = T, .ids = ids, .targets = tg, .lengths = len,
                  .S = S, .src = src, .src_lengths = slen};
    check_grads(c, &b, seed);
}

TEST(test_grads_t5) {
    xf_config c = cfg_t5();
    check_grads_encdec(&c, 7, 6, 7);
}

TEST(test_grads_bart) {
    xf_config c = cfg_bart();
    check_grads_encdec(&c, 9, 7, 5);
}

static void check_grads_moe_decoder(const xf_config *c, uint64_t seed) {
    enum { B = 2, T = 7 };
    int32_t ids[B * T], tg[B * T];
    fill_ids(ids, B * T, c->vocab_size, seed + 1);
    fill_ids(tg, B * T, c->vocab_size, seed + 2);
    for (size_t i = 0; i < B * T; i++)
        if (i % 5 == 3) tg[i] = -1;
    xf_batch b = {.B = B, .T = T, .ids = ids, .targets = tg};
    check_grads(c, &b, seed);
}

TEST(test_grads_moe_softmax_topk_renorm) {
    xf_config c = cfg_moe(XF_ROUTER_SOFTMAX_TOPK_RENORM);
    check_grads_moe_decoder(&c, 11);
}

TEST(test_grads_moe_softmax_topk_capacity) {
    xf_config c = cfg_moe(XF_ROUTER_SOFTMAX_TOPK);
    check_grads_moe_decoder(&c, 13);
}

TEST(test_grads_moe_sigmoid_shared) {
    xf_config c = cfg_moe(XF_ROUTER_SIGMOID_TOPK_NORM);
    check_grads_moe_decoder(&c, 15);
}

TEST(test_grads_moe_encdec) {
    xf_config c = cfg_moe_encdec();
    check_grads_encdec(&c, 17, 6, 7);
}

/* ---- 2. leakage ------------------------------------------------------------ */

#define MAXL 4096

static void logits_of(xf_model *m, const xf_batch *b, float *out) {
    CHECK_OK(xf_model_forward_batch(m, b, NULL, NULL));
    memcpy(out, xf_model_logits(m), b->B * b->T * xf_model_config(m)->vocab_size * sizeof(float));
}

static double row_diff(const float *a, const float *b, size_t V) {
    double d = 0;
    for (size_t v = 0; v < V; v++) {
        double e = fabs((double)a[v] - (double)b[v]);
        if (e > d || e != e) d = e;
    }
    return d;
}

/* exp[i]: '=' row i must be exactly unchanged, 'x' must change clearly, '?' either. */
static void check_rows(const float *base, const float *now, size_t rows, size_t V, const char *exp,
                       const char *what) {
    for (size_t i = 0; i < rows; i++) {
        double d = row_diff(base + i * V, now + i * V, V);
        if (exp[i] == '=') CHECK_MSG(d == 0, "%s: logits row %zu changed by %.3g (must not)", what, i, d);
        if (exp[i] == 'x') CHECK_MSG(d > 1e-5, "%s: logits row %zu did not change (%.3g)", what, i, d);
    }
}

/* Expected influence of changing token t of row r on the main stack's rows for
 * a single-stack model: query j < len sees key k iff k < len && (k < P || k <= j)
 * (P = 0 causal, P = T bidirectional); rows past len are not checked; other
 * batch rows never change. */
static void expect_self(char *exp, size_t B, size_t T, size_t r, size_t t, const int32_t *P,
                        const int32_t *len) {
    for (size_t b = 0; b < B; b++)
        for (size_t j = 0; j < T; j++) {
            char *e = &exp[b * T + j];
            size_t L = len ? (size_t)len[b] : T, Pb = P ? (size_t)P[b] : 0;
            if (b != r) *e = '=';
            else if (j >= L) *e = '?';
            else *e = (t < L && (t < Pb || t <= j)) ? 'x' : '=';
        }
}

/* Perturb every token (and token type) of every row of a single-stack batch in
 * turn and check the rows that change. */
static void leak_single(const xf_config *c, xf_batch b, const int32_t *P, const char *name) {
    xf_model *m = new_model(c, 21);
    size_t B = b.B, T = b.T, V = c->vocab_size;
    static float base[MAXL], now[MAXL];
    static int32_t ids[64], types[64];
    static char exp[64], what[160];
    CHECK(B * T <= 64 && B * T * V <= MAXL);
    CHECK_OK(xf_model_reserve(m, B, T, 0));
    memcpy(ids, b.ids, B * T * sizeof *ids);
    b.ids = ids;
    if (b.token_types) {
        memcpy(types, b.token_types, B * T * sizeof *types);
        b.token_types = types;
    }
    logits_of(m, &b, base);
    for (size_t r = 0; r < B; r++)
        for (size_t t = 0; t < T; t++) {
            size_t i = r * T + t;
            int32_t save = ids[i];
            ids[i] = (int32_t)(((size_t)save + 1 + t) % V);
            logits_of(m, &b, now);
            ids[i] = save;
            expect_self(exp, B, T, r, t, P, b.lengths);
            snprintf(what, sizeof what, "%s: token %zu of row %zu", name, t, r);
            check_rows(base, now, B * T, V, exp, what);
            if (b.token_types) {
                types[i] ^= 1;
                logits_of(m, &b, now);
                types[i] ^= 1;
                snprintf(what, sizeof what, "%s: token type %zu of row %zu", name, t, r);
                check_rows(base, now, B * T, V, exp, what);
            }
        }
    /* the unperturbed batch still gives the same logits (nothing stale) */
    logits_of(m, &b, now);
    for (size_t i = 0; i < B * T * V; i++) CHECK(now[i] == base[i]);
    xf_model_free(m);
}

TEST(test_leak_causal_decoder) {
    enum { B = 2, T = 8 };
    int32_t ids[B * T], len[B] = {8, 6};
    xf_config c = small();
    fill_ids(ids, B * T, c.vocab_size, 31);
    xf_batch b = {.B = B, .T = T, .ids = ids};
    leak_single(&c, b, NULL, "gpt2 causal");
    b.lengths = len;
    leak_single(&c, b, NULL, "gpt2 causal padded");
    llama_style(&c);
    leak_single(&c, b, NULL, "llama causal padded");
}

TEST(test_leak_prefix_lm) {
    enum { B = 3, T = 8 };
    /* row 0: prefix 4; row 1: prefix 0 (causal); row 2: prefix 6 past its length 4 */
    int32_t ids[B * T], pre[B] = {4, 0, 6}, len[B] = {8, 8, 4};
    xf_config c = cfg_prefix();
    fill_ids(ids, B * T, c.vocab_size, 32);
    xf_batch b = {.B = B, .T = T, .ids = ids, .prefix_len = pre};
    leak_single(&c, b, pre, "prefix_lm");
    b.lengths = len;
    leak_single(&c, b, pre, "prefix_lm padded");
    c.position_type = XF_POS_LEARNED;
    leak_single(&c, b, pre, "prefix_lm learned positions padded");
}

TEST(test_leak_encoder) {
    enum { B = 2, T = 7 };
    int32_t ids[B * T], types[B * T], len[B] = {7, 5}, all[B] = {T, T};
    xf_config c = cfg_bert();
    fill_ids(ids, B * T, c.vocab_size, 33);
    fill_ids(types, B * T, 2, 34);
    xf_batch b = {.B = B, .T = T, .ids = ids, .lengths = len, .token_types = types};
    leak_single(&c, b, all, "bert encoder padded");
    b.lengths = NULL;
    leak_single(&c, b, all, "bert encoder");
    c = cfg_t5();
    c.arch = XF_ARCH_ENCODER; /* relative bidirectional bias, pre-norm */
    c.num_decoder_layers = 0;
    b.token_types = NULL;
    b.lengths = len;
    leak_single(&c, b, all, "t5-style encoder padded");
}

/* Encoder-decoder: decoder tokens (causal + padding) and source tokens (all
 * valid decoder rows change; a padded source token changes nothing at all). */
static void leak_encdec(const xf_config *c, const char *name, size_t T, size_t S) {
    enum { B = 2 };
    int32_t ids[B * 8], src[B * 8], len[B] = {(int32_t)T, (int32_t)T - 2}, slen[B] = {(int32_t)S, (int32_t)S - 2};
    CHECK(T <= 8 && S <= 8);
    size_t V = c->vocab_size;
    static float base[MAXL], now[MAXL];
    static char exp[64], what[160];
    fill_ids(ids, B * T, V, 35);
    fill_ids(src, B * S, V, 36);
    xf_model *m = new_model(c, 22);
    CHECK(B * T * V <= MAXL);
    CHECK_OK(xf_model_reserve_ex(m, B, T, S, 0));
    xf_batch b = {.B = B, .T = T, .ids = ids, .lengths = len, .S = S, .src = src, .src_lengths = slen};
    logits_of(m, &b, base);
    for (size_t r = 0; r < B; r++) {
        for (size_t t = 0; t < T; t++) {
            int32_t save = ids[r * T + t];
            ids[r * T + t] = (int32_t)(((size_t)save + 1 + t) % V);
            logits_of(m, &b, now);
            ids[r * T + t] = save;
            expect_self(exp, B, T, r, t, NULL, len);
            snprintf(what, sizeof what, "%s: decoder token %zu of row %zu", name, t, r);
            check_rows(base, now, B * T, V, exp, what);
        }
        for (size_t s = 0; s < S; s++) {
            int32_t save = src[r * S + s];
            src[r * S + s] = (int32_t)(((size_t)save + 1 + s) % V);
            logits_of(m, &b, now);
            src[r * S + s] = save;
            for (size_t bb = 0; bb < B; bb++)
                for (size_t j = 0; j < T; j++)
                    exp[bb * T + j] = bb != r || s >= (size_t)slen[r] ? '='
                                      : j < (size_t)len[r]            ? 'x'
                                                                      : '?';
            snprintf(what, sizeof what, "%s: source token %zu of row %zu", name, s, r);
            check_rows(base, now, B * T, V, exp, what);
        }
    }
    logits_of(m, &b, now);
    for (size_t i = 0; i < B * T * V; i++) CHECK(now[i] == base[i]);
    xf_model_free(m);
}

TEST(test_leak_encdec_t5) {
    xf_config c = cfg_t5();
    leak_encdec(&c, "t5", 6, 7);
}

TEST(test_leak_encdec_bart) {
    xf_config c = cfg_bart();
    leak_encdec(&c, "bart", 7, 5);
}

/* ---- 3. inference ---------------------------------------------------------- */

/* max |a - b| <= rel * max(1, max |b|) over n values */
static void check_close(const float *a, const float *b, size_t n, double rel, const char *what) {
    double d = 0, s = 1;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]);
        if (e > d || e != e) d = e;
        if (fabs((double)b[i]) > s) s = fabs((double)b[i]);
    }
    CHECK_MSG(d <= rel * s, "%s: max difference %.3g > %.3g", what, d, rel * s);
}

TEST(test_decode_prefix_lm) {
    enum { n = 4, M = 5, T = n + M };
    xf_config c = cfg_prefix();
    size_t V = c.vocab_size;
    int32_t ids[T], pre = n, zero = 0;
    static float full[T * 64], causal[T * 64];
    static char what[96];
    fill_ids(ids, T, V, 41);
    xf_model *m = new_model(&c, 42);
    CHECK_OK(xf_model_reserve_ex(m, 1, T, 0, 0));
    xf_batch b = {.B = 1, .T = T, .ids = ids, .prefix_len = &pre};
    logits_of(m, &b, full);
    b.prefix_len = &zero;
    logits_of(m, &b, causal);
    /* the prefix matters here, so decoding it as causal would fail */
    CHECK(row_diff(full + (n - 1) * V, causal + (n - 1) * V, V) > 1e-4);
    CHECK(row_diff(full + (T - 1) * V, causal + (T - 1) * V, V) > 1e-4);
    CHECK_OK(xf_model_cache_reserve_ex(m, 1, T + 2, 0));
    const float *lg;
    CHECK_OK(xf_model_decode(m, ids, n, 0, &lg)); /* the prompt is the prefix */
    check_close(lg, full + (n - 1) * V, V, 1e-4, "prompt");
    for (size_t t = n; t < T; t++) {
        CHECK_OK(xf_model_decode(m, &ids[t], 1, t, &lg));
        snprintf(what, sizeof what, "position %zu", t);
        check_close(lg, full + t * V, V, 1e-4, what);
    }
    xf_model_free(m);
}

/* GLM fill decoding: part A fed at 0 (the prefix), then part B token by token
 * with xf_model_decode_pos, equals the full forward with the 2D ids. */
TEST(test_decode_glm_2d_positions) {
    enum { T = 9, nA = 5 };
    xf_config c = cfg_glm();
    size_t V = c.vocab_size;
    int32_t ids[T], pre = nA, pos[T] = {0, 1, 2, 3, 4, 1, 1, 1, 1}, blk[T] = {0, 0, 0, 0, 0, 1, 2, 3, 4};
    static float full[T * 64];
    static char what[96];
    fill_ids(ids, T, V, 71);
    xf_model *m = new_model(&c, 72);
    CHECK_OK(xf_model_reserve_ex(m, 1, T, 0, 0));
    xf_batch b = {.B = 1, .T = T, .ids = ids, .prefix_len = &pre, .position_ids = pos, .block_position_ids = blk};
    logits_of(m, &b, full);
    CHECK_OK(xf_model_cache_reserve_ex(m, 1, T + 2, 0));
    const float *lg;
    CHECK_OK(xf_model_decode_pos(m, ids, NULL, NULL, nA, 0, &lg)); /* part A: positions 0.., block 0 */
    check_close(lg, full + (nA - 1) * V, V, 1e-4, "part A");
    for (size_t t = nA; t < T; t++) {
        CHECK_OK(xf_model_decode_pos(m, &ids[t], &pos[t], &blk[t], 1, t, &lg));
        snprintf(what, sizeof what, "part B position %zu", t);
        check_close(lg, full + t * V, V, 1e-4, what);
    }
    xf_model_free(m);
}

/* Full forward of one enc-dec pair vs encode + decode (a prefill of `pre`
 * tokens, then one at a time), with a cache larger than used. */
static void check_encdec_decode(const xf_config *c, size_t pre) {
    enum { T = 7, S = 8 };
    size_t V = c->vocab_size;
    int32_t ids[T], src[S];
    static float full[T * 64];
    static char what[96];
    fill_ids(ids, T, V, 43);
    fill_ids(src, S, V, 44);
    xf_model *m = new_model(c, 45);
    CHECK_OK(xf_model_reserve_ex(m, 1, T, S, 0));
    xf_batch b = {.B = 1, .T = T, .ids = ids, .S = S, .src = src};
    logits_of(m, &b, full);
    CHECK_OK(xf_model_cache_reserve_ex(m, 1, T + 3, S + 2));
    CHECK_OK(xf_model_encode(m, src, S));
    const float *lg;
    CHECK_OK(xf_model_decode(m, ids, pre, 0, &lg));
    check_close(lg, full + (pre - 1) * V, V, 1e-4, "prefill");
    for (size_t t = pre; t < T; t++) {
        CHECK_OK(xf_model_decode(m, &ids[t], 1, t, &lg));
        snprintf(what, sizeof what, "decoder position %zu", t);
        check_close(lg, full + t * V, V, 1e-4, what);
    }
    /* a second source through the same cache: encode replaces the first */
    fill_ids(src, S - 2, V, 46);
    b.S = S - 2;
    CHECK_OK(xf_model_reserve_ex(m, 1, T, S, 0));
    logits_of(m, &b, full);
    CHECK_OK(xf_model_cache_reserve_ex(m, 1, T, S));
    CHECK_OK(xf_model_encode(m, src, S - 2));
    for (size_t t = 0; t < T; t++) {
        CHECK_OK(xf_model_decode(m, &ids[t], 1, t, &lg));
        snprintf(what, sizeof what, "short source, decoder position %zu", t);
        check_close(lg, full + t * V, V, 1e-4, what);
    }
    xf_model_free(m);
}

TEST(test_decode_t5) {
    xf_config c = cfg_t5();
    check_encdec_decode(&c, 1);
    check_encdec_decode(&c, 3);
}

TEST(test_decode_bart) {
    xf_config c = cfg_bart();
    check_encdec_decode(&c, 1);
    check_encdec_decode(&c, 3);
}

TEST(test_decode_moe_encdec) {
    xf_config c = cfg_moe_encdec();
    check_encdec_decode(&c, 2);
}

/* Decoder-only: a 3-token prefill then single tokens against the full forward. */
static void check_decoder_decode(const xf_config *c) {
    enum { T = 10 };
    size_t V = c->vocab_size;
    int32_t ids[T];
    static float full[T * 64];
    static char what[96];
    fill_ids(ids, T, V, 47);
    xf_model *m = new_model(c, 48);
    CHECK_OK(xf_model_reserve(m, 1, T, 0));
    xf_batch b = {.B = 1, .T = T, .ids = ids};
    logits_of(m, &b, full);
    CHECK_OK(xf_model_cache_reserve(m, T));
    const float *lg;
    CHECK_OK(xf_model_decode(m, ids, 3, 0, &lg));
    check_close(lg, full + 2 * V, V, 1e-4, "prefill");
    for (size_t t = 3; t < T; t++) {
        CHECK_OK(xf_model_decode(m, &ids[t], 1, t, &lg));
        snprintf(what, sizeof what, "position %zu", t);
        check_close(lg, full + t * V, V, 1e-4, what);
    }
    xf_model_free(m);
}

TEST(test_decode_moe_decoder) {
    xf_config c = cfg_moe(XF_ROUTER_SOFTMAX_TOPK_RENORM);
    check_decoder_decode(&c);
    c = cfg_moe(XF_ROUTER_SIGMOID_TOPK_NORM);
    check_decoder_decode(&c);
}

enum { NB = 3, BT = 6, BS = 6 };

/* Logits [n, V] of one stream decoded alone (after encoding src for enc-dec). */
static void single_stream(xf_model *m, int encdec, const int32_t *src, const int32_t *toks, size_t n,
                          float *out) {
    size_t V = xf_model_config(m)->vocab_size;
    const float *lg;
    CHECK_OK(xf_model_cache_reserve_ex(m, 1, BT, BS));
    if (encdec) CHECK_OK(xf_model_encode(m, src, BS));
    for (size_t t = 0; t < n; t++) {
        CHECK_OK(xf_model_decode(m, &toks[t], 1, t, &lg));
        memcpy(out + t * V, lg, V * sizeof(float));
    }
}

/* decode_beams of NB streams == NB single-beam runs; after cache_reorder(parent)
 * each row continues its parent's stream. */
static void check_beams(const xf_config *c) {
    int encdec = c->arch == XF_ARCH_ENCODER_DECODER;
    size_t V = c->vocab_size, parent[NB] = {2, 0, 0}, p = 3;
    int32_t st[NB][BT], ns[NB][BT], src[BS], tok[NB];
    static float ref[NB][BT * 64], ref2[NB][BT * 64];
    static char what[96];
    xf_model *m = new_model(c, 49);
    fill_ids(&st[0][0], NB * BT, V, 50);
    fill_ids(src, BS, V, 51);
    for (size_t r = 0; r < NB; r++) single_stream(m, encdec, src, st[r], BT, ref[r]);
    /* streams differ, so rows that mixed up their caches would be seen */
    CHECK(row_diff(ref[0] + (BT - 1) * V, ref[1] + (BT - 1) * V, V) > 1e-4);
    const float *lg;
    CHECK_OK(xf_model_cache_reserve_ex(m, NB, BT, BS));
    if (encdec) CHECK_OK(xf_model_encode(m, src, BS));
    for (size_t t = 0; t < BT; t++) {
        for (size_t r = 0; r < NB; r++) tok[r] = st[r][t];
        CHECK_OK(xf_model_decode_beams(m, tok, t, &lg));
        for (size_t r = 0; r < NB; r++) {
            snprintf(what, sizeof what, "beam %zu position %zu", r, t);
            check_close(lg + r * V, ref[r] + t * V, V, 1e-5, what);
        }
    }
    /* reorder after p steps: row r continues parent[r]'s first p tokens with new ones */
    fill_ids(&ns[0][0], NB * BT, V, 52);
    for (size_t r = 0; r < NB; r++) {
        memcpy(ns[r], st[parent[r]], p * sizeof(int32_t));
        single_stream(m, encdec, src, ns[r], BT, ref2[r]);
    }
    CHECK_OK(xf_model_cache_reserve_ex(m, NB, BT, BS));
    if (encdec) CHECK_OK(xf_model_encode(m, src, BS));
    for (size_t t = 0; t < p; t++) {
        for (size_t r = 0; r < NB; r++) tok[r] = st[r][t];
        CHECK_OK(xf_model_decode_beams(m, tok, t, &lg));
    }
    CHECK_OK(xf_model_cache_reorder(m, parent, p));
    for (size_t t = p; t < BT; t++) {
        for (size_t r = 0; r < NB; r++) tok[r] = ns[r][t];
        CHECK_OK(xf_model_decode_beams(m, tok, t, &lg));
        for (size_t r = 0; r < NB; r++) {
            snprintf(what, sizeof what, "reordered beam %zu (parent %zu) position %zu", r, parent[r], t);
            check_close(lg + r * V, ref2[r] + t * V, V, 1e-5, what);
        }
    }
    xf_model_free(m);
}

TEST(test_beams_t5) {
    xf_config c = cfg_t5();
    check_beams(&c);
}

TEST(test_beams_bart) {
    xf_config c = cfg_bart();
    check_beams(&c);
}

TEST(test_beams_decoder) {
    xf_config c = small();
    llama_style(&c);
    check_beams(&c);
}

/* the same on every core (the threaded paths of the cached attention) */
TEST(test_beams_t5_all_threads) {
    xf_config c = cfg_t5();
    check_beams(&c);
}

/* ---- 4. parameter table, counts, checkpoints ------------------------------- */

static const xf_param_info *find(const xf_model *m, const char *name) {
    size_t i = xf_model_find_tensor(m, name);
    return i == (size_t)-1 ? NULL : xf_model_tensor(m, i);
}

#define HAS(m, name, d0, d1)                                                                        \
    do {                                                                                            \
        const xf_param_info *p_ = find(m, name);                                                    \
        CHECK_MSG(p_ != NULL, "missing tensor %s", name);                                           \
        CHECK_MSG(p_->shape[0] == (d0) && p_->shape[1] == (d1), "%s is [%zu, %zu], want [%zu, %zu]", \
                  name, p_->shape[0], p_->shape[1], (size_t)(d0), (size_t)(d1));                    \
    } while (0)
#define HASNT(m, name) CHECK_MSG(find(m, name) == NULL, "unexpected tensor %s", name)

static xf_model *preset_model(const char *name) {
    xf_config c;
    xf_model *m = NULL;
    CHECK_OK(xf_config_preset(&c, name));
    CHECK_OK(xf_model_create(&m, &c));
    return m;
}

TEST(test_table_t5_bart_bert) {
    xf_model *m = preset_model("t5-tiny"); /* C 128, H 4, I 512, V 384, 3 + 3 layers, 32 buckets */
    HAS(m, "shared.weight", 384, 128);
    HAS(m, "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", 32, 4);
    HAS(m, "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", 32, 4);
    HASNT(m, "encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight");
    HAS(m, "encoder.block.2.layer.0.SelfAttention.q.weight", 128, 128);
    HAS(m, "encoder.block.0.layer.0.layer_norm.weight", 128, 1);
    HASNT(m, "encoder.block.0.layer.0.layer_norm.bias");
    HAS(m, "encoder.block.0.layer.1.DenseReluDense.wi.weight", 512, 128);
    HAS(m, "encoder.block.0.layer.1.DenseReluDense.wo.weight", 128, 512);
    HAS(m, "decoder.block.1.layer.1.EncDecAttention.q.weight", 128, 128);
    HAS(m, "decoder.block.2.layer.1.EncDecAttention.o.weight", 128, 128);
    HAS(m, "decoder.block.1.layer.1.layer_norm.weight", 128, 1);
    HAS(m, "decoder.block.1.layer.2.DenseReluDense.wi.weight", 512, 128);
    HAS(m, "encoder.final_layer_norm.weight", 128, 1);
    HAS(m, "decoder.final_layer_norm.weight", 128, 1);
    HASNT(m, "encoder.block.0.layer.1.EncDecAttention.q.weight");
    HASNT(m, "decoder.block.0.layer.0.SelfAttention.q.bias");
    HASNT(m, "lm_head.weight");
    HASNT(m, "encoder.embed_positions.weight");
    HASNT(m, "model.embed_tokens.weight");
    for (size_t i = 0; i < xf_model_num_tensors(m); i++)
        CHECK_MSG(xf_model_tensor(m, i)->trainable, "%s not trainable", xf_model_tensor(m, i)->name);
    xf_model_free(m);

    m = preset_model("bart-tiny");
    HAS(m, "encoder.embed_positions.weight", 258, 128);
    HAS(m, "decoder.embed_positions.weight", 258, 128);
    HAS(m, "encoder.embed_layernorm.weight", 128, 1);
    HAS(m, "decoder.embed_layernorm.bias", 128, 1);
    HAS(m, "decoder.block.0.layer.1.EncDecAttention.q.bias", 128, 1);
    HAS(m, "decoder.block.2.layer.2.DenseReluDense.wo.bias", 128, 1);
    HAS(m, "lm_head.bias", 384, 1);
    HASNT(m, "lm_head.weight");
    HASNT(m, "encoder.final_layer_norm.weight"); /* post-norm */
    HASNT(m, "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight");
    xf_model_free(m);

    m = preset_model("bert-tiny");
    HAS(m, "model.embed_tokens.weight", 384, 128);
    HASNT(m, "model.embed_positions.weight"); /* rotary positions */
    HAS(m, "model.token_type_embeddings.weight", 2, 128);
    HAS(m, "model.embed_layernorm.weight", 128, 1);
    HAS(m, "model.embed_layernorm.bias", 128, 1);
    HAS(m, "model.layers.3.self_attn.o_proj.bias", 128, 1);
    HAS(m, "mlm_head.dense.weight", 128, 128);
    HAS(m, "mlm_head.dense.bias", 128, 1);
    HAS(m, "mlm_head.norm.weight", 128, 1);
    HAS(m, "mlm_head.norm.bias", 128, 1);
    HAS(m, "lm_head.bias", 384, 1);
    HASNT(m, "model.norm.weight");
    HASNT(m, "lm_head.weight");
    xf_model_free(m);

    xf_config c = cfg_t5(); /* a single-stack model with relative positions */
    c.arch = XF_ARCH_PREFIX_LM;
    c.num_decoder_layers = 0;
    CHECK_OK(xf_model_create(&m, &c));
    HAS(m, "model.layers.0.self_attn.relative_attention_bias.weight", 8, 4);
    HASNT(m, "model.layers.1.self_attn.relative_attention_bias.weight");
    xf_model_free(m);
}

TEST(test_table_moe) {
    xf_model *m = preset_model("mixtral-tiny"); /* 8 experts of 176, gated, every layer */
    HAS(m, "model.layers.0.block_sparse_moe.gate.weight", 8, 128);
    HAS(m, "model.layers.0.block_sparse_moe.experts.3.w1.weight", 176, 128);
    HAS(m, "model.layers.0.block_sparse_moe.experts.3.w2.weight", 128, 176);
    HAS(m, "model.layers.3.block_sparse_moe.experts.7.w3.weight", 176, 128);
    HASNT(m, "model.layers.0.block_sparse_moe.experts.8.w1.weight");
    HASNT(m, "model.layers.0.block_sparse_moe.gate.e_score_correction_bias");
    HASNT(m, "model.layers.0.mlp.up_proj.weight");
    HASNT(m, "model.layers.0.mlp.shared_experts.up_proj.weight");
    CHECK(xf_model_num_moe_layers(m) == 4);
    xf_model_free(m);

    m = preset_model("deepseek-tiny"); /* 16 experts of 88, one shared, layer 0 dense */
    HAS(m, "model.layers.0.mlp.gate_proj.weight", 352, 128);
    HASNT(m, "model.layers.0.block_sparse_moe.gate.weight");
    HAS(m, "model.layers.1.block_sparse_moe.gate.weight", 16, 128);
    HAS(m, "model.layers.1.block_sparse_moe.experts.15.w2.weight", 128, 88);
    HAS(m, "model.layers.1.mlp.shared_experts.up_proj.weight", 88, 128);
    HAS(m, "model.layers.1.mlp.shared_experts.gate_proj.weight", 88, 128);
    HAS(m, "model.layers.1.mlp.shared_experts.down_proj.weight", 128, 88);
    HASNT(m, "model.layers.1.mlp.up_proj.weight");
    HAS(m, "model.layers.1.block_sparse_moe.gate.e_score_correction_bias", 16, 1);
    for (size_t i = 0; i < xf_model_num_tensors(m); i++) {
        const xf_param_info *p = xf_model_tensor(m, i);
        int buf = strstr(p->name, "e_score_correction_bias") != NULL;
        CHECK_MSG(p->trainable == !buf, "%s: trainable %d", p->name, p->trainable);
        if (buf) CHECK(p->init_std == 0 && p->init_value == 0);
    }
    CHECK(xf_model_num_moe_layers(m) == 3);
    xf_model_free(m);

    m = preset_model("switch-tiny"); /* plain ReLU experts every other layer */
    HAS(m, "model.layers.0.block_sparse_moe.experts.0.w1.weight", 512, 128);
    HASNT(m, "model.layers.0.block_sparse_moe.experts.0.w3.weight");
    HAS(m, "model.layers.1.mlp.up_proj.weight", 512, 128);
    HAS(m, "model.layers.1.mlp.up_proj.bias", 512, 1);
    HAS(m, "model.layers.2.block_sparse_moe.gate.weight", 8, 128);
    HASNT(m, "model.layers.3.block_sparse_moe.gate.weight");
    CHECK(xf_model_num_moe_layers(m) == 2);
    xf_model_free(m);

    xf_config c = cfg_moe_encdec();
    c.router_type = XF_ROUTER_SIGMOID_TOPK_NORM;
    c.num_shared_experts = 2;
    CHECK_OK(xf_model_create(&m, &c));
    HAS(m, "encoder.block.0.layer.1.block_sparse_moe.gate.weight", 4, 16);
    HAS(m, "encoder.block.0.layer.1.block_sparse_moe.experts.3.w2.weight", 16, 8);
    HAS(m, "encoder.block.0.layer.1.block_sparse_moe.gate.e_score_correction_bias", 4, 1);
    HAS(m, "encoder.block.0.layer.1.mlp.shared_experts.up_proj.weight", 16, 16);
    HAS(m, "decoder.block.0.layer.2.block_sparse_moe.experts.0.w3.weight", 8, 16);
    HAS(m, "decoder.block.1.layer.2.DenseReluDense.wi_0.weight", 24, 16);
    HAS(m, "decoder.block.1.layer.2.DenseReluDense.wi_1.weight", 24, 16);
    HASNT(m, "decoder.block.1.layer.2.block_sparse_moe.gate.weight");
    CHECK(!find(m, "decoder.block.0.layer.2.block_sparse_moe.gate.e_score_correction_bias")->trainable);
    CHECK(xf_model_num_moe_layers(m) == 2);
    CHECK(xf_config_num_params(&c) == xf_model_num_params(m));
    xf_model_free(m);
}

/* Every preset (and the test configs): the table is consistent and its count
 * is xf_config_num_params. */
static void check_table(const xf_config *c, const char *name) {
    xf_model *m = NULL;
    CHECK_OK(xf_model_create(&m, c));
    size_t n = xf_model_num_tensors(m), sum = 0, end = 0;
    for (size_t i = 0; i < n; i++) {
        const xf_param_info *p = xf_model_tensor(m, i);
        CHECK_MSG(p->numel == p->shape[0] * p->shape[1] && p->numel > 0, "%s: %s numel", name, p->name);
        CHECK_MSG(p->offset % 16 == 0 && p->offset >= end, "%s: %s offset %zu", name, p->name, p->offset);
        CHECK_MSG(p->decay == (p->ndim >= 2), "%s: %s decay", name, p->name);
        CHECK_MSG(xf_model_find_tensor(m, p->name) == i, "%s: %s is not unique", name, p->name);
        end = p->offset + p->numel;
        sum += p->numel;
    }
    CHECK(sum == xf_model_num_params(m));
    CHECK_MSG(xf_config_num_params(c) == xf_model_num_params(m), "%s: config counts %zu, table %zu", name,
              xf_config_num_params(c), xf_model_num_params(m));
    xf_model_free(m);
}

TEST(test_num_params_every_preset) {
    const char *const *names = xf_config_preset_names();
    size_t np = 0;
    for (; names[np]; np++) {
        xf_config c;
        CHECK_OK(xf_config_preset(&c, names[np]));
        check_table(&c, names[np]);
    }
    CHECK(np >= 12);
    xf_config cs[] = {cfg_bert(), cfg_prefix(), cfg_t5(), cfg_bart(), cfg_moe(XF_ROUTER_SOFTMAX_TOPK_RENORM),
                      cfg_moe(XF_ROUTER_SOFTMAX_TOPK), cfg_moe(XF_ROUTER_SIGMOID_TOPK_NORM), cfg_moe_encdec()};
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) check_table(&cs[i], "test config");
}

/* Save, load, and the loaded model gives bit-identical logits. */
static void roundtrip(const char *preset) {
    char dir[] = "/tmp/xf_test_families_XXXXXX";
    CHECK(mkdtemp(dir));
    enum { B = 2, T = 6, S = 5 };
    xf_config c;
    CHECK_OK(xf_config_preset(&c, preset));
    int encdec = c.arch == XF_ARCH_ENCODER_DECODER;
    int32_t ids[B * T], src[B * S], types[B * T], len[B] = {6, 4}, slen[B] = {5, 3};
    fill_ids(ids, B * T, c.vocab_size, 61);
    fill_ids(src, B * S, c.vocab_size, 62);
    fill_ids(types, B * T, 2, 63);
    xf_batch b = {.B = B, .T = T, .ids = ids, .lengths = len};
    if (encdec) {
        b.S = S;
        b.src = src;
        b.src_lengths = slen;
    }
    if (c.type_vocab_size) b.token_types = types;
    xf_model *m = new_model(&c, 64), *m2 = NULL;
    size_t nl = B * T * c.vocab_size;
    float *l1 = malloc(nl * sizeof(float));
    CHECK(l1);
    CHECK_OK(xf_model_reserve_ex(m, B, T, S, 0));
    CHECK_OK(xf_model_forward_batch(m, &b, NULL, NULL));
    memcpy(l1, xf_model_logits(m), nl * sizeof(float));
    CHECK_OK(xf_model_save(m, dir));
    CHECK_OK(xf_model_load(&m2, dir));
    char *j1 = xf_config_to_json(xf_model_config(m)), *j2 = xf_config_to_json(xf_model_config(m2));
    CHECK(j1 && j2);
    CHECK_MSG(!strcmp(j1, j2), "%s: the loaded config differs", preset);
    free(j1);
    free(j2);
    CHECK(xf_model_num_tensors(m2) == xf_model_num_tensors(m));
    for (size_t i = 0; i < xf_model_num_tensors(m); i++) {
        const xf_param_info *p = xf_model_tensor(m, i), *p2 = xf_model_tensor(m2, i);
        CHECK(!strcmp(p->name, p2->name) && p->offset == p2->offset && p->trainable == p2->trainable);
        CHECK_MSG(!memcmp(xf_model_params(m) + p->offset, xf_model_params(m2) + p->offset,
                          p->numel * sizeof(float)),
                  "%s: %s differs after load", preset, p->name);
    }
    CHECK_OK(xf_model_reserve_ex(m2, B, T, S, 0));
    CHECK_OK(xf_model_forward_batch(m2, &b, NULL, NULL));
    CHECK_MSG(!memcmp(l1, xf_model_logits(m2), nl * sizeof(float)), "%s: logits differ after load", preset);
    free(l1);
    xf_model_free(m);
    xf_model_free(m2);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

TEST(test_roundtrip_t5) { roundtrip("t5-tiny"); }
TEST(test_roundtrip_bart) { roundtrip("bart-tiny"); }
TEST(test_roundtrip_bert) { roundtrip("bert-tiny"); }
TEST(test_roundtrip_deepseek) { roundtrip("deepseek-tiny"); }

int main(void) {
    /* The gradient and leakage checks run hundreds of tiny forwards, where
     * OpenMP fork/join dominates (and crawls on a loaded machine): one thread.
     * Thread-count invariance is the kernel tests' business; the last tests
     * repeat some decoding on every core. */
    xf_set_threads(1);
    RUN(test_table_t5_bart_bert);
    RUN(test_table_moe);
    RUN(test_num_params_every_preset);
    RUN(test_grads_bert_encoder);
    RUN(test_grads_prefix_lm);
    RUN(test_grads_glm_2d_positions);
    RUN(test_decode_glm_2d_positions);
    RUN(test_grads_t5);
    RUN(test_grads_bart);
    RUN(test_grads_moe_softmax_topk_renorm);
    RUN(test_grads_moe_softmax_topk_capacity);
    RUN(test_grads_moe_sigmoid_shared);
    RUN(test_grads_moe_encdec);
    RUN(test_leak_causal_decoder);
    RUN(test_leak_prefix_lm);
    RUN(test_leak_encoder);
    RUN(test_leak_encdec_t5);
    RUN(test_leak_encdec_bart);
    RUN(test_decode_prefix_lm);
    RUN(test_decode_t5);
    RUN(test_decode_bart);
    RUN(test_decode_moe_encdec);
    RUN(test_decode_moe_decoder);
    RUN(test_beams_t5);
    RUN(test_beams_bart);
    RUN(test_beams_decoder);
    RUN(test_roundtrip_t5);
    RUN(test_roundtrip_bart);
    RUN(test_roundtrip_bert);
    RUN(test_roundtrip_deepseek);
    xf_set_threads(0);
    RUN(test_beams_t5_all_threads);
    return test_summary();
}
