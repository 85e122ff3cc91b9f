/* f16, bf16 and Q8_0 conversions (see numfmt.h). */
#include "io/numfmt.h"

#include <math.h>
#include <string.h>

float num_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu, man = h & 0x3FFu, bits;
    if (exp == 0x1F) {
        bits = sign | 0x7F800000u | (man << 13);
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    } else if (man == 0) {
        bits = sign;
    } else { /* value man * 2^-24: shift the leading 1 up to bit 10 */
        uint32_t e = 113;
        while (!(man & 0x400u)) {
            man <<= 1;
            e--;
        }
        bits = sign | (e << 23) | ((man & 0x3FFu) << 13);
    }
    float x;
    memcpy(&x, &bits, 4);
    return x;
}

/* Round to nearest even; overflow gives Inf, NaN stays a (quiet) NaN. */
uint16_t num_f32_to_f16(float x) {
    uint32_t b;
    memcpy(&b, &x, 4);
    uint16_t sign = (uint16_t)((b >> 16) & 0x8000u);
    uint32_t exp = (b >> 23) & 0xFFu, man = b & 0x7FFFFFu;
    if (exp == 0xFF) return (uint16_t)(sign | 0x7C00u | (man ? 0x200u : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7C00u);
    if (e <= 0) { /* subnormal half (or zero): value = m * 2^-24 */
        if (e < -10) return sign;
        man |= 0x800000u;
        int shift = 14 - e; /* 24-bit mantissa down to the subnormal's 10 bits */
        uint32_t q = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return (uint16_t)(sign | q);
    }
    uint32_t q = ((uint32_t)e << 10) | (man >> 13), rem = man & 0x1FFFu;
    if (rem > 0x1000u || (rem == 0x1000u && (q & 1))) q++; /* a carry into the exponent is right */
    return (uint16_t)(sign | q);
}

float num_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float x;
    memcpy(&x, &bits, 4);
    return x;
}

uint16_t num_f32_to_bf16(float x) {
    uint32_t b;
    memcpy(&b, &x, 4);
    if ((b & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((b >> 16) | 0x40u); /* quiet NaN */
    b += 0x7FFFu + ((b >> 16) & 1u);
    return (uint16_t)(b >> 16);
}

/* Block: d = max|x| / 127 (stored as f16), q_i = round(x_i / d). */
void q8_0_quantize(const float *x, size_t n, uint8_t *out) {
    for (size_t b = 0; b < n / XF_Q8_0_BLOCK; b++) {
        const float *v = x + b * XF_Q8_0_BLOCK;
        uint8_t *o = out + b * XF_Q8_0_BYTES;
        float amax = 0;
        for (int i = 0; i < XF_Q8_0_BLOCK; i++) amax = fmaxf(amax, fabsf(v[i]));
        float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
        uint16_t dh = num_f32_to_f16(d);
        o[0] = (uint8_t)(dh & 0xFF);
        o[1] = (uint8_t)(dh >> 8);
        for (int i = 0; i < XF_Q8_0_BLOCK; i++) {
            float q = roundf(v[i] * id);
            q = q > 127 ? 127 : q < -127 ? -127 : q;
            o[2 + i] = (uint8_t)(int8_t)q;
        }
    }
}

void q8_0_dequantize(const uint8_t *in, size_t n, float *y) {
    for (size_t b = 0; b < n / XF_Q8_0_BLOCK; b++) {
        const uint8_t *o = in + b * XF_Q8_0_BYTES;
        float d = num_f16_to_f32((uint16_t)(o[0] | (o[1] << 8)));
        for (int i = 0; i < XF_Q8_0_BLOCK; i++) y[b * XF_Q8_0_BLOCK + i] = (float)(int8_t)o[2 + i] * d;
    }
}
