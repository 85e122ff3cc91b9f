/* Byte-level BPE: GPT-2 pre-tokenization (Python-regex semantics), and
 * training: the incremental trainer must learn exactly the merges of a naive
 * trainer that recounts every pair before each merge. */
#include <time.h>

#include "data/tok_impl.h"
#include "test.h"
#include "test_tok_util.h"
#include "xfmr/tokenizer.h"

/* ---- pre-tokenization ---------------------------------------------------- */

typedef struct {
    char out[1024];
    size_t n;
} pieces;

static int collect(void *ctx, const char *s, size_t n) {
    /* pieces joined with '|' */
    pieces *p = ctx;
    if (p->n + n + 1 < sizeof p->out) {
        memcpy(p->out + p->n, s, n);
        p->n += n;
        p->out[p->n++] = '|';
        p->out[p->n] = 0;
    }
    return 0;
}

static void check_split(const xf_tokenizer *t, const char *text, const char *want) {
    pieces p = {{0}, 0};
    CHECK_OK(tok_pretokenize(t, text, strlen(text), collect, &p));
    CHECK_MSG(strcmp(p.out, want) == 0, "split of '%.100s': got '%.200s' want '%.200s'", text, p.out, want);
}

TEST(test_pretokenize_gpt2) {
    xf_tokenizer *t;
    CHECK_OK(tok_byte_new(&t));
    CHECK_OK(tok_bl_compile(t, NULL));
    check_split(t, "Hello world", "Hello| world|");
    check_split(t, "a  b", "a| | b|");
    check_split(t, "   x", "  | x|");
    check_split(t, "a \n\n b", "a| \n\n| b|");
    check_split(t, "x  ", "x|  |");
    check_split(t, "I'm I'M they're", "I|'m| I|'|M| they|'re|");
    check_split(t, "123456 3.14", "123456| 3|.|14|");
    check_split(t, "don't!!! ok", "don|'t|!!!| ok|");
    check_split(t, "caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC", "caf\xC3\xA9| \xE6\x97\xA5\xE6\x9C\xAC|");
    /* Python's \s includes U+0085, so it is not punctuation here */
    check_split(t, "x\xC2\x85!", "x|\xC2\x85|!|");
    /* U+FEFF and U+180E are not White_Space: they join punctuation runs */
    check_split(t, "a\xEF\xBB\xBF!", "a|\xEF\xBB\xBF!|");
    check_split(t, "a\xE1\xA0\x8E!", "a|\xE1\xA0\x8E!|");
    /* NBSP and ideographic space are whitespace */
    check_split(t, "a\xC2\xA0\xC2\xA0" "b", "a|\xC2\xA0|\xC2\xA0|b|"); /* ' ?' is ASCII space only */
    /* invalid UTF-8 bytes form their own pieces */
    check_split(t, "ab\xff\xfe" "cd", "ab|\xff\xfe|cd|");
    check_split(t, "\x80", "\x80|");
    xf_tokenizer_free(t);
}

/* ---- naive trainer --------------------------------------------------------- */

typedef struct {
    int32_t *sym[4096];
    size_t len[4096];
    uint64_t cnt[4096];
    char *key[4096];
    size_t klen[4096];
    size_t n;
} words;

static int add_word(void *ctx, const char *s, size_t n) {
    words *w = ctx;
    for (size_t i = 0; i < w->n; i++)
        if (w->klen[i] == n && memcmp(w->key[i], s, n) == 0) {
            w->cnt[i]++;
            return 0;
        }
    if (w->n == 4096) return 1;
    w->key[w->n] = malloc(n);
    memcpy(w->key[w->n], s, n);
    w->klen[w->n] = n;
    w->sym[w->n] = malloc(n * sizeof(int32_t));
    for (size_t i = 0; i < n; i++) w->sym[w->n][i] = (unsigned char)s[i];
    w->len[w->n] = n;
    w->cnt[w->n] = 1;
    w->n++;
    return 0;
}

/* Recount all pairs, take the best (count desc, then a, b asc), merge; the
 * merged token's id is the next free one unless its spelling already exists. */
