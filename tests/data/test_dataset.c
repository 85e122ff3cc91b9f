/* Token files and the dataset reader: round trips (2- and 4-byte ids), the header
 * layout, splits, training and validation windows, text read through the byte
 * tokenizer, the parallel encoder, and hostile files (each error must name the file). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/rng.h"
#include "test.h"
#include "test_tok_util.h"
#include "xfmr/data.h"
#include "xfmr/tokenizer.h"

static void tmp_path(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", tok_tmpdir(), name);
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) FAILF("cannot write %s", path);
    if (n && fwrite(data, 1, n, f) != n) FAILF("short write to %s", path);
    fclose(f);
}

/* Whole file into a malloc'd buffer. */
static unsigned char *read_bytes(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) FAILF("cannot read %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)len + 1);
    if (fread(buf, 1, (size_t)len, f) != (size_t)len) FAILF("short read of %s", path);
    fclose(f);
    *n = (size_t)len;
    return buf;
}

static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const unsigned char *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }
static void put32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* Token file of n ids, id i = i % vocab. */
static void make_tokens(const char *path, size_t n, size_t vocab, uint64_t hash) {
    int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    for (size_t i = 0; i < n; i++) ids[i] = (int32_t)(i % vocab);
    CHECK_OK(xf_tokens_write(path, ids, n, vocab, hash));
    free(ids);
}

/* Opening `path` must fail with a message that names the file. */
static void expect_open_error(const char *path, const xf_tokenizer *tok, const char *also) {
    xf_dataset *ds = (xf_dataset *)1;
    xf_status st = xf_dataset_open(&ds, path, tok);
    CHECK_MSG(st != XF_OK, "opening %s succeeded", path);
    CHECK(ds == NULL);
    CHECK_MSG(strstr(xf_last_error(), path) != NULL, "message does not name %s: %s", path,
              xf_last_error());
    if (also)
        CHECK_MSG(strstr(xf_last_error(), also) != NULL, "message lacks '%s': %s", also,
                  xf_last_error());
}

TEST(test_roundtrip_u16) {
    char path[512];
    tmp_path(path, sizeof path, "u16.bin");
    size_t n = 5000, vocab = 1000;
    int32_t *ids = malloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++) ids[i] = (int32_t)((i * 7919) % vocab);
    ids[17] = 999;
    CHECK_OK(xf_tokens_write(path, ids, n, vocab, 0x1122334455667788ull));
    xf_dataset *ds;
    CHECK_OK(xf_dataset_open(&ds, path, NULL));
    CHECK(xf_dataset_len(ds) == n);
    CHECK(xf_dataset_tokenizer_hash(ds) == 0x1122334455667788ull);
    CHECK(xf_dataset_vocab_size(ds) == vocab);
    CHECK(xf_dataset_max_id(ds) == 999);
    CHECK(xf_dataset_train_len(ds) == n && xf_dataset_val_len(ds) == 0);
    int32_t *back = malloc(n * sizeof *back);
    CHECK_OK(xf_dataset_copy(ds, 0, n, back));
    CHECK(memcmp(back, ids, n * sizeof *ids) == 0);
    CHECK(xf_dataset_copy(ds, n - 3, 4, back) != XF_OK);
    CHECK(xf_dataset_copy(ds, n + 1, 0, back) != XF_OK);
    CHECK_OK(xf_dataset_copy(ds, n, 0, back));
    xf_dataset_free(ds);
    /* layout: 64-byte header, 2 bytes per id */
    size_t size;
    unsigned char *raw = read_bytes(path, &size);
    CHECK(size == 64 + 2 * n);
    CHECK(memcmp(raw, "XFTOKEN1", 8) == 0);
    CHECK(le32(raw + 8) == 1 && le32(raw + 12) == 2);
    CHECK(le64(raw + 16) == n && le64(raw + 24) == 0x1122334455667788ull);
    CHECK(le32(raw + 32) == vocab);
    for (size_t i = 36; i < 64; i++) CHECK(raw[i] == 0);
    CHECK(raw[64 + 2 * 17] == (999 & 0xFF) && raw[64 + 2 * 17 + 1] == (999 >> 8));
    free(raw);
    free(back);
    free(ids);
}

