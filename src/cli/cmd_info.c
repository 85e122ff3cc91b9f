/* xfmr info and xfmr bench. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "xfmr/model.h"
#include "xfmr/train.h"

/* The part of the model a tensor belongs to, by its name (docs/config.md lists them). */
enum { P_EMB, P_ATTN, P_FFN, P_EXPERT, P_ROUTER, P_NORM, P_HEAD, P_COUNT };
static int part_of(const char *name) {
    if (strstr(name, "norm")) return P_NORM;
    if (strstr(name, "lm_head") || strstr(name, "mlm_head")) return P_HEAD;
    if (strstr(name, ".experts.")) return P_EXPERT;
    if (strstr(name, "block_sparse_moe.gate")) return P_ROUTER;
    if (strstr(name, "mlp.") || strstr(name, "DenseReluDense")) return P_FFN;
    if (strstr(name, "attn") || strstr(name, "Attention")) return P_ATTN;
    return P_EMB;
}

int xf_cmd_info(int argc, char **argv) {
    xf_args a;
    xf_args_init(&a, argc, argv);
    if (xf_args_flag(&a, "help")) {
        puts("usage: xfmr info --model PRESET|CONFIG|DIR [--batch B --seq T]\n"
             "  prints the config, parameter counts and the memory training and inference need");
        return 0;
    }
    const char *spec = xf_args_str(&a, "model", NULL);
    if (!spec) spec = xf_args_pos(&a, 0);
    long B = xf_args_long(&a, "batch", 16), T = xf_args_long(&a, "seq", 0);
    if (xf_args_finish(&a)) return 2;
    if (!spec) return xf_cli_error(2, "info: --model is required");
    xf_config cfg;
    if (xf_model_open_config(&cfg, spec)) return xf_cli_fail();
    if (T <= 0) T = (long)(cfg.max_position_embeddings < 128 ? cfg.max_position_embeddings : 128);
    if (B <= 0 || (size_t)T > cfg.max_position_embeddings)
        return xf_cli_error(2, "info: --batch must be > 0 and --seq <= %zu", cfg.max_position_embeddings);
    xf_model *m = NULL;
    if (xf_model_create(&m, &cfg)) return xf_cli_fail();
    char *json = xf_config_to_json(&cfg);
    size_t total = xf_model_num_params(m);
    size_t part[P_COUNT] = {0};
    for (size_t i = 0; i < xf_model_num_tensors(m); i++) {
        const xf_param_info *p = xf_model_tensor(m, i);
        part[part_of(p->name)] += p->numel;
    }
    double mib = 1048576.0;
    size_t act_train = xf_model_activation_bytes(&cfg, (size_t)B, (size_t)T, 1);
    size_t act_inf = xf_model_activation_bytes(&cfg, 1, cfg.max_position_embeddings, 0);
    size_t D = cfg.hidden_size / cfg.num_attention_heads;
    double kv_per_tok = 2.0 * xf_config_decoder_layers(&cfg) * cfg.num_key_value_heads * D * 4;
    printf("config: %s\n", json ? json : "(out of memory)");
    printf("parameters: %zu total\n", total);
    printf("  embeddings %zu, attention %zu, mlp %zu, norms %zu, heads %zu%s\n", part[P_EMB], part[P_ATTN],
           part[P_FFN], part[P_NORM], part[P_HEAD], cfg.tie_word_embeddings ? " (lm_head tied to embeddings)" : "");
    if (cfg.num_experts) {
        /* a token uses k of the E experts of each MoE layer */
        double active = (double)total - (double)part[P_EXPERT] * (1.0 - (double)cfg.num_experts_per_tok /
                                                                           (double)cfg.num_experts);
        printf("  experts %zu, routers %zu (%zu MoE layers, %zu experts, top-%zu): %.0f active per token\n",
               part[P_EXPERT], part[P_ROUTER], xf_model_num_moe_layers(m), cfg.num_experts,
               cfg.num_experts_per_tok, active);
    }
    printf("memory:\n");
    printf("  weights            %10.1f MiB (fp32)\n", total * 4 / mib);
    printf("  training B=%ld T=%ld  %10.1f MiB (weights, grads, AdamW moments %.1f + activations %.1f)\n",
           B, T, (total * 16.0 + act_train) / mib, total * 16 / mib, act_train / mib);
    printf("  inference          %10.1f MiB (weights + activations at context %zu)\n",
           (total * 4.0 + act_inf) / mib, cfg.max_position_embeddings);
    printf("  KV cache           %10.1f KiB per token\n", kv_per_tok / 1024);
    free(json);
    xf_model_free(m);
    return 0;
}

int xf_cmd_bench(int argc, char **argv) {
    xf_args a;
    xf_args_init(&a, argc, argv);
    const char *what = xf_args_pos(&a, 0);
    if (xf_args_flag(&a, "help") || !what) {
        puts("usage: xfmr bench train --model PRESET|CONFIG [--batch 8] [--seq 256] [--target-seq N] [--steps 10]\n"
             "                        [--threads N] [--dtype fp32|bf16]\n"
             "  trains on synthetic tokens; prints one JSON line with the median step_ms,\n"
             "  tokens_per_s and gflops (model FLOPs: 6 per weight per token it sees + attention).\n"
             "  An encoder-decoder reads --seq source tokens and --target-seq (default --seq) target\n"
             "  tokens; tokens_per_s counts both.");
        return what ? 0 : 2;
    }
    const char *spec = xf_args_str(&a, "model", "bench-gpt");
    long B = xf_args_long(&a, "batch", 8), T = xf_args_long(&a, "seq", 256);
    long TT = xf_args_long(&a, "target-seq", 0);
    long steps = xf_args_long(&a, "steps", 10), threads = xf_args_long(&a, "threads", 0);
    const char *dtype_name = xf_args_str(&a, "dtype", "fp32");
    if (xf_args_finish(&a)) return 2;
    int dtype;
    if (xf_dtype_parse(dtype_name, &dtype)) return xf_cli_fail();
    if (strcmp(what, "train")) return xf_cli_error(2, "bench: unknown benchmark '%s' (try: train)", what);
    if (B <= 0 || T <= 0 || steps <= 0 || TT < 0)
        return xf_cli_error(2, "bench: --batch, --seq, --steps must be > 0 (--target-seq >= 0)");
    xf_bench_result r;
    if (xf_bench_train_dtype(spec, (size_t)B, (size_t)T, (size_t)TT, (size_t)steps, (int)threads, dtype, &r))
        return xf_cli_fail();
    printf("{\"impl\":\"xfmr\",\"model\":\"%s\",\"batch\":%ld,\"seq\":%ld,\"target_seq\":%ld,\"threads\":%ld,"
           "\"dtype\":\"%s\",\"params\":%zu,\"step_ms\":%.2f,\"tokens_per_s\":%.1f,\"gflops\":%.2f}\n",
           spec, B, T, TT, threads, dtype == XF_DTYPE_BF16 ? "bf16" : "fp32", r.params, r.step_ms,
           r.tokens_per_s, r.gflops);
    return 0;
}
