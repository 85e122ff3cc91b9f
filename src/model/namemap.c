/* Tensor-name tables (see namemap.h). */
#include "model/namemap.h"

#include <stdio.h>
#include <string.h>

/* Which placeholder starts at p: 'L', 'E' or 0. */
static int placeholder(const char *p) {
    if (p[0] == '{' && (p[1] == 'L' || p[1] == 'E') && p[2] == '}') return p[1];
    return 0;
}

int namemap_match(const char *pattern, const char *name, long *L, long *E) {
    long l = -1, e = -1;
    const char *p = pattern, *s = name;
    while (*p) {
        int ph = placeholder(p);
        if (ph) {
            long v = 0;
            int digits = 0;
            while (*s >= '0' && *s <= '9') {
                if (++digits > 9) return 0;
                v = v * 10 + (*s++ - '0');
            }
            if (!digits) return 0;
            if (ph == 'L') l = v;
            else e = v;
            p += 3;
        } else {
            if (*p != *s) return 0;
            p++;
            s++;
        }
    }
    if (*s) return 0;
    if (L) *L = l;
    if (E) *E = e;
    return 1;
}

int namemap_render(const char *pattern, long L, long E, char *buf, size_t n) {
    size_t k = 0;
    for (const char *p = pattern; *p;) {
        int ph = placeholder(p);
        if (ph) {
            long v = ph == 'L' ? L : E;
            if (v < 0) return -1;
            int w = snprintf(buf + k, n > k ? n - k : 0, "%ld", v);
            if (w < 0 || (size_t)w >= (n > k ? n - k : 0)) return -1;
            k += (size_t)w;
            p += 3;
        } else {
            if (k + 1 >= n) return -1;
            buf[k++] = *p++;
        }
    }
    if (k >= n) return -1;
    buf[k] = '\0';
    return 0;
}

const namemap_row *namemap_find(const namemap_row *rows, size_t n, int foreign, const char *name, long *L,
                                long *E) {
    for (size_t i = 0; i < n; i++)
        if (namemap_match(foreign ? rows[i].foreign : rows[i].native, name, L, E)) return &rows[i];
    return NULL;
}

const namemap_row *namemap_translate(const namemap_row *rows, size_t n, int foreign, const char *name, char *buf,
                                     size_t bufn) {
    long L, E;
    const namemap_row *r = namemap_find(rows, n, foreign, name, &L, &E);
    if (!r) return NULL;
    if (namemap_render(foreign ? r->native : r->foreign, L, E, buf, bufn)) return NULL;
    return r;
}