TEST(test_roundtrip_u32) {
    char path[512];
    tmp_path(path, sizeof path, "u32.bin");
    size_t n = 3000, vocab = 100000;
    int32_t *ids = malloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++) ids[i] = (int32_t)((i * 104729) % vocab);
    ids[5] = 99999;
    CHECK_OK(xf_tokens_write(path, ids, n, vocab, 42));
    xf_dataset *ds;
    CHECK_OK(xf_dataset_open(&ds, path, NULL));
    CHECK(xf_dataset_len(ds) == n && xf_dataset_vocab_size(ds) == vocab);
    CHECK(xf_dataset_max_id(ds) == 99999);
    int32_t *back = malloc(n * sizeof *back);
    CHECK_OK(xf_dataset_copy(ds, 0, n, back));
    CHECK(memcmp(back, ids, n * sizeof *ids) == 0);
    xf_dataset_free(ds);
    size_t size;
    unsigned char *raw = read_bytes(path, &size);
    CHECK(size == 64 + 4 * n && le32(raw + 12) == 4);
    free(raw);
    /* the width boundary: 65536 ids still fit 2 bytes, 65537 need 4 */
    ids[0] = 65535;
    CHECK_OK(xf_tokens_write(path, ids, 1, 65536, 0));
    raw = read_bytes(path, &size);
    CHECK(size == 66 && le32(raw + 12) == 2);
    free(raw);
    CHECK_OK(xf_tokens_write(path, ids, 1, 65537, 0));
    raw = read_bytes(path, &size);
    CHECK(size == 68 && le32(raw + 12) == 4);
    free(raw);
    free(back);
    free(ids);
}

TEST(test_write_rejects_bad_ids) {
    char path[512];
    tmp_path(path, sizeof path, "bad_write.bin");
    unlink(path);
    int32_t ids[3] = {1, 2, 10};
    CHECK(xf_tokens_write(path, ids, 3, 10, 0) != XF_OK);
    CHECK(strstr(xf_last_error(), path) != NULL);
    ids[2] = -1;
    CHECK(xf_tokens_write(path, ids, 3, 10, 0) != XF_OK);
    CHECK(xf_tokens_write(path, ids, 2, 0, 0) != XF_OK);
    CHECK(access(path, F_OK) != 0); /* nothing written */
}

TEST(test_split_sizes) {
    char path[512];
    tmp_path(path, sizeof path, "split.bin");
    make_tokens(path, 1000, 50000, 0);
    xf_dataset *ds;
    CHECK_OK(xf_dataset_open(&ds, path, NULL));
    CHECK_OK(xf_dataset_split(ds, 0.1, 16));
    CHECK(xf_dataset_val_len(ds) == 100 && xf_dataset_train_len(ds) == 900);
    /* a tiny fraction still gets one full window */
    CHECK_OK(xf_dataset_split(ds, 0.001, 16));
    CHECK(xf_dataset_val_len(ds) == 17 && xf_dataset_train_len(ds) == 983);
    CHECK(xf_dataset_val_windows(ds, 16) == 1);
    CHECK_OK(xf_dataset_split(ds, 0.0, 16));
    CHECK(xf_dataset_val_len(ds) == 0 && xf_dataset_train_len(ds) == 1000);
    CHECK(xf_dataset_val_windows(ds, 16) == 0);
    CHECK_OK(xf_dataset_split(ds, 0.5, 499));
    CHECK(xf_dataset_train_len(ds) == 500 && xf_dataset_val_len(ds) == 500);
    /* too little data: messages name the file */
    CHECK(xf_dataset_split(ds, 0.5, 500) != XF_OK);
    CHECK(strstr(xf_last_error(), path) != NULL);
    CHECK(xf_dataset_split(ds, 0.0, 1000) != XF_OK);
    CHECK(strstr(xf_last_error(), path) != NULL);
    CHECK(xf_dataset_split(ds, 0.99, 16) != XF_OK);
    CHECK(strstr(xf_last_error(), path) != NULL && strstr(xf_last_error(), "1000") != NULL);
    CHECK(xf_dataset_split(ds, 1.0, 16) != XF_OK);
    CHECK(xf_dataset_split(ds, -0.1, 16) != XF_OK);
    CHECK(xf_dataset_split(ds, 0.1, 0) != XF_OK);
    /* a failed split keeps the previous one */
    CHECK(xf_dataset_train_len(ds) == 500);
    xf_dataset_free(ds);
}

