/* xfmr routes' rendering (src/cli/routes_view.c): the token routes of a text
 * in the terminal, as an HTML page or an SVG heatmap, and the corpus report
 * (what src/infer/routes.c counted) as text or HTML. cmd_routes.c runs the
 * model and collects; this file only draws. */
#ifndef XF_CLI_ROUTES_VIEW_H
#define XF_CLI_ROUTES_VIEW_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "xfmr/routes.h"
#include "xfmr/tokenizer.h"

#define TOP_TOKENS 10
#define NPOS 16             /* position-in-window buckets */
#define NSEG 16             /* text segments (equal shares of the file's tokens) */
#define TOKEN_COL 14        /* width of the token column in the terminal table */
#define LIFT_MIN_SHARE 0.01 /* max lift only over classes with >= 1% of the assignments */

/* What the views need to know of the model. */
typedef struct {
    const xf_tokenizer *tok;
    size_t E, K;
    const char *router;      /* router type name */
    int encdec;
    size_t W;                /* text tokens per window */
    const char *const *stack;/* [MoE layer] "encoder" or "decoder" */
    const size_t *layer;     /* [MoE layer] layer index within its stack */
} routes_view;

/* The text's tokens with the bytes each contributes (its piece after the
 * previous token) and its class. The decoder of an encoder-decoder also reads
 * a start token first; rows refer to it as token -1. */
typedef struct {
    const int32_t *ids;
    size_t n;
    char *buf;        /* pieces, back to back */
    size_t *off;      /* [n+1] */
    uint8_t *cls;     /* [n] */
    int32_t start;    /* decoder start token (encoder-decoder) or -1 */
    char start_text[64];
    size_t start_len;
} stream;

/* Pieces are always computed; keep_text = 0 skips storing them (corpus mode).
 * 0 or the exit code (message printed). */
int stream_build(stream *s, const xf_tokenizer *tok, const int32_t *ids, size_t n, int keep_text);
void stream_free(stream *s);
/* Bytes of stream token t (-1: the decoder start token). */
const char *stream_piece(const stream *s, int64_t t, size_t *len);

/* The routes of one MoE layer over a text. */
typedef struct {
    size_t moe;      /* MoE layer index */
    size_t rows;
    int64_t *tok;    /* [rows] stream token of each row, -1 = decoder start */
    int32_t *sel;    /* [rows,K] */
    float *gate;     /* [rows,K] */
    int *top;        /* [rows] */
    size_t dropped;
} layer_routes;

/* Display flags of put_text. */
enum { T_QUOTE = 1, T_XML = 2, T_SPACE = 4 };
/* Bytes for display (valid UTF-8 as it is, the rest escaped; see the .c);
 * returns the width in characters. */
size_t put_text(FILE *f, const char *s, size_t len, int flags);

/* --text views */
void tty_layer(FILE *f, const routes_view *r, const stream *s, const layer_routes *lr, int colour);
void routes_html_begin(FILE *f, const char *title); /* the page with the expert colour classes */
void html_layer(FILE *f, const routes_view *r, const stream *s, const layer_routes *lr);
void svg_write(FILE *f, const routes_view *r, const stream *s, const layer_routes *lrs, size_t nl, const char *dir);

/* --file report, as text (html = 0) or HTML */
typedef struct {
    FILE *f;
    int html;
} report;
void rep_header(report *o, const routes_view *r, const char *dir, const char *file, size_t used, size_t n,
                size_t nwin, const double *cls_rows);
void rep_layer(report *o, const routes_view *r, size_t moe_i, const xf_routes_acc *a);

/* xfmr routes --file's corpus summary of the MoE checkpoint `dir` over `file`
 * (at most max_tokens tokens), as text to txt and, with html != NULL, as an
 * HTML page there (cmd_routes.c; xfmr study reports it per MoE model). 0 or
 * the exit code (message printed). */
int xf_cli_routes_corpus(const char *dir, const char *file, long max_tokens, FILE *txt, const char *html);

#endif
