/* xfmr routes: what the experts of a Mixture-of-Experts model receive.
 *
 *   xfmr routes --model DIR --text "..." [--layer L] [--out FILE.html|FILE.svg]
 *     each token coloured by its top-1 expert, and a table token -> experts (gates)
 *   xfmr routes --model DIR --file F [--max-tokens N] [--layer L] [--out FILE.html]
 *     per expert over a corpus: share, top tokens, token classes against the
 *     corpus, and how much the token, its class, its position and the part of
 *     the text tell about the expert choice
 *
 * The counting and the information measures live in src/infer/routes.c; the
 * output is explained in docs/routes.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "doc.h"
#include "routes_view.h"
#include "xfmr/file.h"
#include "xfmr/model.h"
#include "xfmr/routes.h"
#include "xfmr/threads.h"
#include "xfmr/tokenizer.h"

#define MAX_TEXT_BYTES ((size_t)1 << 30)
#define DEFAULT_MAX_TOKENS 100000


/* ---- the model ------------------------------------------------------------------- */

typedef struct {
    xf_model *m;
    xf_tokenizer *tok;
    const xf_config *cfg;
    int encdec;
    size_t W;            /* text tokens per window */
    size_t nmoe, E, K;
    size_t *moe;         /* the MoE layers to report */
    size_t nsel;
    int32_t *dec;        /* [W+1] decoder inputs (encoder-decoder) */
    int32_t start;
    const char **stacks; /* [nmoe] for the views */
    size_t *layers;      /* [nmoe] */
    routes_view view;    /* what the renderers see */
} runner;

static void runner_free(runner *r) {
    free(r->moe);
    free(r->dec);
    free(r->stacks);
    free(r->layers);
    xf_tokenizer_free(r->tok);
    xf_model_free(r->m);
}

static const char *stack_name(const runner *r, size_t moe_i) {
    xf_moe_stats st;
    xf_model_moe_stats(r->m, moe_i, &st);
    return st.stack == 0 ? "encoder" : "decoder";
}

static size_t layer_of(const runner *r, size_t moe_i) {
    xf_moe_stats st;
    xf_model_moe_stats(r->m, moe_i, &st);
    return st.layer;
}

/* Whether MoE layer i routes the decoder rows of an encoder-decoder (which
 * start with the start token), as opposed to the text's own tokens. */
static int routes_decoder_rows(const runner *r, size_t i) {
    xf_moe_stats st;
    xf_model_moe_stats(r->m, i, &st);
    return r->encdec && st.stack == 1;
}

static int runner_open(runner *r, const char *dir, long layer, long threads) {
    memset(r, 0, sizeof *r);
    if (!dir) return xf_cli_error(2, "routes: --model DIR (a checkpoint directory) is required");
    xf_set_threads((int)threads);
    if (xf_model_open(&r->m, dir)) return xf_cli_fail();
    r->cfg = xf_model_config(r->m);
    r->nmoe = xf_model_num_moe_layers(r->m);
    if (!r->nmoe) return xf_cli_error(1, "%s: the model has no MoE layers (num_experts = %zu)", dir, r->cfg->num_experts);
    if (xf_model_open_tokenizer(&r->tok, dir)) return xf_cli_fail();
    if (!r->tok) return xf_cli_error(1, "routes: %s carries no tokenizer", dir);
    r->E = r->cfg->num_experts;
    r->K = r->cfg->num_experts_per_tok;
    r->encdec = r->cfg->arch == XF_ARCH_ENCODER_DECODER;
    size_t P = r->cfg->max_position_embeddings;
    r->W = r->encdec ? P - 1 : P;
    if (r->W == 0) return xf_cli_error(1, "%s: max_position_embeddings %zu is too small", dir, P);
    if (r->encdec) {
        r->start = xf_decoder_start_id(r->cfg, xf_tokenizer_special(r->tok, XF_TOK_PAD));
        if (!(r->dec = malloc((r->W + 1) * sizeof *r->dec))) return xf_cli_error(1, "out of memory");
    }
    r->moe = malloc(r->nmoe * sizeof *r->moe);
    r->stacks = malloc(r->nmoe * sizeof *r->stacks);
    r->layers = malloc(r->nmoe * sizeof *r->layers);
    if (!r->moe || !r->stacks || !r->layers) return xf_cli_error(1, "out of memory");
    for (size_t i = 0; i < r->nmoe; i++) r->stacks[i] = stack_name(r, i), r->layers[i] = layer_of(r, i);
    r->view = (routes_view){r->tok, r->E, r->K, xf_router_type_name(r->cfg->router_type), r->encdec, r->W,
                            r->stacks, r->layers};
    for (size_t i = 0; i < r->nmoe; i++)
        if (layer < 0 || layer_of(r, i) == (size_t)layer) r->moe[r->nsel++] = i;
    if (!r->nsel) {
        char list[512];
        size_t o = 0;
        for (size_t i = 0; i < r->nmoe && o < sizeof list - 32; i++)
            o += (size_t)snprintf(list + o, sizeof list - o, "%s%s %zu", i ? ", " : "", stack_name(r, i), layer_of(r, i));
        return xf_cli_error(2, "routes: layer %ld is not an MoE layer (MoE layers: %s)", layer, list);
    }
    return 0;
}

