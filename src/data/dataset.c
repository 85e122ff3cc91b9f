/* Token files, the training dataset and the parallel text encoder (xfmr/data.h).
 *
 * A dataset is an ordered list of token files ("segments": one plain token
 * file, the shards of a prepared directory, or the files of a glob), with an
 * optional validation set appended. Ids are read lazily with pread, only the
 * window asked for, so resident memory does not grow with the data (the
 * kernel's page cache holds what was read). A small text file is encoded whole
 * into one in-memory segment; larger text is encoded, streaming, into a
 * temporary shard directory (xf_data_prepare) whose files are unlinked as soon
 * as they are open. Every token file is treated as hostile: all header fields,
 * the exact size and every id are checked in xf_dataset_open (one buffered
 * pass), so the batch functions never meet a bad id. */
#include "xfmr/data.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/numeric.h"
#include "core/rng.h"
#include "data/shards.h"
#include "io/file.h"

typedef struct {
    int fd;          /* the open token file, -1 for ids held in memory */
    int32_t *mem;    /* small text's ids (fd == -1), owned */
    char *path;      /* for messages */
    size_t first, n; /* global index of its first id, ids in it */
    unsigned width;  /* 2 or 4 */
} segment;

struct xf_dataset {
    char *path;                /* the spec, for messages */
    segment *seg;              /* nseg segments in order; seg[k].first ascending */
    size_t nseg;
    size_t n, n_train, n_val;  /* n_train + n_val == n */
    size_t val_set;            /* tokens of an attached validation set (last segments), 0: none */
    uint64_t hash;             /* the files' tokenizer hash, 0 for text */
    size_t vocab, max_id;
    int *read_err;             /* first errno met by a batch read (0: none); heap, so const readers can set it */
};

/* ---- little-endian fields --------------------------------------------------- */

static uint32_t rd32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const unsigned char *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static void wr32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void wr64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* ---- reading ids -------------------------------------------------------------- */

/* pread exactly n bytes at off; 0 or an errno value (EIO for a short file). */
static int read_full(int fd, void *buf, size_t n, size_t off) {
    char *p = buf;
    while (n > 0) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return r < 0 ? errno : EIO;
        p += r;
        off += (size_t)r;
        n -= (size_t)r;
    }
    return 0;
}

/* ids [i, i + m) of segment s (in range) into out as int32. The bytes are read
 * into the top of out and widened upwards in place: for width 2, id k's bytes
 * sit at 2m + 2k, past the 4k..4k+3 being written. */
static int seg_read(const segment *s, size_t i, size_t m, int32_t *out) {
    if (s->mem) {
        memcpy(out, s->mem + i, m * sizeof *out);
        return 0;
    }
    unsigned char *raw = (unsigned char *)out + m * (4 - s->width);
    int e = read_full(s->fd, raw, m * s->width, XF_TOKENS_HEADER_BYTES + i * s->width);
    if (e) return e;
    if (s->width == 2)
        for (size_t k = 0; k < m; k++) out[k] = (int32_t)((uint32_t)raw[2 * k] | (uint32_t)raw[2 * k + 1] << 8);
    else
        for (size_t k = 0; k < m; k++) out[k] = (int32_t)rd32(raw + 4 * k);
    return 0;
}

/* The segment holding global id i (i < ds->n). */
static size_t seg_of(const xf_dataset *ds, size_t i) {
    size_t lo = 0, hi = ds->nseg; /* seg[lo].first <= i < seg[hi].first */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (ds->seg[mid].first <= i) lo = mid; else hi = mid;
    }
    return lo;
}

/* ids [start, start + n) (in range) into out; 0 or an errno value. */
static int read_ids(const xf_dataset *ds, size_t start, size_t n, int32_t *out) {
    size_t k = n ? seg_of(ds, start) : 0;
    while (n > 0) {
        const segment *s = &ds->seg[k++];
        size_t i = start - s->first, m = s->n - i < n ? s->n - i : n;
        int e = seg_read(s, i, m, out);
        if (e) return e;
        out += m;
        start += m;
        n -= m;
    }
    return 0;
}

/* ---- opening ---------------------------------------------------------------- */

/* Header offsets (see data.h). */
enum { H_MAGIC = 0, H_VERSION = 8, H_WIDTH = 12, H_NTOK = 16, H_HASH = 24, H_VOCAB = 32, H_PAD = 36 };

typedef struct {
    unsigned width;
    size_t n, vocab;
    uint64_t hash;
} tok_header;

