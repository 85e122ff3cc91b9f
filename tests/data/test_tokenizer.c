/* Tokenizer interface: the "byte" tokenizer, save/load round trips, hashing,
 * byte-level BPE from tokenizer.json, and the GPT-2 byte mapping. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "test_tok_util.h"
#include "xfmr/tokenizer.h"

static void write_file(const char *path, const char *s) {
    FILE *f = fopen(path, "wb");
    if (!f) FAILF("cannot write %s", path);
    fputs(s, f);
    fclose(f);
}

TEST(test_byte_layout) {
    xf_tokenizer *t;
    CHECK_OK(xf_tokenizer_load(&t, "byte"));
    CHECK(xf_tokenizer_vocab_size(t) == 360);
    CHECK(strcmp(xf_tokenizer_name(t), "byte") == 0);
    CHECK(xf_tokenizer_special(t, XF_TOK_BOS) == 256);
    CHECK(xf_tokenizer_special(t, XF_TOK_EOS) == 256);
    CHECK(xf_tokenizer_special(t, XF_TOK_PAD) == 257);
    CHECK(xf_tokenizer_special(t, XF_TOK_UNK) == 258);
    CHECK(xf_tokenizer_special(t, XF_TOK_MASK) == 259);
    CHECK(xf_tokenizer_sentinel_count(t) == 100);
    CHECK(xf_tokenizer_sentinel(t, 0) == 359);
    CHECK(xf_tokenizer_sentinel(t, 99) == 260);
    CHECK(xf_tokenizer_sentinel(t, 100) == -1);
    size_t l;
    const char *s = xf_tokenizer_id_to_str(t, 32, &l);
    CHECK(l == 2 && memcmp(s, "\xC4\xA0", 2) == 0); /* space -> U+0120 */
    s = xf_tokenizer_id_to_str(t, 359, &l);
    CHECK(l == 12 && memcmp(s, "<extra_id_0>", 12) == 0);
    CHECK(xf_tokenizer_id_to_str(t, 360, &l) == NULL);
    xf_tokenizer_free(t);
}

TEST(test_byte_roundtrip_all_bytes) {
    xf_tokenizer *t;
    CHECK_OK(xf_tokenizer_load(&t, "byte"));
    char text[512];
    for (int i = 0; i < 512; i++) text[i] = (char)(i & 255);
    int32_t *ids;
    size_t n;
    CHECK_OK(xf_tokenizer_encode(t, text, sizeof text, &ids, &n));
    CHECK(n == 512);
    for (int i = 0; i < 512; i++) CHECK(ids[i] == (i & 255));
    char *out;
    size_t len;
    CHECK_OK(xf_tokenizer_decode(t, ids, n, &out, &len));
    CHECK(len == 512 && memcmp(out, text, 512) == 0 && out[512] == '\0');
    free(out);
    /* streaming pieces give the same bytes */
    for (int i = 0; i < 256; i++) {
        char buf[8];
        CHECK_OK(xf_tokenizer_piece(t, i ? ids[i - 1] : -1, ids[i], buf, sizeof buf, &len));
        CHECK(len == 1 && (unsigned char)buf[0] == (unsigned)i);
    }
    free(ids);
    /* empty text */
    CHECK_OK(xf_tokenizer_encode(t, "", 0, &ids, &n));
    CHECK(n == 0);
    free(ids);
    xf_tokenizer_free(t);
}

TEST(test_byte_specials_decode) {
    xf_tokenizer *t;
    CHECK_OK(xf_tokenizer_load(&t, "byte"));
    int32_t ids[] = {'a', 256, 257, 258, 259, 359, 260, 'b'};
    char *out;
    size_t len;
    CHECK_OK(xf_tokenizer_decode(t, ids, 8, &out, &len));
    const char *want = "a<|endoftext|><pad><unk><mask><extra_id_0><extra_id_99>b";
    CHECK_MSG(len == strlen(want) && strcmp(out, want) == 0, "got '%s'", out);
    free(out);
    /* text that spells a special is still plain bytes */
    int32_t *e;
    size_t n;
    CHECK_OK(xf_tokenizer_encode(t, "<pad>", 5, &e, &n));
    CHECK(n == 5 && e[0] == '<');
    free(e);
    int32_t bad[] = {65, 360};
    CHECK(xf_tokenizer_decode(t, bad, 2, &out, &len) == XF_ERR_ARG);
    CHECK(strstr(xf_last_error(), "360") != NULL);
    int32_t neg[] = {-1};
    CHECK(xf_tokenizer_decode(t, neg, 1, &out, &len) == XF_ERR_ARG);
    char buf[4];
    CHECK(xf_tokenizer_piece(t, -1, 1000, buf, sizeof buf, &len) == XF_ERR_ARG);
    CHECK(xf_tokenizer_piece(t, -1, 259, buf, sizeof buf, &len) == XF_ERR_ARG); /* too small */
    xf_tokenizer_free(t);
}

