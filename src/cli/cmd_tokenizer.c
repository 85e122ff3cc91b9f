/* xfmr tokenizer: train | encode | decode | info.
 *
 *   xfmr tokenizer train --data FILE [FILE...] --vocab-size N --out tokenizer.json
 *                        [--model bpe|unigram|wordpiece]
 *                        [--sentinels 100] [--min-frequency 2] [--legacy-merges] (bpe)
 *   xfmr tokenizer encode --tokenizer SPEC [--file F | --text S] [--bos] [--eos] [--no-special]
 *     (tokenizer.json: special tokens in the text are matched unless --no-special;
 *     --bos/--eos run the file's post-processor when it has one)
 *                        (no --file/--text: reads stdin; prints ids separated by spaces)
 *   xfmr tokenizer decode --tokenizer SPEC [--ids "..." | --file IDS_FILE]
 *                        (no --ids/--file: reads ids from stdin; prints the text)
 *   xfmr tokenizer info --tokenizer SPEC
 *   xfmr tokenizer convert --tokenizer SPEC --out tokenizer.json [--legacy-merges]
 *                        (byte-level BPE only, e.g. gpt2:DIR -> tokenizer.json)
 * SPEC: "byte", a tokenizer.json, a SentencePiece .model, a llama2.c tokenizer.bin,
 * gpt2:DIR, or a checkpoint directory.
 *
 * Hidden benchmark flag: `encode --bench N` encodes the input N times and prints
 * {"bytes":..,"tokens":..,"seconds":..,"mb_per_s":..} (best of the N runs) instead of ids. */
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "xfmr/system.h"
#include "xfmr/file.h"
#include "xfmr/tokenizer.h"

#define INPUT_MAX ((size_t)1 << 34) /* 16 GiB */

static int usage(FILE *f, int code) {
    fprintf(f,
            "usage:\n"
            "  xfmr tokenizer train --data FILE [FILE...] --vocab-size N --out tokenizer.json\n"
            "                       [--model bpe|unigram|wordpiece] (bpe: [--sentinels 100]\n"
            "                       [--min-frequency 2] [--legacy-merges])\n"
            "  xfmr tokenizer encode --tokenizer SPEC [--file F | --text S] [--bos] [--eos] [--no-special]\n"
            "  xfmr tokenizer decode --tokenizer SPEC [--ids \"1 2 3\" | --file IDS_FILE]\n"
            "  xfmr tokenizer info --tokenizer SPEC\n"
            "  xfmr tokenizer convert --tokenizer SPEC --out tokenizer.json [--legacy-merges]\n"
            "SPEC: byte | FILE.json (HF tokenizer.json) | FILE.model (SentencePiece) |\n"
            "      FILE.bin (llama2.c) | FILE.txt or wordpiece:FILE (BERT vocab.txt) |\n"
            "      gpt2:DIR (encoder.json + vocab.bpe) | checkpoint DIR\n");
    return code;
}

/* Whole stdin into a malloc'd buffer (NUL-terminated). */
static int read_stdin(char **data, size_t *len) {
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) return xf_cli_error(1, "out of memory");
    for (;;) {
        if (n == cap) {
            if (cap >= INPUT_MAX) {
                free(buf);
                return xf_cli_error(1, "stdin: input larger than %zu bytes", INPUT_MAX);
            }
            char *g = realloc(buf, 2 * cap + 1);
            if (!g) {
                free(buf);
                return xf_cli_error(1, "out of memory reading stdin");
            }
            buf = g;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, stdin);
        n += r;
        if (r == 0) break;
    }
    if (ferror(stdin)) {
        free(buf);
        return xf_cli_error(1, "stdin: read error");
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

/* Input from --file, --text, or stdin. */
static int read_input(const char *file, const char *text, char **data, size_t *len) {
    if (file && text) return xf_cli_error(2, "give --file or --text, not both");
    if (text) {
        size_t l = strlen(text);
        *data = malloc(l + 1);
        if (!*data) return xf_cli_error(1, "out of memory");
        memcpy(*data, text, l + 1);
        *len = l;
        return 0;
    }
    if (file) {
        if (xf_file_read_all(file, data, len, INPUT_MAX)) return xf_cli_fail();
        return 0;
    }
    return read_stdin(data, len);
}

static int print_ids(const int32_t *ids, size_t n) {
    char buf[1 << 16];
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (o > sizeof buf - 16) {
            fwrite(buf, 1, o, stdout);
            o = 0;
        }
        o += (size_t)snprintf(buf + o, sizeof buf - o, i ? " %ld" : "%ld", (long)ids[i]);
    }
    buf[o++] = '\n';
    fwrite(buf, 1, o, stdout);
    if (fflush(stdout) != 0) return xf_cli_error(1, "error writing to stdout");
    return 0;
}

