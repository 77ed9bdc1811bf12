// The scalar level's kernel table: the same templates as the vector levels (kernels/gemm_block.h,
// kernels/ops_impl.h), instantiated with VecF1, a "vector" of one float. Compiled without ISA
// flags, so this level runs on any x86-64 or other CPU.
#include "kernels/ops_impl.h"

namespace pomt {
namespace {

using V = simd::VecF1;
struct Tiles {
    // GEMM and attention 4 rows × 1 panel (4 × 16).
    static constexpr int gemm_rows = 4, gemm_panels = 1, attn_rows = 4, attn_panels = 1;
    static constexpr int fma_chains = 16;
};
constexpr int kRows = Tiles::gemm_rows;

// The GEMM tile, the one kernel not instantiated from its template here: plain multiply-add loops the
// compiler vectorises (SSE2). Baseline x86-64 has no FMA instruction, so the template's FMA chains
// would be a libm call per multiply-add (the whole model ran ~4.5x slower at this level). The sums
// therefore round differently from the vector levels' FMA chains; the epilogue is the template's
// (store_epilogue<VecF1>: the same bias, GELU and residual formulas).
void gemm_tile_scalar(const GemmTile& t) {
    for (int q = 0; q < t.panels; ++q) {
        const int cols = std::min(kGemmPanel, t.cols - q * kGemmPanel);
        if (cols <= 0) break;
        const float* panel = t.panel + size_t(q) * t.panel_stride;
        for (int r0 = 0; r0 < t.rows; r0 += kRows) {
            const int rows = std::min(kRows, t.rows - r0);
            float acc[kRows][kGemmPanel] = {};
            for (int p = 0; p < t.k; ++p) {
                const float* b = panel + size_t(p) * kGemmPanel;
                for (int r = 0; r < rows; ++r) {
                    const float av = t.a[size_t(r0 + r) * t.lda + p];
                    for (int j = 0; j < kGemmPanel; ++j) acc[r][j] += av * b[j];
                }
            }
            for (int r = 0; r < rows; ++r) {
                float* c = t.c + size_t(r0 + r) * t.ldc + q * kGemmPanel;
                for (int j = 0; j < cols; ++j)
                    simd::store_epilogue<V>(*t.ep, t.row0 + r0 + r, t.col0 + q * kGemmPanel + j, 1, acc[r][j], c + j);
            }
        }
    }
}

// Plain multiply-add chains (std::fma is a library call without -mfma): the throughput of this
// build's scalar code, not of the FMA unit.
float fma_loop_scalar(long iters) {
    float acc[16];
    for (int i = 0; i < 16; ++i) acc[i] = 0.001f * float(i);
    for (long it = 0; it < iters; ++it)
        for (int i = 0; i < 16; ++i) acc[i] = acc[i] * 0.999f + 0.0001f;
    float s = 0;
    for (float v : acc) s += v;
    return s;
}

// Same bits as every vector level: gelu (one formula of exact IEEE operations), softmax (16 partial
// sums reduced in one fixed tree) and head_max_column_sums (max is exact, rows added in order).
// Not the same bits (at rounding level): the GEMM (above), layernorm, whose sums run in vectors of
// the level's width, and attention, whose softmax sums each row in one vector of the level's
// width; the vector levels differ from each other there too, and changing those orders would
// change their model outputs.
constexpr IsaKernels scalar_table() {
    IsaKernels t = simd::kernel_table<V, Tiles>(Isa::Scalar);
    t.gemm_tile = gemm_tile_scalar;
    t.fma_loop = fma_loop_scalar;
    return t;
}
constexpr IsaKernels kTable = scalar_table();

}  // namespace

const IsaKernels& isa_kernels_scalar() { return kTable; }

}  // namespace pomt
