/* xfmr: training data. Token files, the dataset reader used by training, the
 * parallel text encoder behind `xfmr prepare`, and the built-in story corpus.
 *
 * Token file (docs/data.md has the byte-by-byte layout), all little-endian:
 *   offset  size  field
 *        0     8  magic "XFTOKEN1"
 *        8     4  u32 version = 1
 *       12     4  u32 bytes per id: 2 (vocab_size <= 65536) or 4
 *       16     8  u64 number of tokens N
 *       24     8  u64 tokenizer hash (xf_tokenizer_hash)
 *       32     4  u32 vocab size V (> 0)
 *       36    28  zero
 *       64  N*w   the ids, each < V
 * The file size is exactly 64 + N * width. */
#ifndef XFMR_DATA_H
#define XFMR_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "xfmr/rng.h"
#include "xfmr/status.h"
#include "xfmr/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XF_TOKENS_MAGIC "XFTOKEN1"
#define XF_TOKENS_VERSION 1u
#define XF_TOKENS_HEADER_BYTES 64u

typedef struct xf_dataset xf_dataset;

/* Open `path`, a data spec (see "data of any size" below): token files
 * (recognised by their magic; read lazily, every field and every id validated
 * here, in one pass) or else UTF-8 text, tokenized with `tok` (a single file
 * up to 8 MiB in memory as int32, larger text streamed to temporary shards).
 * For a token file and tok != NULL the file's tokenizer hash must equal
 * xf_tokenizer_hash(tok) ("FILE was made with tokenizer X, the model uses Y").
 * A file holding no tokens is an error; so is text (no magic) with tok == NULL,
 * and text containing a NUL byte (taken for a damaged token file).
 * All messages name the file. Before xf_dataset_split every token is training data. */
xf_status xf_dataset_open(xf_dataset **out, const char *path, const xf_tokenizer *tok);
void xf_dataset_free(xf_dataset *ds); /* NULL-safe */

size_t xf_dataset_len(const xf_dataset *ds);                 /* all tokens */
uint64_t xf_dataset_tokenizer_hash(const xf_dataset *ds);    /* 0 for text (it used tok) */
size_t xf_dataset_vocab_size(const xf_dataset *ds);          /* header V, or tok's for text */
size_t xf_dataset_max_id(const xf_dataset *ds);              /* largest id present */

/* Split: the last n_val = max(floor(val_fraction * n), T + 1) tokens are validation
 * (n_val = 0 when val_fraction == 0). Needs 0 <= val_fraction < 1 and T > 0; fails,
 * naming the file and the numbers, if the training part has fewer than T + 1
 * tokens or n_val > n. May be called again (it replaces the previous split). */
xf_status xf_dataset_split(xf_dataset *ds, double val_fraction, size_t T);
size_t xf_dataset_train_len(const xf_dataset *ds);
size_t xf_dataset_val_len(const xf_dataset *ds);

/* Random training windows, inputs/targets are [B, T] row-major:
 *   start_b uniform in [0, n_train - T - 1] (one xf_rng_below(rng, n_train - T) per b)
 *   inputs[b*T + t] = ids[start_b + t], targets[b*T + t] = ids[start_b + t + 1].
 * Deterministic given the rng state. Needs n_train >= T + 1 (a successful split). */
void xf_dataset_train_batch(const xf_dataset *ds, struct xf_rng *rng, size_t B, size_t T,
                            int32_t *inputs, int32_t *targets);

/* Number of validation windows of T + 1 tokens with stride T: (n_val - 1) / T
 * (0 when n_val < T + 1). Windows overlap by one token, so every validation
 * token after the first is predicted exactly once over all windows. */
size_t xf_dataset_val_windows(const xf_dataset *ds, size_t T);

/* Deterministic validation windows: window w covers val[w*T .. w*T + T]; batch
 * `index` holds windows (index*B + b) mod xf_dataset_val_windows(ds, T) for
 * b = 0..B-1, laid out as in xf_dataset_train_batch. With no windows (no
 * validation split) inputs and targets are zero-filled. */
void xf_dataset_val_batch(const xf_dataset *ds, size_t index, size_t B, size_t T,
                          int32_t *inputs, int32_t *targets);

/* Copy ids[start .. start+n) (over the whole data, train then validation) into out.
 * Fails with XF_ERR_ARG if the range runs past the end. */
xf_status xf_dataset_copy(const xf_dataset *ds, size_t start, size_t n, int32_t *out);

/* Write a token file atomically (temp + fsync + rename). Width 2 when
 * vocab_size <= 65536, else 4. Every id must be in [0, vocab_size); n may be 0
 * (readers refuse such a file, the format allows it). */
xf_status xf_tokens_write(const char *path, const int32_t *ids, size_t n, size_t vocab_size,
                          uint64_t tok_hash);

/* Progress callback for xf_data_encode: bytes encoded so far out of total.
 * Called from the encoding threads, one call at a time. */
typedef void (*xf_progress_fn)(size_t done, size_t total, void *ctx);

/* Encode text with `tok`, in parallel (OpenMP) when the text is large.
 * The text is cut near every chunk_bytes (0: automatic, 4 MiB and up; text
 * under 4 MiB is then encoded in one piece) at a newline boundary, and only at
 * a boundary that is verified locally: encoding about 1 KiB of text on each
 * side of the cut whole and in two pieces must give the same ids. A boundary
 * that fails the check is not cut, so for any tokenizer whose pieces depend on
 * at most a few hundred bytes of context the result equals encoding the whole
 * text at once (always so for "byte"); a tokenizer that adds BOS or a dummy
 * prefix to every call simply ends up encoded in one piece.
 * `name` (usually the path) prefixes error messages. *ids is malloc'd (the
 * caller frees it; non-NULL even when *n is 0). progress may be NULL. */
