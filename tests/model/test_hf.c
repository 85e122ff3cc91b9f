/* Hugging Face directories (src/model/hf_arch.c, hf_io.c, hf_export.c):
 * xfmr -> HF -> xfmr round trips give the same tensors and bit-identical
 * logits for every family HF expresses; models HF cannot express are refused
 * saying why; hostile configs, index files and shards are refused with one
 * line naming the file. The numbers against PyTorch are in tests/ref/hf_parity.py. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/file.h"
#include "test.h"
#include "xfmr/model.h"
#include "xfmr/safetensors.h"

static char g_root[256];

static void tmpdir(char *out, size_t n, const char *name) {
    snprintf(out, n, "%s/%s", g_root, name);
    mkdir_p(out);
}

/* A model of `preset` (after `edit`) with weights that are not the initialiser's
 * round numbers (norm gains 1 and biases 0 would hide a swapped tensor). */
static xf_model *make_model(const char *preset, void (*edit)(xf_config *)) {
    xf_config c;
    if (xf_config_preset(&c, preset)) return NULL;
    c.num_hidden_layers = 2;
    if (c.num_decoder_layers) c.num_decoder_layers = 2;
    if (edit) edit(&c);
    xf_model *m = NULL;
    if (xf_model_create(&m, &c)) return NULL;
    xf_model_init_weights(m, 11);
    float *p = xf_model_params(m);
    for (size_t i = 0; i < xf_model_num_tensors(m); i++) {
        const xf_param_info *t = xf_model_tensor(m, i);
        if (!t->trainable) continue;
        for (size_t k = 0; k < t->numel; k++)
            p[t->offset + k] += 0.05f * (float)((double)((k * 2654435761u + i * 97u) % 1000u) / 1000.0 - 0.5);
    }
    return m;
}

/* Logits of a fixed batch (B=1, T=6; an encoder-decoder reads a 5-token source) into a new buffer. */
static float *logits_of(xf_model *m, size_t *n) {
    const xf_config *c = xf_model_config(m);
    int32_t ids[6] = {3, 17, 5, 42, 9, 1}, src[5] = {7, 2, 30, 11, 4};
    int encdec = c->arch == XF_ARCH_ENCODER_DECODER;
    if (xf_model_reserve_ex(m, 1, 6, encdec ? 5 : 0, 0)) return NULL;
    xf_batch b = {.B = 1, .T = 6, .ids = ids, .S = encdec ? 5 : 0, .src = encdec ? src : NULL};
    if (xf_model_forward_batch(m, &b, NULL, NULL)) return NULL;
    *n = 6 * c->vocab_size;
    float *out = malloc(*n * sizeof *out);
    if (out) memcpy(out, xf_model_logits(m), *n * sizeof *out);
    return out;
}

static char *read_text(const char *path) {
    char *t = NULL;
    size_t n;
    if (xf_file_read_all(path, &t, &n, 1 << 22)) return NULL;
    return t;
}

/* Export `m` as HF into dir; its config.json must say model_type `want`; read it
 * back: same config, the same tensors bit for bit, the same logits bit for bit. */
