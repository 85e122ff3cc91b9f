/* The role of each parameter-table row (xf_param_info.role), which xfmr info
 * and the benchmark's FLOP count read instead of matching names: the sums per
 * role against the sizes worked out by hand from the config. */
#include <string.h>

#include "test.h"
#include "xfmr/model.h"

static void sums(const char *preset, size_t out[XF_ROLE_COUNT], xf_config *cfg) {
    CHECK_OK(xf_config_preset(cfg, preset));
    xf_model *m = NULL;
    CHECK_OK(xf_model_create(&m, cfg));
    memset(out, 0, XF_ROLE_COUNT * sizeof *out);
    for (size_t i = 0; i < xf_model_num_tensors(m); i++) {
        const xf_param_info *p = xf_model_tensor(m, i);
        CHECK(p->role >= 0 && p->role < XF_ROLE_COUNT);
        out[p->role] += p->numel;
    }
    xf_model_free(m);
}

TEST(test_roles_llama) { /* llama-tiny: GQA, SwiGLU, untied, RMSNorm */
    size_t s[XF_ROLE_COUNT];
    xf_config c;
    sums("llama-tiny", s, &c);
    size_t C = c.hidden_size, L = c.num_hidden_layers, KV = c.num_key_value_heads * (C / c.num_attention_heads);
    CHECK(s[XF_ROLE_EMBED] == c.vocab_size * C);
    CHECK(s[XF_ROLE_ATTN] == L * (2 * C * C + 2 * C * KV));
    CHECK(s[XF_ROLE_FFN] == L * 3 * C * c.intermediate_size);
    CHECK(s[XF_ROLE_NORM] == (2 * L + 1) * C);
    CHECK(s[XF_ROLE_HEAD] == c.vocab_size * C);
    CHECK(!s[XF_ROLE_EXPERT] && !s[XF_ROLE_ROUTER] && !s[XF_ROLE_CROSS_KV] && !s[XF_ROLE_RELPOS]);
}

TEST(test_roles_t5) { /* t5-tiny: relative bias per stack, cross k/v apart from the rest of attention */
    size_t s[XF_ROLE_COUNT];
    xf_config c;
    sums("t5-tiny", s, &c);
    size_t C = c.hidden_size, Le = c.num_hidden_layers, Ld = c.num_decoder_layers;
    CHECK(s[XF_ROLE_EMBED] == c.vocab_size * C);
    CHECK(s[XF_ROLE_RELPOS] == 2 * c.relative_attention_num_buckets * c.num_attention_heads);
    CHECK(s[XF_ROLE_CROSS_KV] == Ld * 2 * C * C);
    CHECK(s[XF_ROLE_ATTN] == (Le + Ld) * 4 * C * C + Ld * 2 * C * C);
    CHECK(s[XF_ROLE_FFN] == (Le + Ld) * 2 * C * c.intermediate_size);
    CHECK(s[XF_ROLE_NORM] == (2 * Le + 3 * Ld + 2) * C);
    CHECK(s[XF_ROLE_HEAD] == 0); /* tied */
}

TEST(test_roles_moe) { /* deepseek-tiny: router and its bias, experts, shared experts as FFN */
    size_t s[XF_ROLE_COUNT];
    xf_config c;
    sums("deepseek-tiny", s, &c);
    size_t C = c.hidden_size, E = c.num_experts, Lm = c.num_hidden_layers - c.first_k_dense_layers;
    CHECK(s[XF_ROLE_ROUTER] == Lm * (E * C + E));
    CHECK(s[XF_ROLE_EXPERT] == Lm * E * 3 * C * c.moe_intermediate_size);
    CHECK(s[XF_ROLE_FFN] == c.first_k_dense_layers * 3 * C * c.intermediate_size +
                                Lm * 3 * C * c.num_shared_experts * c.moe_intermediate_size);
}

TEST(test_roles_bert) { /* bert-tiny: MLM transform and head bias as head; embedding norm as norm */
    size_t s[XF_ROLE_COUNT];
    xf_config c;
    sums("bert-tiny", s, &c);
    size_t C = c.hidden_size, L = c.num_hidden_layers;
    CHECK(s[XF_ROLE_HEAD] == C * C + C + c.vocab_size);
    CHECK(s[XF_ROLE_NORM] == (4 * L + 2 + 2) * C);
    CHECK(s[XF_ROLE_EMBED] == (c.vocab_size + c.type_vocab_size) * C);
}

int main(void) {
    RUN(test_roles_llama);
    RUN(test_roles_t5);
    RUN(test_roles_moe);
    RUN(test_roles_bert);
    return test_summary();
}
