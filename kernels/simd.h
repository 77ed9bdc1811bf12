// A thin vector abstraction so each kernel is written once as a template and instantiated per ISA:
// VecF1 (plain float, always), VecAvx2 (8 lanes, when compiled with -mavx2 -mfma), VecAvx512
// (16 lanes, with -mavx512f), VecNeon (4 lanes, aarch64). Only the per-ISA translation units
// (kernels/x86/*_avx2.cpp, *_avx512.cpp, kernels/arm/*.cpp) see the vector types, so the rest of
// the x86-64 binary stays portable.
//
// VecF1 is the scalar level's "vector" too: the Scalar table instantiates the same kernel templates
// with it (kernels/kernels_scalar.cpp). Every per-ISA intrinsic lives here (the vector types and
// their register transposes), so the kernel templates (kernels/gemm_block.h, kernels/ops_impl.h)
// name none.
//
// The math here (exp, GELU) is shared by every level: each step is one correctly rounded IEEE
// operation (FMA included), so scalar and vector levels give the same bits.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/gemm.h"  // kGeluFastP

#if defined(__AVX2__) || defined(__AVX512F__)
// GCC 12 warns about the deliberately undefined source vectors inside its own AVX-512 intrinsics
// (GCC bug 105593, fixed in 13); the warning points into the header, so silencing it here is enough.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#else
#include <immintrin.h>
#endif
#endif
#if defined(__aarch64__)
#include <arm_neon.h>
#endif

#if defined(__GNUC__)
#define POMT_INLINE inline __attribute__((always_inline))
#define POMT_NOINLINE __attribute__((noinline))
#else
#define POMT_INLINE inline
#define POMT_NOINLINE
#endif

namespace pomt {
namespace simd {

// A size × size block of floats (rows at src + i·lds) stored transposed (rows at dst + c·ldd), in
// registers; size 0: no such kernel for V (callers then transpose one value at a time).
template <class V>
struct TransposeBlock {
    static constexpr int size = 0;
    static void block(const float*, size_t, float*, size_t) {}
};

// ---- plain float: the scalar level, the template reference for the vector types, and the tails ----
// (std::fma and std::nearbyint are exact IEEE operations, as the vector instructions are.)
struct VecF1 {
    using T = float;
    static constexpr int lanes = 1;
    static T zero() { return 0.0f; }
    static T set1(float x) { return x; }
    static T load1(const float* p) { return *p; }  // *p in every lane (the GEMM's A operand)
    static T load(const float* p) { return *p; }
    static void store(float* p, T v) { *p = v; }
    static T load_partial(const float* p, int) { return *p; }
    static void store_partial(float* p, T v, int) { *p = v; }
    static T add(T a, T b) { return a + b; }
    static T sub(T a, T b) { return a - b; }
    static T mul(T a, T b) { return a * b; }
    static T div(T a, T b) { return a / b; }
    static T fmadd(T a, T b, T c) { return std::fma(a, b, c); }   // a·b + c, one rounding
    static T fnmadd(T a, T b, T c) { return std::fma(-a, b, c); }  // c − a·b
    static T max(T a, T b) { return a > b ? a : b; }
    static T min(T a, T b) { return a < b ? a : b; }
    static T abs(T a) { return std::fabs(a); }
    static T round(T a) { return std::nearbyint(a); }
    // 2^n for integral n in [-127, 127] held as a float (−127 gives 0: exp flushes to zero).
    static T pow2i(T n) {
        int32_t bits = (int32_t(n) + 127) << 23;
        float f;
        std::memcpy(&f, &bits, 4);
        return f;
    }
    // The lanes rounded to bf16 and stored as 16-bit values: bf16_rounded_bits (kernels/bf16.h) —
    // nearest even, a NaN quieted — so every level stores the same bits.
    static void store_bf16(uint16_t* p, T v) {
        uint32_t u;
        std::memcpy(&u, &v, 4);
        const uint32_t r = v != v ? u | 0x00400000u : u + 0x7fffu + ((u >> 16) & 1u);
        *p = uint16_t(r >> 16);
    }
    static float hsum(T a) { return a; }
    static float hmax(T a) { return a; }
};

#if defined(__AVX512F__)
struct VecAvx512 {
    using T = __m512;
    static constexpr int lanes = 16;
    static __mmask16 mask(int n) { return __mmask16((1u << n) - 1u); }  // n in [0, 16)
    static T zero() { return _mm512_setzero_ps(); }
    static T set1(float x) { return _mm512_set1_ps(x); }
    static T load1(const float* p) { return _mm512_set1_ps(*p); }
    static T load(const float* p) { return _mm512_loadu_ps(p); }
    static void store(float* p, T v) { _mm512_storeu_ps(p, v); }
    static T load_partial(const float* p, int n) { return _mm512_maskz_loadu_ps(mask(n), p); }
    static void store_partial(float* p, T v, int n) { _mm512_mask_storeu_ps(p, mask(n), v); }
    static T add(T a, T b) { return _mm512_add_ps(a, b); }
    static T sub(T a, T b) { return _mm512_sub_ps(a, b); }
    static T mul(T a, T b) { return _mm512_mul_ps(a, b); }
    static T div(T a, T b) { return _mm512_div_ps(a, b); }
    static T fmadd(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
    static T fnmadd(T a, T b, T c) { return _mm512_fnmadd_ps(a, b, c); }
    static T max(T a, T b) { return _mm512_max_ps(a, b); }
    static T min(T a, T b) { return _mm512_min_ps(a, b); }
    static T abs(T a) { return _mm512_abs_ps(a); }
    static T round(T a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
    static T pow2i(T n) {
        __m512i i = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
        return _mm512_castsi512_ps(i);
    }
    static void store_bf16(uint16_t* p, T v) {
        const __m512i u = _mm512_castps_si512(v);
        const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
        __m512i r = _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), odd);
        r = _mm512_mask_or_epi32(r, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), u, _mm512_set1_epi32(0x00400000));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16)));
    }
    static float hsum(T a) { return _mm512_reduce_add_ps(a); }
    static float hmax(T a) { return _mm512_reduce_max_ps(a); }
};

