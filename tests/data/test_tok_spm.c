/* SentencePiece BPE tokenizers: synthetic .model / tokenizer.bin built in memory,
 * and Llama 2's tokenizer.model / tokenizer.bin from ../shared/data when present. */
#include "test.h"
#include "test_tok_util.h"
#include "xfmr/tokenizer.h"

static const char *k_llama_model = "../shared/data/llama2-tokenizer.model";
static const char *k_llama_bin = "../shared/data/llama2-tokenizer.bin";

/* ids of the synthetic vocabulary: 0 <unk>, 1 <s>, 2 </s>, 3..258 bytes, then normals */
#define NORMAL(i) (3 + 256 + (i))

static xf_tokenizer *load_tiny(int byte_fallback, const char *name) {
    tbuf m = {0};
    tok_tiny_model(&m, byte_fallback);
    const char *p = tok_path(name);
    if (tok_write(p, m.p, m.n)) FAILF("cannot write %s", p);
    free(m.p);
    xf_tokenizer *t;
    CHECK_OK(xf_tokenizer_load(&t, p));
    return t;
}

static void enc(xf_tokenizer *t, const char *s, int32_t **ids, size_t *n) {
    CHECK_OK(xf_tokenizer_encode(t, s, strlen(s), ids, n));
}

static void check_ids(const int32_t *got, size_t n, const int32_t *want, size_t m) {
    CHECK_MSG(n == m, "got %zu ids, want %zu", n, m);
    for (size_t i = 0; i < n; i++) CHECK_MSG(got[i] == want[i], "id %zu: got %d want %d", i, got[i], want[i]);
}

TEST(test_spm_merges_by_score) {
    xf_tokenizer *t = load_tiny(1, "tiny.model");
    CHECK(xf_tokenizer_vocab_size(t) == 3 + 256 + 24);
    CHECK(xf_tokenizer_special(t, XF_TOK_UNK) == 0);
    CHECK(xf_tokenizer_special(t, XF_TOK_BOS) == 1);
    CHECK(xf_tokenizer_special(t, XF_TOK_EOS) == 2);
    CHECK(xf_tokenizer_special(t, XF_TOK_PAD) == -1);
    int32_t *ids;
    size_t n;
    /* ▁ h e l l o: he(-1), ll(-6), ▁he(-8), ▁hell(-9), ▁hello(-10) */
    enc(t, "hello", &ids, &n);
    int32_t w1[] = {NORMAL(10)};
    check_ids(ids, n, w1, 1);
    free(ids);
    /* byte fallback: ▁h i then '!' is not a piece -> <0x21> */
    enc(t, "hi!", &ids, &n);
    int32_t w2[] = {NORMAL(7), NORMAL(19), 3 + '!'};
    check_ids(ids, n, w2, 3);
    char *out;
    size_t len;
    CHECK_OK(xf_tokenizer_decode(t, ids, n, &out, &len));
    CHECK_MSG(strcmp(out, "hi!") == 0, "decoded '%s'", out);
    free(out);
    free(ids);
    /* multi-byte unknown: U+00E9 -> two byte pieces */
    enc(t, "\xC3\xA9", &ids, &n);
    int32_t w3[] = {NORMAL(12), 3 + 0xC3, 3 + 0xA9};
    check_ids(ids, n, w3, 3);
    free(ids);
    /* invalid UTF-8 becomes U+FFFD (EF BF BD), as sentencepiece does */
    enc(t, "\xff", &ids, &n);
    int32_t w4[] = {NORMAL(12), 3 + 0xEF, 3 + 0xBF, 3 + 0xBD};
    check_ids(ids, n, w4, 4);
    free(ids);
    /* empty text: no ids, not even the dummy prefix */
    enc(t, "", &ids, &n);
    CHECK(n == 0);
    free(ids);
    xf_tokenizer_free(t);
}

