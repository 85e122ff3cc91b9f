/* Growable text buffer, for writers that build a file's text in memory
 * (configs, tokenizer.json, safetensors headers, the built-in corpus).
 *
 * An allocation failure is sticky: `oom` is set, later appends do nothing, and
 * the writer checks it once at the end. While p is not NULL the text is kept
 * NUL-terminated (p[len] == 0, not counted in len). A zeroed xf_strbuf is an
 * empty buffer; sb_free releases it. */
#ifndef XF_CORE_STRBUF_H
#define XF_CORE_STRBUF_H

#include <stddef.h>

typedef struct {
    char *p;
    size_t len, cap; /* bytes used (without the NUL), bytes allocated */
    int oom;
} xf_strbuf;

/* Make room for `extra` more bytes and the NUL (capacity doubles, from 256).
 * 1 on success, 0 (and oom set) on overflow or a failed allocation. */
int sb_reserve(xf_strbuf *b, size_t extra);
void sb_put(xf_strbuf *b, const char *s, size_t n);
void sb_cstr(xf_strbuf *b, const char *s);
void sb_printf(xf_strbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* s[0..n) as a JSON string literal, escaped the way serde_json (and Python's
 * json) do: quote, backslash, \b \f \n \r \t, other bytes below 0x20 as
 * \u00XX; every other byte verbatim (the caller passes valid UTF-8). */
void sb_json_str(xf_strbuf *b, const char *s, size_t n);
/* Free the text and reset *b to empty. */
void sb_free(xf_strbuf *b);

#endif
