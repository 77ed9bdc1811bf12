// The register-blocked micro-kernel, written once over the vector types of kernels/simd.h and
// instantiated by each level's translation unit (kernels/x86/kernels_avx512.cpp, kernels_avx2.cpp,
// kernels/arm/kernels_neon.cpp, kernels/kernels_scalar.cpp). Included only by those.
//
// A tile is R rows × NP panels of 16 columns: R·NP·(16/lanes) accumulators stay in registers for
// the whole depth k; each step loads NP·(16/lanes) vectors of B and broadcasts R values of A.
// Every output element is one sequential FMA chain over k, so the result does not depend on the
// tile shape, the row split or the thread count.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <type_traits>

#include "kernels/gemm_kernels.h"
#include "kernels/simd.h"

namespace pomt {
namespace simd {

// The one dispatcher from a run-time tile size to its instantiation (GEMM rows and panels,
// attention rows and panels): calls f(std::integral_constant<int, n>()) for n in [1, MAX]. The
// cases are generated from MAX, so a tile that grows gets every size; n outside [1, MAX] is a
// caller's bug and aborts rather than skipping rows.
template <int MAX, class F>
POMT_INLINE void with_count(int n, F&& f) {
    static_assert(MAX >= 1, "a tile has at least one row and one panel");
    if constexpr (MAX > 1)
        if (n < MAX) return with_count<MAX - 1>(n, f);
    if (n != MAX) std::abort();
    f(std::integral_constant<int, MAX>());
}

// acc[r][j] = Σ_p a[r·lda + p] · B(p, 16·(j/PV) + lanes·(j%PV) + lane): B(p, col) is at
// b + p·b_k + (col/16)·b_p + col%16 (packed panels: b_k = 16, b_p = 16·k; row-major: b_k = ldb, b_p = 16).
template <class V, int R, int NP>
POMT_INLINE void block_accumulate(int k, const float* a, size_t lda, const float* b, size_t b_k, size_t b_p,
                                  typename V::T (&acc)[R][NP * (16 / V::lanes)]) {
    constexpr int PV = 16 / V::lanes, NV = NP * PV;
    // Every loop over r and j is unrolled so the accumulators live in registers: g++ for aarch64
    // otherwise keeps acc[][] on the stack and stores it back on every k step.
#pragma GCC unroll 32
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 32
        for (int j = 0; j < NV; ++j) acc[r][j] = V::zero();
    for (int p = 0; p < k; ++p) {
        typename V::T bv[NV];
#pragma GCC unroll 32
        for (int q = 0; q < NP; ++q)
#pragma GCC unroll 32
            for (int v = 0; v < PV; ++v) bv[q * PV + v] = V::load(b + size_t(p) * b_k + q * b_p + v * V::lanes);
#pragma GCC unroll 32
        for (int r = 0; r < R; ++r) {
            typename V::T av = V::load1(a + r * lda + p);
#pragma GCC unroll 32
            for (int j = 0; j < NV; ++j) acc[r][j] = V::fmadd(av, bv[j], acc[r][j]);
        }
    }
}

// Fused epilogue on one vector of columns [col, col + n), n ≤ lanes, of output row `row`.
// ACT ≥ 0 gives the activation as a constant (ep.act must equal it): for callers whose loops over
// the tile are not unrolled (the AMX tiles), so that the branch and GELU's constants leave them.
template <class V, int ACT = -1>
POMT_INLINE void store_epilogue(const Epilogue& ep, int row, int col, int n, typename V::T v, float* c) {
    const bool full = n == V::lanes;
    auto ld = [&](const float* p) { return full ? V::load(p) : V::load_partial(p, n); };
    const Activation act = ACT >= 0 ? Activation(ACT) : ep.act;
    if (ep.bias) v = V::add(v, ld(ep.bias + col));
    if (act == Activation::Gelu) v = gelu<V>(v);
    else if (act == Activation::GeluFast) v = gelu_fast<V>(v);
    else if (act == Activation::QuickGelu) v = quick_gelu<V>(v);
    if (ep.residual) {
        typename V::T res = ld(ep.residual + size_t(row) * ep.ld_residual + col);
        v = ep.scale ? V::fmadd(ld(ep.scale + col), v, res) : V::add(res, v);
    }
    if (full)
        V::store(c, v);
    else
        V::store_partial(c, v, n);
}

// store_epilogue over `rows` rows × NV whole vectors of columns from col0 (row r, vector j at
// c + r·ldc + j·lanes), v = pre(r, j) before it, with the same operations, so the same bits. For
// tiles whose sums come from memory (the AMX tiles): the epilogue's branches are taken once per
// block instead of once per vector, its column vectors (bias, LayerScale) loaded once, and its
// fields read from a local copy (read through the Epilogue reference, each would be loaded again
// after every output store, which may alias them).
template <class V, int NV, class Pre>
POMT_INLINE void store_epilogue_rows(const Epilogue& ep_in, int row0, int col0, int rows, float* c, size_t ldc,
                                     Pre&& pre) {
    using T = typename V::T;
    constexpr int L = V::lanes;
    const Epilogue ep = ep_in;
    auto run = [&](auto act, auto has_bias, auto has_res, auto has_scale) {
        constexpr int ACT = decltype(act)::value;
        T bias[NV], scale[NV];
        for (int j = 0; j < NV; ++j) {
            if constexpr (decltype(has_bias)::value) bias[j] = V::load(ep.bias + col0 + j * L);
            if constexpr (decltype(has_scale)::value) scale[j] = V::load(ep.scale + col0 + j * L);
        }
        // RB rows at a time: with GELU two, so that gelu_n interleaves 2·NV chains.
        auto block = [&](int r0, auto rb) {
            constexpr int RB = decltype(rb)::value;
            T v[RB * NV];
#pragma GCC unroll 8
            for (int q = 0; q < RB * NV; ++q) {
                v[q] = pre(r0 + q / NV, q % NV);
                if constexpr (decltype(has_bias)::value) v[q] = V::add(v[q], bias[q % NV]);
            }
            if constexpr (ACT == int(Activation::Gelu)) gelu_n<V, RB * NV>(v);
            if constexpr (ACT == int(Activation::GeluFast)) gelu_fast_n<V, RB * NV>(v);
#pragma GCC unroll 8
            for (int q = 0; q < RB * NV; ++q) {
                const int r = r0 + q / NV, j = q % NV;
                if constexpr (ACT == int(Activation::QuickGelu)) v[q] = quick_gelu<V>(v[q]);
                if constexpr (decltype(has_res)::value) {
                    const T rv = V::load(ep.residual + size_t(row0 + r) * ep.ld_residual + col0 + j * L);
                    v[q] = decltype(has_scale)::value ? V::fmadd(scale[j], v[q], rv) : V::add(rv, v[q]);
                }
                V::store(c + size_t(r) * ldc + j * L, v[q]);
            }
        };
        constexpr int kPair = ACT == int(Activation::Gelu) || ACT == int(Activation::GeluFast) ? 2 : 1;
        int r = 0;
        for (; r + kPair <= rows; r += kPair) block(r, std::integral_constant<int, kPair>());
        for (; r < rows; ++r) block(r, std::integral_constant<int, 1>());
    };
    using Yes = std::true_type;
    using No = std::false_type;
    auto with_rest = [&](auto act) {
        auto with_res = [&](auto b) {
            if (!ep.residual) run(act, b, No(), No());
            else if (ep.scale) run(act, b, Yes(), Yes());
            else run(act, b, Yes(), No());
        };
        if (ep.bias) with_res(Yes());
        else with_res(No());
    };
    switch (ep.act) {
        case Activation::Gelu: with_rest(std::integral_constant<int, int(Activation::Gelu)>()); break;
        case Activation::GeluFast: with_rest(std::integral_constant<int, int(Activation::GeluFast)>()); break;
        case Activation::QuickGelu: with_rest(std::integral_constant<int, int(Activation::QuickGelu)>()); break;
        default: with_rest(std::integral_constant<int, int(Activation::None)>()); break;
    }
}

// store_epilogue_rows over floats already in memory: y holds `rows` rows of NV vectors (row r,
// vector j at y + (r·NV + j)·lanes). Out of line, one function per vector count: register tiles
// (the int8 variants') convert their sums into y and call it, instead of inlining store_epilogue
// for each of their vectors, which re-read the Epilogue's fields and took its branches at every
// one of them (an avx512-vnni 8 × 3 tile was 6 558 instructions, 1 020 of them branches).
template <class V, int NV>
POMT_NOINLINE void store_epilogue_buffer(const Epilogue& ep, int row0, int col0, int rows, const float* y,
                                         float* c, size_t ldc) {
    store_epilogue_rows<V, NV>(ep, row0, col0, rows, c, ldc,
                               [&](int r, int j) { return V::load(y + size_t(r * NV + j) * V::lanes); });
}

// Not inlined into the dispatcher: one function per tile shape, as the register allocation wants.
template <class V, int R, int NP>
POMT_NOINLINE void gemm_tile(const GemmTile& t) {
    constexpr int PV = 16 / V::lanes;
    typename V::T acc[R][NP * PV];
    block_accumulate<V, R, NP>(t.k, t.a, size_t(t.lda), t.panel, kGemmPanel, t.panel_stride, acc);
#pragma GCC unroll 32
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 32
        for (int j = 0; j < NP * PV; ++j) {
            int n = std::min(V::lanes, t.cols - j * V::lanes);
            if (n <= 0) break;
            store_epilogue<V>(*t.ep, t.row0 + r, t.col0 + j * V::lanes, n, acc[r][j],
                              t.c + size_t(r) * t.ldc + j * V::lanes);
        }
}

// The tile kernel for t.rows (1..RMAX) × t.panels (1..NPMAX).
template <class V, int RMAX, int NPMAX>
void gemm_tile_dispatch(const GemmTile& t) {
    with_count<RMAX>(t.rows, [&](auto r) {
        with_count<NPMAX>(t.panels, [&](auto np) { gemm_tile<V, decltype(r)::value, decltype(np)::value>(t); });
    });
}

}  // namespace simd
}  // namespace pomt