TEST(test_byte_hash_and_save_load) {
    xf_tokenizer *a, *b;
    CHECK_OK(xf_tokenizer_load(&a, "byte"));
    CHECK_OK(xf_tokenizer_load(&b, "byte"));
    CHECK(xf_tokenizer_hash(a) == xf_tokenizer_hash(b));
    CHECK(xf_tokenizer_hash(a) != 0);
    xf_tokenizer_free(b);
    CHECK_OK(xf_tokenizer_save(a, tok_tmpdir()));
    char path[512];
    snprintf(path, sizeof path, "%s/tokenizer.json", tok_tmpdir());
    CHECK(access(path, F_OK) == 0);
    CHECK_OK(xf_tokenizer_load(&b, tok_tmpdir()));
    CHECK(xf_tokenizer_hash(a) == xf_tokenizer_hash(b));
    CHECK(strcmp(xf_tokenizer_name(b), "byte") == 0);
    CHECK(xf_tokenizer_vocab_size(b) == 360);
    CHECK(xf_tokenizer_special(b, XF_TOK_PAD) == 257);
    CHECK(xf_tokenizer_sentinel(b, 0) == 359);
    const char *txt = "h\xC3\xA9llo \xF0\x9F\x98\x80 world\n\xff\xfe";
    int32_t *ia, *ib;
    size_t na, nb;
    CHECK_OK(xf_tokenizer_encode(a, txt, strlen(txt), &ia, &na));
    CHECK_OK(xf_tokenizer_encode(b, txt, strlen(txt), &ib, &nb));
    CHECK(na == nb && memcmp(ia, ib, na * sizeof *ia) == 0);
    free(ia);
    free(ib);
    /* loading the file path directly works too */
    xf_tokenizer *c;
    CHECK_OK(xf_tokenizer_load(&c, path));
    CHECK(xf_tokenizer_hash(c) == xf_tokenizer_hash(a));
    xf_tokenizer_free(c);
    xf_tokenizer_free(a);
    xf_tokenizer_free(b);
}

/* A tiny byte-level BPE tokenizer.json: 256 bytes + merges for "hello" + one special. */
static char *tiny_json(int legacy) {
    size_t cap = 1 << 16, n = 0;
    char *s = malloc(cap);
    n += (size_t)snprintf(s + n, cap - n,
                          "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":261,\"content\":\"<|endoftext|>\","
                          "\"special\":true}],\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,"
                          "\"use_regex\":true},\"model\":{\"type\":\"BPE\",\"vocab\":{");
    tok_byte_vocab_json(s, cap, &n); /* bytes in GPT-2 spelling, ids = byte values */
    n += (size_t)snprintf(s + n, cap - n, "\"he\":256,\"ll\":257,\"hell\":258,\"hello\":259,"
                                          "\"\xC4\xA0h\":260},\"merges\":");
    if (legacy)
        n += (size_t)snprintf(s + n, cap - n, "[\"h e\",\"l l\",\"he ll\",\"hell o\",\"\xC4\xA0 h\"]}}");
    else
        n += (size_t)snprintf(s + n, cap - n,
                              "[[\"h\",\"e\"],[\"l\",\"l\"],[\"he\",\"ll\"],[\"hell\",\"o\"],[\"\xC4\xA0\",\"h\"]]}}");
    return s;
}

