/* Mutation fuzzing of tokenizer loading (fixed seed, so runs are repeatable):
 * valid tokenizer.json / .model / tokenizer.bin files get random byte flips,
 * insertions, deletions, truncations and chunk copies. Loading must return a
 * status (never crash; run under SAN=1 for ASan/UBSan); whatever loads must then
 * encode, decode and stream pieces without crashing. */
#include "test.h"
#include "test_tok_util.h"
#include "xfmr/tokenizer.h"

static size_t rnd(size_t n) { return n ? (size_t)(tok_rng() % n) : 0; }

static void mutate(tbuf *b) {
    int k = 1 + (int)rnd(4);
    for (int i = 0; i < k; i++) {
        switch (rnd(6)) {
        case 0: /* flip a byte */
            if (b->n) b->p[rnd(b->n)] ^= (unsigned char)(1 + rnd(255));
            break;
        case 1: /* set a byte to an interesting value */
            if (b->n) {
                static const unsigned char v[] = {0, 0xFF, 0x7F, 0x80, '"', '\\', '[', '{', ' ', 0x0A};
                b->p[rnd(b->n)] = v[rnd(sizeof v)];
            }
            break;
        case 2: /* truncate */
            b->n = rnd(b->n + 1);
            break;
        case 3: { /* delete a run */
            if (!b->n) break;
            size_t at = rnd(b->n), len = 1 + rnd(16);
            if (len > b->n - at) len = b->n - at;
            memmove(b->p + at, b->p + at + len, b->n - at - len);
            b->n -= len;
            break;
        }
        case 4: { /* insert random bytes */
            size_t at = rnd(b->n + 1), len = 1 + rnd(8);
            unsigned char ins[8];
            for (size_t j = 0; j < len; j++) ins[j] = (unsigned char)tok_rng();
            tb_put(b, ins, len); /* grow */
            memmove(b->p + at + len, b->p + at, b->n - len - at);
            memcpy(b->p + at, ins, len);
            break;
        }
        default: { /* copy a chunk over another place */
            if (b->n < 2) break;
            size_t from = rnd(b->n), to = rnd(b->n), len = 1 + rnd(32);
            if (len > b->n - from) len = b->n - from;
            if (len > b->n - to) len = b->n - to;
            memmove(b->p + to, b->p + from, len);
        }
        }
    }
}

/* JSON-preserving mutation: change digits to digits and letters to letters, so
 * the file still parses and the checks after parsing (ids, merges) get hit. */
static void mutate_soft(tbuf *b) {
    int k = 1 + (int)rnd(3);
    for (int i = 0; i < k && b->n; i++) {
        for (int tries = 0; tries < 64; tries++) {
            size_t at = rnd(b->n);
            unsigned char c = b->p[at];
            if (c >= '0' && c <= '9') {
                b->p[at] = (unsigned char)('0' + rnd(10));
                break;
            }
            if (c >= 'a' && c <= 'z') {
                b->p[at] = (unsigned char)('a' + rnd(26));
                break;
            }
        }
    }
}

static void exercise(xf_tokenizer *t) {
    char text[300];
    const char *fixed = "Hello world, it's 2024! caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC   \n\t";
    size_t fl = strlen(fixed);
    memcpy(text, fixed, fl);
    for (size_t i = fl; i < sizeof text; i++) text[i] = (char)tok_rng();
    int32_t *ids;
    size_t n;
    if (xf_tokenizer_encode(t, text, sizeof text, &ids, &n) != XF_OK) return;
    size_t V = xf_tokenizer_vocab_size(t);
    for (size_t i = 0; i < n; i++) CHECK_MSG(ids[i] >= 0 && (size_t)ids[i] < V, "encode gave id %d", ids[i]);
    char *out;
    size_t len;
    if (xf_tokenizer_decode(t, ids, n, &out, &len) == XF_OK) free(out);
    char buf[XF_TOKENIZER_PIECE_MAX];
    for (size_t i = 0; i < n && i < 50; i++)
        (void)xf_tokenizer_piece(t, i ? ids[i - 1] : -1, ids[i], buf, sizeof buf, &len);
    free(ids);
    (void)xf_tokenizer_hash(t);
    (void)xf_tokenizer_name(t);
}

static int fuzz_file(const tbuf *orig, const char *name, int iters, int soft) {
    int loaded = 0;
    const char *p = tok_path(name);
    for (int it = 0; it < iters; it++) {
        tbuf b = {0};
        tb_put(&b, orig->p, orig->n);
        if (soft && (it & 1))
            mutate_soft(&b);
        else
            mutate(&b);
        if (tok_write(p, b.p, b.n)) FAILF("cannot write %s", p);
        free(b.p);
        xf_tokenizer *t = NULL;
        xf_status s = xf_tokenizer_load(&t, p);
        if (s == XF_OK) {
            loaded++;
            exercise(t);
            xf_tokenizer_free(t);
        } else {
            CHECK(t == NULL);
            CHECK_MSG(strchr(xf_last_error(), '\n') == NULL, "multi-line error");
        }
    }
    return loaded;
}

TEST(test_fuzz_json) {
    tok_rng_state = 12345;
    tbuf b = {0};
    tok_tiny_json(&b);
    int ok = fuzz_file(&b, "fuzz.json", 3000, 1);
    printf("# tokenizer.json: %d of 3000 mutants loaded\n", ok);
    free(b.p);
}

TEST(test_fuzz_model) {
    tok_rng_state = 23456;
    tbuf b = {0};
    tok_tiny_model(&b, 1);
    int ok = fuzz_file(&b, "fuzz.model", 3000, 0);
    printf("# .model: %d of 3000 mutants loaded\n", ok);
    free(b.p);
}

TEST(test_fuzz_bin) {
    tok_rng_state = 34567;
    tbuf b = {0};
    tok_tiny_bin(&b);
    int ok = fuzz_file(&b, "fuzz.bin", 3000, 0);
    printf("# tokenizer.bin: %d of 3000 mutants loaded\n", ok);
    free(b.p);
}

TEST(test_fuzz_llama_model) {
    const char *path = "../shared/data/llama2-tokenizer.model";
    tbuf b = {0};
    if (tok_read(path, &b) != 0) SKIP("%s not found", path);
    tok_rng_state = 45678;
    int ok = fuzz_file(&b, "fuzz_llama.model", 40, 0);
    printf("# llama2 .model: %d of 40 mutants loaded\n", ok);
    free(b.p);
}

int main(void) {
    RUN(test_fuzz_json);
    RUN(test_fuzz_model);
    RUN(test_fuzz_bin);
    RUN(test_fuzz_llama_model);
    tok_tmpdir_remove();
    return test_summary();
}
