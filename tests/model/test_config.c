/* Model config: presets, defaults, JSON round trips, loading, and the refusal of
 * every kind of invalid config with a message naming the file and the field. */
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "xfmr/config.h"

static int cfg_eq(const xf_config *a, const xf_config *b) {
    return a->arch == b->arch && a->vocab_size == b->vocab_size && a->hidden_size == b->hidden_size &&
           a->intermediate_size == b->intermediate_size && a->num_hidden_layers == b->num_hidden_layers &&
           a->num_attention_heads == b->num_attention_heads &&
           a->num_key_value_heads == b->num_key_value_heads &&
           a->max_position_embeddings == b->max_position_embeddings && a->hidden_act == b->hidden_act &&
           a->gated_ffn == b->gated_ffn && a->norm_type == b->norm_type && a->norm_eps == b->norm_eps &&
           a->norm_placement == b->norm_placement && a->position_type == b->position_type &&
           a->rope_theta == b->rope_theta && a->use_bias == b->use_bias &&
           a->tie_word_embeddings == b->tie_word_embeddings && a->initializer_range == b->initializer_range;
}

static xf_status parse_str(xf_config *c, const char *json, const char *name) {
    return xf_config_parse(c, json, strlen(json), name);
}

/* to_json then parse gives back the same config */
static void check_round_trip(const xf_config *c) {
    char *js = xf_config_to_json(c);
    CHECK(js != NULL);
    CHECK(strstr(js, "\"model_type\": \"xfmr\"") != NULL);
    xf_config back;
    memset(&back, 0xAB, sizeof back);
    xf_status s = parse_str(&back, js, "roundtrip.json");
    if (s != XF_OK) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s", xf_last_error());
        free(js);
        FAILF("round trip parse failed: %s", msg);
    }
    free(js);
    CHECK(cfg_eq(c, &back));
}

TEST(test_presets) {
    const char *const *names = xf_config_preset_names();
    int n = 0;
    for (; names[n]; n++) {
        xf_config c, l;
        CHECK_OK(xf_config_preset(&c, names[n]));
        CHECK_OK(xf_config_validate(&c, names[n]));
        CHECK(xf_config_num_params(&c) > 0);
        check_round_trip(&c);
        CHECK_OK(xf_config_load(&l, names[n])); /* presets work wherever a config file does */
        CHECK(cfg_eq(&c, &l));
    }
    CHECK(n == 12);

    xf_config c;
    CHECK_OK(xf_config_preset(&c, "gpt2-tiny"));
    CHECK(c.vocab_size == 384 && c.hidden_size == 128 && c.intermediate_size == 512);
    CHECK(c.num_hidden_layers == 4 && c.num_attention_heads == 4 && c.num_key_value_heads == 4);
    CHECK(c.max_position_embeddings == 256 && c.hidden_act == XF_ACT_GELU_TANH && !c.gated_ffn);
    CHECK(c.norm_type == XF_NORM_LAYERNORM && c.norm_placement == XF_NORM_PRE);
    CHECK(c.position_type == XF_POS_LEARNED && c.use_bias && c.tie_word_embeddings);
    CHECK(xf_config_head_dim(&c) == 32);
    /* 384*128 + 256*128 + 4*(4*128*128 + 4*128 + 4*128 + 2*512*128 + 512 + 128) + 2*128 */
    CHECK(xf_config_num_params(&c) == 875264);

    CHECK_OK(xf_config_preset(&c, "llama-tiny"));
    CHECK(c.vocab_size == 384 && c.hidden_size == 128 && c.intermediate_size == 352);
    CHECK(c.num_attention_heads == 4 && c.num_key_value_heads == 2 && c.max_position_embeddings == 256);
    CHECK(c.hidden_act == XF_ACT_SILU && c.gated_ffn && c.norm_type == XF_NORM_RMSNORM);
    CHECK(c.position_type == XF_POS_ROPE && c.rope_theta == 10000.0f && !c.use_bias && !c.tie_word_embeddings);
    /* 2*384*128 + 4*(2*128*128 + 2*128*64 + 2*128 + 3*352*128) + 128 */
    CHECK(xf_config_num_params(&c) == 836736);

    CHECK_OK(xf_config_preset(&c, "bench-gpt"));
    CHECK(c.vocab_size == 8192 && c.hidden_size == 384 && c.intermediate_size == 1536);
    CHECK(c.num_hidden_layers == 6 && c.num_attention_heads == 6 && c.num_key_value_heads == 6);
    CHECK(c.max_position_embeddings == 256 && c.norm_type == XF_NORM_LAYERNORM && c.use_bias);
    CHECK(xf_config_num_params(&c) == 13891584);

    CHECK(xf_config_preset(&c, "gpt3-huge") == XF_ERR_ARG);
    CHECK(strstr(xf_last_error(), "gpt3-huge") != NULL);
}

