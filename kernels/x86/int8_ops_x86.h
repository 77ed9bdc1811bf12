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
