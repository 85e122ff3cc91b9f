/* Unigram and WordPiece tokenizers without the reference libraries (those are
 * in tests/tokenizer/): a synthetic SentencePiece unigram .model with a
 * hand-built precompiled_charsmap (one rule, "A" -> "a"), Viterbi choices
 * worked out by hand, unknown fusion, byte fallback, user-defined pieces;
 * a small vocab.txt through BERT's basic tokenizer; then hostile input for
 * every new reader (truncated and mutated protobuf, broken charsmaps, absurd
 * vocab.txt lines, malformed Unigram/WordPiece tokenizer.json), each a
 * one-line error naming the file, never a crash. */
#include <sys/stat.h>

#include "data/tok_impl.h"
#include "test.h"
#include "test_tok_util.h"
#include "xfmr/tokenizer.h"

/* charsmap blob: Darts double array mapping the byte "A" to "a".
 * root unit 0: offset 1; child at (0^1)^0x41 = 64: label 0x41, has_leaf,
 * offset 1; leaf at 64^1 = 65: value 0 (offset of "a" in the strings). */
static void tiny_charsmap(tbuf *b) {
    uint32_t units[66];
    memset(units, 0, sizeof units);
    units[0] = 1u << 10;
    units[64] = (1u << 10) | (1u << 8) | 0x41;
    units[65] = (1u << 31) | 0;
    uint32_t size = sizeof units;
    tb_put(b, &size, 4);
    tb_put(b, units, sizeof units);
    tb_put(b, "a\0", 2);
}

/* unigram .model: 0 <unk> 1 <s> 2 </s> 3 ▁a 4 ▁ 5 a 6 b 7 ab 8 ▁ab 9 <sep> (user)
 * [10.. 265 <0xNN> with byte_fallback]; charsmap when cm. */
static void tiny_unigram(tbuf *m, int byte_fallback, int cm, int user) {
    tok_spm_piece(m, "<unk>", 0, 2);
    tok_spm_piece(m, "<s>", 0, 3);
    tok_spm_piece(m, "</s>", 0, 3);
    tok_spm_piece(m, "\xE2\x96\x81" "a", -1.0f, 1);
    tok_spm_piece(m, "\xE2\x96\x81", -3.0f, 1);
    tok_spm_piece(m, "a", -2.0f, 1);
    tok_spm_piece(m, "b", -2.0f, 1);
    tok_spm_piece(m, "ab", -2.5f, 1);
    tok_spm_piece(m, "\xE2\x96\x81" "ab", -2.9f, 1);
    if (user) tok_spm_piece(m, "<sep>", 0, 4);
    if (byte_fallback)
        for (int i = 0; i < 256; i++) {
            char s[8];
            snprintf(s, sizeof s, "<0x%02X>", i);
            tok_spm_piece(m, s, 0, 6);
        }
    tbuf ts = {0};
    tb_key(&ts, 3, 0);
    tb_varint(&ts, 1); /* UNIGRAM */
    tb_key(&ts, 35, 0);
    tb_varint(&ts, (uint64_t)byte_fallback);
    tb_bytes(m, 2, ts.p, ts.n);
    free(ts.p);
    tbuf ns = {0};
    tb_bytes(&ns, 1, cm ? "tiny_rules" : "identity", cm ? 10 : 8);
    if (cm) {
        tbuf c = {0};
        tiny_charsmap(&c);
        tb_bytes(&ns, 2, c.p, c.n);
        free(c.p);
    }
    tb_bytes(m, 3, ns.p, ns.n);
    free(ns.p);
}

static xf_tokenizer *load_bytes(const char *name, const void *data, size_t n) {
    const char *p = tok_path(name);
    if (tok_write(p, data, n)) FAILF("cannot write %s", p);
    xf_tokenizer *t;
    CHECK_OK(xf_tokenizer_load(&t, p));
    return t;
}

static void expect_ids(xf_tokenizer *t, const char *text, const int32_t *want, size_t m) {
    int32_t *ids;
    size_t n;
    CHECK_OK(xf_tokenizer_encode(t, text, strlen(text), &ids, &n));
    CHECK_MSG(n == m, "\"%s\": %zu ids, want %zu (first %d)", text, n, m, n ? ids[0] : -1);
    for (size_t i = 0; i < n; i++) CHECK_MSG(ids[i] == want[i], "\"%s\" id %zu: %d, want %d", text, i, ids[i], want[i]);
    free(ids);
}

