/* Resume state round trip through the library's trainer (xf_train): 6 steps
 * in one run and 3 + 3 with a resume in between give the same weights, the
 * same optimizer moments, step and RNG, bit for bit; xf_train_load_opts reads
 * back the options the run was saved with. The CLI tests check the same
 * through `xfmr train --resume`. */
#include <unistd.h>

#include "test.h"
#include "xfmr/xfmr.h"

static char g_dir[64];

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(text, 1, strlen(text), f) == strlen(text));
    CHECK(fclose(f) == 0);
}

static xf_train_opts opts(size_t steps) {
    xf_train_opts o;
    xf_train_opts_default(&o);
    o.steps = steps;
    o.decay_steps = 6;
    o.batch = 2;
    o.seq = 16;
    o.warmup = 2;
    o.eval_every = 0;
    o.val_fraction = 0;
    o.threads = 1;
    o.seed = 77;
    return o;
}

static int quiet(const xf_train_event *ev, void *ctx) { return 0; }

/* Tensor `name` has the same bytes in safetensors files a and b. */
static void same_tensor(const char *a, const char *b, const char *name) {
    xf_st_file *fa = NULL, *fb = NULL;
    CHECK_OK(xf_st_open(&fa, a));
    xf_status s = xf_st_open(&fb, b);
    const xf_st_tensor *ta = xf_st_find(fa, name), *tb = s ? NULL : xf_st_find(fb, name);
    int same = ta && tb && ta->end - ta->begin == tb->end - tb->begin &&
               !memcmp(xf_st_data(fa, ta), xf_st_data(fb, tb), ta->end - ta->begin);
    xf_st_close(fa);
    xf_st_close(fb);
    CHECK_OK(s);
    CHECK_MSG(same, "%s differs between %s and %s (or is missing)", name, a, b);
}

TEST(test_resume_is_bit_for_bit) {
    char data[96], cfg[96], one[96], two[96];
    snprintf(data, sizeof data, "%s/data.txt", g_dir);
    snprintf(cfg, sizeof cfg, "%s/tiny.json", g_dir);
    snprintf(one, sizeof one, "%s/one", g_dir);
    snprintf(two, sizeof two, "%s/two", g_dir);
    char *text = NULL;
    size_t len = 0;
    CHECK_OK(xf_corpus_generate(&text, &len, 20000, 3));
    write_file(data, text);
    free(text);
    write_file(cfg, "{\"vocab_size\":384,\"hidden_size\":16,\"intermediate_size\":32,\"num_hidden_layers\":1,"
                    "\"num_attention_heads\":2,\"max_position_embeddings\":32}");
    xf_train_opts o6 = opts(6), o3 = opts(3);
    xf_train_paths p1 = {.model = cfg, .data = data, .out = one};
    CHECK_OK(xf_train(&p1, &o6, quiet, NULL));
    xf_train_paths p2 = {.model = cfg, .data = data, .out = two};
    CHECK_OK(xf_train(&p2, &o3, quiet, NULL));
    xf_train_opts back;
    xf_train_opts_default(&back);
    CHECK_OK(xf_train_load_opts(two, &back));
    CHECK(back.steps == 3 && back.batch == 2 && back.seq == 16 && back.warmup == 2 && back.seed == 77);
    CHECK(back.lr == o3.lr && back.beta2 == o3.beta2 && back.grad_clip == o3.grad_clip && back.decay_steps == 6);
    xf_train_paths p3 = {.data = data, .out = two, .resume = 1};
    CHECK_OK(xf_train(&p3, &o6, quiet, NULL));

    char ma[128], mb[128], sa[128], sb[128];
    snprintf(ma, sizeof ma, "%s/model.safetensors", one);
    snprintf(mb, sizeof mb, "%s/model.safetensors", two);
    snprintf(sa, sizeof sa, "%s/train_state.safetensors", one);
    snprintf(sb, sizeof sb, "%s/train_state.safetensors", two);
    xf_model *a = NULL, *b = NULL;
    CHECK_OK(xf_model_load(&a, one));
    CHECK_OK(xf_model_load(&b, two));
    size_t n = xf_model_param_arena_len(a);
    CHECK(n == xf_model_param_arena_len(b));
    CHECK_MSG(!memcmp(xf_model_params(a), xf_model_params(b), n * sizeof(float)), "weights differ after resume");
    xf_model *fresh = NULL;
    CHECK_OK(xf_model_new(&fresh, cfg, 1));
    CHECK(memcmp(xf_model_params(a), xf_model_params(fresh), n * sizeof(float)) != 0); /* it trained */
    same_tensor(sa, sb, "optimizer.exp_avg");
    same_tensor(sa, sb, "optimizer.exp_avg_sq");
    same_tensor(sa, sb, "step");
    same_tensor(sa, sb, "rng");
    xf_model_free(a);
    xf_model_free(b);
    xf_model_free(fresh);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/xf_resume_XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    RUN(test_resume_is_bit_for_bit);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd)) return 1;
    return test_summary();
}
