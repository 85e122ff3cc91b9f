/* xfmr info and xfmr bench. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>

#include "cli.h"
#include "xfmr/system.h"
#include "xfmr/threads.h"
#include "xfmr/model.h"
#include "xfmr/train.h"

/* The parts xfmr info counts, from each tensor's role in the parameter table. */
enum { P_EMB, P_ATTN, P_FFN, P_EXPERT, P_ROUTER, P_NORM, P_HEAD, P_COUNT };
static const int PART_OF_ROLE[XF_ROLE_COUNT] = {
    [XF_ROLE_EMBED] = P_EMB,   [XF_ROLE_RELPOS] = P_ATTN,   [XF_ROLE_ATTN] = P_ATTN,
    [XF_ROLE_CROSS_KV] = P_ATTN, [XF_ROLE_FFN] = P_FFN,     [XF_ROLE_EXPERT] = P_EXPERT,
    [XF_ROLE_ROUTER] = P_ROUTER, [XF_ROLE_NORM] = P_NORM,   [XF_ROLE_HEAD] = P_HEAD,
};

/* xfmr info --system: the CPU, its features, the GEMM path per precision and
 * its measured GFLOP/s against the peak (cores x clock x FLOPs per cycle). */
static int info_system(long threads) {
    const xf_cpu_info *ci = xf_cpu();
    xf_set_threads((int)threads);
    int nt = xf_threads(), procs = omp_get_num_procs();
    printf("cpu: %s (%s, family 0x%x model 0x%x), %d logical CPUs\n", ci->model[0] ? ci->model : "unknown",
           ci->vendor[0] ? ci->vendor : "?", ci->family, ci->model_id, procs);
    static const struct {
        const char *name;
        size_t off;
    } FEAT[] = {
#define F(x) {#x, offsetof(xf_cpu_info, x)}
        F(avx), F(avx2), F(fma), F(f16c), F(avx512f), F(avx512bw), F(avx512vl), F(avx512dq),
        F(avx512_vnni), F(avx512_bf16), F(avx512_fp16), F(amx_tile), F(amx_bf16),
#undef F
    };
    printf("features:");
    for (size_t i = 0; i < sizeof FEAT / sizeof FEAT[0]; i++)
        if (*(const int *)(const void *)((const char *)ci + FEAT[i].off)) printf(" %s", FEAT[i].name);
    printf("\nmissing: ");
    for (size_t i = 0; i < sizeof FEAT / sizeof FEAT[0]; i++)
        if (!*(const int *)(const void *)((const char *)ci + FEAT[i].off)) printf(" %s", FEAT[i].name);
    double ghz = xf_cpu_ghz_measured(), mhz = xf_cpu_mhz_nominal();
    printf("\nclock: %.2f GHz measured (dependent integer adds, 1 per cycle, best of 5); /proc/cpuinfo: %.0f MHz\n",
           ghz, mhz);
    printf("openblas (not used for training GEMMs): core %s\n", openblas_get_corename());
    int cores = nt < procs ? nt : procs;
    for (int prec = XF_GEMM_FP32; prec <= XF_GEMM_BF16; prec++) {
        int p = xf_gemm_path_selected((xf_gemm_precision)prec);
        const char *pn = prec == XF_GEMM_BF16 ? "bf16" : "fp32";
        if (p < 0) {
            printf("gemm %s: none (needs AVX512-BF16; --dtype bf16 is refused)\n", pn);
            continue;
        }
        /* the shape of bench-gpt's FFN up-projection, tokens x 4C x C; an
         * eighth of the tokens on the scalar path, so it takes a second */
        int scalar = !strncmp(xf_gemm_path_name(p), "scalar", 6);
        size_t M = scalar ? 256 : 2048, N = 1536, K = 384;
        double gf = xf_gemm_measure(p, 0, 1, M, N, K, 5, 1000.0);
        double fpc = xf_gemm_path_flops_per_cycle(p), peak = cores * ghz * fpc;
        printf("gemm %s: path %s; %zux%zux%zu (A Bt) on %d threads: %.1f GFLOP/s, %.0f%% of peak %.1f "
               "(%d cores x %.2f GHz x %.0f FLOP/cycle)\n",
               pn, xf_gemm_path_name(p), M, N, K, nt, gf, peak > 0 ? 100 * gf / peak : 0, peak, cores, ghz, fpc);
    }
    printf("gemm paths on this CPU:");
    for (int p = 0; p < xf_gemm_path_count(); p++)
        if (xf_gemm_path_supported(p)) printf(" %s", xf_gemm_path_name(p));
    printf("\n");
    return 0;
}