static int runner_encode(runner *r, const char *text, size_t len, int32_t **ids, size_t *n) {
    if (xf_tokenizer_encode(r->tok, text, len, ids, n)) return xf_cli_fail();
    for (size_t i = 0; i < *n; i++)
        if ((*ids)[i] < 0 || (size_t)(*ids)[i] >= r->cfg->vocab_size)
            return xf_cli_error(1, "routes: token id %d is outside the model's vocabulary [0, %zu)", (*ids)[i],
                                r->cfg->vocab_size);
    return 0;
}

static int runner_reserve(runner *r, size_t Tmax) {
    xf_status s = r->encdec ? xf_model_reserve_ex(r->m, 1, Tmax + 1, Tmax, 0) : xf_model_reserve(r->m, 1, Tmax, 0);
    return s ? xf_cli_fail() : 0;
}

/* Inference forward over one window of n text tokens. An encoder-decoder
 * reads the text as its source and, after the start token, as its decoder
 * input (the teacher-forced forward of the text as target). */
static int runner_forward(runner *r, const int32_t *ids, size_t n) {
    xf_batch b = {.B = 1, .T = n, .ids = ids};
    if (r->encdec) {
        r->dec[0] = r->start;
        memcpy(r->dec + 1, ids, n * sizeof *ids);
        b.T = n + 1;
        b.ids = r->dec;
        b.S = n;
        b.src = ids;
    }
    return xf_model_forward_batch(r->m, &b, NULL, NULL) ? xf_cli_fail() : 0;
}

/* Routing of MoE layer i after a forward of n text tokens, checked. */
static int runner_routes(const runner *r, size_t i, size_t n, const int32_t **sel, const float **gate, size_t *rows) {
    size_t N = 0, k = 0;
    if (xf_model_moe_routes(r->m, i, sel, gate, &N, &k)) return xf_cli_fail();
    size_t want = n + (routes_decoder_rows(r, i) ? 1 : 0);
    if (N != want || k != r->K)
        return xf_cli_error(1, "routes: MoE layer %zu routed %zu rows of %zu experts, expected %zu of %zu", i, N, k,
                            want, r->K);
    *rows = N;
    return 0;
}

/* Top-1 expert of a row: the kept assignment with the largest gate, -1 if all were dropped. */
static int top1(const int32_t *sel, const float *gate, size_t K) {
    int best = -1;
    float g = 0;
    for (size_t j = 0; j < K; j++)
        if (sel[j] >= 0 && (best < 0 || gate[j] > g)) best = sel[j], g = gate[j];
    return best;
}

/* ---- --text ------------------------------------------------------------------------ */



static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcasecmp(s + n - m, suf) == 0;
}

static int want_colour(const char *mode) {
    if (!strcmp(mode, "always")) return 1;
    if (!strcmp(mode, "never")) return 0;
    const char *nc = getenv("NO_COLOR");
    return isatty(STDOUT_FILENO) && !(nc && *nc);
}

