/* xfmr routes' rendering (routes_view.h): colours, text for display, the
 * terminal, HTML and SVG views of a text's routes, and the corpus report. */
#include "routes_view.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "doc.h"
#include "xfmr/config.h"

/* ---- colours -----------------------------------------------------------------
 * A fixed palette of xterm-256 background colours, chosen to be told apart;
 * expert e gets PALETTE[e % 16]; the HTML and SVG use the same RGB values. */
static const int PALETTE[] = {27, 208, 34, 201, 51, 226, 93, 160, 118, 94, 213, 30, 19, 142, 217, 88};
#define NPAL (sizeof PALETTE / sizeof PALETTE[0])
#define DROP_COLOUR 250 /* light grey: every assignment of the token was dropped by capacity */
#define TTY_RESET "\x1b[0m"

static void xterm_rgb(int idx, int rgb[3]) {
    if (idx >= 232) {
        rgb[0] = rgb[1] = rgb[2] = 8 + 10 * (idx - 232);
        return;
    }
    int i = idx - 16, c[3] = {i / 36, (i / 6) % 6, i % 6};
    for (int k = 0; k < 3; k++) rgb[k] = c[k] ? 55 + 40 * c[k] : 0;
}

static int colour_of(int e) { return e < 0 ? DROP_COLOUR : PALETTE[(size_t)e % NPAL]; }

static int is_dark(int idx) {
    int r[3];
    xterm_rgb(idx, r);
    return 0.299 * r[0] + 0.587 * r[1] + 0.114 * r[2] < 140;
}

static void tty_open(FILE *f, int e) {
    int c = colour_of(e);
    fprintf(f, "\x1b[48;5;%dm\x1b[38;5;%dm", c, is_dark(c) ? 231 : 16);
}

static void hex_of(int idx, char out[8]) {
    int r[3];
    xterm_rgb(idx, r);
    snprintf(out, 8, "#%02x%02x%02x", (unsigned)r[0] & 0xffu, (unsigned)r[1] & 0xffu, (unsigned)r[2] & 0xffu);
}

/* ---- text for display ----------------------------------------------------------- */

/* Length (2..4) of a valid, displayable UTF-8 character at s[0..n), or 0:
 * malformed, truncated, overlong, a surrogate, past U+10FFFF, U+FFFE/U+FFFF or
 * a C1 control (U+0080..U+009F, which some terminals obey). */
static size_t utf8_char(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    size_t len;
    uint32_t cp, min;
    if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07, min = 0x10000;
    else return 0;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF ||
        (cp >= 0x80 && cp <= 0x9F))
        return 0;
    return len;
}


/* Write bytes for display: printable ASCII and valid UTF-8 as they are; with
 * T_QUOTE newline, tab, CR, quote and backslash as C escapes, else newline,
 * tab and CR as the marks ↵ ⇥ ␍; any other byte (controls, ESC included, and
 * bytes that are not valid UTF-8) as \xNN. T_XML also writes & < > " as
 * entities; T_SPACE writes a space as ␣. Never writes a control byte.
 * Returns the width in characters. */
size_t put_text(FILE *f, const char *s, size_t len, int flags) {
    const unsigned char *u = (const unsigned char *)s;
    size_t w = 0;
    for (size_t i = 0; i < len;) {
        unsigned c = u[i];
        int q = flags & T_QUOTE, x = flags & T_XML;
        if (c == '\n') fputs(q ? "\\n" : "\xe2\x86\xb5", f), w += q ? 2 : 1;
        else if (c == '\t') fputs(q ? "\\t" : "\xe2\x87\xa5", f), w += q ? 2 : 1;
        else if (c == '\r') fputs(q ? "\\r" : "\xe2\x90\x8d", f), w += q ? 2 : 1;
        else if (q && (c == '"' || c == '\\')) fputs(c == '"' ? (x ? "\\&quot;" : "\\\"") : "\\\\", f), w += 2;
        else if (c == ' ' && (flags & T_SPACE)) fputs("\xe2\x90\xa3", f), w++;
        else if (x && c == '&') fputs("&amp;", f), w++;
        else if (x && c == '<') fputs("&lt;", f), w++;
        else if (x && c == '>') fputs("&gt;", f), w++;
        else if (x && c == '"') fputs("&quot;", f), w++;
        else if (c >= 0x20 && c < 0x7f) fputc((int)c, f), w++;
        else {
            size_t n = c >= 0x80 ? utf8_char(u + i, len - i) : 0;
            if (n) {
                fwrite(u + i, 1, n, f);
                i += n;
                w++;
                continue;
            }
            fprintf(f, "\\x%02x", c);
            w += 4;
        }
        i++;
    }
    return w;
}

