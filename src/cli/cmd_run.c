/* xfmr generate and xfmr score: inference from a checkpoint directory, for
 * every family (decoder, prefix_lm, encoder_decoder; score also encoder). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "xfmr/system.h"
#include "xfmr/file.h"
#include "xfmr/generate.h"
#include "xfmr/memory.h"
#include "xfmr/model.h"
#include "xfmr/objective.h"
#include "xfmr/threads.h"
#include "xfmr/tokenizer.h"

#define MAX_TEXT_BYTES ((size_t)1 << 30)

typedef struct {
    const xf_tokenizer *tok;
    int32_t prev;
    size_t made;   /* tokens generated */
    int print_ids; /* print ids ("12 7 9") instead of text */
} stream;

static int print_token(int32_t id, void *ctx) {
    stream *s = ctx;
    if (s->print_ids) {
        printf(s->made ? " %d" : "%d", (int)id);
    } else {
        char buf[XF_TOKENIZER_PIECE_MAX];
        size_t len = 0;
        if (xf_tokenizer_piece(s->tok, s->prev, id, buf, sizeof buf, &len) == XF_OK)
            fwrite(buf, 1, len, stdout);
    }
    fflush(stdout);
    s->prev = id;
    s->made++;
    return 0;
}

/* Load a model and the tokenizer it carries. need_tok: text is to be encoded
 * or printed, so a model without a tokenizer is refused; otherwise *tok may
 * be NULL (ids in, ids out). */
static int open_checkpoint(const char *dir, xf_model **m, xf_tokenizer **tok, int need_tok) {
    if (!dir) return xf_cli_error(2, "--model DIR is required");
    if (xf_model_open(m, dir)) return xf_cli_fail();
    xf_status s = xf_model_open_tokenizer(tok, dir);
    if (!s && !*tok && need_tok)
        s = xf_fail(XF_ERR_ARG, "%s: the model carries no tokenizer (give token ids: --ids, and --print-ids to "
                                "generate)", dir);
    if (!s && *tok) xf_model_set_live_vocab(*m, xf_tokenizer_vocab_size(*tok)); /* padding rows never predicted */
    if (s) {
        xf_model_free(*m);
        *m = NULL;
        return xf_cli_fail();
    }
    return 0;
}

/* Encode text; "<extra_id_K>" becomes the tokenizer's sentinel K (T5 denoising
 * prompts, as Hugging Face's T5 tokenizer reads them). With add_eos, append the
 * tokenizer's EOS when it has one (an encoder's source ends with EOS, as T5 and
 * BART inputs do). */
static int encode_text(const xf_tokenizer *tok, const char *text, size_t len, int add_eos, int32_t **ids,
                       size_t *n) {
    int rc = xf_cli_encode_spliced(tok, text, len, 1, -1, ids, n, NULL, NULL);
    int32_t eos = xf_tokenizer_special(tok, XF_TOK_EOS);
    size_t cap = *n;
    if (!rc && add_eos && eos >= 0 && (rc = xf_cli_append_ids(ids, n, &cap, &eos, 1))) {
        free(*ids);
        *ids = NULL;
    }
    return rc;
}

/* Every id below the model's vocabulary, else a one-line error naming `what`. */
static int check_vocab(const char *cmd, const char *what, const int32_t *ids, size_t n, size_t V) {
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= V)
            return xf_cli_error(1, "%s: %s token id %d is outside the model's vocabulary [0, %zu)", cmd, what, ids[i],
                                V);
    return 0;
}

/* GLM blank infilling (docs/objectives.md §GLM): the prompt's [MASK]s (and
 * <mask>) and [gMASK]s are the blanks; each is filled in order, and the text
 * with the fills in place is printed. */