TEST(test_unigram_viterbi) {
    tbuf m = {0};
    tiny_unigram(&m, 0, 1, 1);
    xf_tokenizer *t = load_bytes("uni.model", m.p, m.n);
    free(m.p);
    CHECK(strcmp(xf_tokenizer_name(t), "unigram(10)") == 0);
    /* "Ab" -> "▁ab": ▁ab (-2.9) beats ▁a+b (-3), ▁+ab (-5.5), ▁+a+b (-7) */
    expect_ids(t, "Ab", (int32_t[]){8}, 1);
    /* "aab" -> ▁a + ab (-3.5) beats ▁a+a+b (-5) and ▁+a+ab ... */
    expect_ids(t, "aab", (int32_t[]){3, 7}, 2);
    /* unknown characters fuse into one <unk>: ▁ + <unk>(xé) + b */
    expect_ids(t, "x\xC3\xA9" "b", (int32_t[]){4, 0, 6}, 3);
    /* whitespace: leading/trailing dropped, runs collapse */
    expect_ids(t, "  a   b  ", (int32_t[]){3, 4, 6}, 3);
    /* a user-defined piece is always taken whole and not normalized */
    expect_ids(t, "a<sep>A", (int32_t[]){3, 9, 5}, 3);
    expect_ids(t, "", (int32_t[]){0}, 0);
    char *out;
    size_t len;
    int32_t ids[] = {8, 4, 6};
    CHECK_OK(xf_tokenizer_decode(t, ids, 3, &out, &len));
    CHECK_MSG(strcmp(out, "ab b") == 0, "decoded \"%s\"", out);
    free(out);
    /* save / load: the .model bytes again, same hash */
    const char *dir = tok_path("unidir");
    mkdir(dir, 0777);
    CHECK_OK(xf_tokenizer_save(t, dir));
    xf_tokenizer *u;
    CHECK_OK(xf_tokenizer_load(&u, dir));
    CHECK(xf_tokenizer_hash(u) == xf_tokenizer_hash(t));
    xf_tokenizer_free(u);
    xf_tokenizer_free(t);
    /* identity normalization: "A" is unknown now */
    tbuf m2 = {0};
    tiny_unigram(&m2, 0, 0, 0);
    t = load_bytes("uni_id.model", m2.p, m2.n);
    free(m2.p);
    expect_ids(t, "Ab", (int32_t[]){4, 0, 6}, 3);
    xf_tokenizer_free(t);
    /* byte fallback: each unknown character becomes its bytes */
    tbuf m3 = {0};
    tiny_unigram(&m3, 1, 1, 0);
    t = load_bytes("uni_bf.model", m3.p, m3.n);
    free(m3.p);
    expect_ids(t, "x\xC3\xA9", (int32_t[]){4, 9 + 'x', 9 + 0xC3, 9 + 0xA9}, 4);
    CHECK_OK(xf_tokenizer_decode(t, (int32_t[]){4, 9 + 'x', 9 + 0xC3, 9 + 0xA9}, 4, &out, &len));
    CHECK_MSG(strcmp(out, "x\xC3\xA9") == 0, "decoded \"%s\"", out);
    free(out);
    xf_tokenizer_free(t);
}

