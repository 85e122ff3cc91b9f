/* Hostile tokenizer files: malformed tokenizer.json, truncated or garbage
 * protobuf, tokenizer.bin lengths past the end, ids out of range. Each must give
 * an error status with a one-line message naming the file, and never crash. */
#include "test.h"
#include "test_tok_util.h"
#include "xfmr/tokenizer.h"

/* load must fail with a one-line message that names the file */
static void expect_fail(const char *name, const void *data, size_t n) {
    const char *p = tok_path(name);
    if (tok_write(p, data, n)) FAILF("cannot write %s", p);
    xf_tokenizer *t = (xf_tokenizer *)1;
    xf_clear_error();
    xf_status s = xf_tokenizer_load(&t, p);
    CHECK_MSG(s != XF_OK, "%s: load succeeded", name);
    CHECK(t == NULL);
    const char *msg = xf_last_error();
    CHECK_MSG(strlen(msg) > 0, "%s: empty message", name);
    CHECK_MSG(strchr(msg, '\n') == NULL, "%s: multi-line message", name);
    CHECK_MSG(strstr(msg, name) != NULL, "%s: message does not name the file: %s", name, msg);
    if (getenv("XF_TEST_VERBOSE")) printf("# %s\n", msg);
}

/* A valid tiny tokenizer.json with `from` replaced by `to`. */
static void json_variant(const char *name, const char *from, const char *to) {
    tbuf b = {0};
    tok_tiny_json(&b);
    tb_put(&b, "", 1);
    char *s = (char *)b.p, *at = strstr(s, from);
    if (!at) FAILF("variant %s: '%s' not in the template", name, from);
    size_t fl = strlen(from), tl = strlen(to), n = strlen(s);
    char *v = malloc(n - fl + tl + 1);
    memcpy(v, s, (size_t)(at - s));
    memcpy(v + (at - s), to, tl);
    memcpy(v + (at - s) + tl, at + fl, n - (size_t)(at - s) - fl + 1);
    free(b.p);
    expect_fail(name, v, strlen(v));
    free(v);
}

TEST(test_json_template_loads) {
    tbuf b = {0};
    tok_tiny_json(&b);
    const char *p = tok_path("ok.json");
    CHECK(tok_write(p, b.p, b.n) == 0);
    free(b.p);
    xf_tokenizer *t;
    CHECK_OK(xf_tokenizer_load(&t, p));
    xf_tokenizer_free(t);
}

TEST(test_json_malformed) {
    const char *notjson = "{\"model\": {\"vocab\": {\"a\": 0}";
    expect_fail("truncated.json", notjson, strlen(notjson));
    expect_fail("empty.json", "", 0);
    expect_fail("array.json", "[1,2,3]", 7);
    expect_fail("nomodel.json", "{\"version\":\"1.0\"}", 17);
    json_variant("vocab_array.json", "\"vocab\":{", "\"vocab\":[],\"x\":{");
    json_variant("id_string.json", "\"he\":256", "\"he\":\"256\"");
    json_variant("id_negative.json", "\"he\":256", "\"he\":-3");
    json_variant("id_fraction.json", "\"he\":256", "\"he\":256.5");
    json_variant("id_huge.json", "\"he\":256", "\"he\":1e12");
    json_variant("dup_id.json", "\"ll\":257", "\"ll\":256");
    json_variant("dup_token.json", "\"ll\":257", "\"he\":257");
    json_variant("gap.json", "\"hello\":259", "\"hello\":999");
    json_variant("huge_id.json", "\"hello\":259", "\"hello\":16000000");
    json_variant("merge_unknown.json", "[\"h\",\"e\"]", "[\"h\",\"zz\"]");
    json_variant("merge_not_in_vocab.json", "[\"h\",\"e\"]", "[\"e\",\"h\"]");
    json_variant("merge_no_space.json", "\"he ll\"", "\"hell\"");
    json_variant("merge_two_spaces.json", "\"he ll\"", "\"he l l\"");
    json_variant("merge_three.json", "[\"h\",\"e\"]", "[\"h\",\"e\",\"x\"]");
    json_variant("merge_number.json", "[\"h\",\"e\"]", "7");
    json_variant("merges_object.json", "\"merges\":[", "\"merges\":{},\"x\":[");
    json_variant("merge_dup.json", "[\"l\",\"l\"]", "[\"h\",\"e\"]");
    json_variant("added_bad_id.json", "{\"id\":261,", "{\"id\":\"x\",");
    json_variant("added_clash.json", "{\"id\":261,", "{\"id\":256,");
    json_variant("added_special_type.json", "\"special\":true", "\"special\":1");
    json_variant("added_not_array.json", "\"added_tokens\":[", "\"added_tokens\":{},\"x\":[");
    json_variant("model_wordpiece.json", "\"type\":\"BPE\"", "\"type\":\"WordPiece\"");
    json_variant("pretok_other.json", "\"type\":\"ByteLevel\",\"add_prefix_space\"",
                 "\"type\":\"UnicodeScripts\",\"add_prefix_space\"");
    json_variant("pretok_bool.json", "\"use_regex\":true", "\"use_regex\":\"yes\"");
    json_variant("missing_byte.json", "\"a\":97,", "\"aa\":97,");
    char long_tok[1200 + 16];
    memcpy(long_tok, "\"", 1);
    memset(long_tok + 1, 'x', 1100);
    memcpy(long_tok + 1101, "\":259", 6);
    long_tok[1107] = 0;
    json_variant("long_token.json", "\"hello\":259", long_tok);
}