/* Whether bytes s[0..n) end inside a UTF-8 character (a lead byte whose
 * continuation bytes have not all come). */
static int ends_inside_char(const unsigned char *s, size_t n) {
    for (size_t k = 1; k <= 3 && k <= n; k++) {
        unsigned c = s[n - k];
        if ((c & 0xC0) == 0x80) continue;
        size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        return need > k;
    }
    return 0;
}

/* ---- the token stream ------------------------------------------------------------ */


void stream_free(stream *s) {
    free(s->buf);
    free(s->off);
    free(s->cls);
}

static int is_special(const xf_tokenizer *tok, int32_t id) {
    for (int k = 0; k < XF_TOK_SPECIAL_COUNT; k++)
        if (xf_tokenizer_special(tok, (xf_tok_special)k) == id) return 1;
    size_t ns = xf_tokenizer_sentinel_count(tok);
    return ns && id >= xf_tokenizer_sentinel(tok, ns - 1) && id <= xf_tokenizer_sentinel(tok, 0);
}

int stream_build(stream *s, const xf_tokenizer *tok, const int32_t *ids, size_t n, int keep_text) {
    memset(s, 0, sizeof *s);
    s->ids = ids;
    s->n = n;
    s->start = -1;
    s->cls = malloc(n ? n : 1);
    s->off = keep_text ? malloc((n + 1) * sizeof *s->off) : NULL;
    size_t cap = keep_text ? n + 64 : 0, len = 0;
    s->buf = keep_text ? malloc(cap) : NULL;
    if (!s->cls || (keep_text && (!s->off || !s->buf))) return xf_cli_error(1, "out of memory");
    char piece[XF_TOKENIZER_PIECE_MAX];
    int prev_last = -1;
    for (size_t i = 0; i < n; i++) {
        size_t pl = 0;
        if (xf_tokenizer_piece(tok, i ? ids[i - 1] : -1, ids[i], piece, sizeof piece, &pl)) return xf_cli_fail();
        int sp = is_special(tok, ids[i]);
        s->cls[i] = (uint8_t)(sp ? XF_TC_OTHER : xf_token_class_of(piece, pl, prev_last));
        prev_last = sp || pl == 0 ? -1 : (unsigned char)piece[pl - 1];
        if (!keep_text) continue;
        if (len + pl > cap) {
            while (len + pl > cap) cap *= 2;
            char *nb = realloc(s->buf, cap);
            if (!nb) return xf_cli_error(1, "out of memory");
            s->buf = nb;
        }
        s->off[i] = len;
        memcpy(s->buf + len, piece, pl);
        len += pl;
    }
    if (keep_text) s->off[n] = len;
    return 0;
}

const char *stream_piece(const stream *s, int64_t t, size_t *len) {
    if (t < 0) {
        *len = s->start_len;
        return s->start_text;
    }
    *len = s->off[t + 1] - s->off[t];
    return s->buf + s->off[t];
}


static void layer_title(FILE *f, const routes_view *r, const layer_routes *lr) {
    fprintf(f, "MoE layer %zu: %s layer %zu (%zu experts, top-%zu, %s router); %zu tokens, %zu assignments dropped",
            lr->moe, r->stack[lr->moe], r->layer[lr->moe], r->E, r->K, r->router, lr->rows, lr->dropped);
}

/* Rows [i, j) shown as one piece of text: a UTF-8 character that byte tokens
 * split is shown whole, in the colour of its first token. */
static size_t unit_end(const stream *s, const layer_routes *lr, size_t i, char *buf, size_t cap, size_t *len) {
    size_t j = i, l = 0;
    do {
        size_t pl;
        const char *p = stream_piece(s, lr->tok[j], &pl);
        if (l + pl > cap) break;
        if (j > i && !(pl && ((unsigned char)p[0] & 0xC0) == 0x80)) break;
        memcpy(buf + l, p, pl);
        l += pl;
        j++;
    } while (j < lr->rows && j - i < 4 && ends_inside_char((const unsigned char *)buf, l));
    if (j == i) { /* a piece longer than the buffer: cannot happen (pieces are <= PIECE_MAX) */
        j = i + 1;
        l = 0;
    }
    *len = l;
    return j;
}