template <>
struct TransposeBlock<VecAvx512> {
    static constexpr int size = 16;
    static POMT_INLINE void block(const float* src, size_t lds, float* dst, size_t ldd) {
        __m512 r[16], t[16];
        for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + i * lds);
        for (int i = 0; i < 16; i += 2) {  // pairs of rows interleaved within each 128-bit lane
            t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
            t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
        }
        for (int g = 0; g < 16; g += 4) {  // r[g + k]: rows g…g+3 of columns k, k+4, k+8, k+12
            auto pd = [](__m512 x) { return _mm512_castps_pd(x); };
            r[g] = _mm512_castpd_ps(_mm512_unpacklo_pd(pd(t[g]), pd(t[g + 2])));
            r[g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(pd(t[g]), pd(t[g + 2])));
            r[g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(pd(t[g + 1]), pd(t[g + 3])));
            r[g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(pd(t[g + 1]), pd(t[g + 3])));
        }
        for (int k = 0; k < 4; ++k) {  // gather the 128-bit lanes of the four row groups
            __m512 v0 = _mm512_shuffle_f32x4(r[k], r[4 + k], _MM_SHUFFLE(2, 0, 2, 0));
            __m512 v1 = _mm512_shuffle_f32x4(r[k], r[4 + k], _MM_SHUFFLE(3, 1, 3, 1));
            __m512 w0 = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], _MM_SHUFFLE(2, 0, 2, 0));
            __m512 w1 = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], _MM_SHUFFLE(3, 1, 3, 1));
            _mm512_storeu_ps(dst + (k + 0) * ldd, _mm512_shuffle_f32x4(v0, w0, _MM_SHUFFLE(2, 0, 2, 0)));
            _mm512_storeu_ps(dst + (k + 4) * ldd, _mm512_shuffle_f32x4(v1, w1, _MM_SHUFFLE(2, 0, 2, 0)));
            _mm512_storeu_ps(dst + (k + 8) * ldd, _mm512_shuffle_f32x4(v0, w0, _MM_SHUFFLE(3, 1, 3, 1)));
            _mm512_storeu_ps(dst + (k + 12) * ldd, _mm512_shuffle_f32x4(v1, w1, _MM_SHUFFLE(3, 1, 3, 1)));
        }
    }
};
#endif

