/* xfmr generate and xfmr score: inference from a checkpoint directory. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/clock.h"
#include "core/parallel.h"
#include "io/file.h"
#include "kernels/kernels.h"
#include "xfmr/generate.h"
#include "xfmr/model.h"
#include "xfmr/tokenizer.h"

#define MAX_TEXT_BYTES ((size_t)1 << 30)

typedef struct {
    const xf_tokenizer *tok;
    int32_t prev;
    size_t made; /* tokens generated */
} stream;

static int print_token(int32_t id, void *ctx) {
    stream *s = ctx;
    char buf[256];
    size_t len = 0;
    if (xf_tokenizer_piece(s->tok, s->prev, id, buf, sizeof buf, &len) == XF_OK)
        fwrite(buf, 1, len, stdout);
    fflush(stdout);
    s->prev = id;
    s->made++;
    return 0;
}

/* Load a checkpoint and its tokenizer. */
static int open_checkpoint(const char *dir, xf_model **m, xf_tokenizer **tok) {
    if (!dir) return xf_cli_error(2, "--model DIR is required");
    if (xf_model_load(m, dir)) return xf_cli_fail();
    if (xf_tokenizer_load(tok, dir)) {
        xf_model_free(*m);
        *m = NULL;
        return xf_cli_fail();
    }
    return 0;
}

int xf_cmd_generate(int argc, char **argv) {
    xf_args a;
    xf_args_init(&a, argc, argv);
    if (xf_args_flag(&a, "help")) {
        puts("usage: xfmr generate --model DIR [--prompt TEXT] [-n N] [--temperature T] [--top-k K]\n"
             "                     [--top-p P] [--seed S] [--threads N] [--quiet]\n"
             "  greedy with --temperature 0; stops at the end-of-text token; past the context\n"
             "  length the last half of the context is re-encoded and generation goes on.\n"
             "  --threads 0 (default): one thread below 16M parameters, else all cores.\n"
             "  Prints the speed on stderr unless --quiet.");
        return 0;
    }
    const char *dir = xf_args_str(&a, "model", NULL);
    const char *prompt = xf_args_str(&a, "prompt", "");
    long n = xf_args_long(&a, "n", 200);
    xf_sample_opts so = {.temperature = (float)xf_args_double(&a, "temperature", 0.8),
                         .top_k = 0, .top_p = (float)xf_args_double(&a, "top-p", 1.0)};
    long topk = xf_args_long(&a, "top-k", 0);
    long seed = xf_args_long(&a, "seed", 1);
    long threads = xf_args_long(&a, "threads", 0);
    int quiet = xf_args_flag(&a, "quiet");
    if (xf_args_finish(&a)) return 2;
    if (n < 0 || topk < 0 || seed < 0) return xf_cli_error(2, "generate: -n, --top-k and --seed must be >= 0");
    so.top_k = (size_t)topk;
    so.seed = (uint64_t)seed;
    xf_model *m = NULL;
    xf_tokenizer *tok = NULL;
    xf_sampler *s = NULL;
    int32_t *ids = NULL;
    size_t nids = 0;
    int rc = open_checkpoint(dir, &m, &tok);
    if (rc) return rc;
    /* Decoding does little work per kernel call: below ~16M parameters the
     * fork/join of a second thread costs more than it saves (measured: 4,500
     * tok/s on one thread against 3,200 on two for llama-tiny). */
    if (threads <= 0 && xf_model_num_params(m) < ((size_t)16 << 20)) threads = 1;
    xf_set_threads((int)threads);
    rc = 1;
    if (xf_tokenizer_encode(tok, prompt, strlen(prompt), &ids, &nids)) goto fail;
    int32_t bos = xf_tokenizer_special(tok, XF_TOK_BOS), eos = xf_tokenizer_special(tok, XF_TOK_EOS);
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
    if (xf_sampler_create(&s, xf_model_config(m)->vocab_size, &so)) goto fail;
    fwrite(prompt, 1, strlen(prompt), stdout);
    stream st = {.tok = tok, .prev = ids[nids - 1]};
    double t0 = xf_now_ms();
    if (xf_generate(m, ids, nids, (size_t)n, s, eos, print_token, &st)) goto fail;
    double sec = (xf_now_ms() - t0) / 1e3;
    putchar('\n');
    if (!quiet)
        fprintf(stderr, "[%zu prompt + %zu generated tokens, %.1f tok/s]\n", nids, st.made,
                sec > 0 ? (double)st.made / sec : 0.0);
    rc = 0;
    goto out;
fail:
    rc = xf_cli_fail();
out:
    free(ids);
    xf_sampler_free(s);
    xf_tokenizer_free(tok);
    xf_model_free(m);
    return rc;
}

