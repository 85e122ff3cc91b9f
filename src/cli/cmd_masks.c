/* xfmr masks: the attention pattern of each model family, as terminal grids
 * and optionally one SVG.
 *
 *   xfmr masks --arch ARCH --len N [--prefix P] [--src-len S] [--svg FILE]
 *
 * Grids (rows = queries i, columns = keys j; every cell comes from
 * xf_mask_visible, the attention kernel's rule):
 *   decoder          causal self-attention              N x N
 *   encoder          bidirectional self-attention       N x N
 *   prefix_lm        prefix-LM self-attention, P        N x N   (P = --prefix, default N/2)
 *   encoder_decoder  encoder self-attention (bidir)     S x S   (S = --src-len, default N)
 *                    decoder self-attention (causal)    N x N
 *                    cross-attention (all visible)      N x S   (decoder rows, encoder columns)
 * Each grid's title gives its visible count. ANSI colour only when stdout is a
 * terminal and NO_COLOR is unset. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "doc.h"
#include "xfmr/mask.h"
#include "xfmr/config.h"

#define MASKS_MAX_LEN 512
#define MASKS_MAX_PANELS 3

static const char *const VISIBLE = "\u25a0"; /* ■ */
static const char *const BLOCKED = "\u00b7"; /* · */

typedef struct {
    const char *title;    /* "decoder self-attention" */
    const char *rule;     /* "causal: key j visible iff j <= i" */
    const char *row_axis; /* what a row is: "query position i" */
    const char *col_axis; /* what a column is: "key position j" */
    xf_mask_kind kind;
    size_t rows, cols;
    size_t prefix; /* XF_MASK_PREFIX: the prefix length P (the boundary drawn); else 0 */
} panel;

/* The attentions of one family (see the file comment); returns their number. */
static size_t arch_panels(xf_arch arch, size_t N, size_t P, size_t S, panel *p) {
    static const char *const CAUSAL = "causal: key j visible iff j <= i";
    static const char *const BIDIR = "bidirectional: every key visible";
    switch (arch) {
    case XF_ARCH_DECODER:
        p[0] = (panel){"decoder self-attention", CAUSAL, "query position i", "key position j",
                       XF_MASK_CAUSAL, N, N, 0};
        return 1;
    case XF_ARCH_ENCODER:
        p[0] = (panel){"encoder self-attention", BIDIR, "query position i", "key position j",
                       XF_MASK_BIDIR, N, N, 0};
        return 1;
    case XF_ARCH_PREFIX_LM:
        p[0] = (panel){"prefix-LM self-attention", "prefix LM: key j visible iff j < P or j <= i",
                       "query position i", "key position j", XF_MASK_PREFIX, N, N, P};
        return 1;
    case XF_ARCH_ENCODER_DECODER:
    default:
        p[0] = (panel){"encoder self-attention", BIDIR, "encoder query position",
                       "encoder key position", XF_MASK_BIDIR, S, S, 0};
        p[1] = (panel){"decoder self-attention", CAUSAL, "decoder query position",
                       "decoder key position", XF_MASK_CAUSAL, N, N, 0};
        p[2] = (panel){"cross-attention", "decoder queries x encoder keys: every key visible",
                       "decoder query position", "encoder key position", XF_MASK_BIDIR, N, S, 0};
        return 3;
    }
}

static int visible(const panel *p, size_t i, size_t j) {
    return xf_mask_visible(p->kind, i, j, p->prefix, 0);
}

static size_t count_visible(const panel *p) {
    size_t n = 0;
    for (size_t i = 0; i < p->rows; i++)
        for (size_t j = 0; j < p->cols; j++) n += (size_t)visible(p, i, j);
    return n;
}

static int ndigits(size_t v) {
    int d = 1;
    while (v >= 10) v /= 10, d++;
    return d;
}

/* ---- terminal ------------------------------------------------------------- */

