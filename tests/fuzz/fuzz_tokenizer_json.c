/* Hugging Face tokenizer.json (src/data/tok_json.c): parse; use an accepted
 * tokenizer (tok_use.h), write it back as tokenizer.json and read that again
 * (it must be accepted and hash the same). */
#include "data/tok_impl.h"
#include "fuzz.h"
#include "tok_use.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    xf_tokenizer *t = NULL;
    if (tok_json_parse(&t, (const char *)data, size, "tokenizer.json") != XF_OK) return 0;
    fuzz_use_tokenizer(t);
    char *js = NULL;
    size_t len = 0;
    if (tok_json_write(t, 0, &js, &len) == XF_OK) {
        xf_tokenizer *u = NULL;
        if (tok_json_parse(&u, js, len, "rewritten tokenizer.json") != XF_OK) abort();
        if (xf_tokenizer_hash(u) != xf_tokenizer_hash(t)) abort();
        xf_tokenizer_free(u);
        free(js);
    }
    xf_tokenizer_free(t);
    return 0;
}
