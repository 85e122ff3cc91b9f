/* Private to the safetensors code (include/xfmr/safetensors.h), which is three
 * files with one concern each:
 *   safetensors.c        dtype table, shared checks, and the reader;
 *   safetensors_json.c   the strict JSON syntax check of a header (layer 2);
 *   safetensors_write.c  the writer.
 * The file layout and the reader's four layers of checks are described at the
 * top of safetensors.c (docs/formats.md §1). */
#ifndef XF_IO_SAFETENSORS_INT_H
#define XF_IO_SAFETENSORS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "xfmr/safetensors.h"

#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && \
    __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors reads and writes tensor data in host byte order and needs a little-endian host"
#endif

#define ST_MAX_HEADER ((uint64_t)100000000)  /* reference MAX_HEADER_SIZE */
#define ST_INT_LIMIT ((size_t)1 << 53)       /* integers in the header are below this */
#define ST_META_KEY "__metadata__"

/* name, bits per element, and position in the reference Dtype enum (which is
 * ordered by increasing alignment; the writer sorts by it, descending). */
typedef struct {
    const char *name;
    unsigned bits;
    unsigned ref_order;
} st_dtype_info;

extern const st_dtype_info g_dtypes[XF_DT_COUNT]; /* safetensors.c */

/* Offset of the first byte of s[0..n) that is not part of valid UTF-8, or n
 * (safetensors.c). */
size_t utf8_invalid_at(const unsigned char *s, size_t n);

/* a*b into *out; 0 on overflow (safetensors.c). */
int mul_ok(size_t a, size_t b, size_t *out);

/* Strict syntax check of the header s[0..n) of file `path`: one JSON object,
 * RFC 8259 plus safetensors' number rule (safetensors_json.c). */
xf_status st_check_json(const char *path, const unsigned char *s, size_t n);

#endif