static int generate_glm(xf_model *m, const xf_tokenizer *tok, const char *prompt, size_t max_fill,
                        const xf_sample_opts *so, int quiet) {
    xf_glm_tokens g;
    if (xf_glm_tokens_find(tok, &g)) return xf_cli_fail();
    static const char gm[] = "[gMASK]";
    int32_t *ids = NULL, *out = NULL;
    size_t n = 0, cap = 0, nout = 0, blanks = 0, ended = 0, len = strlen(prompt);
    int rc = 1;
    for (size_t at = 0; at <= len;) { /* pieces between "[gMASK]"s, each spliced for [MASK] */
        const char *hit = strstr(prompt + at, gm);
        size_t end = hit ? (size_t)(hit - prompt) : len, np = 0;
        int32_t *piece = NULL;
        if (xf_cli_encode_spliced(tok, prompt + at, end - at, 1, g.mask, &piece, &np, NULL, NULL)) goto out;
        int bad = xf_cli_append_ids(&ids, &n, &cap, piece, np) || (hit && xf_cli_append_ids(&ids, &n, &cap, &g.gmask, 1));
        free(piece);
        if (bad) goto out;
        if (!hit) break;
        at = end + sizeof gm - 1;
    }
    if (check_vocab("generate", "prompt", ids, n, xf_model_config(m)->vocab_size)) goto out;
    xf_sampler *s = NULL;
    double t0 = xf_now_ms();
    if (xf_sampler_create(&s, xf_model_config(m)->vocab_size, so) ||
        xf_generate_glm_fill(m, ids, n, g.mask, g.gmask, g.start, g.end, max_fill, s, &out, &nout, &blanks, &ended)) {
        xf_sampler_free(s);
        rc = xf_cli_fail();
        goto out;
    }
    xf_sampler_free(s);
    char *text = NULL;
    size_t tl = 0;
    if (xf_tokenizer_decode(tok, out, nout, &text, &tl)) {
        rc = xf_cli_fail();
        goto out;
    }
    fwrite(text, 1, tl, stdout);
    putchar('\n');
    fflush(stdout);
    free(text);
    if (!quiet)
        fprintf(stderr, "[%zu prompt tokens, %zu blanks filled, %zu ended at [eop], %zu tokens out, %.1f s]\n", n,
                blanks, ended, nout, (xf_now_ms() - t0) / 1e3);
    rc = 0;
out:
    free(ids);
    free(out);
    return rc;
}

