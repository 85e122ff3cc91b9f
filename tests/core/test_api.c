/* The embedder's entry points in include/xfmr/: the version, the thread count,
 * the public RNG, and xf_model_new from a preset, a config file and a
 * checkpoint directory. Only the umbrella header is included. */
#include <unistd.h>

#include "test.h"
#include "xfmr/xfmr.h"

TEST(test_version) {
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", XF_VERSION_MAJOR, XF_VERSION_MINOR, XF_VERSION_PATCH);
    CHECK(strcmp(want, XF_VERSION_STRING) == 0);
    CHECK(strcmp(xf_version(), XF_VERSION_STRING) == 0);
    CHECK(XF_VERSION == XF_VERSION_MAJOR * 10000 + XF_VERSION_MINOR * 100 + XF_VERSION_PATCH);
}

TEST(test_threads) {
    xf_set_threads(2);
    CHECK(xf_threads() == 2);
    xf_set_threads(1);
    CHECK(xf_threads() == 1);
}

TEST(test_rng_state_is_the_stream) {
    xf_rng a, b;
    xf_rng_seed(&a, 42);
    for (int i = 0; i < 5; i++) (void)xf_rng_u64(&a);
    b = a; /* a copied state continues the same stream */
    for (int i = 0; i < 100; i++) CHECK(xf_rng_u64(&a) == xf_rng_u64(&b));
    xf_rng_seed(&b, 43);
    CHECK(xf_rng_u64(&a) != xf_rng_u64(&b));
    for (int i = 0; i < 1000; i++) CHECK(xf_rng_below(&a, 7) < 7);
}

static int same_weights(xf_model *a, xf_model *b) {
    size_t n = xf_model_param_arena_len(a);
    return n == xf_model_param_arena_len(b) && !memcmp(xf_model_params(a), xf_model_params(b), n * sizeof(float));
}

TEST(test_model_new_every_spec) {
    xf_model *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    CHECK_OK(xf_model_new(&a, "gpt2-tiny", 7));
    CHECK_OK(xf_model_new(&b, "gpt2-tiny", 7));
    CHECK(same_weights(a, b)); /* initialised from the seed, deterministically */
    double ss = 0;
    const float *p = xf_model_params(a);
    for (size_t i = 0; i < xf_model_param_arena_len(a); i++) ss += (double)p[i] * p[i];
    CHECK(ss > 0);
    xf_model_free(b);
    CHECK_OK(xf_model_new(&b, "gpt2-tiny", 8));
    CHECK(!same_weights(a, b));
    /* a checkpoint directory is read back, the seed ignored */
    char dir[] = "/tmp/xf_api_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    CHECK_OK(xf_model_save(a, dir));
    CHECK_OK(xf_model_new(&c, dir, 99));
    CHECK(same_weights(a, c));
    /* a config file: a fresh model of that shape */
    char cfgpath[64];
    snprintf(cfgpath, sizeof cfgpath, "%s/config.json", dir);
    CHECK_OK(xf_model_new(&d, cfgpath, 7));
    CHECK(same_weights(a, d));
    xf_model_free(b);
    CHECK(xf_model_new(&b, "no-such-preset-or-file", 1) != XF_OK);
    CHECK(b == NULL);
    CHECK(strlen(xf_last_error()) > 0);
    char path[96];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    unlink(path);
    unlink(cfgpath);
    rmdir(dir);
    xf_model_free(a);
    xf_model_free(c);
    xf_model_free(d);
}

int main(void) {
    RUN(test_version);
    RUN(test_threads);
    RUN(test_rng_state_is_the_stream);
    RUN(test_model_new_every_spec);
    return test_summary();
}