TEST(test_train_windows) {
    char path[512];
    tmp_path(path, sizeof path, "train.bin");
    size_t n = 2000, T = 32, B = 8;
    make_tokens(path, n, 65536, 0); /* id i == position i */
    xf_dataset *ds;
    CHECK_OK(xf_dataset_open(&ds, path, NULL));
    CHECK_OK(xf_dataset_split(ds, 0.25, T));
    size_t n_train = xf_dataset_train_len(ds);
    CHECK(n_train == 1500);
    int32_t in[8 * 32], tg[8 * 32];
    xf_rng rng;
    xf_rng_seed(&rng, 7);
    size_t lowest = SIZE_MAX, highest = 0;
    for (int rep = 0; rep < 500; rep++) {
        xf_dataset_train_batch(ds, &rng, B, T, in, tg);
        for (size_t b = 0; b < B; b++) {
            size_t start = (size_t)in[b * T];
            CHECK_MSG(start + T + 1 <= n_train, "window at %zu runs into validation", start);
            if (start < lowest) lowest = start;
            if (start > highest) highest = start;
            for (size_t t = 0; t < T; t++) {
                CHECK(in[b * T + t] == (int32_t)(start + t));
                CHECK(tg[b * T + t] == in[b * T + t] + 1);
            }
        }
    }
    CHECK(lowest < 50 && highest > n_train - T - 1 - 50); /* the whole range is used */
    /* the same seed gives the same batches, another seed others */
    int32_t in2[8 * 32], tg2[8 * 32];
    xf_rng r1, r2, r3;
    xf_rng_seed(&r1, 123);
    xf_rng_seed(&r2, 123);
    xf_rng_seed(&r3, 124);
    xf_dataset_train_batch(ds, &r1, B, T, in, tg);
    xf_dataset_train_batch(ds, &r2, B, T, in2, tg2);
    CHECK(memcmp(in, in2, sizeof in) == 0 && memcmp(tg, tg2, sizeof tg) == 0);
    CHECK(memcmp(&r1, &r2, sizeof r1) == 0);
    xf_dataset_train_batch(ds, &r3, B, T, in2, tg2);
    CHECK(memcmp(in, in2, sizeof in) != 0);
    /* exactly one draw per row: xf_rng_below(n_train - T) */
    xf_rng_seed(&r1, 99);
    xf_rng_seed(&r2, 99);
    xf_dataset_train_batch(ds, &r1, B, T, in, tg);
    for (size_t b = 0; b < B; b++)
        CHECK(in[b * T] == (int32_t)xf_rng_below(&r2, n_train - T));
    xf_dataset_free(ds);
}

TEST(test_train_window_edge) {
    /* n_train == T + 1: the only window is the whole training part */
    char path[512];
    tmp_path(path, sizeof path, "edge.bin");
    make_tokens(path, 10, 100, 0);
    xf_dataset *ds;
    CHECK_OK(xf_dataset_open(&ds, path, NULL));
    CHECK_OK(xf_dataset_split(ds, 0.0, 9));
    int32_t in[2 * 9], tg[2 * 9];
    xf_rng rng;
    xf_rng_seed(&rng, 1);
    xf_dataset_train_batch(ds, &rng, 2, 9, in, tg);
    for (size_t b = 0; b < 2; b++)
        for (int t = 0; t < 9; t++) CHECK(in[b * 9 + t] == t && tg[b * 9 + t] == t + 1);
    xf_dataset_free(ds);
}

