/* Hostile tokenizer.json pipelines (src/data/tok_json_pipe.c, tok_pipe.c):
 * unknown or unsupported components, wrong option types, regexes PCRE2
 * rejects, absurd nesting and sizes, post-processor ids out of range. Each
 * must fail with a one-line message naming the file (and, when unsupported,
 * the component), never crash. Also: a custom pipeline loads, encodes, and
 * saves and reloads to the same hash; every truncation of it fails cleanly. */
#include "test.h"
#include "test_tok_util.h"
#include "xfmr/tokenizer.h"

/* the tiny tokenizer.json with its pre_tokenizer replaced by pre and
 * normalizer, decoder, post_processor set (NULL: null) */
static char *pipe_json(const char *nz, const char *pre, const char *dec, const char *post) {
    tbuf b = {0};
    tok_tiny_json(&b);
    tb_put(&b, "", 1);
    const char *s = (const char *)b.p;
    const char *from = "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true}";
    const char *dfrom = "\"decoder\":{\"type\":\"ByteLevel\"}";
    const char *at = strstr(s, from), *dat = strstr(s, dfrom);
    if (!at || !dat || dat < at) {
        free(b.p);
        return NULL;
    }
    tbuf o = {0};
    tb_put(&o, s, (size_t)(at - s));
    tb_str(&o, "\"pre_tokenizer\":");
    tb_str(&o, pre ? pre : "{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true}");
    tb_put(&o, at + strlen(from), (size_t)(dat - at - (ptrdiff_t)strlen(from)));
    tb_str(&o, "\"normalizer\":");
    tb_str(&o, nz ? nz : "null");
    tb_str(&o, ",\"post_processor\":");
    tb_str(&o, post ? post : "null");
    tb_str(&o, ",\"decoder\":");
    tb_str(&o, dec ? dec : "{\"type\":\"ByteLevel\"}");
    tb_str(&o, dat + strlen(dfrom));
    tb_put(&o, "", 1);
    free(b.p);
    return (char *)o.p;
}

/* must fail naming the file and containing `needle` (NULL: anything) */
static void expect_fail(const char *name, const char *json, const char *needle) {
    const char *p = tok_path(name);
    if (!json || tok_write(p, json, strlen(json))) FAILF("cannot build %s", name);
    xf_tokenizer *t = (xf_tokenizer *)1;
    xf_clear_error();
    xf_status s = xf_tokenizer_load(&t, p);
    CHECK_MSG(s != XF_OK, "%s: load succeeded", name);
    if (s == XF_OK) {
        xf_tokenizer_free(t);
        return;
    }
    CHECK(t == NULL);
    const char *msg = xf_last_error();
    CHECK_MSG(strlen(msg) > 0 && strchr(msg, '\n') == NULL, "%s: message empty or multi-line", name);
    CHECK_MSG(strstr(msg, name) != NULL, "%s: message does not name the file: %s", name, msg);
    if (needle) CHECK_MSG(strstr(msg, needle) != NULL, "%s: message lacks '%s': %s", name, needle, msg);
    if (getenv("XF_TEST_VERBOSE")) printf("# %s\n", msg);
}

static void fail_parts(const char *name, const char *nz, const char *pre, const char *dec, const char *post,
                       const char *needle) {
    char *j = pipe_json(nz, pre, dec, post);
    expect_fail(name, j, needle);
    free(j);
}

TEST(test_unsupported_by_name) {
    fail_parts("nz_precompiled.json", "{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"AAAA\"}", NULL, NULL, NULL,
               "Precompiled");
    fail_parts("nz_unknown.json", "{\"type\":\"Shout\"}", NULL, NULL, NULL, "Shout");
    fail_parts("pt_unknown.json", NULL, "{\"type\":\"UnicodeScripts\"}", NULL, NULL, "UnicodeScripts");
    fail_parts("dc_unknown.json", NULL, NULL, "{\"type\":\"Mirror\"}", NULL, "Mirror");
    fail_parts("pp_unknown.json", NULL, NULL, NULL, "{\"type\":\"Twice\"}", "Twice");
    fail_parts("split_behavior.json", NULL,
               "{\"type\":\"Split\",\"pattern\":{\"String\":\" \"},\"behavior\":\"Sideways\",\"invert\":false}", NULL,
               NULL, "Sideways");
    fail_parts("metaspace_scheme.json", NULL,
               "{\"type\":\"Metaspace\",\"replacement\":\"_\",\"prepend_scheme\":\"sometimes\"}", NULL, NULL,
               "sometimes");
    fail_parts("bytelevel_first.json", NULL,
               "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"ByteLevel\"},{\"type\":\"Digits\"}]}", NULL,
               NULL, "ByteLevel");
    fail_parts("template_no_a.json", NULL, NULL, NULL,
               "{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"x\",\"type_id\":0}}],"
               "\"special_tokens\":{\"x\":{\"id\":\"x\",\"ids\":[261],\"tokens\":[\"x\"]}}}",
               "sequence A");
    /* BPE dropout makes encoding random: refused */
    tbuf b = {0};
    tok_tiny_json(&b);
    tb_put(&b, "", 1);
    char *s = (char *)b.p, *at = strstr(s, "\"type\":\"BPE\"");
    tbuf o = {0};
    tb_put(&o, s, (size_t)(at - s));
    tb_str(&o, "\"dropout\":0.1,");
    tb_str(&o, at);
    tb_put(&o, "", 1);
    expect_fail("dropout.json", (char *)o.p, "dropout");
    free(b.p);
    free(o.p);
}

