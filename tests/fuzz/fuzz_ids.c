/* Token ids given on the command line (--ids of tokenizer decode, score and
 * generate: xf_cli_parse_ids in src/cli/args.c): parse the bytes as the
 * argument string; accepted ids are decoded with the byte tokenizer (ids
 * outside its vocabulary must be refused). The parser reports a bad id on
 * stderr, like the CLI; tests/fuzz/run.sh closes the harnesses' stderr. */
#include "cli/cli.h"
#include "fuzz.h"
#include "xfmr/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static xf_tokenizer *byte;
    if (!byte && xf_tokenizer_load(&byte, "byte") != XF_OK) return 0;
    if (!byte) return 0;
    char *s = fuzz_cstr(data, size);
    if (!s) return 0;
    int32_t *ids = NULL;
    size_t n = 0;
    if (xf_cli_parse_ids(s, &ids, &n) == 0) {
        for (size_t i = 0; i < n; i++)
            if (ids[i] < 0) abort();
        char *text = NULL;
        size_t len = 0;
        if (xf_tokenizer_decode(byte, ids, n, &text, &len) == XF_OK) free(text);
        free(ids);
    }
    free(s);
    return 0;
}