/* Check a token file's header h against its size (see data.h). */
static xf_status check_header(const char *path, const unsigned char *h, size_t size, tok_header *out) {
    if (size < XF_TOKENS_HEADER_BYTES)
        return xf_fail(XF_ERR_FORMAT, "%s: truncated token file header (%zu bytes, need %u)", path,
                       size, XF_TOKENS_HEADER_BYTES);
    uint32_t version = rd32(h + H_VERSION), width = rd32(h + H_WIDTH), vocab = rd32(h + H_VOCAB);
    uint64_t ntok = rd64(h + H_NTOK);
    if (version != XF_TOKENS_VERSION)
        return xf_fail(XF_ERR_FORMAT, "%s: token file version %u is not supported (expected %u)",
                       path, version, XF_TOKENS_VERSION);
    if (width != 2 && width != 4)
        return xf_fail(XF_ERR_FORMAT, "%s: token file has %u bytes per id (expected 2 or 4)", path,
                       width);
    if (vocab == 0) return xf_fail(XF_ERR_FORMAT, "%s: token file has vocab size 0", path);
    for (size_t i = H_PAD; i < XF_TOKENS_HEADER_BYTES; i++)
        if (h[i] != 0)
            return xf_fail(XF_ERR_FORMAT, "%s: reserved token file header byte %zu is not zero",
                           path, i);
    size_t payload = size - XF_TOKENS_HEADER_BYTES;
    if (ntok > (uint64_t)(SIZE_MAX / width) || (size_t)ntok * width != payload)
        return xf_fail(XF_ERR_FORMAT,
                       "%s: header says %llu tokens of %u bytes but the file holds %zu bytes of ids",
                       path, (unsigned long long)ntok, width, payload);
    if (ntok == 0) return xf_fail(XF_ERR_FORMAT, "%s: token file holds no tokens", path);
    out->width = width;
    out->n = (size_t)ntok;
    out->vocab = vocab;
    out->hash = rd64(h + H_HASH);
    return XF_OK;
}

