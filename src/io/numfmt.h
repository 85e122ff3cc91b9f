/* Number formats of foreign model files: IEEE half (f16), bfloat16 and
 * ggml's Q8_0 blocks (32 int8 values sharing one f16 scale; docs/formats.md
 * §GGUF). Conversions to f32 are exact; conversions from f32 round to nearest,
 * ties to even (f16, bf16) or half away from zero (the int8 values, as
 * llama.cpp's reference quantiser rounds). */
#ifndef XF_IO_NUMFMT_H
#define XF_IO_NUMFMT_H

#include <stddef.h>
#include <stdint.h>

#define XF_Q8_0_BLOCK 32                 /* values per block */
#define XF_Q8_0_BYTES (2 + XF_Q8_0_BLOCK) /* f16 scale + 32 int8 */

float num_f16_to_f32(uint16_t h);
uint16_t num_f32_to_f16(float x);
float num_bf16_to_f32(uint16_t h);
uint16_t num_f32_to_bf16(float x);

/* n values (a multiple of XF_Q8_0_BLOCK) <-> n/32 blocks of XF_Q8_0_BYTES. */
void q8_0_quantize(const float *x, size_t n, uint8_t *out);
void q8_0_dequantize(const uint8_t *in, size_t n, float *y);

#endif
