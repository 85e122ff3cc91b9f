/* xfmr study's pure logic (src/train/study_grid.c, study_eval.c): the default
 * grid, the FLOPs count against a hand count from the config, the sizing rule
 * (steps fill the budget; the largest shape with 20 tokens per active
 * parameter), MoE twins at equal active parameters, user grid files (good and
 * hostile), and the fixed evaluation sets (deterministic, the same positions
 * for every call, windows that fit the training shape). The runs themselves
 * are tests/cli/test_study.sh. */
#include <unistd.h>

#include "test.h"
#include "xfmr/study.h"
#include "xfmr/xfmr.h"

static char g_dir[64];

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(text, 1, strlen(text), f) == strlen(text));
    CHECK(fclose(f) == 0);
}

static xf_study_shape_opts shape_opts(double budget) {
    return (xf_study_shape_opts){.batch = 4, .seq = 64, .vocab = 256, .budget = budget};
}

static const xf_study_row *find_row(const xf_study_grid *g, const char *name) {
    for (size_t i = 0; i < g->n; i++)
        if (!strcmp(g->rows[i].name, name)) return &g->rows[i];
    return NULL;
}

TEST(test_study_default_grid) {
    static xf_study_grid g;
    CHECK_OK(xf_study_grid_load(&g, "default"));
    CHECK(g.n == 12);
    const char *names[] = {"decoder-clm", "prefix_lm-prefix", "prefix_lm-glm", "encdec-span", "encdec-bart",
                           "encoder-mlm"};
    for (size_t i = 0; i < 6; i++) {
        char moe[80];
        snprintf(moe, sizeof moe, "%s-moe", names[i]);
        const xf_study_row *d = find_row(&g, names[i]), *m = find_row(&g, moe);
        CHECK_MSG(d && m, "no %s or %s", names[i], moe);
        CHECK(!d->moe && m->moe && d->arch == m->arch && !strcmp(d->objective, m->objective));
    }
}

/* The bench count by hand for a dense decoder (llama layer):
 * 6 B T (L (4 C^2 + 3 C I) + V C) + 12 C L B T^2 (the head, tied or not, is V C). */
TEST(test_study_flops_by_hand) {
    static xf_study_grid g;
    CHECK_OK(xf_study_grid_load(&g, "default"));
    xf_study_shape_opts so = shape_opts(1e9);
    xf_study_plan p;
    CHECK_OK(xf_study_plan_row(find_row(&g, "decoder-clm"), &so, &p));
    double B = 4, T = 64, C = (double)p.cfg.hidden_size, I = (double)p.cfg.intermediate_size;
    double L = (double)p.cfg.num_hidden_layers, V = (double)p.cfg.vocab_size;
    CHECK(p.cfg.gated_ffn && p.cfg.num_key_value_heads == p.cfg.num_attention_heads);
    double want = 6 * B * T * (L * (4 * C * C + 3 * C * I) + V * C) + 12 * C * L * B * T * T;
    CHECK_NEAR(p.flops_per_step / want, 1.0, 1e-12);
    /* steps fill the budget and one more would not */
    CHECK(p.steps >= 1);
    CHECK((double)p.steps * p.flops_per_step <= 1e9);
    CHECK((double)(p.steps + 1) * p.flops_per_step > 1e9);
}

/* MoE twins: the same active parameters up to the router (C x E per MoE
 * layer), more parameters in all, and about the same FLOPs per step. */
TEST(test_study_moe_equal_active) {
    static xf_study_grid g;
    CHECK_OK(xf_study_grid_load(&g, "default"));
    xf_study_shape_opts so = shape_opts(1e10);
    const char *pairs[][2] = {{"decoder-clm", "decoder-clm-moe"}, {"encdec-bart", "encdec-bart-moe"},
                              {"encoder-mlm", "encoder-mlm-moe"}};
    for (size_t i = 0; i < 3; i++) {
        xf_study_plan d, m;
        CHECK_OK(xf_study_plan_row(find_row(&g, pairs[i][0]), &so, &d));
        CHECK_OK(xf_study_plan_row(find_row(&g, pairs[i][1]), &so, &m));
        CHECK(d.cfg.hidden_size == m.cfg.hidden_size && m.cfg.num_experts == 8);
        size_t layers = xf_config_encoder_layers(&m.cfg) + xf_config_decoder_layers(&m.cfg);
        size_t router = m.cfg.hidden_size * m.cfg.num_experts * layers;
        CHECK_MSG(m.active_params >= d.active_params && m.active_params - d.active_params <= router,
                  "%s: active %zu vs %zu (router %zu)", pairs[i][1], m.active_params, d.active_params, router);
        CHECK(m.params > d.params); /* more parameters in all */
        CHECK_NEAR(m.flops_per_step / d.flops_per_step, 1.0, 0.05);
    }
}