static int cmd_text(runner *r, const char *dir, const char *text, const char *out, int colour) {
    int32_t *ids = NULL;
    size_t n = 0;
    stream s;
    memset(&s, 0, sizeof s);
    layer_routes *lrs = calloc(r->nsel, sizeof *lrs);
    int rc = lrs ? 0 : xf_cli_error(1, "out of memory");
    if (!rc) rc = runner_encode(r, text, strlen(text), &ids, &n);
    if (!rc && n == 0) rc = xf_cli_error(1, "routes: the text encodes to no tokens");
    if (!rc) rc = stream_build(&s, r->tok, ids, n, 1);
    if (!rc && r->encdec) {
        s.start = r->start;
        if (xf_tokenizer_piece(r->tok, -1, r->start, s.start_text, sizeof s.start_text, &s.start_len))
            s.start_len = (size_t)snprintf(s.start_text, sizeof s.start_text, "<%d>", (int)r->start);
    }
    size_t W = n < r->W ? n : r->W, nwin = n ? (n + W - 1) / W : 0, K = r->K;
    for (size_t i = 0; i < r->nsel && !rc; i++) {
        layer_routes *lr = &lrs[i];
        lr->moe = r->moe[i];
        size_t cap = n + (routes_decoder_rows(r, lr->moe) ? nwin : 0);
        lr->tok = malloc(cap * sizeof *lr->tok);
        lr->sel = malloc(cap * K * sizeof *lr->sel);
        lr->gate = malloc(cap * K * sizeof *lr->gate);
        lr->top = malloc(cap * sizeof *lr->top);
        if (!lr->tok || !lr->sel || !lr->gate || !lr->top) rc = xf_cli_error(1, "out of memory");
    }
    if (!rc) rc = runner_reserve(r, W);
    for (size_t w0 = 0; w0 < n && !rc; w0 += W) {
        size_t wn = n - w0 < W ? n - w0 : W;
        rc = runner_forward(r, ids + w0, wn);
        for (size_t i = 0; i < r->nsel && !rc; i++) {
            layer_routes *lr = &lrs[i];
            const int32_t *sel;
            const float *gate;
            size_t rows;
            rc = runner_routes(r, lr->moe, wn, &sel, &gate, &rows);
            if (rc) break;
            int shift = routes_decoder_rows(r, lr->moe);
            for (size_t t = 0; t < rows; t++) {
                size_t o = lr->rows + t;
                lr->tok[o] = shift ? (int64_t)(w0 + t) - 1 : (int64_t)(w0 + t);
                if (shift && t == 0) lr->tok[o] = -1;
                memcpy(lr->sel + o * K, sel + t * K, K * sizeof *sel);
                memcpy(lr->gate + o * K, gate + t * K, K * sizeof *gate);
                lr->top[o] = top1(sel + t * K, gate + t * K, K);
                for (size_t j = 0; j < K; j++) lr->dropped += sel[t * K + j] < 0;
            }
            lr->rows += rows;
        }
    }
    if (!rc) {
        printf("xfmr routes: %s, %zu tokens (%s tokenizer)", dir, n, xf_tokenizer_name(r->tok));
        if (r->encdec) printf("; encoder layers route the text as the source, decoder layers the start token then the text");
        if (nwin > 1) printf("; %zu windows of up to %zu tokens", nwin, W);
        putchar('\n');
        for (size_t i = 0; i < r->nsel; i++) tty_layer(stdout, &r->view, &s, &lrs[i], colour);
        fflush(stdout);
    }
    doc d;
    if (!rc && out && !(rc = doc_open(&d))) {
        FILE *f = d.f;
        if (ends_with(out, ".svg")) {
            svg_write(f, &r->view, &s, lrs, r->nsel, dir);
        } else {
            routes_html_begin(f, "xfmr routes");
            fputs("<h1>MoE routes</h1>\n<p>", f);
            put_text(f, dir, strlen(dir), T_XML);
            fprintf(f, ", %zu tokens (%s tokenizer). Each token is coloured by its top-1 expert.", n,
                    xf_tokenizer_name(r->tok));
            if (r->encdec)
                fputs(" Encoder layers route the text as the source; decoder layers route the start token, then "
                      "the text.",
                      f);
            fputs("</p>\n", f);
            for (size_t i = 0; i < r->nsel; i++) html_layer(f, &r->view, &s, &lrs[i]);
            html_end(f);
        }
        rc = doc_save(&d, out);
        if (!rc) fprintf(stderr, "wrote %s\n", out);
    }
    for (size_t i = 0; lrs && i < r->nsel; i++) free(lrs[i].tok), free(lrs[i].sel), free(lrs[i].gate), free(lrs[i].top);
    free(lrs);
    stream_free(&s);
    free(ids);
    return rc;
}


