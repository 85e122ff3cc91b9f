/* xfmr: safetensors reader and writer.
 *
 * Format (huggingface/safetensors; docs/formats.md §1): an 8-byte
 * little-endian u64 N, then N bytes of UTF-8 JSON object (the header), then the
 * data buffer. The header maps each tensor name to
 *   {"dtype": "F32", "shape": [d0, ...], "data_offsets": [begin, end]}
 * (offsets relative to the start of the data buffer) and may hold
 * "__metadata__": {string: string}. Data is C-order, little-endian.
 *
 * The reader treats every file as hostile and enforces every rule the
 * reference reader enforces (listed at xf_st_open) plus the schema's "no extra
 * fields" and "no duplicate names"; the writer produces the layout of the
 * reference writer. */
#ifndef XFMR_SAFETENSORS_H
#define XFMR_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "xfmr/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Every dtype name the reference knows. The first ten are the common ones;
 * the numeric values are ours, not the file's (files use the names). */
typedef enum {
    XF_DT_F32 = 0,
    XF_DT_F16,
    XF_DT_BF16,
    XF_DT_F64,
    XF_DT_I64,
    XF_DT_I32,
    XF_DT_I16,
    XF_DT_I8,
    XF_DT_U8,
    XF_DT_BOOL,
    XF_DT_U16,
    XF_DT_U32,
    XF_DT_U64,
    XF_DT_C64,         /* complex64: two f32 */
    XF_DT_F8_E5M2,
    XF_DT_F8_E4M3,
    XF_DT_F8_E8M0,
    XF_DT_F8_E4M3FNUZ,
    XF_DT_F8_E5M2FNUZ,
    XF_DT_F6_E2M3,     /* 6 bits: a tensor's bit count must be a multiple of 8 */
    XF_DT_F6_E3M2,
    XF_DT_F4,          /* 4 bits, likewise */
    XF_DT_COUNT
} xf_dtype;

/* The file's name for dt ("F32", "BF16", ...); "?" for an invalid value. */
const char *xf_dtype_name(xf_dtype dt);

/* Bits per element (4, 6, 8, 16, 32 or 64); 0 for an invalid value. */
size_t xf_dtype_bits(xf_dtype dt);

/* Highest rank this library reads or writes; files with more dims are refused. */
#define XF_ST_MAX_DIMS 8

/* One tensor of an open file. All fields are validated; `name` is owned by
 * the file and lives until xf_st_close. */
typedef struct {
    const char *name;             /* NUL-terminated, valid UTF-8, no NUL inside */
    xf_dtype dtype;
    size_t ndim;                  /* 0 for a scalar */
    size_t shape[XF_ST_MAX_DIMS]; /* shape[0..ndim); entries past ndim are 0 */
    size_t numel;                 /* product of shape (1 for a scalar, 0 if empty) */
    size_t begin, end;            /* byte range in the data buffer; end - begin = numel*bits/8 */
} xf_st_tensor;

/* An open, fully validated safetensors file; its data stays mapped (mmap)
 * until xf_st_close. Read-only, so one file may be read from many threads. */
typedef struct xf_st_file xf_st_file;

/* Open and validate `path`; on success *out owns the mapping (free with
 * xf_st_close). Checks, each failing with XF_ERR_FORMAT and a message naming
 * the file and the problem:
 *   - file >= 8 bytes; header length N <= 100,000,000 and 8+N <= file size;
 *   - header is valid UTF-8 and strict JSON (RFC 8259; whitespace allowed
 *     around the object; numbers must be plain non-negative integers, since
 *     the format has no others; no "\u0000" in strings; nesting <= 64, arrays
 *     <= 64 elements) whose value is an object;
 *   - each tensor entry is an object with exactly "dtype" (a known name),
 *     "shape" (array of <= XF_ST_MAX_DIMS integers) and "data_offsets" (two
 *     integers, begin <= end), every integer in [0, 2^53);
 *   - numel and numel*bits computed with overflow checks; numel*bits a whole
 *     number of bytes equal to end - begin;
 *   - sorted by offsets, tensors tile the data buffer from 0 with no overlap
 *     or gap, and 8 + N + last end == file size exactly;
 *   - no duplicate tensor names (nor two "__metadata__");
 *   - "__metadata__", if present, is an object of string values with
 *     distinct keys.
 * Fails with XF_ERR_IO if the file cannot be opened or mapped, XF_ERR_OOM if
 * memory runs out. On failure *out is NULL. */
xf_status xf_st_open(xf_st_file **out, const char *path);

