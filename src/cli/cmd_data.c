/* xfmr prepare (text -> token file, and the objective preview) and xfmr corpus
 * (the built-in stories). Each prints a one-line JSON summary on stdout;
 * progress and previews go to stderr (the objective preview without --out,
 * which writes nothing else, goes to stdout). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "xfmr/system.h"
#include "xfmr/file.h"
#include "xfmr/config.h"
#include "xfmr/data.h"
#include "xfmr/model.h"
#include "xfmr/objective.h"
#include "xfmr/rng.h"
#include "xfmr/threads.h"
#include "xfmr/tokenizer.h"

static const char *PREPARE_HELP =
    "usage: xfmr prepare --data IN.txt --out OUT.bin [--tokenizer SPEC] [--preview N]\n"
    "       xfmr prepare --data IN --out DIR/ [--shard-mb M | --shard-tokens N]\n"
    "       xfmr prepare --data FILE --objective OBJ --arch ARCH|--model SPEC [--preview N]\n"
    "  --data FILE        UTF-8 text to encode (with --objective and no --out: text or a token file);\n"
    "                     a glob ('dir/*.txt', quoted) encodes the files in name order\n"
    "  --out FILE         token file to write (atomically; see docs/data.md)\n"
    "  --out DIR/         a directory of shards plus index.json (when OUT ends in '/', is a\n"
    "                     directory, or a shard size is given); train with --data DIR\n"
    "  --shard-mb M       ids per shard file, in MiB (default 64)\n"
    "  --shard-tokens N   ids per shard file (instead of --shard-mb)\n"
    "  --piece-kb K       text read and encoded at a time, in KiB (default 8192): memory\n"
    "                     is bounded by this, not by the size of the input\n"
    "  --tokenizer SPEC   byte (default), a tokenizer file or a checkpoint directory\n"
    "  --preview N        print the first N windows of 64 tokens, decoded, on stderr;\n"
    "                     with --objective: N examples as the model sees them (default 3)\n"
    "  --threads N        encoding threads (default: all cores)\n"
    "Objective preview (docs/objectives.md):\n"
    "  --objective OBJ    clm, prefix, span, mlm, ul2, bart, glm or gmask\n"
    "  --arch ARCH        decoder, encoder, prefix_lm or encoder_decoder (or --model)\n"
    "  --model SPEC       a preset, config file or checkpoint directory giving the arch\n"
    "  --seq N            sequence length; the source length for encoder_decoder (128)\n"
    "  --target-seq N     encoder_decoder target length (default --seq)\n"
    "  --seed S           which examples are drawn (1)\n"
    "  Sentinels print as <extra_id_k>, the mask token as <mask>, UL2's mode tokens\n"
    "  as [R] [S] [X]; a prefix LM's prefix and target are split by ' || '.\n"
    "Text streams through in pieces, encoded in parallel and cut only at newline\n"
    "boundaries that give the same ids as encoding the text whole. Prints one JSON line:\n"
    "  {\"tokens\":N,\"bytes\":B,\"vocab_size\":V,\"tokenizer\":\"name\",\"out\":\"OUT.bin\"}\n"
    "with ,\"shards\":K for a shard directory and ,\"unchecked_cuts\":C when a piece had\n"
    "to be cut without a safe boundary (see docs/data.md §Streaming).\n";

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

/* Decoded text of the first n_windows windows of 64 tokens of data `path`, on stderr. */
static int preview(const xf_tokenizer *tok, const char *path, long n_windows) {
    xf_dataset *ds;
    if (xf_dataset_open(&ds, path, tok)) return xf_cli_fail();
    size_t n = xf_dataset_len(ds);
    int32_t ids[64];
    for (long w = 0; w < n_windows; w++) {
        size_t start = (size_t)w * 64;
        if (start >= n) break;
        size_t m = n - start < 64 ? n - start : 64;
        char *text;
        size_t len;
        if (xf_dataset_copy(ds, start, m, ids) || xf_tokenizer_decode(tok, ids, m, &text, &len)) {
            xf_dataset_free(ds);
            return xf_cli_fail();
        }
        fprintf(stderr, "--- window %ld (tokens %zu..%zu) ---\n", w, start, start + m - 1);
        fwrite(text, 1, len, stderr);
        fputc('\n', stderr);
        free(text);
    }
    xf_dataset_free(ds);
    return 0;
}

