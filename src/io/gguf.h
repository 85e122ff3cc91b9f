/* GGUF v3 container: a hostile-input reader and a writer (docs/formats.md §GGUF).
 *
 * File: "GGUF" | u32 version | u64 n_tensors | u64 n_kv | n_kv x (string key,
 * u32 type, value) | n_tensors x (string name, u32 n_dims, u64 ne[n_dims],
 * u32 ggml type, u64 offset) | padding to the alignment | tensor data.
 * Strings are u64 length + bytes; arrays are u32 element type + u64 count +
 * elements. ne[0] is the contiguous (innermost) dimension, so a [out, in]
 * matrix has ne = {in, out}. Little-endian only.
 *
 * The reader maps the file and checks every count, length and offset against
 * the bytes left before using it; tensor data must be aligned, inside the
 * data section and not overlap. Failures name the file and the problem. */
#ifndef XF_IO_GGUF_H
#define XF_IO_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "xfmr/status.h"

enum {
    GGUF_U8 = 0, GGUF_I8, GGUF_U16, GGUF_I16, GGUF_U32, GGUF_I32, GGUF_F32, GGUF_BOOL,
    GGUF_STRING, GGUF_ARRAY, GGUF_U64, GGUF_I64, GGUF_F64, GGUF_NTYPES
};
/* ggml tensor types this code reads and writes */
enum { GGML_F32 = 0, GGML_F16 = 1, GGML_Q8_0 = 8, GGML_BF16 = 30 };

#define GGUF_MAX_DIMS 4
#define GGUF_DEFAULT_ALIGNMENT 32

typedef struct {
    const char *key;     /* not NUL-terminated: klen bytes */
    size_t klen;
    uint32_t type;       /* GGUF_* */
    uint32_t atype;      /* arrays: element type */
    uint64_t n;          /* arrays: element count */
    const uint8_t *val;  /* scalar bytes, string (u64 len + bytes) or array elements */
    size_t *soff;        /* string arrays: offset of element i's u64 length from val */
} gguf_kv;

typedef struct {
    const char *name;
    size_t nlen;
    uint32_t ndim;
    uint64_t ne[GGUF_MAX_DIMS];
    uint32_t type;       /* GGML_* */
    uint64_t offset;     /* from the start of the data section */
    size_t numel, nbytes;
    const uint8_t *data;
} gguf_tensor;

typedef struct gguf_file gguf_file;

/* Map and parse `path`. */
xf_status gguf_open(gguf_file **out, const char *path);
/* Parse bytes in memory (kept by the caller until gguf_close); `path` for messages. */
xf_status gguf_parse(gguf_file **out, const void *data, size_t len, const char *path);
void gguf_close(gguf_file *f); /* NULL-safe */

const char *gguf_path(const gguf_file *f);
uint32_t gguf_version(const gguf_file *f);
size_t gguf_kv_count(const gguf_file *f);
const gguf_kv *gguf_kv_at(const gguf_file *f, size_t i);
const gguf_kv *gguf_find(const gguf_file *f, const char *key); /* NULL when absent */
size_t gguf_tensor_count(const gguf_file *f);
const gguf_tensor *gguf_tensor_at(const gguf_file *f, size_t i);
const gguf_tensor *gguf_tensor_find(const gguf_file *f, const char *name);

/* Typed getters; a missing key gives XF_ERR_FORMAT when required, else
 * XF_OK leaving *out untouched. Any integer type in range is accepted. */
xf_status gguf_get_uint(const gguf_file *f, const char *key, int required, uint64_t max, uint64_t *out);
xf_status gguf_get_f32(const gguf_file *f, const char *key, int required, float *out);
xf_status gguf_get_bool(const gguf_file *f, const char *key, int required, int *out);
/* String: *s points into the file (len bytes, not NUL-terminated). */
xf_status gguf_get_str(const gguf_file *f, const char *key, int required, const char **s, size_t *len);
/* Array element i of a string array / a numeric array (converted). */
void gguf_arr_str(const gguf_kv *kv, uint64_t i, const char **s, size_t *len);
double gguf_arr_num(const gguf_kv *kv, uint64_t i);

/* Dequantise tensor t (f32, f16, bf16, q8_0) into dst[t->numel]. */
xf_status gguf_tensor_f32(const gguf_file *f, const gguf_tensor *t, float *dst);
/* Bytes of n elements of ggml type `type` (0 when unsupported or n is not whole blocks). */
size_t gguf_type_bytes(uint32_t type, size_t n);
const char *gguf_type_name(uint32_t type);

/* ---- writer ---- */
typedef struct gguf_writer gguf_writer;

xf_status gguf_writer_create(gguf_writer **out);
void gguf_writer_free(gguf_writer *w); /* NULL-safe */
xf_status gguf_w_str(gguf_writer *w, const char *key, const char *val);
xf_status gguf_w_u32(gguf_writer *w, const char *key, uint32_t val);
xf_status gguf_w_i32(gguf_writer *w, const char *key, int32_t val);
xf_status gguf_w_f32(gguf_writer *w, const char *key, float val);
xf_status gguf_w_bool(gguf_writer *w, const char *key, int val);
/* Arrays: strings (s[i] of len[i] bytes), f32, i32. */
xf_status gguf_w_arr_str(gguf_writer *w, const char *key, const char *const *s, const size_t *len, size_t n);
xf_status gguf_w_arr_f32(gguf_writer *w, const char *key, const float *v, size_t n);
xf_status gguf_w_arr_i32(gguf_writer *w, const char *key, const int32_t *v, size_t n);
/* A tensor from f32 values (ne as in the file: ne[0] innermost), stored as
 * `type` (GGML_F32, F16, BF16 or Q8_0; Q8_0 needs ne[0] % 32 == 0). Copied. */
xf_status gguf_w_tensor(gguf_writer *w, const char *name, uint32_t ndim, const uint64_t *ne, uint32_t type,
                        const float *data);
/* Write the file atomically (io/file.h). */
xf_status gguf_writer_write(gguf_writer *w, const char *path);

#endif