int xf_cmd_generate(int argc, char **argv) {
    xf_args a;
    xf_args_init(&a, argc, argv);
    if (xf_args_flag(&a, "help")) {
        puts("usage: xfmr generate --model DIR [--prompt TEXT | --ids \"1 2 3\"] [-n N] [--temperature T] [--top-k K]\n"
             "                     [--top-p P] [--seed S] [--beams K [--length-penalty A]]\n"
             "                     [--print-ids] [--threads N] [--dtype f32|bf16|f16|q8_0] [--quiet]\n"
             "  decoder: continues the prompt (printed first); an empty prompt starts from BOS.\n"
             "  prefix_lm: the prompt is the bidirectional prefix, the output is causal.\n"
             "  encoder_decoder: the prompt is the source (the encoder's input, with the\n"
             "    tokenizer's EOS appended); prints only the decoder's text, which starts from\n"
             "    decoder_start_token_id (or the tokenizer's pad) and ends at EOS.\n"
             "  encoder: refused (no decoder); use xfmr fill to predict [MASK] tokens.\n"
             "  <extra_id_K> in a prompt (or a score text) is the tokenizer's sentinel K, so a T5\n"
             "    span-corruption model can be asked to fill spans: --prompt \"To be <extra_id_0> to be\".\n"
             "  Sampling: greedy with --temperature 0; stops at the end-of-text token; past the\n"
             "    context length a decoder re-encodes the last half of the context and goes on\n"
             "    (a prefix_lm's kept half becomes its prefix); an encoder_decoder stops there.\n"
             "  --beams K (1..64): beam search as Hugging Face's (early_stopping=True), printing\n"
             "    the best hypothesis; scores are sum log-prob / length^A (length: generated\n"
             "    tokens, EOS included) with A = --length-penalty (default 1.0; > 0 favours longer\n"
             "    outputs). Deterministic (ties: lower token id, then lower beam);\n"
             "    the sampling flags are ignored; stops at the context length. --beams 1 is greedy.\n"
             "  --print-ids: print the generated token ids instead of text.\n"
             "  --ids: the prompt as token ids; with --print-ids no tokenizer is needed (a llama2.c\n"
             "    model, say, carries none).\n"
             "  --threads 0 (default): one thread below 16M parameters, else all cores.\n"
             "  --dtype: the format the block and head weights are read in while decoding\n"
             "    (default f32; bf16/f16 halve the bytes, q8_0 is 32 int8 per f16 scale).\n"
             "  --glm: GLM blank infilling (docs/objectives.md §GLM): each [MASK] (or <mask>) and\n"
             "    [gMASK] of the prompt is filled in turn (part B: [sop], then up to -n tokens\n"
             "    until [eop], with GLM's 2D positions) and the text is printed with the fills in\n"
             "    place. On by default for a model with block_position_embeddings whose prompt\n"
             "    holds a mask; decoder and prefix_lm models trained with --objective glm.\n"
             "  Prints the speed on stderr unless --quiet.");
        return 0;
    }
    const char *dir = xf_args_str(&a, "model", NULL);
    const char *prompt = xf_args_str(&a, "prompt", "");
    const char *prompt_ids = xf_args_str(&a, "ids", NULL);
    long n = xf_args_long(&a, "n", 200);
    xf_sample_opts so = {.temperature = (float)xf_args_double(&a, "temperature", 0.8),
                         .top_k = 0, .top_p = (float)xf_args_double(&a, "top-p", 1.0)};
    long topk = xf_args_long(&a, "top-k", 0);
    long seed = xf_args_long(&a, "seed", 1);
    long threads = xf_args_long(&a, "threads", 0);
    long beams = xf_args_long(&a, "beams", LONG_MIN); /* LONG_MIN: not given, sample */
    double lp = xf_args_double(&a, "length-penalty", 1.0);
    int print_ids = xf_args_flag(&a, "print-ids");
    int quiet = xf_args_flag(&a, "quiet");
    int glm = xf_args_flag(&a, "glm");
    const char *dtype = xf_args_str(&a, "dtype", "f32");
    if (xf_args_finish(&a)) return 2;
    if (glm && (prompt_ids || beams != LONG_MIN || print_ids))
        return xf_cli_error(2, "generate: --glm fills the masks of a --prompt TEXT (no --ids, --beams or --print-ids)");
    if (n < 0 || topk < 0 || seed < 0) return xf_cli_error(2, "generate: -n, --top-k and --seed must be >= 0");
    if (strcmp(dtype, "f32") && strcmp(dtype, "bf16") && strcmp(dtype, "f16") && strcmp(dtype, "q8_0"))
        return xf_cli_error(2, "generate: --dtype must be f32, bf16, f16 or q8_0, got '%s'", dtype);
    if (beams != LONG_MIN && (beams < 1 || beams > XF_BEAM_MAX))
        return xf_cli_error(2, "generate: --beams must be in [1, %d], got %ld", XF_BEAM_MAX, beams);
    if (beams == LONG_MIN) beams = 0;
    if (!isfinite(lp)) return xf_cli_error(2, "generate: --length-penalty must be a finite number");
    so.top_k = (size_t)topk;
    so.seed = (uint64_t)seed;
    xf_model *m = NULL;
    xf_tokenizer *tok = NULL;
    xf_sampler *s = NULL;
    int32_t *ids = NULL;
    size_t nids = 0;
    xf_beam_result br = {0};
    if (prompt_ids && *prompt) return xf_cli_error(2, "generate: give one of --prompt and --ids, not both");
    if (dir) { /* refuse before loading anything when the weights and cache would not fit */
        xf_config pc;
        if (xf_model_open_config(&pc, dir) == XF_OK) {
            xf_mem_plan plan;
            size_t P = pc.max_position_embeddings;
            xf_mem_plan_generate(&plan, &pc, beams > 0 ? (size_t)beams : 1, P, P);
            if (xf_mem_check(&plan, "generate", "use fewer --beams or a smaller model")) return xf_cli_fail();
        }
    }
    int rc = open_checkpoint(dir, &m, &tok, !(prompt_ids && print_ids));
    if (rc) return rc;
    const xf_config *cfg = xf_model_config(m);
    int encdec = cfg->arch == XF_ARCH_ENCODER_DECODER;
    rc = 1;
    if (cfg->arch == XF_ARCH_ENCODER) {
        xf_cli_error(1, "generate: %s is an encoder (arch encoder) with no decoder to generate with; use "
                        "xfmr fill --model %s --text \"... [MASK] ...\"", dir, dir);
        goto out;
    }
    /* Decoding does little work per kernel call: below ~16M parameters the
     * fork/join of a second thread costs more than it saves (measured: 4,500
     * tok/s on one thread against 3,200 on two for llama-tiny). */
    if (threads <= 0 && xf_model_num_params(m) < ((size_t)16 << 20)) threads = 1;
    xf_set_threads((int)threads);
    if (xf_model_set_decode_dtype(m, dtype)) goto fail;
    if (!glm && !prompt_ids && beams == 0 && !print_ids && cfg->block_position_embeddings)
        glm = strstr(prompt, "[MASK]") || strstr(prompt, "<mask>") || strstr(prompt, "[gMASK]");
    if (glm) {
        rc = encdec ? xf_cli_error(1, "generate: --glm needs a decoder or prefix_lm model, %s is %s", dir,
                                   xf_arch_name(cfg->arch))
                    : generate_glm(m, tok, prompt, (size_t)n, &so, quiet);
        goto out;
    }
    if (prompt_ids ? xf_cli_parse_ids(prompt_ids, &ids, &nids)
                   : encode_text(tok, prompt, strlen(prompt), encdec, &ids, &nids))
        goto out;
    int32_t bos = xf_tokenizer_special(tok, XF_TOK_BOS), eos = xf_tokenizer_special(tok, XF_TOK_EOS);
    if (nids == 0 && encdec) {
        xf_cli_error(1, "generate: an encoder-decoder needs a source: give a non-empty --prompt");
        goto out;
    }
    if (nids == 0) {
        /* an empty prompt starts from the document separator */
        if (bos < 0) {
            xf_cli_error(1, "generate: empty prompt and the tokenizer has no BOS token");
            goto out;
        }
        free(ids);
        ids = malloc(sizeof *ids);
        if (!ids) goto fail;
        ids[0] = bos;
        nids = 1;
    }
    if (check_vocab("generate", "prompt", ids, nids, cfg->vocab_size)) goto out;
    int32_t start = xf_decoder_start_id(cfg, xf_tokenizer_special(tok, XF_TOK_PAD));
    /* the decoder's text goes on from the prompt (or from nothing for a seq2seq) */
    stream st = {.tok = tok, .prev = encdec ? -1 : ids[nids - 1], .print_ids = print_ids};
    if (!encdec && !print_ids && !prompt_ids) fwrite(prompt, 1, strlen(prompt), stdout);
    double t0 = xf_now_ms();
    if (beams > 0) {
        xf_beam_opts bo;
        xf_beam_opts_init(&bo);
        bo.beams = (size_t)beams;
        bo.max_new = (size_t)n;
        bo.length_penalty = (float)lp;
        bo.eos_id = eos;
        bo.start_id = start;
        if (xf_beam_search(m, ids, nids, &bo, &br)) goto fail;
        if (br.n)
            for (size_t i = 0; i < br.hyps[0].n; i++) print_token(br.hyps[0].ids[i], &st);
    } else {
        if (xf_sampler_create(&s, cfg->vocab_size, &so)) goto fail;
        if (encdec ? xf_generate_seq2seq(m, ids, nids, start, (size_t)n, s, eos, print_token, &st)
                   : xf_generate(m, ids, nids, (size_t)n, s, eos, print_token, &st))
            goto fail;
    }
    double sec = (xf_now_ms() - t0) / 1e3;
    putchar('\n');
    fflush(stdout);
    if (!quiet) {
        if (beams > 0 && br.n)
            fprintf(stderr, "[%zu %s + %zu generated tokens, %ld beams, score %.4f (%s), %zu steps, %.1f s]\n",
                    nids, encdec ? "source" : "prompt", st.made, beams, br.hyps[0].score,
                    br.hyps[0].finished ? "finished" : "unfinished", br.steps, sec);
        else
            fprintf(stderr, "[%zu %s + %zu generated tokens, %.1f tok/s, %s weights %.1f MB/token]\n", nids,
                    encdec ? "source" : "prompt", st.made, sec > 0 ? (double)st.made / sec : 0.0, dtype,
                    (double)xf_model_decode_bytes(m) / 1e6);
    }
    rc = 0;
    goto out;
fail:
    rc = xf_cli_fail();
out:
    xf_beam_result_free(&br);
    free(ids);
    xf_sampler_free(s);
    xf_tokenizer_free(tok);
    xf_model_free(m);
    return rc;
}

