/* safetensors, header and data (src/io/safetensors.c): open the bytes as a
 * file; on success read every tensor (as f32 where the dtype allows, the raw
 * bytes otherwise) and every metadata key, then load it as the weights of a
 * small fixed model (name and shape checks) and write it back out. */
#include "fuzz.h"
#include "xfmr/config.h"
#include "xfmr/model.h"
#include "xfmr/safetensors.h"

static xf_model *g_model; /* a tiny decoder whose weights the file may claim to be */

static void init_model(void) {
    if (g_model) return;
    static const char cfg_json[] =
        "{\"vocab_size\": 384, \"hidden_size\": 8, \"intermediate_size\": 16, \"num_hidden_layers\": 1,"
        " \"num_attention_heads\": 2, \"max_position_embeddings\": 8}";
    xf_config cfg;
    if (xf_config_parse(&cfg, cfg_json, sizeof cfg_json - 1, "fuzz") == XF_OK) xf_model_create(&g_model, &cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    init_model();
    const char *path = fuzz_file("model.safetensors", data, size);
    if (!path) return 0;
    xf_st_file *f = NULL;
    if (xf_st_open(&f, path) == XF_OK) {
        volatile unsigned sum = 0;
        for (size_t i = 0; i < xf_st_count(f); i++) {
            const xf_st_tensor *t = xf_st_at(f, i);
            const unsigned char *p = xf_st_data(f, t);
            size_t bytes = t->end - t->begin;
            for (size_t j = 0; j < bytes; j++) sum += p[j];
            if (xf_st_find(f, t->name) == NULL) abort(); /* a listed name must be found */
            size_t numel = t->numel;
            if (numel <= (1u << 20)) {
                float *dst = malloc((numel ? numel : 1) * sizeof *dst);
                if (dst) xf_st_read_f32(f, t->name, dst, t->ndim, t->shape);
                free(dst);
            }
        }
        (void)sum;
        xf_st_meta(f, "producer");
        xf_st_meta(f, "format");
        xf_st_close(f);
        if (g_model) xf_model_load_weights(g_model, path);
    }
    return 0;
}
