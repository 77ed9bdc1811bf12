// The register-blocked micro-kernel, written once over the vector types of kernels/simd.h and
// instantiated by each ISA's translation unit (kernels/x86/gemm_avx512.cpp, gemm_avx2.cpp,
// kernels/arm/gemm_neon.cpp). Included only by those.
//
// A tile is R rows × NP panels of 16 columns: R·NP·(16/lanes) accumulators stay in registers for
// the whole depth k; each step loads NP·(16/lanes) vectors of B and broadcasts R values of A.
// Every output element is one sequential FMA chain over k, so the result does not depend on the
// tile shape, the row split or the thread count.
#pragma once
#include <algorithm>
#include <cstddef>

#include "kernels/gemm_kernels.h"
#include "kernels/simd.h"

#if defined(__GNUC__)
#define POMT_INLINE inline __attribute__((always_inline))
#else
#define POMT_INLINE inline
#endif

namespace pomt {
namespace simd {

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
            typename V::T av = V::set1(a[r * lda + p]);
#pragma GCC unroll 32
            for (int j = 0; j < NV; ++j) acc[r][j] = V::fmadd(av, bv[j], acc[r][j]);
        }
    }
}

// Fused epilogue on one vector of columns [col, col + n), n ≤ lanes, of output row `row`.
template <class V>
POMT_INLINE void store_epilogue(const Epilogue& ep, int row, int col, int n, typename V::T v, float* c) {
    const bool full = n == V::lanes;
    auto ld = [&](const float* p) { return full ? V::load(p) : V::load_partial(p, n); };
    if (ep.bias) v = V::add(v, ld(ep.bias + col));
    if (ep.gelu) v = gelu<V>(v);
    if (ep.residual) {
        typename V::T res = ld(ep.residual + size_t(row) * ep.ld_residual + col);
        v = ep.scale ? V::fmadd(ld(ep.scale + col), v, res) : V::add(res, v);
    }
    if (full)
        V::store(c, v);
    else
        V::store_partial(c, v, n);
}

template <class V, int R, int NP>
void gemm_tile(const GemmTile& t) {
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

// Picks the instantiation for t.rows (1..RMAX) × t.panels (1..NPMAX).
template <class V, int RMAX, int NPMAX>
struct GemmTileTable {
    GemmTileFn fns[RMAX][NPMAX];
    template <int R, int NP>
    void fill() {
        fns[R - 1][NP - 1] = gemm_tile<V, R, NP>;
        if constexpr (NP < NPMAX)
            fill<R, NP + 1>();
        else if constexpr (R < RMAX)
            fill<R + 1, 1>();
    }
    GemmTileTable() { fill<1, 1>(); }
};

template <class V, int RMAX, int NPMAX>
void gemm_tile_dispatch(const GemmTile& t) {
    static const GemmTileTable<V, RMAX, NPMAX> table;
    table.fns[t.rows - 1][t.panels - 1](t);
}

}  // namespace simd
}  // namespace pomt
