/* GGUF (src/io/gguf.c, src/model/gguf_arch.c, src/data/tok_gguf.c): the
 * container is parsed from the bytes; when it parses, every key and tensor is
 * walked, and a file that holds a small enough model is opened as one (config,
 * weights dequantised, the tokenizer it carries), scored once and freed. */
#include "fuzz.h"
#include "io/gguf.h"
#include "xfmr/model.h"
#include "xfmr/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gguf_file *g = NULL;
    if (gguf_parse(&g, data, size, "fuzz.gguf") == XF_OK) {
        volatile size_t n = gguf_kv_count(g) + gguf_tensor_count(g);
        (void)n;
        uint64_t u;
        const char *s;
        size_t len;
        gguf_get_uint(g, "llama.context_length", 0, UINT64_MAX, &u);
        gguf_get_str(g, "general.architecture", 0, &s, &len);
        gguf_close(g);
    }
    const char *path = fuzz_file("model.gguf", data, size);
    if (!path) return 0;
    xf_config cfg;
    /* a model whose weights fit in the input: no large allocations */
    if (xf_model_open_config(&cfg, path) != XF_OK || xf_config_num_params(&cfg) > ((size_t)1 << 20)) return 0;
    xf_model *m = NULL;
    if (xf_model_open(&m, path) == XF_OK) {
        xf_tokenizer *tok = NULL;
        xf_model_open_tokenizer(&tok, path);
        int32_t ids[2] = {0, (int32_t)(cfg.vocab_size - 1)};
        if (xf_model_reserve(m, 1, 2, 0) == XF_OK) xf_model_forward(m, ids, NULL, 1, 2, NULL, NULL);
        xf_tokenizer_free(tok);
        xf_model_free(m);
    }
    return 0;
}