static void round_trip(xf_model *m, const char *dir, const char *want) {
    CHECK_OK(xf_model_export(m, NULL, "hf", dir, NULL));
    char path[600], needle[64];
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *cj = read_text(path);
    CHECK(cj);
    snprintf(needle, sizeof needle, "\"model_type\":\t\"%s\"", want);
    int found = strstr(cj, needle) != NULL;
    free(cj);
    CHECK_MSG(found, "%s does not hold %s", path, needle);
    CHECK(!strcmp(xf_model_format_name(dir), "hf"));
    xf_model *m2 = NULL;
    CHECK_OK(xf_model_open(&m2, dir));
    /* the same config, up to the fields that only steer training (HF configs lack most of them) */
    xf_config c1 = *xf_model_config(m), c2 = *xf_model_config(m2);
    c2.initializer_range = c1.initializer_range;
    c2.initializer_factor = c1.initializer_factor;
    c2.router_aux_loss_coef = c1.router_aux_loss_coef;
    c2.router_z_loss_coef = c1.router_z_loss_coef;
    c2.router_bias_update_speed = c1.router_bias_update_speed;
    char *j1 = xf_config_to_json(&c1), *j2 = xf_config_to_json(&c2);
    int same = j1 && j2 && !strcmp(j1, j2);
    if (!same) {
        char a[160] = "", b[160] = "";
        for (char *p = j1, *q = j2; p && q && *p; p = strchr(p, '\n'), q = strchr(q, '\n')) {
            p += *p == '\n';
            q += *q == '\n';
            if (strncmp(p, q, strcspn(p, "\n") + 1)) {
                snprintf(a, sizeof a, "%.*s", (int)strcspn(p, "\n"), p);
                snprintf(b, sizeof b, "%.*s", (int)strcspn(q, "\n"), q);
                break;
            }
        }
        free(j1);
        free(j2);
        xf_model_free(m2);
        FAILF("the config read back differs: %s, read back %s", a, b);
    }
    free(j1);
    free(j2);
    CHECK(xf_model_num_tensors(m) == xf_model_num_tensors(m2));
    for (size_t i = 0; i < xf_model_num_tensors(m); i++) {
        const xf_param_info *a = xf_model_tensor(m, i), *b = xf_model_tensor(m2, i);
        CHECK(!strcmp(a->name, b->name) && a->numel == b->numel);
        CHECK_MSG(!memcmp(xf_model_params(m) + a->offset, xf_model_params(m2) + b->offset, a->numel * 4),
                  "tensor %s differs after the round trip", a->name);
    }
    /* the padding between tensors too: the reader skips zeroing the arena
     * (model_create_unfilled) and must zero exactly the bytes it does not write */
    size_t an = xf_model_param_arena_len(m);
    CHECK(an == xf_model_param_arena_len(m2));
    CHECK_MSG(!memcmp(xf_model_params(m), xf_model_params(m2), an * sizeof(float)),
              "the parameter arena differs after the round trip (padding between tensors)");
    size_t n1 = 0, n2 = 0;
    float *l1 = logits_of(m, &n1), *l2 = logits_of(m2, &n2);
    int eq = l1 && l2 && n1 == n2 && !memcmp(l1, l2, n1 * sizeof *l1);
    free(l1);
    free(l2);
    xf_model_free(m2);
    CHECK_MSG(eq, "logits differ after the round trip");
}

static void rt_preset(const char *preset, void (*edit)(xf_config *), const char *name, const char *want) {
    char dir[512];
    tmpdir(dir, sizeof dir, name);
    xf_model *m = make_model(preset, edit);
    CHECK(m);
    round_trip(m, dir, want);
    xf_model_free(m);
}

static void learned(xf_config *c) { c->position_type = XF_POS_LEARNED; }
static void roberta(xf_config *c) {
    c->position_type = XF_POS_LEARNED;
    c->position_offset = 2;
    c->type_vocab_size = 1;
}
static void t5v11(xf_config *c) {
    c->gated_ffn = 1;
    c->hidden_act = XF_ACT_GELU_TANH;
    c->tie_word_embeddings = 0;
    c->rescale_tied_head = 0;
    c->num_decoder_layers = 3;
}
static void biased(xf_config *c) { c->use_bias = 1; }
/* Mixtral has one FFN width: an all-MoE model's dense width (unused) is not kept */
static void one_width(xf_config *c) { c->intermediate_size = c->moe_intermediate_size; }

