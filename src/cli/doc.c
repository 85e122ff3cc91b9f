/* Documents the CLI writes (doc.h): in-memory building, atomic saving, XML
 * escaping, the SVG and HTML frames and the line chart. */
#include "doc.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "xfmr/file.h"

int doc_open(doc *d) {
    memset(d, 0, sizeof *d);
    d->f = open_memstream(&d->buf, &d->len);
    return d->f ? 0 : xf_cli_error(1, "out of memory");
}

void doc_discard(doc *d) {
    if (d->f) fclose(d->f);
    free(d->buf);
    memset(d, 0, sizeof *d);
}

int doc_save(doc *d, const char *path) {
    int rc = 0;
    if (!d->f || fclose(d->f) != 0) rc = xf_cli_error(1, "out of memory");
    d->f = NULL;
    struct stat st;
    if (!rc && stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        /* a device or a pipe (/dev/stdout, /dev/full): write through it; renaming
         * a temporary file over it would replace the device */
        FILE *f = fopen(path, "wb");
        if (!f) {
            rc = xf_cli_error(1, "cannot write %s: %s", path, strerror(errno));
        } else {
            size_t w = fwrite(d->buf, 1, d->len, f);
            int bad = w != d->len || fflush(f) != 0;
            int e = errno;
            if (fclose(f) != 0 && !bad) bad = 1, e = errno;
            if (bad) rc = xf_cli_error(1, "cannot write %s: %s", path, strerror(e));
        }
    } else if (!rc && xf_file_write_atomic(path, d->buf, d->len)) {
        rc = xf_cli_fail();
    }
    free(d->buf);
    memset(d, 0, sizeof *d);
    return rc;
}

void xml_escape(FILE *f, const char *s, size_t n) {
    for (size_t i = 0; n == (size_t)-1 ? s[i] != '\0' : i < n; i++) {
        switch (s[i]) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(s[i], f);
        }
    }
}

void svg_begin(FILE *f, double W, double H) {
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" "
               "font-family=\"sans-serif\" font-size=\"12\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            W, H);
}

void svg_end(FILE *f) { fputs("</svg>\n", f); }

void svg_text(FILE *f, double x, double y, const char *attrs, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(f, "<text x=\"%.2f\" y=\"%.2f\"%s%s>", x, y, attrs ? " " : "", attrs ? attrs : "");
    xml_escape(f, buf, (size_t)-1);
    fputs("</text>\n", f);
}

void html_begin(FILE *f, const char *title, const char *css) {
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", f);
    xml_escape(f, title, (size_t)-1);
    fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", css ? css : "");
}

void html_end(FILE *f) { fputs("</body>\n</html>\n", f); }

/* ---- the line chart ----------------------------------------------------------
 *
 * Plot area [L, L + pw] x [T, T + ph]; x and y map linearly (x through log10
 * when logx) from the data's range, y from max(y_floor, ymin - 5% of the span). */

typedef struct {
    double x0, x1, y0, y1, L, T, pw, ph;
    int logx;
} frame;

static double fx(const frame *fr, double v) {
    double u = fr->logx ? log10(v) : v;
    return fr->L + (u - fr->x0) / (fr->x1 - fr->x0) * fr->pw;
}
static double fy(const frame *fr, double v) { return fr->T + fr->ph - (v - fr->y0) / (fr->y1 - fr->y0) * fr->ph; }