/* ---- score ----------------------------------------------------------------- */

/* Write T rows of V logits to df (if any). */
static int dump_rows(FILE *df, const char *path, const float *logits, size_t T, size_t V) {
    if (df && fwrite(logits, sizeof(float) * V, T, df) != T) return xf_cli_error(1, "%s: write failed", path);
    return 0;
}

/* Flush the dump before the result is printed, so a full disk is an error. */
static int finish_dump(FILE *df, const char *path) {
    if (df && (fflush(df) || ferror(df))) return xf_cli_error(1, "%s: write failed", path);
    return 0;
}

static void print_loss(const char *extra, size_t n, double sum, size_t scored) {
    double loss = scored ? sum / (double)scored : 0.0;
    printf("{\"tokens\":%zu%s,\"loss\":%.6f,\"ppl\":%.6f}\n", n, extra, loss, exp(loss));
}

/* decoder and prefix_lm: next-token loss over ids, in windows of the context;
 * prefix >= 0: one window whose first `prefix` tokens are the prefix
 * (bidirectional for a prefix_lm, causal for a decoder), the loss over the rest
 * (targets before prefix-1 ignored). */
static int score_lm(xf_model *m, const int32_t *ids, size_t n, long prefix, FILE *df, const char *dump) {
    const xf_config *cfg = xf_model_config(m);
    size_t P = cfg->max_position_embeddings, V = cfg->vocab_size, W = n < P ? n : P;
    if (n < 2) return xf_cli_error(1, "score: need at least 2 tokens, got %zu", n);
    if (prefix >= 0 && (size_t)prefix >= n)
        return xf_cli_error(1, "score: --prefix-len %ld must be below the number of tokens (%zu)", prefix, n);
    if (prefix >= 0 && n > P)
        return xf_cli_error(1, "score: with --prefix-len the %zu tokens must fit the model's %zu positions", n, P);
    if (xf_model_reserve(m, 1, W, 0)) return xf_cli_fail();
    int32_t *tg = malloc(W * sizeof *tg);
    if (!tg) return xf_cli_error(1, "out of memory");
    int32_t p32 = prefix > 0 ? (int32_t)prefix : 0;
    double sum = 0;
    size_t scored = 0;
    int rc = 0;
    for (size_t start = 0; start < n && !rc; start += W) {
        size_t T = n - start < W ? n - start : W;
        for (size_t t = 0; t < T; t++) {
            size_t i = start + t; /* position i predicts token i + 1; the prefix's own tokens are not scored */
            tg[t] = i + 1 < n && (long)i + 1 >= p32 ? ids[i + 1] : XF_IGNORE_INDEX;
        }
        xf_batch b = {.B = 1, .T = T, .ids = ids + start, .targets = tg, .prefix_len = prefix >= 0 ? &p32 : NULL};
        float loss = 0;
        size_t valid = 0;
        if (xf_model_forward_batch(m, &b, &loss, &valid)) {
            rc = xf_cli_fail();
            break;
        }
        sum += (double)loss * (double)valid;
        scored += valid;
        rc = dump_rows(df, dump, xf_model_logits(m), T, V);
    }
    free(tg);
    if (rc || (rc = finish_dump(df, dump))) return rc;
    char extra[64] = "";
    if (prefix >= 0) snprintf(extra, sizeof extra, ",\"prefix\":%ld,\"scored\":%zu", prefix, scored);
    print_loss(extra, n, sum, scored);
    return 0;
}

