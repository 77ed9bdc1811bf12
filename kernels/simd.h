// A thin vector abstraction so each kernel is written once as a template and instantiated per ISA:
// VecF1 (plain float, always), VecAvx2 (8 lanes, when compiled with -mavx2 -mfma), VecAvx512
// (16 lanes, with -mavx512f), VecNeon (4 lanes, aarch64). Only the per-ISA translation units
// (kernels/x86/*_avx2.cpp, *_avx512.cpp, kernels/arm/*.cpp) see the vector types, so the rest of
// the x86-64 binary stays portable.
//
// The math here (exp, GELU) is shared by every vector ISA so they agree with each other to rounding.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

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

namespace pomt {
namespace simd {

// ---- plain float: the template reference for the vector types, and the tails ----
struct VecF1 {
    using T = float;
    static constexpr int lanes = 1;
    static T zero() { return 0.0f; }
    static T set1(float x) { return x; }
    static T load(const float* p) { return *p; }
    static void store(float* p, T v) { *p = v; }
    static T load_partial(const float* p, int) { return *p; }
    static void store_partial(float* p, T v, int) { *p = v; }
    static T add(T a, T b) { return a + b; }
    static T sub(T a, T b) { return a - b; }
    static T mul(T a, T b) { return a * b; }
    static T div(T a, T b) { return a / b; }
    static T rcp(T a) { return 1.0f / a; }
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
    static T select_ge0(T x, T if_ge, T if_lt) { return x >= 0.0f ? if_ge : if_lt; }
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
    static T load(const float* p) { return _mm512_loadu_ps(p); }
    static void store(float* p, T v) { _mm512_storeu_ps(p, v); }
    static T load_partial(const float* p, int n) { return _mm512_maskz_loadu_ps(mask(n), p); }
    static void store_partial(float* p, T v, int n) { _mm512_mask_storeu_ps(p, mask(n), v); }
    static T add(T a, T b) { return _mm512_add_ps(a, b); }
    static T sub(T a, T b) { return _mm512_sub_ps(a, b); }
    static T mul(T a, T b) { return _mm512_mul_ps(a, b); }
    static T div(T a, T b) { return _mm512_div_ps(a, b); }
    // 1/a to ~2^-28 relative: rcp14 and one Newton step, far cheaper than a division.
    static T rcp(T a) {
        T r = _mm512_rcp14_ps(a);
        return _mm512_mul_ps(r, _mm512_fnmadd_ps(a, r, _mm512_set1_ps(2.0f)));
    }
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
    static T select_ge0(T x, T if_ge, T if_lt) {
        return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GE_OQ), if_lt, if_ge);
    }
    static float hsum(T a) { return _mm512_reduce_add_ps(a); }
    static float hmax(T a) { return _mm512_reduce_max_ps(a); }
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
    static T load(const float* p) { return _mm256_loadu_ps(p); }
    static void store(float* p, T v) { _mm256_storeu_ps(p, v); }
    static T load_partial(const float* p, int n) { return _mm256_maskload_ps(p, mask(n)); }
    static void store_partial(float* p, T v, int n) { _mm256_maskstore_ps(p, mask(n), v); }
    static T add(T a, T b) { return _mm256_add_ps(a, b); }
    static T sub(T a, T b) { return _mm256_sub_ps(a, b); }
    static T mul(T a, T b) { return _mm256_mul_ps(a, b); }
    static T div(T a, T b) { return _mm256_div_ps(a, b); }
    // 1/a to ~2^-22 relative: the 12-bit estimate and one Newton step.
    static T rcp(T a) {
        T r = _mm256_rcp_ps(a);
        return _mm256_mul_ps(r, _mm256_fnmadd_ps(a, r, _mm256_set1_ps(2.0f)));
    }
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
    static T select_ge0(T x, T if_ge, T if_lt) {
        return _mm256_blendv_ps(if_lt, if_ge, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ));
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
#endif

#if defined(__aarch64__)
struct VecNeon {
    using T = float32x4_t;
    static constexpr int lanes = 4;
    static T zero() { return vdupq_n_f32(0.0f); }
    static T set1(float x) { return vdupq_n_f32(x); }
    static T load(const float* p) { return vld1q_f32(p); }
    static void store(float* p, T v) { vst1q_f32(p, v); }
    static T load_partial(const float* p, int n) {
        float tmp[4] = {0, 0, 0, 0};
        for (int i = 0; i < n; ++i) tmp[i] = p[i];
        return vld1q_f32(tmp);
    }
    static void store_partial(float* p, T v, int n) {
        float tmp[4];
        vst1q_f32(tmp, v);
        for (int i = 0; i < n; ++i) p[i] = tmp[i];
    }
    static T add(T a, T b) { return vaddq_f32(a, b); }
    static T sub(T a, T b) { return vsubq_f32(a, b); }
    static T mul(T a, T b) { return vmulq_f32(a, b); }
    static T div(T a, T b) { return vdivq_f32(a, b); }
    // 1/a: the 8-bit estimate and two Newton steps (vrecps computes 2 − a·r).
    static T rcp(T a) {
        T r = vrecpeq_f32(a);
        r = vmulq_f32(r, vrecpsq_f32(a, r));
        return vmulq_f32(r, vrecpsq_f32(a, r));
    }
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
    static T select_ge0(T x, T if_ge, T if_lt) { return vbslq_f32(vcgeq_f32(x, vdupq_n_f32(0.0f)), if_ge, if_lt); }
    static float hsum(T a) { return vaddvq_f32(a); }
    static float hmax(T a) { return vmaxvq_f32(a); }
};
#endif

// e^x, Cephes' single-precision method: x = n·ln2 + r, |r| ≤ ln2/2, degree-6 polynomial for e^r,
// then scale by 2^n. About 1 ulp for x in [−87, 88]; below −88 (and −inf) it returns exactly 0,
// which softmax needs for masked logits. Arguments above 88 are clamped (softmax and GELU only
// pass arguments ≤ 0).
template <class V>
inline typename V::T exp(typename V::T x) {
    x = V::min(x, V::set1(88.0f));
    x = V::max(x, V::set1(-88.0f));  // n = −127 below here, and 2^−127 is built as 0
    typename V::T n = V::round(V::mul(x, V::set1(1.44269504088896341f)));
    typename V::T r = V::fnmadd(n, V::set1(0.693359375f), x);  // ln2 split in two: exact n·hi
    r = V::fnmadd(n, V::set1(-2.12194440e-4f), r);
    typename V::T p = V::set1(1.9875691500e-4f);
    p = V::fmadd(p, r, V::set1(1.3981999507e-3f));
    p = V::fmadd(p, r, V::set1(8.3334519073e-3f));
    p = V::fmadd(p, r, V::set1(4.1665795894e-2f));
    p = V::fmadd(p, r, V::set1(1.6666665459e-1f));
    p = V::fmadd(p, r, V::set1(5.0000001201e-1f));
    p = V::fmadd(p, V::mul(r, r), V::add(r, V::set1(1.0f)));
    return V::mul(p, V::pow2i(n));
}

// Exact-erf GELU, 0.5·x·(1 + erf(x/√2)), written through erfc so neither tail cancels:
//   x ≥ 0: x − 0.5·x·erfc(x/√2),   x < 0: 0.5·x·erfc(|x|/√2),
// with erfc(z) = t·exp(−z² + P(t)), t = 1/(1 + z/2) (Numerical Recipes' erfcc, relative error
// < 1.2e-7 for all z ≥ 0). The absolute error against the erf form stays below 1e-6 for all x
// (the tests sweep −40..40 and huge values); large |x| give exactly x or 0.
template <class V>
inline typename V::T gelu(typename V::T x) {
    using T = typename V::T;
    T z = V::mul(V::abs(x), V::set1(0.70710678118654752f));
    T t = V::rcp(V::fmadd(z, V::set1(0.5f), V::set1(1.0f)));  // in (0, 1]; z = inf gives 0
    T p = V::set1(0.17087277f);
    p = V::fmadd(p, t, V::set1(-0.82215223f));
    p = V::fmadd(p, t, V::set1(1.48851587f));
    p = V::fmadd(p, t, V::set1(-1.13520398f));
    p = V::fmadd(p, t, V::set1(0.27886807f));
    p = V::fmadd(p, t, V::set1(-0.18628806f));
    p = V::fmadd(p, t, V::set1(0.09678418f));
    p = V::fmadd(p, t, V::set1(0.37409196f));
    p = V::fmadd(p, t, V::set1(1.00002368f));
    p = V::fmadd(p, t, V::set1(-1.26551223f));
    T erfc = V::mul(t, exp<V>(V::fnmadd(z, z, p)));
    T h = V::mul(V::mul(V::set1(0.5f), x), erfc);
    return V::select_ge0(x, V::sub(x, h), h);
}

}  // namespace simd
}  // namespace pomt
