/* xfmr study: flags -> xf_study_opts, a progress line over the whole study,
 * and the report: OUT/report.md, OUT/loss_vs_flops.svg, OUT/report.html (the
 * same report as one self-contained page) and, per MoE model, xfmr routes'
 * corpus summary (OUT/routes_NAME.html). The grid, sizing, training and
 * evaluation are the library's (src/train/study*.c, docs/study.md). */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "doc.h"
#include "routes_view.h"
#include "xfmr/study.h"

static const char *STUDY_HELP =
    "usage: xfmr study --data FILE --budget FLOPS --out DIR [--grid default|FILE.json] [--seeds N] [flags]\n"
    "  trains every model of the grid on the same data at the same training FLOPs (counted as\n"
    "  xfmr bench counts them), sizing each to the budget, evaluates them on the same held-out\n"
    "  text and writes DIR/report.md, DIR/report.html and DIR/loss_vs_flops.svg (docs/study.md).\n"
    "  --data FILE         token file or UTF-8 text (the last 10% is held out)\n"
    "  --budget FLOPS      training FLOPs per model (e.g. 2e13)\n"
    "  --grid default|F    the default grid (decoder/clm, prefix_lm/prefix, prefix_lm/glm,\n"
    "                      encoder_decoder/span, encoder_decoder/bart, encoder/mlm, each dense and\n"
    "                      MoE), or a JSON file {\"models\": [{\"arch\", \"objective\", \"moe\", \"name\",\n"
    "                      \"config\": {config.json fields}}]}\n"
    "  --seeds N           runs of every model (1)\n"
    "  --batch B --seq T   rows per step and tokens per row (8, 128)\n"
    "  --lr LR             peak learning rate (2e-3; cosine to LR/10)\n"
    "  --curve-points N    validation losses per model (10)\n"
    "  --eval-windows N    held-out windows per measure (32)\n"
    "  --tokenizer SPEC    (default byte)   --threads N   --quiet\n"
    "A killed study resumes where it stopped: run the same command again.\n";

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) { g_stop = sig; }

typedef struct {
    int tty, quiet;
} progress;

static void hms(char *buf, size_t cap, double s) {
    long t = s > 0 && s < 1e8 ? (long)s : 0;
    snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
}

static int on_event(const xf_study_event *ev, void *ctx) {
    progress *p = ctx;
    if (ev->warning) fprintf(stderr, "%sxfmr: %s: %s\n", p->tty ? "\r\033[K" : "", ev->name, ev->warning);
    if (p->quiet) return g_stop != 0;
    char eta[32];
    hms(eta, sizeof eta, ev->eta_s);
    if (ev->is_eval) {
        if (!p->tty)
            fprintf(stderr, "study model %zu/%zu %s: step %zu val_loss %.4f\n", ev->k, ev->n, ev->name, ev->step,
                    ev->loss);
        return g_stop != 0;
    }
    if (p->tty)
        fprintf(stderr, "\r\033[Kmodel %zu/%zu %s  step %zu/%zu  loss %.4f  study ETA %s", ev->k, ev->n, ev->name,
                ev->step, ev->steps, ev->loss, eta);
    else if (ev->step == 1 || ev->step == ev->steps || ev->step % 50 == 0)
        fprintf(stderr, "study model %zu/%zu %s: step %zu/%zu loss %.4f study ETA %s\n", ev->k, ev->n, ev->name,
                ev->step, ev->steps, ev->loss, eta);
    return g_stop != 0;
}

/* ---- the report ------------------------------------------------------------------ */

static void first_line(const char *path, const char *key, char *out, size_t cap) {
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (key && strncmp(line, key, strlen(key))) continue;
        char *v = key ? strchr(line, ':') : line;
        if (!v) continue;
        v += key ? 1 : 0;
        while (*v == ' ' || *v == '\t') v++;
        v[strcspn(v, "\n")] = '\0';
        snprintf(out, cap, "%s", v);
        break;
    }
    fclose(f);
}

static const char *COLORS[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                               "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#ad494a"};

