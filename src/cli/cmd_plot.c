/* xfmr plot: training curves from log.jsonl files as an SVG line chart.
 *
 *   xfmr plot --out loss.svg RUN/log.jsonl [OTHER/log.jsonl ...] [--labels a,b]
 *
 * Each log gives two series: the step loss (thin) and the validation loss
 * (thick, with points). Axes: step (x) and loss (y), linear. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "io/file.h"

#define MAX_LOGS 8

typedef struct {
    double *x, *y;
    size_t n, cap;
} series;

static int push(series *s, double x, double y) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 256;
        double *nx = realloc(s->x, cap * sizeof *nx);
        if (!nx) return -1;
        s->x = nx;
        double *ny = realloc(s->y, cap * sizeof *ny);
        if (!ny) return -1;
        s->y = ny;
        s->cap = cap;
    }
    s->x[s->n] = x;
    s->y[s->n] = y;
    s->n++;
    return 0;
}

/* Read one log: lines with "loss" go to train, lines with "val_loss" to val.
 * A last line that is not JSON and has no newline is a torn write: skipped. */
static int read_log(const char *path, series *train, series *val, double from) {
    char *text = NULL;
    size_t len = 0;
    if (xf_file_read_all(path, &text, &len, (size_t)1 << 30)) return xf_cli_fail();
    size_t lineno = 0;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        lineno++;
        if (!*line) continue;
        cJSON *j = cJSON_Parse(line);
        if (!j && !next) {
            /* no newline after it: a write that a kill interrupted (xfmr train drops it on resume) */
            fprintf(stderr, "xfmr: warning: %s:%zu: torn last line skipped (an interrupted write)\n", path, lineno);
            break;
        }
        if (cJSON_GetObjectItemCaseSensitive(j, "skipped")) { /* a step --skip-nonfinite skipped */
            cJSON_Delete(j);
            continue;
        }
        const cJSON *step = cJSON_GetObjectItemCaseSensitive(j, "step");
        const cJSON *loss = cJSON_GetObjectItemCaseSensitive(j, "loss");
        const cJSON *vl = cJSON_GetObjectItemCaseSensitive(j, "val_loss");
        int bad = !cJSON_IsNumber(step) || (!cJSON_IsNumber(loss) && !cJSON_IsNumber(vl));
        int skip = !bad && step->valuedouble < from; /* --from-step: zoom in on the later part */
        if (!bad && !skip && cJSON_IsNumber(loss) && isfinite(loss->valuedouble))
            bad = push(train, step->valuedouble, loss->valuedouble);
        if (!bad && !skip && cJSON_IsNumber(vl) && isfinite(vl->valuedouble))
            bad = push(val, step->valuedouble, vl->valuedouble);
        cJSON_Delete(j);
        if (bad) {
            free(text);
            return xf_cli_error(1, "%s:%zu: not a training log line (need step and loss or val_loss)", path, lineno);
        }
    }
    free(text);
    if (!train->n && !val->n) return xf_cli_error(1, "%s: no training log lines (at or after --from-step)", path);
    return 0;
}

static const char *COLORS[MAX_LOGS] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                       "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};