static int cmd_file(runner *r, const char *dir, const char *file, long max_tokens, const char *out, FILE *txt) {
    char *text = NULL;
    size_t len = 0, n = 0;
    int32_t *ids = NULL;
    stream s;
    memset(&s, 0, sizeof s);
    xf_routes_acc *acc = calloc(r->nsel, sizeof *acc);
    int32_t *pos = NULL, *seg = NULL, *rid = NULL;
    uint8_t *rcl = NULL;
    int rc = acc ? 0 : xf_cli_error(1, "out of memory");
    if (!rc && xf_file_read_all(file, &text, &len, MAX_TEXT_BYTES)) rc = xf_cli_fail();
    if (!rc) rc = runner_encode(r, text, len, &ids, &n);
    if (!rc && n == 0) rc = xf_cli_error(1, "%s: the file encodes to no tokens", file);
    if (!rc) rc = stream_build(&s, r->tok, ids, n, 0);
    size_t W = r->W, nwin_all = n ? (n + W - 1) / W : 0;
    size_t budget = max_tokens > 0 && (size_t)max_tokens < n ? (size_t)max_tokens : n;
    size_t nwin = n ? (budget + W - 1) / W : 0;
    if (nwin > nwin_all) nwin = nwin_all;
    size_t Tw = n < W ? n : W, rows_max = Tw + (r->encdec ? 1 : 0);
    size_t npos = rows_max < NPOS ? rows_max : NPOS;
    for (size_t i = 0; i < r->nsel && !rc; i++)
        if (xf_routes_acc_init(&acc[i], r->cfg->vocab_size, r->E, r->K, npos ? npos : 1, NSEG)) rc = xf_cli_fail();
    if (!rc) {
        pos = malloc(rows_max * sizeof *pos);
        seg = malloc(rows_max * sizeof *seg);
        rid = malloc(rows_max * sizeof *rid);
        rcl = malloc(rows_max);
        if (!pos || !seg || !rid || !rcl) rc = xf_cli_error(1, "out of memory");
    }
    if (!rc) rc = runner_reserve(r, Tw);
    size_t used = 0, done = 0;
    double cls_rows[XF_TC_COUNT] = {0};
    for (size_t j = 0; j < nwin && !rc; j++) {
        size_t w0 = (j * nwin_all / nwin) * W, wn = n - w0 < W ? n - w0 : W;
        if (wn > budget - used) wn = budget - used;
        if (wn == 0) break;
        rc = runner_forward(r, ids + w0, wn);
        for (size_t t = 0; t < wn && !rc; t++) cls_rows[s.cls[w0 + t]] += 1;
        for (size_t i = 0; i < r->nsel && !rc; i++) {
            const int32_t *sel;
            const float *gate;
            size_t rows;
            rc = runner_routes(r, r->moe[i], wn, &sel, &gate, &rows);
            if (rc) break;
            int shift = routes_decoder_rows(r, r->moe[i]);
            for (size_t t = 0; t < rows; t++) {
                int start = shift && t == 0;
                size_t st = start ? w0 : w0 + t - (size_t)shift; /* the start row counts with the first token */
                rid[t] = start ? r->start : ids[st];
                rcl[t] = start ? (uint8_t)XF_TC_OTHER : s.cls[st];
                pos[t] = (int32_t)(t * npos / rows_max);
                seg[t] = (int32_t)((unsigned long long)st * NSEG / n);
            }
            if (xf_routes_acc_add(&acc[i], rows, rid, rcl, pos, seg, sel)) rc = xf_cli_fail();
        }
        used += wn;
        done++;
    }
    if (!rc) {
        report o = {.f = txt, .html = 0};
        rep_header(&o, &r->view, dir, file, used, n, done, cls_rows);
        for (size_t i = 0; i < r->nsel; i++) rep_layer(&o, &r->view, r->moe[i], &acc[i]);
        fflush(txt);
    }
    doc d;
    if (!rc && out && !(rc = doc_open(&d))) {
        report o = {.f = d.f, .html = 1};
        routes_html_begin(d.f, "xfmr routes");
        rep_header(&o, &r->view, dir, file, used, n, done, cls_rows);
        for (size_t i = 0; i < r->nsel; i++) rep_layer(&o, &r->view, r->moe[i], &acc[i]);
        html_end(d.f);
        rc = doc_save(&d, out);
        if (!rc) fprintf(stderr, "wrote %s\n", out);
    }
    for (size_t i = 0; acc && i < r->nsel; i++) xf_routes_acc_free(&acc[i]);
    free(acc);
    free(pos), free(seg), free(rid), free(rcl);
    stream_free(&s);
    free(ids);
    free(text);
    return rc;
}

