// bfloat16: the upper 16 bits of an IEEE float32 (8 exponent bits, 7 mantissa bits). Conversions
// in plain C++, shared by the packing, the drivers and the references.
#pragma once
#include <cstdint>
#include <cstring>

namespace pomt {

// The bits of float32 x rounded to nearest even at bf16's precision (the low 16 bits zero); a NaN
// stays a quiet NaN of the same sign, ±inf stays ±inf. Branch-free, so loops over rows vectorize.
inline uint32_t bf16_rounded_bits(uint32_t u) {
    const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    const uint32_t nan = (u | 0x00400000u) & 0xffff0000u;
    return (u & 0x7fffffffu) > 0x7f800000u ? nan : rounded;
}

// float32 → bf16, round to nearest even (what PyTorch's .to(torch.bfloat16) and vcvtneps2bf16
// do).
inline uint16_t bf16_from_float(float x) {
    uint32_t u;
    std::memcpy(&u, &x, 4);
    return uint16_t(bf16_rounded_bits(u) >> 16);
}

// bf16 → float32: exact.
inline float bf16_to_float(uint16_t h) {
    const uint32_t u = uint32_t(h) << 16;
    float x;
    std::memcpy(&x, &u, 4);
    return x;
}

// x rounded to the nearest bf16, as a float.
inline float round_to_bf16(float x) { return bf16_to_float(bf16_from_float(x)); }

// Rows of floats rounded to bf16: as bf16 values (n of them at out), or as floats.
inline void round_row_to_bf16(const float* x, int n, uint16_t* out) {
    for (int i = 0; i < n; ++i) {
        uint32_t u;
        std::memcpy(&u, x + i, 4);
        out[i] = uint16_t(bf16_rounded_bits(u) >> 16);
    }
}
inline void round_row_to_bf16(const float* x, int n, float* out) {
    for (int i = 0; i < n; ++i) {
        uint32_t u;
        std::memcpy(&u, x + i, 4);
        u = bf16_rounded_bits(u);
        std::memcpy(out + i, &u, 4);
    }
}

}  // namespace pomt
