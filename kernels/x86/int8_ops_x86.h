// What the x86 int8 variants share: loads, stores and conversions of their "int8 ops" types
// (kernels/gemm_int8_block.h). Each variant file adds its multiply-add (prep_a, madd, finish).
#pragma once
#include <cstdint>
#include <cstring>

#include "kernels/gemm_int8_block.h"

namespace pomt {
namespace simd {

// The 4 activation bytes of one group as a 32-bit word (to broadcast to every lane).
POMT_INLINE int32_t group_word(const int8_t* p) {
    int32_t x;
    std::memcpy(&x, p, 4);
    return x;
}

// The VNNI variants' prepare_a (kernels/gemm_int8_block.h): bytes (a multiple of 4) of src
// XOR 0x80 into dst, i.e. q + 128 as u8, the operand vpdpbusd multiplies as unsigned.
POMT_INLINE void copy_xor_0x80(const int8_t* src, int8_t* dst, int bytes) {
    int i = 0;
#if defined(__AVX512BW__)
    const __m512i m = _mm512_set1_epi8(char(0x80));
    for (; i + 64 <= bytes; i += 64)
        _mm512_storeu_si512(dst + i, _mm512_xor_si512(_mm512_loadu_si512(src + i), m));
    if (i < bytes) {
        const __mmask64 left = (__mmask64(1) << (bytes - i)) - 1;
        _mm512_mask_storeu_epi8(dst + i, left, _mm512_xor_si512(_mm512_maskz_loadu_epi8(left, src + i), m));
    }
#elif defined(__AVX2__)
    const __m256i m = _mm256_set1_epi8(char(0x80));
    for (; i + 32 <= bytes; i += 32)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i),
                            _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i)), m));
    for (; i < bytes; i += 4) {
        const int32_t w = group_word(src + i) ^ int32_t(0x80808080u);
        std::memcpy(dst + i, &w, 4);
    }
#endif
}

#if defined(__AVX512F__)
struct Int8Avx512Base {
    using V = VecAvx512;
    using I32 = __m512i;
    using W = __m512i;
    static constexpr int lanes = 16, kstep = 1;
    static __m512i zero() { return _mm512_setzero_si512(); }
    static W load_w(const int8_t* p) { return _mm512_loadu_si512(p); }
    static V::T to_float(I32 x) { return _mm512_cvtepi32_ps(x); }
    static void store_i32(int32_t* p, I32 x) { _mm512_storeu_si512(p, x); }
    // v holds values in [−127, 127]; vcvtps2dq rounds them to the nearest integer (MXCSR's mode, as
    // nearbyint), so quantize_row leaves the rounding to it.
    static constexpr bool store_q_rounds = true;
    static void store_q(int8_t* q, V::T v) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v)));
    }
};
#endif

#if defined(__AVX2__)
struct Int8Avx2Base {
    using V = VecAvx2;
    using I32 = __m256i;
    using W = __m256i;
    static constexpr int lanes = 8, kstep = 1;
    static __m256i zero() { return _mm256_setzero_si256(); }
    static W load_w(const int8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
    static V::T to_float(I32 x) { return _mm256_cvtepi32_ps(x); }
    static void store_i32(int32_t* p, I32 x) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), x); }
    static constexpr bool store_q_rounds = true;  // as the avx512 base's
    static void store_q(int8_t* q, V::T v) {
        const __m256i i = _mm256_cvtps_epi32(v);
        const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256(i, 1));
        _mm_storel_epi64(reinterpret_cast<__m128i*>(q), _mm_packs_epi16(w16, w16));
    }
};
#endif

}  // namespace simd
}  // namespace pomt