/* ---- objective preview ------------------------------------------------------- */

typedef struct {
    const xf_tokenizer *tok;
    const xf_objective_opts *o;
    FILE *f;
} viewer;

/* Bytes with newlines, tabs and other control bytes escaped: one line per field. */
static void put_escaped(FILE *f, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c == '\r')
            fputs("\\r", f);
        else if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
}

/* How a special id prints (into buf, cap bytes), or NULL for an ordinary token:
 * UL2's mode tokens [R] [S] [X], <mask>, <extra_id_k>, and the tokenizer's
 * spelling of BOS/EOS/PAD/UNK. */
static const char *special_name(const viewer *v, int32_t id, char *buf, size_t cap) {
    const xf_objective_opts *o = v->o;
    static const char *const modes[3] = {"[R]", "[S]", "[X]"};
    if (o->kind == XF_OBJ_UL2)
        for (int m = 0; m < 3; m++)
            if (o->mode[m] == id) return modes[m];
    if (o->kind == XF_OBJ_GLM || o->kind == XF_OBJ_GMASK) {
        const int32_t g[4] = {o->glm.mask, o->glm.gmask, o->glm.start, o->glm.end};
        static const char *const names[4] = {"[MASK]", "[gMASK]", "[sop]", "[eop]"};
        for (int i = 0; i < 4; i++)
            if (g[i] == id) return names[i];
    }
    if (id == o->mask) return "<mask>";
    for (size_t k = 0; k < o->n_all_sentinels && k < XF_OBJ_MAX_SENTINELS; k++)
        if (o->sentinel_ids[k] == id) {
            snprintf(buf, cap, "<extra_id_%zu>", k);
            return buf;
        }
    for (int i = 0; i < XF_TOK_SPECIAL_COUNT; i++)
        if (o->special[i] == id) {
            size_t len = 0;
            const char *str = xf_tokenizer_id_to_str(v->tok, id, &len);
            if (!str || len == 0 || len >= cap) return "<special>";
            memcpy(buf, str, len);
            buf[len] = '\0';
            return buf;
        }
    return NULL;
}

/* ids[0..n) as text: runs of ordinary tokens decoded together, specials by name. */
static int show(const viewer *v, const int32_t *ids, size_t n) {
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        char buf[64];
        const char *name = i < n ? special_name(v, ids[i], buf, sizeof buf) : NULL;
        if (i < n && !name) continue;
        if (i > start) {
            char *text;
            size_t len;
            if (xf_tokenizer_decode(v->tok, ids + start, i - start, &text, &len)) return xf_cli_fail();
            put_escaped(v->f, text, len);
            free(text);
        }
        if (name) fputs(name, v->f);
        start = i + 1;
    }
    return 0;
}

/* Example r of a decoder or prefix_lm batch: the sequence, split at the prefix. */
static int show_lm(const viewer *v, const xf_batch_buf *b, size_t r, int32_t *seq) {
    size_t T = b->T, n = (size_t)b->lengths[r], P = (size_t)b->prefix_len[r];
    if (n > T || P > n + 1) return xf_cli_error(1, "prepare: malformed example %zu", r);
    memcpy(seq, b->ids + r * T, n * sizeof *seq);
    if (n) seq[n] = b->targets[r * T + n - 1];
    size_t m = n ? n + 1 : 0, loss = 0;
    for (size_t i = 0; i < n; i++) loss += b->targets[r * T + i] != -1;
    fprintf(v->f, "sequence: ");
    if (P == 0) {
        if (show(v, seq, m)) return 1;
    } else {
        if (show(v, seq, P)) return 1;
        fputs(" || ", v->f);
        if (show(v, seq + P, m - P)) return 1;
    }
    fprintf(v->f, "\nloss on:  %zu tokens%s\n", loss,
            P ? " (those after ' || ')" : " (every token after the first)");
    return 0;
}