TEST(test_malformed_parts) {
    fail_parts("nz_not_object.json", "[1]", NULL, NULL, NULL, "normalizer");
    fail_parts("nz_seq_no_array.json", "{\"type\":\"Sequence\",\"normalizers\":7}", NULL, NULL, NULL, "normalizers");
    fail_parts("replace_no_content.json", "{\"type\":\"Replace\",\"pattern\":{\"String\":\"a\"}}", NULL, NULL, NULL,
               "content");
    fail_parts("replace_no_pattern.json", "{\"type\":\"Replace\",\"pattern\":{\"Glob\":\"a\"},\"content\":\"b\"}", NULL,
               NULL, NULL, "pattern");
    fail_parts("strip_type.json", "{\"type\":\"Strip\",\"strip_left\":\"yes\"}", NULL, NULL, NULL, "boolean");
    fail_parts("bert_type.json", "{\"type\":\"BertNormalizer\",\"lowercase\":1}", NULL, NULL, NULL, "boolean");
    fail_parts("split_invert.json", NULL,
               "{\"type\":\"Split\",\"pattern\":{\"String\":\" \"},\"behavior\":\"Isolated\",\"invert\":\"no\"}", NULL,
               NULL, "invert");
    fail_parts("metaspace_two.json", NULL, "{\"type\":\"Metaspace\",\"replacement\":\"ab\"}", NULL, NULL,
               "one character");
    fail_parts("metaspace_empty.json", NULL, "{\"type\":\"Metaspace\",\"replacement\":\"\"}", NULL, NULL,
               "replacement");
    fail_parts("strip_dec_neg.json", NULL, NULL, "{\"type\":\"Strip\",\"content\":\" \",\"start\":-1,\"stop\":0}",
               NULL, "Strip");
    fail_parts("strip_dec_frac.json", NULL, NULL, "{\"type\":\"Strip\",\"content\":\" \",\"start\":1.5,\"stop\":0}",
               NULL, "Strip");
    fail_parts("template_big_id.json", NULL, NULL, NULL,
               "{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"x\",\"type_id\":0}},"
               "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"special_tokens\":{\"x\":{\"id\":\"x\",\"ids\":[9999],"
               "\"tokens\":[\"x\"]}}}",
               "9999");
    fail_parts("template_unknown.json", NULL, NULL, NULL,
               "{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"y\",\"type_id\":0}},"
               "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"special_tokens\":{}}",
               "\"y\"");
    fail_parts("bert_post_bad.json", NULL, NULL, NULL, "{\"type\":\"BertProcessing\",\"sep\":[\"x\"],\"cls\":[\"y\",1]}",
               "cls");
    /* Sequences nested past the limit */
    tbuf d = {0};
    for (int i = 0; i < 20; i++) tb_str(&d, "{\"type\":\"Sequence\",\"normalizers\":[");
    tb_str(&d, "{\"type\":\"NFC\"}");
    for (int i = 0; i < 20; i++) tb_str(&d, "]}");
    tb_put(&d, "", 1);
    fail_parts("nz_deep.json", (char *)d.p, NULL, NULL, NULL, "deeply");
    free(d.p);
    /* an added token's flags must be booleans */
    tbuf b = {0};
    tok_tiny_json(&b);
    tb_put(&b, "", 1);
    char *s = (char *)b.p, *at = strstr(s, "\"special\":true");
    tbuf o = {0};
    tb_put(&o, s, (size_t)(at - s));
    tb_str(&o, "\"lstrip\":\"maybe\",");
    tb_str(&o, at);
    tb_put(&o, "", 1);
    expect_fail("added_lstrip.json", (char *)o.p, "lstrip");
    free(b.p);
    free(o.p);
}