TEST(test_hf_roundtrip_llama) { rt_preset("llama-tiny", NULL, "llama", "llama"); }
TEST(test_hf_roundtrip_llama_bias) { rt_preset("llama-tiny", biased, "llama_bias", "llama"); }
TEST(test_hf_roundtrip_gpt2) { rt_preset("gpt2-tiny", NULL, "gpt2", "gpt2"); }
TEST(test_hf_roundtrip_mixtral) { rt_preset("mixtral-tiny", one_width, "mixtral", "mixtral"); }
TEST(test_hf_roundtrip_bert) { rt_preset("bert-tiny", learned, "bert", "bert"); }
TEST(test_hf_roundtrip_roberta) { rt_preset("bert-tiny", roberta, "roberta", "roberta"); }
TEST(test_hf_roundtrip_t5) { rt_preset("t5-tiny", NULL, "t5", "t5"); }
TEST(test_hf_roundtrip_t5v11) { rt_preset("t5-tiny", t5v11, "t5v11", "t5"); }
TEST(test_hf_roundtrip_bart) { rt_preset("bart-tiny", NULL, "bart", "bart"); }
TEST(test_hf_roundtrip_deepseek) { rt_preset("deepseek-tiny", NULL, "deepseek", "glm4_moe"); }
/* group-limited routing (n_group / topk_group) both ways; 8 experts also give the
 * balancing bias [8] a padding gap in the arena, which the reader must zero */
static void grouped8(xf_config *c) {
    c->num_experts = 8;
    c->n_group = 2;
    c->topk_group = 1;
    if (c->num_experts_per_tok > 4) c->num_experts_per_tok = 4;
}
TEST(test_hf_roundtrip_deepseek_grouped) { rt_preset("deepseek-tiny", grouped8, "deepseek_grouped", "glm4_moe"); }

/* Models no HF architecture expresses: refused, saying why, nothing written. */
static void refused(const char *preset, void (*edit)(xf_config *), const char *why) {
    char dir[512], path[600];
    tmpdir(dir, sizeof dir, "refused");
    snprintf(path, sizeof path, "%s/out", dir);
    xf_model *m = make_model(preset, edit);
    CHECK(m);
    xf_status s = xf_model_export(m, NULL, "hf", path, NULL);
    xf_model_free(m);
    CHECK(s != XF_OK);
    CHECK_MSG(strstr(xf_last_error(), why) != NULL, "message lacks '%s': %s", why, xf_last_error());
    CHECK(!strchr(xf_last_error(), '\n'));
    CHECK_MSG(!xf_path_is_dir(path), "%s was written", path);
}

static void capacity(xf_config *c) { c->capacity_factor = 0; c->moe_layer_freq = 1; }
TEST(test_hf_refuse_prefix_lm) { refused("prefix-tiny", NULL, "prefix_lm"); }
TEST(test_hf_refuse_rope_encoder) { refused("bert-tiny", NULL, "position_type"); }
static void every_other(xf_config *c) { c->moe_layer_freq = 2; }
TEST(test_hf_refuse_moe_every_other) { refused("deepseek-tiny", every_other, "moe_layer_freq"); }
TEST(test_hf_refuse_switch) { refused("switch-tiny", capacity, "cannot hold"); }

/* ---------------------------------------------------------------- hostile directories */

static char g_good[512]; /* an exported llama-tiny directory */

static void write_file(const char *path, const char *text, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(text, 1, n, f);
        fclose(f);
    }
}

/* A copy of g_good as `name`, its config.json replaced by `config` when not NULL. */
static void copy_good(char *dir, size_t n, const char *name, const char *config) {
    tmpdir(dir, n, name);
    char src[600], dst[600], *data = NULL;
    size_t len;
    static const char *const files[] = {"config.json", "model.safetensors"};
    for (int i = 0; i < 2; i++) {
        snprintf(src, sizeof src, "%s/%s", g_good, files[i]);
        snprintf(dst, sizeof dst, "%s/%s", dir, files[i]);
        if (xf_file_read_all(src, &data, &len, (size_t)1 << 30)) continue;
        write_file(dst, data, len);
        free(data);
    }
    if (config) {
        snprintf(dst, sizeof dst, "%s/config.json", dir);
        write_file(dst, config, strlen(config));
    }
}

/* xf_model_open(dir) fails with one line naming `file` (and `what` when not NULL). */
static void open_fails(const char *dir, const char *file, const char *what) {
    xf_model *m = NULL;
    xf_status s = xf_model_open(&m, dir);
    xf_model_free(m);
    CHECK(s != XF_OK && m == NULL);
    const char *e = xf_last_error();
    CHECK_MSG(strstr(e, file) != NULL, "message does not name %s: %s", file, e);
    CHECK_MSG(!what || strstr(e, what) != NULL, "message lacks '%s': %s", what, e);
    CHECK(!strchr(e, '\n'));
}