static int cmd_encode(xf_args *a) {
    const char *spec = xf_args_str(a, "tokenizer", NULL);
    const char *file = xf_args_str(a, "file", NULL);
    const char *text = xf_args_str(a, "text", NULL);
    int bos = xf_args_flag(a, "bos"), eos = xf_args_flag(a, "eos");
    int no_special = xf_args_flag(a, "no-special");
    long bench = xf_args_long(a, "bench", 0);
    if (xf_args_finish(a)) return 2;
    if (!spec) return xf_cli_error(2, "tokenizer encode: --tokenizer SPEC is required");
    if (bench < 0 || bench > 1000000) return xf_cli_error(2, "--bench must be in [1, 1000000]");
    char *data;
    size_t len;
    int rc = read_input(file, text, &data, &len);
    if (rc) return rc;
    xf_tokenizer *tok;
    double load_t0 = xf_now_ms(), load_c0 = (double)clock() / CLOCKS_PER_SEC;
    if (xf_tokenizer_load(&tok, spec)) {
        free(data);
        return xf_cli_fail();
    }
    double load_s = (xf_now_ms() - load_t0) / 1e3;
    double load_cpu = (double)clock() / CLOCKS_PER_SEC - load_c0; /* CPU time: a shared machine inflates wall time */
    int32_t *ids = NULL;
    size_t n = 0;
    /* as Hugging Face: special tokens written in the text are matched unless
     * --no-special; --bos/--eos give way to the file's post-processor */
    unsigned flags = no_special ? 0u : XF_TOK_PARSE_SPECIAL;
    if ((bos || eos) && xf_tokenizer_has_post_processor(tok)) {
        flags |= XF_TOK_ADD_SPECIAL;
        bos = eos = 0;
    }
    if (bench > 0) {
        double best = 1e300;
        for (long r = 0; r < bench; r++) {
            free(ids);
            ids = NULL;
            double t0 = (xf_now_ms() / 1e3);
            if (xf_tokenizer_encode_ex(tok, data, len, flags, &ids, &n)) {
                rc = xf_cli_fail();
                break;
            }
            double dt = (xf_now_ms() / 1e3) - t0;
            if (dt < best) best = dt;
        }
        if (!rc)
            printf("{\"tokenizer\":\"%s\",\"bytes\":%zu,\"tokens\":%zu,\"runs\":%ld,\"seconds\":%.6f,"
                   "\"mb_per_s\":%.3f,\"load_seconds\":%.4f,\"load_cpu_seconds\":%.4f}\n",
                   xf_tokenizer_name(tok), len, n, bench, best,
                   best > 0 ? (double)len / 1e6 / best : 0.0, load_s, load_cpu);
    } else if (xf_tokenizer_encode_ex(tok, data, len, flags, &ids, &n)) {
        rc = xf_cli_fail();
    } else {
        int32_t b = xf_tokenizer_special(tok, XF_TOK_BOS), e = xf_tokenizer_special(tok, XF_TOK_EOS);
        if ((bos && b < 0) || (eos && e < 0)) {
            rc = xf_cli_error(1, "tokenizer %s has no %s token", xf_tokenizer_name(tok), bos && b < 0 ? "BOS" : "EOS");
        } else {
            int32_t *all = malloc((n + 2) * sizeof *all);
            if (!all) {
                rc = xf_cli_error(1, "out of memory");
            } else {
                size_t k = 0;
                if (bos) all[k++] = b;
                memcpy(all + k, ids, n * sizeof *ids);
                k += n;
                if (eos) all[k++] = e;
                rc = print_ids(all, k);
                free(all);
            }
        }
    }
    free(ids);
    free(data);
    xf_tokenizer_free(tok);
    return rc;
}

