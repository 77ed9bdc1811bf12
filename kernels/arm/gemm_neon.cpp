// NEON GEMM micro-kernel: up to 4 rows × 16 columns, four q-register accumulators per row.
#include <arm_neon.h>

#include "kernels/gemm_kernels.h"

namespace pomt {
namespace {

void tile_neon(const GemmTile& t) {
    float32x4_t acc[4][4];
    for (int r = 0; r < 4; ++r)
        for (int q = 0; q < 4; ++q) acc[r][q] = vdupq_n_f32(0.0f);
    for (int p = 0; p < t.k; ++p) {
        const float* b = t.panel + size_t(p) * kGemmPanel;
        float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8), b3 = vld1q_f32(b + 12);
        for (int r = 0; r < t.rows; ++r) {
            float av = t.a[size_t(r) * t.lda + p];
            acc[r][0] = vfmaq_n_f32(acc[r][0], b0, av);
            acc[r][1] = vfmaq_n_f32(acc[r][1], b1, av);
            acc[r][2] = vfmaq_n_f32(acc[r][2], b2, av);
            acc[r][3] = vfmaq_n_f32(acc[r][3], b3, av);
        }
    }
    float out[kGemmPanel];
    for (int r = 0; r < t.rows; ++r) {
        for (int q = 0; q < 4; ++q) vst1q_f32(out + 4 * q, acc[r][q]);
        apply_epilogue_row(*t.ep, t.row0 + r, t.col0, t.cols, out, t.c + size_t(r) * t.ldc);
    }
}

}  // namespace

GemmTileFn gemm_tile_kernel_neon() { return tile_neon; }

}  // namespace pomt