#if defined(__AVX2__) && defined(__FMA__)
struct VecAvx2 {
    using T = __m256;
    static constexpr int lanes = 8;
    static __m256i mask(int n) {
        return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    }
    static T zero() { return _mm256_setzero_ps(); }
    static T set1(float x) { return _mm256_set1_ps(x); }
    static T load1(const float* p) { return _mm256_set1_ps(*p); }
    static T load(const float* p) { return _mm256_loadu_ps(p); }
    static void store(float* p, T v) { _mm256_storeu_ps(p, v); }
    static T load_partial(const float* p, int n) { return _mm256_maskload_ps(p, mask(n)); }
    static void store_partial(float* p, T v, int n) { _mm256_maskstore_ps(p, mask(n), v); }
    static T add(T a, T b) { return _mm256_add_ps(a, b); }
    static T sub(T a, T b) { return _mm256_sub_ps(a, b); }
    static T mul(T a, T b) { return _mm256_mul_ps(a, b); }
    static T div(T a, T b) { return _mm256_div_ps(a, b); }
    static T fmadd(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
    static T fnmadd(T a, T b, T c) { return _mm256_fnmadd_ps(a, b, c); }
    static T max(T a, T b) { return _mm256_max_ps(a, b); }
    static T min(T a, T b) { return _mm256_min_ps(a, b); }
    static T abs(T a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
    static T round(T a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
    static T pow2i(T n) {
        __m256i i = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
        return _mm256_castsi256_ps(i);
    }
    static void store_bf16(uint16_t* p, T v) {
        const __m256i u = _mm256_castps_si256(v);
        const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
        __m256i r = _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), odd);
        const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
        r = _mm256_srli_epi32(_mm256_blendv_epi8(r, _mm256_or_si256(u, _mm256_set1_epi32(0x00400000)), nan), 16);
        // Every lane is below 2^16, so the unsigned saturation of the pack changes nothing.
        _mm_storeu_si128(reinterpret_cast<__m128i*>(p),
                         _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1)));
    }
    static float hsum(T a) {
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        s = _mm_add_ss(s, _mm_movehdup_ps(s));
        return _mm_cvtss_f32(s);
    }
    static float hmax(T a) {
        __m128 s = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
        s = _mm_max_ps(s, _mm_movehl_ps(s, s));
        s = _mm_max_ss(s, _mm_movehdup_ps(s));
        return _mm_cvtss_f32(s);
    }
};

template <>
struct TransposeBlock<VecAvx2> {
    static constexpr int size = 8;
    static POMT_INLINE void block(const float* src, size_t lds, float* dst, size_t ldd) {
        __m256 r[8], t[8];
        for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * lds);
        for (int i = 0; i < 8; i += 2) {
            t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
            t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
        }
        for (int g = 0; g < 8; g += 4) {  // r[g + k]: rows g…g+3 of columns k and k+4
            r[g] = _mm256_shuffle_ps(t[g], t[g + 2], _MM_SHUFFLE(1, 0, 1, 0));
            r[g + 1] = _mm256_shuffle_ps(t[g], t[g + 2], _MM_SHUFFLE(3, 2, 3, 2));
            r[g + 2] = _mm256_shuffle_ps(t[g + 1], t[g + 3], _MM_SHUFFLE(1, 0, 1, 0));
            r[g + 3] = _mm256_shuffle_ps(t[g + 1], t[g + 3], _MM_SHUFFLE(3, 2, 3, 2));
        }
        for (int k = 0; k < 4; ++k) {
            _mm256_storeu_ps(dst + k * ldd, _mm256_permute2f128_ps(r[k], r[4 + k], 0x20));
            _mm256_storeu_ps(dst + (k + 4) * ldd, _mm256_permute2f128_ps(r[k], r[4 + k], 0x31));
        }
    }
};
#endif