TEST(test_defaults) {
    xf_config d;
    xf_config_defaults(&d);
    CHECK(d.vocab_size == 0 && d.hidden_size == 0 && d.num_key_value_heads == 0);
    CHECK(d.arch == XF_ARCH_DECODER && d.hidden_act == XF_ACT_GELU_TANH && !d.gated_ffn);
    CHECK(d.norm_type == XF_NORM_LAYERNORM && d.norm_eps == 1e-5f && d.norm_placement == XF_NORM_PRE);
    CHECK(d.position_type == XF_POS_LEARNED && d.rope_theta == 10000.0f && d.use_bias);
    CHECK(d.tie_word_embeddings && d.initializer_range == 0.02f);
    CHECK(xf_config_validate(&d, "defaults") == XF_ERR_ARG); /* the sizes are zero */
    CHECK(strstr(xf_last_error(), "vocab_size") != NULL);

    const char *js = "{\"vocab_size\": 100, \"hidden_size\": 64, \"intermediate_size\": 256,"
                     " \"num_hidden_layers\": 2, \"num_attention_heads\": 8, \"max_position_embeddings\": 32}";
    xf_config c;
    CHECK_OK(parse_str(&c, js, "min.json"));
    CHECK(c.vocab_size == 100 && c.hidden_size == 64 && c.intermediate_size == 256);
    CHECK(c.num_hidden_layers == 2 && c.num_attention_heads == 8 && c.max_position_embeddings == 32);
    CHECK(c.num_key_value_heads == 8); /* defaults to num_attention_heads */
    d.vocab_size = 100, d.hidden_size = 64, d.intermediate_size = 256, d.num_hidden_layers = 2;
    d.num_attention_heads = 8, d.num_key_value_heads = 8, d.max_position_embeddings = 32;
    CHECK(cfg_eq(&c, &d));
    check_round_trip(&c);
}

TEST(test_every_field) {
    const char *js = "{\"model_type\": \"llama\", \"architectures\": [\"LlamaForCausalLM\"],"
                     " \"arch\": \"decoder\", \"vocab_size\": 1000, \"hidden_size\": 96,"
                     " \"intermediate_size\": 200, \"num_hidden_layers\": 3, \"num_attention_heads\": 6,"
                     " \"num_key_value_heads\": 1, \"max_position_embeddings\": 512, \"hidden_act\": \"relu\","
                     " \"gated_ffn\": true, \"norm_type\": \"rmsnorm\", \"norm_eps\": 1e-6,"
                     " \"norm_placement\": \"post\", \"position_type\": \"rope\", \"rope_theta\": 500000,"
                     " \"use_bias\": false, \"tie_word_embeddings\": false, \"initializer_range\": 0.0123456789}";
    xf_config c;
    CHECK_OK(parse_str(&c, js, "all.json"));
    CHECK(c.vocab_size == 1000 && c.hidden_size == 96 && c.intermediate_size == 200);
    CHECK(c.num_hidden_layers == 3 && c.num_attention_heads == 6 && c.num_key_value_heads == 1);
    CHECK(c.max_position_embeddings == 512 && c.hidden_act == XF_ACT_RELU && c.gated_ffn);
    CHECK(c.norm_type == XF_NORM_RMSNORM && c.norm_eps == 1e-6f && c.norm_placement == XF_NORM_POST);
    CHECK(c.position_type == XF_POS_ROPE && c.rope_theta == 500000.0f && !c.use_bias);
    CHECK(!c.tie_word_embeddings && c.initializer_range == 0.0123456789f);
    check_round_trip(&c);

    /* floats that need all 9 digits still round-trip exactly */
    c.norm_eps = nextafterf(1e-5f, 1.0f);
    c.initializer_range = nextafterf(0.02f, 0.0f);
    c.rope_theta = 12345.678f;
    check_round_trip(&c);

    /* whitespace after the object is fine */
    const char *ws = "{\"vocab_size\": 8, \"hidden_size\": 8, \"intermediate_size\": 8, \"num_hidden_layers\": 1,"
                     " \"num_attention_heads\": 1, \"max_position_embeddings\": 8}\n\n  ";
    CHECK_OK(parse_str(&c, ws, "ws.json"));
    CHECK(c.num_key_value_heads == 1);
}