static const char *LLAMA_CFG =
    "{\"model_type\": \"llama\", \"vocab_size\": 384, \"hidden_size\": 128, \"intermediate_size\": 352,"
    " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 2, %s}";

static void bad_config(const char *name, const char *extra, const char *what) {
    char cfg[1024], dir[512];
    snprintf(cfg, sizeof cfg, LLAMA_CFG, extra);
    copy_good(dir, sizeof dir, name, cfg);
    open_fails(dir, "config.json", what);
}

TEST(test_hf_good_copy_loads) {
    char dir[512];
    copy_good(dir, sizeof dir, "copy", NULL);
    xf_model *m = NULL;
    CHECK_OK(xf_model_open(&m, dir));
    xf_model_free(m);
    /* the hand-written config of the bad cases is right when nothing is wrong */
    char cfg[1024];
    snprintf(cfg, sizeof cfg, LLAMA_CFG, "\"rms_norm_eps\": 1e-5");
    copy_good(dir, sizeof dir, "handwritten", cfg);
    CHECK_OK(xf_model_open(&m, dir));
    xf_model_free(m);
    /* transformers v5's spelling of RoPE's settings */
    snprintf(cfg, sizeof cfg, LLAMA_CFG, "\"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 5e5}");
    copy_good(dir, sizeof dir, "v5", cfg);
    CHECK_OK(xf_model_open(&m, dir));
    CHECK(xf_model_config(m)->rope_theta == 5e5f);
    xf_model_free(m);
}

TEST(test_hf_bad_config_truncated) {
    char dir[512];
    copy_good(dir, sizeof dir, "trunc", "{\"model_type\": \"llama\", \"vocab_size\": 38");
    open_fails(dir, "config.json", "JSON");
}

TEST(test_hf_bad_config_oversized) {
    char dir[512], path[600];
    copy_good(dir, sizeof dir, "big", NULL);
    size_t n = (1u << 20) + 10;
    char *big = malloc(n);
    CHECK(big);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    snprintf(path, sizeof path, "%s/config.json", dir);
    write_file(path, big, n);
    free(big);
    /* detect cannot read it either, so the native reader names the file */
    open_fails(dir, "config.json", NULL);
}

TEST(test_hf_bad_config_values) {
    bad_config("unknown_type", "\"model_type\": \"llama\"", "duplicate"); /* duplicate key: cJSON keeps the first */
}

TEST(test_hf_bad_config_fields) {
    char dir[512];
    copy_good(dir, sizeof dir, "mt", "{\"model_type\": \"gpt_neox\", \"vocab_size\": 3}");
    open_fails(dir, "config.json", "llama, mistral");
    bad_config("heads", "\"rms_norm_eps\": 1e-5, \"num_attention_heads\": 3", NULL);
    bad_config("act", "\"hidden_act\": \"quick_gelu\"", "hidden_act");
    bad_config("rope", "\"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}", "rope_scaling");
    bad_config("bias", "\"attention_bias\": true, \"mlp_bias\": false", "mlp_bias");
    bad_config("size", "\"max_position_embeddings\": -4", "max_position_embeddings");
    bad_config("kind", "\"tie_word_embeddings\": \"yes\"", "tie_word_embeddings");
    bad_config("headdim", "\"head_dim\": 64", "head_dim");
    bad_config("rope_v5", "\"rope_parameters\": {\"rope_type\": \"yarn\", \"factor\": 4}", "rope_type");
    char cfg[512];
    snprintf(cfg, sizeof cfg, "{\"model_type\": \"llama\", \"hidden_size\": 128}");
    copy_good(dir, sizeof dir, "missing", cfg);
    open_fails(dir, "config.json", "vocab_size");
}

/* Rewrite g_good's tensors into `dir` as shards; mutate(i, name, ...) may change one. */
typedef int (*mutator)(size_t i, const char *name, xf_dtype *dt, size_t *ndim, size_t *shape);