/* The bytes of token id as one table cell (specials by name, spaces as U+2423). */
static int cell(const viewer *v, int32_t id, char *buf, size_t cap) {
    char name[64];
    const char *sp = special_name(v, id, name, sizeof name);
    if (sp) {
        snprintf(buf, cap, "%s", sp);
        return 0;
    }
    char *text;
    size_t len, w = 0;
    if (xf_tokenizer_decode(v->tok, &id, 1, &text, &len)) return xf_cli_fail();
    for (size_t i = 0; i < len && w + 8 < cap; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == ' ') w += (size_t)snprintf(buf + w, cap - w, "\u2423");
        else if (c < 0x20 || c == 0x7f) w += (size_t)snprintf(buf + w, cap - w, "\\x%02x", c);
        else buf[w++] = (char)c;
    }
    buf[w] = '\0';
    free(text);
    return 0;
}

/* Tokens ids[0..n) with their position and block position ids under them, one
 * column per token (GLM's 2D positions). */
static int show_2d(const viewer *v, const char *label, const int32_t *ids, const int32_t *pos, const int32_t *blk,
                   size_t n) {
    enum { CELL = 48 };
    char(*buf)[CELL] = malloc((3 * n + 1) * sizeof *buf); /* row k, token i: buf[k * n + i] */
    size_t *width = malloc((3 * n + 1) * sizeof *width);   /* display width of each cell */
    if (!buf || !width) {
        free(buf);
        free(width);
        return xf_cli_error(1, "prepare: out of memory for the position table");
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = cell(v, ids[i], buf[i], CELL);
        snprintf(buf[n + i], CELL, "%d", (int)pos[i]);
        snprintf(buf[2 * n + i], CELL, "%d", (int)blk[i]);
        for (int k = 0; k < 3; k++) { /* UTF-8 lead bytes only */
            size_t w = 0;
            for (const char *p = buf[k * n + i]; *p; p++) w += ((unsigned char)*p & 0xC0) != 0x80;
            width[k * n + i] = w;
        }
    }
    static const char *const rows[3] = {"", "  position", "  block"};
    for (int k = 0; k < 3 && rc == 0; k++) {
        fprintf(v->f, "%-10s", k == 0 ? label : rows[k]);
        for (size_t i = 0; i < n; i++) {
            size_t col = width[i] > width[n + i] ? width[i] : width[n + i];
            if (width[2 * n + i] > col) col = width[2 * n + i];
            /* pad the previous cell's remainder here, so lines carry no trailing blanks */
            fprintf(v->f, " %s", buf[k * n + i]);
            if (i + 1 < n) fprintf(v->f, "%*s", (int)(col - width[k * n + i]), "");
        }
        fputc('\n', v->f);
    }
    free(buf);
    free(width);
    return rc;
}

/* Example r of a glm / gmask batch: part A (bidirectional), part B (the spans,
 * causal), what part B predicts, and both position rows. */
static int show_glm(const viewer *v, const xf_batch_buf *b, size_t r) {
    size_t T = b->T, n = (size_t)b->lengths[r], A = (size_t)b->prefix_len[r];
    if (n > T || A > n) return xf_cli_error(1, "prepare: malformed example %zu", r);
    const int32_t *ids = b->ids + r * T, *tg = b->targets + r * T, *pos = b->position_ids + r * T,
                  *blk = b->block_position_ids + r * T;
    fputs("part A:   ", v->f);
    if (show(v, ids, A)) return 1;
    fputs("\npart B:   ", v->f);
    if (show(v, ids + A, n - A)) return 1;
    fputs("\npredicts: ", v->f);
    if (show(v, tg + A, n - A)) return 1;
    fprintf(v->f, "\nloss on:  %zu tokens (part B)\n", n - A);
    if (show_2d(v, "A", ids, pos, blk, A)) return 1;
    return show_2d(v, "B", ids + A, pos + A, blk + A, n - A);
}

