/* Use an accepted tokenizer the way the CLI does: encode a fixed text (with
 * every kind of byte in it), decode the ids back, decode every single id, and
 * decode a few ids outside the vocabulary (which must be refused, not read). */
#ifndef XF_TESTS_FUZZ_TOK_USE_H
#define XF_TESTS_FUZZ_TOK_USE_H

#include "xfmr/tokenizer.h"

static inline void fuzz_use_tokenizer(xf_tokenizer *t) {
    static const char text[] = "Hello world!  It's 2024 \xe2\x80\x94 caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80\n\t"
                               "<s> </s> <unk> <|endoftext|> \xff\xfe invalid \x01";
    int32_t *ids = NULL;
    size_t n = 0, len = 0;
    char *out = NULL;
    if (xf_tokenizer_encode(t, text, sizeof text - 1, &ids, &n) == XF_OK) {
        size_t V = xf_tokenizer_vocab_size(t);
        for (size_t i = 0; i < n; i++)
            if (ids[i] < 0 || (size_t)ids[i] >= V) abort(); /* an id outside the vocabulary */
        if (xf_tokenizer_decode(t, ids, n, &out, &len) == XF_OK) free(out);
    }
    free(ids);
    size_t V = xf_tokenizer_vocab_size(t);
    for (size_t i = 0; i < V && i < 4096; i++) {
        int32_t id = (int32_t)i;
        out = NULL;
        if (xf_tokenizer_decode(t, &id, 1, &out, &len) == XF_OK) free(out);
        size_t sl = 0;
        xf_tokenizer_id_to_str(t, id, &sl);
    }
    int32_t bad[3] = {-1, (int32_t)V, INT32_MAX};
    out = NULL;
    if (xf_tokenizer_decode(t, bad, 3, &out, &len) == XF_OK) abort();
    free(out);
    xf_tokenizer_hash(t);
}

#endif