TEST(test_model_bad) {
    tbuf m = {0};
    tok_tiny_model(&m, 1);
    /* every truncation of the valid model: an error or a valid load, never a crash */
    for (size_t n = 0; n < m.n; n += (n < 64 ? 1 : 7)) {
        const char *p = tok_path("trunc.model");
        CHECK(tok_write(p, m.p, n) == 0);
        xf_tokenizer *t;
        if (xf_tokenizer_load(&t, p) == XF_OK)
            xf_tokenizer_free(t);
        else
            CHECK_MSG(strlen(xf_last_error()) > 0 && !strchr(xf_last_error(), '\n'), "n=%zu", n);
    }
    /* cut in the middle of the first piece */
    expect_fail("cut_piece.model", m.p, 5);
    /* garbage */
    unsigned char g[4096];
    for (size_t i = 0; i < sizeof g; i++) g[i] = (unsigned char)tok_rng();
    expect_fail("garbage.model", g, sizeof g);
    /* varint longer than 10 bytes */
    unsigned char v[16];
    memset(v, 0xFF, sizeof v);
    expect_fail("varint.model", v, sizeof v);
    /* length past the end */
    unsigned char l[] = {0x0A, 0xFF, 0xFF, 0x03, 'a'};
    expect_fail("length.model", l, sizeof l);
    /* group wire type */
    unsigned char gr[] = {0x0B, 0x0C};
    expect_fail("group.model", gr, sizeof gr);
    /* a piece with type 9; an empty piece; a bad byte piece */
    tbuf x = {0};
    tok_spm_piece(&x, "<unk>", 0, 9);
    expect_fail("type9.model", x.p, x.n);
    x.n = 0;
    tok_spm_piece(&x, "", 0, 1);
    expect_fail("emptypiece.model", x.p, x.n);
    x.n = 0;
    tok_spm_piece(&x, "<unk>", 0, 2);
    tok_spm_piece(&x, "<0xZZ>", 0, 6);
    tb_bytes(&x, 2, "\x18\x02", 2); /* trainer_spec { model_type: BPE } */
    expect_fail("badbyte.model", x.p, x.n);
    /* valid structure, but model_type WORD (3) */
    x.n = 0;
    tok_spm_piece(&x, "<unk>", 0, 2);
    tok_spm_piece(&x, "a", -1, 1);
    tb_bytes(&x, 2, "\x18\x03", 2);
    expect_fail("word.model", x.p, x.n);
    /* BPE without <unk> */
    tbuf y = {0};
    tok_spm_piece(&y, "a", -1, 1);
    tb_bytes(&y, 2, "\x18\x02", 2); /* trainer_spec { model_type: BPE } */
    expect_fail("nounk.model", y.p, y.n);
    /* duplicate pieces */
    tbuf z = {0};
    tok_spm_piece(&z, "<unk>", 0, 2);
    tok_spm_piece(&z, "a", -1, 1);
    tok_spm_piece(&z, "a", -2, 1);
    tb_bytes(&z, 2, "\x18\x02", 2);
    expect_fail("dup.model", z.p, z.n);
    free(x.p);
    free(y.p);
    free(z.p);
    free(m.p);
}

