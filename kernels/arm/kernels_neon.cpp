// The NEON level's kernel table (aarch64): the shared templates of kernels/gemm_block.h and
// kernels/ops_impl.h.
#include "kernels/ops_impl.h"

namespace pomt {
namespace {

struct Tiles {
    // GEMM and attention 5 rows × 1 panel (5 × 16): 20 q accumulators + 4 of W + 5 of A fit the 32
    // registers (6 rows need 34: g++ then spills accumulators inside the k loop); 20 independent
    // chains cover the FMA latency × pipes of Cortex-A72 (10 × 1 in LLVM's model) and A76 (4 × 2).
    static constexpr int gemm_rows = 5, gemm_panels = 1;
    static constexpr int attn_rows = 5, attn_panels = 1;
    static constexpr int fma_chains = 16;
};

constexpr IsaKernels kTable = simd::kernel_table<simd::VecNeon, Tiles>(Isa::Neon);

}  // namespace

const IsaKernels& isa_kernels_neon() { return kTable; }

}  // namespace pomt