static int cmd_decode(xf_args *a) {
    const char *spec = xf_args_str(a, "tokenizer", NULL);
    const char *file = xf_args_str(a, "file", NULL);
    const char *idstr = xf_args_str(a, "ids", NULL);
    if (xf_args_finish(a)) return 2;
    if (!spec) return xf_cli_error(2, "tokenizer decode: --tokenizer SPEC is required");
    char *data;
    size_t len;
    int rc = read_input(file, idstr, &data, &len);
    if (rc) return rc;
    if (memchr(data, '\0', len)) {
        free(data);
        return xf_cli_error(1, "%s: ids contain a NUL byte", file ? file : "input");
    }
    int32_t *ids;
    size_t n;
    rc = xf_cli_parse_ids(data, &ids, &n);
    free(data);
    if (rc) return rc;
    xf_tokenizer *tok;
    if (xf_tokenizer_load(&tok, spec)) {
        free(ids);
        return xf_cli_fail();
    }
    char *text;
    if (xf_tokenizer_decode(tok, ids, n, &text, &len)) {
        rc = xf_cli_fail();
    } else {
        fwrite(text, 1, len, stdout);
        if (fflush(stdout) != 0) rc = xf_cli_error(1, "error writing to stdout");
        free(text);
    }
    free(ids);
    xf_tokenizer_free(tok);
    return rc;
}

static int cmd_info(xf_args *a) {
    const char *spec = xf_args_str(a, "tokenizer", NULL);
    if (xf_args_finish(a)) return 2;
    if (!spec) return xf_cli_error(2, "tokenizer info: --tokenizer SPEC is required");
    xf_tokenizer *tok;
    if (xf_tokenizer_load(&tok, spec)) return xf_cli_fail();
    printf("{\"name\":\"%s\",\"vocab_size\":%zu,\"hash\":\"%016llx\",\"bos\":%d,\"eos\":%d,\"pad\":%d,"
           "\"unk\":%d,\"mask\":%d,\"sentinels\":%zu}\n",
           xf_tokenizer_name(tok), xf_tokenizer_vocab_size(tok),
           (unsigned long long)xf_tokenizer_hash(tok), (int)xf_tokenizer_special(tok, XF_TOK_BOS),
           (int)xf_tokenizer_special(tok, XF_TOK_EOS), (int)xf_tokenizer_special(tok, XF_TOK_PAD),
           (int)xf_tokenizer_special(tok, XF_TOK_UNK), (int)xf_tokenizer_special(tok, XF_TOK_MASK),
           xf_tokenizer_sentinel_count(tok));
    xf_tokenizer_free(tok);
    return 0;
}

static int cmd_convert(xf_args *a) {
    const char *spec = xf_args_str(a, "tokenizer", NULL);
    const char *out = xf_args_str(a, "out", NULL);
    int legacy = xf_args_flag(a, "legacy-merges");
    if (xf_args_finish(a)) return 2;
    if (!spec || !out) return xf_cli_error(2, "tokenizer convert: --tokenizer SPEC and --out PATH are required");
    xf_tokenizer *tok;
    if (xf_tokenizer_load(&tok, spec)) return xf_cli_fail();
    int rc = xf_tokenizer_save_json(tok, out, legacy) ? xf_cli_fail() : 0;
    xf_tokenizer_free(tok);
    return rc;
}