static const char k_vocab[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n!\n,\nthe\ncat\nsat\n##s\nun\n##aff\n##able\n"
                              "\xE4\xB8\xAD\n" /* 中 */ "cafe\n";

TEST(test_wordpiece_vocab_txt) {
    xf_tokenizer *t = load_bytes("vocab.txt", k_vocab, sizeof k_vocab - 1);
    CHECK(strcmp(xf_tokenizer_name(t), "wordpiece(16)") == 0);
    CHECK(xf_tokenizer_special(t, XF_TOK_PAD) == 0 && xf_tokenizer_special(t, XF_TOK_UNK) == 1);
    CHECK(xf_tokenizer_special(t, XF_TOK_BOS) == 2 && xf_tokenizer_special(t, XF_TOK_EOS) == 3);
    CHECK(xf_tokenizer_special(t, XF_TOK_MASK) == 4);
    /* uncased (no capitals): lowercase, accents stripped, CJK and punctuation split;
     * "dogs" has no piece -> [UNK]; "unaffable" = un ##aff ##able */
    expect_ids(t, "The CATS sat,unaffable!Caf\xC3\xA9 dogs\xE4\xB8\xAD",
               (int32_t[]){7, 8, 10, 9, 6, 11, 12, 13, 5, 15, 1, 14}, 12);
    /* a control character vanishes; tabs and newlines are spaces */
    expect_ids(t, "the\x01\tcat\n", (int32_t[]){7, 8}, 2);
    char *out;
    size_t len;
    CHECK_OK(xf_tokenizer_decode(t, (int32_t[]){2, 11, 12, 13, 8, 10, 3}, 7, &out, &len));
    CHECK_MSG(strcmp(out, "unaffable cats") == 0, "decoded \"%s\"", out);
    free(out);
    /* saved into a checkpoint as tokenizer.json: same hash back */
    const char *dir = tok_path("wpdir");
    mkdir(dir, 0777);
    CHECK_OK(xf_tokenizer_save(t, dir));
    xf_tokenizer *u;
    CHECK_OK(xf_tokenizer_load(&u, dir));
    CHECK(xf_tokenizer_hash(u) == xf_tokenizer_hash(t));
    xf_tokenizer_free(u);
    xf_tokenizer_free(t);
    /* a capital letter in the vocabulary makes it cased */
    static const char cased[] = "[UNK]\nThe\nthe\n";
    t = load_bytes("cased.txt", cased, sizeof cased - 1);
    expect_ids(t, "The the", (int32_t[]){1, 2}, 2);
    xf_tokenizer_free(t);
}

/* load must fail with a one-line message that names the file */
static void expect_fail(const char *name, const void *data, size_t n) {
    const char *p = tok_path(name);
    if (tok_write(p, data, n)) FAILF("cannot write %s", p);
    xf_tokenizer *t = (xf_tokenizer *)1;
    xf_clear_error();
    CHECK_MSG(xf_tokenizer_load(&t, p) != XF_OK, "%s: load succeeded", name);
    CHECK(t == NULL);
    const char *msg = xf_last_error();
    CHECK_MSG(strlen(msg) > 0 && !strchr(msg, '\n'), "%s: message \"%s\"", name, msg);
    CHECK_MSG(strstr(msg, name) != NULL, "%s: message does not name the file: %s", name, msg);
    if (getenv("XF_TEST_VERBOSE")) printf("# %s\n", msg);
}

/* load and encode a few texts: an error is fine, a crash or a multi-line message is not */
static void survive(const char *name, const void *data, size_t n, int *loaded) {
    const char *p = tok_path(name);
    if (tok_write(p, data, n)) FAILF("cannot write %s", p);
    xf_tokenizer *t;
    if (xf_tokenizer_load(&t, p) != XF_OK) {
        CHECK_MSG(!strchr(xf_last_error(), '\n'), "multi-line message");
        return;
    }
    (*loaded)++;
    static const char *const texts[] = {"AAb ab", "x\xC3\xA9 \xFF\xFE", "  A  ", "\xE4\xB8\xAD<sep>"};
    for (int i = 0; i < 4; i++) {
        int32_t *ids;
        size_t k;
        if (xf_tokenizer_encode(t, texts[i], strlen(texts[i]), &ids, &k) == XF_OK) free(ids);
    }
    xf_tokenizer_free(t);
}

TEST(test_unigram_model_bad) {
    tbuf m = {0};
    tiny_unigram(&m, 1, 1, 1);
    int loaded = 0;
    for (size_t n = 0; n < m.n; n += (n < 80 ? 1 : 5)) survive("trunc_uni.model", m.p, n, &loaded);
    /* random byte mutations (the charsmap trie included) */
    unsigned char *c = malloc(m.n);
    for (int it = 0; it < 600; it++) {
        memcpy(c, m.p, m.n);
        for (int k = 0; k < 1 + (int)(tok_rng() % 4); k++) c[tok_rng() % m.n] = (unsigned char)tok_rng();
        survive("mut_uni.model", c, m.n, &loaded);
    }
    free(c);
    CHECK(loaded > 0);
    free(m.p);
    /* charsmaps that do not fit */
    static const unsigned char bad_cm[][8] = {
        {1, 0, 0, 0, 0, 0, 0, 0},        /* trie size 1: not a multiple of 4 */
        {0xFF, 0xFF, 0, 0, 0, 0, 0, 0},  /* trie past the end */
        {0, 0, 0, 0, 0, 0, 0, 0},        /* empty trie */
    };
    for (int i = 0; i < 3; i++) {
        tbuf x = {0};
        tok_spm_piece(&x, "<unk>", 0, 2);
        tok_spm_piece(&x, "a", -1, 1);
        tbuf ns = {0};
        tb_bytes(&ns, 2, bad_cm[i], 8);
        tb_bytes(&x, 3, ns.p, ns.n);
        char name[32];
        snprintf(name, sizeof name, "badcm%d.model", i);
        expect_fail(name, x.p, x.n);
        free(ns.p);
        free(x.p);
    }
    /* denormalization rules are refused by name */
    tbuf d = {0};
    tok_spm_piece(&d, "<unk>", 0, 2);
    tbuf dn = {0}, blob = {0};
    tiny_charsmap(&blob);
    tb_bytes(&dn, 2, blob.p, blob.n);
    tb_bytes(&d, 5, dn.p, dn.n);
    expect_fail("denorm.model", d.p, d.n);
    free(d.p);
    free(dn.p);
    free(blob.p);
}

TEST(test_vocab_txt_bad) {
    expect_fail("empty_vocab.txt", "", 0);
    expect_fail("blank_line.txt", "[UNK]\n\nthe\n", 11);
    expect_fail("nul_line.txt", "[UNK]\nt\0he\n", 11);
    expect_fail("bad_utf8.txt", "[UNK]\nthe\xFF\n", 11);
    expect_fail("dup_line.txt", "[UNK]\nthe\ncat\nthe\n", 18);
    expect_fail("no_unk.txt", "the\ncat\n", 8);
    char *longl = malloc(3000);
    memcpy(longl, "[UNK]\n", 6);
    memset(longl + 6, 'x', 2000);
    longl[2006] = '\n';
    expect_fail("long_line.txt", longl, 2007);
    free(longl);
    /* mutations of a valid vocabulary */
    int loaded = 0;
    unsigned char c[sizeof k_vocab];
    for (int it = 0; it < 400; it++) {
        memcpy(c, k_vocab, sizeof k_vocab - 1);
        for (int k = 0; k < 1 + (int)(tok_rng() % 3); k++) c[tok_rng() % (sizeof k_vocab - 1)] = (unsigned char)tok_rng();
        survive("mut_vocab.txt", c, sizeof k_vocab - 1, &loaded);
    }
    CHECK(loaded > 0);
}

TEST(test_model_json_bad) {
    static const char *const bad[][2] = {
        {"uni_vocab_obj.json", "{\"model\":{\"type\":\"Unigram\",\"vocab\":{}}}"},
        {"uni_empty.json", "{\"model\":{\"type\":\"Unigram\",\"vocab\":[]}}"},
        {"uni_entry.json", "{\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\"]]}}"},
        {"uni_score.json", "{\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\",\"x\"]]}}"},
        {"uni_unk.json", "{\"model\":{\"type\":\"Unigram\",\"unk_id\":5,\"vocab\":[[\"a\",-1]]}}"},
        {"uni_unk_frac.json", "{\"model\":{\"type\":\"Unigram\",\"unk_id\":0.5,\"vocab\":[[\"a\",-1]]}}"},
        {"uni_dup.json", "{\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[[\"a\",-1],[\"a\",-2]]}}"},
        {"uni_bf.json", "{\"model\":{\"type\":\"Unigram\",\"byte_fallback\":1,\"vocab\":[[\"a\",-1]]}}"},
        {"uni_norm.json", "{\"normalizer\":{\"type\":\"NFKX\"},\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\",-1]]}}"},
        {"uni_pretok.json", "{\"pre_tokenizer\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\",-1]]}}"},
        {"uni_added.json", "{\"added_tokens\":[{\"id\":1,\"content\":\"b\",\"special\":true}],\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\",-1]]}}"},
        {"uni_precompiled.json", "{\"normalizer\":{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"AAAAAA=\"},\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\",-1]]}}"},
        {"wp_vocab_arr.json", "{\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},\"model\":{\"type\":\"WordPiece\",\"vocab\":[]}}"},
        {"wp_id_range.json", "{\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"[UNK]\":0,\"a\":7}}}"},
        {"wp_dup_id.json", "{\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"[UNK]\":0,\"a\":0}}}"},
        {"wp_no_unk.json", "{\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"a\":0}}}"},
        {"wp_max.json", "{\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},\"model\":{\"type\":\"WordPiece\",\"max_input_chars_per_word\":1e12,\"vocab\":{\"[UNK]\":0}}}"},
        {"wp_prefix.json", "{\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},\"model\":{\"type\":\"WordPiece\",\"continuing_subword_prefix\":\"0123456789012345678901234567890123\",\"vocab\":{\"[UNK]\":0}}}"},
        {"wp_pretok.json", "{\"pre_tokenizer\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"[UNK]\":0}}}"},
        {"wp_norm_opt.json", "{\"normalizer\":{\"type\":\"BertNormalizer\",\"lowercase\":\"yes\"},\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"[UNK]\":0}}}"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) expect_fail(bad[i][0], bad[i][1], strlen(bad[i][1]));
    /* and the minimal valid ones load */
    static const char uni[] = "{\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\xE2\x96\x81\",\"prepend_scheme\":\"always\"},"
                              "\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[[\"<unk>\",0],[\"\xE2\x96\x81" "a\",-1],[\"b\",-2]]}}";
    xf_tokenizer *t = load_bytes("uni_ok.json", uni, sizeof uni - 1);
    expect_ids(t, "a b", (int32_t[]){1, 0, 2}, 3); /* "▁" alone is unknown: ▁a <unk> b */
    xf_tokenizer_free(t);
}

/* A Unigram / WordPiece tokenizer.json whose pipeline goes beyond its reader's
 * layout (here NFKC + Lowercase, Whitespace split) runs that pipeline, and is
 * saved (and converted) as it was read: same bytes, same hash, same ids. */
TEST(test_model_json_pipeline_kept) {
    static const char uni[] =
        "{\"added_tokens\":[{\"id\":0,\"content\":\"<unk>\",\"special\":true}],"
        "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFKC\"},{\"type\":\"Lowercase\"}]},"
        "\"pre_tokenizer\":{\"type\":\"Whitespace\"},\"decoder\":null,"
        "\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[[\"<unk>\",0],[\"ab\",-1],[\"a\",-2],[\"b\",-2],[\"1\",-3]]}}";
    xf_tokenizer *t = load_bytes("uni_pipe.json", uni, sizeof uni - 1);
    /* full-width AB -> ab (NFKC, Lowercase); the <unk> written in the text is
     * matched only as a special token; ① -> 1 */
    expect_ids(t, "\xEF\xBC\xA1\xEF\xBC\xA2 ba \xE2\x91\xA0" "c", (int32_t[]){1, 3, 2, 4, 0}, 5);
    int32_t *ids;
    size_t n;
    CHECK_OK(xf_tokenizer_encode_ex(t, "ab<unk>", 7, XF_TOK_PARSE_SPECIAL, &ids, &n));
    CHECK(n == 2 && ids[0] == 1 && ids[1] == 0);
    free(ids);
    char dir[600];
    snprintf(dir, sizeof dir, "%s", tok_path("kept"));
    CHECK(mkdir(dir, 0700) == 0);
    CHECK_OK(xf_tokenizer_save(t, dir));
    xf_tokenizer *u = NULL;
    CHECK_OK(xf_tokenizer_load(&u, dir));
    CHECK(xf_tokenizer_hash(u) == xf_tokenizer_hash(t));
    char *js = NULL;
    size_t len = 0;
    CHECK_OK(tok_json_write_model(t, &js, &len));
    CHECK(len == sizeof uni - 1 && memcmp(js, uni, len) == 0);
    free(js);
    xf_tokenizer_free(u);
    xf_tokenizer_free(t);
}

int main(void) {
    RUN(test_model_json_pipeline_kept);
    RUN(test_unigram_viterbi);
    RUN(test_wordpiece_vocab_txt);
    RUN(test_unigram_model_bad);
    RUN(test_vocab_txt_bad);
    RUN(test_model_json_bad);
    tok_tmpdir_remove();
    return test_summary();
}