xf_status xf_data_encode(const xf_tokenizer *tok, const char *text, size_t len, const char *name,
                         size_t chunk_bytes, int32_t **ids, size_t *n, xf_progress_fn progress,
                         void *ctx);

/* Generate the built-in corpus: procedurally written children's stories in
 * simple English (a few hundred words, sentence templates with pronoun and
 * article agreement, dialogue in double quotes, plots with a setup, a problem,
 * a resolution and a moral). Paragraphs and stories are separated by one blank
 * line; the text is printable ASCII plus '\n'. Generation stops at the end of
 * the first story that reaches target_bytes (so *len is at most about 2 KB
 * over). Deterministic for a seed. *text is malloc'd and NUL-terminated
 * (*len excludes the NUL). target_bytes must be in [1, 2^40]. */
xf_status xf_corpus_generate(char **text, size_t *len, size_t target_bytes, uint64_t seed);

/* ---- data of any size: shards, streaming prepare, global windows ----------------
 * (docs/data.md §Shards and §Streaming)
 *
 * A data spec (--data, --val-data, xf_dataset_open's path) is one of:
 *   - a file: a token file, or UTF-8 text;
 *   - a directory holding XF_SHARDS_INDEX (written by xf_data_prepare): its
 *     shards, in the index's order;
 *   - a glob pattern (has * ? or [ and names no file): the matching files in
 *     sorted order, all token files or all text.
 * Token files are read lazily with pread (only the window asked for; open
 * reads each once to validate its ids). Text over 8 MiB, or several text
 * files, are encoded as they stream through xf_data_prepare into a temporary
 * shard directory that is unlinked at once. */
#define XF_SHARDS_INDEX "index.json"
#define XF_SHARDS_FORMAT "xfmr-shards"
#define XF_SHARDS_VERSION 1u

typedef struct {
    int sharded;          /* 1: out is a directory of shards plus XF_SHARDS_INDEX; 0: one token file */
    size_t shard_tokens;  /* ids per shard (0: 64 MiB of ids: 2^25 uint16 or 2^24 uint32) */
    size_t piece_bytes;   /* text read and encoded per piece (0: 8 MiB; at least 16 KiB) */
    size_t max_piece_bytes; /* a piece grows up to this while no safe cut is found (0: 256 MiB) */
    xf_progress_fn progress; /* bytes read so far of the inputs' total; may be NULL */
    void *ctx;
} xf_prepare_opts;

typedef struct {
    size_t tokens, bytes, shards; /* ids written, text bytes read, token files written */
    size_t unchecked_cuts;        /* pieces cut where no safe cut was found (see data.md) */
} xf_prepare_result;

/* Encode the text of data spec `data` with `tok` into `out`, in memory bounded
 * by the piece size (not the input size): text is read piece by piece and cut
 * only just after a newline where encoding ~1 KiB each side whole and split
 * agree (as xf_data_encode), so the ids equal the whole-text encoding; a piece
 * with no such cut grows to max_piece_bytes and is then cut at its last newline
 * (counted in unchecked_cuts). Several input files are encoded one after the
 * other, each on its own. Output files are written atomically; a shard
 * directory's index is written last. Refuses token files as input, empty
 * input, NUL bytes and text that encodes to no tokens, naming the file. */
xf_status xf_data_prepare(const xf_tokenizer *tok, const char *data, const char *out,
                          const xf_prepare_opts *o, xf_prepare_result *r);

/* Use `val` (takes ownership; freed on failure too) as the validation data of
 * ds: the data becomes ds's tokens followed by val's, and every later
 * xf_dataset_split makes exactly val's tokens validation, whatever the
 * fraction. The vocab sizes must agree. */
xf_status xf_dataset_set_val(xf_dataset *ds, xf_dataset *val);

/* Number of files the dataset reads (1 for a plain token file). */
size_t xf_dataset_files(const xf_dataset *ds);

/* XF_OK, or the first read error met by the batch functions (they cannot
 * return one; the affected window is zero-filled and this records why). */
xf_status xf_dataset_status(const xf_dataset *ds);

/* Global window sampler, independent of the number of processes. Row `row` of
 * global training batch `g` starts at
 *   h = mix(seed, g, row)  (SplitMix64 finaliser applied three times)
 *   start = floor(h * (n_train - T) / 2^64)   in [0, n_train - T - 1]
 * and covers ids[start .. start + T]. A data-parallel rank r of N, each with
 * per-rank batch b, reads rows r*b .. r*b + b - 1 of batch g: the union over
 * ranks is the same global batch for every N, and each rank reads only its own
 * windows. Needs n_train >= T + 1 (a successful split). */
size_t xf_dataset_train_start(const xf_dataset *ds, uint64_t seed, uint64_t g, size_t row,
                              size_t T);

/* Rows row0 .. row0 + rows - 1 of global batch g, laid out [rows, T] as in
 * xf_dataset_train_batch. */
void xf_dataset_train_rows(const xf_dataset *ds, uint64_t seed, uint64_t g, size_t row0,
                           size_t rows, size_t T, int32_t *inputs, int32_t *targets);

#ifdef __cplusplus
}
#endif

#endif