/* Open `path` read-only as a regular file: fd and size. */
xf_status data_open_regular(const char *path, int *fd, size_t *size) {
    int f;
    do {
        f = open(path, O_RDONLY | O_CLOEXEC);
    } while (f < 0 && errno == EINTR);
    if (f < 0) return xf_fail(XF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(f, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(f);
        return xf_fail(XF_ERR_IO, "%s: not a regular file", path);
    }
    if ((uintmax_t)sb.st_size > (uintmax_t)(SIZE_MAX / 2)) {
        close(f);
        return xf_fail(XF_ERR_IO, "%s: file of %jd bytes is too large", path, (intmax_t)sb.st_size);
    }
    *fd = f;
    *size = (size_t)sb.st_size;
    return XF_OK;
}

/* 1 if the file starts with the token file magic (0 on a short or unreadable file). */
static int has_magic(int fd, size_t size) {
    size_t ml = strlen(XF_TOKENS_MAGIC);
    unsigned char m[16];
    return size >= ml && read_full(fd, m, ml, 0) == 0 && memcmp(m, XF_TOKENS_MAGIC, ml) == 0;
}

/* Append segment `path` (a token file; fd is taken) to ds and check it against
 * the tokenizer, the segments before it and the index entry (want_n, 0: none). */
static xf_status add_segment(xf_dataset *ds, const char *path, int fd, size_t size,
                             const xf_tokenizer *tok, const xf_shard_index *ix, size_t want_n) {
    unsigned char h[XF_TOKENS_HEADER_BYTES];
    tok_header th = {0};
    xf_status st = XF_OK;
    int e = size >= XF_TOKENS_HEADER_BYTES ? read_full(fd, h, sizeof h, 0) : 0;
    if (e) st = xf_fail(XF_ERR_IO, "%s: cannot read the header: %s", path, strerror(e));
    if (st == XF_OK) st = check_header(path, h, size, &th);
    if (st == XF_OK && tok) {
        uint64_t want = xf_tokenizer_hash(tok);
        if (th.hash != want)
            st = xf_fail(XF_ERR_SHAPE, "%s was made with tokenizer %016llx, the model uses %s (%016llx)", path,
                         (unsigned long long)th.hash, xf_tokenizer_name(tok), (unsigned long long)want);
        else if (th.vocab != xf_tokenizer_vocab_size(tok))
            st = xf_fail(XF_ERR_FORMAT, "%s: header vocab size %zu disagrees with tokenizer %s (%zu) of the same hash",
                         path, th.vocab, xf_tokenizer_name(tok), xf_tokenizer_vocab_size(tok));
    }
    if (st == XF_OK && ix && (th.width != ix->width || th.vocab != ix->vocab || th.hash != ix->hash ||
                              th.n != want_n))
        st = xf_fail(XF_ERR_FORMAT,
                     "%s: header (%zu tokens, %u bytes per id, vocab %zu, tokenizer %016llx) disagrees with "
                     "the shard index (%zu, %u, %zu, %016llx)", path, th.n, th.width, th.vocab,
                     (unsigned long long)th.hash, want_n, ix->width, ix->vocab, (unsigned long long)ix->hash);
    if (st == XF_OK && ds->nseg && (th.vocab != ds->vocab || th.hash != ds->hash))
        st = xf_fail(XF_ERR_FORMAT, "%s: vocab %zu / tokenizer %016llx differ from %s (%zu / %016llx)", path,
                     th.vocab, (unsigned long long)th.hash, ds->seg[0].path, ds->vocab,
                     (unsigned long long)ds->hash);
    if (st == XF_OK && th.n > SIZE_MAX / 4 - ds->n)
        st = xf_fail(XF_ERR_FORMAT, "%s: too many tokens in all", path);
    char *p = st == XF_OK ? strdup(path) : NULL;
    if (st == XF_OK && !p) st = xf_fail(XF_ERR_OOM, "%s: out of memory", path);
    if (st != XF_OK) {
        close(fd);
        return st;
    }
    ds->seg[ds->nseg++] = (segment){.fd = fd, .path = p, .first = ds->n, .n = th.n, .width = th.width};
    /* (room was made by the caller) */
    ds->n += th.n;
    ds->vocab = th.vocab;
    ds->hash = th.hash;
    return XF_OK;
}

/* One pass over every id of segments [k0, nseg): each < vocab; records max_id. */
static xf_status check_ids(xf_dataset *ds, size_t k0) {
    enum { BLOCK = 1 << 18 };
    int32_t *buf = malloc(BLOCK * sizeof *buf);
    if (!buf) return xf_fail(XF_ERR_OOM, "%s: out of memory", ds->path);
    xf_status st = XF_OK;
    size_t max = ds->max_id;
    for (size_t k = k0; st == XF_OK && k < ds->nseg; k++) {
        const segment *s = &ds->seg[k];
        for (size_t i = 0; st == XF_OK && i < s->n; i += BLOCK) {
            size_t m = s->n - i < BLOCK ? s->n - i : BLOCK;
            int e = seg_read(s, i, m, buf);
            if (e) {
                st = xf_fail(XF_ERR_IO, "%s: read failed: %s", s->path, strerror(e));
                break;
            }
            for (size_t j = 0; j < m; j++) {
                uint32_t id = (uint32_t)buf[j];
                if (id >= ds->vocab) {
                    st = xf_fail(XF_ERR_FORMAT, "%s: token %zu has id %u, not below the vocab size %zu",
                                 s->path, i + j, id, ds->vocab);
                    break;
                }
                if (id > max) max = id;
            }
        }
    }
    free(buf);
    ds->max_id = max;
    return st;
}

/* Open the token files of f as segments. */
static xf_status open_token_files(xf_dataset *ds, const xf_data_files *f, const xf_tokenizer *tok) {
    segment *grown = realloc(ds->seg, (ds->nseg + f->n) * sizeof *grown);
    if (!grown) return xf_fail(XF_ERR_OOM, "%s: out of memory", ds->path);
    ds->seg = grown;
    size_t k0 = ds->nseg;
    for (size_t i = 0; i < f->n; i++) {
        int fd;
        size_t size;
        xf_status st = data_open_regular(f->paths[i], &fd, &size);
        if (st != XF_OK) return st;
        if (!has_magic(fd, size)) {
            close(fd);
            return xf_fail(XF_ERR_FORMAT, "%s: not a token file (no %s magic), while %s is one: "
                           "a data set is all token files or all text", f->paths[i], XF_TOKENS_MAGIC,
                           i ? f->paths[0] : "the data's first file");
        }
        if ((st = add_segment(ds, f->paths[i], fd, size, tok, f->ix, f->ix ? f->ix->counts[i] : 0)))
            return st;
    }
    return check_ids(ds, k0);
}

#define SMALL_TEXT ((size_t)8 << 20) /* text up to this is encoded in memory */

/* A single small text file: encoded whole in memory (ids as one segment). */
static xf_status open_small_text(xf_dataset *ds, const char *path, const xf_tokenizer *tok) {
    char *text = NULL;
    size_t len = 0;
    int32_t *ids = NULL;
    size_t n = 0;
    xf_status st = xf_file_read_all(path, &text, &len, SMALL_TEXT);
    if (st == XF_OK && len == 0) st = xf_fail(XF_ERR_FORMAT, "%s: empty file, no tokens", path);
    const char *nul = st == XF_OK ? memchr(text, '\0', len) : NULL;
    if (nul)
        st = xf_fail(XF_ERR_FORMAT, "%s: not a token file (no %s magic) and not text (NUL byte at offset %zu)",
                     path, XF_TOKENS_MAGIC, (size_t)(nul - text));
    if (st == XF_OK) st = xf_data_encode(tok, text, len, path, 0, &ids, &n, NULL, NULL);
    free(text);
    if (st == XF_OK && n == 0) st = xf_fail(XF_ERR_FORMAT, "%s: text encodes to no tokens", path);
    segment *grown = st == XF_OK ? realloc(ds->seg, (ds->nseg + 1) * sizeof *grown) : NULL;
    char *p = st == XF_OK ? strdup(path) : NULL;
    if (st == XF_OK && grown) ds->seg = grown;
    if (st == XF_OK && (!grown || !p)) st = xf_fail(XF_ERR_OOM, "%s: out of memory", path);
    if (st != XF_OK) {
        free(ids);
        free(p);
        return st;
    }
    size_t vocab = xf_tokenizer_vocab_size(tok), max = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || (size_t)ids[i] >= vocab) {
            st = xf_fail(XF_ERR_FORMAT, "%s: tokenizer %s gave id %d at token %zu (vocab %zu)", path,
                         xf_tokenizer_name(tok), (int)ids[i], i, vocab);
            free(ids);
            free(p);
            return st;
        }
        if ((size_t)ids[i] > max) max = (size_t)ids[i];
    }
    ds->seg[ds->nseg++] = (segment){.fd = -1, .mem = ids, .path = p, .first = ds->n, .n = n, .width = 4};
    ds->n += n;
    ds->vocab = vocab;
    ds->max_id = max;
    ds->hash = 0; /* text: it used tok */
    return XF_OK;
}