static void write_shards(const char *dir, int nshards, mutator mut, const char *drop) {
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", g_good);
    xf_st_file *f = NULL;
    CHECK_OK(xf_st_open(&f, path));
    size_t n = xf_st_count(f);
    xf_st_writer *w[4] = {0};
    float **bufs = calloc(n, sizeof *bufs);
    CHECK(bufs && nshards <= 4);
    for (int k = 0; k < nshards; k++) CHECK_OK(xf_st_writer_create(&w[k]));
    char index[65536];
    size_t il = (size_t)snprintf(index, sizeof index, "{\"metadata\": {}, \"weight_map\": {");
    for (size_t i = 0; i < n; i++) {
        const xf_st_tensor *t = xf_st_at(f, i);
        if (drop && !strcmp(t->name, drop)) continue;
        bufs[i] = malloc(t->numel * sizeof(float) + 16);
        CHECK(bufs[i]);
        CHECK_OK(xf_st_read_f32(f, t->name, bufs[i], t->ndim, t->shape));
        xf_dtype dt = XF_DT_F32;
        size_t ndim = t->ndim, shape[XF_ST_MAX_DIMS];
        memcpy(shape, t->shape, sizeof shape);
        if (mut) mut(i, t->name, &dt, &ndim, shape);
        int k = (int)(i % (size_t)nshards);
        CHECK_OK(xf_st_writer_add(w[k], t->name, dt, ndim, shape, bufs[i]));
        il += (size_t)snprintf(index + il, sizeof index - il, "%s\"%s\": \"model-%05d-of-%05d.safetensors\"",
                               il > 40 ? ", " : "", t->name, k + 1, nshards);
        CHECK(il < sizeof index);
    }
    il += (size_t)snprintf(index + il, sizeof index - il, "}}");
    for (int k = 0; k < nshards; k++) {
        if (nshards == 1) snprintf(path, sizeof path, "%s/model.safetensors", dir);
        else snprintf(path, sizeof path, "%s/model-%05d-of-%05d.safetensors", dir, k + 1, nshards);
        CHECK_OK(xf_st_writer_write(w[k], path));
        xf_st_writer_free(w[k]);
    }
    if (nshards > 1) {
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        unlink(path);
        snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
        write_file(path, index, il);
    }
    for (size_t i = 0; i < n; i++) free(bufs[i]);
    free(bufs);
    xf_st_close(f);
}

TEST(test_hf_sharded_loads) {
    char dir[512];
    copy_good(dir, sizeof dir, "sharded", NULL);
    write_shards(dir, 3, NULL, NULL);
    xf_model *a = NULL, *b = NULL;
    CHECK_OK(xf_model_open(&a, g_good));
    CHECK_OK(xf_model_open(&b, dir));
    int same = xf_model_num_params(a) == xf_model_num_params(b);
    for (size_t i = 0; same && i < xf_model_num_tensors(a); i++) {
        const xf_param_info *t = xf_model_tensor(a, i);
        same = !memcmp(xf_model_params(a) + t->offset, xf_model_params(b) + t->offset, t->numel * 4);
    }
    xf_model_free(a);
    xf_model_free(b);
    CHECK_MSG(same, "the sharded copy loads different weights");
}

