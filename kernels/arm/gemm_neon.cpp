// NEON kernels: GEMM tiles up to 6 rows × 16 columns (24 q accumulators + 4 of W + the broadcast
// fit the 32 registers; 24 independent chains cover the FMA latency of Cortex-A72 (7 cycles) and
// A76 (4) on two pipes), and the vectorised softmax, LayerNorm, GELU and attention. The code is
// the shared templates of kernels/gemm_block.h and kernels/ops_impl.h.
#include "kernels/ops_impl.h"

namespace pomt {
namespace {

using V = simd::VecNeon;
constexpr int kRows = 6, kPanels = 1;

const IsaKernels kTable = {
    Isa::Neon,
    simd::gemm_tile_dispatch<V, kRows, kPanels>,
    kRows,
    kPanels,
    simd::gelu_array<V>,
    simd::softmax_row<V>,
    simd::layernorm_rows<V>,
    simd::attention<V, kRows, kPanels>,
    simd::head_max_column_sums<V>,
    simd::fma_loop<V, 16>,
    16 * V::lanes,
};

}  // namespace

GemmTileFn gemm_tile_kernel_neon() { return kTable.gemm_tile; }
const IsaKernels* isa_kernels_neon() { return &kTable; }

}  // namespace pomt
