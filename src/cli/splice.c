/* Text a user types with special tokens spelled out: "<extra_id_K>" (a T5
 * sentinel) and "[MASK]" / "<mask>". Tokenizers never match special tokens in
 * text (include/xfmr/tokenizer.h), so the CLI cuts the text at these spellings,
 * encodes the pieces between them and splices the ids in. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "xfmr/tokenizer.h"

static const char *const MASK_SPELLINGS[] = {"[MASK]", "<mask>"};

/* Length of a mask spelling at s, or 0. */
static size_t mask_at(const char *s, size_t len) {
    for (size_t k = 0; k < sizeof MASK_SPELLINGS / sizeof MASK_SPELLINGS[0]; k++) {
        size_t l = strlen(MASK_SPELLINGS[k]);
        if (l <= len && memcmp(s, MASK_SPELLINGS[k], l) == 0) return l;
    }
    return 0;
}

/* Length of a sentinel spelling "<extra_id_K>" at s (K < 10^6), with *k = K; 0 if none. */
static size_t sentinel_at(const char *s, size_t len, size_t *k) {
    static const char pre[] = "<extra_id_";
    size_t np = sizeof pre - 1, i = np, v = 0;
    if (len < np + 2 || memcmp(s, pre, np)) return 0;
    while (i < len && i < np + 6 && s[i] >= '0' && s[i] <= '9') v = v * 10 + (size_t)(s[i++] - '0');
    if (i == np || i >= len || s[i] != '>') return 0;
    *k = v;
    return i + 1;
}

int xf_cli_append_ids(int32_t **ids, size_t *n, size_t *cap, const int32_t *add, size_t m) {
    if (*n + m > *cap) {
        size_t c = (*n + m) * 2 + 16;
        int32_t *g = realloc(*ids, c * sizeof *g);
        if (!g) return xf_cli_error(1, "out of memory");
        *ids = g;
        *cap = c;
    }
    if (m) memcpy(*ids + *n, add, m * sizeof *add); /* add may be NULL when m = 0 */
    *n += m;
    return 0;
}

int xf_cli_encode_spliced(const xf_tokenizer *tok, const char *text, size_t len, int sentinels, int32_t mask,
                          int32_t **ids, size_t *n, size_t **mask_pos, size_t *nmask) {
    int32_t *out = NULL;
    size_t no = 0, cap = 0, start = 0, nm = 0, *pos = NULL;
    int rc = 1;
    for (size_t i = 0; i <= len; i++) {
        size_t k = 0, sl = 0;
        int32_t id = -1;
        if (i < len && mask >= 0 && (sl = mask_at(text + i, len - i))) id = mask;
        else if (i < len && sentinels && (sl = sentinel_at(text + i, len - i, &k))) id = xf_tokenizer_sentinel(tok, k);
        if (i < len && id < 0) continue;
        /* the text before the special (or the end); a text without specials is encoded whole */
        if (i > start || (i == len && !out)) {
            int32_t *piece = NULL;
            size_t np = 0;
            if (xf_tokenizer_encode(tok, text + start, i - start, &piece, &np)) {
                rc = xf_cli_fail();
                goto out;
            }
            int bad = xf_cli_append_ids(&out, &no, &cap, piece, np);
            free(piece);
            if (bad) goto out;
        }
        if (i == len) break;
        if (id == mask && mask_pos) {
            size_t *g = realloc(pos, (nm + 1) * sizeof *g);
            if (!g) {
                rc = xf_cli_error(1, "out of memory");
                goto out;
            }
            pos = g;
            pos[nm++] = no;
        }
        if (xf_cli_append_ids(&out, &no, &cap, &id, 1)) goto out;
        i += sl - 1;
        start = i + 1;
    }
    if (!out && !(out = malloc(sizeof *out))) {
        rc = xf_cli_error(1, "out of memory");
        goto out;
    }
    *ids = out;
    *n = no;
    if (mask_pos) *mask_pos = pos;
    if (nmask) *nmask = nm;
    return 0;
out:
    free(out);
    free(pos);
    return rc;
}
