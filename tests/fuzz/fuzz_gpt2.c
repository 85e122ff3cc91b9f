/* GPT-2 encoder.json + vocab.bpe (src/data/tok_json.c, gpt2:DIR). The input is
 * encoder.json, one NUL byte, then vocab.bpe (no NUL: all of it is
 * encoder.json and vocab.bpe is empty). Both go to a scratch directory, which
 * is loaded as gpt2:DIR; an accepted tokenizer is used (tok_use.h). */
#include "data/tok_impl.h"
#include "fuzz.h"
#include "tok_use.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t el = nul ? (size_t)(nul - data) : size;
    if (!fuzz_file("encoder.json", data, el)) return 0;
    if (!fuzz_file("vocab.bpe", nul ? nul + 1 : data, nul ? size - el - 1 : 0)) return 0;
    xf_tokenizer *t = NULL;
    if (tok_gpt2_load(&t, fuzz_dir()) != XF_OK) return 0;
    fuzz_use_tokenizer(t);
    xf_tokenizer_free(t);
    return 0;
}