TEST(test_hf_bad_index) {
    char dir[512], path[600];
    copy_good(dir, sizeof dir, "idx_trunc", NULL);
    write_shards(dir, 2, NULL, NULL);
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    write_file(path, "{\"weight_map\": {\"model.embed", 28);
    open_fails(dir, "model.safetensors.index.json", "JSON");

    copy_good(dir, sizeof dir, "idx_missing_shard", NULL);
    write_shards(dir, 2, NULL, NULL);
    snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", dir);
    unlink(path);
    open_fails(dir, "model-00002-of-00002.safetensors", "missing");

    copy_good(dir, sizeof dir, "idx_escape", NULL);
    write_shards(dir, 2, NULL, NULL);
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    const char *esc = "{\"weight_map\": {\"model.norm.weight\": \"../model.safetensors\"}}";
    write_file(path, esc, strlen(esc));
    open_fails(dir, "model.safetensors.index.json", "not a file name");

    copy_good(dir, sizeof dir, "idx_wrong_file", NULL);
    write_shards(dir, 2, NULL, NULL);
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    char *t = read_text(path);
    CHECK(t);
    char *p = strstr(t, "\"model.norm.weight\": \"model-0000");
    CHECK(p);
    p += strlen("\"model.norm.weight\": \"model-0000");
    *p = *p == '1' ? '2' : '1'; /* name the other shard */
    write_file(path, t, strlen(t));
    free(t);
    open_fails(dir, "model.safetensors.index.json", "model.norm.weight");

    copy_good(dir, sizeof dir, "idx_unlisted", NULL);
    write_shards(dir, 2, NULL, NULL);
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    t = read_text(path);
    CHECK(t);
    p = strstr(t, "\"model.norm.weight\": ");
    CHECK(p);
    memcpy(p, "\"model.norm.weighX\"", 19); /* the shard's tensor is no longer listed */
    write_file(path, t, strlen(t));
    free(t);
    open_fails(dir, "model.safetensors.index.json", "model.norm.weigh");
}

static int wrong_shape(size_t i, const char *name, xf_dtype *dt, size_t *ndim, size_t *shape) {
    (void)i, (void)dt;
    if (strcmp(name, "model.layers.1.self_attn.k_proj.weight")) return 0;
    size_t t = shape[0]; /* [64, 128] -> [128, 64] */
    shape[0] = shape[1];
    shape[1] = t;
    return *ndim == 2;
}
static int wrong_dtype(size_t i, const char *name, xf_dtype *dt, size_t *ndim, size_t *shape) {
    (void)i, (void)ndim, (void)shape;
    if (!strcmp(name, "model.norm.weight")) *dt = XF_DT_I32;
    return 0;
}
static int extra_name(size_t i, const char *name, xf_dtype *dt, size_t *ndim, size_t *shape) {
    (void)i, (void)name, (void)dt, (void)ndim, (void)shape;
    return 0;
}

TEST(test_hf_bad_shards) {
    char dir[512], path[600];
    copy_good(dir, sizeof dir, "shape", NULL);
    write_shards(dir, 2, wrong_shape, NULL);
    open_fails(dir, "model-0000", "k_proj");

    copy_good(dir, sizeof dir, "dtype", NULL);
    write_shards(dir, 1, wrong_dtype, NULL);
    open_fails(dir, "model.safetensors", "I32");

    copy_good(dir, sizeof dir, "drop", NULL);
    write_shards(dir, 1, extra_name, "model.layers.0.mlp.up_proj.weight");
    open_fails(dir, dir, "model.layers.0.mlp.up_proj.weight");

    copy_good(dir, sizeof dir, "trunc_st", NULL);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    char *data = NULL;
    size_t len;
    CHECK_OK(xf_file_read_all(path, &data, &len, (size_t)1 << 30));
    write_file(path, data, len / 2);
    free(data);
    open_fails(dir, "model.safetensors", NULL);

    copy_good(dir, sizeof dir, "none", NULL);
    unlink(path);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    unlink(path);
    open_fails(dir, dir, "model.safetensors");
}

/* An extra tensor the architecture does not have. */
TEST(test_hf_bad_extra_tensor) {
    char dir[512], path[600];
    copy_good(dir, sizeof dir, "extra", NULL);
    snprintf(path, sizeof path, "%s/model.safetensors", g_good);
    xf_st_file *f = NULL;
    CHECK_OK(xf_st_open(&f, path));
    xf_st_writer *w = NULL;
    CHECK_OK(xf_st_writer_create(&w));
    float **bufs = calloc(xf_st_count(f), sizeof *bufs);
    CHECK(bufs);
    for (size_t i = 0; i < xf_st_count(f); i++) {
        const xf_st_tensor *t = xf_st_at(f, i);
        bufs[i] = malloc(t->numel * 4 + 4);
        CHECK_OK(xf_st_read_f32(f, t->name, bufs[i], t->ndim, t->shape));
        CHECK_OK(xf_st_writer_add(w, t->name, XF_DT_F32, t->ndim, t->shape, bufs[i]));
    }
    float extra[4] = {0};
    size_t four = 4;
    CHECK_OK(xf_st_writer_add(w, "model.layers.0.self_attn.q_norm.weight", XF_DT_F32, 1, &four, extra));
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    CHECK_OK(xf_st_writer_write(w, path));
    xf_st_writer_free(w);
    for (size_t i = 0; i < xf_st_count(f); i++) free(bufs[i]);
    free(bufs);
    xf_st_close(f);
    open_fails(dir, "model.safetensors", "q_norm");
}

