/* Helpers for the tokenizer tests: temporary files, and small synthetic
 * tokenizer files built in memory (a byte-level tokenizer.json, a SentencePiece
 * BPE .model protobuf, a llama2.c tokenizer.bin), so tests need no shared data. */
#ifndef XF_TEST_TOK_UTIL_H
#define XF_TEST_TOK_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    unsigned char *p;
    size_t n, cap;
} tbuf;

static inline void tb_put(tbuf *b, const void *s, size_t n) {
    if (b->cap - b->n < n) {
        size_t c = b->cap ? b->cap : 1024;
        while (c - b->n < n) c *= 2;
        b->p = realloc(b->p, c);
        if (!b->p) abort();
        b->cap = c;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}
static inline void tb_str(tbuf *b, const char *s) { tb_put(b, s, strlen(s)); }
static inline void tb_varint(tbuf *b, uint64_t v) {
    do {
        unsigned char c = (unsigned char)(v & 0x7F);
        v >>= 7;
        if (v) c |= 0x80;
        tb_put(b, &c, 1);
    } while (v);
}
static inline void tb_key(tbuf *b, unsigned field, unsigned wire) { tb_varint(b, (uint64_t)field << 3 | wire); }
static inline void tb_bytes(tbuf *b, unsigned field, const void *s, size_t n) {
    tb_key(b, field, 2);
    tb_varint(b, n);
    tb_put(b, s, n);
}

static char t_dir[256];
static inline const char *tok_tmpdir(void) {
    if (!t_dir[0]) {
        snprintf(t_dir, sizeof t_dir, "/tmp/xfmr_tok_test_%ld", (long)getpid());
        mkdir(t_dir, 0777);
    }
    return t_dir;
}
static inline void tok_tmpdir_remove(void) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tok_tmpdir());
    if (system(cmd) != 0) printf("# could not remove %s\n", tok_tmpdir());
}
/* path in the temp dir (static buffer rotation: 4 live at once) */
static inline const char *tok_path(const char *name) {
    static char bufs[4][512];
    static int k;
    char *b = bufs[k++ & 3];
    snprintf(b, 512, "%s/%s", tok_tmpdir(), name);
    return b;
}
static inline int tok_write(const char *path, const void *data, size_t n) {
    /* unlink first: truncating a just-written file makes ext4 flush it (slow) */
    unlink(path);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = n ? fwrite(data, 1, n, f) : 0;
    fclose(f);
    return w == n ? 0 : -1;
}
static inline int tok_read(const char *path, tbuf *b) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    char buf[65536];
    size_t r;
    while ((r = fread(buf, 1, sizeof buf, f)) > 0) tb_put(b, buf, r);
    fclose(f);
    return 0;
}

/* GPT-2 byte -> code point */
static inline unsigned tok_b2u_ref(int b) {
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE) return (unsigned)b;
    if (b <= 0x20) return 0x100u + (unsigned)b;
    if (b <= 0xA0) return 0x100u + 33 + (unsigned)(b - 0x7F);
    return 0x143;
}

/* JSON-escaped GPT-2 spelling of byte b into u (>= 8 bytes) */
static inline void tok_byte_json(int b, char *u) {
    unsigned cp = tok_b2u_ref(b);
    if (cp < 0x80) {
        if (cp == '"' || cp == '\\')
            snprintf(u, 8, "\\%c", (char)cp);
        else
            snprintf(u, 8, "%c", (char)cp);
    } else {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        u[2] = 0;
    }
}

/* The 256 byte entries of a byte-level vocab, "<spelling of b>":b, each with a
 * trailing comma (ids = byte values), written at s + *n (s holds cap bytes);
 * *n grows by their length (about 2.3 kB). */
static inline void tok_byte_vocab_json(char *s, size_t cap, size_t *n) {
    for (int b = 0; b < 256; b++) {
        char u[8];
        tok_byte_json(b, u);
        *n += (size_t)snprintf(s + *n, cap - *n, "\"%s\":%d,", u, b);
    }
}

/* A byte-level BPE with the GPT-2 pre-tokenizer whose merges make the cut point
 * matter: "\n\n" merges only when the regex keeps both newlines together, which
 * it does at the end of a chunk but not before a word. */
static inline char *tok_bpe_newline_json(void) {
    size_t cap = 1 << 16, n = 0;
    char *s = malloc(cap);
    n += (size_t)snprintf(s + n, cap - n,
                          "{\"version\":\"1.0\",\"added_tokens\":[],\"pre_tokenizer\":{\"type\":"
                          "\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true},"
                          "\"model\":{\"type\":\"BPE\",\"vocab\":{");
    tok_byte_vocab_json(s, cap, &n); /* bytes in GPT-2 spelling, ids = byte values */
    /* U+010A = newline, U+0120 = space */
    n += (size_t)snprintf(s + n, cap - n,
                          "\"\xC4\x8A\xC4\x8A\":256,\"\xC4\xA0t\":257,\"he\":258,\"\xC4\xA0the\":259,"
                          "\".\xC4\x8A\":260},\"merges\":[[\"\xC4\x8A\",\"\xC4\x8A\"],"
                          "[\"\xC4\xA0\",\"t\"],[\"h\",\"e\"],[\"\xC4\xA0t\",\"he\"],"
                          "[\".\",\"\xC4\x8A\"]]}}");
    return s;
}