TEST(test_bin_bad) {
    tbuf b = {0};
    tok_tiny_bin(&b);
    for (size_t n = 0; n < b.n; n += 3) {
        const char *p = tok_path("trunc.bin");
        CHECK(tok_write(p, b.p, n) == 0);
        xf_tokenizer *t;
        if (xf_tokenizer_load(&t, p) == XF_OK) xf_tokenizer_free(t);
    }
    expect_fail("short.bin", b.p, 3);
    expect_fail("header_only.bin", b.p, 4);
    expect_fail("half_entry.bin", b.p, 4 + 8 + 2); /* "<unk>" cut */
    /* first entry length past the end / negative / zero / above max_token_length */
    int32_t bad_lens[] = {1000000, -5, 0, 17};
    for (int i = 0; i < 4; i++) {
        tbuf c = {0};
        tb_put(&c, b.p, b.n);
        memcpy(c.p + 8, &bad_lens[i], 4);
        char name[32];
        snprintf(name, sizeof name, "len%d.bin", i);
        expect_fail(name, c.p, c.n);
        free(c.p);
    }
    uint32_t zero = 0;
    tbuf c = {0};
    tb_put(&c, b.p, b.n);
    memcpy(c.p, &zero, 4);
    expect_fail("maxlen0.bin", c.p, c.n);
    free(c.p);
    free(b.p);
}

TEST(test_ids_out_of_range) {
    const char *specs[] = {"byte", NULL};
    for (int i = 0; specs[i]; i++) {
        xf_tokenizer *t;
        CHECK_OK(xf_tokenizer_load(&t, specs[i]));
        int32_t ids[] = {1, 2, (int32_t)xf_tokenizer_vocab_size(t)};
        char *out = (char *)1;
        size_t len = 7;
        CHECK(xf_tokenizer_decode(t, ids, 3, &out, &len) == XF_ERR_ARG);
        CHECK(out == NULL && len == 0);
        CHECK(strstr(xf_last_error(), "out of range") != NULL);
        int32_t neg[] = {INT32_MIN};
        CHECK(xf_tokenizer_decode(t, neg, 1, &out, &len) == XF_ERR_ARG);
        char buf[16];
        CHECK(xf_tokenizer_piece(t, -1, INT32_MAX, buf, sizeof buf, &len) == XF_ERR_ARG);
        xf_tokenizer_free(t);
    }
}

TEST(test_unknown_specs) {
    xf_tokenizer *t;
    CHECK(xf_tokenizer_load(&t, "no/such/file.json") != XF_OK);
    CHECK(xf_tokenizer_load(&t, "gpt2:") != XF_OK);
    const char *p = tok_path("weird.xyz"); /* .txt is a BERT vocab.txt */
    CHECK(tok_write(p, "hello", 5) == 0);
    CHECK(xf_tokenizer_load(&t, p) == XF_ERR_ARG);
    /* gpt2:DIR with broken files */
    const char *dir = tok_path("gpt2bad");
    mkdir(dir, 0777);
    char enc[600], bpe[600];
    snprintf(enc, sizeof enc, "%s/encoder.json", dir);
    snprintf(bpe, sizeof bpe, "%s/vocab.bpe", dir);
    CHECK(tok_write(enc, "{\"a\": 0, \"b\": 1}", 16) == 0);
    CHECK(tok_write(bpe, "#version: 0.2\na b\n", 18) == 0);
    char spec[700];
    snprintf(spec, sizeof spec, "gpt2:%s", dir);
    CHECK(xf_tokenizer_load(&t, spec) == XF_ERR_FORMAT); /* bytes missing */
    CHECK(tok_write(enc, "[]", 2) == 0);
    CHECK(xf_tokenizer_load(&t, spec) == XF_ERR_FORMAT);
}

int main(void) {
    RUN(test_json_template_loads);
    RUN(test_json_malformed);
    RUN(test_model_bad);
    RUN(test_bin_bad);
    RUN(test_ids_out_of_range);
    RUN(test_unknown_specs);
    tok_tmpdir_remove();
    return test_summary();
}