int xf_cli_routes_corpus(const char *dir, const char *file, long max_tokens, FILE *txt, const char *html) {
    runner r;
    int rc = runner_open(&r, dir, -1, 0);
    if (!rc) rc = cmd_file(&r, dir, file, max_tokens, html, txt);
    runner_free(&r);
    return rc;
}

int xf_cmd_routes(int argc, char **argv) {
    xf_args a;
    xf_args_init(&a, argc, argv);
    if (xf_args_flag(&a, "help")) {
        puts("usage: xfmr routes --model DIR --text S [--layer L] [--out FILE.html|FILE.svg]\n"
             "       xfmr routes --model DIR --file F [--max-tokens N] [--layer L] [--out FILE.html]\n"
             "  shows which experts the tokens of an MoE model go to (docs/routes.md).\n"
             "  --text: each token on its top-1 expert's colour (a terminal, without NO_COLOR), then a\n"
             "          table token -> experts (gates); --out writes an HTML page or an SVG heatmap.\n"
             "  --file: per expert over a corpus: share, top tokens, token classes, and how much the\n"
             "          token, its class, its position and the part of the text tell about the expert;\n"
             "          the text is cut into windows of the context length, at most --max-tokens tokens\n"
             "          (default 100000; 0 = all) spread evenly over the file.\n"
             "  --layer L   only layer L of its stack (default: every MoE layer)\n"
             "  --color auto|always|never   (default auto: a terminal and NO_COLOR unset)\n"
             "  --threads N");
        return 0;
    }
    const char *dir = xf_args_str(&a, "model", NULL);
    const char *text = xf_args_str(&a, "text", NULL);
    const char *file = xf_args_str(&a, "file", NULL);
    const char *out = xf_args_str(&a, "out", NULL);
    const char *cmode = xf_args_str(&a, "color", "auto");
    long layer = xf_args_long(&a, "layer", -1);
    long max_tokens = xf_args_long(&a, "max-tokens", -1);
    long threads = xf_args_long(&a, "threads", 0);
    if (xf_args_finish(&a)) return 2;
    if (!!text + !!file != 1) return xf_cli_error(2, "routes: give exactly one of --text and --file");
    if (layer < -1) return xf_cli_error(2, "routes: --layer must be >= 0");
    if (text && max_tokens != -1) return xf_cli_error(2, "routes: --max-tokens goes with --file");
    if (max_tokens < -1) return xf_cli_error(2, "routes: --max-tokens must be >= 0");
    if (strcmp(cmode, "auto") && strcmp(cmode, "always") && strcmp(cmode, "never"))
        return xf_cli_error(2, "routes: --color must be auto, always or never");
    if (out && text && !ends_with(out, ".html") && !ends_with(out, ".htm") && !ends_with(out, ".svg"))
        return xf_cli_error(2, "routes: --out must end in .html, .htm or .svg");
    if (out && file && !ends_with(out, ".html") && !ends_with(out, ".htm"))
        return xf_cli_error(2, "routes: with --file, --out writes an HTML report (FILE.html)");
    runner r;
    int rc = runner_open(&r, dir, layer, threads);
    if (!rc)
        rc = text ? cmd_text(&r, dir, text, out, want_colour(cmode))
                  : cmd_file(&r, dir, file, max_tokens < 0 ? DEFAULT_MAX_TOKENS : max_tokens, out, stdout);
    runner_free(&r);
    return rc;
}