static size_t naive_train(words *w, size_t max_merges, int32_t (*out)[2], char **spell,
                          size_t *slen, size_t *nv) {
    size_t nm = 0;
    while (nm < max_merges) {
        int64_t best = 0;
        int32_t ba = -1, bb = -1;
        /* O(pairs^2) but the corpus is tiny */
        for (size_t i = 0; i < w->n; i++)
            for (size_t j = 0; j + 1 < w->len[i]; j++) {
                int32_t a = w->sym[i][j], b = w->sym[i][j + 1];
                int64_t c = 0;
                for (size_t k = 0; k < w->n; k++)
                    for (size_t l = 0; l + 1 < w->len[k]; l++)
                        if (w->sym[k][l] == a && w->sym[k][l + 1] == b) {
                            c += (int64_t)w->cnt[k];
                            l++; /* non-overlapping, as merging counts them */
                            if (l + 1 < w->len[k] && a == b) l--;
                        }
                if (c > best || (c == best && (a < ba || (a == ba && b < bb)))) {
                    best = c;
                    ba = a;
                    bb = b;
                }
            }
        if (best < 2) break;
        char buf[2048];
        memcpy(buf, spell[ba], slen[ba]);
        memcpy(buf + slen[ba], spell[bb], slen[bb]);
        size_t bl = slen[ba] + slen[bb];
        int32_t z = -1;
        for (size_t v = 0; v < *nv; v++)
            if (slen[v] == bl && memcmp(spell[v], buf, bl) == 0) z = (int32_t)v;
        if (z < 0) {
            z = (int32_t)*nv;
            spell[z] = malloc(bl);
            memcpy(spell[z], buf, bl);
            slen[z] = bl;
            (*nv)++;
        }
        out[nm][0] = ba;
        out[nm][1] = bb;
        nm++;
        for (size_t i = 0; i < w->n; i++) {
            size_t o = 0;
            for (size_t j = 0; j < w->len[i];) {
                if (j + 1 < w->len[i] && w->sym[i][j] == ba && w->sym[i][j + 1] == bb) {
                    w->sym[i][o++] = z;
                    j += 2;
                } else {
                    w->sym[i][o++] = w->sym[i][j++];
                }
            }
            w->len[i] = o;
        }
    }
    return nm;
}

static const char k_text[] =
    "low lower lowest newer wider newest widest the then there their they're "
    "aaaa aaa aa a banana bananas ananas 1234 12345 123 hello hello hello world! "
    "low low low lower lower newest newest newest widest wider ...!!! ??? \n\n  ";

TEST(test_train_matches_naive) {
    /* the corpus: k_text three times plus some random words */
    char text[4096];
    size_t tl = 0;
    for (int r = 0; r < 3; r++) {
        memcpy(text + tl, k_text, sizeof k_text - 1);
        tl += sizeof k_text - 1;
    }
    tok_rng_state = 777;
    for (int i = 0; i < 300; i++) text[tl++] = "abcdeab  xy"[tok_rng() % 11];
    xf_bpe_train_opts o = {260 + 200 + 5, 5, 2, 0};
    const char *texts[] = {text};
    size_t lens[] = {tl};
    xf_tokenizer *t;
    xf_bpe_train_stats st;
    CHECK_OK(xf_bpe_train_texts(&t, texts, lens, 1, &o, &st));
    CHECK(st.bytes == tl);

    words *w = calloc(1, sizeof *w);
    xf_tokenizer *pre;
    CHECK_OK(tok_byte_new(&pre));
    CHECK_OK(tok_bl_compile(pre, NULL));
    CHECK_OK(tok_pretokenize(pre, text, tl, add_word, w));
    xf_tokenizer_free(pre);
    static int32_t merges[1000][2];
    static char *spell[2000];
    static size_t slen[2000];
    size_t nv = 0;
    for (int b = 0; b < 256; b++) {
        char u[4];
        slen[nv] = tok_utf8_put(u, tok_b2u((unsigned char)b));
        spell[nv] = malloc(4);
        memcpy(spell[nv], u, slen[nv]);
        nv++;
    }
    const char *sp[] = {"<|endoftext|>", "<pad>", "<unk>", "<mask>"};
    for (int i = 0; i < 4; i++) {
        slen[nv] = strlen(sp[i]);
        spell[nv] = malloc(slen[nv]);
        memcpy(spell[nv], sp[i], slen[nv]);
        nv++;
    }
    size_t nm = naive_train(w, 200, merges, spell, slen, &nv);
    CHECK_MSG(nm == st.merges, "naive %zu merges, incremental %zu", nm, st.merges);
    CHECK(nm == t->n_merges);
    for (size_t r = 0; r < nm; r++)
        CHECK_MSG(t->merge[r][0] == merges[r][0] && t->merge[r][1] == merges[r][1],
                  "merge %zu: got (%d,%d) want (%d,%d)", r, t->merge[r][0], t->merge[r][1], merges[r][0],
                  merges[r][1]);
    /* vocabulary layout: specials, merges, sentinels at the end */
    size_t V = xf_tokenizer_vocab_size(t);
    CHECK(V == nv + 5);
    CHECK(xf_tokenizer_special(t, XF_TOK_BOS) == 256 && xf_tokenizer_special(t, XF_TOK_PAD) == 257);
    CHECK(xf_tokenizer_special(t, XF_TOK_UNK) == 258 && xf_tokenizer_special(t, XF_TOK_MASK) == 259);
    CHECK(xf_tokenizer_sentinel(t, 0) == (int32_t)V - 1 && xf_tokenizer_sentinel(t, 4) == (int32_t)V - 5);
    CHECK(xf_tokenizer_sentinel_count(t) == 5);
    for (size_t i = 0; i < nv; i++) free(spell[i]);
    for (size_t i = 0; i < w->n; i++) {
        free(w->sym[i]);
        free(w->key[i]);
    }
    free(w);

    /* encoding the training text compresses it and round-trips */
    int32_t *ids;
    size_t n;
    CHECK_OK(xf_tokenizer_encode(t, text, tl, &ids, &n));
    CHECK_MSG(n < tl / 2, "%zu ids for %zu bytes", n, tl);
    char *back;
    size_t bl;
    CHECK_OK(xf_tokenizer_decode(t, ids, n, &back, &bl));
    CHECK(bl == tl && memcmp(back, text, tl) == 0);
    free(back);
    free(ids);
    /* random bytes round-trip too */
    char rb[2000];
    for (size_t i = 0; i < sizeof rb; i++) rb[i] = (char)tok_rng();
    CHECK_OK(xf_tokenizer_encode(t, rb, sizeof rb, &ids, &n));
    CHECK_OK(xf_tokenizer_decode(t, ids, n, &back, &bl));
    CHECK(bl == sizeof rb && memcmp(back, rb, bl) == 0);
    free(back);
    free(ids);

    /* deterministic, and save/load keeps the hash */
    xf_tokenizer *t2;
    CHECK_OK(xf_bpe_train_texts(&t2, texts, lens, 1, &o, NULL));
    CHECK(xf_tokenizer_hash(t2) == xf_tokenizer_hash(t));
    xf_tokenizer_free(t2);
    const char *dir = tok_path("ckpt_bpe");
    mkdir(dir, 0777);
    CHECK_OK(xf_tokenizer_save(t, dir));
    CHECK_OK(xf_tokenizer_load(&t2, dir));
    CHECK(xf_tokenizer_hash(t2) == xf_tokenizer_hash(t));
    xf_tokenizer_free(t2);
    xf_tokenizer_free(t);
}