/* Text: encode it, streaming, into a temporary shard directory, open the
 * shards and unlink them (the open descriptors keep the data). */
static xf_status open_text(xf_dataset *ds, const char *spec, const xf_tokenizer *tok) {
    const char *base = getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/xfmr-data-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir))
        return xf_fail(XF_ERR_IO, "%s: cannot make a temporary directory for the encoded text in %s: %s", spec,
                       base && *base ? base : "/tmp", strerror(errno));
    xf_prepare_opts o = {.sharded = 1};
    xf_prepare_result r;
    xf_status st = xf_data_prepare(tok, spec, dir, &o, &r);
    xf_data_files f = {0};
    if (st == XF_OK) st = data_files_resolve(&f, dir);
    if (st == XF_OK) st = open_token_files(ds, &f, tok);
    if (st == XF_OK) ds->hash = 0; /* text: it used tok */
    for (size_t i = 0; i < f.n; i++) unlink(f.paths[i]);
    data_files_free(&f);
    char ipath[4200];
    snprintf(ipath, sizeof ipath, "%s/%s", dir, XF_SHARDS_INDEX);
    unlink(ipath);
    rmdir(dir);
    return st;
}

/* Why file `path` (no token magic) cannot be text: empty, or a NUL byte
 * (most likely a damaged token file); XF_OK when neither. Reads in blocks. */
static xf_status not_text(const char *path) {
    int fd;
    size_t size;
    xf_status st = data_open_regular(path, &fd, &size);
    if (st != XF_OK) return st;
    if (size == 0) st = xf_fail(XF_ERR_FORMAT, "%s: empty file, no tokens", path);
    char buf[1 << 16];
    for (size_t off = 0; st == XF_OK && off < size; off += sizeof buf) {
        size_t m = size - off < sizeof buf ? size - off : sizeof buf;
        int e = read_full(fd, buf, m, off);
        const char *nul = e ? NULL : memchr(buf, '\0', m);
        if (e) st = xf_fail(XF_ERR_IO, "%s: read failed: %s", path, strerror(e));
        else if (nul)
            st = xf_fail(XF_ERR_FORMAT, "%s: not a token file (no %s magic) and not text (NUL byte at offset %zu)",
                         path, XF_TOKENS_MAGIC, off + (size_t)(nul - buf));
    }
    close(fd);
    return st;
}

/* Open spec's files and append them to ds. */
static xf_status open_spec(xf_dataset *ds, const char *spec, const xf_tokenizer *tok) {
    xf_data_files f;
    xf_status st = data_files_resolve(&f, spec);
    if (st != XF_OK) return st;
    int fd;
    size_t size;
    st = data_open_regular(f.paths[0], &fd, &size);
    int tokens = st == XF_OK && has_magic(fd, size);
    if (st == XF_OK) close(fd);
    if (st == XF_OK && tokens) {
        st = open_token_files(ds, &f, tok);
    } else if (st == XF_OK && !tok) {
        st = not_text(f.paths[0]);
        if (st == XF_OK)
            st = xf_fail(XF_ERR_ARG, "%s: not a token file (no %s magic), and reading it as text needs a tokenizer",
                         f.paths[0], XF_TOKENS_MAGIC);
    } else if (st == XF_OK && f.n == 1 && size <= SMALL_TEXT) {
        st = open_small_text(ds, f.paths[0], tok);
    } else if (st == XF_OK) {
        st = open_text(ds, spec, tok);
    }
    data_files_free(&f);
    return st;
}

/* A fresh dataset named `spec`. */
static xf_dataset *dataset_new(const char *spec) {
    xf_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) return NULL;
    ds->path = strdup(spec);
    ds->read_err = calloc(1, sizeof *ds->read_err);
    if (!ds->path || !ds->read_err) {
        xf_dataset_free(ds);
        return NULL;
    }
    return ds;
}

