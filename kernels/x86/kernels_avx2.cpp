// The AVX2+FMA level's kernel table: the shared templates of kernels/gemm_block.h and
// kernels/ops_impl.h compiled here with -mavx2 -mfma (the file-name suffix picks the flags).
#include "kernels/ops_impl.h"

namespace pomt {
namespace {

struct Tiles {
    // GEMM and attention 6 rows × 1 panel (6 × 16): 12 ymm accumulators + 2 of W + 1 broadcast
    // fit the 16 registers; 12 chains in the FMA probe for the same reason.
    static constexpr int gemm_rows = 6, gemm_panels = 1;
    static constexpr int attn_rows = 6, attn_panels = 1;
    static constexpr int fma_chains = 12;
};

constexpr IsaKernels kTable = simd::kernel_table<simd::VecAvx2, Tiles>(Isa::Avx2);

}  // namespace

const IsaKernels& isa_kernels_avx2() { return kTable; }

}  // namespace pomt
