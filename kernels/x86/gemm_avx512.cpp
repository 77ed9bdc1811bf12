// AVX-512 kernels: GEMM tiles up to 8 rows × 48 columns (24 zmm accumulators; 3 loads of W and 8
// broadcasts of A feed 24 FMAs per step, inside the two-loads-per-cycle budget), and the
// vectorised softmax, LayerNorm, GELU and attention. The code is the shared templates of
// kernels/gemm_block.h and kernels/ops_impl.h, compiled here with -mavx512f.
#include "kernels/ops_impl.h"

namespace pomt {
namespace {

using V = simd::VecAvx512;
constexpr int kRows = 8, kPanels = 3;

const IsaKernels kTable = {
    Isa::Avx512,
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

GemmTileFn gemm_tile_kernel_avx512() { return kTable.gemm_tile; }
const IsaKernels* isa_kernels_avx512() { return &kTable; }

}  // namespace pomt
