// bfloat16: the upper 16 bits of an IEEE float32 (8 exponent bits, 7 mantissa bits). Conversions
// in plain C++, shared by the packing, the drivers and the references.
#pragma once
#include <cstdint>
#include <cstring>

namespace pomt {

// float32 → bf16, round to nearest even (what PyTorch's .to(torch.bfloat16) and vcvtneps2bf16
// do); a NaN stays a quiet NaN of the same sign, ±inf stays ±inf.
inline uint16_t bf16_from_float(float x) {
    uint32_t u;
    std::memcpy(&u, &x, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x0040u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return uint16_t(u >> 16);
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

}  // namespace pomt
