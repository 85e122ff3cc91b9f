/* xfmr fill: the masked-LM predictions of an encoder (arch encoder) for every
 * [MASK] (or <mask>) in a text. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "xfmr/generate.h"
#include "xfmr/model.h"
#include "xfmr/threads.h"
#include "xfmr/tokenizer.h"

/* Length of the valid UTF-8 sequence at s (of at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n) {
    size_t l = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 && s[0] <= 0xDF ? 2 : 0;
    if (s[0] >= 0xF5 || l == 0 || l > n) return 0;
    for (size_t i = 1; i < l; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if (l == 3 && ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0))) return 0;
    if (l == 4 && ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90))) return 0;
    return l;
}

/* Print bytes in double quotes with C escapes (\" \\ \n \t \r, \xNN for other
 * control bytes and invalid UTF-8), so whitespace and partial characters show. */
static void print_quoted(const char *text, size_t len) {
    const unsigned char *s = (const unsigned char *)text;
    putchar('"');
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        size_t l;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c == '\n') fputs("\\n", stdout);
        else if (c == '\t') fputs("\\t", stdout);
        else if (c == '\r') fputs("\\r", stdout);
        else if (c < 0x20 || c == 0x7f) printf("\\x%02x", c);
        else if (c < 0x80) putchar(c);
        else if ((l = utf8_len(s + i, len - i))) {
            fwrite(s + i, 1, l, stdout);
            i += l;
            continue;
        } else printf("\\x%02x", c);
        i++;
    }
    putchar('"');
}

/* qsort_r comparator: ids by descending probability, then ascending id */
static int by_prob(const void *a, const void *b, void *keys) {
    const double *p = keys;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (p[x] != p[y]) return p[x] < p[y] ? 1 : -1;
    return (x > y) - (x < y);
}

int xf_cmd_fill(int argc, char **argv) {
    xf_args a;
    xf_args_init(&a, argc, argv);
    if (xf_args_flag(&a, "help")) {
        puts("usage: xfmr fill --model DIR --text \"The [MASK] sat\" [--top K] [--threads N]\n"
             "  encoder models (arch encoder) only. Every [MASK] or <mask> in the text becomes the\n"
             "  tokenizer's mask token (the text between masks is tokenized piece by piece);\n"
             "  the rest must fit the model's context. For each mask, in order, prints a line\n"
             "    mask I at token T:\n"
             "  then its top K predictions (default 5), one per line: the probability and the\n"
             "  token's decoded text in double quotes with C escapes (\\n, \\t, \\xNN for control\n"
             "  bytes and partial UTF-8), so whitespace is visible; ties go to the lower id.");
        return 0;
    }
    const char *dir = xf_args_str(&a, "model", NULL);
    const char *text = xf_args_str(&a, "text", NULL);
    long top = xf_args_long(&a, "top", 5);
    long threads = xf_args_long(&a, "threads", 0);
    if (xf_args_finish(&a)) return 2;
    if (!dir) return xf_cli_error(2, "fill: --model DIR is required");
    if (!text) return xf_cli_error(2, "fill: --text \"... [MASK] ...\" is required");
    if (top < 1) return xf_cli_error(2, "fill: --top must be >= 1, got %ld", top);
    xf_set_threads((int)threads);
    xf_model *m = NULL;
    xf_tokenizer *tok = NULL;
    int32_t *ids = NULL, *order = NULL;
    size_t *masks = NULL;
    double *prob = NULL;
    size_t n = 0, nm = 0;
    int rc = 1;
    if (xf_model_open(&m, dir)) return xf_cli_fail();
    const xf_config *cfg = xf_model_config(m);
    size_t V = cfg->vocab_size, P = cfg->max_position_embeddings;
    if (cfg->arch != XF_ARCH_ENCODER) {
        xf_cli_error(1, "fill: %s is arch %s, not a masked-LM encoder (arch encoder)%s", dir, xf_arch_name(cfg->arch),
                     cfg->arch == XF_ARCH_ENCODER_DECODER ? "; use xfmr generate" : "; use xfmr generate or score");
        goto out;
    }
    if (xf_model_open_tokenizer(&tok, dir)) goto fail;
    if (!tok) {
        xf_cli_error(1, "fill: %s carries no tokenizer", dir);
        goto out;
    }
    xf_model_set_live_vocab(m, xf_tokenizer_vocab_size(tok)); /* padding rows never predicted */
    int32_t mask = xf_tokenizer_special(tok, XF_TOK_MASK);
    if (mask < 0) {
        xf_cli_error(1, "fill: the tokenizer of %s (%s) has no mask token", dir, xf_tokenizer_name(tok));
        goto out;
    }
    if ((size_t)mask >= V) {
        xf_cli_error(1, "fill: the mask token id %d is outside the model's vocabulary [0, %zu)", mask, V);
        goto out;
    }
    /* tokenize the pieces between masks separately and splice the mask id in */
    if ((rc = xf_cli_encode_spliced(tok, text, strlen(text), 0, mask, &ids, &n, &masks, &nm))) goto out;
    rc = 1;
    if (nm == 0) {
        xf_cli_error(1, "fill: the text has no [MASK] (or <mask>) to fill");
        goto out;
    }
    if (n > P) {
        xf_cli_error(1, "fill: the text has %zu tokens, more than the model's %zu positions", n, P);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= V) {
            xf_cli_error(1, "fill: token id %d is outside the model's vocabulary [0, %zu)", ids[i], V);
            goto out;
        }
    if (xf_model_reserve(m, 1, n, 0)) goto fail;
    if (xf_model_forward(m, ids, NULL, 1, n, NULL, NULL)) goto fail;
    prob = malloc(V * sizeof *prob);
    order = malloc(V * sizeof *order);
    if (!prob || !order) goto oom;
    size_t K = (size_t)top < V ? (size_t)top : V;
    for (size_t k = 0; k < nm; k++) {
        const float *z = xf_model_logits(m) + masks[k] * V;
        double lse = xf_logsumexp(z, V);
        for (size_t v = 0; v < V; v++) {
            prob[v] = exp((double)z[v] - lse);
            order[v] = (int32_t)v;
        }
        qsort_r(order, V, sizeof *order, by_prob, prob);
        printf("mask %zu at token %zu:\n", k + 1, masks[k]);
        for (size_t i = 0; i < K; i++) {
            char *t = NULL;
            size_t tl = 0;
            if (xf_tokenizer_decode(tok, &order[i], 1, &t, &tl)) goto fail;
            printf("  %.6f  ", prob[order[i]]);
            print_quoted(t, tl);
            putchar('\n');
            free(t);
        }
    }
    rc = 0;
    goto out;
oom:
    rc = xf_cli_error(1, "out of memory");
    goto out;
fail:
    rc = xf_cli_fail();
out:
    free(ids);
    free(masks);
    free(prob);
    free(order);
    xf_tokenizer_free(tok);
    xf_model_free(m);
    return rc;
}