TEST(test_train_edge_cases) {
    const char *texts[] = {"abc abc abc"};
    size_t lens[] = {11};
    xf_tokenizer *t;
    xf_bpe_train_opts small = {100, 0, 2, 0};
    CHECK(xf_bpe_train_texts(&t, texts, lens, 1, &small, NULL) == XF_ERR_ARG);
    /* vocab 360 with 100 sentinels = no merges = the byte tokenizer */
    xf_bpe_train_opts bytes = {360, 100, 2, 0};
    CHECK_OK(xf_bpe_train_texts(&t, texts, lens, 1, &bytes, NULL));
    xf_tokenizer *b;
    CHECK_OK(xf_tokenizer_load(&b, "byte"));
    CHECK(xf_tokenizer_hash(t) == xf_tokenizer_hash(b));
    CHECK(strcmp(xf_tokenizer_name(t), "byte") == 0);
    xf_tokenizer_free(b);
    xf_tokenizer_free(t);
    /* not enough pairs: fewer merges than asked, a smaller vocabulary */
    xf_bpe_train_opts big = {5000, 10, 2, 0};
    xf_bpe_train_stats st;
    CHECK_OK(xf_bpe_train_texts(&t, texts, lens, 1, &big, &st));
    CHECK(st.merges == 3); /* ab, abc (count 3), then Ġ+abc (count 2 = min_frequency) */
    CHECK(xf_tokenizer_vocab_size(t) < 5000);
    xf_tokenizer_free(t);
    /* empty input */
    CHECK_OK(xf_bpe_train_texts(&t, NULL, NULL, 0, &big, &st));
    CHECK(st.merges == 0);
    xf_tokenizer_free(t);
    /* a missing file */
    const char *files[] = {"/nonexistent/x.txt"};
    CHECK(xf_bpe_train(&t, files, 1, &big, NULL) == XF_ERR_IO);
}

TEST(test_train_shakespeare_speed) {
    const char *path = "../shared/data/tinyshakespeare.txt";
    if (access(path, R_OK) != 0) SKIP("%s not found", path);
    const char *files[] = {path};
    xf_bpe_train_opts o = {8192, 100, 2, 0};
    xf_bpe_train_stats st;
    xf_tokenizer *t;
    CHECK_OK(xf_bpe_train(&t, files, 1, &o, &st));
    printf("# tinyshakespeare vocab 8192: %zu merges, %zu words, %.3f s, %.1f MB/s\n", st.merges,
           st.words, st.seconds, (double)st.bytes / 1e6 / st.seconds);
    CHECK(st.merges == 8192 - 260 - 100);
    CHECK_MSG(st.seconds < 20, "training took %.1f s", st.seconds);
    xf_tokenizer_free(t);
}

int main(void) {
    RUN(test_pretokenize_gpt2);
    RUN(test_train_matches_naive);
    RUN(test_train_edge_cases);
    RUN(test_train_shakespeare_speed);
    tok_tmpdir_remove();
    return test_summary();
}