TEST(test_val_batches) {
    char path[512];
    tmp_path(path, sizeof path, "val.bin");
    size_t n = 1000, T = 10, B = 4;
    make_tokens(path, n, 65536, 0);
    xf_dataset *ds;
    CHECK_OK(xf_dataset_open(&ds, path, NULL));
    CHECK_OK(xf_dataset_split(ds, 0.1, T)); /* validation = ids 900..999 */
    size_t nw = xf_dataset_val_windows(ds, T);
    CHECK(nw == 9); /* (100 - 1) / 10 */
    int32_t in[4 * 10], tg[4 * 10], in2[4 * 10], tg2[4 * 10];
    for (size_t index = 0; index < 7; index++) {
        xf_dataset_val_batch(ds, index, B, T, in, tg);
        xf_dataset_val_batch(ds, index, B, T, in2, tg2);
        CHECK(memcmp(in, in2, sizeof in) == 0 && memcmp(tg, tg2, sizeof tg) == 0);
        for (size_t b = 0; b < B; b++) {
            size_t w = (index * B + b) % nw;
            for (size_t t = 0; t < T; t++) {
                CHECK(in[b * T + t] == (int32_t)(900 + w * T + t));
                CHECK(tg[b * T + t] == in[b * T + t] + 1);
            }
        }
    }
    /* the last window: 9 windows use 91 of the 100 tokens */
    xf_dataset_val_batch(ds, 2, B, T, in, tg); /* windows 8, 0, 1, 2 */
    CHECK(in[0] == 980 && tg[T - 1] == 990 && in[T] == 900);
    /* a huge index does not overflow */
    xf_dataset_val_batch(ds, SIZE_MAX, B, T, in, tg);
    size_t w0 = (size_t)(in[0] - 900) / T;
    CHECK(w0 < nw && (size_t)(in[0] - 900) % T == 0);
    /* no validation split: zeros */
    CHECK_OK(xf_dataset_split(ds, 0.0, T));
    xf_dataset_val_batch(ds, 0, B, T, in, tg);
    for (size_t i = 0; i < B * T; i++) CHECK(in[i] == 0 && tg[i] == 0);
    xf_dataset_free(ds);
}

TEST(test_text_file_byte_tokenizer) {
    xf_tokenizer *tok;
    if (xf_tokenizer_load(&tok, "byte") != XF_OK) SKIP("byte tokenizer: %s", xf_last_error());
    char path[512];
    tmp_path(path, sizeof path, "story.txt");
    const char *text = "Once upon a time, there was a cat.\n\nThe cat said \"hi\". \xC3\xA9t\xC3\xA9\n";
    write_bytes(path, text, strlen(text));
    xf_dataset *ds;
    CHECK_OK(xf_dataset_open(&ds, path, tok));
    size_t n = strlen(text);
    CHECK(xf_dataset_len(ds) == n);
    CHECK(xf_dataset_tokenizer_hash(ds) == 0);
    CHECK(xf_dataset_vocab_size(ds) == xf_tokenizer_vocab_size(tok));
    CHECK(xf_dataset_max_id(ds) == 0xC3);
    int32_t ids[128];
    CHECK_OK(xf_dataset_copy(ds, 0, n, ids));
    for (size_t i = 0; i < n; i++) CHECK(ids[i] == (unsigned char)text[i]);
    CHECK_OK(xf_dataset_split(ds, 0.2, 8));
    int32_t in[3 * 8], tg[3 * 8];
    xf_rng rng;
    xf_rng_seed(&rng, 3);
    xf_dataset_train_batch(ds, &rng, 3, 8, in, tg);
    for (int i = 0; i < 3 * 8; i++)
        if (i % 8 != 7) CHECK(tg[i] == in[i + 1]);
    xf_dataset_free(ds);

    /* text needs a tokenizer; a token file made with the tokenizer opens with it */
    expect_open_error(path, NULL, "tokenizer");
    char bin[512];
    tmp_path(bin, sizeof bin, "story.bin");
    int32_t *all;
    size_t na;
    CHECK_OK(xf_tokenizer_encode(tok, text, n, &all, &na));
    CHECK_OK(xf_tokens_write(bin, all, na, xf_tokenizer_vocab_size(tok), xf_tokenizer_hash(tok)));
    free(all);
    CHECK_OK(xf_dataset_open(&ds, bin, tok));
    CHECK(xf_dataset_len(ds) == n && xf_dataset_tokenizer_hash(ds) == xf_tokenizer_hash(tok));
    xf_dataset_free(ds);
    xf_tokenizer_free(tok);
}

/* Text with paragraphs, long enough to be cut into many chunks. */
static char *sample_text(size_t *len) {
    char *t;
    CHECK_OK(xf_corpus_generate(&t, len, 200000, 5));
    return t;
}

static void encode_both_ways(const xf_tokenizer *tok, const char *text, size_t len, size_t chunk) {
    int32_t *whole, *par;
    size_t nw, np;
    CHECK_OK(xf_tokenizer_encode(tok, text, len, &whole, &nw));
    CHECK_OK(xf_data_encode(tok, text, len, "sample", chunk, &par, &np, NULL, NULL));
    CHECK_MSG(np == nw, "parallel gave %zu ids, whole %zu", np, nw);
    size_t i = 0;
    while (i < nw && par[i] == whole[i]) i++;
    CHECK_MSG(i == nw, "first difference at id %zu", i);
    free(whole);
    free(par);
}

