/* Strict JSON syntax check of a safetensors header: layer 2 of the reader's
 * checks (safetensors.c). cJSON alone accepts control characters in strings,
 * a BOM, leading zeros, "\u0000" (which would truncate names) and any number
 * syntax, and it recurses; this scanner is iterative and refuses all of them.
 * The header was checked to be valid UTF-8 before it gets here. */
#include <stddef.h>
#include <string.h>

#include "io/safetensors_int.h"

#define ST_JSON_MAX_DEPTH 64                  /* a valid header nests 3 deep */
#define ST_JSON_MAX_ARRAY 64                  /* a valid header's arrays hold <= 8 */

/* ---- layer 2: strict JSON syntax ---------------------------------------- */

typedef struct {
    const char *path;
    const unsigned char *s; /* header bytes */
    size_t n;               /* header length */
    size_t i;               /* scan position */
} jscan;

static xf_status jfail(const jscan *j, const char *what) {
    return xf_fail(XF_ERR_FORMAT, "%s: header is not valid JSON: %s at header byte %zu", j->path,
                   what, j->i);
}

static int is_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static void skip_ws(jscan *j) {
    while (j->i < j->n && is_ws(j->s[j->i])) j->i++;
}

/* Four hex digits at p (caller checked they are in range) into *out. */
static int hex4(const unsigned char *p, unsigned *out) {
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned c = p[k], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return 0;
        v = v * 16 + d;
    }
    *out = v;
    return 1;
}

/* String at j->i (which is '"'): no raw control characters, only JSON
 * escapes, \u escapes well-formed (surrogates paired) and not \u0000. */