/* Byte-level tokenizer.json: 256 bytes, "he" "ll" "hell" "hello" "Ġh", and
 * <|endoftext|> as an added special at id 261. */
static inline void tok_tiny_json(tbuf *b) {
    tb_str(b, "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":261,\"content\":\"<|endoftext|>\","
              "\"special\":true}],\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,"
              "\"use_regex\":true},\"decoder\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"BPE\",\"vocab\":{");
    char v[4096];
    size_t vn = 0;
    tok_byte_vocab_json(v, sizeof v, &vn);
    tb_put(b, v, vn);
    tb_str(b, "\"he\":256,\"ll\":257,\"hell\":258,\"hello\":259,\"\xC4\xA0h\":260},\"merges\":"
              "[[\"h\",\"e\"],[\"l\",\"l\"],\"he ll\",[\"hell\",\"o\"],[\"\xC4\xA0\",\"h\"]]}}");
}

/* SentencePiece BPE .model: <unk> <s> </s>, 256 byte pieces, then normal pieces
 * (▁ = U+2581) with decreasing scores. */
static const char *const tok_spm_normals[] = {
    "\xE2\x96\x81t", "he", "\xE2\x96\x81the", "\xE2\x96\x81" "a", "in", "\xE2\x96\x81\xE2\x96\x81",
    "ll", "\xE2\x96\x81h", "\xE2\x96\x81he", "\xE2\x96\x81hell", "\xE2\x96\x81hello", "lo",
    "\xE2\x96\x81", "t", "h", "e", "a", "l", "o", "i", "n", "w", "r", "d", NULL};

static inline void tok_spm_piece(tbuf *m, const char *s, float score, int type) {
    tbuf p = {0};
    tb_bytes(&p, 1, s, strlen(s));
    tb_key(&p, 2, 5);
    tb_put(&p, &score, 4);
    if (type != 1) {
        tb_key(&p, 3, 0);
        tb_varint(&p, (uint64_t)type);
    }
    tb_bytes(m, 1, p.p, p.n);
    free(p.p);
}

static inline void tok_tiny_model(tbuf *m, int byte_fallback) {
    tok_spm_piece(m, "<unk>", 0, 2);
    tok_spm_piece(m, "<s>", 0, 3);
    tok_spm_piece(m, "</s>", 0, 3);
    if (byte_fallback)
        for (int i = 0; i < 256; i++) {
            char s[8];
            snprintf(s, sizeof s, "<0x%02X>", i);
            tok_spm_piece(m, s, 0, 6);
        }
    for (int i = 0; tok_spm_normals[i]; i++) tok_spm_piece(m, tok_spm_normals[i], -(float)i, 1);
    tbuf ts = {0};
    tb_key(&ts, 3, 0);
    tb_varint(&ts, 2); /* BPE */
    tb_key(&ts, 35, 0);
    tb_varint(&ts, (uint64_t)byte_fallback);
    tb_key(&ts, 43, 0);
    tb_varint(&ts, UINT64_MAX); /* pad_id = -1: a 10-byte varint */
    tb_bytes(m, 2, ts.p, ts.n);
    free(ts.p);
    tbuf ns = {0};
    tb_bytes(&ns, 1, "identity", 8);
    tb_key(&ns, 3, 0);
    tb_varint(&ns, 1);
    tb_key(&ns, 4, 0);
    tb_varint(&ns, 0);
    tb_bytes(m, 3, ns.p, ns.n);
    free(ns.p);
}

/* The same vocabulary as a llama2.c tokenizer.bin (spaces instead of ▁). */
static inline void tok_tiny_bin(tbuf *b) {
    uint32_t maxlen = 16;
    tb_put(b, &maxlen, 4);
    const char *fixed[] = {"<unk>", "\n<s>\n", "\n</s>\n"};
    float zero = 0;
    for (int i = 0; i < 3; i++) {
        int32_t l = (int32_t)strlen(fixed[i]);
        tb_put(b, &zero, 4);
        tb_put(b, &l, 4);
        tb_put(b, fixed[i], (size_t)l);
    }
    for (int i = 0; i < 256; i++) {
        char s[8];
        snprintf(s, sizeof s, "<0x%02X>", i);
        int32_t l = 6;
        tb_put(b, &zero, 4);
        tb_put(b, &l, 4);
        tb_put(b, s, 6);
    }
    for (int i = 0; tok_spm_normals[i]; i++) {
        char s[64];
        size_t o = 0;
        for (const char *p = tok_spm_normals[i]; *p;) {
            if ((unsigned char)p[0] == 0xE2 && (unsigned char)p[1] == 0x96 && (unsigned char)p[2] == 0x81) {
                s[o++] = ' ';
                p += 3;
            } else {
                s[o++] = *p++;
            }
        }
        float sc = -(float)i;
        int32_t l = (int32_t)o;
        tb_put(b, &sc, 4);
        tb_put(b, &l, 4);
        tb_put(b, s, o);
    }
}

static uint64_t tok_rng_state = 0x9E3779B97F4A7C15ULL;
static inline uint64_t tok_rng(void) {
    uint64_t x = tok_rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return tok_rng_state = x;
}

#endif