static void expert_label(FILE *f, int e, int width, int colour) {
    if (e < 0) {
        fprintf(f, "%-*s", width + 1, "--");
        return;
    }
    if (colour) tty_open(f, e);
    fprintf(f, "e%-*d", width, e);
    if (colour) fputs(TTY_RESET, f);
}

static int digits(size_t v) {
    int d = 1;
    while (v >= 10) v /= 10, d++;
    return d;
}

void tty_layer(FILE *f, const routes_view *r, const stream *s, const layer_routes *lr, int colour) {
    size_t K = r->K;
    int ew = digits(r->E ? r->E - 1 : 0);
    fputc('\n', f);
    layer_title(f, r, lr);
    fputc('\n', f);
    size_t *cnt = calloc(r->E + 1, sizeof *cnt);
    if (cnt)
        for (size_t t = 0; t < lr->rows; t++) cnt[lr->top[t] < 0 ? r->E : (size_t)lr->top[t]]++;
    fprintf(f, "top-1 experts (largest kept gate), tokens each:");
    for (size_t e = 0; e <= r->E && cnt; e++) {
        if (e == r->E && !cnt[e]) break;
        fputs("  ", f);
        if (e == r->E) {
            if (colour) tty_open(f, -1);
            fputs("dropped", f);
            if (colour) fputs(TTY_RESET, f);
        } else {
            expert_label(f, (int)e, 0, colour);
        }
        fprintf(f, " %zu", cnt[e]);
    }
    free(cnt);
    fputc('\n', f);
    if (colour) { /* the text, each token on its top-1 expert's colour */
        char ub[4 * XF_TOKENIZER_PIECE_MAX];
        fputc('\n', f);
        for (size_t i = 0; i < lr->rows;) {
            size_t ul = 0, j = unit_end(s, lr, i, ub, sizeof ub, &ul);
            size_t a = 0;
            if (ul) tty_open(f, lr->top[i]);
            for (size_t b = 0; b < ul; b++)
                if (ub[b] == '\n') { /* close the colour before the line break */
                    put_text(f, ub + a, b - a + 1, 0);
                    fputs(TTY_RESET "\n", f);
                    a = b + 1;
                    if (a < ul) tty_open(f, lr->top[i]);
                }
            if (a < ul) {
                put_text(f, ub + a, ul - a, 0);
                fputs(TTY_RESET, f);
            }
            i = j;
        }
        fputs("\n\n", f);
    }
    fprintf(f, "  %5s  %-*s  experts (gate)%s\n", "pos", TOKEN_COL, "token", K > 1 ? " in rank order" : "");
    for (size_t t = 0; t < lr->rows; t++) {
        size_t pl;
        const char *p = stream_piece(s, lr->tok[t], &pl);
        fprintf(f, "  %5zu  \"", t);
        size_t w = put_text(f, p, pl, T_QUOTE) + 2;
        fprintf(f, "\"%*s", w < TOKEN_COL ? (int)(TOKEN_COL - w) : 0, "");
        for (size_t j = 0; j < K; j++) {
            fputs("  ", f);
            expert_label(f, lr->sel[t * K + j], ew, colour);
            fprintf(f, " %.2f", (double)lr->gate[t * K + j]);
        }
        fputc('\n', f);
    }
}

static const char *HTML_CSS =
    "body{font-family:sans-serif;margin:2em;max-width:80em;color:#222}\n"
    "h2{margin-top:2em;font-size:1.2em}\n"
    ".text{font-family:monospace;white-space:pre-wrap;line-height:1.8;border:1px solid #ccc;padding:.6em}\n"
    ".text span{padding:1px 0}\n"
    "table{border-collapse:collapse;font-size:.9em}\n"
    "td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:right;vertical-align:top}\n"
    "th{background:#f4f4f4}\n"
    "td.tok,th.tok,td.l{text-align:left;font-family:monospace;white-space:pre}\n"
    ".legend span{display:inline-block;padding:0 .4em;margin:0 .1em;font-family:monospace}\n"
    ".note{color:#555;font-size:.9em}\n";