static xf_status json_string(jscan *j) {
    j->i++;
    for (;;) {
        if (j->i >= j->n) return jfail(j, "unterminated string");
        unsigned char c = j->s[j->i];
        if (c == '"') {
            j->i++;
            return XF_OK;
        }
        if (c < 0x20) return jfail(j, "raw control character in a string");
        if (c != '\\') {
            j->i++; /* UTF-8 was checked over the whole header already */
            continue;
        }
        if (j->n - j->i < 2) return jfail(j, "unterminated escape");
        unsigned char e = j->s[j->i + 1];
        if (e != 'u') {
            if (!strchr("\"\\/bfnrt", e) || e == '\0') return jfail(j, "invalid escape");
            j->i += 2;
            continue;
        }
        unsigned cp;
        if (j->n - j->i < 6 || !hex4(j->s + j->i + 2, &cp)) return jfail(j, "invalid \\u escape");
        if (cp == 0) return jfail(j, "\\u0000 (NUL) in a string");
        if (cp >= 0xDC00 && cp <= 0xDFFF) return jfail(j, "unpaired low surrogate escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            unsigned lo;
            if (j->n - j->i < 12 || j->s[j->i + 6] != '\\' || j->s[j->i + 7] != 'u' ||
                !hex4(j->s + j->i + 8, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                return jfail(j, "unpaired high surrogate escape");
            j->i += 12;
        } else {
            j->i += 6;
        }
    }
}

/* Number at j->i. safetensors headers hold only unsigned integers (shape and
 * data_offsets), so anything but plain digits is refused here: a sign,
 * fraction or exponent, a leading zero, more than 16 digits (2^53 has 16). */
static xf_status json_number(jscan *j) {
    if (j->s[j->i] == '-') return jfail(j, "negative number (only non-negative integers allowed)");
    size_t start = j->i;
    while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9') j->i++;
    size_t digits = j->i - start;
    if (j->i < j->n && (j->s[j->i] == '.' || j->s[j->i] == 'e' || j->s[j->i] == 'E'))
        return jfail(j, "number with a fraction or exponent (only non-negative integers allowed)");
    if (digits > 1 && j->s[start] == '0') {
        j->i = start;
        return jfail(j, "number with a leading zero");
    }
    if (digits > 16) {
        j->i = start;
        return jfail(j, "number too large");
    }
    return XF_OK;
}

static xf_status json_literal(jscan *j) {
    static const char *const lits[] = {"true", "false", "null"};
    for (size_t k = 0; k < 3; k++) {
        size_t l = strlen(lits[k]);
        if (j->n - j->i >= l && memcmp(j->s + j->i, lits[k], l) == 0) {
            j->i += l;
            return XF_OK;
        }
    }
    return jfail(j, "unexpected word");
}

/* Whole-header syntax check (RFC 8259 plus the number rule above): optional
 * whitespace, one object, optional whitespace, end. Iterative, with a nesting
 * cap so a hostile header cannot exhaust the stack (cJSON recurses). */
xf_status st_check_json(const char *path, const unsigned char *s, size_t n) {
    enum { J_VALUE, J_VALUE_OR_CLOSE, J_KEY, J_KEY_OR_CLOSE, J_COLON, J_AFTER };
    jscan j = {path, s, n, 0};
    unsigned char stack[ST_JSON_MAX_DEPTH]; /* '{' or '[' */
    size_t count[ST_JSON_MAX_DEPTH];        /* elements so far, per array */
    size_t depth = 0;
    int state = J_VALUE;
    xf_status st;

    skip_ws(&j);
    if (j.i >= n || s[j.i] != '{')
        return xf_fail(XF_ERR_FORMAT, "%s: header is not a JSON object (does not start with '{')",
                       path);
    for (;;) {
        skip_ws(&j);
        if (state == J_AFTER && depth == 0) {
            if (j.i != n) return jfail(&j, "unexpected data after the top-level object");
            return XF_OK;
        }
        if (j.i >= n) return jfail(&j, "header ends inside the JSON object");
        unsigned char c = s[j.i];
        if (state == J_VALUE_OR_CLOSE && c == ']') {
            depth--;
            j.i++;
            state = J_AFTER;
        } else if (state == J_VALUE || state == J_VALUE_OR_CLOSE) {
            if (depth > 0 && stack[depth - 1] == '[' && ++count[depth - 1] > ST_JSON_MAX_ARRAY)
                return jfail(&j, "array with more than 64 elements");
            if (c == '{' || c == '[') {
                if (depth == ST_JSON_MAX_DEPTH) return jfail(&j, "nesting deeper than 64");
                stack[depth] = c;
                count[depth] = 0;
                depth++;
                j.i++;
                state = c == '{' ? J_KEY_OR_CLOSE : J_VALUE_OR_CLOSE;
                continue;
            }
            if (c == '"')
                st = json_string(&j);
            else if (c == '-' || (c >= '0' && c <= '9'))
                st = json_number(&j);
            else if (c == 't' || c == 'f' || c == 'n')
                st = json_literal(&j);
            else if (c >= 0x20 && c < 0x7F)
                st = xf_fail(XF_ERR_FORMAT,
                             "%s: header is not valid JSON: unexpected character '%c' at header "
                             "byte %zu",
                             path, c, j.i);
            else
                st = xf_fail(XF_ERR_FORMAT,
                             "%s: header is not valid JSON: unexpected byte 0x%02x at header byte "
                             "%zu",
                             path, c, j.i);
            if (st != XF_OK) return st;
            state = J_AFTER;
        } else if (state == J_KEY_OR_CLOSE && c == '}') {
            depth--;
            j.i++;
            state = J_AFTER;
        } else if (state == J_KEY || state == J_KEY_OR_CLOSE) {
            if (c != '"') return jfail(&j, "expected a string key");
            if ((st = json_string(&j)) != XF_OK) return st;
            state = J_COLON;
        } else if (state == J_COLON) {
            if (c != ':') return jfail(&j, "expected ':'");
            j.i++;
            state = J_VALUE;
        } else { /* J_AFTER inside a container */
            unsigned char top = stack[depth - 1];
            if (c == ',') {
                j.i++;
                state = top == '{' ? J_KEY : J_VALUE;
            } else if (c == (top == '{' ? '}' : ']')) {
                depth--;
                j.i++;
            } else {
                return jfail(&j, top == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
            }
        }
    }
}
