/* Documents the CLI writes: SVG pictures and HTML pages (xfmr plot, masks,
 * routes). One writer for all of them: a document is built in memory and
 * saved atomically, text is escaped in one place, and the SVG/HTML frames
 * and the line chart are drawn by the same code everywhere. */
#ifndef XF_CLI_DOC_H
#define XF_CLI_DOC_H

#include <stddef.h>
#include <stdio.h>

/* A document in memory: write to d->f, then doc_save (or doc_discard). */
typedef struct {
    FILE *f;
    char *buf;
    size_t len;
} doc;

/* 0, or prints "out of memory" and returns the exit code 1. */
int doc_open(doc *d);
/* Close and write to `path` atomically (an existing file stays whole on any
 * failure); 0 or the exit code (message printed). The doc is freed either way. */
int doc_save(doc *d, const char *path);
void doc_discard(doc *d);

/* s[0..n) with &, <, > and " escaped (n = (size_t)-1: up to the NUL). */
void xml_escape(FILE *f, const char *s, size_t n);

/* <svg> of W x H with the XML prolog, sans-serif 12 px, a white background. */
void svg_begin(FILE *f, double W, double H);
void svg_end(FILE *f);
/* <text x y ATTRS>escaped printf text</text>; attrs may be NULL. */
void svg_text(FILE *f, double x, double y, const char *attrs, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/* An HTML5 page: <head> with the escaped title and the style sheet, <body>. */
void html_begin(FILE *f, const char *title, const char *css);
void html_end(FILE *f);

/* A line chart: series of (x, y) points over linear (or log10) axes with
 * ticks, a frame, axis labels and a legend. */
typedef struct {
    const char *label;   /* legend text (NULL: not in the legend) */
    const char *color;   /* CSS colour */
    const double *x, *y;
    size_t n;
    int thick;           /* 1: a thick line with dots, 0: a thin translucent one */
} chart_series;

typedef struct {
    const char *title, *subtitle; /* subtitle may be NULL */
    const char *xlabel, *ylabel;
    int logx;                     /* log10 x axis (every x must be > 0) */
    double width, height;         /* 0: 720 x 420 */
    double y_floor;               /* the y axis never starts below this (e.g. 0 for losses) */
    const chart_series *series;
    size_t n;
} chart;

/* The chart as a whole <svg> document. */
void svg_line_chart(FILE *f, const chart *c);

#endif