TEST(test_spm_decode_rules) {
    xf_tokenizer *t = load_tiny(1, "tiny.model");
    char *out;
    size_t len;
    /* the first piece's dummy-prefix space is dropped, also after <s> */
    int32_t a[] = {1, NORMAL(10), NORMAL(10), 2};
    CHECK_OK(xf_tokenizer_decode(t, a, 4, &out, &len));
    CHECK_MSG(strcmp(out, "hello hello") == 0, "got '%s'", out);
    free(out);
    /* <unk> decodes to " ⁇ " and ends the start state */
    int32_t b[] = {0, NORMAL(10)};
    CHECK_OK(xf_tokenizer_decode(t, b, 2, &out, &len));
    CHECK_MSG(strcmp(out, " \xE2\x81\x87  hello") == 0, "got '%s'", out);
    free(out);
    /* a byte piece first: the next piece keeps its space */
    int32_t c[] = {3 + 'x', NORMAL(10)};
    CHECK_OK(xf_tokenizer_decode(t, c, 2, &out, &len));
    CHECK_MSG(strcmp(out, "x hello") == 0, "got '%s'", out);
    free(out);
    /* streaming: after <s> or at the start the space goes, elsewhere it stays */
    char buf[XF_TOKENIZER_PIECE_MAX];
    CHECK_OK(xf_tokenizer_piece(t, -1, NORMAL(10), buf, sizeof buf, &len));
    CHECK(len == 5 && memcmp(buf, "hello", 5) == 0);
    CHECK_OK(xf_tokenizer_piece(t, 1, NORMAL(10), buf, sizeof buf, &len));
    CHECK(len == 5);
    CHECK_OK(xf_tokenizer_piece(t, NORMAL(10), NORMAL(10), buf, sizeof buf, &len));
    CHECK(len == 6 && memcmp(buf, " hello", 6) == 0);
    CHECK_OK(xf_tokenizer_piece(t, -1, 1, buf, sizeof buf, &len));
    CHECK(len == 0);
    int32_t bad[] = {5, 100000};
    CHECK(xf_tokenizer_decode(t, bad, 2, &out, &len) == XF_ERR_ARG);
    xf_tokenizer_free(t);
}

TEST(test_spm_no_byte_fallback_fuses_unk) {
    xf_tokenizer *t = load_tiny(0, "tiny_nobf.model");
    int32_t *ids;
    size_t n;
    /* ▁ then two unknown characters: one fused <unk> */
    enc(t, "!?", &ids, &n);
    int32_t w[] = {3 + 12, 0};
    check_ids(ids, n, w, 2);
    free(ids);
    xf_tokenizer_free(t);
}

TEST(test_spm_bin_matches_model) {
    xf_tokenizer *m = load_tiny(1, "tiny.model");
    tbuf b = {0};
    tok_tiny_bin(&b);
    const char *p = tok_path("tiny.bin");
    CHECK(tok_write(p, b.p, b.n) == 0);
    free(b.p);
    xf_tokenizer *t;
    CHECK_OK(xf_tokenizer_load(&t, p));
    CHECK(xf_tokenizer_vocab_size(t) == xf_tokenizer_vocab_size(m));
    CHECK(xf_tokenizer_special(t, XF_TOK_BOS) == 1 && xf_tokenizer_special(t, XF_TOK_EOS) == 2);
    CHECK(xf_tokenizer_hash(t) == xf_tokenizer_hash(m));
    const char *texts[] = {"hello the world", "  in a hell  ", "\xC3\xA9t\xC3\xA9\n", "x\xffy"};
    for (int i = 0; i < 4; i++) {
        int32_t *a, *c;
        size_t na, nc;
        enc(m, texts[i], &a, &na);
        enc(t, texts[i], &c, &nc);
        check_ids(c, nc, a, na);
        free(a);
        free(c);
    }
    xf_tokenizer_free(t);
    xf_tokenizer_free(m);
}

TEST(test_spm_save_load) {
    xf_tokenizer *m = load_tiny(1, "tiny.model");
    const char *dir = tok_path("ckpt_spm");
    mkdir(dir, 0777);
    CHECK_OK(xf_tokenizer_save(m, dir));
    xf_tokenizer *back;
    CHECK_OK(xf_tokenizer_load(&back, dir));
    CHECK(xf_tokenizer_hash(back) == xf_tokenizer_hash(m));
    CHECK(strncmp(xf_tokenizer_name(back), "sentencepiece", 13) == 0);
    xf_tokenizer_free(back);
    /* saving another kind into the same directory replaces it */
    xf_tokenizer *byte;
    CHECK_OK(xf_tokenizer_load(&byte, "byte"));
    CHECK_OK(xf_tokenizer_save(byte, dir));
    CHECK_OK(xf_tokenizer_load(&back, dir));
    CHECK(xf_tokenizer_hash(back) == xf_tokenizer_hash(byte));
    xf_tokenizer_free(back);
    xf_tokenizer_free(byte);
    xf_tokenizer_free(m);
}