/* Unmap and free. NULL-safe. Pointers from the file become invalid. */
void xf_st_close(xf_st_file *f);

/* Number of tensors (not counting "__metadata__"). */
size_t xf_st_count(const xf_st_file *f);

/* Tensor i (0 <= i < xf_st_count) in header order; NULL if i is out of range.
 * Owned by f. */
const xf_st_tensor *xf_st_at(const xf_st_file *f, size_t i);

/* Tensor called `name` (O(log n)); NULL if absent. Owned by f. */
const xf_st_tensor *xf_st_find(const xf_st_file *f, const char *name);

/* First byte of t's data inside the mapping (t must come from f). The pointer
 * may be unaligned for the dtype: read through memcpy. Valid until close. */
const void *xf_st_data(const xf_st_file *f, const xf_st_tensor *t);

/* Value of metadata key `key`; NULL if absent. Owned by f. */
const char *xf_st_meta(const xf_st_file *f, const char *key);

/* The path f was opened with (owned by f). */
const char *xf_st_path(const xf_st_file *f);

/* Copy tensor `name` into dst[0..numel) as float32, converting F32, F16,
 * BF16 and F64 (F64 rounds to nearest; NaN/Inf pass through). The tensor's
 * shape must equal (ndim, shape) exactly; shape may be NULL when ndim is 0.
 * Fails, naming the file and tensor, with XF_ERR_FORMAT if the tensor is
 * absent, XF_ERR_SHAPE if its shape differs (both shapes in the message),
 * XF_ERR_UNSUPPORTED if its dtype is not one of those four (dtype named).
 * dst is untouched on failure. */
xf_status xf_st_read_f32(const xf_st_file *f, const char *name, float *dst, size_t ndim,
                         const size_t *shape);

/* Same for integer tensors into int64: I64, I32, I16, I8, U64, U32, U16, U8
 * and BOOL (0 or 1). A U64 value above INT64_MAX fails with XF_ERR_FORMAT
 * naming the element; float dtypes fail with XF_ERR_UNSUPPORTED. */
xf_status xf_st_read_i64(const xf_st_file *f, const char *name, int64_t *dst, size_t ndim,
                         const size_t *shape);

/* Writer: collect tensors (borrowed) and metadata, then write one file. */
typedef struct xf_st_writer xf_st_writer;

/* New empty writer in *out (free with xf_st_writer_free). XF_ERR_OOM on
 * failure, then *out is NULL. */
xf_status xf_st_writer_create(xf_st_writer **out);

/* Add tensor `name` (copied) of dtype dt and shape[0..ndim) (copied; NULL
 * allowed when ndim is 0). `data` (native = little-endian layout, numel
 * elements, may be NULL only when the tensor is empty) is borrowed, not
 * copied: it must stay valid and unchanged until xf_st_writer_write returns.
 * Fails with XF_ERR_ARG on a duplicate name, the reserved name
 * "__metadata__", a name that is not valid UTF-8, ndim > XF_ST_MAX_DIMS, a
 * dim >= 2^53, an invalid dtype, or a sub-byte tensor whose bit count is not a
 * multiple of 8; XF_ERR_OOM if numel*bits overflows or memory runs out. */
xf_status xf_st_writer_add(xf_st_writer *w, const char *name, xf_dtype dt, size_t ndim,
                           const size_t *shape, const void *data);

/* Set metadata `key` to `value` (both copied, valid UTF-8). Setting a key
 * again replaces its value; "format" starts as "pt" and may be replaced.
 * XF_ERR_ARG on invalid UTF-8, XF_ERR_OOM. */
xf_status xf_st_writer_meta(xf_st_writer *w, const char *key, const char *value);

/* Write everything to `path` atomically (xf_afile: temp file + rename; on any
 * failure `path` is untouched and no temp file is left). Layout as the
 * reference writer: "__metadata__" first ("format" first inside it, then the
 * other keys in the order set), then tensors sorted by dtype alignment
 * descending (the reference dtype order) and then by name (bytewise), data
 * back to back; the header is padded with spaces so N % 8 == 0. Tensor data is
 * streamed from the borrowed buffers, never copied whole. The writer stays
 * valid and may be written again. Fails with XF_ERR_IO (see xf_afile),
 * XF_ERR_ARG if the header would exceed 100,000,000 bytes, XF_ERR_OOM. */
xf_status xf_st_writer_write(xf_st_writer *w, const char *path);

/* Free the writer and its copies of names/metadata (not the borrowed data).
 * NULL-safe. */
void xf_st_writer_free(xf_st_writer *w);

#ifdef __cplusplus
}
#endif

#endif