/* Example r of an encoder_decoder batch. */
static int show_seq2seq(const viewer *v, const xf_batch_buf *b, size_t r) {
    size_t T = b->T, S = b->S, ns = (size_t)b->src_lengths[r], nt = (size_t)b->lengths[r];
    if (ns > S || nt > T) return xf_cli_error(1, "prepare: malformed example %zu", r);
    fputs("source:   ", v->f);
    if (show(v, b->src + r * S, ns)) return 1;
    fputs("\ndecoder:  ", v->f);
    if (show(v, b->ids + r * T, nt)) return 1;
    fputs("\ntarget:   ", v->f);
    if (show(v, b->targets + r * T, nt)) return 1;
    fputc('\n', v->f);
    return 0;
}

/* Example r of an encoder (mlm) batch: the corrupted input and what is predicted. */
static int show_mlm(const viewer *v, const xf_batch_buf *b, size_t r) {
    size_t T = b->T;
    const int32_t *ids = b->ids + r * T, *tg = b->targets + r * T;
    fputs("input:    ", v->f);
    if (show(v, ids, T)) return 1;
    fputs("\npredict: ", v->f);
    for (size_t i = 0; i < T; i++) {
        if (tg[i] == -1) continue;
        fprintf(v->f, " %zu:'", i);
        if (show(v, &tg[i], 1)) return 1;
        fputc('\'', v->f);
        if (ids[i] == tg[i]) {
            fputs("(kept)", v->f);
        } else if (ids[i] != v->o->mask) {
            fputs("(random '", v->f);
            if (show(v, &ids[i], 1)) return 1;
            fputs("')", v->f);
        }
    }
    fputc('\n', v->f);
    return 0;
}

/* Draw n examples of objective o from `path` and print them to f. */
static int objective_preview(const xf_tokenizer *tok, const xf_objective_opts *o, const char *path,
                             size_t n, size_t seq_len, size_t target_len, uint64_t seed, FILE *f) {
    int encdec = o->arch == XF_ARCH_ENCODER_DECODER;
    xf_batch_buf b = {.B = n, .T = encdec ? target_len : seq_len, .S = encdec ? seq_len : 0};
    xf_dataset *ds = NULL;
    if (xf_dataset_open(&ds, path, tok)) return xf_cli_fail();
    int rc = 1;
    int32_t *seq = malloc((b.T + 1) * sizeof *seq);
    b.ids = malloc(b.B * b.T * sizeof *b.ids);
    b.targets = malloc(b.B * b.T * sizeof *b.targets);
    b.lengths = malloc(b.B * sizeof *b.lengths);
    b.prefix_len = malloc(b.B * sizeof *b.prefix_len);
    int glm = o->kind == XF_OBJ_GLM || o->kind == XF_OBJ_GMASK;
    if (glm) {
        b.position_ids = malloc(b.B * b.T * sizeof *b.position_ids);
        b.block_position_ids = malloc(b.B * b.T * sizeof *b.block_position_ids);
    }
    if (encdec) {
        b.src = malloc(b.B * b.S * sizeof *b.src);
        b.src_lengths = malloc(b.B * sizeof *b.src_lengths);
    }
    if (!seq || !b.ids || !b.targets || !b.lengths || !b.prefix_len ||
        (encdec && (!b.src || !b.src_lengths)) || (glm && (!b.position_ids || !b.block_position_ids))) {
        rc = xf_cli_error(1, "prepare: out of memory for %zu examples", n);
        goto done;
    }
    xf_rng rng;
    xf_rng_seed(&rng, seed);
    if (xf_objective_batch(o, ds, 0, &rng, &b)) {
        rc = xf_cli_fail();
        goto done;
    }
    viewer v = {tok, o, f};
    rc = 0;
    for (size_t r = 0; r < n && rc == 0; r++) {
        fprintf(f, "--- example %zu: %s on %s", r, xf_objective_name(o->kind), xf_arch_name(o->arch));
        if (encdec)
            fprintf(f, " (source %d, target %d tokens) ---\n", (int)b.src_lengths[r], (int)b.lengths[r]);
        else if (o->arch == XF_ARCH_ENCODER)
            fprintf(f, " (%zu tokens) ---\n", b.T);
        else
            fprintf(f, " (%d tokens, prefix %d) ---\n", (int)b.lengths[r], (int)b.prefix_len[r]);
        rc = encdec ? show_seq2seq(&v, &b, r)
             : o->arch == XF_ARCH_ENCODER ? show_mlm(&v, &b, r)
             : glm                        ? show_glm(&v, &b, r)
                                          : show_lm(&v, &b, r, seq);
    }
    fflush(f);
done:
    free(seq);
    free(b.ids);
    free(b.targets);
    free(b.lengths);
    free(b.prefix_len);
    free(b.src);
    free(b.src_lengths);
    free(b.position_ids);
    free(b.block_position_ids);
    xf_dataset_free(ds);
    return rc;
}

