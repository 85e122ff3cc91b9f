/* The growable text buffer (src/core/strbuf.c): appends keep the text
 * NUL-terminated through many reallocations, printf of any length, the JSON
 * escaper against escapes written out by hand from RFC 8259 (serde_json's
 * choice of short forms), and the sticky out-of-memory flag. */
#include <stdint.h>
#include <string.h>

#include "core/strbuf.h"
#include "test.h"

TEST(test_strbuf_appends) {
    xf_strbuf b = {0};
    sb_put(&b, "", 0); /* an empty append still gives a NUL-terminated "" */
    CHECK(b.p != NULL && b.len == 0 && b.p[0] == '\0');
    sb_cstr(&b, "abc");
    sb_put(&b, "defgh", 2);
    sb_printf(&b, "[%d|%s|%zu]", -7, "x", (size_t)42);
    CHECK_MSG(strcmp(b.p, "abcde[-7|x|42]") == 0, "got '%s'", b.p);
    CHECK(b.len == strlen("abcde[-7|x|42]") && !b.oom);
    sb_free(&b);
    CHECK(b.p == NULL && b.len == 0 && b.cap == 0 && !b.oom);
}

TEST(test_strbuf_grows) {
    /* 100,000 appends of 1..7 bytes: the text equals the same bytes built in a
     * plain array, and the capacity stayed a power-of-two multiple of 256 */
    enum { N = 100000 };
    static char want[8 * N];
    size_t wl = 0;
    xf_strbuf b = {0};
    for (size_t i = 0; i < N; i++) {
        char piece[8];
        size_t n = 1 + i % 7;
        for (size_t k = 0; k < n; k++) piece[k] = (char)('a' + (i + k) % 26);
        sb_put(&b, piece, n);
        memcpy(want + wl, piece, n);
        wl += n;
        CHECK(b.cap > b.len && b.p[b.len] == '\0');
    }
    CHECK(!b.oom && b.len == wl && memcmp(b.p, want, wl) == 0);
    size_t c = b.cap;
    while (c > 256 && c % 2 == 0) c /= 2;
    CHECK_MSG(c == 256, "capacity %zu is not 256 * 2^k", b.cap);
    sb_free(&b);
}

TEST(test_strbuf_printf_long) {
    /* one printf longer than the first allocation, after some text */
    static char big[5000];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    xf_strbuf b = {0};
    sb_cstr(&b, "<");
    sb_printf(&b, "%s>%d", big, 12345);
    CHECK(!b.oom && b.len == 1 + 4999 + 1 + 5);
    CHECK(b.p[0] == '<' && b.p[1] == 'q' && b.p[4999] == 'q' && b.p[5000] == '>');
    CHECK(strcmp(b.p + 5001, "12345") == 0);
    sb_free(&b);
}

TEST(test_strbuf_json_escapes) {
    /* every byte class: quote, backslash, the five short escapes, other
     * control bytes (NUL included, as n counts it) as \u00XX in lower-case
     * hex, and DEL, '/' and UTF-8 (U+00E9) verbatim */
    const char in[] = "a\"b\\c\b\f\n\r\t\x01\x1f\x7f/\xc3\xa9";
    const char want[] = "\"a\\\"b\\\\c\\b\\f\\n\\r\\t\\u0001\\u001f\x7f/\xc3\xa9\"";
    xf_strbuf b = {0};
    sb_json_str(&b, in, sizeof in - 1);
    CHECK_MSG(b.len == sizeof want - 1 && memcmp(b.p, want, b.len) == 0, "got %s", b.p);
    sb_free(&b);
    const char nul[] = {'x', 0, 'y'};
    sb_json_str(&b, nul, 3);
    CHECK_MSG(strcmp(b.p, "\"x\\u0000y\"") == 0, "got %s", b.p);
    sb_free(&b);
    sb_json_str(&b, "", 0);
    CHECK(strcmp(b.p, "\"\"") == 0);
    sb_free(&b);
}

TEST(test_strbuf_oom_is_sticky) {
    xf_strbuf b = {0};
    sb_cstr(&b, "keep");
    CHECK(sb_reserve(&b, SIZE_MAX - 2) == 0 && b.oom); /* len + extra + 1 overflows */
    sb_cstr(&b, "more");
    sb_printf(&b, "%d", 1);
    sb_json_str(&b, "x", 1);
    CHECK(b.len == 4 && strcmp(b.p, "keep") == 0); /* nothing appended after the failure */
    CHECK(sb_reserve(&b, 1) == 0);
    sb_free(&b);
    CHECK(!b.oom);
}

int main(void) {
    RUN(test_strbuf_appends);
    RUN(test_strbuf_grows);
    RUN(test_strbuf_printf_long);
    RUN(test_strbuf_json_escapes);
    RUN(test_strbuf_oom_is_sticky);
    return test_summary();
}