/* One grid. Each column is two characters wide (" ■"); a prefix boundary adds
 * " │" before column P and a "─┼" line after row P-1. */
static void print_panel(const panel *p, int colour) {
    size_t vis = count_visible(p);
    printf("%s, %zu x %zu: %zu of %zu visible\n", p->title, p->rows, p->cols, vis,
           p->rows * p->cols);
    printf("%s\n", p->rule);
    printf("rows: %s, columns: %s\n", p->row_axis, p->col_axis);
    size_t P = p->prefix;
    int cut = p->kind == XF_MASK_PREFIX && P > 0 && P < p->cols;
    if (p->kind == XF_MASK_PREFIX) {
        if (P == 0)
            printf("prefix: empty (P = 0: every position is a target)\n");
        else if (P >= p->cols)
            printf("prefix: positions 0..%zu (P = %zu: no target)\n", P - 1, P);
        else
            printf("prefix: positions 0..%zu (left of \u2502, above \u2500), "
                   "target: %zu..%zu\n", P - 1, P, p->cols - 1);
    }
    int w = ndigits(p->rows ? p->rows - 1 : 0), nd = ndigits(p->cols ? p->cols - 1 : 0);
    /* column labels, one digit per line, most significant first */
    for (int place = nd - 1; place >= 0; place--) {
        size_t pow10 = 1;
        for (int k = 0; k < place; k++) pow10 *= 10;
        printf("%*s", w + 1, "");
        for (size_t j = 0; j < p->cols; j++) {
            if (cut && j == P) printf("  ");
            if (j >= pow10 || place == 0)
                printf(" %c", (char)('0' + (j / pow10) % 10));
            else
                printf("  ");
        }
        putchar('\n');
    }
    for (size_t i = 0; i < p->rows; i++) {
        if (cut && i == P) {
            printf("%*s", w + 1, "");
            for (size_t j = 0; j < p->cols; j++) printf("%s\u2500\u2500", j == P ? "\u2500\u253c" : "");
            putchar('\n');
        }
        printf("%*zu ", w, i);
        for (size_t j = 0; j < p->cols; j++) {
            if (cut && j == P) printf(" \u2502");
            int v = visible(p, i, j);
            if (!colour)
                printf(" %s", v ? VISIBLE : BLOCKED);
            else if (v) /* yellow: a prefix key, green: any other visible key */
                printf(" \033[%sm%s\033[0m", p->kind == XF_MASK_PREFIX && j < P ? "33" : "32", VISIBLE);
            else
                printf(" \033[2m%s\033[0m", BLOCKED);
        }
        putchar('\n');
    }
    putchar('\n');
}

/* ---- SVG ------------------------------------------------------------------- */

#define SVG_VIS "#3b6fb6"        /* a visible key */
#define SVG_VIS_PREFIX "#e8871e" /* a visible prefix key */
#define SVG_BLOCKED "#e6e6e6"
#define SVG_PREFIX_BAND "#fbe3c8" /* behind the prefix positions' labels */
#define SVG_TARGET_BAND "#dce6f4"  /* behind the target positions' labels */

/* tick step: the smallest of 1, 2, 5, 10, 20, 50, ... at least `px` pixels apart */
static size_t tick_step(double cell, double px) {
    static const size_t base[] = {1, 2, 5};
    for (size_t scale = 1;; scale *= 10)
        for (size_t k = 0; k < 3; k++)
            if ((double)(base[k] * scale) * cell >= px || base[k] * scale >= MASKS_MAX_LEN)
                return base[k] * scale;
}