TEST(test_enum_names) {
    CHECK(strcmp(xf_arch_name(XF_ARCH_DECODER), "decoder") == 0);
    CHECK(strcmp(xf_arch_name(XF_ARCH_ENCODER_DECODER), "encoder_decoder") == 0);
    CHECK(strcmp(xf_act_name(XF_ACT_GELU_TANH), "gelu_tanh") == 0);
    CHECK(strcmp(xf_act_name(XF_ACT_SILU), "silu") == 0);
    CHECK(strcmp(xf_norm_type_name(XF_NORM_RMSNORM), "rmsnorm") == 0);
    CHECK(strcmp(xf_norm_placement_name(XF_NORM_POST), "post") == 0);
    CHECK(strcmp(xf_pos_type_name(XF_POS_NONE), "none") == 0);
    CHECK(strcmp(xf_act_name(XF_ACT_COUNT), "unknown") == 0);
}

/* ---------------------------------------------------------------- bad configs */

typedef struct {
    const char *key, *val; /* val NULL: drop the key from the base config */
} kv;

static const kv k_base[] = {
    {"vocab_size", "384"},          {"hidden_size", "128"},      {"intermediate_size", "512"},
    {"num_hidden_layers", "2"},     {"num_attention_heads", "4"}, {"max_position_embeddings", "64"},
};
#define N_BASE (sizeof k_base / sizeof k_base[0])

/* The base config with up to 3 keys replaced, dropped or added. */
static void build_json(char *out, size_t cap, const kv *edits, int n_edits) {
    size_t len = 0;
    int first = 1;
    len += (size_t)snprintf(out + len, cap - len, "{");
    for (size_t i = 0; i < N_BASE; i++) {
        const char *val = k_base[i].val;
        for (int e = 0; e < n_edits; e++)
            if (strcmp(edits[e].key, k_base[i].key) == 0) val = edits[e].val;
        if (!val) continue;
        len += (size_t)snprintf(out + len, cap - len, "%s\"%s\": %s", first ? "" : ", ", k_base[i].key, val);
        first = 0;
    }
    for (int e = 0; e < n_edits; e++) {
        int in_base = 0;
        for (size_t i = 0; i < N_BASE; i++) in_base |= strcmp(edits[e].key, k_base[i].key) == 0;
        if (in_base || !edits[e].val) continue;
        len += (size_t)snprintf(out + len, cap - len, "%s\"%s\": %s", first ? "" : ", ", edits[e].key,
                                edits[e].val);
        first = 0;
    }
    snprintf(out + len, cap - len, "}");
}

typedef struct {
    kv edits[3];
    const char *field;  /* the message must contain this */
    xf_status expect;   /* 0: any failure */
} bad_case;

