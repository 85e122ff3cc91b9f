/* Tiny flag parser and error printing for the CLI (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xfmr/status.h"

void xf_args_init(xf_args *a, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    int cap = (int)sizeof a->used;
    a->argc = argc < cap ? argc : cap;
    a->argv = argv;
    a->used[0] = 1;
    if (argc > cap) { /* never drop arguments silently: the command refuses to run */
        fprintf(stderr, "xfmr %s: %d arguments, more than the %d a command takes\n", argv[0], argc - 1, cap - 1);
        a->bad = 1;
    }
}

/* Index of the argv entry holding flag `name` (either form), or -1. *val gets its value. */
static int find_flag_from(xf_args *a, const char *name, const char **val, int boolean, int from) {
    size_t nl = strlen(name);
    for (int i = from; i < a->argc; i++) {
        const char *s = a->argv[i];
        const char *rest;
        if (s[0] == '-' && s[1] == '-' && strncmp(s + 2, name, nl) == 0)
            rest = s + 2 + nl;
        else if (nl == 1 && s[0] == '-' && s[1] == name[0]) /* one-letter alias: -n 20 */
            rest = s + 2;
        else
            continue;
        if (*rest == '=') {
            a->used[i] = 1;
            *val = rest + 1;
            return i;
        }
        if (*rest == '\0') {
            a->used[i] = 1;
            if (boolean) {
                *val = "1";
                return i;
            }
            if (i + 1 >= a->argc) {
                fprintf(stderr, "xfmr %s: flag --%s needs a value\n", a->argv[0], name);
                a->bad = 1;
                return -1;
            }
            a->used[i + 1] = 1;
            *val = a->argv[i + 1];
            return i;
        }
    }
    return -1;
}

static int find_flag(xf_args *a, const char *name, const char **val, int boolean) {
    return find_flag_from(a, name, val, boolean, 1);
}

const char *xf_args_str(xf_args *a, const char *name, const char *def) {
    const char *v = NULL;
    return find_flag(a, name, &v, 0) >= 0 ? v : def;
}

size_t xf_args_strs(xf_args *a, const char *name, const char **out, size_t max) {
    size_t n = 0;
    for (int i = 1;; i++) {
        const char *v = NULL;
        i = find_flag_from(a, name, &v, 0, i);
        if (i < 0) return n;
        if (n < max) out[n] = v;
        n++;
    }
}

long xf_args_long(xf_args *a, const char *name, long def) {
    const char *v = NULL;
    if (find_flag(a, name, &v, 0) < 0) return def;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end) {
        fprintf(stderr, "xfmr %s: --%s expects an integer, got '%s'\n", a->argv[0], name, v);
        a->bad = 1;
        return def;
    }
    return x;
}

double xf_args_double(xf_args *a, const char *name, double def) {
    const char *v = NULL;
    if (find_flag(a, name, &v, 0) < 0) return def;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end) {
        fprintf(stderr, "xfmr %s: --%s expects a number, got '%s'\n", a->argv[0], name, v);
        a->bad = 1;
        return def;
    }
    return x;
}

int xf_args_flag(xf_args *a, const char *name) {
    const char *v = NULL;
    return find_flag(a, name, &v, 1) >= 0;
}

const char *xf_args_pos(xf_args *a, int i) {
    int k = 0;
    for (int j = 1; j < a->argc; j++) {
        if (a->used[j]) continue;
        if (a->argv[j][0] == '-' && a->argv[j][1] != '\0') continue;
        if (k++ == i) {
            a->used[j] = 1;
            return a->argv[j];
        }
    }
    return NULL;
}

int xf_args_finish(xf_args *a) {
    for (int i = 1; i < a->argc; i++) {
        if (a->used[i]) continue;
        fprintf(stderr, "xfmr %s: unknown %s '%s' (see xfmr %s --help)\n", a->argv[0],
                a->argv[i][0] == '-' ? "flag" : "argument", a->argv[i], a->argv[0]);
        a->bad = 1;
    }
    return a->bad;
}

int xf_cli_fail(void) {
    fprintf(stderr, "xfmr: %s\n", xf_last_error());
    return 1;
}

int xf_cli_error(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("xfmr: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

int xf_cli_parse_ids(const char *s, int32_t **ids, size_t *n) {
    size_t cap = 64, k = 0;
    int32_t *out = malloc(cap * sizeof *out);
    if (!out) return xf_cli_error(1, "out of memory");
    const char *p = s;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ',') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX) {
            free(out);
            return xf_cli_error(1, "bad token id near '%.20s'", p);
        }
        if (k == cap) {
            int32_t *grown = realloc(out, 2 * cap * sizeof *out);
            if (!grown) {
                free(out);
                return xf_cli_error(1, "out of memory");
            }
            out = grown;
            cap *= 2;
        }
        out[k++] = (int32_t)v;
        p = end;
    }
    *ids = out;
    *n = k;
    return 0;
}
