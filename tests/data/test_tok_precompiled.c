/* The Precompiled normalizer (src/data/tok_precompiled.c, charsmap search in
 * tok_spmnorm.c): a double-array trie built here by a small builder (each
 * node's children in a 256-unit block of their own), base64-encoded as a
 * tokenizer.json carries it. Checks Hugging Face's rules worked out by hand
 * (shortest rule per grapheme cluster under 6 bytes, else per character;
 * deletions), and hostile blobs: not base64, empty, trie sizes that do not
 * fit, offsets and string offsets out of range, replacements that are not
 * UTF-8, and random mutations applied to text (no crash, under SAN=1 no UB). */
#include "test.h"
#include "data/tok_pipe.h"

#define MAXN 32

typedef struct {
    uint32_t unit[MAXN * 256 + 256];
    int n_nodes;
    char norm[256];
    size_t norm_len;
} builder;

/* node k's children live in block k + 1: base(k) = 256 * (k + 1) */
static uint32_t base_of(int k) { return 256u * (uint32_t)(k + 1); }

static void set_offset(builder *b, uint32_t at, uint32_t base, int keep) {
    uint32_t off = at ^ base;
    b->unit[at] = (off << 10) | (keep ? (b->unit[at] & 0x1FFu) : 0);
}

/* add key -> replacement (rep may be empty: a deletion) */
static void add_rule(builder *b, const char *key, const char *rep) {
    uint32_t at = 0; /* unit index of the current node */
    int node = 0;    /* its block number */
    for (size_t i = 0; key[i]; i++) {
        unsigned char c = (unsigned char)key[i];
        uint32_t child = base_of(node) ^ c;
        if ((b->unit[child] & 0xFF) != c || !(b->unit[child] >> 10)) {
            int k = ++b->n_nodes;
            b->unit[child] = c;
            set_offset(b, child, base_of(k), 1);
            b->unit[child] |= c;
        }
        at = child;
        node = (int)(((b->unit[at] >> 10) ^ at) / 256u) - 1;
    }
    b->unit[at] |= 1u << 8; /* has a leaf: the value sits at base(node) */
    b->unit[base_of(node)] = (1u << 31) | (uint32_t)b->norm_len;
    size_t l = strlen(rep);
    memcpy(b->norm + b->norm_len, rep, l + 1);
    b->norm_len += l + 1;
}

static void builder_init(builder *b) {
    memset(b, 0, sizeof *b);
    set_offset(b, 0, base_of(0), 0);
}

/* the blob: u32 trie size, units (n_nodes + 1 blocks + the root's), strings */
static size_t blob_of(const builder *b, unsigned char *out) {
    uint32_t size = (uint32_t)(256u * (uint32_t)(b->n_nodes + 2) * 4u);
    memcpy(out, &size, 4);
    memcpy(out + 4, b->unit, size);
    memcpy(out + 4 + size, b->norm, b->norm_len);
    return 4 + size + b->norm_len;
}

static char *b64(const unsigned char *p, size_t n) {
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *o = malloc(n / 3 * 4 + 8), *q = o;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        *q++ = a[v >> 18];
        *q++ = a[(v >> 12) & 63];
        *q++ = i + 1 < n ? a[(v >> 6) & 63] : '=';
        *q++ = i + 2 < n ? a[v & 63] : '=';
    }
    *q = 0;
    return o;
}

static builder g_b;
static unsigned char g_blob[sizeof g_b.unit + 512];

static tok_charsmap *make(const char *b64s) {
    tok_charsmap *cm = NULL;
    xf_clear_error();
    if (tok_precompiled_init(&cm, b64s, strlen(b64s), "t.json") != XF_OK) return NULL;
    return cm;
}

static void expect_norm(const tok_charsmap *cm, const char *in, const char *want) {
    tok_buf o = {0};
    CHECK(tok_precompiled_apply(cm, in, strlen(in), &o) == XF_OK);
    CHECK_MSG(o.n == strlen(want) && memcmp(o.s, want, o.n) == 0, "\"%s\" -> \"%.*s\", want \"%s\"", in, (int)o.n,
              o.s ? o.s : "", want);
    tok_buf_free(&o);
}

static size_t rules_blob(void) {
    builder_init(&g_b);
    add_rule(&g_b, "A", "a");
    add_rule(&g_b, "e\xCC\x81", "\xC3\xA9");     /* e + U+0301 -> é */
    add_rule(&g_b, "\xEF\xAC\x81", "fi");        /* U+FB01 ligature */
    add_rule(&g_b, "x", "");                     /* deleted */
    add_rule(&g_b, "\r", " ");
    add_rule(&g_b, "\r\n", "<CRLF>");            /* longer rule: never the shortest */
    return blob_of(&g_b, g_blob);
}