/* Every prefix of config.json and of the index, and the index with each byte
 * replaced, either loads or fails with one line: never a crash (CI runs this
 * under ASan and UBSan). */
TEST(test_hf_truncations) {
    char dir[512], path[600], cpath[600];
    copy_good(dir, sizeof dir, "fuzz", NULL);
    write_shards(dir, 2, NULL, NULL);
    snprintf(cpath, sizeof cpath, "%s/config.json", dir);
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    char *cfg = read_text(cpath), *idx = read_text(path);
    CHECK(cfg && idx);
    size_t cl = strlen(cfg), il = strlen(idx), loaded = 0;
    for (int which = 0; which < 2; which++) {
        const char *text = which ? idx : cfg, *file = which ? path : cpath;
        size_t len = which ? il : cl;
        for (size_t k = 0; k < len; k++) {
            write_file(file, text, k);
            xf_model *m = NULL;
            xf_status s = xf_model_open(&m, dir);
            loaded += s == XF_OK;
            xf_model_free(m);
            CHECK_MSG(s == XF_OK || !strchr(xf_last_error(), '\n'), "two lines at %zu", k);
        }
        write_file(file, text, len);
    }
    static const char subst[] = "\"{}[],:0\\x";
    for (size_t k = 0; k < il; k += 5) {
        char *t = strdup(idx);
        CHECK(t);
        t[k] = subst[k % (sizeof subst - 1)];
        write_file(path, t, il);
        free(t);
        xf_model *m = NULL;
        xf_status s = xf_model_open(&m, dir);
        xf_model_free(m);
        CHECK_MSG(s == XF_OK || !strchr(xf_last_error(), '\n'), "two lines at byte %zu", k);
    }
    free(cfg);
    free(idx);
    CHECK(loaded == 0); /* no proper prefix of either file is a complete one */
}

int main(void) {
    snprintf(g_root, sizeof g_root, "/tmp/xf_test_hf_XXXXXX");
    if (!mkdtemp(g_root)) return 1;
    RUN(test_hf_roundtrip_llama);
    RUN(test_hf_roundtrip_llama_bias);
    RUN(test_hf_roundtrip_gpt2);
    RUN(test_hf_roundtrip_mixtral);
    RUN(test_hf_roundtrip_bert);
    RUN(test_hf_roundtrip_roberta);
    RUN(test_hf_roundtrip_t5);
    RUN(test_hf_roundtrip_t5v11);
    RUN(test_hf_roundtrip_bart);
    RUN(test_hf_roundtrip_deepseek);
    RUN(test_hf_roundtrip_deepseek_grouped);
    RUN(test_hf_refuse_prefix_lm);
    RUN(test_hf_refuse_rope_encoder);
    RUN(test_hf_refuse_moe_every_other);
    RUN(test_hf_refuse_switch);
    snprintf(g_good, sizeof g_good, "%s/llama", g_root);
    RUN(test_hf_good_copy_loads);
    RUN(test_hf_bad_config_truncated);
    RUN(test_hf_bad_config_oversized);
    RUN(test_hf_bad_config_values);
    RUN(test_hf_bad_config_fields);
    RUN(test_hf_sharded_loads);
    RUN(test_hf_bad_index);
    RUN(test_hf_bad_shards);
    RUN(test_hf_bad_extra_tensor);
    RUN(test_hf_truncations);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_root);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_root);
    return test_summary();
}