int xf_cmd_info(int argc, char **argv) {
    xf_args a;
    xf_args_init(&a, argc, argv);
    if (xf_args_flag(&a, "help")) {
        puts("usage: xfmr info --model PRESET|CONFIG|DIR [--batch B --seq T] [--set KEY=VALUE ...]\n"
             "       xfmr info --system [--threads N]\n"
             "  prints the config, parameter counts and the memory training and inference need;\n"
             "  --system: the CPU, its features, the GEMM path chosen and its measured GFLOP/s\n"
             "  against the peak (cores x measured GHz x FLOPs per cycle of the path)");
        return 0;
    }
    if (xf_args_flag(&a, "system")) {
        long threads = xf_args_long(&a, "threads", 0);
        if (xf_args_finish(&a)) return 2;
        return info_system(threads);
    }
    const char *spec = xf_args_str(&a, "model", NULL);
    const char *sets[64];
    size_t n_sets = xf_args_strs(&a, "set", sets, 64);
    if (n_sets > 64) return xf_cli_error(2, "info: at most 64 --set overrides");
    if (!spec) spec = xf_args_pos(&a, 0);
    long B = xf_args_long(&a, "batch", 16), T = xf_args_long(&a, "seq", 0);
    if (xf_args_finish(&a)) return 2;
    if (!spec) return xf_cli_error(2, "info: --model is required");
    xf_config cfg;
    if (xf_model_open_config(&cfg, spec) || xf_config_apply_sets(&cfg, sets, n_sets, "--set")) return xf_cli_fail();
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
        part[PART_OF_ROLE[p->role]] += p->numel;
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
             "                        [--threads N] [--dtype fp32|bf16] [--set KEY=VALUE ...]\n"
             "  trains on synthetic tokens; prints one JSON line with the median step_ms,\n"
             "  tokens_per_s and gflops (model FLOPs: 6 per weight per token it sees + attention).\n"
             "  An encoder-decoder reads --seq source tokens and --target-seq (default --seq) target\n"
             "  tokens; tokens_per_s counts both.");
        return what ? 0 : 2;
    }
    const char *spec = xf_args_str(&a, "model", "bench-gpt");
    const char *sets[64];
    size_t n_sets = xf_args_strs(&a, "set", sets, 64);
    if (n_sets > 64) return xf_cli_error(2, "bench: at most 64 --set overrides");
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
    xf_config cfg;
    if (xf_model_open_config(&cfg, spec) || xf_config_apply_sets(&cfg, sets, n_sets, "--set") ||
        xf_bench_train_config(&cfg, (size_t)B, (size_t)T, (size_t)TT, (size_t)steps, (int)threads, dtype, &r))
        return xf_cli_fail();
    printf("{\"impl\":\"xfmr\",\"model\":\"%s\",\"batch\":%ld,\"seq\":%ld,\"target_seq\":%ld,\"threads\":%ld,"
           "\"dtype\":\"%s\",\"params\":%zu,\"step_ms\":%.2f,\"tokens_per_s\":%.1f,\"gflops\":%.2f,"
           "\"cpu_ms\":%.2f}\n",
           spec, B, T, TT, threads, dtype == XF_DTYPE_BF16 ? "bf16" : "fp32", r.params, r.step_ms,
           r.tokens_per_s, r.gflops, r.cpu_ms);
    return 0;
}
