/* The built-in story corpus: deterministic for a seed, close to the requested
 * size, and plausible text (printable ASCII, whole sentences, balanced quotes,
 * every template slot filled, paragraphs separated by exactly one blank line). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "xfmr/data.h"

TEST(test_deterministic) {
    char *a, *b, *c;
    size_t na, nb, nc;
    CHECK_OK(xf_corpus_generate(&a, &na, 50000, 11));
    CHECK_OK(xf_corpus_generate(&b, &nb, 50000, 11));
    CHECK_OK(xf_corpus_generate(&c, &nc, 50000, 12));
    CHECK(na == nb && memcmp(a, b, na) == 0);
    CHECK(na != nc || memcmp(a, c, na) != 0);
    CHECK(a[na] == '\0');
    /* a smaller request with the same seed is a prefix of the larger one */
    char *d;
    size_t nd;
    CHECK_OK(xf_corpus_generate(&d, &nd, 10000, 11));
    CHECK(nd <= na && memcmp(a, d, nd - 1) == 0);
    free(a);
    free(b);
    free(c);
    free(d);
}

TEST(test_size) {
    size_t targets[] = {1, 1000, 100000, 2000000};
    for (size_t i = 0; i < sizeof targets / sizeof *targets; i++) {
        char *t;
        size_t n;
        CHECK_OK(xf_corpus_generate(&t, &n, targets[i], 1));
        CHECK_MSG(n + 1 >= targets[i] && n < targets[i] + 4096, "asked %zu, got %zu", targets[i],
                  n);
        CHECK(strlen(t) == n);
        free(t);
    }
    char *t = (char *)1;
    size_t n = 5;
    CHECK(xf_corpus_generate(&t, &n, 0, 1) == XF_ERR_ARG);
    CHECK(t == NULL && n == 0);
}

/* End of the sentence just before position i (i points at a space or newline). */
static int ends_sentence(const char *t, size_t i) {
    if (i == 0) return 0;
    char c = t[i - 1];
    if (c == '.' || c == '!' || c == '?') return 1;
    if (c == '"' && i >= 2) return t[i - 2] == '.' || t[i - 2] == '!' || t[i - 2] == '?';
    return 0;
}

TEST(test_content) {
    char *t;
    size_t n;
    CHECK_OK(xf_corpus_generate(&t, &n, 300000, 3));
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        CHECK_MSG((c >= 32 && c < 127) || c == '\n', "byte %u at %zu", c, i);
        CHECK_MSG(c != '{' && c != '}', "unfilled slot near: %.60s", t + (i > 30 ? i - 30 : 0));
    }
    CHECK(t[0] >= 'A' && t[0] <= 'Z');
    CHECK(t[n - 1] == '\n' && t[n - 2] != '\n');
    CHECK(strstr(t, "\n\n\n") == NULL && strstr(t, "  ") == NULL && strstr(t, " \n") == NULL);
    /* paragraphs: end with a full stop, start with a capital or a quote, even quotes */
    size_t paragraphs = 0, stories = 0;
    size_t start = 0;
    while (start < n) {
        const char *end = strstr(t + start, "\n\n");
        size_t stop = end ? (size_t)(end - t) : n - 1;
        CHECK_MSG(ends_sentence(t, stop), "paragraph ends badly: %.80s", t + start);
        CHECK_MSG((t[start] >= 'A' && t[start] <= 'Z') || t[start] == '"', "starts: %.40s",
                  t + start);
        size_t quotes = 0;
        for (size_t i = start; i < stop; i++) {
            CHECK_MSG(t[i] != '\n', "line break inside a paragraph: %.80s", t + start);
            quotes += t[i] == '"';
            /* after a sentence ends the next word is capitalised, except "... ?" she asked */
            if (t[i] == ' ' && ends_sentence(t, i) && i + 1 < stop) {
                char next = t[i + 1] == '"' ? t[i + 2] : t[i + 1];
                int after_quote = t[i - 1] == '"';
                CHECK_MSG(after_quote || (next >= 'A' && next <= 'Z'),
                          "lower case after a sentence: %.60s", t + (i > 30 ? i - 30 : 0));
            }
        }
        CHECK_MSG(quotes % 2 == 0, "unbalanced quotes: %.120s", t + start);
        paragraphs++;
        stories += strncmp(t + start, "Once", 4) == 0 || strncmp(t + start, "There was once", 14) == 0;
        start = stop + 2;
    }
    CHECK_MSG(stories > 100 && paragraphs > 3 * stories, "%zu stories, %zu paragraphs", stories,
              paragraphs);
    /* prose: a space every few bytes, articles agree */
    size_t words = 0;
    for (size_t i = 0; i < n; i++) words += t[i] == ' ';
    CHECK(words > n / 8);
    CHECK(strstr(t, "Once upon a time") != NULL && strstr(t, " an ") != NULL);
    CHECK(strstr(t, " a a") == NULL && strstr(t, " a e") == NULL && strstr(t, " a o") == NULL &&
          strstr(t, " an b") == NULL && strstr(t, " an t") == NULL);
    free(t);
}

TEST(test_varied) {
    /* distinct sentences: count distinct sentence hashes in 200 KB */
    char *t;
    size_t n;
    CHECK_OK(xf_corpus_generate(&t, &n, 200000, 9));
    size_t cap = 1 << 16, distinct = 0, total = 0;
    uint64_t *seen = calloc(cap, sizeof *seen);
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ (unsigned char)t[i]) * 1099511628211ull;
        if ((t[i] == '.' || t[i] == '!' || t[i] == '?') && (i + 1 == n || t[i + 1] == ' ' || t[i + 1] == '\n')) {
            total++;
            uint64_t k = h | 1;
            size_t j = (size_t)(k % cap);
            while (seen[j] && seen[j] != k) j = (j + 1) % cap;
            if (!seen[j]) {
                seen[j] = k;
                distinct++;
            }
            h = 1469598103934665603ull;
        }
    }
    CHECK_MSG(distinct > total / 4 && distinct > 1000, "%zu distinct of %zu sentences", distinct,
              total);
    free(seen);
    free(t);
}

int main(void) {
    RUN(test_deterministic);
    RUN(test_size);
    RUN(test_content);
    RUN(test_varied);
    return test_summary();
}