static const bad_case k_bad[] = {
    /* unknown fields */
    {{{"bogus", "1"}}, "bogus", XF_ERR_FORMAT},
    {{{"n_embd", "128"}}, "n_embd", XF_ERR_FORMAT},
    {{{"rms_norm_eps", "1e-6"}}, "xfmr calls it \"norm_eps\"", XF_ERR_FORMAT},
    {{{"torch_dtype", "\"float32\""}}, "torch_dtype", XF_ERR_FORMAT},
    /* each required size missing */
    {{{"vocab_size", NULL}}, "vocab_size", XF_ERR_FORMAT},
    {{{"hidden_size", NULL}}, "hidden_size", XF_ERR_FORMAT},
    {{{"intermediate_size", NULL}}, "intermediate_size", XF_ERR_FORMAT},
    {{{"num_hidden_layers", NULL}}, "num_hidden_layers", XF_ERR_FORMAT},
    {{{"num_attention_heads", NULL}}, "num_attention_heads", XF_ERR_FORMAT},
    {{{"max_position_embeddings", NULL}}, "max_position_embeddings", XF_ERR_FORMAT},
    /* zero */
    {{{"vocab_size", "0"}}, "vocab_size", 0},
    {{{"hidden_size", "0"}}, "hidden_size", 0},
    {{{"intermediate_size", "0"}}, "intermediate_size", 0},
    {{{"num_hidden_layers", "0"}}, "num_hidden_layers", 0},
    {{{"num_attention_heads", "0"}}, "num_attention_heads", 0},
    {{{"num_key_value_heads", "0"}}, "num_key_value_heads", 0},
    {{{"max_position_embeddings", "0"}}, "max_position_embeddings", 0},
    /* negative */
    {{{"hidden_size", "-128"}}, "hidden_size", 0},
    {{{"vocab_size", "-1"}}, "vocab_size", 0},
    {{{"num_key_value_heads", "-2"}}, "num_key_value_heads", 0},
    /* fractional, wrong JSON type */
    {{{"vocab_size", "3.5"}}, "vocab_size", XF_ERR_FORMAT},
    {{{"num_hidden_layers", "1e-3"}}, "num_hidden_layers", XF_ERR_FORMAT},
    {{{"num_hidden_layers", "\"4\""}}, "num_hidden_layers", XF_ERR_FORMAT},
    {{{"max_position_embeddings", "true"}}, "max_position_embeddings", XF_ERR_FORMAT},
    {{{"intermediate_size", "null"}}, "intermediate_size", XF_ERR_FORMAT},
    {{{"hidden_size", "[128]"}}, "hidden_size", XF_ERR_FORMAT},
    /* absurd */
    {{{"vocab_size", "1e12"}}, "vocab_size", 0},
    {{{"vocab_size", "16777217"}}, "vocab_size", 0},
    {{{"hidden_size", "131072"}}, "hidden_size", 0},
    {{{"intermediate_size", "1000000000"}}, "intermediate_size", 0},
    {{{"num_hidden_layers", "100000"}}, "num_hidden_layers", 0},
    {{{"max_position_embeddings", "2000000"}}, "max_position_embeddings", 0},
    {{{"num_attention_heads", "1e400"}}, "num_attention_heads", 0},
    {{{"vocab_size", "18446744073709551616"}}, "vocab_size", 0},
    /* heads */
    {{{"num_attention_heads", "5"}}, "num_attention_heads", XF_ERR_ARG},
    {{{"num_attention_heads", "256"}}, "num_attention_heads", XF_ERR_ARG},
    {{{"num_key_value_heads", "3"}}, "num_key_value_heads", XF_ERR_ARG},
    {{{"num_key_value_heads", "8"}}, "num_key_value_heads", XF_ERR_ARG},
    /* odd head dim with rope: 120 / 8 = 15 */
    {{{"hidden_size", "120"}, {"num_attention_heads", "8"}, {"position_type", "\"rope\""}},
     "num_attention_heads", XF_ERR_ARG},
    /* enums */
    {{{"hidden_act", "\"swish\""}}, "hidden_act", XF_ERR_FORMAT},
    {{{"hidden_act", "\"GELU\""}}, "hidden_act", XF_ERR_FORMAT},
    {{{"hidden_act", "3"}}, "hidden_act", XF_ERR_FORMAT},
    {{{"norm_type", "\"batchnorm\""}}, "norm_type", XF_ERR_FORMAT},
    {{{"norm_placement", "\"sandwich\""}}, "norm_placement", XF_ERR_FORMAT},
    {{{"position_type", "\"alibi\""}}, "position_type", XF_ERR_FORMAT},
    {{{"arch", "\"gpt\""}}, "arch", XF_ERR_FORMAT},
    {{{"arch", "null"}}, "arch", XF_ERR_FORMAT},
    /* booleans */
    {{{"gated_ffn", "1"}}, "gated_ffn", XF_ERR_FORMAT},
    {{{"use_bias", "\"true\""}}, "use_bias", XF_ERR_FORMAT},
    {{{"tie_word_embeddings", "null"}}, "tie_word_embeddings", XF_ERR_FORMAT},
    /* floats */
    {{{"norm_eps", "\"nan\""}}, "norm_eps", XF_ERR_FORMAT},
    {{{"norm_eps", "-1e-5"}}, "norm_eps", 0},
    {{{"norm_eps", "0"}}, "norm_eps", 0},
    {{{"norm_eps", "1"}}, "norm_eps", 0},
    {{{"norm_eps", "1e400"}}, "norm_eps", 0},
    {{{"norm_eps", "1e-50"}}, "norm_eps", 0}, /* rounds to 0 as a float */
    {{{"rope_theta", "0"}}, "rope_theta", 0},
    {{{"rope_theta", "-10000"}}, "rope_theta", 0},
    {{{"rope_theta", "1e39"}}, "rope_theta", 0}, /* infinite as a float */
    {{{"initializer_range", "0"}}, "initializer_range", 0},
    {{{"initializer_range", "-0.02"}}, "initializer_range", 0},
    {{{"initializer_range", "11"}}, "initializer_range", 0},
    {{{"initializer_range", "\"0.02\""}}, "initializer_range", XF_ERR_FORMAT},
    /* sizes far beyond any machine's memory (each within its own cap) */
    {{{"vocab_size", "16777216"}, {"hidden_size", "65536"}}, "vocab_size", XF_ERR_ARG},
    {{{"hidden_size", "65536"}, {"intermediate_size", "1048576"}, {"num_hidden_layers", "1024"}},
     "intermediate_size", XF_ERR_ARG},
    {{{"hidden_size", "65536"}, {"num_hidden_layers", "1024"}, {"intermediate_size", "4"}}, "num_hidden_layers",
     XF_ERR_ARG},
    {{{"hidden_size", "65536"}, {"max_position_embeddings", "1048576"}}, "max_position_embeddings", XF_ERR_ARG},
    /* fields of other families that make no sense for this one */
    {{{"arch", "\"decoder\""}, {"num_decoder_layers", "2"}}, "num_decoder_layers", XF_ERR_ARG},
    {{{"arch", "\"encoder_decoder\""}, {"type_vocab_size", "2"}}, "type_vocab_size", XF_ERR_ARG},
    {{{"arch", "\"encoder_decoder\""}, {"mlm_transform", "true"}}, "mlm_transform", XF_ERR_ARG},
    {{{"position_type", "\"rope\""}, {"position_offset", "2"}}, "position_offset", XF_ERR_ARG},
    {{{"position_type", "\"relative\""}, {"relative_attention_num_buckets", "7"}}, "relative_attention_num_buckets", XF_ERR_ARG},
    {{{"position_type", "\"relative\""}, {"relative_attention_max_distance", "8"}}, "relative_attention_max_distance", XF_ERR_ARG},
    {{{"decoder_start_token_id", "384"}}, "decoder_start_token_id", XF_ERR_ARG},
    {{{"decoder_start_token_id", "-2"}}, "decoder_start_token_id", XF_ERR_FORMAT},
    {{{"scale_attn_logits", "1"}}, "scale_attn_logits", XF_ERR_FORMAT},
    /* MoE */
    {{{"num_experts", "4"}, {"num_experts_per_tok", "5"}}, "num_experts_per_tok", XF_ERR_ARG},
    {{{"num_experts", "4"}, {"num_experts_per_tok", "0"}}, "num_experts_per_tok", XF_ERR_ARG},
    {{{"num_experts", "4"}, {"num_experts_per_tok", "1"}, {"router_type", "\"top2\""}}, "router_type", XF_ERR_FORMAT},
    {{{"num_experts", "4"}, {"num_experts_per_tok", "1"}, {"capacity_factor", "-1"}}, "capacity_factor", XF_ERR_ARG},
    {{{"num_experts", "4"}, {"num_experts_per_tok", "1"}, {"router_jitter", "1.5"}}, "router_jitter", XF_ERR_ARG},
    {{{"num_experts", "4"}, {"num_experts_per_tok", "1"}, {"moe_layer_freq", "0"}}, "moe_layer_freq", XF_ERR_ARG},
    {{{"num_experts", "2000"}}, "num_experts", XF_ERR_FORMAT},
    {{{"num_experts", "4"}, {"num_experts_per_tok", "1"}, {"num_shared_experts", "65"}}, "num_shared_experts", XF_ERR_FORMAT},
    /* informational keys still have a type */
    {{{"model_type", "3"}}, "model_type", XF_ERR_FORMAT},
    {{{"architectures", "\"x\""}}, "architectures", XF_ERR_FORMAT},
};