/* Panel p at (x0, y0) = the grid's top-left corner; cell = side of a cell. */
static void svg_panel(FILE *f, const panel *p, double x0, double y0, double cell) {
    double gw = (double)p->cols * cell, gh = (double)p->rows * cell;
    size_t P = p->prefix;
    int is_prefix = p->kind == XF_MASK_PREFIX;
    size_t vis = count_visible(p);
    fprintf(f, "<g>\n<text x=\"%.2f\" y=\"%.2f\" font-size=\"14\" font-weight=\"bold\">", x0, y0 - 92);
    xml_escape(f, p->title, (size_t)-1);
    fprintf(f, "</text>\n<text x=\"%.2f\" y=\"%.2f\" fill=\"#555\">", x0, y0 - 76);
    xml_escape(f, p->rule, (size_t)-1);
    fprintf(f, "</text>\n");
    fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" fill=\"#555\">%zu x %zu, %zu of %zu visible",
            x0, y0 - 62, p->rows, p->cols, vis, p->rows * p->cols);
    if (is_prefix) fprintf(f, ", prefix P = %zu", P);
    fprintf(f, "</text>\n");
    /* prefix / target bands behind the axis labels */
    if (is_prefix) {
        size_t pc = P < p->cols ? P : p->cols, pr = P < p->rows ? P : p->rows;
        fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"16\" fill=\"%s\"/>\n", x0,
                y0 - 18, (double)pc * cell, SVG_PREFIX_BAND);
        fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"16\" fill=\"%s\"/>\n",
                x0 + (double)pc * cell, y0 - 18, gw - (double)pc * cell, SVG_TARGET_BAND);
        fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"28\" height=\"%.2f\" fill=\"%s\"/>\n",
                x0 - 30, y0, (double)pr * cell, SVG_PREFIX_BAND);
        fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"28\" height=\"%.2f\" fill=\"%s\"/>\n",
                x0 - 30, y0 + (double)pr * cell, gh - (double)pr * cell, SVG_TARGET_BAND);
        if (pc > 0)
            fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\" font-size=\"10\" fill=\"#8a4b0c\">prefix</text>\n",
                    x0 + (double)pc * cell / 2, y0 - 22);
        if (pc < p->cols)
            fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\" font-size=\"10\" fill=\"#1f4a85\">target</text>\n",
                    x0 + ((double)pc * cell + gw) / 2, y0 - 22);
    }
    /* axis titles: keys along the top, queries down the left */
    fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">", x0 + gw / 2,
            y0 - (is_prefix ? 36 : 24));
    xml_escape(f, p->col_axis, (size_t)-1);
    fprintf(f, " \u2192</text>\n<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\" "
               "transform=\"rotate(90 %.2f %.2f)\">", x0 - 40, y0 + gh / 2, x0 - 40, y0 + gh / 2);
    xml_escape(f, p->row_axis, (size_t)-1);
    fprintf(f, " \u2192</text>\n");
    /* tick labels at cell centres */
    size_t cs = tick_step(cell, 22), rs = tick_step(cell, 12);
    for (size_t j = 0; j < p->cols; j += cs)
        fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\" font-size=\"10\">%zu</text>\n",
                x0 + ((double)j + 0.5) * cell, y0 - 6, j);
    for (size_t i = 0; i < p->rows; i += rs)
        fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"end\" font-size=\"10\">%zu</text>\n",
                x0 - 4, y0 + ((double)i + 0.5) * cell + 3.5, i);
    /* blocked background, then one rect per run of visible cells of one colour;
     * crispEdges: no anti-aliased seams between rows when cells are < 1 px */
    fprintf(f, "<g shape-rendering=\"crispEdges\">\n<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"/>\n", x0, y0,
            gw, gh, SVG_BLOCKED);
    for (size_t i = 0; i < p->rows; i++)
        for (size_t j = 0; j < p->cols;) {
            if (!visible(p, i, j)) {
                j++;
                continue;
            }
            int in_prefix = is_prefix && j < P;
            size_t e = j + 1;
            while (e < p->cols && visible(p, i, e) && (is_prefix && e < P) == in_prefix) e++;
            fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"/>\n",
                    x0 + (double)j * cell, y0 + (double)i * cell, (double)(e - j) * cell, cell,
                    in_prefix ? SVG_VIS_PREFIX : SVG_VIS);
            j = e;
        }
    fprintf(f, "</g>\n");
    /* cell borders when cells are big enough to see them */
    if (cell >= 6) {
        fprintf(f, "<path stroke=\"white\" stroke-width=\"1\" fill=\"none\" d=\"");
        for (size_t j = 1; j < p->cols; j++)
            fprintf(f, "M%.2f %.2fV%.2f", x0 + (double)j * cell, y0, y0 + gh);
        for (size_t i = 1; i < p->rows; i++)
            fprintf(f, "M%.2f %.2fH%.2f", x0, y0 + (double)i * cell, x0 + gw);
        fprintf(f, "\"/>\n");
    }
    /* the prefix / target boundary */
    if (is_prefix && P > 0 && P < p->cols)
        fprintf(f, "<path stroke=\"#222\" stroke-width=\"2\" stroke-dasharray=\"5 3\" fill=\"none\" "
                   "d=\"M%.2f %.2fV%.2fM%.2f %.2fH%.2f\"/>\n",
                x0 + (double)P * cell, y0, y0 + gh, x0, y0 + (double)P * cell, x0 + gw);
    fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"none\" stroke=\"#333\"/>\n</g>\n",
            x0, y0, gw, gh);
}