/* encoder_decoder: the decoder reads [start, tgt[0..nt-2]] and is scored on tgt. */
static int score_seq2seq(xf_model *m, const int32_t *src, size_t ns, const int32_t *tgt, size_t nt, int32_t start,
                         FILE *df, const char *dump) {
    const xf_config *cfg = xf_model_config(m);
    size_t P = cfg->max_position_embeddings, V = cfg->vocab_size;
    if (ns == 0) return xf_cli_error(1, "score: the source is empty");
    if (nt == 0) return xf_cli_error(1, "score: the target is empty");
    if (ns > P || nt > P)
        return xf_cli_error(1, "score: the source (%zu tokens) and the target (%zu) must fit the model's %zu positions",
                            ns, nt, P);
    if (xf_model_reserve_ex(m, 1, nt, ns, 0)) return xf_cli_fail();
    int32_t *in = malloc(nt * sizeof *in);
    if (!in) return xf_cli_error(1, "out of memory");
    in[0] = start;
    memcpy(in + 1, tgt, (nt - 1) * sizeof *in); /* shift right behind the start token */
    xf_batch b = {.B = 1, .T = nt, .ids = in, .targets = tgt, .S = ns, .src = src};
    float loss = 0;
    size_t valid = 0;
    int rc = xf_model_forward_batch(m, &b, &loss, &valid) ? xf_cli_fail() : 0;
    free(in);
    if (!rc) rc = dump_rows(df, dump, xf_model_logits(m), nt, V);
    if (rc || (rc = finish_dump(df, dump))) return rc;
    char extra[64];
    snprintf(extra, sizeof extra, ",\"source_tokens\":%zu", ns);
    print_loss(extra, nt, (double)loss * (double)valid, valid);
    return 0;
}

