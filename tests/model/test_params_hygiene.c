/* Parameter table hygiene (src/model/params.c, included here to reach its
 * static builder): xf_config_validate and the table build run on a small
 * thread stack (they used to put a 4096-layer array, ~160 KB, on the stack),
 * and a tensor name too long for xf_param_info.name is reported as such, not
 * as "out of memory". */
#include <pthread.h>

#include "../../src/model/params.c"
#include "test.h"

static const char k_cfg[] =
    "{\"vocab_size\": 64, \"hidden_size\": 8, \"intermediate_size\": 16, \"num_hidden_layers\": 3,"
    " \"num_attention_heads\": 2, \"max_position_embeddings\": 16, \"num_experts\": 4, \"num_experts_per_tok\": 2}";

static void *validate_on_small_stack(void *arg) {
    xf_config cfg;
    int *ok = arg;
    *ok = xf_config_parse(&cfg, k_cfg, sizeof k_cfg - 1, "small-stack") == XF_OK &&
          xf_config_validate(&cfg, "small-stack") == XF_OK && xf_config_num_params(&cfg) > 0;
    return NULL;
}

TEST(test_validate_small_stack) {
    pthread_attr_t at;
    pthread_attr_init(&at);
    /* 64 KiB: far less than the old array alone; the sanitizer build needs more */
    size_t stack = 64 * 1024;
#if defined(__SANITIZE_ADDRESS__)
    stack = 256 * 1024;
#endif
    pthread_attr_setstacksize(&at, stack);
    pthread_t th;
    int ok = 0;
    CHECK(pthread_create(&th, &at, validate_on_small_stack, &ok) == 0);
    pthread_join(th, NULL);
    pthread_attr_destroy(&at);
    CHECK_MSG(ok, "xf_config_validate failed on a %zu-byte stack", stack);
}

TEST(test_long_name_not_oom) {
    xf_config cfg;
    CHECK_OK(xf_config_parse(&cfg, k_cfg, sizeof k_cfg - 1, "long-name"));
    table_builder tb = {.cfg = &cfg};
    char name[200];
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    add_row(&tb, 0, name, 4, 0, I_ZERO, SIZE_MAX, NOVIEW, 1, XF_ROLE_NORM);
    CHECK(!tb.fail && !tb.overflow && tb.long_name[0]);
    CHECK(builder_status(&tb) == XF_ERR_ARG);
    CHECK_MSG(strstr(xf_last_error(), "longer than 95 bytes") != NULL, "message: %s", xf_last_error());
    CHECK(strstr(xf_last_error(), "out of memory") == NULL);
    free(tb.rows);
    free(tb.slots);
    /* the real table still builds */
    xf_param_info *t = NULL;
    xf_param_slot *sl = NULL;
    size_t n = 0, np = 0;
    CHECK_OK(params_build(&cfg, &t, &sl, &n, &np));
    CHECK(n > 0 && np >= xf_config_num_params(&cfg));
    free(t);
    free(sl);
}

int main(void) {
    RUN(test_validate_small_stack);
    RUN(test_long_name_not_oom);
    return test_summary();
}
