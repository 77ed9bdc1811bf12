// AVX2+FMA GEMM micro-kernel: up to 4 rows × 16 columns, two ymm accumulators per row.
#include <immintrin.h>

#include "kernels/gemm_kernels.h"

namespace pomt {
namespace {

void tile_avx2(const GemmTile& t) {
    __m256 lo[4], hi[4];
    for (int r = 0; r < 4; ++r) lo[r] = hi[r] = _mm256_setzero_ps();
    for (int p = 0; p < t.k; ++p) {
        const float* b = t.panel + size_t(p) * kGemmPanel;
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        for (int r = 0; r < t.rows; ++r) {
            __m256 av = _mm256_broadcast_ss(t.a + size_t(r) * t.lda + p);
            lo[r] = _mm256_fmadd_ps(av, b0, lo[r]);
            hi[r] = _mm256_fmadd_ps(av, b1, hi[r]);
        }
    }
    alignas(64) float out[kGemmPanel];
    for (int r = 0; r < t.rows; ++r) {
        _mm256_store_ps(out, lo[r]);
        _mm256_store_ps(out + 8, hi[r]);
        apply_epilogue_row(*t.ep, t.row0 + r, t.col0, t.cols, out, t.c + size_t(r) * t.ldc);
    }
}

}  // namespace

GemmTileFn gemm_tile_kernel_avx2() { return tile_avx2; }

}  // namespace pomt