TEST(test_bad_configs) {
    char js[1024];
    for (size_t i = 0; i < sizeof k_bad / sizeof k_bad[0]; i++) {
        const bad_case *b = &k_bad[i];
        int n = 0;
        while (n < 3 && b->edits[n].key) n++;
        build_json(js, sizeof js, b->edits, n);
        xf_config c;
        xf_config_preset(&c, "gpt2-tiny");
        xf_config keep = c;
        xf_clear_error();
        xf_status s = parse_str(&c, js, "bad-config.json");
        CHECK_MSG(s != XF_OK, "case %zu accepted: %.400s", i, js);
        CHECK_MSG(b->expect == 0 || s == b->expect, "case %zu: status %d, want %d: %.300s (%.300s)", i, (int)s,
                  (int)b->expect, xf_last_error(), js);
        CHECK_MSG(strstr(xf_last_error(), b->field) != NULL, "case %zu: message \"%.300s\" lacks \"%.60s\" (%.300s)", i,
                  xf_last_error(), b->field, js);
        CHECK_MSG(strstr(xf_last_error(), "bad-config.json") != NULL, "case %zu: message \"%.300s\" lacks the name", i,
                  xf_last_error());
        CHECK_MSG(strchr(xf_last_error(), '\n') == NULL, "case %zu: multi-line message", i);
        CHECK_MSG(cfg_eq(&c, &keep), "case %zu: a failed parse changed the config", i);
    }
}

