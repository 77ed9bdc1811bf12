// AVX-512 GEMM micro-kernel: up to 4 rows × 16 columns, one zmm accumulator per row.
#include <immintrin.h>

#include "kernels/gemm_kernels.h"

namespace pomt {
namespace {

void tile_avx512(const GemmTile& t) {
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (int p = 0; p < t.k; ++p) {
        __m512 b = _mm512_load_ps(t.panel + size_t(p) * kGemmPanel);
        for (int r = 0; r < t.rows; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(t.a[size_t(r) * t.lda + p]), b, acc[r]);
    }
    alignas(64) float out[kGemmPanel];
    for (int r = 0; r < t.rows; ++r) {
        _mm512_store_ps(out, acc[r]);
        apply_epilogue_row(*t.ep, t.row0 + r, t.col0, t.cols, out, t.c + size_t(r) * t.ldc);
    }
}

}  // namespace

GemmTileFn gemm_tile_kernel_avx512() { return tile_avx512; }

}  // namespace pomt
