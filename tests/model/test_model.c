/* Whole-model checks: gradients against finite differences for every config
 * family of the spine, KV-cache decoding against the full forward, checkpoint
 * round trip and the parameter table. PyTorch parity is tests/ref/parity.py. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/rng.h"
#include "test.h"
#include "xfmr/model.h"

static xf_config tiny(int llama, int post) {
    xf_config c;
    xf_config_defaults(&c);
    c.vocab_size = 23;
    c.hidden_size = 16;
    c.intermediate_size = 24;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 4;
    c.num_key_value_heads = llama ? 2 : 4;
    c.max_position_embeddings = 12;
    if (llama) {
        c.hidden_act = XF_ACT_SILU;
        c.gated_ffn = 1;
        c.norm_type = XF_NORM_RMSNORM;
        c.position_type = XF_POS_ROPE;
        c.use_bias = 0;
        c.tie_word_embeddings = 0;
    }
    c.norm_placement = post ? XF_NORM_POST : XF_NORM_PRE;
    c.initializer_range = 0.3f;
    return c;
}

static void batch(int32_t *in, int32_t *tg, size_t N, size_t V, uint64_t seed) {
    xf_rng r;
    xf_rng_seed(&r, seed);
    for (size_t i = 0; i < N; i++) {
        in[i] = (int32_t)xf_rng_below(&r, V);
        tg[i] = i % 5 == 3 ? -1 : (int32_t)xf_rng_below(&r, V);
    }
}

/* Central differences in float on a few entries of every tensor. */
static void check_grads(xf_config c) {
    xf_model *m = NULL;
    size_t B = 2, T = 7, N = B * T;
    int32_t in[14], tg[14];
    CHECK_OK(xf_model_create(&m, &c));
    xf_model_init_weights(m, 3);
    /* norm gains and biases away from their 1/0 init so their gradients matter */
    xf_rng r;
    xf_rng_seed(&r, 9);
    for (size_t i = 0; i < xf_model_num_tensors(m); i++) {
        const xf_param_info *p = xf_model_tensor(m, i);
        if (p->init_std == 0)
            for (size_t j = 0; j < p->numel; j++)
                xf_model_params(m)[p->offset + j] += (float)(0.2 * xf_rng_normal(&r));
    }
    CHECK_OK(xf_model_reserve(m, B, T, 1));
    batch(in, tg, N, c.vocab_size, 5);
    float loss;
    xf_model_zero_grad(m);
    CHECK_OK(xf_model_forward(m, in, tg, B, T, &loss, NULL));
    CHECK_OK(xf_model_backward(m, 1.0f));
    float *params = xf_model_params(m), *grads = xf_model_grads(m);
    for (size_t i = 0; i < xf_model_num_tensors(m); i++) {
        const xf_param_info *p = xf_model_tensor(m, i);
        for (int k = 0; k < 3; k++) {
            size_t j = p->offset + (size_t)xf_rng_below(&r, p->numel);
            float save = params[j], eps = 1e-2f, lp, lm;
            params[j] = save + eps;
            CHECK_OK(xf_model_forward(m, in, tg, B, T, &lp, NULL));
            params[j] = save - eps;
            CHECK_OK(xf_model_forward(m, in, tg, B, T, &lm, NULL));
            params[j] = save;
            double fd = ((double)lp - lm) / (2.0 * eps), g = grads[j];
            double tol = 2e-3 + 3e-2 * fabs(fd);
            CHECK_MSG(fabs(fd - g) <= tol, "%s[%zu]: analytic %.6g vs numeric %.6g", p->name,
                      j - p->offset, g, fd);
        }
    }
    xf_model_free(m);
}

TEST(test_grads_gpt2_pre) { check_grads(tiny(0, 0)); }
TEST(test_grads_gpt2_post) { check_grads(tiny(0, 1)); }
TEST(test_grads_llama_pre) { check_grads(tiny(1, 0)); }
TEST(test_grads_llama_post_mqa) {
    xf_config c = tiny(1, 1);
    c.num_key_value_heads = 1;
    check_grads(c);
}

/* Decoding with the KV cache, one token at a time, gives the logits of the
 * full causal forward at every position. */