TEST(test_json_bpe_encode) {
    char path[512];
    for (int legacy = 0; legacy < 2; legacy++) {
        snprintf(path, sizeof path, "%s/tiny%d.json", tok_tmpdir(), legacy);
        char *js = tiny_json(legacy);
        write_file(path, js);
        free(js);
        xf_tokenizer *t;
        CHECK_OK(xf_tokenizer_load(&t, path));
        CHECK(xf_tokenizer_vocab_size(t) == 262);
        CHECK(xf_tokenizer_special(t, XF_TOK_EOS) == 261);
        const char *txt = "hello hello, hell";
        int32_t *ids;
        size_t n;
        CHECK_OK(xf_tokenizer_encode(t, txt, strlen(txt), &ids, &n));
        /* "hello" | " hello": (h,e) has rank 0 so it beats (Ġ,h) -> Ġ hello | "," |
         * " hell" -> Ġ hell */
        int32_t want[] = {259, ' ', 259, ',', ' ', 258};
        CHECK_MSG(n == sizeof want / sizeof *want, "n = %zu", n);
        for (size_t i = 0; i < n; i++) CHECK_MSG(ids[i] == want[i], "ids[%zu] = %d", i, ids[i]);
        char *out;
        size_t len;
        CHECK_OK(xf_tokenizer_decode(t, ids, n, &out, &len));
        CHECK(len == strlen(txt) && strcmp(out, txt) == 0);
        free(out);
        free(ids);
        /* write, read back: same hash, both merge forms */
        char p2[600];
        snprintf(p2, sizeof p2, "%s/tiny_out%d.json", tok_tmpdir(), legacy);
        CHECK_OK(xf_tokenizer_save_json(t, p2, legacy));
        xf_tokenizer *u;
        CHECK_OK(xf_tokenizer_load(&u, p2));
        CHECK(xf_tokenizer_hash(u) == xf_tokenizer_hash(t));
        xf_tokenizer_free(u);
        xf_tokenizer_free(t);
    }
}

TEST(test_hash_differs) {
    char path[512];
    snprintf(path, sizeof path, "%s/tiny0.json", tok_tmpdir());
    char *js = tiny_json(0);
    write_file(path, js);
    free(js);
    xf_tokenizer *a, *b;
    CHECK_OK(xf_tokenizer_load(&a, path));
    CHECK_OK(xf_tokenizer_load(&b, "byte"));
    CHECK(xf_tokenizer_hash(a) != xf_tokenizer_hash(b));
    xf_tokenizer_free(a);
    xf_tokenizer_free(b);
}

/* Long runs take the heap path; the result must match the scan path on the same pieces. */
TEST(test_long_word_merge) {
    char path[512];
    snprintf(path, sizeof path, "%s/tiny0.json", tok_tmpdir());
    char *js = tiny_json(0);
    write_file(path, js);
    free(js);
    xf_tokenizer *t;
    CHECK_OK(xf_tokenizer_load(&t, path));
    /* "hellohello..." is one letter run: 200 bytes -> 40 x "hello" */
    char txt[201];
    for (int i = 0; i < 200; i++) txt[i] = "hello"[i % 5];
    txt[200] = 0;
    int32_t *ids;
    size_t n;
    CHECK_OK(xf_tokenizer_encode(t, txt, 200, &ids, &n));
    CHECK_MSG(n == 40, "n = %zu", n);
    for (size_t i = 0; i < n; i++) CHECK(ids[i] == 259);
    free(ids);
    /* 20 bytes -> scan path -> 4 x hello */
    CHECK_OK(xf_tokenizer_encode(t, txt, 20, &ids, &n));
    CHECK(n == 4 && ids[3] == 259);
    free(ids);
    xf_tokenizer_free(t);
}

TEST(test_bad_specs) {
    xf_tokenizer *t = (xf_tokenizer *)1;
    CHECK(xf_tokenizer_load(&t, "") != XF_OK);
    CHECK(t == NULL);
    CHECK(xf_tokenizer_load(&t, "/nonexistent/tokenizer.json") != XF_OK);
    CHECK(strlen(xf_last_error()) > 0);
    CHECK(xf_tokenizer_load(&t, "gpt2:/nonexistent") != XF_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/empty_dir", tok_tmpdir());
    mkdir(path, 0777);
    CHECK(xf_tokenizer_load(&t, path) == XF_ERR_IO);
}

int main(void) {
    RUN(test_byte_layout);
    RUN(test_byte_roundtrip_all_bytes);
    RUN(test_byte_specials_decode);
    RUN(test_byte_hash_and_save_load);
    RUN(test_json_bpe_encode);
    RUN(test_hash_differs);
    RUN(test_long_word_merge);
    RUN(test_bad_specs);
    tok_tmpdir_remove();
    return test_summary();
}
