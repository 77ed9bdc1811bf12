// The bf16 tile kernel, written once over a small "bf16 ops" type per variant and instantiated by
// each variant's translation unit (kernels/gemm_bf16_scalar.cpp, kernels/x86/gemm_bf16_*.cpp,
// kernels/arm/gemm_bf16_*.cpp). Included only by those.
//
// A tile is R rows × NP panels of 16 columns: R·NP·(16/lanes) fp32 accumulators stay in registers
// for the whole depth; each step takes one pair of inputs: NP·(16/lanes) vectors of W (lanes
// columns × 2 bf16 each) and R broadcasts of a row's pair of A. Every output is one chain over the
// pairs in the variant's Bf16Order, so the result does not depend on the tile shape, the row split
// or the thread count. The epilogue is store_epilogue of kernels/gemm_block.h, as the fp32 GEMM's.
//
// The type B provides: V (the float vector), lanes (fp32 columns per vector), W and AOp, load_w(p)
// (lanes columns' pairs at p), prep_a(p) (the pair at p in every lane), dot(acc, a, w) → acc.
#pragma once
#include <algorithm>

#include "kernels/gemm_bf16_kernels.h"
#include "kernels/gemm_block.h"

namespace pomt {
namespace simd {

template <class B, int R, int NP>
POMT_NOINLINE void bf16_tile(const Bf16Tile& t) {
    using V = typename B::V;
    constexpr int L = B::lanes, PV = 16 / L, NV = NP * PV;
    constexpr size_t kPairElems = size_t(kGemmPanel) * kBf16Pair;
    typename V::T acc[R][NV];
#pragma GCC unroll 32
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 32
        for (int j = 0; j < NV; ++j) acc[r][j] = V::zero();
    const uint16_t* a = t.a;
    const uint16_t* w = t.panel;
    for (int g = 0; g < t.pairs; ++g, a += kBf16Pair, w += kPairElems) {
        typename B::W wv[NV];
#pragma GCC unroll 32
        for (int q = 0; q < NP; ++q)
#pragma GCC unroll 32
            for (int v = 0; v < PV; ++v) wv[q * PV + v] = B::load_w(w + q * t.panel_stride + v * L * kBf16Pair);
#pragma GCC unroll 32
        for (int r = 0; r < R; ++r) {
            const typename B::AOp av = B::prep_a(a + size_t(r) * t.lda);
#pragma GCC unroll 32
            for (int j = 0; j < NV; ++j) acc[r][j] = B::dot(acc[r][j], av, wv[j]);
        }
    }
#pragma GCC unroll 32
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 32
        for (int j = 0; j < NV; ++j) {
            const int n = std::min(L, t.cols - j * L);
            if (n <= 0) break;
            store_epilogue<V>(*t.ep, t.row0 + r, t.col0 + j * L, n, acc[r][j], t.c + size_t(r) * t.ldc + j * L);
        }
}

// The tile kernel for t.rows (1..RMAX) × t.panels (1..NPMAX).
template <class B, int RMAX, int NPMAX>
void bf16_tile_dispatch(const Bf16Tile& t) {
    with_count<RMAX>(t.rows, [&](auto r) {
        with_count<NPMAX>(t.panels, [&](auto np) { bf16_tile<B, decltype(r)::value, decltype(np)::value>(t); });
    });
}

template <class B, class Tiles>
constexpr Bf16Kernels bf16_kernel_table(const char* name, Isa isa, bool (*cpu_has)(), Bf16Order order) {
    return Bf16Kernels{name, isa, cpu_has, &bf16_tile_dispatch<B, Tiles::rows, Tiles::panels>, Tiles::rows,
                       Tiles::panels, order, nullptr};
}

}  // namespace simd
}  // namespace pomt