static void check_decode_dtype(xf_config c, const char *dtype) {
    xf_model *m = NULL, *m2 = NULL;
    size_t T = 10;
    int32_t in[10], tg[10];
    CHECK_OK(xf_model_create(&m, &c));
    CHECK_OK(xf_model_create(&m2, &c));
    xf_model_init_weights(m, 11);
    memcpy(xf_model_params(m2), xf_model_params(m),
           (xf_model_tensor(m, xf_model_num_tensors(m) - 1)->offset +
            xf_model_tensor(m, xf_model_num_tensors(m) - 1)->numel) * sizeof(float));
    batch(in, tg, T, c.vocab_size, 2);
    CHECK_OK(xf_model_reserve(m, 1, T, 0));
    CHECK_OK(xf_model_forward(m, in, NULL, 1, T, NULL, NULL));
    const float *full = xf_model_logits(m);
    if (dtype) CHECK_OK(xf_model_set_decode_dtype(m2, dtype));
    CHECK_OK(xf_model_cache_reserve(m2, T));
    const float *lg;
    /* a 3-token prefill, then single tokens */
    CHECK_OK(xf_model_decode(m2, in, 3, 0, &lg));
    for (size_t v = 0; v < c.vocab_size; v++) CHECK_NEAR(lg[v], full[2 * c.vocab_size + v], 1e-4);
    for (size_t t = 3; t < T; t++) {
        CHECK_OK(xf_model_decode(m2, &in[t], 1, t, &lg));
        for (size_t v = 0; v < c.vocab_size; v++) CHECK_NEAR(lg[v], full[t * c.vocab_size + v], 1e-4);
    }
    xf_model_free(m);
    xf_model_free(m2);
}

/* with the BLAS path and with the f32 decode weights (qmat.c) */
static void check_decode(xf_config c) {
    check_decode_dtype(c, NULL);
    check_decode_dtype(c, "f32");
}

/* Decoding with bf16, f16 and q8_0 weights stays within the format's
 * precision of the f32 decode: max |logit - f32 logit| <= tol * max |f32 logit|
 * (f16: 11 significant bits, bf16: 8, q8_0: weights and inputs both 8 bits per
 * 32-value block, so about twice the error of bf16), and
 * differs from it (the weights really are converted). */
TEST(test_decode_dtypes) {
    static const struct {
        const char *dt;
        double tol;
    } DT[] = {{"f16", 3e-3}, {"bf16", 3e-2}, {"q8_0", 6e-2}};
    enum { T = 10 };
    xf_config c = tiny(1, 0);
    c.hidden_size = 64; /* two q8_0 blocks per row */
    c.intermediate_size = 96;
    c.initializer_range = 0.1f;
    int32_t in[T], tg[T];
    batch(in, tg, T, c.vocab_size, 3);
    xf_model *m = NULL;
    CHECK_OK(xf_model_create(&m, &c));
    xf_model_init_weights(m, 12);
    CHECK_OK(xf_model_cache_reserve(m, T));
    float ref[T][32], scale = 0;
    const float *lg;
    for (size_t t = 0; t < T; t++) {
        CHECK_OK(xf_model_decode(m, &in[t], 1, t, &lg));
        memcpy(ref[t], lg, c.vocab_size * sizeof(float));
        for (size_t v = 0; v < c.vocab_size; v++) scale = fmaxf(scale, fabsf(lg[v]));
    }
    for (size_t k = 0; k < sizeof DT / sizeof DT[0]; k++) {
        CHECK_OK(xf_model_set_decode_dtype(m, DT[k].dt));
        CHECK(xf_model_decode_bytes(m) > 0);
        double err = 0;
        for (size_t t = 0; t < T; t++) {
            CHECK_OK(xf_model_decode(m, &in[t], 1, t, &lg));
            for (size_t v = 0; v < c.vocab_size; v++) err = fmax(err, fabs(lg[v] - ref[t][v]));
        }
        printf("# %s decode: max |logit diff| %.3g of max |logit| %.3g\n", DT[k].dt, err, (double)scale);
        CHECK_MSG(err <= DT[k].tol * scale, "%s: max logit diff %.3g > %.3g", DT[k].dt, err, DT[k].tol * scale);
        CHECK_MSG(err > 0, "%s: logits identical to f32", DT[k].dt);
    }
    CHECK(xf_model_set_decode_dtype(m, "q4") != XF_OK);
    xf_model_free(m);
}

TEST(test_decode_gpt2) { check_decode(tiny(0, 0)); }
TEST(test_decode_llama) { check_decode(tiny(1, 0)); }
TEST(test_decode_post) { check_decode(tiny(0, 1)); }

