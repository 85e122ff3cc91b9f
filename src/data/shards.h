/* Shard sets and data specs (internal; the public side is in xfmr/data.h).
 *
 * A shard directory holds token files and XF_SHARDS_INDEX, a JSON object
 * (docs/data.md §Shards):
 *   {"format":"xfmr-shards","version":1,"dtype":"uint16"|"uint32",
 *    "vocab_size":V,"tokenizer":"NAME","tokenizer_hash":"16 hex digits",
 *    "tokens":N,"shards":[{"file":"shard-000000.bin","tokens":n0},...]}
 * The index is hostile input: every field is checked here (types, ranges, file
 * names that stay inside the directory, counts that add up without overflow);
 * each shard's own header is then checked against it when it is opened. */
#ifndef XF_DATA_SHARDS_H
#define XF_DATA_SHARDS_H

#include <stddef.h>
#include <stdint.h>

#include "xfmr/data.h"

#define XF_SHARDS_MAX_FILES ((size_t)1 << 20) /* files one spec may name */

typedef struct {
    unsigned width;   /* 2 (uint16) or 4 (uint32) */
    size_t vocab;     /* V in [1, 2^32) */
    uint64_t hash;    /* tokenizer hash */
    size_t tokens;    /* sum of counts */
    size_t n;         /* shards */
    char **files;     /* n paths: the directory joined with each file name */
    size_t *counts;   /* n token counts, each > 0 */
} xf_shard_index;

/* Parse index text (len bytes, need not be NUL-terminated) of directory dir;
 * `name` (the index path) prefixes messages. On failure *ix is empty. */
xf_status shard_index_parse(xf_shard_index *ix, const char *text, size_t len, const char *dir,
                               const char *name);
void shard_index_free(xf_shard_index *ix);

/* Write dir/XF_SHARDS_INDEX atomically for ix (files are written as their base
 * names) with tokenizer name tok_name. */
xf_status shard_index_write(const char *dir, const xf_shard_index *ix, const char *tok_name);

/* A data spec resolved to the files it names, in order. ix is set (and owns
 * the order) when the spec was a shard directory. */
typedef struct {
    char **paths;
    size_t n;
    xf_shard_index *ix;
} xf_data_files;

xf_status data_files_resolve(xf_data_files *f, const char *spec);
void data_files_free(xf_data_files *f);

/* dataset.c: 1 if cutting text[..len) at p (lo_limit < p < len) leaves the
 * encoding of ~1 KiB each side unchanged. */
int data_cut_is_safe(const xf_tokenizer *tok, const char *text, size_t len, size_t lo_limit,
                        size_t p);

/* dataset.c: open `path` read-only, refusing anything but a regular file
 * (messages name it); *fd and its *size. */
xf_status data_open_regular(const char *path, int *fd, size_t *size);

/* dataset.c: the 64-byte token file header (data.h), and m ids packed
 * little-endian at `width` bytes each into buf. */
void tokens_header(unsigned char head[XF_TOKENS_HEADER_BYTES], unsigned width, size_t n,
                      size_t vocab_size, uint64_t tok_hash);
void tokens_pack(unsigned char *buf, const int32_t *ids, size_t m, unsigned width);

#endif