static int cmd_train(xf_args *a) {
    const char *first = xf_args_str(a, "data", NULL);
    const char *out = xf_args_str(a, "out", NULL);
    long vocab = xf_args_long(a, "vocab-size", -1);
    long sentinels = xf_args_long(a, "sentinels", 100);
    long minf = xf_args_long(a, "min-frequency", 2);
    int legacy = xf_args_flag(a, "legacy-merges");
    const char *model = xf_args_str(a, "model", "bpe");
    if (a->bad) return 2;
    if (!first || !out || vocab < 0)
        return xf_cli_error(2, "tokenizer train: --data FILE [FILE...], --vocab-size N and --out PATH are required");
    /* --data takes one value; further files follow as positional arguments */
    const char *files[256];
    size_t nf = 0;
    files[nf++] = first;
    for (const char *p; nf < 256 && (p = xf_args_pos(a, 0)) != NULL;) files[nf++] = p;
    if (xf_args_finish(a)) return 2;
    if (sentinels < 0 || minf < 1) return xf_cli_error(2, "--sentinels must be >= 0 and --min-frequency >= 1");
    if (strcmp(model, "bpe") != 0) { /* unigram, wordpiece (tok_train_models.c) */
        xf_tokenizer *tok;
        double t0 = xf_now_ms();
        if (xf_tokenizer_train_model(&tok, model, files, nf, (size_t)vocab)) return xf_cli_fail();
        int rc = 0;
        if (xf_tokenizer_save_json(tok, out, 0))
            rc = xf_cli_fail();
        else
            printf("{\"out\":\"%s\",\"model\":\"%s\",\"vocab_size\":%zu,\"seconds\":%.3f,\"hash\":\"%016llx\"}\n", out,
                   model, xf_tokenizer_vocab_size(tok), (xf_now_ms() - t0) / 1e3,
                   (unsigned long long)xf_tokenizer_hash(tok));
        xf_tokenizer_free(tok);
        return rc;
    }
    xf_bpe_train_opts o = {(size_t)vocab, (size_t)sentinels, (size_t)minf, 0};
    xf_bpe_train_stats st;
    xf_tokenizer *tok;
    if (xf_bpe_train(&tok, files, nf, &o, &st)) return xf_cli_fail();
    int rc = 0;
    if (xf_tokenizer_save_json(tok, out, legacy))
        rc = xf_cli_fail();
    else
        printf("{\"out\":\"%s\",\"vocab_size\":%zu,\"merges\":%zu,\"bytes\":%zu,\"words\":%zu,"
               "\"seconds\":%.3f,\"mb_per_s\":%.2f,\"hash\":\"%016llx\"}\n",
               out, xf_tokenizer_vocab_size(tok), st.merges, st.bytes, st.words, st.seconds,
               st.seconds > 0 ? (double)st.bytes / 1e6 / st.seconds : 0.0,
               (unsigned long long)xf_tokenizer_hash(tok));
    xf_tokenizer_free(tok);
    return rc;
}

int xf_cmd_tokenizer(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
        return usage(argc < 2 ? stderr : stdout, argc < 2 ? 2 : 0);
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return usage(stdout, 0);
    /* argv[1] is the verb: parse the rest as the verb's own command line */
    xf_args a;
    xf_args_init(&a, argc - 1, argv + 1);
    const char *verb = argv[1];
    if (!strcmp(verb, "encode")) return cmd_encode(&a);
    if (!strcmp(verb, "decode")) return cmd_decode(&a);
    if (!strcmp(verb, "train")) return cmd_train(&a);
    if (!strcmp(verb, "info")) return cmd_info(&a);
    if (!strcmp(verb, "convert")) return cmd_convert(&a);
    return xf_cli_error(2, "tokenizer: unknown verb '%s' (train, encode, decode, info, convert; see xfmr tokenizer --help)",
                        verb);
}
