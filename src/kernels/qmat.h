/* Compact weight matrices for decoding and their matrix-vector products
 * (qmat.c). Decoding one token reads every weight once and does two flops per
 * weight, so its speed is the memory bandwidth divided by the bytes per
 * weight: these formats trade precision for bytes.
 *
 * Formats (row-major [rows, cols], each row stored on its own):
 *   f32   4 bytes per weight
 *   bf16  2 bytes: the top 16 bits of the f32, rounded to nearest even
 *   f16   2 bytes: IEEE binary16, rounded to nearest even (overflow -> inf)
 *   q8_0  34 bytes per block of 32 weights: an f16 scale d and 32 int8 q with
 *         w = d * q, d = max|w| / 127, q = round(w / d) (ggml's block_q8_0
 *         layout; a row of cols weights is ceil(cols/32) blocks, the last one
 *         padded with zeros).
 * Products: out[n, o] = sum_c W[o, c] x[n, c] (+ b[o]) in f32 accumulation.
 * q8_0 quantises each x row to q8_0 blocks first (as ggml does) and sums
 * int8 x int8 products exactly in int32 per block, scaled by d_w * d_x.
 *
 * Paths, chosen at run time from the CPU (not the compiler flags): AVX-512
 * (F, BW, VL; VNNI for q8_0 when present), AVX2+FMA+F16C, and portable C.
 * Every path gives the same results up to float summation order (q8_0's int32
 * block sums are exact on every path); tests compare each against the
 * portable one. Threads split the output rows (static schedule; each output
 * element is summed in a fixed order, so results do not depend on the thread
 * count). Contract as in kernels.h: no allocation, no failure. */
#ifndef XF_KERNELS_QMAT_H
#define XF_KERNELS_QMAT_H

#include <stddef.h>
#include <stdint.h>

#include "io/numfmt.h"

typedef enum { XF_WT_F32 = 0, XF_WT_BF16, XF_WT_F16, XF_WT_Q8_0, XF_WT_COUNT } xf_wtype;

#define XF_Q8_BLOCK XF_Q8_0_BLOCK /* weights per q8_0 block */
#define XF_Q8_BYTES XF_Q8_0_BYTES /* bytes per q8_0 block: f16 scale + 32 int8 */

typedef struct {
    xf_wtype dt;
    size_t rows, cols;
    const uint8_t *data; /* qmat_bytes(dt, rows, cols) bytes */
} xf_qmat;

/* "f32", "bf16", "f16", "q8_0" <-> xf_wtype; -1 for an unknown name */
int wtype_parse(const char *name);
const char *wtype_name(xf_wtype dt);

/* bytes of one row and of a whole matrix (SIZE_MAX on overflow) */
size_t qmat_row_bytes(xf_wtype dt, size_t cols);
size_t qmat_bytes(xf_wtype dt, size_t rows, size_t cols);

/* dst (qmat_bytes bytes) = w [rows, cols] converted to dt */
void qmat_pack(uint8_t *dst, const float *w, xf_wtype dt, size_t rows, size_t cols);
/* dst [cols] = row r of m, back in f32 */
void qmat_unpack_row(float *dst, const xf_qmat *m, size_t r);

/* q8_0 of n floats (n multiple of 32 not required: the last block is zero
 * padded). The scalar conversions and the block quantiser are io/numfmt.h's,
 * the same that GGUF files are written with. */
void qmat_q8_row(uint8_t *dst, const float *x, size_t n);

/* Bytes of scratch qmat_forward needs for N rows of cols inputs (the q8_0
 * copy of x; 0 for the other formats). */
size_t qmat_scratch_bytes(xf_wtype dt, size_t N, size_t cols);

/* out [N, rows] = x [N, cols] W^T + b (b may be NULL). scratch: see above. */
void qmat_forward(float *out, const float *x, const xf_qmat *w, const float *b, size_t N,
                     uint8_t *scratch);

/* The path in use: 0 portable C, 1 AVX2, 2 AVX-512. qmat_set_path forces
 * one (tests; clamped to what the CPU has) and returns the one chosen; -1
 * restores the best. */
int qmat_path(void);
int qmat_set_path(int path);
const char *qmat_path_name(int path);

#endif
