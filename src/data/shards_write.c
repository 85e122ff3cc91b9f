/* Streaming prepare: text of any size -> token file or shard directory, in
 * memory bounded by the piece size (xfmr/data.h xf_data_prepare, docs/data.md
 * §Streaming).
 *
 * Text is read piece by piece (8 MiB). A piece ends just after a newline p
 * where encoding ~1 KiB each side of p whole and in two parts agree
 * (data_cut_is_safe, the check the parallel encoder uses), searched
 * backwards from the end of what was read, leaving at least the check span of
 * real text after p. The piece [0, p) is encoded (in parallel by
 * xf_data_encode), its ids written, and the rest moved to the front. With no
 * safe cut the piece doubles, up to max_piece_bytes; past that it is cut at its
 * last newline (or space, or character start) and the cut is counted.
 * Memory: the piece, its ids (int32, twice while xf_data_encode gathers them)
 * and a 64 KiB output buffer. */
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/shards.h"
#include "io/file.h"
#include "xfmr/data.h"

#define PIECE_DEFAULT ((size_t)8 << 20)
#define PIECE_MIN ((size_t)16 << 10)
#define PIECE_MAX_DEFAULT ((size_t)256 << 20)
#define CUT_CONTEXT 1100  /* real text kept after a cut for the check (> its 1 KiB span) */
#define CUT_TRIES 16      /* newline cuts checked per piece */
#define SHARD_BYTES ((size_t)64 << 20)

/* ---- output: one token file, or shards + index ------------------------------------ */

typedef struct {
    const char *out;
    int sharded;
    size_t shard_tokens, vocab;
    unsigned width;
    uint64_t hash;
    xf_afile *f;         /* the file being written, NULL between files */
    size_t in_file;      /* ids in it so far */
    xf_shard_index ix;   /* files written (full paths) and their counts */
    size_t cap;          /* room in ix.files / ix.counts */
    unsigned char buf[1 << 16];
} writer;

static xf_status file_open(writer *w) {
    char *path;
    if (w->sharded) {
        if (w->ix.n == w->cap) {
            size_t cap = w->cap ? 2 * w->cap : 16;
            char **files = realloc(w->ix.files, cap * sizeof *files);
            if (files) w->ix.files = files;
            size_t *counts = realloc(w->ix.counts, cap * sizeof *counts);
            if (counts) w->ix.counts = counts;
            if (!files || !counts) return xf_fail(XF_ERR_OOM, "%s: out of memory", w->out);
            w->cap = cap;
        }
        size_t len = strlen(w->out) + 32;
        if (!(path = malloc(len))) return xf_fail(XF_ERR_OOM, "%s: out of memory", w->out);
        snprintf(path, len, "%s/shard-%06zu.bin", w->out, w->ix.n);
    } else if (!(path = strdup(w->out))) {
        return xf_fail(XF_ERR_OOM, "%s: out of memory", w->out);
    }
    unsigned char head[XF_TOKENS_HEADER_BYTES];
    tokens_header(head, w->width, 0, w->vocab, w->hash); /* the count is written at the end */
    xf_status st = afile_open(&w->f, path);
    if (st == XF_OK && (st = afile_write(w->f, head, sizeof head)) != XF_OK) {
        afile_abort(w->f);
        w->f = NULL;
    }
    if (st != XF_OK || !w->sharded) {
        free(path);
        return st;
    }
    w->ix.files[w->ix.n] = path;
    w->ix.counts[w->ix.n++] = 0;
    return XF_OK;
}

static xf_status file_close(writer *w) {
    unsigned char head[XF_TOKENS_HEADER_BYTES];
    tokens_header(head, w->width, w->in_file, w->vocab, w->hash);
    xf_status st = afile_write_at(w->f, 0, head, sizeof head);
    if (st == XF_OK) st = afile_commit(w->f);
    else afile_abort(w->f);
    w->f = NULL;
    if (w->sharded) w->ix.counts[w->ix.n - 1] = w->in_file;
    w->ix.tokens += w->in_file;
    w->in_file = 0;
    return st;
}

