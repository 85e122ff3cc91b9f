/* xfmr prepare (text -> token file) and xfmr corpus (the built-in stories).
 * Each prints a one-line JSON summary on stdout; progress and previews go to stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/clock.h"
#include "core/parallel.h"
#include "io/file.h"
#include "xfmr/data.h"
#include "xfmr/tokenizer.h"

static const char *PREPARE_HELP =
    "usage: xfmr prepare --data IN.txt --out OUT.bin [--tokenizer SPEC] [--preview N]\n"
    "  --data FILE        UTF-8 text to encode\n"
    "  --out FILE         token file to write (atomically; see docs/data.md)\n"
    "  --tokenizer SPEC   byte (default), a tokenizer file or a checkpoint directory\n"
    "  --preview N        print the first N windows of 64 tokens, decoded, on stderr\n"
    "  --threads N        encoding threads (default: all cores)\n"
    "Large text is encoded in parallel, cut only at newline boundaries that give\n"
    "the same ids as encoding the text whole. Prints one JSON line:\n"
    "  {\"tokens\":N,\"bytes\":B,\"vocab_size\":V,\"tokenizer\":\"name\",\"out\":\"OUT.bin\"}\n";

static const char *CORPUS_HELP =
    "usage: xfmr corpus --out FILE [--bytes N] [--seed S]\n"
    "  --out FILE   where to write the text (atomically)\n"
    "  --bytes N    approximate size (default 2000000; whole stories, a little over)\n"
    "  --seed S     the same seed gives the same text (default 1)\n"
    "Writes procedurally generated children's stories (nothing downloaded) and\n"
    "prints one JSON line: {\"bytes\":N,\"seed\":S,\"out\":\"FILE\"}\n";

/* s as a JSON string literal. */
static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

typedef struct {
    double t0, last;
    int shown;
} meter;

static void on_progress(size_t done, size_t total, void *ctx) {
    meter *m = ctx;
    double t = (xf_now_ms() / 1e3);
    if (done < total && t - m->last < 0.2) return;
    m->last = t;
    double dt = t - m->t0 > 1e-6 ? t - m->t0 : 1e-6;
    fprintf(stderr, "\r\033[Kprepare: %.1f / %.1f MB  %.1f MB/s", (double)done / 1e6,
            (double)total / 1e6, (double)done / 1e6 / dt);
    m->shown = 1;
}

/* Decoded text of the first n_windows windows of 64 tokens, on stderr. */
static int preview(const xf_tokenizer *tok, const int32_t *ids, size_t n, long n_windows) {
    for (long w = 0; w < n_windows; w++) {
        size_t start = (size_t)w * 64;
        if (start >= n) break;
        size_t m = n - start < 64 ? n - start : 64;
        char *text;
        size_t len;
        if (xf_tokenizer_decode(tok, ids + start, m, &text, &len)) return xf_cli_fail();
        fprintf(stderr, "--- window %ld (tokens %zu..%zu) ---\n", w, start, start + m - 1);
        fwrite(text, 1, len, stderr);
        fputc('\n', stderr);
        free(text);
    }
    return 0;
}

int xf_cmd_prepare(int argc, char **argv) {
    xf_args a;
    xf_args_init(&a, argc, argv);
    if (xf_args_flag(&a, "help")) {
        fputs(PREPARE_HELP, stdout);
        return 0;
    }
    const char *in = xf_args_str(&a, "data", NULL);
    const char *out = xf_args_str(&a, "out", NULL);
    const char *spec = xf_args_str(&a, "tokenizer", "byte");
    long n_preview = xf_args_long(&a, "preview", 0);
    long threads = xf_args_long(&a, "threads", 0);
    if (xf_args_finish(&a)) return 2;
    if (!in || !out)
        return xf_cli_error(2, "prepare: --data IN and --out OUT are required (see xfmr prepare --help)");
    if (n_preview < 0 || threads < 0)
        return xf_cli_error(2, "prepare: --preview and --threads must be >= 0");
    if (threads > 0) xf_set_threads((int)threads);

    xf_tokenizer *tok = NULL;
    if (xf_tokenizer_load(&tok, spec)) return xf_cli_fail();
    xf_mmap text = {0};
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = 1;
    if (xf_mmap_open(&text, in)) goto fail;
    if (text.len == 0) {
        rc = xf_cli_error(1, "%s: empty file, nothing to prepare", in);
        goto done;
    }
    size_t ml = strlen(XF_TOKENS_MAGIC);
    if (text.len >= ml && memcmp(text.ptr, XF_TOKENS_MAGIC, ml) == 0) {
        rc = xf_cli_error(1, "%s: is already a token file (train on it directly)", in);
        goto done;
    }
    meter m = {.t0 = (xf_now_ms() / 1e3), .last = 0, .shown = 0};
    int tty = isatty(2);
    if (xf_data_encode(tok, text.ptr, text.len, in, 0, &ids, &n, tty ? on_progress : NULL, &m)) {
        if (m.shown) fputc('\n', stderr);
        goto fail;
    }
    if (m.shown) fputc('\n', stderr);
    if (n == 0) {
        rc = xf_cli_error(1, "%s: text encodes to no tokens", in);
        goto done;
    }
    if (xf_tokens_write(out, ids, n, xf_tokenizer_vocab_size(tok), xf_tokenizer_hash(tok)))
        goto fail;
    printf("{\"tokens\":%zu,\"bytes\":%zu,\"vocab_size\":%zu,\"tokenizer\":", n, text.len,
           xf_tokenizer_vocab_size(tok));
    json_str(stdout, xf_tokenizer_name(tok));
    fputs(",\"out\":", stdout);
    json_str(stdout, out);
    fputs("}\n", stdout);
    fflush(stdout);
    rc = n_preview ? preview(tok, ids, n, n_preview) : 0;
    goto done;
fail:
    rc = xf_cli_fail();
done:
    free(ids);
    xf_mmap_close(&text);
    xf_tokenizer_free(tok);
    return rc;
}

int xf_cmd_corpus(int argc, char **argv) {
    xf_args a;
    xf_args_init(&a, argc, argv);
    if (xf_args_flag(&a, "help")) {
        fputs(CORPUS_HELP, stdout);
        return 0;
    }
    const char *out = xf_args_str(&a, "out", NULL);
    long bytes = xf_args_long(&a, "bytes", 2000000);
    long seed = xf_args_long(&a, "seed", 1);
    if (xf_args_finish(&a)) return 2;
    if (!out) return xf_cli_error(2, "corpus: --out FILE is required (see xfmr corpus --help)");
    if (bytes <= 0 || (unsigned long)bytes > (1ul << 40))
        return xf_cli_error(2, "corpus: --bytes must be in [1, 2^40], got %ld", bytes);
    if (seed < 0) return xf_cli_error(2, "corpus: --seed must be >= 0, got %ld", seed);
    char *text;
    size_t len;
    if (xf_corpus_generate(&text, &len, (size_t)bytes, (uint64_t)seed)) return xf_cli_fail();
    xf_status st = xf_file_write_atomic(out, text, len);
    free(text);
    if (st) return xf_cli_fail();
    printf("{\"bytes\":%zu,\"seed\":%ld,\"out\":", len, seed);
    json_str(stdout, out);
    fputs("}\n", stdout);
    return 0;
}