void routes_html_begin(FILE *f, const char *title) {
    /* the style sheet, then one class per expert colour (c0..c15) and dropped (cd) */
    char css[4096];
    size_t n = (size_t)snprintf(css, sizeof css, "%s", HTML_CSS);
    for (size_t c = 0; c <= NPAL && n < sizeof css; c++) {
        int idx = c < NPAL ? PALETTE[c] : DROP_COLOUR;
        char hex[8];
        hex_of(idx, hex);
        if (c < NPAL) n += (size_t)snprintf(css + n, sizeof css - n, ".c%zu{background:%s;color:%s}\n", c, hex,
                                            is_dark(idx) ? "#fff" : "#000");
        else n += (size_t)snprintf(css + n, sizeof css - n, ".cd{background:%s;color:#000;text-decoration:line-through}\n", hex);
    }
    html_begin(f, title, css);
}

static void html_class(FILE *f, int e) {
    if (e < 0) fputs("cd", f);
    else fprintf(f, "c%zu", (size_t)e % NPAL);
}

static void html_assignments(FILE *f, const layer_routes *lr, size_t t, size_t K, int spans) {
    for (size_t j = 0; j < K; j++) {
        int e = lr->sel[t * K + j];
        if (spans) {
            fputs(j ? " <span class=\"" : "<span class=\"", f);
            html_class(f, e);
            fputs("\">", f);
        } else if (j) {
            fputs(", ", f);
        }
        if (e < 0) fputs("dropped", f);
        else fprintf(f, "e%d", e);
        fprintf(f, spans ? "</span> %.2f" : " %.2f", (double)lr->gate[t * K + j]);
    }
}