TEST(test_precompiled_rules) {
    size_t n = rules_blob();
    char *s = b64(g_blob, n);
    tok_charsmap *cm = make(s);
    CHECK_MSG(cm != NULL, "init: %s", xf_last_error());
    if (cm) {
        expect_norm(cm, "", "");
        expect_norm(cm, "A", "a");
        expect_norm(cm, "bAd", "bad");
        expect_norm(cm, "cafe\xCC\x81", "caf\xC3\xA9");
        expect_norm(cm, "\xEF\xAC\x81ne", "fine");
        expect_norm(cm, "xyx", "y");
        /* one cluster A + U+0301 (3 bytes): the rule for "A" stands for all of it */
        expect_norm(cm, "A\xCC\x81", "a");
        /* e + two acutes (5 bytes, one cluster): shortest rule "e\u0301" for all */
        expect_norm(cm, "e\xCC\x81\xCC\x81", "\xC3\xA9");
        /* e + three acutes (7 bytes): character by character, no rule applies */
        expect_norm(cm, "e\xCC\x81\xCC\x81\xCC\x81", "e\xCC\x81\xCC\x81\xCC\x81");
        /* CR LF is one cluster: the shortest rule ("\r") replaces both bytes */
        expect_norm(cm, "a\r\nb", "a b");
        expect_norm(cm, "a\rb", "a b");
        /* emoji ZWJ sequence (one cluster over 6 bytes) is left as it is */
        expect_norm(cm, "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9", "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9");
    }
    tok_precompiled_free(cm);
    free(s);
}

static void expect_refused(const char *what, const char *b64s) {
    tok_charsmap *cm = make(b64s);
    CHECK_MSG(cm == NULL, "%s: accepted", what);
    tok_precompiled_free(cm);
    const char *m = xf_last_error();
    CHECK_MSG(strlen(m) > 0 && !strchr(m, '\n') && strstr(m, "Precompiled") && strstr(m, "t.json"),
              "%s: message \"%s\"", what, m);
}

TEST(test_precompiled_bad) {
    expect_refused("empty", "");
    expect_refused("not base64", "@@@@");
    expect_refused("length", "QUJD=");
    expect_refused("padding inside", "QQ==QUFB");
    expect_refused("truncated", "AAAA");
    unsigned char blob[64];
    uint32_t size = 1000; /* trie larger than the blob */
    memcpy(blob, &size, 4);
    memset(blob + 4, 0, 12);
    char *s = b64(blob, 16);
    expect_refused("trie too big", s);
    free(s);
    size = 6; /* not a multiple of 4 */
    memcpy(blob, &size, 4);
    s = b64(blob, 16);
    expect_refused("trie size", s);
    free(s);
    /* a replacement pool that is not UTF-8 */
    builder_init(&g_b);
    add_rule(&g_b, "A", "\xFF");
    s = b64(g_blob, blob_of(&g_b, g_blob));
    expect_refused("pool not UTF-8", s);
    free(s);
}

/* rules whose offsets lead outside the trie or the pool are not crashes */
TEST(test_precompiled_hostile_offsets) {
    size_t n = rules_blob();
    /* value of the "A" leaf past the pool: an empty replacement */
    uint32_t *u = (uint32_t *)(g_blob + 4);
    uint32_t a_child = base_of(0) ^ 'A';
    uint32_t a_base = a_child ^ (u[a_child] >> 10);
    u[a_base] = (1u << 31) | 100000u;
    char *s = b64(g_blob, n);
    tok_charsmap *cm = make(s);
    CHECK(cm != NULL);
    if (cm) expect_norm(cm, "AbA", "b");
    tok_precompiled_free(cm);
    free(s);
    /* a value inside a character ("é" second byte): the rule is ignored */
    n = rules_blob();
    uint32_t e_child = base_of(0) ^ 'e';
    uint32_t e1 = (e_child ^ (u[e_child] >> 10)) ^ 0xCC;
    uint32_t e2 = (e1 ^ (u[e1] >> 10)) ^ 0x81;
    uint32_t e_leaf = e2 ^ (u[e2] >> 10);
    u[e_leaf] = (1u << 31) | ((u[e_leaf] & 0x7FFFFFFFu) + 1);
    s = b64(g_blob, n);
    cm = make(s);
    CHECK(cm != NULL);
    if (cm) expect_norm(cm, "e\xCC\x81", "e\xCC\x81");
    tok_precompiled_free(cm);
    free(s);
    /* an offset pointing far past the units */
    n = rules_blob();
    u[a_child] = (0x3FFFFFu << 10) | (1u << 8) | 'A';
    s = b64(g_blob, n);
    cm = make(s);
    CHECK(cm != NULL);
    if (cm) expect_norm(cm, "AA", "AA");
    tok_precompiled_free(cm);
    free(s);
}

TEST(test_precompiled_mutations) {
    static const char *const texts[] = {"A\xCC\x81 caf\xC3\xA9 \xEF\xAC\x81 x\r\n", "e\xCC\x81\xCC\x81\xCC\x81 Ab",
                                        "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9 AAAA"};
    uint64_t r = 88172645463325252ULL;
    int loaded = 0;
    for (int it = 0; it < 400; it++) {
        size_t n = rules_blob();
        for (int k = 0; k < 1 + it % 8; k++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            g_blob[4 + r % (n - 4)] ^= (unsigned char)(1u << (r >> 40) % 8);
        }
        char *s = b64(g_blob, n);
        tok_charsmap *cm = make(s);
        if (cm) {
            loaded++;
            for (size_t t = 0; t < sizeof texts / sizeof *texts; t++) {
                tok_buf o = {0};
                CHECK(tok_precompiled_apply(cm, texts[t], strlen(texts[t]), &o) == XF_OK);
                CHECK(tok_utf8_valid(o.s ? o.s : "", o.n));
                tok_buf_free(&o);
            }
        }
        tok_precompiled_free(cm);
        free(s);
    }
    CHECK(loaded > 0);
}

int main(void) {
    RUN(test_precompiled_rules);
    RUN(test_precompiled_bad);
    RUN(test_precompiled_hostile_offsets);
    RUN(test_precompiled_mutations);
    return test_summary();
}
