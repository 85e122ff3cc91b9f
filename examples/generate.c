/* Load a checkpoint and continue a prompt, using only the installed library:
 *
 *   cc generate.c $(pkg-config --cflags --libs xfmr) -o generate
 *   ./generate CKPT_DIR "Once upon a time" [N] [TEMPERATURE]
 *
 * Prints the prompt and its continuation (greedy by default, as
 * `xfmr generate --temperature 0`), then the number of new tokens on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xfmr/xfmr.h>

typedef struct {
    const xf_tokenizer *tok;
    int32_t prev; /* the previous token: a piece's bytes can depend on it */
    size_t made;
} stream;

/* Called with every new token: print the bytes it adds to the text. */
static int on_token(int32_t id, void *ctx) {
    stream *s = ctx;
    char piece[XF_TOKENIZER_PIECE_MAX];
    size_t len = 0;
    if (xf_tokenizer_piece(s->tok, s->prev, id, piece, sizeof piece, &len) == XF_OK) fwrite(piece, 1, len, stdout);
    s->prev = id;
    s->made++;
    return 0; /* nonzero would stop */
}

static int fail(const char *what) {
    fprintf(stderr, "generate: %s: %s\n", what, xf_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s CKPT_DIR PROMPT [N] [TEMPERATURE]\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1], *prompt = argv[2];
    size_t n_new = argc > 3 ? (size_t)atol(argv[3]) : 100;
    xf_sample_opts so = {.temperature = argc > 4 ? (float)atof(argv[4]) : 0.0f, .top_k = 0, .top_p = 1.0f, .seed = 1};

    xf_model *m = NULL;
    xf_tokenizer *tok = NULL;
    xf_sampler *sampler = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    xf_set_threads(1); /* small models decode fastest on one thread */
    if (xf_model_open(&m, dir)) return fail(dir);
    if (xf_model_open_tokenizer(&tok, dir) || !tok) return fail("tokenizer");
    /* vocabulary rows past the tokenizer's ids are padding: never sampled */
    xf_model_set_live_vocab(m, xf_tokenizer_vocab_size(tok));
    if (xf_tokenizer_encode(tok, prompt, strlen(prompt), &ids, &n)) return fail("encode");
    if (n == 0) return fail("empty prompt");
    size_t V = xf_model_config(m)->vocab_size;
    if (xf_sampler_create(&sampler, V, &so)) return fail("sampler");

    stream st = {.tok = tok, .prev = ids[n - 1], .made = 0};
    fputs(prompt, stdout);
    int32_t eos = xf_tokenizer_special(tok, XF_TOK_EOS);
    if (xf_generate(m, ids, n, n_new, sampler, eos, on_token, &st)) return fail("generate");
    putchar('\n');
    fprintf(stderr, "[%zu prompt + %zu generated tokens]\n", n, st.made);
    free(ids);
    xf_sampler_free(sampler);
    xf_tokenizer_free(tok);
    xf_model_free(m);
    return 0;
}