/* encoder: the masked-LM head's logits at every position (windows of the context). */
static int score_mlm(xf_model *m, const int32_t *ids, size_t n, FILE *df, const char *dump) {
    const xf_config *cfg = xf_model_config(m);
    size_t P = cfg->max_position_embeddings, V = cfg->vocab_size, W = n < P ? n : P;
    if (n == 0) return xf_cli_error(1, "score: need at least 1 token");
    if (xf_model_reserve(m, 1, W, 0)) return xf_cli_fail();
    for (size_t start = 0; start < n; start += W) {
        size_t T = n - start < W ? n - start : W;
        xf_batch b = {.B = 1, .T = T, .ids = ids + start};
        if (xf_model_forward_batch(m, &b, NULL, NULL)) return xf_cli_fail();
        if (dump_rows(df, dump, xf_model_logits(m), T, V)) return 1;
    }
    if (finish_dump(df, dump)) return 1;
    printf("{\"tokens\":%zu,\"positions\":%zu}\n", n, n);
    return 0;
}

int xf_cmd_score(int argc, char **argv) {
    xf_args a;
    xf_args_init(&a, argc, argv);
    if (xf_args_flag(&a, "help")) {
        puts("usage: xfmr score --model DIR (--text S | --file F | --ids \"1 2 3\") [--dump-logits OUT]\n"
             "                  [--prefix-len P] [--source S | --source-ids \"1 2 3\"] [--threads N]\n"
             "  --dump-logits writes float32 [rows, vocab], little-endian, row-major.\n"
             "  decoder, prefix_lm: prints {\"tokens\":N,\"loss\":L,\"ppl\":P}; row t predicts token t+1;\n"
             "    longer inputs are scored in windows of the context length.\n"
             "  prefix_lm --prefix-len P: the first P tokens are the bidirectional prefix (0 <= P <\n"
             "    tokens, one window); the loss covers the rest (rows t >= P-1); adds \"prefix\" and\n"
             "    \"scored\" (the number of scored tokens). A decoder takes it too: attention stays\n"
             "    causal and only the loss starts after the prefix (the trainer's prefix objective).\n"
             "  encoder_decoder: --source TEXT (EOS appended when the tokenizer has one) or\n"
             "    --source-ids (as given) is the encoder's input; --text/--file/--ids is the\n"
             "    decoder's target (as given, no EOS added). The decoder reads the target shifted\n"
             "    right behind decoder_start_token_id (or the tokenizer's pad); one logits row per\n"
             "    target token; the loss is the target's cross-entropy; adds \"source_tokens\".\n"
             "  encoder: the masked-LM head's logits at every position; prints\n"
             "    {\"tokens\":N,\"positions\":N} (no loss; see xfmr fill).");
        return 0;
    }
    const char *dir = xf_args_str(&a, "model", NULL);
    const char *text = xf_args_str(&a, "text", NULL);
    const char *file = xf_args_str(&a, "file", NULL);
    const char *idstr = xf_args_str(&a, "ids", NULL);
    const char *dump = xf_args_str(&a, "dump-logits", NULL);
    const char *src_text = xf_args_str(&a, "source", NULL);
    const char *src_idstr = xf_args_str(&a, "source-ids", NULL);
    long prefix = xf_args_long(&a, "prefix-len", LONG_MIN);
    long threads = xf_args_long(&a, "threads", 0);
    if (xf_args_finish(&a)) return 2;
    if (!!text + !!file + !!idstr != 1) return xf_cli_error(2, "score: give exactly one of --text, --file, --ids");
    if (src_text && src_idstr) return xf_cli_error(2, "score: give one of --source and --source-ids, not both");
    if (prefix != LONG_MIN && prefix < 0) return xf_cli_error(2, "score: --prefix-len must be >= 0, got %ld", prefix);
    xf_set_threads((int)threads);
    xf_model *m = NULL;
    xf_tokenizer *tok = NULL;
    int32_t *ids = NULL, *src = NULL;
    size_t n = 0, ns = 0;
    char *buf = NULL;
    FILE *df = NULL;
    int rc = open_checkpoint(dir, &m, &tok, !idstr || src_text);
    if (rc) return rc;
    rc = 1;
    const xf_config *cfg = xf_model_config(m);
    const char *arch = xf_arch_name(cfg->arch);
    if (prefix != LONG_MIN && cfg->arch != XF_ARCH_PREFIX_LM && cfg->arch != XF_ARCH_DECODER) {
        xf_cli_error(1, "score: --prefix-len is for prefix_lm (and decoder) models; %s is arch %s", dir, arch);
        goto out;
    }
    if ((src_text || src_idstr) && cfg->arch != XF_ARCH_ENCODER_DECODER) {
        xf_cli_error(1, "score: --source/--source-ids is for encoder_decoder models; %s is arch %s (no encoder input)",
                     dir, arch);
        goto out;
    }
    if (!src_text && !src_idstr && cfg->arch == XF_ARCH_ENCODER_DECODER) {
        xf_cli_error(1, "score: %s is an encoder_decoder: give its input with --source TEXT or --source-ids \"...\"",
                     dir);
        goto out;
    }
    if (idstr) {
        if (xf_cli_parse_ids(idstr, &ids, &n)) goto out;
    } else {
        size_t len = 0;
        if (file && xf_file_read_all(file, &buf, &len, MAX_TEXT_BYTES)) goto fail;
        if (encode_text(tok, file ? buf : text, file ? len : strlen(text), 0, &ids, &n)) goto out;
    }
    if (src_idstr && xf_cli_parse_ids(src_idstr, &src, &ns)) goto out;
    if (src_text && encode_text(tok, src_text, strlen(src_text), 1, &src, &ns)) goto out;
    size_t V = cfg->vocab_size;
    if (check_vocab("score", "input", ids, n, V) || check_vocab("score", "source", src, ns, V)) goto out;
    if (dump && !(df = fopen(dump, "wb"))) {
        xf_cli_error(1, "%s: cannot open for writing", dump);
        goto out;
    }
    if (cfg->arch == XF_ARCH_ENCODER_DECODER)
        rc = score_seq2seq(m, src, ns, ids, n, xf_decoder_start_id(cfg, xf_tokenizer_special(tok, XF_TOK_PAD)), df,
                           dump);
    else if (cfg->arch == XF_ARCH_ENCODER)
        rc = score_mlm(m, ids, n, df, dump);
    else
        rc = score_lm(m, ids, n, prefix == LONG_MIN ? -1 : prefix, df, dump);
    if (df) {
        int bad = fclose(df);
        df = NULL;
        if (bad && !rc) rc = xf_cli_error(1, "%s: write failed", dump);
    }
    goto out;
fail:
    rc = xf_cli_fail();
out:
    if (df) fclose(df);
    free(buf);
    free(ids);
    free(src);
    xf_tokenizer_free(tok);
    xf_model_free(m);
    return rc;
}