#if defined(__aarch64__)
struct VecNeon {
    using T = float32x4_t;
    static constexpr int lanes = 4;
    static T zero() { return vdupq_n_f32(0.0f); }
    static T set1(float x) { return vdupq_n_f32(x); }
    // Through an s register that g++ cannot fold into ld1r, so the FMAs take it by element
    // (fmla v.4s, v.4s, v.s[0]): ld1r costs a vector-pipe µop on Cortex-A76, ldr s none.
    static T load1(const float* p) {
        float x = *p;
        __asm__("" : "+w"(x));
        return vdupq_n_f32(x);
    }
    static T load(const float* p) { return vld1q_f32(p); }
    static void store(float* p, T v) { vst1q_f32(p, v); }
    // Lane by lane (0 < n < 4): a copy through a stack array becomes a memcpy call, and a call in a GEMM
    // tile's epilogue makes g++ keep accumulators on the stack inside the k loop.
    static T load_partial(const float* p, int n) {
        T v = vsetq_lane_f32(p[0], vdupq_n_f32(0.0f), 0);
        if (n > 1) v = vsetq_lane_f32(p[1], v, 1);
        if (n > 2) v = vsetq_lane_f32(p[2], v, 2);
        return v;
    }
    static void store_partial(float* p, T v, int n) {
        p[0] = vgetq_lane_f32(v, 0);
        if (n > 1) p[1] = vgetq_lane_f32(v, 1);
        if (n > 2) p[2] = vgetq_lane_f32(v, 2);
    }
    static T add(T a, T b) { return vaddq_f32(a, b); }
    static T sub(T a, T b) { return vsubq_f32(a, b); }
    static T mul(T a, T b) { return vmulq_f32(a, b); }
    static T div(T a, T b) { return vdivq_f32(a, b); }
    static T fmadd(T a, T b, T c) { return vfmaq_f32(c, a, b); }
    static T fnmadd(T a, T b, T c) { return vfmsq_f32(c, a, b); }
    static T max(T a, T b) { return vmaxq_f32(a, b); }
    static T min(T a, T b) { return vminq_f32(a, b); }
    static T abs(T a) { return vabsq_f32(a); }
    static T round(T a) { return vrndnq_f32(a); }
    static T pow2i(T n) {
        int32x4_t i = vshlq_n_s32(vaddq_s32(vcvtnq_s32_f32(n), vdupq_n_s32(127)), 23);
        return vreinterpretq_f32_s32(i);
    }
    static void store_bf16(uint16_t* p, T v) {
        const uint32x4_t u = vreinterpretq_u32_f32(v);
        const uint32x4_t odd = vandq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(1));
        const uint32x4_t r = vaddq_u32(vaddq_u32(u, vdupq_n_u32(0x7fff)), odd);
        vst1_u16(p, vshrn_n_u32(vbslq_u32(vceqq_f32(v, v), r, vorrq_u32(u, vdupq_n_u32(0x00400000))), 16));
    }
    static float hsum(T a) { return vaddvq_f32(a); }
    static float hmax(T a) { return vmaxvq_f32(a); }
};

template <>
struct TransposeBlock<VecNeon> {
    static constexpr int size = 4;
    static POMT_INLINE void block(const float* src, size_t lds, float* dst, size_t ldd) {
        float32x4_t a = vld1q_f32(src), b = vld1q_f32(src + lds), c = vld1q_f32(src + 2 * lds),
                    d = vld1q_f32(src + 3 * lds);
        float64x2_t t0 = vreinterpretq_f64_f32(vtrn1q_f32(a, b)), t1 = vreinterpretq_f64_f32(vtrn2q_f32(a, b));
        float64x2_t t2 = vreinterpretq_f64_f32(vtrn1q_f32(c, d)), t3 = vreinterpretq_f64_f32(vtrn2q_f32(c, d));
        vst1q_f32(dst, vreinterpretq_f32_f64(vtrn1q_f64(t0, t2)));
        vst1q_f32(dst + ldd, vreinterpretq_f32_f64(vtrn1q_f64(t1, t3)));
        vst1q_f32(dst + 2 * ldd, vreinterpretq_f32_f64(vtrn2q_f64(t0, t2)));
        vst1q_f32(dst + 3 * ldd, vreinterpretq_f32_f64(vtrn2q_f64(t1, t3)));
    }
};
#endif