int xf_cmd_plot(int argc, char **argv) {
    xf_args a;
    xf_args_init(&a, argc, argv);
    if (xf_args_flag(&a, "help")) {
        puts("usage: xfmr plot --out FILE.svg LOG.jsonl [LOG.jsonl ...] [--labels a,b,...] [--title T]\n"
             "                 [--from-step N]\n"
             "  draws step loss (thin) and validation loss (thick) of each training log;\n"
             "  --from-step N leaves out the steps before N (to compare the later part closely)");
        return 0;
    }
    const char *out = xf_args_str(&a, "out", NULL);
    const char *labels = xf_args_str(&a, "labels", NULL);
    const char *title = xf_args_str(&a, "title", "training loss");
    double from = xf_args_double(&a, "from-step", 0);
    const char *logs[MAX_LOGS];
    size_t nlogs = 0;
    for (const char *p; nlogs < MAX_LOGS && (p = xf_args_pos(&a, 0));) logs[nlogs++] = p;
    if (xf_args_finish(&a)) return 2;
    if (!out || !nlogs) return xf_cli_error(2, "plot: --out FILE.svg and at least one log are required");
    if (strpbrk(title, "<>&\"")) return xf_cli_error(2, "plot: --title may not contain < > & or \"");
    series tr[MAX_LOGS] = {{0}}, va[MAX_LOGS] = {{0}};
    int rc = 0;
    for (size_t i = 0; i < nlogs && !rc; i++) rc = read_log(logs[i], &tr[i], &va[i], from);
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (size_t i = 0; i < nlogs && !rc; i++)
        for (int k = 0; k < 2; k++) {
            series *s = k ? &va[i] : &tr[i];
            for (size_t j = 0; j < s->n; j++) {
                x0 = fmin(x0, s->x[j]), x1 = fmax(x1, s->x[j]);
                y0 = fmin(y0, s->y[j]), y1 = fmax(y1, s->y[j]);
            }
        }
    char *svg = NULL;
    size_t svg_len = 0;
    FILE *f = rc ? NULL : open_memstream(&svg, &svg_len);
    if (!rc && !f) rc = xf_cli_error(1, "out of memory");
    if (!rc) {
        if (x1 <= x0) x1 = x0 + 1;
        if (y1 <= y0) y1 = y0 + 1;
        y0 = fmax(0, y0 - 0.05 * (y1 - y0));
        const double W = 720, H = 420, L = 60, R = 20, T = 44, B = 50;
        const double pw = W - L - R, ph = H - T - B;
#define PX(v) (L + ((v) - x0) / (x1 - x0) * pw)
#define PY(v) (T + ph - ((v) - y0) / (y1 - y0) * ph)
        fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" "
                   "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", W, H);
        fprintf(f, "<text x=\"%g\" y=\"20\" text-anchor=\"middle\" font-size=\"15\">%s</text>\n", W / 2, title);
        fprintf(f, "<text x=\"%g\" y=\"34\" text-anchor=\"middle\" fill=\"#555\">thin: step loss, thick: validation loss</text>\n", W / 2);
        for (int t = 0; t <= 5; t++) {
            double yv = y0 + (y1 - y0) * t / 5, xv = x0 + (x1 - x0) * t / 5;
            fprintf(f, "<line x1=\"%g\" x2=\"%g\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                       "<text x=\"%g\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>\n",
                    L, L + pw, PY(yv), PY(yv), L - 6, PY(yv) + 4, yv);
            fprintf(f, "<text x=\"%.1f\" y=\"%g\" text-anchor=\"middle\">%.0f</text>\n", PX(xv), T + ph + 18, xv);
        }
        fprintf(f, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"#333\"/>\n", L, T, pw, ph);
        fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">step</text>\n", L + pw / 2, H - 10);
        fprintf(f, "<text x=\"15\" y=\"%g\" text-anchor=\"middle\" transform=\"rotate(-90 15 %g)\">loss</text>\n", T + ph / 2, T + ph / 2);
        const char *lp = labels;
        for (size_t i = 0; i < nlogs; i++) {
            char name[128];
            size_t nl = 0;
            if (lp && *lp) {
                const char *comma = strchr(lp, ',');
                nl = comma ? (size_t)(comma - lp) : strlen(lp);
                snprintf(name, sizeof name, "%.*s", (int)(nl < 40 ? nl : 40), lp);
                lp = comma ? comma + 1 : NULL;
            } else {
                size_t ll = strlen(logs[i]); /* the tail of a long path says the most */
                snprintf(name, sizeof name, "%s%s", ll > 40 ? "..." : "", logs[i] + (ll > 40 ? ll - 40 : 0));
            }
            for (char *c = name; *c; c++)
                if (*c == '<' || *c == '>' || *c == '&' || *c == '"') *c = '_';
            for (int k = 0; k < 2; k++) {
                series *s = k ? &va[i] : &tr[i];
                if (!s->n) continue;
                fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%s\" %s points=\"", COLORS[i],
                        k ? "2.5" : "1", k ? "" : "stroke-opacity=\"0.45\"");
                for (size_t j = 0; j < s->n; j++) fprintf(f, "%.1f,%.1f ", PX(s->x[j]), PY(s->y[j]));
                fprintf(f, "\"/>\n");
                if (k)
                    for (size_t j = 0; j < s->n; j++)
                        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", PX(s->x[j]), PY(s->y[j]), COLORS[i]);
            }
            double ly = T + 16 + 18.0 * i;
            fprintf(f, "<line x1=\"%g\" x2=\"%g\" y1=\"%g\" y2=\"%g\" stroke=\"%s\" stroke-width=\"2.5\"/>"
                       "<text x=\"%g\" y=\"%g\">%s</text>\n",
                    L + pw - 300, L + pw - 275, ly, ly, COLORS[i], L + pw - 270, ly + 4, name);
        }
#undef PX
#undef PY
        fprintf(f, "</svg>\n");
        fclose(f);
        if (xf_file_write_atomic(out, svg, svg_len)) rc = xf_cli_fail();
        else printf("{\"out\":\"%s\",\"logs\":%zu}\n", out, nlogs);
    }
    free(svg);
    for (size_t i = 0; i < MAX_LOGS; i++) free(tr[i].x), free(tr[i].y), free(va[i].x), free(va[i].y);
    return rc;
}