xf_status xf_dataset_open(xf_dataset **out, const char *path, const xf_tokenizer *tok) {
    *out = NULL;
    if (!path || !*path) return xf_fail(XF_ERR_ARG, "dataset: empty path");
    xf_dataset *ds = dataset_new(path);
    if (!ds) return xf_fail(XF_ERR_OOM, "%s: out of memory", path);
    xf_status st = open_spec(ds, path, tok);
    if (st != XF_OK) {
        xf_dataset_free(ds);
        return st;
    }
    ds->n_train = ds->n;
    ds->n_val = 0;
    *out = ds;
    return XF_OK;
}

xf_status xf_dataset_set_val(xf_dataset *ds, xf_dataset *val) {
    xf_status st = XF_OK;
    if (ds->val_set)
        st = xf_fail(XF_ERR_ARG, "%s: already has a validation set", ds->path);
    else if (val->vocab != ds->vocab)
        st = xf_fail(XF_ERR_SHAPE, "%s: vocab size %zu differs from the training data's %s (%zu)", val->path,
                     val->vocab, ds->path, ds->vocab);
    else if (val->n > SIZE_MAX / 4 - ds->n)
        st = xf_fail(XF_ERR_FORMAT, "%s: too many tokens in all", val->path);
    segment *grown = st == XF_OK ? realloc(ds->seg, (ds->nseg + val->nseg) * sizeof *grown) : NULL;
    if (st == XF_OK && !grown) st = xf_fail(XF_ERR_OOM, "%s: out of memory", val->path);
    if (st != XF_OK) {
        xf_dataset_free(val);
        return st;
    }
    ds->seg = grown;
    for (size_t k = 0; k < val->nseg; k++) {
        ds->seg[ds->nseg] = val->seg[k];
        ds->seg[ds->nseg++].first += ds->n;
    }
    val->nseg = 0; /* the descriptors moved */
    ds->n += val->n;
    ds->val_set = val->n;
    if (val->max_id > ds->max_id) ds->max_id = val->max_id;
    ds->n_train = ds->n - ds->val_set;
    ds->n_val = ds->val_set;
    xf_dataset_free(val);
    return XF_OK;
}

void xf_dataset_free(xf_dataset *ds) {
    if (!ds) return;
    for (size_t k = 0; k < ds->nseg; k++) {
        if (ds->seg[k].fd >= 0) close(ds->seg[k].fd);
        free(ds->seg[k].mem);
        free(ds->seg[k].path);
    }
    free(ds->seg);
    free(ds->read_err);
    free(ds->path);
    free(ds);
}

size_t xf_dataset_len(const xf_dataset *ds) { return ds->n; }
uint64_t xf_dataset_tokenizer_hash(const xf_dataset *ds) { return ds->hash; }
size_t xf_dataset_vocab_size(const xf_dataset *ds) { return ds->vocab; }
size_t xf_dataset_max_id(const xf_dataset *ds) { return ds->max_id; }
size_t xf_dataset_train_len(const xf_dataset *ds) { return ds->n_train; }
size_t xf_dataset_val_len(const xf_dataset *ds) { return ds->n_val; }
size_t xf_dataset_files(const xf_dataset *ds) { return ds->nseg; }

xf_status xf_dataset_status(const xf_dataset *ds) {
    int e = __atomic_load_n(ds->read_err, __ATOMIC_RELAXED);
    if (e) return xf_fail(XF_ERR_IO, "%s: reading a window failed: %s", ds->path, strerror(e));
    return XF_OK;
}

/* ---- split and batches -------------------------------------------------------- */

xf_status xf_dataset_split(xf_dataset *ds, double val_fraction, size_t T) {
    const char *path = ds->path;
    if (!(val_fraction >= 0.0 && val_fraction < 1.0))
        return xf_fail(XF_ERR_ARG, "%s: validation fraction %g is not in [0, 1)", path,
                       val_fraction);
    if (T == 0) return xf_fail(XF_ERR_ARG, "%s: sequence length 0", path);
    size_t n = ds->n;
    if (ds->val_set) {
        /* a separate validation set: exactly its tokens, whatever the fraction */
        if (ds->val_set < T + 1 || n - ds->val_set < T + 1)
            return xf_fail(XF_ERR_SHAPE,
                           "%s: training data (%zu tokens) and validation data (%zu tokens) each need at "
                           "least %zu tokens for sequence length %zu", path, n - ds->val_set, ds->val_set,
                           T + 1, T);
        ds->n_val = ds->val_set;
        ds->n_train = n - ds->val_set;
        return XF_OK;
    }
    if (T >= n)
        return xf_fail(XF_ERR_SHAPE,
                       "%s: %zu tokens are too few for sequence length %zu (need at least %zu for "
                       "training alone)",
                       path, n, T, T + 1);
    size_t n_val = 0;
    if (val_fraction > 0) {
        double v = floor(val_fraction * (double)n);
        n_val = v >= (double)n ? n : (size_t)v;
        if (n_val < T + 1) n_val = T + 1;
    }
    if (n_val > n || n - n_val < T + 1)
        return xf_fail(XF_ERR_SHAPE,
                       "%s: %zu tokens are too few to split with validation fraction %g and "
                       "sequence length %zu: training would get %zu tokens and validation %zu, "
                       "each needs at least %zu",
                       path, n, val_fraction, T, n_val > n ? 0 : n - n_val, n_val, T + 1);
    ds->n_val = n_val;
    ds->n_train = n - n_val;
    return XF_OK;
}

