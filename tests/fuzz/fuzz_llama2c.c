/* llama2.c checkpoints (src/model/llama2c.c): v0 headerless, and export.py's
 * versioned ones (ak42, v1 f32, v2 q8_0). The bytes are read as a .bin
 * model; one that is accepted and small is scored once and freed. */
#include "fuzz.h"
#include "xfmr/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file("model.bin", data, size);
    if (!path) return 0;
    xf_config cfg;
    if (xf_model_open_config(&cfg, path) != XF_OK || xf_config_num_params(&cfg) > ((size_t)1 << 20)) return 0;
    xf_model *m = NULL;
    if (xf_model_open(&m, path) == XF_OK) {
        int32_t ids[2] = {0, (int32_t)(cfg.vocab_size - 1)};
        if (xf_model_reserve(m, 1, 2, 0) == XF_OK) xf_model_forward(m, ids, NULL, 1, 2, NULL, NULL);
        xf_model_free(m);
    }
    return 0;
}