/* All the panels side by side in one SVG at `path`; 0 or the exit code. */
static int write_svg(const char *path, const char *arch, const panel *p, size_t np) {
    size_t maxdim = 1;
    for (size_t k = 0; k < np; k++) {
        if (p[k].rows > maxdim) maxdim = p[k].rows;
        if (p[k].cols > maxdim) maxdim = p[k].cols;
    }
    double cell = 480.0 / (double)maxdim;
    if (cell > 28) cell = 28;
    const double L = 70, TOP = 136, GAP = 90, BOTTOM = 60, MINW = 340, MIN_TOTAL = 620;
    double W = L, gh = 0;
    double x[MASKS_MAX_PANELS];
    for (size_t k = 0; k < np; k++) {
        double pw = (double)p[k].cols * cell;
        x[k] = W;
        W += (pw > MINW ? pw : MINW) + (k + 1 < np ? GAP : 20);
        if ((double)p[k].rows * cell > gh) gh = (double)p[k].rows * cell;
    }
    if (W < MIN_TOTAL) W = MIN_TOTAL;
    double H = TOP + gh + BOTTOM;
    doc d;
    if (doc_open(&d)) return 1;
    FILE *f = d.f;
    svg_begin(f, round(W), round(H));
    fprintf(f, "<text x=\"%.2f\" y=\"22\" font-size=\"16\">attention masks: ", L);
    xml_escape(f, arch, (size_t)-1);
    fprintf(f, " (rows = queries, columns = keys)</text>\n");
    for (size_t k = 0; k < np; k++) svg_panel(f, &p[k], x[k], TOP, cell);
    /* legend */
    double ly = TOP + gh + 30;
    int any_prefix = 0;
    for (size_t k = 0; k < np; k++) any_prefix |= p[k].kind == XF_MASK_PREFIX;
    struct {
        const char *fill, *text;
    } items[] = {{SVG_VIS, any_prefix ? "visible (target key)" : "visible"},
                 {SVG_VIS_PREFIX, "visible (prefix key)"},
                 {SVG_BLOCKED, "blocked"}};
    double lx = L;
    for (size_t k = 0; k < 3; k++) {
        if (k == 1 && !any_prefix) continue;
        fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"14\" height=\"14\" fill=\"%s\" stroke=\"#333\"/>"
                   "<text x=\"%.2f\" y=\"%.2f\">%s</text>\n",
                lx, ly - 11, items[k].fill, lx + 20, ly, items[k].text);
        lx += 180;
    }
    svg_end(f);
    return doc_save(&d, path);
}

/* ---- the command ---------------------------------------------------------- */