// The sum of 16 partial sums held as 16/lanes vectors of V (vector v has lanes v·lanes …), in one
// fixed tree (i + 8, then + 4, + 2, + 1: the order of _mm512_reduce_add_ps), so every vector
// width, 1 included, gives the same bits.
template <class V>
inline float reduce_add16(const typename V::T (&parts)[16 / V::lanes]) {
    float t[16];
    for (int v = 0; v < 16 / V::lanes; ++v) V::store(t + v * V::lanes, parts[v]);
    for (int w = 8; w >= 1; w /= 2)
        for (int i = 0; i < w; ++i) t[i] += t[i + w];
    return t[0];
}

// e^x, Cephes' single-precision method: x = n·ln2 + r, |r| ≤ ln2/2, degree-6 polynomial for e^r,
// then scale by 2^n. About 1 ulp for x in [−87, 88]; below −88 (and −inf) it returns exactly 0,
// which softmax needs for masked logits. Arguments above 88 are clamped (softmax only
// passes arguments ≤ 0). exp_n runs N vectors step by step together: one vector's steps form a
// chain of ~15 dependent operations, and the scheduler holds too few of them to overlap chains
// written one after another; interleaved, a loop of exps ran ~12 % faster (avx512, Emerald
// Rapids). Each lane's operations are the same, so the bits are too.
template <class V, int N>
POMT_INLINE void exp_n(typename V::T (&x)[N]) {
    using T = typename V::T;
    T n[N], r[N], p[N];
#pragma GCC unroll 8
    for (int i = 0; i < N; ++i) {
        x[i] = V::min(x[i], V::set1(88.0f));
        x[i] = V::max(x[i], V::set1(-88.0f));  // n = −127 below here, and 2^−127 is built as 0
        n[i] = V::round(V::mul(x[i], V::set1(1.44269504088896341f)));
        r[i] = V::fnmadd(n[i], V::set1(0.693359375f), x[i]);  // ln2 split in two: exact n·hi
        r[i] = V::fnmadd(n[i], V::set1(-2.12194440e-4f), r[i]);
    }
    constexpr float c[] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f,
                           1.6666665459e-1f, 5.0000001201e-1f};
#pragma GCC unroll 8
    for (int i = 0; i < N; ++i) p[i] = V::set1(c[0]);
#pragma GCC unroll 8
    for (int k = 1; k < 6; ++k)
#pragma GCC unroll 8
        for (int i = 0; i < N; ++i) p[i] = V::fmadd(p[i], r[i], V::set1(c[k]));
#pragma GCC unroll 8
    for (int i = 0; i < N; ++i) {
        p[i] = V::fmadd(p[i], V::mul(r[i], r[i]), V::add(r[i], V::set1(1.0f)));
        x[i] = V::mul(p[i], V::pow2i(n[i]));
    }
}

template <class V>
POMT_INLINE typename V::T exp(typename V::T x) {
    typename V::T v[1] = {x};
    exp_n<V, 1>(v);
    return v[0];
}

