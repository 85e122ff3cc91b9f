/* Driver for the tokenizer reference tests (tests/tokenizer/hf_pipeline.mjs):
 * loads a tokenizer once and encodes many files.
 *
 *   tok_driver SPEC [--no-special] [--add-special] FILE...
 *
 * For each FILE prints three lines:
 *   ids: ID ID ...     (xf_tokenizer_encode_ex; special tokens in the text are
 *                       matched unless --no-special; --add-special runs the
 *                       post-processor)
 *   dec: HEX           (xf_tokenizer_decode of those ids, bytes as hex)
 *   pcs: HEX           (xf_tokenizer_piece of each id after the previous one,
 *                       concatenated: what streaming generation prints)
 * and on the last line "load_ms: N" (time to load SPEC). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xfmr/tokenizer.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    for (;;) {
        if (!b) break;
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (n < cap) break;
        char *nb = realloc(b, cap * 2);
        if (!nb) {
            free(b);
            b = NULL;
            break;
        }
        b = nb;
        cap *= 2;
    }
    fclose(f);
    *len = n;
    return b;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: tok_driver SPEC [--no-special] [--add-special] FILE...\n");
        return 2;
    }
    double t0 = now_ms();
    xf_tokenizer *tok;
    if (xf_tokenizer_load(&tok, argv[1])) {
        fprintf(stderr, "tok_driver: %s\n", xf_last_error());
        return 1;
    }
    double load = now_ms() - t0;
    unsigned flags = XF_TOK_PARSE_SPECIAL;
    int rc = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--no-special")) {
            flags &= ~XF_TOK_PARSE_SPECIAL;
            continue;
        }
        if (!strcmp(argv[i], "--add-special")) {
            flags |= XF_TOK_ADD_SPECIAL;
            continue;
        }
        size_t len;
        char *text = slurp(argv[i], &len);
        int32_t *ids = NULL;
        size_t n = 0;
        char *dec = NULL;
        size_t dl = 0;
        if (!text || xf_tokenizer_encode_ex(tok, text, len, flags, &ids, &n) ||
            xf_tokenizer_decode(tok, ids, n, &dec, &dl)) {
            fprintf(stderr, "tok_driver: %s: %s\n", argv[i], text ? xf_last_error() : "cannot read");
            printf("ids: ERROR\ndec: \npcs: \n");
            rc = 1;
        } else {
            fputs("ids:", stdout);
            for (size_t k = 0; k < n; k++) printf(" %d", ids[k]);
            fputs("\ndec: ", stdout);
            for (size_t k = 0; k < dl; k++) printf("%02x", (unsigned char)dec[k]);
            fputs("\npcs: ", stdout);
            char piece[XF_TOKENIZER_PIECE_MAX];
            for (size_t k = 0; k < n; k++) {
                size_t pl = 0;
                if (xf_tokenizer_piece(tok, k ? ids[k - 1] : -1, ids[k], piece, sizeof piece, &pl)) {
                    fputs("ERROR", stdout);
                    break;
                }
                for (size_t q = 0; q < pl; q++) printf("%02x", (unsigned char)piece[q]);
            }
            putchar('\n');
        }
        free(text);
        free(ids);
        free(dec);
    }
    printf("load_ms: %.1f\n", load);
    xf_tokenizer_free(tok);
    return rc;
}