#define ARCH_LIST "decoder, encoder, prefix_lm, encoder_decoder"

int xf_cmd_masks(int argc, char **argv) {
    xf_args a;
    xf_args_init(&a, argc, argv);
    if (xf_args_flag(&a, "help")) {
        puts("usage: xfmr masks --arch ARCH --len N [--prefix P] [--src-len S] [--svg FILE]\n"
             "  draws which keys each query may attend to (rows = queries, columns = keys)\n"
             "  ARCH: " ARCH_LIST "\n"
             "  --len N      sequence length, 1..512 (the decoder side for encoder_decoder)\n"
             "  --prefix P   prefix_lm: prefix length, 0..N (default N/2)\n"
             "  --src-len S  encoder_decoder: encoder length, 1..512 (default N)\n"
             "  --svg FILE   also write all the grids side by side as one SVG");
        return 0;
    }
    const char *arch_s = xf_args_str(&a, "arch", NULL);
    long len = xf_args_long(&a, "len", 0);
    int has_len = xf_args_str(&a, "len", NULL) != NULL;
    long prefix = xf_args_long(&a, "prefix", -1);
    int has_prefix = xf_args_str(&a, "prefix", NULL) != NULL;
    long src_len = xf_args_long(&a, "src-len", -1);
    int has_src = xf_args_str(&a, "src-len", NULL) != NULL;
    const char *svg = xf_args_str(&a, "svg", NULL);
    if (xf_args_finish(&a)) return 2;

    if (!arch_s) return xf_cli_error(2, "masks: --arch is required (" ARCH_LIST ")");
    xf_arch arch = XF_ARCH_COUNT;
    for (int k = 0; k < XF_ARCH_COUNT; k++)
        if (!strcmp(arch_s, xf_arch_name((xf_arch)k))) arch = (xf_arch)k;
    if (arch == XF_ARCH_COUNT)
        return xf_cli_error(2, "masks: unknown --arch '%s' (" ARCH_LIST ")", arch_s);
    if (!has_len) return xf_cli_error(2, "masks: --len N is required (1..%d)", MASKS_MAX_LEN);
    if (len < 1 || len > MASKS_MAX_LEN)
        return xf_cli_error(2, "masks: --len must be in 1..%d, got %ld", MASKS_MAX_LEN, len);
    size_t N = (size_t)len, P = N / 2, S = N;
    if (has_prefix) {
        if (arch != XF_ARCH_PREFIX_LM)
            return xf_cli_error(2, "masks: --prefix applies to --arch prefix_lm only");
        if (prefix < 0 || prefix > len)
            return xf_cli_error(2, "masks: --prefix must be in 0..%ld (the --len), got %ld", len, prefix);
        P = (size_t)prefix;
    }
    if (has_src) {
        if (arch != XF_ARCH_ENCODER_DECODER)
            return xf_cli_error(2, "masks: --src-len applies to --arch encoder_decoder only");
        if (src_len < 1 || src_len > MASKS_MAX_LEN)
            return xf_cli_error(2, "masks: --src-len must be in 1..%d, got %ld", MASKS_MAX_LEN, src_len);
        S = (size_t)src_len;
    }
    if (svg && !*svg) return xf_cli_error(2, "masks: --svg needs a file name");

    panel p[MASKS_MAX_PANELS];
    size_t np = arch_panels(arch, N, P, S, p);
    if (svg) {
        int rc = write_svg(svg, arch_s, p, np);
        if (rc) return rc;
    }
    const char *no_colour = getenv("NO_COLOR");
    int colour = isatty(STDOUT_FILENO) && !(no_colour && *no_colour);
    printf("attention masks: %s (rows = queries, columns = keys; %s visible, %s blocked)\n\n",
           arch_s, VISIBLE, BLOCKED);
    for (size_t k = 0; k < np; k++) print_panel(&p[k], colour);
    if (svg) printf("svg: %s\n", svg);
    return 0;
}
