/* Driver for tests/tokenizer/unicode_ref.py: applies one of the tokenizer
 * normalizers' Unicode functions (src/data/tok_unicode.c) to each line of
 * stdin and prints the results, one line each.
 *
 *   unicode_driver FORM < lines        FORM: nfc | nfd | nfkc | nfkd | lower */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/tok_unicode.h"

int main(int argc, char **argv) {
    static const char *const names[] = {"nfc", "nfd", "nfkc", "nfkd", "lower"};
    int f = -1;
    for (int i = 0; argc == 2 && i < 5; i++)
        if (!strcmp(argv[1], names[i])) f = i;
    if (f < 0) {
        fprintf(stderr, "usage: unicode_driver nfc|nfd|nfkc|nfkd|lower < lines\n");
        return 2;
    }
    size_t cap = 1 << 16;
    char *line = malloc(cap);
    size_t n = 0;
    int c;
    while (line) {
        c = getchar();
        if (c != EOF && c != '\n') {
            if (n + 1 >= cap) {
                char *l = realloc(line, cap * 2);
                if (!l) break;
                line = l;
                cap *= 2;
            }
            line[n++] = (char)c;
            continue;
        }
        if (c == EOF && n == 0) break;
        tok_buf b = {0};
        xf_status s = f < 4 ? tok_unormalize((tok_nform)f, line, n, &b) : tok_ulower(line, n, &b);
        if (s) {
            fprintf(stderr, "unicode_driver: %s\n", xf_last_error());
            return 1;
        }
        fwrite(b.s ? b.s : "", 1, b.n, stdout);
        putchar('\n');
        tok_buf_free(&b);
        n = 0;
        if (c == EOF) break;
    }
    free(line);
    return 0;
}