static void fmt_num(char *b, size_t cap, double v, const char *fmt) {
    if (isnan(v)) snprintf(b, cap, "–");
    else snprintf(b, cap, fmt, v);
}

/* One table row's cells (the same for Markdown and HTML). */
#define NCOL 15
static const char *HEAD[NCOL] = {"model", "family", "objective", "MoE", "shape", "params", "active params",
                                 "steps", "tokens", "FLOPs", "bits/byte", "denoise loss", "fill acc",
                                 "tokens/s", "train s"};

static void row_cells(const xf_study_result *r, char cell[NCOL][96]) {
    snprintf(cell[0], 96, "%s", r->name);
    snprintf(cell[1], 96, "%s", xf_arch_name(r->arch));
    snprintf(cell[2], 96, "%s", r->objective);
    snprintf(cell[3], 96, "%s", r->moe ? "yes" : "no");
    if (r->dec_layers)
        snprintf(cell[4], 96, "C%zu L%zu+%zu H%zu%s", r->hidden, r->layers, r->dec_layers, r->heads,
                 r->experts ? " E8k2" : "");
    else
        snprintf(cell[4], 96, "C%zu L%zu H%zu%s", r->hidden, r->layers, r->heads, r->experts ? " E8k2" : "");
    snprintf(cell[5], 96, "%zu", r->params);
    snprintf(cell[6], 96, "%zu", r->active_params);
    snprintf(cell[7], 96, "%zu", r->steps);
    snprintf(cell[8], 96, "%.3g", r->tokens);
    snprintf(cell[9], 96, "%.3g", (double)r->steps * r->flops_per_step);
    fmt_num(cell[10], 96, r->scores.bpb, "%.4f");
    fmt_num(cell[11], 96, r->scores.denoise, "%.4f");
    fmt_num(cell[12], 96, r->scores.fill, "%.4f");
    fmt_num(cell[13], 96, r->tokens_per_s, "%.0f");
    fmt_num(cell[14], 96, r->train_s, "%.1f");
}

static const char *MEASURES =
    "Every model is evaluated on the same held-out text (the last 10%% of the data, never trained on):\n"
    "bits/byte is next-token prediction, causal with no prefix, for the models that can predict left to "
    "right (decoder, prefix_lm) over %zu tokens (%.0f bytes); denoise loss is the mean cross-entropy (nats) "
    "on the %zu corrupted tokens of one fixed corruption (T5 spans: 15%% of windows of %zu tokens, mean "
    "span 3, one seed for every model), given to each denoiser in the format it was trained on (mlm: a mask "
    "per token; bart: a mask per span, the decoder rebuilds the window; span: sentinels); fill acc is the "
    "share of those tokens whose most likely id is the original. – means the measure does not apply. "
    "The curves are each model's own training-objective validation loss, so their heights compare models "
    "of one objective only; docs/study.md §Measures.\n";

