/* Growable text buffer (see strbuf.h). */
#include "core/strbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sb_reserve(xf_strbuf *b, size_t extra) {
    if (b->oom) return 0;
    if (extra >= SIZE_MAX / 2 - b->len) { /* len + extra + 1 and its doubling stay in range */
        b->oom = 1;
        return 0;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return 1;
    size_t c = b->cap ? b->cap : 256;
    while (c < need) c *= 2;
    char *q = realloc(b->p, c);
    if (q == NULL) {
        b->oom = 1;
        return 0;
    }
    b->p = q;
    b->cap = c;
    return 1;
}

void sb_put(xf_strbuf *b, const char *s, size_t n) {
    if (!sb_reserve(b, n)) return;
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sb_cstr(xf_strbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

void sb_printf(xf_strbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap); /* the length first, then room for it */
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if (!sb_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void sb_json_str(xf_strbuf *b, const char *s, size_t n) {
    sb_put(b, "\"", 1);
    size_t start = 0; /* s[start..i) is copied verbatim in one go */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        sb_put(b, s + start, i - start);
        char esc[8];
        switch (c) {
        case '"': sb_put(b, "\\\"", 2); break;
        case '\\': sb_put(b, "\\\\", 2); break;
        case '\b': sb_put(b, "\\b", 2); break;
        case '\f': sb_put(b, "\\f", 2); break;
        case '\n': sb_put(b, "\\n", 2); break;
        case '\r': sb_put(b, "\\r", 2); break;
        case '\t': sb_put(b, "\\t", 2); break;
        default:
            snprintf(esc, sizeof esc, "\\u%04x", c);
            sb_put(b, esc, 6);
        }
        start = i + 1;
    }
    sb_put(b, s + start, n - start);
    sb_put(b, "\"", 1);
}

void sb_free(xf_strbuf *b) {
    free(b->p);
    *b = (xf_strbuf){0};
}
