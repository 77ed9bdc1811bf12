// The NEON level's kernel table (aarch64): the shared templates of kernels/gemm_block.h and
// kernels/ops_impl.h.
#include "kernels/ops_impl.h"

namespace pomt {
namespace {

struct Tiles {
    // GEMM and attention 6 rows × 1 panel (6 × 16): 24 q accumulators + 4 of W + the broadcast fit
    // the 32 registers; 24 independent chains cover the FMA latency of Cortex-A72 (7 cycles) and
    // A76 (4) on two pipes.
    static constexpr int gemm_rows = 6, gemm_panels = 1;
    static constexpr int attn_rows = 6, attn_panels = 1;
    static constexpr int fma_chains = 16;
};

constexpr IsaKernels kTable = simd::kernel_table<simd::VecNeon, Tiles>(Isa::Neon);

}  // namespace

const IsaKernels& isa_kernels_neon() { return kTable; }

}  // namespace pomt