/* The T+1 ids at `start` into inputs (first T) and targets (last T); tg is
 * used as scratch for the T+1 ids. A failed read zero-fills both and is
 * recorded for xf_dataset_status. */
static void window(const xf_dataset *ds, size_t start, size_t T, int32_t *in, int32_t *tg) {
    int e = read_ids(ds, start, T, in);
    if (!e) e = read_ids(ds, start + T, 1, tg + T - 1);
    if (e) {
        int zero = 0;
        __atomic_compare_exchange_n(ds->read_err, &zero, e, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
        memset(in, 0, T * sizeof *in);
        memset(tg, 0, T * sizeof *tg);
        return;
    }
    if (T > 1) memcpy(tg, in + 1, (T - 1) * sizeof *tg);
}

void xf_dataset_train_batch(const xf_dataset *ds, xf_rng *rng, size_t B, size_t T,
                            int32_t *inputs, int32_t *targets) {
    if (T == 0 || ds->n_train <= T) {
        /* precondition broken (no successful split): nothing sensible to read */
        memset(inputs, 0, B * T * sizeof *inputs);
        memset(targets, 0, B * T * sizeof *targets);
        return;
    }
    for (size_t b = 0; b < B; b++) {
        size_t start = (size_t)xf_rng_below(rng, (uint64_t)(ds->n_train - T));
        window(ds, start, T, inputs + b * T, targets + b * T);
    }
}

/* SplitMix64's finaliser (a bijection of 64-bit words). */
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

size_t xf_dataset_train_start(const xf_dataset *ds, uint64_t seed, uint64_t g, size_t row, size_t T) {
    if (T == 0 || ds->n_train <= T) return 0;
    uint64_t h = mix64(seed ^ mix64(g + 0x9e3779b97f4a7c15ull * (mix64((uint64_t)row) | 1)));
    return (size_t)(((unsigned __int128)h * (uint64_t)(ds->n_train - T)) >> 64);
}

void xf_dataset_train_rows(const xf_dataset *ds, uint64_t seed, uint64_t g, size_t row0, size_t rows,
                           size_t T, int32_t *inputs, int32_t *targets) {
    if (T == 0 || ds->n_train <= T) {
        memset(inputs, 0, rows * T * sizeof *inputs);
        memset(targets, 0, rows * T * sizeof *targets);
        return;
    }
    for (size_t r = 0; r < rows; r++)
        window(ds, xf_dataset_train_start(ds, seed, g, row0 + r, T), T, inputs + r * T, targets + r * T);
}

size_t xf_dataset_val_windows(const xf_dataset *ds, size_t T) {
    if (T == 0 || ds->n_val < T + 1) return 0;
    return (ds->n_val - 1) / T;
}

void xf_dataset_val_batch(const xf_dataset *ds, size_t index, size_t B, size_t T,
                          int32_t *inputs, int32_t *targets) {
    size_t nw = xf_dataset_val_windows(ds, T);
    if (nw == 0) {
        memset(inputs, 0, B * T * sizeof *inputs);
        memset(targets, 0, B * T * sizeof *targets);
        return;
    }
    size_t w = mulmod(index % nw, B % nw, nw); /* window of b = 0 */
    for (size_t b = 0; b < B; b++) {
        window(ds, ds->n_train + w * T, T, inputs + b * T, targets + b * T);
        w = w + 1 == nw ? 0 : w + 1;
    }
}

xf_status xf_dataset_copy(const xf_dataset *ds, size_t start, size_t n, int32_t *out) {
    if (start > ds->n || n > ds->n - start)
        return xf_fail(XF_ERR_ARG, "%s: tokens %zu..+%zu are past the end (%zu tokens)", ds->path,
                       start, n, ds->n);
    int e = read_ids(ds, start, n, out);
    if (e) return xf_fail(XF_ERR_IO, "%s: reading tokens %zu..+%zu failed: %s", ds->path, start, n, strerror(e));
    return XF_OK;
}

/* ---- writing ------------------------------------------------------------------ */

void tokens_header(unsigned char head[XF_TOKENS_HEADER_BYTES], unsigned width, size_t n,
                      size_t vocab_size, uint64_t tok_hash) {
    memset(head, 0, XF_TOKENS_HEADER_BYTES);
    memcpy(head + H_MAGIC, XF_TOKENS_MAGIC, strlen(XF_TOKENS_MAGIC));
    wr32(head + H_VERSION, XF_TOKENS_VERSION);
    wr32(head + H_WIDTH, width);
    wr64(head + H_NTOK, (uint64_t)n);
    wr64(head + H_HASH, tok_hash);
    wr32(head + H_VOCAB, (uint32_t)vocab_size);
}

void tokens_pack(unsigned char *buf, const int32_t *ids, size_t m, unsigned width) {
    for (size_t j = 0; j < m; j++) {
        uint32_t v = (uint32_t)ids[j];
        if (width == 2) {
            buf[2 * j] = (unsigned char)v;
            buf[2 * j + 1] = (unsigned char)(v >> 8);
        } else {
            wr32(buf + 4 * j, v);
        }
    }
}

xf_status xf_tokens_write(const char *path, const int32_t *ids, size_t n, size_t vocab_size,
                          uint64_t tok_hash) {
    if (vocab_size == 0 || vocab_size > UINT32_MAX)
        return xf_fail(XF_ERR_ARG, "%s: vocab size %zu is not in [1, 2^32)", path, vocab_size);
    unsigned width = vocab_size <= 65536 ? 2 : 4;
    if (n > (SIZE_MAX - XF_TOKENS_HEADER_BYTES) / width)
        return xf_fail(XF_ERR_OOM, "%s: %zu tokens are too many", path, n);
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= vocab_size)
            return xf_fail(XF_ERR_ARG, "%s: token %zu has id %d, not in [0, %zu)", path, i,
                           (int)ids[i], vocab_size);

    unsigned char head[XF_TOKENS_HEADER_BYTES];
    tokens_header(head, width, n, vocab_size, tok_hash);
    xf_afile *f;
    xf_status st = afile_open(&f, path);
    if (st != XF_OK) return st;
    st = afile_write(f, head, sizeof head);
    enum { CHUNK = 16384 };
    unsigned char buf[CHUNK * 4];
    for (size_t i = 0; st == XF_OK && i < n; i += CHUNK) {
        size_t m = n - i < CHUNK ? n - i : CHUNK;
        tokens_pack(buf, ids + i, m, width);
        st = afile_write(f, buf, m * width);
    }
    if (st != XF_OK) {
        afile_abort(f);
        return st;
    }
    return afile_commit(f);
}

