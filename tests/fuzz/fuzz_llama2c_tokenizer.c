/* llama2.c tokenizer.bin (src/data/tok_spm.c): parse, then use an accepted
 * tokenizer (tok_use.h). */
#include "data/tok_impl.h"
#include "fuzz.h"
#include "tok_use.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    xf_tokenizer *t = NULL;
    if (tok_spm_parse_bin(&t, (const char *)data, size, "tokenizer.bin") != XF_OK) return 0;
    fuzz_use_tokenizer(t);
    xf_tokenizer_free(t);
    return 0;
}