// Exact-erf GELU, 0.5·x·(1 + erf(x/√2)) = x·Φ(x), without exp or a reciprocal: with a = |x| and
// s = min(a/5.5, 1), the lower tail Φ(−a) is 1/2 − s·(1/2 + (s² − 1)·R(s² − 1/2)), R of degree 13
// (a linear-Remez minimax fit of the GELU's absolute error on |x| ≤ 5.5: 1.0e-7). R is written in
// the centred variable s² − 1/2 because in s² itself float Horner would cancel terms of ~1e3. Then
// GELU(x) = x − a·Φ(−a) for x ≥ 0 and −a·Φ(−a) for x < 0: the small tail is added to x or 0 by the
// last FMA instead of being rounded next to 1 first. Every step is one correctly rounded IEEE op
// (FMA included), so all ISAs give the same bits. Over every float the absolute error against the
// erf form is below 3.9e-7 (half an ulp of x is 2.4e-7 near x = 5). At s = 1 the tail is exactly 0,
// so past |x| = 5.5 (where the erf form is within 1.1e-7 of x or 0) the result is exactly x or 0.
// ±inf and NaN give NaN, as before. gelu_n runs N vectors step by step together, as exp_n (its
// 13-step chain is longer: 4 interleaved ran ~25 % faster than one at a time).
template <class V, int N>
POMT_INLINE void gelu_n(typename V::T (&x)[N]) {
    using T = typename V::T;
    T a[N], s[N], u[N], w[N], r[N];
#pragma GCC unroll 8
    for (int i = 0; i < N; ++i) {
        a[i] = V::abs(x[i]);
        s[i] = V::min(V::mul(a[i], V::set1(0.181818187f)), V::set1(1.0f));  // 1/5.5
        u[i] = V::fmadd(s[i], s[i], V::set1(-0.5f));
        w[i] = V::fmadd(s[i], s[i], V::set1(-1.0f));  // ≤ 0, exactly 0 at s = 1
        r[i] = V::set1(3.943214035e+01f);
    }
    constexpr float c[] = {-3.824915314e+01f, 1.063898659e+01f, -1.117413044e+01f, 1.636314201e+01f,
                           -1.271295452e+01f, 8.646706581e+00f, -6.097365856e+00f, 4.074600697e+00f,
                           -2.552841663e+00f, 1.547340035e+00f, -9.331155419e-01f, 5.836496949e-01f,
                           -4.140713215e-01f};
#pragma GCC unroll 16
    for (int k = 0; k < 13; ++k)
#pragma GCC unroll 8
        for (int i = 0; i < N; ++i) r[i] = V::fmadd(r[i], u[i], V::set1(c[k]));
#pragma GCC unroll 8
    for (int i = 0; i < N; ++i) {
        // Φ(−a) = (1 − s)/2 − s·w·R: the first term is exact for s ≥ 1/2, the second vanishes at s = 1.
        T tail = V::fnmadd(V::mul(s[i], w[i]), r[i], V::fnmadd(s[i], V::set1(0.5f), V::set1(0.5f)));
        x[i] = V::fnmadd(a[i], tail, V::max(x[i], V::zero()));
    }
}

template <class V>
POMT_INLINE typename V::T gelu(typename V::T x) {
    typename V::T v[1] = {x};
    gelu_n<V, 1>(v);
    return v[0];
}

// Activation::GeluFast (kernels/gemm.h: the formula, its error and the polynomial), the operations
// of gelu_fast_reference in the same order: 14 a vector against gelu_n's 23, for outputs quantized
// at once. N vectors step by step together, as gelu_n.
template <class V, int N>
POMT_INLINE void gelu_fast_n(typename V::T (&x)[N]) {
    using T = typename V::T;
    T h[N], s[N], v[N], p[N];
#pragma GCC unroll 8
    for (int i = 0; i < N; ++i) {
        h[i] = V::mul(x[i], V::set1(0.5f));
        s[i] = V::min(V::max(V::mul(x[i], V::set1(kGeluFastInvRange)), V::set1(-1.0f)), V::set1(1.0f));
        v[i] = V::mul(s[i], s[i]);
        p[i] = V::set1(kGeluFastP[7]);
    }
#pragma GCC unroll 8
    for (int k = 6; k >= 0; --k)
#pragma GCC unroll 8
        for (int i = 0; i < N; ++i) p[i] = V::fmadd(p[i], v[i], V::set1(kGeluFastP[k]));
#pragma GCC unroll 8
    for (int i = 0; i < N; ++i) x[i] = V::fmadd(V::mul(h[i], s[i]), p[i], h[i]);
}

template <class V>
POMT_INLINE typename V::T gelu_fast(typename V::T x) {
    typename V::T v[1] = {x};
    gelu_fast_n<V, 1>(v);
    return v[0];
}

// QuickGELU (OpenAI CLIP's activation, timm act_layer='quick_gelu'): x·σ(1.702·x), computed as
// x / (1 + e^(−1.702·x)) with the exp above and one division, so every level gives the same bits.
// Below x = −51.7 the exp's argument is clamped at 88, so the numerator is clamped too (at −60):
// the result there is at most 60·e^−88 ≈ 4e-37 in size, as near to the true value (smaller still)
// as float allows, instead of x·e^−88 growing with |x|. max(−60, x) returns x when x is NaN at every
// level (the second operand), so NaN stays NaN.
template <class V>
inline typename V::T quick_gelu(typename V::T x) {
    typename V::T e = exp<V>(V::mul(x, V::set1(-1.702f)));
    return V::div(V::max(V::set1(-60.0f), x), V::add(V::set1(1.0f), e));
}

}  // namespace simd
}  // namespace pomt