/* ---- parallel encoding ---------------------------------------------------------- */

#define ENC_AUTO_CHUNK ((size_t)4 << 20) /* automatic chunks are at least 4 MiB */
#define ENC_CHECK_SPAN 1024              /* bytes each side of a cut that are re-encoded */
#define ENC_MAX_CANDIDATES 16            /* newline cuts tried per boundary */
#define ENC_SEARCH_SPAN ((size_t)1 << 16) /* how far past the target a cut is looked for */

static int same_ids(const int32_t *a, size_t na, const int32_t *b, size_t nb) {
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0);
}

/* 1 if encoding text[lo..hi) whole equals encoding text[lo..p) then text[p..hi),
 * with lo/hi about ENC_CHECK_SPAN bytes from p (kept on UTF-8 character starts). */
int data_cut_is_safe(const xf_tokenizer *tok, const char *text, size_t len, size_t lo_limit,
                       size_t p) {
    size_t lo = p - lo_limit > ENC_CHECK_SPAN ? p - ENC_CHECK_SPAN : lo_limit;
    size_t hi = len - p > ENC_CHECK_SPAN ? p + ENC_CHECK_SPAN : len;
    while (lo > lo_limit && ((unsigned char)text[lo] & 0xC0) == 0x80) lo--;
    while (hi < len && ((unsigned char)text[hi] & 0xC0) == 0x80) hi++;
    int32_t *w = NULL, *l = NULL, *r = NULL;
    size_t nw = 0, nl = 0, nr = 0;
    int ok = xf_tokenizer_encode(tok, text + lo, hi - lo, &w, &nw) == XF_OK &&
             xf_tokenizer_encode(tok, text + lo, p - lo, &l, &nl) == XF_OK &&
             xf_tokenizer_encode(tok, text + p, hi - p, &r, &nr) == XF_OK;
    ok = ok && nl + nr == nw && same_ids(w, nl, l, nl) && same_ids(w + nl, nr, r, nr);
    free(w);
    free(l);
    free(r);
    return ok;
}

/* The first of the next ENC_MAX_CANDIDATES positions p in [target, target +
 * ENC_SEARCH_SPAN) just after a '\n' that passes cut_is_safe; 0 if none.
 * Cuts are strictly inside (lo_limit, len). */