void html_layer(FILE *f, const routes_view *r, const stream *s, const layer_routes *lr) {
    size_t K = r->K;
    fputs("<h2>", f);
    layer_title(f, r, lr);
    fputs("</h2>\n<p class=\"legend\">top-1 expert (largest kept gate):", f);
    for (size_t e = 0; e < r->E; e++) {
        fputs(" <span class=\"", f);
        html_class(f, (int)e);
        fprintf(f, "\">e%zu</span>", e);
    }
    fputs(" <span class=\"cd\">dropped</span></p>\n<p class=\"note\">Hover a token for its experts and gates.</p>\n"
          "<div class=\"text\">",
          f);
    char ub[4 * XF_TOKENIZER_PIECE_MAX];
    for (size_t i = 0; i < lr->rows;) {
        size_t ul = 0, j = unit_end(s, lr, i, ub, sizeof ub, &ul);
        fputs("<span class=\"", f);
        html_class(f, lr->top[i]);
        fputs("\" title=\"", f);
        for (size_t t = i; t < j; t++) {
            size_t pl;
            const char *p = stream_piece(s, lr->tok[t], &pl);
            fprintf(f, "%s%zu &quot;", t > i ? "; " : "", t);
            put_text(f, p, pl, T_QUOTE | T_XML);
            fputs("&quot;: ", f);
            html_assignments(f, lr, t, K, 0);
        }
        fputs("\">", f);
        size_t a = 0;
        for (size_t b = 0; b < ul; b++)
            if (ub[b] == '\n') {
                put_text(f, ub + a, b - a + 1, T_XML);
                fputc('\n', f);
                a = b + 1;
            }
        put_text(f, ub + a, ul - a, T_XML);
        fputs("</span>", f);
        i = j;
    }
    fputs("</div>\n<table>\n<tr><th>pos</th><th class=\"tok\">token</th><th class=\"tok\">experts (gate)</th></tr>\n", f);
    for (size_t t = 0; t < lr->rows; t++) {
        size_t pl;
        const char *p = stream_piece(s, lr->tok[t], &pl);
        fprintf(f, "<tr><td>%zu</td><td class=\"tok\">&quot;", t);
        put_text(f, p, pl, T_QUOTE | T_XML);
        fputs("&quot;</td><td class=\"l\">", f);
        html_assignments(f, lr, t, K, 1);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

/* SVG heatmap: one panel per layer, experts down, tokens across, the cell of
 * (token, expert) shaded by the gate weight; dropped assignments outlined in red. */
void svg_write(FILE *f, const routes_view *r, const stream *s, const layer_routes *lrs, size_t nl, const char *dir) {
    const double cell = 14, left = 64, right = 24, title_h = 34, label_h = 64, gap = 26;
    size_t K = r->K, maxrows = 0;
    for (size_t i = 0; i < nl; i++) maxrows = lrs[i].rows > maxrows ? lrs[i].rows : maxrows;
    double panel_h = title_h + label_h + (double)r->E * cell + gap;
    double W = left + (double)maxrows * cell + right, H = 72 + (double)nl * panel_h;
    if (W < 520) W = 520;
    svg_begin(f, W, H);
    fprintf(f, "<text x=\"10\" y=\"20\" font-size=\"15\">MoE routes of ");
    put_text(f, dir, strlen(dir), T_XML);
    fprintf(f, "</text>\n<text x=\"10\" y=\"38\" fill=\"#555\">cell shade = gate weight (white 0, dark 1); red outline = "
               "dropped by capacity</text>\n");
    fprintf(f, "<text x=\"%g\" y=\"52\" text-anchor=\"end\" fill=\"#555\">gate</text>", W - 160);
    for (int k = 0; k <= 4; k++)
        fprintf(f, "<rect x=\"%g\" y=\"42\" width=\"12\" height=\"12\" fill=\"#08306b\" fill-opacity=\"%.2f\" "
                   "stroke=\"#ccc\"/><text x=\"%g\" y=\"66\" text-anchor=\"middle\" font-size=\"9\" fill=\"#555\">%.1f</text>",
                W - 150 + 26.0 * k, 0.2 + 0.2 * k, W - 144 + 26.0 * k, 0.2 + 0.2 * k);
    fputc('\n', f);
    for (size_t i = 0; i < nl; i++) {
        const layer_routes *lr = &lrs[i];
        double y0 = 72 + (double)i * panel_h, gy = y0 + title_h + label_h;
        fprintf(f, "<g>\n<text x=\"10\" y=\"%g\" font-size=\"13\">", y0 + 20);
        layer_title(f, r, lr);
        fputs("</text>\n", f);
        fprintf(f, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"#fafafa\" stroke=\"#bbb\"/>\n", left, gy,
                (double)lr->rows * cell, (double)r->E * cell);
        for (size_t e = 0; e < r->E; e++)
            fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"end\" font-family=\"monospace\" font-size=\"10\">e%zu</text>\n",
                    left - 6, gy + ((double)e + 0.75) * cell, e);
        for (size_t t = 0; t < lr->rows; t++) {
            size_t pl;
            const char *p = stream_piece(s, lr->tok[t], &pl);
            double x = left + ((double)t + 0.7) * cell;
            fprintf(f, "<text transform=\"translate(%g,%g) rotate(-60)\" font-family=\"monospace\" font-size=\"10\">", x,
                    gy - 4);
            put_text(f, p, pl > 12 ? 12 : pl, T_QUOTE | T_XML | T_SPACE);
            fputs("</text>\n", f);
            for (size_t j = 0; j < K; j++) {
                int e = lr->sel[t * K + j];
                float g = lr->gate[t * K + j];
                double op = g < 0 ? 0 : g > 1 ? 1 : g;
                /* a dropped assignment's expert is unknown (sel = -1): mark the token's column */
                if (e < 0) {
                    fprintf(f, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"#d62728\" "
                               "stroke-width=\"1.5\"><title>%zu: dropped %.2f</title></rect>\n",
                            left + (double)t * cell, gy, cell, (double)r->E * cell, t, (double)g);
                    continue;
                }
                fprintf(f, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"#08306b\" fill-opacity=\"%.2f\"><title>%zu &quot;",
                        left + (double)t * cell, gy + (double)e * cell, cell, cell, op, t);
                put_text(f, p, pl, T_QUOTE | T_XML);
                fprintf(f, "&quot;: e%d %.2f</title></rect>\n", e, (double)g);
            }
        }
        fputs("</g>\n", f);
    }
    svg_end(f);
}

/* ---- --file ------------------------------------------------------------------------ */

/* The token's text for a report: its piece as it reads in running text (a
 * SentencePiece word start keeps its space: prev is the token itself, never BOS). */
static size_t token_text(const xf_tokenizer *tok, int32_t id, char *buf, size_t cap) {
    size_t len = 0;
    if (xf_tokenizer_piece(tok, id, id, buf, cap, &len)) return 0;
    return len;
}


static void rep_quoted(report *o, const xf_tokenizer *tok, int32_t id) {
    char buf[XF_TOKENIZER_PIECE_MAX];
    size_t len = token_text(tok, id, buf, sizeof buf);
    fputs(o->html ? "&quot;" : "\"", o->f);
    put_text(o->f, buf, len, T_QUOTE | (o->html ? T_XML : 0));
    fputs(o->html ? "&quot;" : "\"", o->f);
}

void rep_layer(report *o, const routes_view *r, size_t moe_i, const xf_routes_acc *a) {
    FILE *f = o->f;
    size_t E = r->E, K = r->K;
    double assigned = a->rows * (double)K;
    if (o->html) fputs("<h2>", f);
    else fputs("\n== ", f);
    fprintf(f, "MoE layer %zu: %s layer %zu (%zu experts, top-%zu, %s router): %.0f tokens, %.0f assignments, %.0f dropped",
            moe_i, r->stack[moe_i], r->layer[moe_i], E, K, r->router, a->rows, assigned, a->dropped);
    fputs(o->html ? "</h2>\n" : "\n", f);

    /* what the expert choice depends on */
    xf_routes_info in[XF_RV_COUNT];
    for (int v = 0; v < XF_RV_COUNT; v++) xf_routes_info_of(a, (xf_routes_var)v, &in[v]);
    if (o->html) {
        fprintf(f, "<p>What the expert choice depends on, in bits. H(expert) = %.3f. <i>chance</i> is what the estimate "
                   "gives when X and the expert are unrelated.</p>\n<table>\n<tr><th class=\"tok\">X</th><th>I(X; expert)</th>"
                   "<th>H(expert | X)</th><th>chance</th><th>I / H(expert)</th><th>values of X</th></tr>\n",
                in[0].h_expert);
    } else {
        fprintf(f, "what the expert choice depends on (bits; H(expert) = %.3f; chance = the estimate with no dependence):\n",
                in[0].h_expert);
        fprintf(f, "  %-14s %12s %14s %8s %14s %7s\n", "X", "I(X;expert)", "H(expert|X)", "chance", "I/H(expert)",
                "values");
    }
    for (int v = 0; v < XF_RV_COUNT; v++) {
        double frac = in[v].h_expert > 0 ? in[v].mi / in[v].h_expert : 0;
        if (o->html)
            fprintf(f, "<tr><td class=\"tok\">%s</td><td>%.3f</td><td>%.3f</td><td>%.3f</td><td>%.1f%%</td><td>%zu</td></tr>\n",
                    xf_routes_var_name((xf_routes_var)v), in[v].mi, in[v].h_cond, in[v].chance, 100 * frac, in[v].values);
        else
            fprintf(f, "  %-14s %12.3f %14.3f %8.3f %13.1f%% %7zu\n", xf_routes_var_name((xf_routes_var)v), in[v].mi,
                    in[v].h_cond, in[v].chance, 100 * frac, in[v].values);
    }
    if (o->html) fputs("</table>\n", f);

    /* experts: share, class concentration, class distribution */
    double all[XF_TC_COUNT];
    xf_routes_class_dist(a, XF_ROUTES_ALL, all);
    if (o->html) {
        fputs("<p>Token classes of each expert's assignments against all assignments; KL in bits; lift = expert share "
              "of the class / overall share.</p>\n<table>\n<tr><th class=\"tok\">expert</th><th>share</th><th>KL</th>"
              "<th class=\"tok\">max lift</th>",
              f);
        for (int c = 0; c < XF_TC_COUNT; c++) fprintf(f, "<th>%s</th>", xf_token_class_name((xf_token_class)c));
        fputs("</tr>\n", f);
    } else {
        fputs("\nexpert  share   KL(classes)  max lift        ", f);
        for (int c = 0; c < XF_TC_COUNT; c++) fprintf(f, " %11s", xf_token_class_name((xf_token_class)c));
        fputc('\n', f);
    }
    for (size_t e = 0; e <= E; e++) {
        int is_all = e == E;
        double q[XF_TC_COUNT];
        xf_routes_class_dist(a, is_all ? XF_ROUTES_ALL : e, q);
        double share = is_all ? (assigned > 0 ? (assigned - a->dropped) / assigned : 0) : xf_routes_share(a, e);
        double kl = is_all ? NAN : xf_routes_class_kl(a, e);
        xf_token_class which = XF_TC_OTHER;
        double lift = is_all ? NAN : xf_routes_class_max_lift(a, e, LIFT_MIN_SHARE, &which);
        char name[32], liftb[48], klb[16];
        if (is_all) snprintf(name, sizeof name, "all");
        else snprintf(name, sizeof name, "e%zu", e);
        if (isnan(lift)) snprintf(liftb, sizeof liftb, "-");
        else snprintf(liftb, sizeof liftb, "%.2f %s", lift, xf_token_class_name(which));
        if (isnan(kl)) snprintf(klb, sizeof klb, "-");
        else snprintf(klb, sizeof klb, "%.3f", kl);
        if (o->html) {
            fputs("<tr><td class=\"tok\">", f);
            if (!is_all) {
                fputs("<span class=\"", f);
                html_class(f, (int)e);
                fprintf(f, "\">%s</span>", name);
            } else {
                fputs("<b>all</b>", f);
            }
            fprintf(f, "</td><td>%.1f%%</td><td>%s</td><td class=\"tok\">%s</td>", 100 * share, klb, liftb);
            for (int c = 0; c < XF_TC_COUNT; c++) fprintf(f, "<td>%.1f%%</td>", 100 * q[c]);
            fputs("</tr>\n", f);
        } else {
            fprintf(f, "%-6s %6.1f%%  %11s  %-15s", name, 100 * share, klb, liftb);
            for (int c = 0; c < XF_TC_COUNT; c++) fprintf(f, " %10.1f%%", 100 * q[c]);
            fputc('\n', f);
        }
    }
    if (o->html) fputs("</table>\n", f);

    /* top tokens */
    if (o->html)
        fputs("<p>The tokens each expert receives most: count, and the share of that token's occurrences sent to "
              "the expert (a token's shares over the experts add up to k, less what capacity dropped).</p>\n<table>\n<tr><th class=\"tok\">expert</th>"
              "<th class=\"tok\">top tokens</th></tr>\n",
              f);
    else
        fprintf(f, "\ntop %d tokens per expert: \"text\" count (share of that token's occurrences routed here;\n"
                   "a token's shares over the experts add up to %zu, less what capacity dropped)\n",
                TOP_TOKENS, K);
    for (size_t e = 0; e < E; e++) {
        int32_t ids[TOP_TOKENS];
        double cnt[TOP_TOKENS];
        size_t nt = xf_routes_top_tokens(a, e, TOP_TOKENS, ids, cnt);
        if (o->html) {
            fputs("<tr><td class=\"tok\"><span class=\"", f);
            html_class(f, (int)e);
            fprintf(f, "\">e%zu</span></td><td class=\"l\">", e);
        } else {
            fprintf(f, "  e%-4zu", e);
        }
        for (size_t i = 0; i < nt; i++) {
            if (!o->html && i == 5) fputs("\n       ", f);
            fputs(i ? "  " : "", f);
            rep_quoted(o, r->tok, ids[i]);
            fprintf(f, " %.0f (%.0f%%)", cnt[i], 100 * cnt[i] / a->token[ids[i]]);
        }
        if (!nt) fputs("(nothing)", f);
        fputs(o->html ? "</td></tr>\n" : "\n", f);
    }
    if (o->html) fputs("</table>\n", f);
}

void rep_header(report *o, const routes_view *r, const char *dir, const char *file, size_t used, size_t n,
                       size_t nwin, const double *cls_rows) {
    FILE *f = o->f;
    if (o->html) {
        fputs("<h1>MoE routes over a corpus</h1>\n<p>", f);
        put_text(f, dir, strlen(dir), T_XML);
        fputs(" on ", f);
        put_text(f, file, strlen(file), T_XML);
        fputs(": ", f);
    } else {
        fprintf(f, "xfmr routes: %s on %s: ", dir, file);
    }
    fprintf(f, "%zu of %zu tokens (%s tokenizer) in %zu windows of up to %zu tokens", used, n, xf_tokenizer_name(r->tok),
            nwin, r->W);
    if (used < n) fputs(", spread evenly over the text", f);
    if (r->encdec) fputs("; decoder layers also route one start token per window", f);
    fputs(o->html ? ".</p>\n<p>" : "\n", f);
    double tot = 0;
    for (int c = 0; c < XF_TC_COUNT; c++) tot += cls_rows[c];
    fputs("corpus token classes:", f);
    for (int c = 0; c < XF_TC_COUNT; c++)
        fprintf(f, "%s %s %.1f%%", c ? "," : "", xf_token_class_name((xf_token_class)c),
                tot > 0 ? 100 * cls_rows[c] / tot : 0.0);
    fprintf(f, "%s(position: %d buckets of the window; text segment: %d equal parts of the text, a proxy for topic)%s",
            o->html ? "</p>\n<p class=\"note\">" : "\n", NPOS, NSEG, o->html ? "</p>\n" : "\n");
}