void svg_line_chart(FILE *f, const chart *c) {
    double W = c->width > 0 ? c->width : 720, H = c->height > 0 ? c->height : 420;
    frame fr = {INFINITY, -INFINITY, INFINITY, -INFINITY, 60, 44, 0, 0, c->logx};
    fr.pw = W - fr.L - 20;
    fr.ph = H - fr.T - 50;
    for (size_t i = 0; i < c->n; i++)
        for (size_t j = 0; j < c->series[i].n; j++) {
            double x = c->series[i].x[j], y = c->series[i].y[j];
            if (!isfinite(x) || !isfinite(y) || (c->logx && !(x > 0))) continue;
            double u = c->logx ? log10(x) : x;
            fr.x0 = fmin(fr.x0, u), fr.x1 = fmax(fr.x1, u);
            fr.y0 = fmin(fr.y0, y), fr.y1 = fmax(fr.y1, y);
        }
    if (!(fr.x0 <= fr.x1)) fr.x0 = 0, fr.x1 = 1;
    if (!(fr.y0 <= fr.y1)) fr.y0 = 0, fr.y1 = 1;
    if (fr.x1 <= fr.x0) fr.x1 = fr.x0 + 1;
    if (fr.y1 <= fr.y0) fr.y1 = fr.y0 + 1;
    fr.y0 = fmax(c->y_floor, fr.y0 - 0.05 * (fr.y1 - fr.y0));

    svg_begin(f, W, H);
    svg_text(f, W / 2, 20, "text-anchor=\"middle\" font-size=\"15\"", "%s", c->title ? c->title : "");
    if (c->subtitle) svg_text(f, W / 2, 34, "text-anchor=\"middle\" fill=\"#555\"", "%s", c->subtitle);
    for (int t = 0; t <= 5; t++) {
        double yv = fr.y0 + (fr.y1 - fr.y0) * t / 5, u = fr.x0 + (fr.x1 - fr.x0) * t / 5;
        double xv = c->logx ? pow(10, u) : u, px = fr.L + fr.pw * t / 5;
        fprintf(f, "<line x1=\"%g\" x2=\"%g\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", fr.L, fr.L + fr.pw,
                fy(&fr, yv), fy(&fr, yv));
        svg_text(f, fr.L - 6, fy(&fr, yv) + 4, "text-anchor=\"end\"", "%.2f", yv);
        if (c->logx || fabs(xv) >= 1e6) svg_text(f, px, fr.T + fr.ph + 18, "text-anchor=\"middle\"", "%.3g", xv);
        else svg_text(f, px, fr.T + fr.ph + 18, "text-anchor=\"middle\"", "%.0f", xv);
    }
    fprintf(f, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" stroke=\"#333\"/>\n", fr.L, fr.T,
            fr.pw, fr.ph);
    svg_text(f, fr.L + fr.pw / 2, H - 10, "text-anchor=\"middle\"", "%s", c->xlabel ? c->xlabel : "");
    char rot[64];
    snprintf(rot, sizeof rot, "text-anchor=\"middle\" transform=\"rotate(-90 15 %g)\"", fr.T + fr.ph / 2);
    svg_text(f, 15, fr.T + fr.ph / 2, rot, "%s", c->ylabel ? c->ylabel : "");
    size_t legend = 0;
    for (size_t i = 0; i < c->n; i++) {
        const chart_series *s = &c->series[i];
        if (s->n) {
            fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%s\"%s points=\"", s->color,
                    s->thick ? "2.5" : "1", s->thick ? "" : " stroke-opacity=\"0.45\"");
            for (size_t j = 0; j < s->n; j++)
                if (isfinite(s->x[j]) && isfinite(s->y[j]) && (!c->logx || s->x[j] > 0))
                    fprintf(f, "%.1f,%.1f ", fx(&fr, s->x[j]), fy(&fr, s->y[j]));
            fputs("\"/>\n", f);
            if (s->thick)
                for (size_t j = 0; j < s->n; j++)
                    if (isfinite(s->x[j]) && isfinite(s->y[j]) && (!c->logx || s->x[j] > 0))
                        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", fx(&fr, s->x[j]),
                                fy(&fr, s->y[j]), s->color);
        }
        if (!s->label) continue;
        double ly = fr.T + 16 + 18.0 * (double)legend++;
        fprintf(f, "<line x1=\"%g\" x2=\"%g\" y1=\"%g\" y2=\"%g\" stroke=\"%s\" stroke-width=\"2.5\"/>\n",
                fr.L + fr.pw - 300, fr.L + fr.pw - 275, ly, ly, s->color);
        svg_text(f, fr.L + fr.pw - 270, ly + 4, NULL, "%s", s->label);
    }
    svg_end(f);
}