typedef struct {
    size_t calls, last_done, last_total;
    int monotone;
} prog;

static void count_progress(size_t done, size_t total, void *ctx) {
    prog *p = ctx;
    if (done < p->last_done) p->monotone = 0;
    p->calls++;
    p->last_done = done;
    p->last_total = total;
}

TEST(test_parallel_encode_byte) {
    xf_tokenizer *tok;
    if (xf_tokenizer_load(&tok, "byte") != XF_OK) SKIP("byte tokenizer: %s", xf_last_error());
    size_t len;
    char *text = sample_text(&len);
    encode_both_ways(tok, text, len, 0);
    encode_both_ways(tok, text, len, 5000);
    encode_both_ways(tok, text, len, 1);
    encode_both_ways(tok, text, 100, 7);
    /* progress reaches the total, never goes back */
    prog p = {0, 0, 0, 1};
    int32_t *ids;
    size_t n;
    CHECK_OK(xf_data_encode(tok, text, len, "sample", 10000, &ids, &n, count_progress, &p));
    CHECK(p.calls >= 10 && p.monotone && p.last_done == len && p.last_total == len);
    free(ids);
    /* empty text: no ids, non-NULL array */
    CHECK_OK(xf_data_encode(tok, text, 0, "sample", 0, &ids, &n, NULL, NULL));
    CHECK(n == 0 && ids != NULL);
    free(ids);
    /* text without newlines is never cut, still right */
    memset(text, 'a', 50000);
    encode_both_ways(tok, text, 50000, 1000);
    free(text);
    xf_tokenizer_free(tok);
}

TEST(test_parallel_encode_bpe) {
    char path[512];
    tmp_path(path, sizeof path, "bpe.json");
    char *js = tok_bpe_newline_json();
    write_bytes(path, js, strlen(js));
    free(js);
    xf_tokenizer *tok;
    if (xf_tokenizer_load(&tok, path) != XF_OK) SKIP("BPE tokenizer.json: %s", xf_last_error());
    size_t len;
    char *text = sample_text(&len);
    /* the naive cut (right after "\n\n") would differ: check the tokenizer is that picky */
    const char *para = "The end.\n\nThe cat.";
    int32_t *a, *b, *c;
    size_t na, nb, nc;
    CHECK_OK(xf_tokenizer_encode(tok, para, strlen(para), &a, &na));
    CHECK_OK(xf_tokenizer_encode(tok, para, 10, &b, &nb));
    CHECK_OK(xf_tokenizer_encode(tok, para + 10, strlen(para) - 10, &c, &nc));
    int naive_same = na == nb + nc && memcmp(a, b, nb * sizeof *a) == 0 &&
                     memcmp(a + nb, c, nc * sizeof *a) == 0;
    CHECK_MSG(!naive_same, "test tokenizer does not depend on the cut point");
    free(a);
    free(b);
    free(c);
    encode_both_ways(tok, text, len, 3000);
    encode_both_ways(tok, text, len, 1);
    encode_both_ways(tok, text, len, 0);
    /* and it was really cut into many chunks (one progress call per chunk) */
    prog p = {0, 0, 0, 1};
    int32_t *ids;
    size_t n;
    CHECK_OK(xf_data_encode(tok, text, len, "sample", 3000, &ids, &n, count_progress, &p));
    CHECK_MSG(p.calls > 30, "only %zu chunks", p.calls);
    free(ids);
    free(text);
    xf_tokenizer_free(tok);
}

