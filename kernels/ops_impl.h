// Vectorised softmax, LayerNorm, GELU and attention, written once over kernels/simd.h and
// instantiated by each ISA's translation unit. The portable versions (kernels/*.cpp) are the
// references these are tested against (tests/test_kernels_ops.cpp).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/attention.h"
#include "kernels/dispatch.h"
#include "kernels/gemm_block.h"
#include "kernels/threads.h"

namespace pomt {

// A growing 64-byte-aligned buffer per thread (attention's transposed K, padded V, logits rows).
float* thread_scratch(size_t floats);

namespace simd {

// C independent chains: at least FMA latency × FMA pipes (4×2 on Intel and Zen, 7×2 on
// Cortex-A72 would want 14: NEON uses 16), and C + 2 registers must fit the register file
// (AVX2 has 16 ymm: 12 chains).
template <class V, int C>
float fma_loop(long iters) {
    using T = typename V::T;
    T acc[C];
    for (int i = 0; i < C; ++i) acc[i] = V::set1(0.001f * float(i));
    const T b = V::set1(0.999f), c = V::set1(0.0001f);
    for (long it = 0; it < iters; ++it)
        for (int i = 0; i < C; ++i) acc[i] = V::fmadd(acc[i], b, c);
    T s = acc[0];
    for (int i = 1; i < C; ++i) s = V::add(s, acc[i]);
    return V::hsum(s);
}

// See kernels/reductions.h. Row by row, so the attention matrix streams through in memory order
// (columns first would jump a row stride per load); the sums stay in `out`, which is in L1.
template <class V>
void head_max_column_sums(const float* a, size_t head_stride, int ld, int heads, int rows, int cols, float* out) {
    const int L = V::lanes;
    const int vec_cols = cols / L * L;
    std::fill(out, out + vec_cols, 0.0f);
    for (int i = 0; i < rows; ++i) {
        const float* row = a + size_t(i) * ld;
        for (int j = 0; j < vec_cols; j += L) {
            typename V::T m = V::load(row + j);
            for (int h = 1; h < heads; ++h) m = V::max(m, V::load(row + h * head_stride + j));
            V::store(out + j, V::add(V::load(out + j), m));
        }
    }
    if (vec_cols < cols)
        head_max_column_sums_portable(a + vec_cols, head_stride, ld, heads, rows, cols - vec_cols, out + vec_cols);
}

template <class V>
void gelu_array(float* x, size_t n) {
    size_t i = 0;
    for (; i + V::lanes <= n; i += V::lanes) V::store(x + i, gelu<V>(V::load(x + i)));
    for (; i < n; ++i) x[i] = gelu<VecF1>(x[i]);  // same formula, so tails agree with the body
}

template <class V>
void softmax_row(float* x, int n) {
    using T = typename V::T;
    const int L = V::lanes;
    int i = 0;
    T mv = V::set1(-std::numeric_limits<float>::infinity());
    for (; i + L <= n; i += L) mv = V::max(mv, V::load(x + i));
    float mx = V::hmax(mv);
    for (; i < n; ++i) mx = std::max(mx, x[i]);
    // exp(x − max) ≤ 1, stored in place; the sum uses one vector of partial sums.
    mv = V::set1(mx);
    T sv = V::zero();
    for (i = 0; i + L <= n; i += L) {
        T e = exp<V>(V::sub(V::load(x + i), mv));
        V::store(x + i, e);
        sv = V::add(sv, e);
    }
    float sum = V::hsum(sv);
    for (; i < n; ++i) {
        x[i] = exp<VecF1>(x[i] - mx);
        sum += x[i];
    }
    T inv = V::set1(1.0f / sum);
    for (i = 0; i + L <= n; i += L) V::store(x + i, V::mul(V::load(x + i), inv));
    for (; i < n; ++i) x[i] *= 1.0f / sum;
}

template <class V>
void layernorm_rows(const float* x, int ld_x, float* y, int ld_y, int rows, int dim, const float* gamma,
                    const float* beta, float eps) {
    using T = typename V::T;
    const int L = V::lanes;
    for (int r = 0; r < rows; ++r) {
        const float* xr = x + size_t(r) * ld_x;
        float* yr = y + size_t(r) * ld_y;
        // Sum of x − x[0]: the shift keeps a large common offset from swamping the float sum;
        // two vector accumulators hide the add latency. Then the centred variance (two passes).
        const float shift = xr[0];
        T sh = V::set1(shift), s0 = V::zero(), s1 = V::zero();
        int i = 0;
        for (; i + 2 * L <= dim; i += 2 * L) {
            s0 = V::add(s0, V::sub(V::load(xr + i), sh));
            s1 = V::add(s1, V::sub(V::load(xr + i + L), sh));
        }
        for (; i + L <= dim; i += L) s0 = V::add(s0, V::sub(V::load(xr + i), sh));
        float sum = V::hsum(V::add(s0, s1));
        for (; i < dim; ++i) sum += xr[i] - shift;
        const float mean = shift + sum / dim;
        T mv = V::set1(mean);
        s0 = s1 = V::zero();
        for (i = 0; i + 2 * L <= dim; i += 2 * L) {
            T d0 = V::sub(V::load(xr + i), mv), d1 = V::sub(V::load(xr + i + L), mv);
            s0 = V::fmadd(d0, d0, s0);
            s1 = V::fmadd(d1, d1, s1);
        }
        for (; i + L <= dim; i += L) {
            T d0 = V::sub(V::load(xr + i), mv);
            s0 = V::fmadd(d0, d0, s0);
        }
        float sq = V::hsum(V::add(s0, s1));
        for (; i < dim; ++i) sq += (xr[i] - mean) * (xr[i] - mean);
        const float inv = 1.0f / std::sqrt(sq / dim + eps);
        T iv = V::set1(inv);
        for (i = 0; i + L <= dim; i += L) {
            T n = V::mul(V::sub(V::load(xr + i), mv), iv);
            V::store(yr + i, V::fmadd(n, V::load(gamma + i), V::load(beta + i)));
        }
        for (; i < dim; ++i) yr[i] = std::fma((xr[i] - mean) * inv, gamma[i], beta[i]);
    }
}

// ---- attention: per block of R query rows, logits = scale·Q·Kᵀ + key_bias (K transposed once per
// head so the logits are the same register-blocked product as the GEMM), then e = exp(x − max) and
// its sum per row, then P·V on the unnormalised e with each output row scaled by 1/sum (one multiply
// per output value instead of a pass over the probabilities). The row max is taken as the logits are
// stored, and the columns past `tokens` in the last vector get logit −inf (e = 0), so every pass runs
// on whole vectors. No row's arithmetic depends on R, so the bits do not depend on the row split, nor
// on whether the normalised probabilities are also written out. ----

struct AttnCtx {
    const AttentionHead* a;
    const float* kt;  // [head_dim × npad], columns ≥ tokens are 0
    const float* vp;  // [tokens × dpad], columns ≥ head_dim are 0
    int npad, dpad;
    const float* tail_bias;  // key bias (or 0) of the last partial vector of columns, −inf past tokens
};

template <class V, int R, int NP>
POMT_INLINE void attn_logits_chunk(const AttnCtx& cx, int i0, int col, float* s, size_t lds,
                                   typename V::T (&mx)[R]) {
    const AttentionHead& a = *cx.a;
    typename V::T acc[R][NP * (16 / V::lanes)];
    block_accumulate<V, R, NP>(a.head_dim, a.q + size_t(i0) * a.ld_qkv, size_t(a.ld_qkv), cx.kt + col,
                               size_t(cx.npad), 16, acc);
    const typename V::T scale = V::set1(a.scale);
#pragma GCC unroll 32
    for (int j = 0; j < NP * (16 / V::lanes); ++j) {
        const int c = col + j * V::lanes, n = a.tokens - c;
        if (n <= 0) break;
        // Past `tokens` the sums are 0 (K's zero padding), so the tail bias makes those logits −inf.
        const typename V::T bias = n < V::lanes ? V::load(cx.tail_bias)
                                   : a.key_bias ? V::load(a.key_bias + c)
                                                : V::zero();
#pragma GCC unroll 32
        for (int r = 0; r < R; ++r) {
            typename V::T v = V::fmadd(acc[r][j], scale, bias);
            V::store(s + r * lds + c, v);
            mx[r] = V::max(mx[r], v);
        }
    }
}

template <class V, int R, int NP>
POMT_INLINE void attn_pv_chunk(const AttnCtx& cx, int i0, int col, const float* s, size_t lds, const float* inv) {
    const AttentionHead& a = *cx.a;
    typename V::T acc[R][NP * (16 / V::lanes)];
    block_accumulate<V, R, NP>(a.tokens, s, lds, cx.vp + col, size_t(cx.dpad), 16, acc);
#pragma GCC unroll 32
    for (int r = 0; r < R; ++r) {
        float* o = a.out + size_t(i0 + r) * a.ld_out;
        const typename V::T iv = V::set1(inv[r]);
#pragma GCC unroll 32
        for (int j = 0; j < NP * (16 / V::lanes); ++j) {
            int c = col + j * V::lanes, n = std::min(V::lanes, a.head_dim - c);
            if (n <= 0) break;
            if (n == V::lanes)
                V::store(o + c, V::mul(acc[r][j], iv));
            else
                V::store_partial(o + c, V::mul(acc[r][j], iv), n);
        }
    }
}

// A size×size block of K (rows at src + i·lds) stored transposed (rows at dst + c·ldd), in registers;
// size 0: no such kernel for V (the caller's scalar loop does all of Kᵀ).
template <class V>
struct KTranspose {
    static constexpr int size = 0;
    static void block(const float*, size_t, float*, size_t) {}
};

#if defined(__AVX512F__)
template <>
struct KTranspose<VecAvx512> {
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
template <>
struct KTranspose<VecAvx2> {
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
template <>
struct KTranspose<VecNeon> {
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

// Calls F<NP>() for NP = min(NPMAX, panels) — the chunk width left at this column.
template <int NPMAX, class F>
POMT_INLINE void with_panels(int panels, F&& f) {
    if constexpr (NPMAX >= 4)
        if (panels >= 4) return f(std::integral_constant<int, 4>());
    if constexpr (NPMAX >= 3)
        if (panels >= 3) return f(std::integral_constant<int, 3>());
    if constexpr (NPMAX >= 2)
        if (panels >= 2) return f(std::integral_constant<int, 2>());
    f(std::integral_constant<int, 1>());
}

// Rows i0 … i0+R−1; s is [R × npad] scratch for the logits, then e.
template <class V, int R, int NPMAX>
void attn_rows(const AttnCtx& cx, int i0, float* s) {
    using T = typename V::T;
    const AttentionHead& a = *cx.a;
    const int n = a.tokens, L = V::lanes, nv = (n + L - 1) / L * L;
    const size_t lds = size_t(cx.npad);
    T mx[R];
    for (int r = 0; r < R; ++r) mx[r] = V::set1(-std::numeric_limits<float>::infinity());
    for (int col = 0; col < n; col += 16 * NPMAX)
        with_panels<NPMAX>((cx.npad - col) / 16, [&](auto np) {
            attn_logits_chunk<V, R, decltype(np)::value>(cx, i0, col, s, lds, mx);
        });
    float inv[R];
    for (int r = 0; r < R; ++r) {
        float* x = s + r * lds;
        const T m = V::set1(V::hmax(mx[r]));
        T sum = V::zero();
        for (int i = 0; i < nv; i += L) {
            T e = exp<V>(V::sub(V::load(x + i), m));
            V::store(x + i, e);
            sum = V::add(sum, e);
        }
        inv[r] = 1.0f / V::hsum(sum);
        if (a.probs) {  // the stored matrix is the normalised softmax
            float* p = a.probs + size_t(i0 + r) * n;
            const T iv = V::set1(inv[r]);
            int i = 0;
            for (; i + L <= n; i += L) V::store(p + i, V::mul(V::load(x + i), iv));
            if (i < n) V::store_partial(p + i, V::mul(V::load(x + i), iv), n - i);
        }
    }
    for (int col = 0; col < a.head_dim; col += 16 * NPMAX)
        with_panels<NPMAX>((cx.dpad - col) / 16, [&](auto np) {
            attn_pv_chunk<V, R, decltype(np)::value>(cx, i0, col, s, lds, inv);
        });
}

template <class V, int RMAX, int NPMAX>
void attention_tiles(const AttentionHead& a) {
    const int n = a.tokens, d = a.head_dim;
    if (n <= 0 || d <= 0 || a.rows_end() <= a.row_begin) return;
    const int npad = (n + 15) / 16 * 16, dpad = (d + 15) / 16 * 16;
    float* kt = thread_scratch(size_t(d) * npad + size_t(RMAX) * npad + 16 + size_t(n) * dpad);
    float* srow = kt + size_t(d) * npad;
    float* tail_bias = srow + size_t(RMAX) * npad;
    float* vp = tail_bias + 16;
    // Kᵀ: whole blocks of B×B transposed in registers, the edges one value at a time (16 keys per
    // pass, so the rows of K being read stay in L1 across the channels).
    constexpr int B = KTranspose<V>::size;
    const int jb = B ? n / B * B : 0, cb = B ? d / B * B : 0;
    if constexpr (B > 0)
        for (int j0 = 0; j0 < jb; j0 += B)
            for (int c0 = 0; c0 < cb; c0 += B)
                KTranspose<V>::block(a.k + size_t(j0) * a.ld_qkv + c0, size_t(a.ld_qkv), kt + size_t(c0) * npad + j0,
                                     size_t(npad));
    for (int j0 = 0; j0 < n; j0 += 16) {
        const int j1 = std::min(n, j0 + 16);
        for (int c = j1 <= jb ? cb : 0; c < d; ++c) {
            float* row = kt + size_t(c) * npad;
            for (int j = j0; j < j1; ++j) row[j] = a.k[size_t(j) * a.ld_qkv + c];
        }
    }
    for (int c = 0; c < d; ++c) std::fill(kt + size_t(c) * npad + n, kt + size_t(c + 1) * npad, 0.0f);
    const int tail0 = n / V::lanes * V::lanes;
    for (int l = 0; l < V::lanes; ++l)
        tail_bias[l] = tail0 + l >= n ? -std::numeric_limits<float>::infinity()
                                      : a.key_bias ? a.key_bias[tail0 + l] : 0.0f;
    // V copied even when its rows are whole panels: read in place (rows ld_qkv apart) it is slower.
    for (int j = 0; j < n; ++j) {
        std::memcpy(vp + size_t(j) * dpad, a.v + size_t(j) * a.ld_qkv, size_t(d) * sizeof(float));
        std::fill(vp + size_t(j) * dpad + d, vp + size_t(j + 1) * dpad, 0.0f);
    }
    AttnCtx cx{&a, kt, vp, npad, dpad, tail_bias};
    // Rows split evenly into blocks of at most RMAX, so no block is pathologically thin.
    const int first = a.row_begin, rows = a.rows_end() - first;
    const int blocks = (rows + RMAX - 1) / RMAX;
    for (int b = 0; b < blocks; ++b) {
        int i0, i1;
        split_range(rows, blocks, b, &i0, &i1);
        i0 += first;
        i1 += first;
        switch (i1 - i0) {
#define POMT_ATTN_ROWS(R) \
    case R:               \
        if constexpr (R <= RMAX) attn_rows<V, R, NPMAX>(cx, i0, srow); \
        break;
            POMT_ATTN_ROWS(1)
            POMT_ATTN_ROWS(2)
            POMT_ATTN_ROWS(3)
            POMT_ATTN_ROWS(4)
            POMT_ATTN_ROWS(5)
            POMT_ATTN_ROWS(6)
            POMT_ATTN_ROWS(7)
            POMT_ATTN_ROWS(8)
#undef POMT_ATTN_ROWS
            default: break;
        }
    }
}

// RMAX × NPMAX is the ISA's GEMM tile. AVX-512 (32 registers) takes 7 × 4 here instead of 8 × 3:
// 28 accumulators, and head_dim 64 is one P·V chunk instead of a 3- and a 1-panel one (measured
// ~5% faster per head than 8 × 3 at 50–577 tokens).
template <class V, int RMAX, int NPMAX>
void attention(const AttentionHead& a) {
    if constexpr (V::lanes == 16)
        attention_tiles<V, 7, 4>(a);
    else
        attention_tiles<V, RMAX, NPMAX>(a);
}

}  // namespace simd
}  // namespace pomt
