// AVX2+FMA kernels: GEMM tiles up to 6 rows × 16 columns (12 ymm accumulators + 2 of W + 1
// broadcast fit the 16 registers), and the vectorised softmax, LayerNorm, GELU and attention.
// The code is the shared templates of kernels/gemm_block.h and kernels/ops_impl.h.
#include "kernels/ops_impl.h"

namespace pomt {
namespace {

using V = simd::VecAvx2;
constexpr int kRows = 6, kPanels = 1;

const IsaKernels kTable = {
    Isa::Avx2,
    simd::gemm_tile_dispatch<V, kRows, kPanels>,
    kRows,
    kPanels,
    simd::gelu_array<V>,
    simd::softmax_row<V>,
    simd::layernorm_rows<V>,
    simd::attention<V, kRows, kPanels>,
    simd::head_max_column_sums<V>,
    simd::fma_loop<V, 12>,
    12 * V::lanes,
};

}  // namespace

GemmTileFn gemm_tile_kernel_avx2() { return kTable.gemm_tile; }
const IsaKernels* isa_kernels_avx2() { return &kTable; }

}  // namespace pomt