/* Segment-wise encoding with the per-call cache (long texts) must equal one
 * heap over the whole text: a piece with U+2581 inside turns segmenting off. */
TEST(test_spm_segments_equal_whole) {
    for (int bf = 1; bf >= 0; bf--) {
        xf_tokenizer *seg = load_tiny(bf, "seg.model");
        tbuf m = {0};
        tok_tiny_model(&m, bf);
        tok_spm_piece(&m, "\x01\xE2\x96\x81\x01", -100, 1); /* never in the text below */
        const char *p = tok_path("whole.model");
        CHECK(tok_write(p, m.p, m.n) == 0);
        free(m.p);
        xf_tokenizer *whole;
        CHECK_OK(xf_tokenizer_load(&whole, p));
        /* unknown characters (é, !, ?) exercise <unk> fusion across segments */
        static const char *const words[] = {"hello", "the", "a", "hell", "in", "t", "  ", "w\xC3\xA9", "lo!", "\n", "?"};
        char text[20000];
        size_t n = 0;
        tok_rng_state = 4242;
        while (n < sizeof text - 16) {
            const char *w = words[tok_rng() % 11];
            size_t l = strlen(w);
            memcpy(text + n, w, l);
            n += l;
            if (tok_rng() % 3) text[n++] = ' ';
        }
        int32_t *a, *b;
        size_t na, nb;
        CHECK_OK(xf_tokenizer_encode(seg, text, n, &a, &na));
        CHECK_OK(xf_tokenizer_encode(whole, text, n, &b, &nb));
        check_ids(a, na, b, nb);
        free(a);
        free(b);
        xf_tokenizer_free(seg);
        xf_tokenizer_free(whole);
    }
}

TEST(test_llama2_model) {
    if (access(k_llama_model, R_OK) != 0) SKIP("%s not found", k_llama_model);
    const char *specs[] = {k_llama_model, k_llama_bin};
    for (int s = 0; s < 2; s++) {
        if (access(specs[s], R_OK) != 0) continue;
        xf_tokenizer *t;
        CHECK_OK(xf_tokenizer_load(&t, specs[s]));
        CHECK(xf_tokenizer_vocab_size(t) == 32000);
        CHECK(xf_tokenizer_special(t, XF_TOK_BOS) == 1);
        int32_t *ids;
        size_t n;
        enc(t, "I believe the meaning of life is", &ids, &n);
        int32_t w[] = {306, 4658, 278, 6593, 310, 2834, 338};
        check_ids(ids, n, w, 7);
        free(ids);
        enc(t, "\n", &ids, &n);
        int32_t w2[] = {29871, 13};
        check_ids(ids, n, w2, 2);
        free(ids);
        enc(t, "  hello   world  ", &ids, &n);
        int32_t w3[] = {259, 22172, 259, 3186, 259};
        check_ids(ids, n, w3, 5);
        free(ids);
        char *out;
        size_t len;
        int32_t d[] = {1, 22172, 3186};
        CHECK_OK(xf_tokenizer_decode(t, d, 3, &out, &len));
        CHECK_MSG(strcmp(out, "hello world") == 0, "got '%s'", out);
        free(out);
        xf_tokenizer_free(t);
    }
}

int main(void) {
    RUN(test_spm_merges_by_score);
    RUN(test_spm_decode_rules);
    RUN(test_spm_no_byte_fallback_fuses_unk);
    RUN(test_spm_bin_matches_model);
    RUN(test_spm_save_load);
    RUN(test_spm_segments_equal_whole);
    RUN(test_llama2_model);
    tok_tmpdir_remove();
    return test_summary();
}
