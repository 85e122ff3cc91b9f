/* Train a tiny model on the built-in corpus and save a checkpoint, using only
 * the installed library:
 *
 *   cc train_tiny.c $(pkg-config --cflags --libs xfmr) -o train_tiny
 *   ./train_tiny OUT_DIR [STEPS] [MODEL]       (MODEL: a preset or a config.json; gpt2-tiny)
 *
 * Prints the loss every 10 steps (it goes down) and writes OUT_DIR/config.json,
 * model.safetensors and the tokenizer, which `xfmr generate --model OUT_DIR`
 * and examples/generate.c read. */
#include <stdio.h>
#include <stdlib.h>

#include <xfmr/xfmr.h>

static int fail(const char *what) {
    fprintf(stderr, "train_tiny: %s: %s\n", what, xf_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s OUT_DIR [STEPS] [MODEL (a preset or config.json)]\n", argv[0]);
        return 2;
    }
    const char *out = argv[1], *preset = argc > 3 ? argv[3] : "gpt2-tiny";
    int steps = argc > 2 ? atoi(argv[2]) : 100;
    const size_t B = 4, T = 32;

    /* text -> ids with the byte tokenizer (the presets' vocabulary fits it) */
    xf_tokenizer *tok = NULL;
    char *text = NULL;
    size_t len = 0, n = 0;
    int32_t *ids = NULL;
    if (xf_tokenizer_load(&tok, "byte")) return fail("tokenizer");
    if (xf_corpus_generate(&text, &len, 200000, 1)) return fail("corpus");
    if (xf_tokenizer_encode(tok, text, len, &ids, &n)) return fail("encode");
    free(text);

    /* a fresh model from the preset, an optimizer that owns its moments */
    xf_model *m = NULL;
    xf_optimizer *opt = NULL;
    xf_train_opts o;
    xf_train_opts_default(&o);
    o.lr = 3e-3f;
    o.min_lr = 3e-4f;
    o.warmup = 10;
    o.steps = (size_t)steps;
    if (xf_model_new(&m, preset, 1)) return fail(preset);
    if (xf_model_reserve(m, B, T, 1)) return fail("reserve");
    if (xf_optimizer_create(&opt, m, &o)) return fail("optimizer");
    printf("%s: %zu parameters, xfmr %s\n", preset, xf_model_num_params(m), xf_version());

    /* random windows of T + 1 tokens: inputs are tokens 0..T-1, targets 1..T */
    int32_t *in = malloc(B * T * sizeof *in), *tg = malloc(B * T * sizeof *tg);
    if (!in || !tg) return 1;
    xf_rng rng;
    xf_rng_seed(&rng, 1);
    for (int step = 1; step <= steps; step++) {
        for (size_t b = 0; b < B; b++) {
            size_t start = (size_t)xf_rng_below(&rng, n - T);
            for (size_t t = 0; t < T; t++) in[b * T + t] = ids[start + t], tg[b * T + t] = ids[start + t + 1];
        }
        float loss = 0, lr = 0;
        if (xf_model_forward(m, in, tg, B, T, &loss, NULL)) return fail("forward");
        if (xf_model_backward(m, 1.0f)) return fail("backward");
        if (xf_optimizer_step(opt, &lr, NULL)) return fail("step");
        if (step == 1 || step % 10 == 0 || step == steps) printf("step %d loss %.4f lr %.2e\n", step, loss, lr);
    }
    if (xf_model_save(m, out) || xf_tokenizer_save(tok, out)) return fail(out);
    printf("saved %s\n", out);
    free(in);
    free(tg);
    free(ids);
    xf_optimizer_free(opt);
    xf_model_free(m);
    xf_tokenizer_free(tok);
    return 0;
}