/* Append ids (from the text of `name`) to the output. */
static xf_status put_ids(writer *w, const int32_t *ids, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= w->vocab)
            return xf_fail(XF_ERR_FORMAT, "%s: the tokenizer gave id %d (vocab %zu)", name, (int)ids[i], w->vocab);
    size_t per = sizeof w->buf / w->width;
    while (n > 0) {
        xf_status st;
        if (!w->f && (st = file_open(w)) != XF_OK) return st;
        size_t room = w->sharded ? w->shard_tokens - w->in_file : SIZE_MAX;
        size_t m = n < room ? n : room;
        if (m > per) m = per;
        tokens_pack(w->buf, ids, m, w->width);
        if ((st = afile_write(w->f, w->buf, m * w->width)) != XF_OK) return st;
        w->in_file += m;
        ids += m;
        n -= m;
        if (w->sharded && w->in_file == w->shard_tokens && (st = file_close(w)) != XF_OK) return st;
    }
    return XF_OK;
}

static xf_status finish(writer *w, const xf_tokenizer *tok) {
    xf_status st = XF_OK;
    if (w->f) st = file_close(w);
    if (st == XF_OK && w->sharded) st = shard_index_write(w->out, &w->ix, xf_tokenizer_name(tok));
    return st;
}

/* ---- input: pieces cut where the encoding does not change ---------------------------- */

/* A safe cut in text[0, len), with CUT_CONTEXT bytes of text after it, searched
 * backwards down to len / 2; 0 if none. */
static size_t safe_cut(const xf_tokenizer *tok, const char *text, size_t len) {
    if (len <= CUT_CONTEXT + 1) return 0;
    int tries = 0;
    for (size_t p = len - CUT_CONTEXT; p > len / 2 && tries < CUT_TRIES; p--) {
        if (text[p - 1] != '\n') continue;
        tries++;
        if (data_cut_is_safe(tok, text, len, 0, p)) return p;
    }
    return 0;
}

/* The last newline, else space, else character start in the second half. */
static size_t forced_cut(const char *text, size_t len) {
    for (const char *sep = "\n "; *sep; sep++)
        for (size_t p = len; p > len / 2; p--)
            if (text[p - 1] == *sep) return p;
    size_t p = len - 1; /* text[p] starts the next piece: not a continuation byte */
    while (p > len / 2 && ((unsigned char)text[p] & 0xC0) == 0x80) p--;
    return p;
}

typedef struct {
    const xf_tokenizer *tok;
    const xf_prepare_opts *o;
    char *buf;
    size_t cap, max_cap;
    size_t done, total; /* bytes read of all inputs, for progress */
    xf_prepare_result *r;
} reader;

/* Encode text[0, len) of `name` and write its ids. */
static xf_status encode_piece(reader *rd, writer *w, const char *text, size_t len, const char *name) {
    int threads = omp_get_max_threads();
    size_t chunk = len / (size_t)(threads > 1 ? threads : 1);
    if (chunk < ((size_t)1 << 20)) chunk = (size_t)1 << 20;
    int32_t *ids = NULL;
    size_t n = 0;
    xf_status st = xf_data_encode(rd->tok, text, len, name, chunk, &ids, &n, NULL, NULL);
    if (st == XF_OK) st = put_ids(w, ids, n, name);
    free(ids);
    return st;
}

/* Stream one text file through the encoder. */
static xf_status encode_file(reader *rd, writer *w, const char *path) {
    int fd;
    size_t size;
    xf_status st = data_open_regular(path, &fd, &size);
    if (st != XF_OK) return st;
    size_t have = 0, consumed = 0, tokens0 = w->ix.tokens + w->in_file;
    int eof = 0;
    while (st == XF_OK) {
        while (!eof && have < rd->cap) {
            ssize_t got = read(fd, rd->buf + have, rd->cap - have);
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) {
                st = xf_fail(XF_ERR_IO, "%s: read failed: %s", path, strerror(errno));
                break;
            }
            if (got == 0) {
                eof = 1;
                break;
            }
            const char *nul = memchr(rd->buf + have, '\0', (size_t)got);
            size_t ml = strlen(XF_TOKENS_MAGIC);
            if (consumed == 0 && have < ml && have + (size_t)got >= ml && memcmp(rd->buf, XF_TOKENS_MAGIC, ml) == 0)
                st = xf_fail(XF_ERR_ARG, "%s: is already a token file (train on it directly)", path);
            else if (nul)
                st = xf_fail(XF_ERR_FORMAT, "%s: not a token file (no %s magic) and not text (NUL byte at offset %zu)",
                             path, XF_TOKENS_MAGIC, consumed + have + (size_t)(nul - (rd->buf + have)));
            if (st != XF_OK) break;
            have += (size_t)got;
            rd->done += (size_t)got;
        }
        if (st != XF_OK) break;
        if (eof && consumed == 0 && have == 0) {
            st = xf_fail(XF_ERR_FORMAT, "%s: empty file, no tokens", path);
            break;
        }
        if (eof && have == 0) break;
        size_t cut = eof ? have : safe_cut(rd->tok, rd->buf, have);
        if (!cut && rd->cap < rd->max_cap) {
            size_t cap = rd->cap * 2 < rd->max_cap ? rd->cap * 2 : rd->max_cap;
            char *grown = realloc(rd->buf, cap);
            if (!grown) {
                st = xf_fail(XF_ERR_OOM, "%s: out of memory for a piece of %zu bytes", path, cap);
                break;
            }
            rd->buf = grown;
            rd->cap = cap;
            continue;
        }
        if (!cut) {
            cut = forced_cut(rd->buf, have);
            rd->r->unchecked_cuts++;
        }
        st = encode_piece(rd, w, rd->buf, cut, path);
        memmove(rd->buf, rd->buf + cut, have - cut);
        have -= cut;
        consumed += cut;
        if (rd->o->progress) rd->o->progress(rd->done, rd->total, rd->o->ctx);
    }
    close(fd);
    if (st == XF_OK && w->ix.tokens + w->in_file == tokens0)
        st = xf_fail(XF_ERR_FORMAT, "%s: text encodes to no tokens", path);
    return st;
}