/* The sizing rule: the chosen shape sees >= 20 tokens per active parameter
 * (unless it is the smallest), the next larger one would not; more budget
 * never picks a smaller model. */
TEST(test_study_sizing_rule) {
    static xf_study_grid g;
    CHECK_OK(xf_study_grid_load(&g, "default"));
    const xf_study_row *row = find_row(&g, "decoder-clm");
    size_t last_params = 0, shapes_seen = 0, last_shape = (size_t)-1;
    for (double budget = 1e9; budget <= 1e16; budget *= 10) {
        xf_study_shape_opts so = shape_opts(budget);
        xf_study_plan p;
        CHECK_OK(xf_study_plan_row(row, &so, &p));
        double tokens = (double)p.steps * 4 * 64;
        if (p.shape > 0) CHECK_MSG(tokens >= 20.0 * (double)p.active_params, "budget %g: %g tokens for %zu params",
                                   budget, tokens, p.active_params);
        CHECK(p.active_params >= last_params);
        if (p.shape != last_shape) shapes_seen++;
        last_shape = p.shape;
        last_params = p.active_params;
    }
    CHECK(shapes_seen >= 3);
    /* a budget below one step is refused, naming the budget */
    xf_study_shape_opts tiny = shape_opts(10);
    xf_study_plan p;
    CHECK(xf_study_plan_row(row, &tiny, &p) == XF_ERR_ARG);
    CHECK(strstr(xf_last_error(), "one step") != NULL);
}

TEST(test_study_unknown_objective) {
    xf_study_row r;
    memset(&r, 0, sizeof r);
    r.arch = XF_ARCH_PREFIX_LM;
    snprintf(r.name, sizeof r.name, "x");
    snprintf(r.objective, sizeof r.objective, "nosuch");
    xf_study_shape_opts so = shape_opts(1e10);
    xf_study_plan p;
    CHECK(xf_study_plan_row(&r, &so, &p) != XF_OK);
    CHECK(strstr(xf_last_error(), "nosuch") != NULL);
}

TEST(test_study_user_grid) {
    static xf_study_grid g;
    char path[128];
    snprintf(path, sizeof path, "%s/grid.json", g_dir);
    write_file(path, "{\"models\": [{\"name\": \"small-gpt\", \"arch\": \"decoder\", \"objective\": \"clm\","
                     " \"config\": {\"hidden_size\": 32, \"num_hidden_layers\": 1, \"num_attention_heads\": 2,"
                     " \"num_key_value_heads\": 2}},"
                     " {\"arch\": \"encoder_decoder\", \"objective\": \"bart\", \"moe\": true}]}");
    CHECK_OK(xf_study_grid_load(&g, path));
    CHECK(g.n == 2);
    CHECK(!strcmp(g.rows[0].name, "small-gpt") && g.rows[0].fixed_shape && g.rows[0].n_sets == 4);
    CHECK(!strcmp(g.rows[1].name, "encdec-bart-moe-1") && g.rows[1].moe && !g.rows[1].fixed_shape);
    xf_study_shape_opts so = shape_opts(1e12);
    xf_study_plan p;
    CHECK_OK(xf_study_plan_row(&g.rows[0], &so, &p));
    CHECK(p.cfg.hidden_size == 32 && p.cfg.num_hidden_layers == 1 && p.shape == (size_t)-1);
}

