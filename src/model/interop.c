/* Helpers shared by the foreign-format readers and writers (see interop.h). */
#include "model/interop.h"

#include <string.h>

#include "model/model_internal.h"
#include "xfmr/status.h"
#include "xfmr/tokenizer.h"

static void permute(float *dst, const float *src, size_t heads, size_t D, size_t cols, int to_pairs) {
    size_t half = D / 2;
    for (size_t h = 0; h < heads; h++)
        for (size_t i = 0; i < 2; i++)
            for (size_t j = 0; j < half; j++) {
                size_t p = h * D + 2 * j + i, r = h * D + i * half + j;
                memcpy(dst + (to_pairs ? p : r) * cols, src + (to_pairs ? r : p) * cols, cols * sizeof *dst);
            }
}

void interop_rope_to_pairs(float *dst, const float *src, size_t heads, size_t D, size_t cols) {
    permute(dst, src, heads, D, cols, 1);
}

void interop_rope_from_pairs(float *dst, const float *src, size_t heads, size_t D, size_t cols) {
    permute(dst, src, heads, D, cols, 0);
}

float *interop_tensor(xf_model *m, const char *name, size_t n, const char *path) {
    size_t i = xf_model_find_tensor(m, name);
    if (i == (size_t)-1) {
        xf_fail(XF_ERR_FORMAT, "%s: the model has no tensor '%s'", path, name);
        return NULL;
    }
    const xf_param_info *p = xf_model_tensor(m, i);
    if (p->numel != n) {
        xf_fail(XF_ERR_SHAPE, "%s: tensor '%s' has %zu values, expected %zu", path, name, n, p->numel);
        return NULL;
    }
    return xf_model_params(m) + p->offset;
}

xf_status interop_check_llama(const xf_config *c, const char *what) {
    const char *why = NULL;
    if (c->arch != XF_ARCH_DECODER) why = "only decoder models (arch decoder) map to it";
    else if (c->norm_type != XF_NORM_RMSNORM) why = "it needs norm_type rmsnorm";
    else if (c->position_type != XF_POS_ROPE) why = "it needs position_type rope";
    else if (c->hidden_act != XF_ACT_SILU || !c->gated_ffn) why = "it needs a SiLU-gated FFN (hidden_act silu, gated_ffn)";
    else if (c->use_bias || c->lm_head_bias) why = "it has no biases (use_bias and lm_head_bias must be off)";
    else if (c->norm_placement != XF_NORM_PRE) why = "it needs norm_placement pre";
    else if (!c->scale_attn_logits) why = "it scales attention logits by 1/sqrt(head_dim)";
    else if (c->embed_layernorm || c->type_vocab_size || c->mlm_transform || c->rescale_tied_head)
        why = "it has no embedding norm, token types, MLM transform or rescaled head";
    if (why) return xf_fail(XF_ERR_UNSUPPORTED, "%s: this model has no equivalent there: %s", what, why);
    return XF_OK;
}

size_t interop_live_vocab(const xf_model *m, const xf_tokenizer *tok) {
    size_t V = m->cfg.vocab_size, n = tok ? xf_tokenizer_vocab_size(tok) : 0;
    if (n && n < V) return n;
    return m->V_live && m->V_live < V ? m->V_live : V;
}

int interop_vocab_rows(const char *name) {
    static const char *const rows[] = {"model.embed_tokens.weight", "shared.weight", "lm_head.weight", "lm_head.bias"};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (!strcmp(name, rows[i])) return 1;
    return 0;
}