TEST(test_bad_regexes) {
    fail_parts("split_regex.json", NULL,
               "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"[a-\"},\"behavior\":\"Isolated\",\"invert\":false}", NULL,
               NULL, "regex");
    fail_parts("split_regex2.json", NULL,
               "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(?<n>a)(?<n>b)\"},\"behavior\":\"Isolated\",\"invert\":false}",
               NULL, NULL, "regex");
    fail_parts("replace_regex.json", "{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"(\"},\"content\":\"x\"}", NULL,
               NULL, NULL, "regex");
    fail_parts("dec_regex.json", NULL, NULL,
               "{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"\\\\p{NoSuchProperty}\"},\"content\":\"x\"}", NULL,
               "regex");
}

static const char *k_custom_nz = "{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFC\"},{\"type\":\"Lowercase\"}]}";
static const char *k_custom_pre =
    "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Digits\",\"individual_digits\":true},"
    "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"\\\\s+\"},\"behavior\":\"MergedWithNext\",\"invert\":false},"
    "{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"use_regex\":false}]}";

TEST(test_custom_pipeline_roundtrip) {
    char *j = pipe_json(k_custom_nz, k_custom_pre, NULL,
                        "{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"e\",\"type_id\":0}},"
                        "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"special_tokens\":{\"e\":{\"id\":\"e\","
                        "\"ids\":[261],\"tokens\":[\"<|endoftext|>\"]}}}");
    const char *p = tok_path("custom.json");
    CHECK(j && tok_write(p, j, strlen(j)) == 0);
    xf_tokenizer *t, *u;
    CHECK_OK(xf_tokenizer_load(&t, p));
    CHECK(xf_tokenizer_has_post_processor(t) == 1);
    /* the same text through the two entry points: plain encode has no BOS */
    const char *text = "HELLO 12 <|endoftext|>hello";
    int32_t *a, *b;
    size_t na, nb;
    CHECK_OK(xf_tokenizer_encode(t, text, strlen(text), &a, &na));
    CHECK_OK(xf_tokenizer_encode_ex(t, text, strlen(text), XF_TOK_PARSE_SPECIAL | XF_TOK_ADD_SPECIAL, &b, &nb));
    CHECK(nb >= 2 && b[0] == 261);
    /* with specials parsed the spelled-out <|endoftext|> becomes one id */
    int found = 0;
    for (size_t i = 1; i < nb; i++) found |= b[i] == 261;
    CHECK(found);
    for (size_t i = 0; i < na; i++) CHECK(a[i] != 261);
    free(a);
    free(b);
    /* saved verbatim, reloaded to the same hash */
    const char *dir = tok_tmpdir();
    CHECK_OK(xf_tokenizer_save(t, dir));
    CHECK_OK(xf_tokenizer_load(&u, dir));
    CHECK(xf_tokenizer_hash(u) == xf_tokenizer_hash(t));
    xf_tokenizer_free(u);
    xf_tokenizer_free(t);
    /* every truncation: an error with one line, never a crash */
    size_t n = strlen(j);
    for (size_t k = 0; k < n; k += (k < 200 ? 1 : 13)) {
        const char *q = tok_path("custom_cut.json");
        CHECK(tok_write(q, j, k) == 0);
        if (xf_tokenizer_load(&u, q) == XF_OK)
            xf_tokenizer_free(u);
        else
            CHECK_MSG(strlen(xf_last_error()) > 0 && !strchr(xf_last_error(), '\n'), "cut at %zu", k);
    }
    free(j);
}

TEST(test_hostile_text) {
    /* a pipeline with every splitter on text of invalid UTF-8, NULs and long runs */
    char *j = pipe_json(k_custom_nz, k_custom_pre, NULL, NULL);
    const char *p = tok_path("hostile.json");
    CHECK(j && tok_write(p, j, strlen(j)) == 0);
    free(j);
    xf_tokenizer *t;
    CHECK_OK(xf_tokenizer_load(&t, p));
    size_t n = 200000;
    char *text = malloc(n);
    for (size_t i = 0; i < n; i++) text[i] = (char)(i % 7 == 0 ? 0xC3 : i % 11 == 0 ? 0 : i % 3 ? ' ' : '7');
    int32_t *ids;
    size_t ni;
    CHECK_OK(xf_tokenizer_encode_ex(t, text, n, XF_TOK_PARSE_SPECIAL, &ids, &ni));
    char *dec;
    size_t dl;
    CHECK_OK(xf_tokenizer_decode(t, ids, ni, &dec, &dl));
    free(dec);
    free(ids);
    free(text);
    xf_tokenizer_free(t);
}

int main(void) {
    RUN(test_unsupported_by_name);
    RUN(test_malformed_parts);
    RUN(test_bad_regexes);
    RUN(test_custom_pipeline_roundtrip);
    RUN(test_hostile_text);
    tok_tmpdir_remove();
    return test_summary();
}
