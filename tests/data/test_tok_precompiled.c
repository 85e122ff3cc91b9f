/* The Precompiled normalizer (src/data/tok_precompiled.c, charsmap search in
 * tok_spmnorm.c): a double-array trie built here by a small builder (each
 * node's children in a 256-unit block of their own), base64-encoded as a
 * tokenizer.json carries it. Checks Hugging Face's rules worked out by hand
 * (shortest rule per grapheme cluster under 6 bytes, else per character;
 * deletions), and hostile blobs: not base64, empty, trie sizes that do not
 * fit, offsets and string offsets out of range, replacements that are not
 * UTF-8, and random mutations applied to text (no crash, under SAN=1 no UB).
 * The normalizer cuts clusters without ICU where it can: random texts of
 * characters of every Grapheme_Cluster_Break class are checked against the
 * plain rule applied to ICU's clusters of the whole text. Also the White_Space
 * shortcut the WhitespaceSplit pre-tokenizer uses, against the table. */
#include <unicode/ubrk.h>
#include <unicode/utext.h>

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

/* The rule written plainly: ICU's clusters of the whole text, each replaced by
 * its shortest rule when under 6 bytes, else character by character. */
static void ref_apply(const tok_charsmap *cm, const char *s, size_t n, tok_buf *out) {
    UErrorCode err = U_ZERO_ERROR;
    UText *ut = utext_openUTF8(NULL, s, (int64_t)n, &err);
    UBreakIterator *bi = ubrk_open(UBRK_CHARACTER, "", NULL, 0, &err);
    ubrk_setUText(bi, ut, &err);
    CHECK_MSG(U_SUCCESS(err), "ICU: %s", u_errorName(err));
    for (int32_t a = ubrk_first(bi), b = ubrk_next(bi); U_SUCCESS(err) && b != UBRK_DONE; a = b, b = ubrk_next(bi)) {
        const char *rep, *c = s + a;
        size_t rl, cl = (size_t)(b - a);
        if (cl < 6 && tok_charsmap_first(cm, c, cl, &rep, &rl) && tok_utf8_valid(rep, rl)) {
            tok_buf_put(out, rep, rl);
            continue;
        }
        for (size_t i = 0; i < cl;) {
            size_t l = tok_utf8_char_len((const unsigned char *)c + i, cl - i);
            if (tok_charsmap_first(cm, c + i, l, &rep, &rl) && tok_utf8_valid(rep, rl)) tok_buf_put(out, rep, rl);
            else tok_buf_put(out, c + i, l);
            i += l;
        }
    }
    ubrk_close(bi);
    utext_close(ut);
}

TEST(test_precompiled_clusters) {
    /* one or more characters of each Grapheme_Cluster_Break class: Other
     * (ASCII, CJK, Hebrew, an emoji), CR, LF, Control (U+0001, U+0085,
     * U+200B), Extend (U+0301, U+05B8, virama U+094D, VS16, a skin tone,
     * ZWNJ), ZWJ, SpacingMark (U+093F, U+0E33), Prepend (U+0600), Regional
     * indicators, Hangul L, V, T, LV, LVT */
    static const char *const pool[] = {
        "a", "A", " ", "e", "x", "\r", "\n", "\t", "\x01", "\xC2\x85", "\xE2\x80\x8B", "\xE6\x97\xA5", "\xD7\xA9",
        "\xC3\xBC", "\xEF\xAC\x81", "\xF0\x9F\x91\xA8", "\xCC\x81", "\xD6\xB8", "\xE0\xA5\x8D", "\xEF\xB8\x8F",
        "\xF0\x9F\x8F\xBD", "\xE2\x80\x8C", "\xE2\x80\x8D", "\xE0\xA4\xBF", "\xE0\xB8\xB3", "\xD8\x80",
        "\xF0\x9F\x87\xAB", "\xF0\x9F\x87\xB7", "\xE1\x84\x80", "\xE1\x85\xA1", "\xE1\x86\xA8", "\xEA\xB0\x80",
        "\xED\x95\x9C", "\xE0\xA4\x95"};
    size_t np = sizeof pool / sizeof *pool;
    builder_init(&g_b);
    add_rule(&g_b, "A", "a");
    add_rule(&g_b, "e\xCC\x81", "\xC3\xA9");
    add_rule(&g_b, "x", "");
    add_rule(&g_b, "\r", " ");
    add_rule(&g_b, "\xC3\xBC", "u");          /* ü */
    add_rule(&g_b, "\xED\x95\x9C", "H");      /* 한 */
    add_rule(&g_b, "\xE2\x80\x8D", "");       /* ZWJ deleted */
    add_rule(&g_b, "\xCC\x81", "'");          /* a lone acute */
    add_rule(&g_b, "\xEF\xAC\x81", "fi");
    char *b = b64(g_blob, blob_of(&g_b, g_blob));
    tok_charsmap *cm = make(b);
    CHECK_MSG(cm != NULL, "init: %s", xf_last_error());
    uint64_t r = 0x9E3779B97F4A7C15ULL;
    int bad = 0;
    char text[256];
    for (int it = 0; cm && it < 4000 && bad < 3; it++) {
        size_t n = 0;
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        int len = 1 + (int)(r % 40);
        for (int k = 0; k < len; k++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            /* runs of plain characters (the first 16) as well as mixtures */
            const char *c = pool[(it & 1) && r % 4 ? (r >> 8) % 16 : (r >> 8) % np];
            size_t l = strlen(c);
            memcpy(text + n, c, l);
            n += l;
        }
        tok_buf got = {0}, want = {0};
        CHECK(tok_precompiled_apply(cm, text, n, &got) == XF_OK);
        ref_apply(cm, text, n, &want);
        if (got.n != want.n || memcmp(got.s ? got.s : "", want.s ? want.s : "", got.n) != 0) {
            bad++;
            CHECK_MSG(0, "text of %zu bytes (case %d): %zu bytes out, the plain rule gives %zu", n, it, got.n, want.n);
        }
        tok_buf_free(&got);
        tok_buf_free(&want);
    }
    tok_precompiled_free(cm);
    free(b);
}

/* tok_uis_ws (a shortcut) against the WS bit of the category table */
TEST(test_ws_shortcut) {
    uint32_t bad = 0, first = 0;
    for (uint32_t cp = 0; cp < 0x110000; cp++)
        if (tok_uis_ws(cp) != ((tok_ucat(cp) & UC_WS) != 0) && !bad++) first = cp;
    CHECK_MSG(bad == 0, "%u code points differ, the first U+%04X", bad, first);
    CHECK(!tok_uis_ws(TOK_BAD_BYTE | 0x20));
    CHECK(tok_uis_ws(0x3000) && tok_uis_ws(' ') && !tok_uis_ws('a'));
}

int main(void) {
    RUN(test_precompiled_rules);
    RUN(test_precompiled_bad);
    RUN(test_precompiled_hostile_offsets);
    RUN(test_precompiled_mutations);
    RUN(test_precompiled_clusters);
    RUN(test_ws_shortcut);
    return test_summary();
}
