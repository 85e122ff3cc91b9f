/* Hugging Face directories (src/model/hf_arch.c, src/model/hf_io.c): the
 * first byte picks which file of a directory the rest of the input becomes,
 * config.json or model.safetensors.index.json; the other files are those of a
 * tiny llama exported once (its weights sharded as the index names them). A
 * directory that opens is scored once and freed. */
#include "fuzz.h"
#include "xfmr/config.h"
#include "xfmr/model.h"

static char g_dir[512];
static char *g_cfg, *g_index;
static size_t g_cfg_len, g_index_len;

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *b = malloc(1 << 16);
    *len = b ? fread(b, 1, 1 << 16, f) : 0;
    fclose(f);
    return b;
}

static void put(const char *name, const void *p, size_t n) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return;
    if (n) fwrite(p, 1, n, f);
    fclose(f);
}

/* A tiny llama exported as a Hugging Face directory, its one file of weights
 * renamed as shard 1 of 1 with an index naming every tensor. */
static void init_dir(void) {
    if (g_dir[0]) return;
    snprintf(g_dir, sizeof g_dir, "%s/hf", fuzz_dir());
    static const char cfg_json[] =
        "{\"vocab_size\": 64, \"hidden_size\": 8, \"intermediate_size\": 16, \"num_hidden_layers\": 1,"
        " \"num_attention_heads\": 2, \"num_key_value_heads\": 1, \"max_position_embeddings\": 8,"
        " \"hidden_act\": \"silu\", \"gated_ffn\": true, \"norm_type\": \"rmsnorm\", \"position_type\": \"rope\","
        " \"use_bias\": false, \"tie_word_embeddings\": false}";
    xf_config cfg;
    xf_model *m = NULL;
    if (xf_config_parse(&cfg, cfg_json, sizeof cfg_json - 1, "fuzz") || xf_model_create(&m, &cfg)) return;
    xf_model_init_weights(m, 1);
    if (xf_model_export(m, NULL, "hf", g_dir, NULL) == XF_OK) {
        char a[600], b[600];
        snprintf(a, sizeof a, "%s/model.safetensors", g_dir);
        snprintf(b, sizeof b, "%s/model-00001-of-00001.safetensors", g_dir);
        rename(a, b);
        char idx[8192];
        size_t n = (size_t)snprintf(idx, sizeof idx, "{\"metadata\": {}, \"weight_map\": {");
        for (size_t i = 0; i < xf_model_num_tensors(m) && n < sizeof idx - 200; i++)
            n += (size_t)snprintf(idx + n, sizeof idx - n, "%s\"%s\": \"model-00001-of-00001.safetensors\"",
                                  i ? ", " : "", xf_model_tensor(m, i)->name);
        n += (size_t)snprintf(idx + n, sizeof idx - n, "}}");
        put("model.safetensors.index.json", idx, n);
        snprintf(a, sizeof a, "%s/config.json", g_dir);
        g_cfg = slurp(a, &g_cfg_len);
        snprintf(a, sizeof a, "%s/model.safetensors.index.json", g_dir);
        g_index = slurp(a, &g_index_len);
    }
    xf_model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    init_dir();
    if (!g_cfg || !g_index || size < 1) return 0;
    int which = data[0] & 1;
    put("config.json", which ? g_cfg : (const char *)data + 1, which ? g_cfg_len : size - 1);
    put("model.safetensors.index.json", which ? (const char *)data + 1 : g_index, which ? size - 1 : g_index_len);
    xf_config cfg;
    if (xf_model_open_config(&cfg, g_dir) == XF_OK && xf_config_num_params(&cfg) <= ((size_t)1 << 20)) {
        xf_model *m = NULL;
        if (xf_model_open(&m, g_dir) == XF_OK) {
            int32_t ids[2] = {0, 1};
            if (xf_model_reserve(m, 1, 2, 0) == XF_OK) xf_model_forward(m, ids, NULL, 1, 2, NULL, NULL);
            xf_model_free(m);
        }
    }
    return 0;
}
