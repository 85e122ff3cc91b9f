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

#include "cli.h"
#include "doc.h"
#include "xfmr/file.h"

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
    /* two series per log in its colour: step loss thin, validation loss thick
     * and in the legend under the log's label (--labels, else its path's tail) */
    char names[MAX_LOGS][128];
    chart_series cs[2 * MAX_LOGS];
    const char *lp = labels;
    for (size_t i = 0; i < nlogs && !rc; i++) {
        if (lp && *lp) {
            const char *comma = strchr(lp, ',');
            size_t nl = comma ? (size_t)(comma - lp) : strlen(lp);
            snprintf(names[i], sizeof names[i], "%.*s", (int)(nl < 40 ? nl : 40), lp);
            lp = comma ? comma + 1 : NULL;
        } else {
            size_t ll = strlen(logs[i]); /* the tail of a long path says the most */
            snprintf(names[i], sizeof names[i], "%s%s", ll > 40 ? "..." : "", logs[i] + (ll > 40 ? ll - 40 : 0));
        }
        cs[2 * i] = (chart_series){NULL, COLORS[i], tr[i].x, tr[i].y, tr[i].n, 0};
        cs[2 * i + 1] = (chart_series){names[i], COLORS[i], va[i].x, va[i].y, va[i].n, 1};
    }
    doc d;
    if (!rc) rc = doc_open(&d);
    if (!rc) {
        chart c = {title, "thin: step loss, thick: validation loss", "step", "loss", 0, 0, 0, 0, cs, 2 * nlogs};
        svg_line_chart(d.f, &c);
        rc = doc_save(&d, out);
        if (!rc) printf("{\"out\":\"%s\",\"logs\":%zu}\n", out, nlogs);
    }
    for (size_t i = 0; i < MAX_LOGS; i++) free(tr[i].x), free(tr[i].y), free(va[i].x), free(va[i].y);
    return rc;
}