/* The routes summary of MoE result r as text (malloc'd), with its HTML page. */
static char *routes_summary(const char *out, const xf_study_result *r) {
    char dir[4096], held[4096], html[4096];
    snprintf(dir, sizeof dir, "%s/models/%s", out, r->name);
    snprintf(held, sizeof held, "%s/heldout.txt", out);
    snprintf(html, sizeof html, "%s/routes_%s.html", out, r->name);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    int rc = xf_cli_routes_corpus(dir, held, 20000, f, html);
    fclose(f);
    if (rc) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* With several seeds: per grid row, each measure's mean and range over the seeds. */
static void spread_cell(const xf_study *s, size_t i0, int which, char *out, size_t cap) {
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    size_t n = 0;
    for (size_t k = 0; k < s->opts.seeds && i0 + k < s->n; k++) {
        const xf_study_result *r = &s->r[i0 + k];
        double v = which == 0 ? r->scores.bpb : which == 1 ? r->scores.denoise : r->scores.fill;
        if (!r->done || isnan(v)) continue;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        sum += v;
        n++;
    }
    if (n == 0) snprintf(out, cap, "–");
    else snprintf(out, cap, "%.4f (%.4f–%.4f, n=%zu)", sum / (double)n, lo, hi, n);
}

static void write_spread(const xf_study *s, FILE *m, FILE *h) {
    if (s->opts.seeds < 2) return;
    fprintf(m, "\n## Spread over seeds\n\nMean (min–max, number of seeds) of each measure over the seeds of a grid "
               "row (the seeds change the initialisation and the order of the training windows; the held-out sets "
               "are the same).\n\n| model | bits/byte | denoise loss | fill acc |\n|---|--:|--:|--:|\n");
    fprintf(h, "<h2>Spread over seeds</h2>\n<p>Mean (min–max, number of seeds) of each measure over the seeds of "
               "a grid row.</p>\n<table><tr><th>model</th><th>bits/byte</th><th>denoise loss</th><th>fill acc</th>"
               "</tr>\n");
    for (size_t i = 0; i < s->n; i += s->opts.seeds) {
        if (s->r[i].skip[0]) continue;
        char c[3][96];
        for (int w = 0; w < 3; w++) spread_cell(s, i, w, c[w], sizeof c[w]);
        fprintf(m, "| %s | %s | %s | %s |\n", s->r[i].name, c[0], c[1], c[2]);
        fprintf(h, "<tr><td>");
        xml_escape(h, s->r[i].name, (size_t)-1);
        fprintf(h, "</td><td>%s</td><td>%s</td><td>%s</td></tr>\n", c[0], c[1], c[2]);
    }
    fprintf(h, "</table>\n");
}

static int write_chart(const xf_study *s, FILE *f) {
    chart_series *ser = calloc(s->n ? s->n : 1, sizeof *ser);
    if (!ser) return xf_cli_error(1, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) {
        const xf_study_result *r = &s->r[i];
        if (!r->done || r->n_curve == 0) continue;
        ser[n] = (chart_series){.label = r->name, .color = COLORS[n % (sizeof COLORS / sizeof COLORS[0])],
                                .x = r->curve_flops, .y = r->curve_loss, .n = r->n_curve, .thick = !r->moe};
        n++;
    }
    chart c = {.title = "Validation loss against training FLOPs",
               .subtitle = "each model's own objective (thick: dense, thin: MoE)",
               .xlabel = "training FLOPs", .ylabel = "validation loss", .logx = 1, .width = 860, .height = 480,
               .y_floor = 0, .series = ser, .n = n};
    svg_line_chart(f, &c);
    free(ser);
    return 0;
}

static int write_report(const xf_study *s) {
    const xf_study_opts *o = &s->opts;
    char path[4096], cpu[256], load[128];
    first_line("/proc/cpuinfo", "model name", cpu, sizeof cpu);
    first_line("/proc/loadavg", NULL, load, sizeof load);
    doc svg, md, html;
    int rc = doc_open(&svg);
    if (rc) return rc;
    if ((rc = write_chart(s, svg.f))) {
        doc_discard(&svg);
        return rc;
    }
    fflush(svg.f);
    const char *svg_body = svg.buf ? strstr(svg.buf, "<svg") : NULL;
    char *routes[XF_STUDY_MAX_ROWS * 8] = {0};
    size_t nr = s->n < XF_STUDY_MAX_ROWS * 8 ? s->n : XF_STUDY_MAX_ROWS * 8;
    for (size_t i = 0; i < nr; i++)
        if (s->r[i].done && s->r[i].moe) routes[i] = routes_summary(o->out, &s->r[i]);
    if ((rc = doc_open(&md))) goto out;
    if ((rc = doc_open(&html))) {
        doc_discard(&md);
        goto out;
    }
    FILE *m = md.f, *h = html.f;
    html_begin(h, "xfmr study",
               "body{font-family:sans-serif;max-width:1200px;margin:2em auto}table{border-collapse:collapse}"
               "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}td:first-child{text-align:left}"
               "pre{background:#f6f6f6;padding:8px;overflow-x:auto;font-size:12px}");
    fprintf(m, "# xfmr study\n\n");
    fprintf(h, "<h1>xfmr study</h1>\n<p>");
    char intro[2048];
    snprintf(intro, sizeof intro,
             "Data %s, grid %s, budget %.3g training FLOPs per model (counted as xfmr bench counts them), "
             "%zu seed(s), batch %zu x %zu tokens, peak lr %g. CPU: %s; load average when the report was "
             "written: %s. Sizing: the largest shape of the table whose run sees 20 tokens per active "
             "parameter, MoE twins at the same active parameters (docs/study.md §Sizing).",
             o->data, s->grid_name, o->budget, o->seeds, o->batch, o->seq, (double)o->lr, cpu[0] ? cpu : "?",
             load[0] ? load : "?");
    fprintf(m, "%s\n\n", intro);
    xml_escape(h, intro, (size_t)-1);
    fprintf(h, "</p>\n");
    fprintf(m, "## Results\n\n|");
    fprintf(h, "<h2>Results</h2>\n<table><tr>");
    for (int c = 0; c < NCOL; c++) {
        fprintf(m, " %s |", HEAD[c]);
        fprintf(h, "<th>%s</th>", HEAD[c]);
    }
    fprintf(m, "\n|");
    fprintf(h, "</tr>\n");
    for (int c = 0; c < NCOL; c++) fprintf(m, "%s|", c < 5 ? "---" : "--:");
    fprintf(m, "\n");
    for (size_t i = 0; i < s->n; i++) {
        const xf_study_result *r = &s->r[i];
        if (!r->done) continue;
        char cell[NCOL][96];
        row_cells(r, cell);
        fprintf(m, "|");
        fprintf(h, "<tr>");
        for (int c = 0; c < NCOL; c++) {
            fprintf(m, " %s |", cell[c]);
            fprintf(h, "<td>");
            xml_escape(h, cell[c], (size_t)-1);
            fprintf(h, "</td>");
        }
        fprintf(m, "\n");
        fprintf(h, "</tr>\n");
    }
    fprintf(h, "</table>\n");
    int any_skip = 0, any_open = 0;
    for (size_t i = 0; i < s->n; i++) any_skip |= s->r[i].skip[0] != 0, any_open |= !s->r[i].done && !s->r[i].skip[0];
    if (any_skip || any_open) {
        fprintf(m, "\nNot in the table:\n\n");
        fprintf(h, "<p>Not in the table:</p>\n<ul>\n");
        for (size_t i = 0; i < s->n; i++) {
            const xf_study_result *r = &s->r[i];
            if (r->done) continue;
            const char *why = r->skip[0] ? r->skip : "not finished (the study was stopped; rerun to resume)";
            fprintf(m, "- skipped %s: %s\n", r->name, why);
            fprintf(h, "<li>skipped ");
            xml_escape(h, r->name, (size_t)-1);
            fprintf(h, ": ");
            xml_escape(h, why, (size_t)-1);
            fprintf(h, "</li>\n");
        }
        fprintf(h, "</ul>\n");
    }
    write_spread(s, m, h);
    char meas[2048];
    snprintf(meas, sizeof meas, MEASURES, s->lm_tokens, s->lm_bytes, s->n_masked, s->L);
    fprintf(m, "\n## Measures\n\n%s\n## Validation loss against FLOPs\n\n![validation loss against FLOPs](loss_vs_flops.svg)\n",
            meas);
    fprintf(h, "<h2>Measures</h2>\n<p>");
    xml_escape(h, meas, (size_t)-1);
    fprintf(h, "</p>\n<h2>Validation loss against FLOPs</h2>\n%s\n", svg_body ? svg_body : "");
    int any_moe = 0;
    for (size_t i = 0; i < nr; i++) any_moe |= routes[i] != NULL;
    if (any_moe) {
        fprintf(m, "\n## What the experts learned\n\n`xfmr routes --file` over the held-out text "
                   "(docs/routes.md); each model's HTML page is routes_NAME.html.\n");
        fprintf(h, "<h2>What the experts learned</h2>\n<p>xfmr routes --file over the held-out text "
                   "(docs/routes.md).</p>\n");
        for (size_t i = 0; i < nr; i++) {
            if (!routes[i]) continue;
            fprintf(m, "\n### %s\n\n```text\n%s```\n", s->r[i].name, routes[i]);
            fprintf(h, "<h3>");
            xml_escape(h, s->r[i].name, (size_t)-1);
            fprintf(h, "</h3>\n<pre>");
            xml_escape(h, routes[i], (size_t)-1);
            fprintf(h, "</pre>\n");
        }
    }
    html_end(h);
    snprintf(path, sizeof path, "%s/report.md", o->out);
    if ((rc = doc_save(&md, path))) {
        doc_discard(&html);
        goto out;
    }
    snprintf(path, sizeof path, "%s/report.html", o->out);
    if ((rc = doc_save(&html, path))) goto out;
    snprintf(path, sizeof path, "%s/loss_vs_flops.svg", o->out);
    rc = doc_save(&svg, path);
    for (size_t i = 0; i < nr; i++) free(routes[i]);
    return rc;
out:
    for (size_t i = 0; i < nr; i++) free(routes[i]);
    doc_discard(&svg);
    return rc;
}

int xf_cmd_study(int argc, char **argv) {
    xf_args a;
    xf_args_init(&a, argc, argv);
    if (xf_args_flag(&a, "help")) {
        fputs(STUDY_HELP, stdout);
        return 0;
    }
    xf_study_opts o;
    xf_study_opts_default(&o);
    o.data = xf_args_str(&a, "data", NULL);
    o.out = xf_args_str(&a, "out", NULL);
    o.grid = xf_args_str(&a, "grid", o.grid);
    o.tokenizer = xf_args_str(&a, "tokenizer", NULL);
    o.budget = xf_args_double(&a, "budget", 0);
    long seeds = xf_args_long(&a, "seeds", (long)o.seeds);
    long batch = xf_args_long(&a, "batch", (long)o.batch);
    long seq = xf_args_long(&a, "seq", (long)o.seq);
    long curve = xf_args_long(&a, "curve-points", (long)o.curve_points);
    long windows = xf_args_long(&a, "eval-windows", (long)o.eval_windows);
    long threads = xf_args_long(&a, "threads", 0);
    o.lr = (float)xf_args_double(&a, "lr", o.lr);
    progress pr = {.tty = isatty(2), .quiet = xf_args_flag(&a, "quiet")};
    if (xf_args_finish(&a)) return 2;
    if (!o.data || !o.out || !(o.budget > 0))
        return xf_cli_error(2, "study: --data FILE, --budget FLOPS (> 0) and --out DIR are required "
                               "(see xfmr study --help)");
    if (seeds <= 0 || seeds > 16 || batch <= 0 || seq <= 0 || curve <= 0 || curve > XF_STUDY_MAX_CURVE ||
        windows <= 0 || !(o.lr > 0))
        return xf_cli_error(2, "study: --seeds (1..16), --batch, --seq, --eval-windows, --lr and --curve-points "
                               "(1..%d) must be positive", XF_STUDY_MAX_CURVE);
    o.seeds = (size_t)seeds;
    o.batch = (size_t)batch;
    o.seq = (size_t)seq;
    o.curve_points = (size_t)curve;
    o.eval_windows = (size_t)windows;
    o.threads = (int)threads;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    xf_study *s = NULL;
    xf_status st = xf_study_run(&o, on_event, &pr, &s);
    if (pr.tty && !pr.quiet) fputc('\n', stderr);
    if (st) return xf_cli_fail();
    if (s->interrupted) {
        fprintf(stderr, "xfmr: interrupted: the study's state and the model in training are saved in %s "
                        "(run the same command to continue)\n", o.out);
        xf_study_free(s);
        return 130;
    }
    for (size_t i = 0; i < s->n; i++)
        if (s->r[i].skip[0]) fprintf(stderr, "xfmr: study: skipped %s: %s\n", s->r[i].name, s->r[i].skip);
    int rc = write_report(s);
    if (!rc) printf("wrote %s/report.md, %s/report.html and %s/loss_vs_flops.svg\n", o.out, o.out, o.out);
    xf_study_free(s);
    return rc;
}