static size_t find_cut(const xf_tokenizer *tok, const char *text, size_t len, size_t lo_limit,
                       size_t target) {
    size_t end = len - target > ENC_SEARCH_SPAN ? target + ENC_SEARCH_SPAN : len;
    int tries = 0;
    for (size_t p = target; p < end && tries < ENC_MAX_CANDIDATES; p++) {
        if (p <= lo_limit || text[p - 1] != '\n') continue;
        tries++;
        if (data_cut_is_safe(tok, text, len, lo_limit, p)) return p;
    }
    return 0;
}

xf_status xf_data_encode(const xf_tokenizer *tok, const char *text, size_t len, const char *name,
                         size_t chunk_bytes, int32_t **ids, size_t *n, xf_progress_fn progress,
                         void *ctx) {
    *ids = NULL;
    *n = 0;
    if (!name) name = "text";
    if (len == 0) {
        *ids = malloc(sizeof **ids);
        if (!*ids) return xf_fail(XF_ERR_OOM, "%s: out of memory", name);
        if (progress) progress(0, 0, ctx);
        return XF_OK;
    }
    int threads = omp_get_max_threads();
    if (chunk_bytes == 0) {
        chunk_bytes = len / (4 * (size_t)(threads > 0 ? threads : 1));
        if (chunk_bytes < ENC_AUTO_CHUNK) chunk_bytes = ENC_AUTO_CHUNK;
    }

    /* cut points: cuts[0] = 0 < cuts[1] < ... < cuts[k] = len */
    size_t cap = 64, k = 0;
    size_t *cuts = malloc(cap * sizeof *cuts);
    if (!cuts) return xf_fail(XF_ERR_OOM, "%s: out of memory", name);
    cuts[0] = 0;
    size_t target = chunk_bytes;
    while (target < len) {
        size_t p = find_cut(tok, text, len, cuts[k], target);
        if (p) {
            if (k + 2 >= cap) {
                size_t *grown = realloc(cuts, 2 * cap * sizeof *cuts);
                if (!grown) {
                    free(cuts);
                    return xf_fail(XF_ERR_OOM, "%s: out of memory", name);
                }
                cuts = grown;
                cap *= 2;
            }
            cuts[++k] = p;
        }
        size_t from = p ? p : target;
        if (chunk_bytes > len - from) break;
        target = from + chunk_bytes;
    }
    cuts[++k] = len;
    size_t nchunks = k;

    int32_t **part = calloc(nchunks, sizeof *part);
    size_t *part_n = calloc(nchunks, sizeof *part_n);
    if (!part || !part_n) {
        free(cuts);
        free(part);
        free(part_n);
        return xf_fail(XF_ERR_OOM, "%s: out of memory", name);
    }
    xf_status first_st = XF_OK;
    size_t first_bad = SIZE_MAX, done = 0;
    char msg[1024] = "";

#pragma omp parallel for schedule(dynamic, 1) if (nchunks > 1)
    for (size_t c = 0; c < nchunks; c++) {
        xf_status st = xf_tokenizer_encode(tok, text + cuts[c], cuts[c + 1] - cuts[c], &part[c],
                                           &part_n[c]);
#pragma omp critical(xf_data_encode)
        {
            if (st != XF_OK && c < first_bad) {
                first_bad = c;
                first_st = st;
                snprintf(msg, sizeof msg, "%s", xf_last_error());
            }
            done += cuts[c + 1] - cuts[c];
            if (progress) progress(done, len, ctx);
        }
    }

    size_t bad_at = first_bad < nchunks ? cuts[first_bad] : 0;
    xf_status st = first_st;
    size_t total = 0;
    for (size_t c = 0; st == XF_OK && c < nchunks; c++) {
        if (part_n[c] > SIZE_MAX / sizeof(int32_t) - total) st = XF_ERR_OOM;
        total += part_n[c];
    }
    int32_t *all = NULL;
    if (st == XF_OK) {
        all = malloc((total ? total : 1) * sizeof *all);
        if (!all) st = XF_ERR_OOM;
    }
    if (st == XF_OK) {
        size_t at = 0;
        for (size_t c = 0; c < nchunks; c++) {
            if (part_n[c]) memcpy(all + at, part[c], part_n[c] * sizeof *all);
            at += part_n[c];
        }
    }
    for (size_t c = 0; c < nchunks; c++) free(part[c]);
    free(part);
    free(part_n);
    free(cuts);
    if (st != XF_OK) {
        if (first_st != XF_OK) {
            if (nchunks > 1)
                return xf_fail(st, "%s: in the text from byte %zu: %s", name, bad_at, msg);
            return xf_fail(st, "%s: %s", name, msg);
        }
        return xf_fail(st, "%s: out of memory for %zu tokens", name, total);
    }
    *ids = all;
    *n = total;
    return XF_OK;
}