/* Each hostile grid is refused with one line naming the file and the problem. */
TEST(test_study_bad_grids) {
    static xf_study_grid g;
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"{\"models\": [", "not valid JSON"},
        {"[]", "want {"},
        {"{\"models\": []}", "empty"},
        {"{\"models\": [{\"objective\": \"clm\"}]}", "arch must be"},
        {"{\"models\": [{\"arch\": \"gpt\", \"objective\": \"clm\"}]}", "is not decoder"},
        {"{\"models\": [{\"arch\": \"decoder\", \"objective\": \"mlm\"}]}", "models[0]"},
        {"{\"models\": [{\"arch\": \"decoder\", \"objective\": 3}]}", "objective must be"},
        {"{\"models\": [{\"arch\": \"decoder\", \"objective\": \"clm\", \"moe\": 1}]}", "moe must be"},
        {"{\"models\": [{\"arch\": \"decoder\", \"objective\": \"clm\", \"colour\": 1}]}", "unknown field"},
        {"{\"models\": [{\"arch\": \"decoder\", \"objective\": \"clm\", \"name\": \"../x\"}]}", "name may hold"},
        {"{\"models\": [{\"arch\": \"decoder\", \"objective\": \"clm\", \"config\": {\"hidden_size\": -4}}]}",
         "hidden_size"},
        {"{\"models\": [{\"arch\": \"decoder\", \"objective\": \"clm\", \"config\": {\"arch\": \"encoder\"}}]}",
         "give arch beside"},
        {"{\"models\": [{\"arch\": \"decoder\", \"objective\": \"clm\", \"config\": {\"no_such\": 1}}]}", "no_such"},
        {"{\"models\": [{\"arch\": \"decoder\", \"objective\": \"clm\", \"name\": \"a\"},"
         " {\"arch\": \"decoder\", \"objective\": \"prefix\", \"name\": \"a\"}]}",
         "is taken"},
    };
    char path[128];
    snprintf(path, sizeof path, "%s/bad.json", g_dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_file(path, cases[i].text);
        xf_status s = xf_study_grid_load(&g, path);
        CHECK_MSG(s != XF_OK, "case %zu accepted", i);
        const char *msg = xf_last_error();
        CHECK_MSG(strstr(msg, path) && strstr(msg, cases[i].want) && !strchr(msg, '\n'),
                  "case %zu: \"%s\" (want \"%s\")", i, msg, cases[i].want);
    }
    CHECK(xf_study_grid_load(&g, "/nonexistent/grid.json") != XF_OK);
    CHECK(strstr(xf_last_error(), "/nonexistent/grid.json") != NULL);
}

/* The evaluation sets: the same for every call, the corruption at about 15%,
 * windows whose span format fits the sequence, the bytes of the byte tokenizer
 * equal to the predicted tokens. */
TEST(test_study_evalset) {
    char path[128];
    snprintf(path, sizeof path, "%s/text.txt", g_dir);
    static char text[40000];
    for (size_t i = 0; i < sizeof text - 1; i++) text[i] = "the quick brown fox jumps over the lazy dog. "[i % 45];
    text[sizeof text - 1] = '\0';
    write_file(path, text);
    xf_tokenizer *tok = NULL;
    xf_dataset *ds = NULL;
    CHECK_OK(xf_tokenizer_load(&tok, "byte"));
    CHECK_OK(xf_dataset_open(&ds, path, tok));
    CHECK_OK(xf_dataset_split(ds, 0.1, 64));
    xf_study_evalset a, b;
    CHECK_OK(xf_study_evalset_make(&a, ds, tok, 64, 16, 7));
    CHECK_OK(xf_study_evalset_make(&b, ds, tok, 64, 16, 7));
    CHECK(a.n_lm == 16 && a.n_dn == 16 && a.L <= 64 && a.L > 40);
    CHECK(memcmp(a.mask, b.mask, a.n_dn * a.L) == 0 && memcmp(a.dn, b.dn, a.n_dn * a.L * sizeof *a.dn) == 0);
    CHECK_NEAR(a.lm_bytes, 16.0 * 64, 0); /* one byte per byte token */
    double share = (double)a.n_masked / (double)(a.n_dn * a.L);
    CHECK_MSG(share > 0.12 && share < 0.18, "corrupted share %g", share);
    /* the span format of one window: L + 2 spans + 2 ids fit in seq */
    size_t noise = 0, spans = 0;
    xf_span_counts(a.L, 0.15f, 3.0f, &noise, &spans);
    CHECK(a.L + 2 * spans + 2 <= 64);
    /* and GLM's training window of a row of 64 */
    xf_objective_opts glm = {.kind = XF_OBJ_GLM, .glm_ratio = 0.15f};
    CHECK(a.L <= xf_glm_window(&glm, 64));
    /* the windows are the held-out part's, in order */
    int32_t first[8];
    CHECK_OK(xf_dataset_copy(ds, xf_dataset_train_len(ds), 8, first));
    CHECK(memcmp(first, a.lm, sizeof first) == 0 && memcmp(first, a.dn, sizeof first) == 0);
    xf_study_evalset_free(&a);
    xf_study_evalset_free(&b);
    xf_dataset_free(ds);
    xf_tokenizer_free(tok);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/xf_study_XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    RUN(test_study_default_grid);
    RUN(test_study_flops_by_hand);
    RUN(test_study_moe_equal_active);
    RUN(test_study_sizing_rule);
    RUN(test_study_unknown_objective);
    RUN(test_study_user_grid);
    RUN(test_study_bad_grids);
    RUN(test_study_evalset);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0) return 1;
    return test_summary();
}
