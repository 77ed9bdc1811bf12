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
// head so the logits are the same register-blocked product as the GEMM), stable softmax per row,
// then P·V (V copied once with its rows padded to a multiple of 16 columns). ----

struct AttnCtx {
    const AttentionHead* a;
    const float* kt;  // [head_dim × npad], columns ≥ tokens are 0
    const float* vp;  // [tokens × dpad], columns ≥ head_dim are 0
    int npad, dpad;
};

template <class V, int R, int NP>
POMT_INLINE void attn_logits_chunk(const AttnCtx& cx, int i0, int col, float* s, size_t lds) {
    const AttentionHead& a = *cx.a;
    typename V::T acc[R][NP * (16 / V::lanes)];
    block_accumulate<V, R, NP>(a.head_dim, a.q + size_t(i0) * a.ld_qkv, size_t(a.ld_qkv), cx.kt + col,
                               size_t(cx.npad), 16, acc);
    const typename V::T scale = V::set1(a.scale);
    for (int j = 0; j < NP * (16 / V::lanes); ++j) {
        int c = col + j * V::lanes, n = std::min(V::lanes, a.tokens - c);
        if (n <= 0) break;
        typename V::T bias = !a.key_bias ? V::zero() : n == V::lanes ? V::load(a.key_bias + c)
                                                                      : V::load_partial(a.key_bias + c, n);
        for (int r = 0; r < R; ++r) {
            typename V::T v = V::fmadd(acc[r][j], scale, bias);
            if (n == V::lanes)
                V::store(s + r * lds + c, v);
            else
                V::store_partial(s + r * lds + c, v, n);
        }
    }
}

template <class V, int R, int NP>
POMT_INLINE void attn_pv_chunk(const AttnCtx& cx, int i0, int col, const float* s, size_t lds) {
    const AttentionHead& a = *cx.a;
    typename V::T acc[R][NP * (16 / V::lanes)];
    block_accumulate<V, R, NP>(a.tokens, s, lds, cx.vp + col, size_t(cx.dpad), 16, acc);
    for (int r = 0; r < R; ++r) {
        float* o = a.out + size_t(i0 + r) * a.ld_out;
        for (int j = 0; j < NP * (16 / V::lanes); ++j) {
            int c = col + j * V::lanes, n = std::min(V::lanes, a.head_dim - c);
            if (n <= 0) break;
            if (n == V::lanes)
                V::store(o + c, acc[r][j]);
            else
                V::store_partial(o + c, acc[r][j], n);
        }
    }
}

// Calls F<NP>() for NP = min(NPMAX, panels) — the chunk width left at this column.
template <int NPMAX, class F>
POMT_INLINE void with_panels(int panels, F&& f) {
    if constexpr (NPMAX >= 3)
        if (panels >= 3) return f(std::integral_constant<int, 3>());
    if constexpr (NPMAX >= 2)
        if (panels >= 2) return f(std::integral_constant<int, 2>());
    f(std::integral_constant<int, 1>());
}

template <class V, int R, int NPMAX>
void attn_rows(const AttnCtx& cx, int i0, float* srow) {
    const AttentionHead& a = *cx.a;
    const int n = a.tokens;
    float* s = a.probs ? a.probs + size_t(i0) * n : srow;
    const size_t lds = a.probs ? size_t(n) : size_t(cx.npad);
    for (int col = 0; col < n; col += 16 * NPMAX)
        with_panels<NPMAX>((cx.npad - col) / 16,
                           [&](auto np) { attn_logits_chunk<V, R, decltype(np)::value>(cx, i0, col, s, lds); });
    for (int r = 0; r < R; ++r) softmax_row<V>(s + r * lds, n);
    for (int col = 0; col < a.head_dim; col += 16 * NPMAX)
        with_panels<NPMAX>((cx.dpad - col) / 16,
                           [&](auto np) { attn_pv_chunk<V, R, decltype(np)::value>(cx, i0, col, s, lds); });
}

template <class V, int RMAX, int NPMAX>
void attention(const AttentionHead& a) {
    const int n = a.tokens, d = a.head_dim;
    if (n <= 0 || d <= 0 || a.rows_end() <= a.row_begin) return;
    const int npad = (n + 15) / 16 * 16, dpad = (d + 15) / 16 * 16;
    float* kt = thread_scratch(size_t(d) * npad + size_t(n) * dpad + size_t(RMAX) * npad);
    float* vp = kt + size_t(d) * npad;
    float* srow = vp + size_t(n) * dpad;
    for (int c = 0; c < d; ++c) {
        float* row = kt + size_t(c) * npad;
        for (int j = 0; j < n; ++j) row[j] = a.k[size_t(j) * a.ld_qkv + c];
        std::fill(row + n, row + npad, 0.0f);
    }
    for (int j = 0; j < n; ++j) {
        std::memcpy(vp + size_t(j) * dpad, a.v + size_t(j) * a.ld_qkv, size_t(d) * sizeof(float));
        std::fill(vp + size_t(j) * dpad + d, vp + size_t(j + 1) * dpad, 0.0f);
    }
    AttnCtx cx{&a, kt, vp, npad, dpad};
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

}  // namespace simd
}  // namespace pomt