TEST(test_table_names) {
    xf_config c = tiny(1, 0);
    xf_model *m = NULL;
    CHECK_OK(xf_model_create(&m, &c));
    CHECK(xf_model_find_tensor(m, "model.embed_tokens.weight") != (size_t)-1);
    CHECK(xf_model_find_tensor(m, "model.embed_positions.weight") == (size_t)-1);
    CHECK(xf_model_find_tensor(m, "model.layers.1.mlp.gate_proj.weight") != (size_t)-1);
    CHECK(xf_model_find_tensor(m, "model.layers.0.self_attn.q_proj.bias") == (size_t)-1);
    CHECK(xf_model_find_tensor(m, "model.norm.weight") != (size_t)-1);
    CHECK(xf_model_find_tensor(m, "model.norm.bias") == (size_t)-1);
    CHECK(xf_model_find_tensor(m, "lm_head.weight") != (size_t)-1);
    size_t k = xf_model_find_tensor(m, "model.layers.0.self_attn.k_proj.weight");
    const xf_param_info *p = xf_model_tensor(m, k);
    CHECK(p->shape[0] == 8 && p->shape[1] == 16 && p->decay);
    CHECK(xf_config_num_params(&c) == xf_model_num_params(m));
    xf_model_free(m);
    c = tiny(0, 1);
    CHECK_OK(xf_model_create(&m, &c));
    CHECK(xf_model_find_tensor(m, "lm_head.weight") == (size_t)-1);
    CHECK(xf_model_find_tensor(m, "model.norm.weight") == (size_t)-1);
    CHECK(xf_model_find_tensor(m, "model.layers.1.input_layernorm.bias") != (size_t)-1);
    CHECK(xf_config_num_params(&c) == xf_model_num_params(m));
    xf_model_free(m);
}

TEST(test_save_load_roundtrip) {
    char dir[] = "/tmp/xf_test_model_XXXXXX";
    CHECK(mkdtemp(dir));
    xf_config c = tiny(1, 0);
    xf_model *m = NULL, *m2 = NULL;
    CHECK_OK(xf_model_create(&m, &c));
    xf_model_init_weights(m, 4);
    CHECK_OK(xf_model_save(m, dir));
    CHECK_OK(xf_model_load(&m2, dir));
    CHECK(xf_model_num_tensors(m2) == xf_model_num_tensors(m));
    for (size_t i = 0; i < xf_model_num_tensors(m); i++) {
        const xf_param_info *p = xf_model_tensor(m, i);
        CHECK(!memcmp(xf_model_params(m) + p->offset, xf_model_params(m2) + p->offset,
                      p->numel * sizeof(float)));
    }
    /* a model of another config refuses these weights, naming file and tensor */
    xf_config other = tiny(0, 0);
    xf_model *m3 = NULL;
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    CHECK_OK(xf_model_create(&m3, &other));
    CHECK(xf_model_load_weights(m3, path) != XF_OK);
    CHECK(strstr(xf_last_error(), "model.safetensors") != NULL);
    xf_model_free(m);
    xf_model_free(m2);
    xf_model_free(m3);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

/* Flash attention keeps nothing of size T*T: the activation plan grows
 * linearly in T, b(4096) - b(2048) = 2 (b(2048) - b(1024)) up to the 64-byte
 * rounding of each buffer, for training and inference, for a RoPE decoder, a
 * T5 encoder-decoder (relative bias, cross-attention), a prefix LM and BERT. */
TEST(test_activation_memory_linear) {
    static const char *const presets[] = {"llama-tiny", "t5-tiny", "prefix-tiny", "bert-tiny"};
    for (size_t k = 0; k < sizeof presets / sizeof presets[0]; k++) {
        xf_config c;
        CHECK(xf_config_preset(&c, presets[k]) == XF_OK);
        c.max_position_embeddings = 4096;
        for (int training = 0; training <= 1; training++) {
            double b[3];
            for (int t = 0; t < 3; t++)
                b[t] = (double)xf_model_activation_bytes(&c, 2, (size_t)1024 << t, training);
            double second = (b[2] - b[1]) - 2 * (b[1] - b[0]);
            CHECK_MSG(fabs(second) < 65536, "%s (training %d): %.0f, %.0f, %.0f bytes at T = 1024, 2048, 4096",
                      presets[k], training, b[0], b[1], b[2]);
        }
    }
}

int main(void) {
    RUN(test_table_names);
    RUN(test_grads_gpt2_pre);
    RUN(test_grads_gpt2_post);
    RUN(test_grads_llama_pre);
    RUN(test_grads_llama_post_mqa);
    RUN(test_decode_gpt2);
    RUN(test_decode_llama);
    RUN(test_decode_post);
    RUN(test_decode_dtypes);
    RUN(test_save_load_roundtrip);
    RUN(test_activation_memory_linear);
    return test_summary();
}