xf_status xf_data_prepare(const xf_tokenizer *tok, const char *data, const char *out,
                          const xf_prepare_opts *o, xf_prepare_result *r) {
    memset(r, 0, sizeof *r);
    xf_prepare_opts none = {0};
    if (!o) o = &none;
    size_t vocab = xf_tokenizer_vocab_size(tok);
    if (vocab == 0 || vocab > UINT32_MAX)
        return xf_fail(XF_ERR_ARG, "%s: vocab size %zu is not in [1, 2^32)", out, vocab);
    writer *w = calloc(1, sizeof *w);
    if (!w) return xf_fail(XF_ERR_OOM, "%s: out of memory", out);
    w->out = out;
    w->sharded = o->sharded;
    w->vocab = vocab;
    w->width = vocab <= 65536 ? 2 : 4;
    w->hash = xf_tokenizer_hash(tok);
    w->ix.width = w->width;
    w->ix.vocab = vocab;
    w->ix.hash = w->hash;
    w->shard_tokens = o->shard_tokens ? o->shard_tokens : SHARD_BYTES / w->width;
    reader rd = {.tok = tok, .o = o, .r = r};
    rd.cap = o->piece_bytes ? o->piece_bytes : PIECE_DEFAULT;
    if (rd.cap < PIECE_MIN) rd.cap = PIECE_MIN;
    rd.max_cap = o->max_piece_bytes ? o->max_piece_bytes : PIECE_MAX_DEFAULT;
    if (rd.max_cap < rd.cap) rd.max_cap = rd.cap;

    xf_data_files f;
    xf_status st = data_files_resolve(&f, data);
    if (st != XF_OK) {
        free(w);
        return st;
    }
    for (size_t i = 0; i < f.n; i++) {
        struct stat sb;
        if (stat(f.paths[i], &sb) == 0 && sb.st_size > 0) rd.total += (size_t)sb.st_size;
    }
    if (w->sharded) {
        st = mkdir_p(out);
        if (st == XF_OK) { /* a stale index must not describe a half-rewritten directory */
            size_t len = strlen(out) + sizeof XF_SHARDS_INDEX + 2;
            char *ip = malloc(len);
            if (!ip) st = xf_fail(XF_ERR_OOM, "%s: out of memory", out);
            else {
                snprintf(ip, len, "%s/%s", out, XF_SHARDS_INDEX);
                if (unlink(ip) != 0 && errno != ENOENT)
                    st = xf_fail(XF_ERR_IO, "%s: cannot remove the old index: %s", ip, strerror(errno));
                free(ip);
            }
        }
    }
    if (st == XF_OK && !(rd.buf = malloc(rd.cap))) st = xf_fail(XF_ERR_OOM, "%s: out of memory", data);
    for (size_t i = 0; st == XF_OK && i < f.n; i++) {
        st = encode_file(&rd, w, f.paths[i]);
        r->bytes = rd.done;
    }
    if (st == XF_OK) st = finish(w, tok);
    if (st != XF_OK && w->f) afile_abort(w->f);
    r->tokens = w->ix.tokens;
    r->shards = w->sharded ? w->ix.n : 1;
    free(rd.buf);
    shard_index_free(&w->ix);
    free(w);
    data_files_free(&f);
    return st;
}