TEST(test_bad_json) {
    static const struct {
        const char *json, *want;
    } cases[] = {
        {"[1, 2]", "object"},
        {"42", "object"},
        {"\"vocab_size\"", "object"},
        {"null", "object"},
        {"{\"vocab_size\": 384,", "invalid JSON"},
        {"{\"vocab_size\": 384 \"hidden_size\": 128}", "invalid JSON"},
        {"{vocab_size: 384}", "invalid JSON"},
        {"{\"vocab_size\": 384} {}", "invalid JSON"},
        {"  \n ", "invalid JSON"},
        {"", "empty"},
        {"{\"vocab_size\": 384, \"hidden_size\": 128, \"intermediate_size\": 512, \"num_hidden_layers\": 2,"
         " \"num_attention_heads\": 4, \"max_position_embeddings\": 64, \"hidden_size\": 128}",
         "duplicate field \"hidden_size\""},
        {"{\"vocab_size\": 384, \"vocab_size\": 512}", "vocab_size"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        xf_config c;
        xf_status s = parse_str(&c, cases[i].json, "weird.json");
        CHECK_MSG(s == XF_ERR_FORMAT, "case %zu: status %d: %s", i, (int)s, xf_last_error());
        CHECK_MSG(strstr(xf_last_error(), "weird.json") != NULL, "case %zu: %s", i, xf_last_error());
        CHECK_MSG(strstr(xf_last_error(), cases[i].want) != NULL, "case %zu: \"%s\" lacks \"%s\"", i,
                  xf_last_error(), cases[i].want);
    }
    /* the JSON length is honoured: text past len is not read */
    const char *js = "{\"vocab_size\": 8, \"hidden_size\": 8, \"intermediate_size\": 8, \"num_hidden_layers\": 1,"
                     " \"num_attention_heads\": 1, \"max_position_embeddings\": 8}GARBAGE";
    xf_config c;
    CHECK_OK(xf_config_parse(&c, js, strlen(js) - strlen("GARBAGE"), "len.json"));
    CHECK(xf_config_parse(&c, js, strlen(js), "len.json") == XF_ERR_FORMAT);
}

TEST(test_validate_struct) {
    xf_config c;
    xf_config_preset(&c, "gpt2-tiny");
    c.arch = (xf_arch)9;
    CHECK(xf_config_validate(&c, "s") == XF_ERR_ARG);
    CHECK(strstr(xf_last_error(), "arch") != NULL);
    xf_config_preset(&c, "t5-tiny");
    c.router_type = (xf_router_type)5;
    c.num_experts = 4;
    c.num_experts_per_tok = 2;
    c.moe_intermediate_size = 8;
    CHECK(xf_config_validate(&c, "s") == XF_ERR_ARG);
    CHECK(strstr(xf_last_error(), "router_type") != NULL);

    xf_config_preset(&c, "gpt2-tiny");
    c.hidden_act = (xf_act)17;
    CHECK(xf_config_validate(&c, "s") == XF_ERR_ARG);
    CHECK(strstr(xf_last_error(), "hidden_act") != NULL);

    xf_config_preset(&c, "gpt2-tiny");
    c.use_bias = 2;
    CHECK(xf_config_validate(&c, "s") == XF_ERR_ARG);
    CHECK(strstr(xf_last_error(), "use_bias") != NULL);

    xf_config_preset(&c, "gpt2-tiny");
    c.norm_eps = NAN;
    CHECK(xf_config_validate(&c, "s") == XF_ERR_ARG);
    CHECK(strstr(xf_last_error(), "norm_eps") != NULL);
    char *js = xf_config_to_json(&c); /* stays valid JSON; parsing it refuses the field */
    CHECK(js != NULL);
    xf_config back;
    xf_status s = parse_str(&back, js, "nan.json");
    free(js);
    CHECK(s == XF_ERR_FORMAT);
    CHECK(strstr(xf_last_error(), "norm_eps") != NULL);

    /* products that overflow size_t: num_params says 0, validate refuses (naming the field) */
    xf_config_preset(&c, "gpt2-tiny");
    c.vocab_size = SIZE_MAX / 2;
    CHECK(xf_config_num_params(&c) == 0);
    CHECK(xf_config_validate(&c, "s") == XF_ERR_ARG);
    CHECK(strstr(xf_last_error(), "vocab_size") != NULL);
    xf_config_preset(&c, "gpt2-tiny");
    c.num_hidden_layers = SIZE_MAX / 1024;
    CHECK(xf_config_num_params(&c) == 0);
    c.num_hidden_layers = 1;
    c.intermediate_size = SIZE_MAX / 64;
    CHECK(xf_config_num_params(&c) == 0);
    c.intermediate_size = 512;
    c.max_position_embeddings = SIZE_MAX / 64;
    CHECK(xf_config_num_params(&c) == 0);
    c.max_position_embeddings = 256;
    CHECK(xf_config_num_params(&c) > 0);

    /* post-norm has no final norm; RMSNorm has no bias; untied adds the lm_head */
    xf_config_preset(&c, "gpt2-tiny");
    size_t base = xf_config_num_params(&c);
    c.norm_placement = XF_NORM_POST;
    CHECK(xf_config_num_params(&c) == base - 2 * 128);
    c.tie_word_embeddings = 0;
    CHECK(xf_config_num_params(&c) == base - 2 * 128 + 384 * 128);
    c.position_type = XF_POS_NONE;
    CHECK(xf_config_num_params(&c) == base - 2 * 128 + 384 * 128 - 256 * 128);
}

/* ---------------------------------------------------------------- loading files */

static char g_dir[64];

static void write_file(const char *path, const char *text, size_t len) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(text, 1, len, f) == len);
    CHECK(fclose(f) == 0);
}