int xf_cmd_score(int argc, char **argv) {
    xf_args a;
    xf_args_init(&a, argc, argv);
    if (xf_args_flag(&a, "help")) {
        puts("usage: xfmr score --model DIR (--text S | --file F | --ids \"1 2 3\") [--dump-logits OUT]\n"
             "  prints {\"tokens\":N,\"loss\":L,\"ppl\":P}; --dump-logits writes float32 [tokens, vocab]\n"
             "  little-endian, row-major (row t predicts token t+1). Longer inputs are scored in\n"
             "  windows of the context length.");
        return 0;
    }
    const char *dir = xf_args_str(&a, "model", NULL);
    const char *text = xf_args_str(&a, "text", NULL);
    const char *file = xf_args_str(&a, "file", NULL);
    const char *idstr = xf_args_str(&a, "ids", NULL);
    const char *dump = xf_args_str(&a, "dump-logits", NULL);
    long threads = xf_args_long(&a, "threads", 0);
    if (xf_args_finish(&a)) return 2;
    if (!!text + !!file + !!idstr != 1) return xf_cli_error(2, "score: give exactly one of --text, --file, --ids");
    xf_set_threads((int)threads);
    xf_model *m = NULL;
    xf_tokenizer *tok = NULL;
    int32_t *ids = NULL, *tg = NULL;
    size_t n = 0;
    char *buf = NULL;
    FILE *df = NULL;
    int rc = open_checkpoint(dir, &m, &tok);
    if (rc) return rc;
    rc = 1;
    if (idstr) {
        if (xf_cli_parse_ids(idstr, &ids, &n)) goto out;
    } else {
        size_t len = 0;
        if (file) {
            if (xf_file_read_all(file, &buf, &len, MAX_TEXT_BYTES)) goto fail;
        }
        if (xf_tokenizer_encode(tok, file ? buf : text, file ? len : strlen(text), &ids, &n)) goto fail;
    }
    if (n < 2) {
        xf_cli_error(1, "score: need at least 2 tokens, got %zu", n);
        goto out;
    }
    const xf_config *cfg = xf_model_config(m);
    size_t P = cfg->max_position_embeddings, V = cfg->vocab_size, W = n < P ? n : P;
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= V) {
            xf_cli_error(1, "score: token id %d is outside the model's vocabulary [0, %zu)", ids[i], V);
            goto out;
        }
    if (xf_model_reserve(m, 1, W, 0)) goto fail;
    tg = malloc(W * sizeof *tg);
    if (!tg) goto fail;
    if (dump && !(df = fopen(dump, "wb"))) {
        xf_cli_error(1, "%s: cannot open for writing", dump);
        goto out;
    }
    double sum = 0;
    size_t scored = 0;
    for (size_t start = 0; start < n; start += W) {
        size_t T = n - start < W ? n - start : W;
        for (size_t t = 0; t < T; t++) tg[t] = start + t + 1 < n ? ids[start + t + 1] : XF_IGNORE_INDEX;
        float loss = 0;
        size_t valid = 0;
        if (xf_model_forward(m, ids + start, tg, 1, T, &loss, &valid)) goto fail;
        sum += (double)loss * (double)valid;
        scored += valid;
        if (df && fwrite(xf_model_logits(m), sizeof(float) * V, T, df) != T) {
            xf_cli_error(1, "%s: write failed", dump);
            goto out;
        }
    }
    if (df && fclose(df)) {
        df = NULL;
        xf_cli_error(1, "%s: write failed", dump);
        goto out;
    }
    df = NULL;
    double loss = sum / (double)scored;
    printf("{\"tokens\":%zu,\"loss\":%.6f,\"ppl\":%.6f}\n", n, loss, exp(loss));
    rc = 0;
    goto out;
fail:
    rc = xf_cli_fail();
out:
    if (df) fclose(df);
    free(buf);
    free(ids);
    free(tg);
    xf_tokenizer_free(tok);
    xf_model_free(m);
    return rc;
}
