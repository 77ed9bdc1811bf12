// The AVX-512 level's kernel table: the shared templates of kernels/gemm_block.h and
// kernels/ops_impl.h compiled here with -mavx512f (the file-name suffix picks the flags).
#include "kernels/ops_impl.h"

namespace pomt {
namespace {

struct Tiles {
    // GEMM 8 rows × 3 panels (8 × 48): 24 zmm accumulators; 3 loads of W and 8 broadcasts of A feed
    // 24 FMAs per step, inside the two-loads-per-cycle budget.
    static constexpr int gemm_rows = 8, gemm_panels = 3;
    // Attention 7 rows × 4 panels: 28 accumulators, and head_dim 64 is one P·V chunk instead of a
    // 3- and a 1-panel one (measured ~5% faster per head than 8 × 3 at 50–577 tokens).
    static constexpr int attn_rows = 7, attn_panels = 4;
    static constexpr int fma_chains = 16;
};

constexpr IsaKernels kTable = simd::kernel_table<simd::VecAvx512, Tiles>(Isa::Avx512);

}  // namespace

const IsaKernels& isa_kernels_avx512() { return kTable; }

}  // namespace pomt