TEST(test_load) {
    snprintf(g_dir, sizeof g_dir, "/tmp/xfmr_test_config_XXXXXX");
    CHECK(mkdtemp(g_dir) != NULL);
    char path[512], sub[128], empty_dir[128], msg[512];

    xf_config ref, c;
    CHECK_OK(xf_config_preset(&ref, "llama-tiny"));
    char *js = xf_config_to_json(&ref);
    CHECK(js != NULL);

    /* a file */
    snprintf(path, sizeof path, "%s/model.json", g_dir);
    write_file(path, js, strlen(js));
    CHECK_OK(xf_config_load(&c, path));
    CHECK(cfg_eq(&c, &ref));

    /* a directory holding config.json, with and without a trailing slash */
    snprintf(sub, sizeof sub, "%s/ckpt", g_dir);
    CHECK(mkdir(sub, 0700) == 0);
    snprintf(path, sizeof path, "%s/config.json", sub);
    write_file(path, js, strlen(js));
    free(js);
    CHECK_OK(xf_config_load(&c, sub));
    CHECK(cfg_eq(&c, &ref));
    snprintf(path, sizeof path, "%s/", sub);
    CHECK_OK(xf_config_load(&c, path));
    CHECK(cfg_eq(&c, &ref));

    /* a directory without config.json: the message names DIR/config.json */
    snprintf(empty_dir, sizeof empty_dir, "%s/empty", g_dir);
    CHECK(mkdir(empty_dir, 0700) == 0);
    CHECK(xf_config_load(&c, empty_dir) == XF_ERR_IO);
    snprintf(msg, sizeof msg, "%s/config.json", empty_dir);
    CHECK(strstr(xf_last_error(), msg) != NULL);

    /* a missing file */
    snprintf(path, sizeof path, "%s/nope.json", g_dir);
    CHECK(xf_config_load(&c, path) == XF_ERR_IO);
    CHECK(strstr(xf_last_error(), path) != NULL);
    CHECK(xf_config_load(&c, "no-such-preset") == XF_ERR_IO);
    CHECK(strstr(xf_last_error(), "no-such-preset") != NULL);
    CHECK(xf_config_load(&c, "") == XF_ERR_ARG);

    /* an empty file */
    snprintf(path, sizeof path, "%s/empty.json", g_dir);
    write_file(path, "", 0);
    CHECK(xf_config_load(&c, path) == XF_ERR_FORMAT);
    CHECK(strstr(xf_last_error(), path) != NULL);

    /* a file over the 1 MiB cap */
    snprintf(path, sizeof path, "%s/big.json", g_dir);
    size_t big = ((size_t)1 << 20) + 10;
    char *spaces = malloc(big);
    CHECK(spaces != NULL);
    memset(spaces, ' ', big);
    spaces[0] = '{';
    spaces[big - 1] = '}';
    write_file(path, spaces, big);
    free(spaces);
    CHECK(xf_config_load(&c, path) == XF_ERR_FORMAT);
    CHECK(strstr(xf_last_error(), path) != NULL);

    /* a bad field in a file: the message names the path and the field */
    snprintf(path, sizeof path, "%s/bad.json", g_dir);
    const char *bad = "{\"vocab_size\": 384, \"hidden_size\": 128, \"intermediate_size\": 512,\n"
                      " \"num_hidden_layers\": 2, \"num_attention_heads\": 3, \"max_position_embeddings\": 64}\n";
    write_file(path, bad, strlen(bad));
    CHECK(xf_config_load(&c, path) == XF_ERR_ARG);
    CHECK(strstr(xf_last_error(), path) != NULL);
    CHECK(strstr(xf_last_error(), "num_attention_heads") != NULL);

    /* invalid JSON in a file: the message names the path and the line */
    snprintf(path, sizeof path, "%s/broken.json", g_dir);
    const char *broken = "{\n  \"vocab_size\": 384,\n  oops\n}\n";
    write_file(path, broken, strlen(broken));
    CHECK(xf_config_load(&c, path) == XF_ERR_FORMAT);
    CHECK(strstr(xf_last_error(), path) != NULL);
    CHECK(strstr(xf_last_error(), "line 3") != NULL);
}

static void cleanup(void) {
    if (!g_dir[0]) return;
    static const char *const files[] = {"model.json", "ckpt/config.json", "empty.json", "big.json", "bad.json",
                                        "broken.json"};
    char p[256];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", g_dir, files[i]);
        unlink(p);
    }
    snprintf(p, sizeof p, "%s/ckpt", g_dir);
    rmdir(p);
    snprintf(p, sizeof p, "%s/empty", g_dir);
    rmdir(p);
    rmdir(g_dir);
}

int main(void) {
    RUN(test_presets);
    RUN(test_defaults);
    RUN(test_every_field);
    RUN(test_enum_names);
    RUN(test_bad_configs);
    RUN(test_bad_json);
    RUN(test_validate_struct);
    RUN(test_load);
    cleanup();
    return test_summary();
}