/* The objective's options from --objective and --arch or --model. */
static int objective_setup(const char *name, const char *arch, const char *model,
                           const xf_tokenizer *tok, xf_objective_opts *o) {
    xf_objective kind;
    if (xf_objective_parse(name, &kind)) return xf_cli_fail();
    if ((arch != NULL) == (model != NULL))
        return xf_cli_error(2, "prepare: --objective needs exactly one of --arch ARCH or --model SPEC");
    xf_config cfg;
    xf_config_defaults(&cfg);
    if (model) {
        if (xf_model_open_config(&cfg, model)) return xf_cli_fail();
    } else {
        int a = 0;
        while (a < XF_ARCH_COUNT && strcmp(arch, xf_arch_name((xf_arch)a)) != 0) a++;
        if (a == XF_ARCH_COUNT)
            return xf_cli_error(2, "prepare: unknown --arch '%s' (choose decoder, encoder, "
                                "prefix_lm or encoder_decoder)", arch);
        cfg.arch = (xf_arch)a;
    }
    if (xf_objective_check(kind, cfg.arch) || xf_objective_opts_init(o, kind, &cfg, tok))
        return xf_cli_fail();
    return 0;
}

#define NOT_GIVEN LONG_MIN /* a numeric flag's default when it is absent */

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
    long n_preview = xf_args_long(&a, "preview", NOT_GIVEN);
    long threads = xf_args_long(&a, "threads", 0);
    /* objective preview */
    const char *objective = xf_args_str(&a, "objective", NULL);
    const char *arch = xf_args_str(&a, "arch", NULL);
    const char *model = xf_args_str(&a, "model", NULL);
    long seq = xf_args_long(&a, "seq", NOT_GIVEN);
    long target_seq = xf_args_long(&a, "target-seq", NOT_GIVEN);
    long seed = xf_args_long(&a, "seed", NOT_GIVEN);
    long shard_mb = xf_args_long(&a, "shard-mb", NOT_GIVEN);
    long shard_tokens = xf_args_long(&a, "shard-tokens", NOT_GIVEN);
    long piece_kb = xf_args_long(&a, "piece-kb", 8192);
    if (xf_args_finish(&a)) return 2;
    if ((shard_mb != NOT_GIVEN && (shard_mb < 1 || shard_mb > (1L << 20))) ||
        (shard_tokens != NOT_GIVEN && (shard_tokens < 1 || shard_tokens > (1L << 40))) ||
        (shard_mb != NOT_GIVEN && shard_tokens != NOT_GIVEN) || piece_kb < 16 || piece_kb > (1L << 22))
        return xf_cli_error(2, "prepare: one of --shard-mb in [1, 2^20] or --shard-tokens in [1, 2^40]; "
                            "--piece-kb in [16, 2^22]");
    if (!objective && (arch || model || seq != NOT_GIVEN || target_seq != NOT_GIVEN ||
                       seed != NOT_GIVEN))
        return xf_cli_error(2, "prepare: --arch, --model, --seq, --target-seq and --seed go with "
                            "--objective (see xfmr prepare --help)");
    if (!in || (!out && !objective))
        return xf_cli_error(2, "prepare: --data IN and --out OUT are required (see xfmr prepare --help)");
    if ((n_preview != NOT_GIVEN && n_preview < 0) || threads < 0)
        return xf_cli_error(2, "prepare: --preview and --threads must be >= 0");
    if (objective) {
        if (n_preview == NOT_GIVEN) n_preview = 3;
        if (seq == NOT_GIVEN) seq = 128;
        if (target_seq == NOT_GIVEN) target_seq = seq;
        if (seed == NOT_GIVEN) seed = 1;
        if (n_preview < 1 || n_preview > 10000 || seq < 1 || seq > (1L << 20) || target_seq < 1 ||
            target_seq > (1L << 20) || seed < 0)
            return xf_cli_error(2, "prepare: --preview must be in [1, 10000], --seq and --target-seq "
                                "in [1, 2^20], --seed >= 0");
    }
    if (n_preview == NOT_GIVEN) n_preview = 0;
    if (threads > 0) xf_set_threads((int)threads);

    xf_tokenizer *tok = NULL;
    if (xf_tokenizer_load(&tok, spec)) return xf_cli_fail();
    xf_objective_opts opts;
    int rc = objective ? objective_setup(objective, arch, model, tok, &opts) : 0;
    if (rc || (objective && !out)) {
        if (rc == 0)
            rc = objective_preview(tok, &opts, in, (size_t)n_preview, (size_t)seq, (size_t)target_seq,
                                   (uint64_t)seed, stdout);
        xf_tokenizer_free(tok);
        return rc;
    }
    xf_prepare_opts po = {.piece_bytes = (size_t)piece_kb << 10};
    size_t ol = strlen(out);
    po.sharded = shard_mb != NOT_GIVEN || shard_tokens != NOT_GIVEN || (ol && out[ol - 1] == '/') ||
                 xf_path_is_dir(out);
    size_t width = xf_tokenizer_vocab_size(tok) <= 65536 ? 2 : 4;
    if (shard_tokens != NOT_GIVEN) po.shard_tokens = (size_t)shard_tokens;
    if (shard_mb != NOT_GIVEN) po.shard_tokens = ((size_t)shard_mb << 20) / width;
    meter m = {.t0 = (xf_now_ms() / 1e3), .last = 0, .shown = 0};
    if (isatty(2)) {
        po.progress = on_progress;
        po.ctx = &m;
    }
    xf_prepare_result r;
    xf_status st = xf_data_prepare(tok, in, out, &po, &r);
    if (m.shown) fputc('\n', stderr);
    if (st) {
        rc = xf_cli_fail();
        goto done;
    }
    if (r.unchecked_cuts)
        fprintf(stderr, "xfmr: warning: %zu pieces were cut where no boundary kept the ids of the whole text "
                "(docs/data.md §Streaming)\n", r.unchecked_cuts);
    printf("{\"tokens\":%zu,\"bytes\":%zu,\"vocab_size\":%zu,\"tokenizer\":", r.tokens, r.bytes,
           xf_tokenizer_vocab_size(tok));
    json_str(stdout, xf_tokenizer_name(tok));
    fputs(",\"out\":", stdout);
    json_str(stdout, out);
    if (po.sharded) printf(",\"shards\":%zu", r.shards);
    if (r.unchecked_cuts) printf(",\"unchecked_cuts\":%zu", r.unchecked_cuts);
    fputs("}\n", stdout);
    fflush(stdout);
    if (objective)
        rc = objective_preview(tok, &opts, out, (size_t)n_preview, (size_t)seq, (size_t)target_seq,
                               (uint64_t)seed, stderr);
    else
        rc = n_preview ? preview(tok, out, n_preview) : 0;
done:
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