TEST(test_bad_files) {
    char path[512];
    xf_tokenizer *tok = NULL;
    if (xf_tokenizer_load(&tok, "byte") != XF_OK) tok = NULL;

    tmp_path(path, sizeof path, "missing.bin");
    unlink(path);
    expect_open_error(path, NULL, NULL);

    tmp_path(path, sizeof path, "empty.txt");
    write_bytes(path, "", 0);
    expect_open_error(path, tok, "empty");

    /* a valid file to damage */
    char good[512];
    tmp_path(good, sizeof good, "good.bin");
    make_tokens(good, 100, 300, 77);
    size_t size;
    unsigned char *raw = read_bytes(good, &size);
    CHECK(size == 64 + 200);
    unsigned char *bad = malloc(size + 16);

    tmp_path(path, sizeof path, "truncated.bin");
    write_bytes(path, raw, 40);
    expect_open_error(path, NULL, "truncated");

    tmp_path(path, sizeof path, "magic.bin");
    memcpy(bad, raw, size);
    memcpy(bad, "XFTOKENX", 8);
    write_bytes(path, bad, size);
    expect_open_error(path, tok, "magic");

    tmp_path(path, sizeof path, "version.bin");
    memcpy(bad, raw, size);
    put32(bad + 8, 2);
    write_bytes(path, bad, size);
    expect_open_error(path, NULL, "version");

    tmp_path(path, sizeof path, "width.bin");
    memcpy(bad, raw, size);
    put32(bad + 12, 3);
    write_bytes(path, bad, size);
    expect_open_error(path, NULL, "bytes per id");

    tmp_path(path, sizeof path, "vocab0.bin");
    memcpy(bad, raw, size);
    put32(bad + 32, 0);
    write_bytes(path, bad, size);
    expect_open_error(path, NULL, "vocab");

    tmp_path(path, sizeof path, "pad.bin");
    memcpy(bad, raw, size);
    bad[50] = 1;
    write_bytes(path, bad, size);
    expect_open_error(path, NULL, "reserved");

    tmp_path(path, sizeof path, "short.bin");
    write_bytes(path, raw, size - 2); /* one id missing */
    expect_open_error(path, NULL, "100 tokens");

    tmp_path(path, sizeof path, "odd.bin");
    write_bytes(path, raw, size - 1); /* half an id */
    expect_open_error(path, NULL, NULL);

    tmp_path(path, sizeof path, "long.bin");
    memcpy(bad, raw, size);
    memset(bad + size, 0, 16);
    write_bytes(path, bad, size + 2); /* one id too many */
    expect_open_error(path, NULL, "100 tokens");

    tmp_path(path, sizeof path, "overflow.bin");
    memcpy(bad, raw, size);
    put64(bad + 16, UINT64_MAX / 2 + 1); /* n * 2 wraps to 0 */
    write_bytes(path, bad, 64);
    expect_open_error(path, NULL, NULL);

    tmp_path(path, sizeof path, "zero.bin");
    make_tokens(path, 0, 300, 0);
    expect_open_error(path, NULL, "no tokens");

    tmp_path(path, sizeof path, "bigid.bin");
    memcpy(bad, raw, size);
    bad[64 + 2 * 50] = 44; /* id 300 = 0x012C at token 50 */
    bad[64 + 2 * 50 + 1] = 1;
    write_bytes(path, bad, size);
    expect_open_error(path, NULL, "token 50");

    tmp_path(path, sizeof path, "nul.txt");
    write_bytes(path, "abc\0def", 7);
    expect_open_error(path, tok, "NUL");

    if (tok) {
        /* made with another tokenizer */
        expect_open_error(good, tok, "tokenizer");
        /* same hash, different vocab size */
        tmp_path(path, sizeof path, "vocab_mismatch.bin");
        make_tokens(path, 100, 300, xf_tokenizer_hash(tok));
        expect_open_error(path, tok, "vocab");
    }

    /* too little data for the split */
    xf_dataset *ds;
    CHECK_OK(xf_dataset_open(&ds, good, NULL));
    CHECK(xf_dataset_split(ds, 0.1, 64) != XF_OK);
    CHECK(strstr(xf_last_error(), good) != NULL);
    CHECK(xf_dataset_split(ds, 0.0, 100) != XF_OK);
    CHECK(strstr(xf_last_error(), good) != NULL);
    xf_dataset_free(ds);

    /* a directory */
    expect_open_error(tok_tmpdir(), tok, NULL);

    free(bad);
    free(raw);
    xf_tokenizer_free(tok);
}

static void cleanup(void) { tok_tmpdir_remove(); }

int main(void) {
    RUN(test_roundtrip_u16);
    RUN(test_roundtrip_u32);
    RUN(test_write_rejects_bad_ids);
    RUN(test_split_sizes);
    RUN(test_train_windows);
    RUN(test_train_window_edge);
    RUN(test_val_batches);
    RUN(test_text_file_byte_tokenizer);
    RUN(test_parallel_encode_byte);
    RUN(test_parallel_encode_bpe);
    RUN(test_bad_files);
    cleanup();
    return test_summary();
}
