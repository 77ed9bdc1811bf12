// `pomt profile --mode op`: one transformer block run operation by operation, each timed. It is
// the profiler's own block, built on the public kernels (kernels/*.h), the block layers the Session
// shares (vit/layers.h) and the Model's parameters, so the Session's forward pass carries no
// timing code and no unfused path.
#pragma once
#include <vector>

#include "kernels/aligned.h"
#include "vit/forward.h"

namespace pomt {

// The operations of one block, in order, for the profiler's per-operation breakdown.
enum class BlockOp { Norm1, Qkv, Scores, Softmax, AttnV, Proj, Prune, Norm2, Fc1, Gelu, Fc2, Count };
const char* block_op_name(BlockOp op);

// Seconds spent per operation. The fused kernels of the Session's block run unfused here so each
// part can be timed: attention as Q·Kᵀ (GEMM), row softmax and P·V (GEMM) instead of the blocked
// kernel, fc1 and GELU as two passes. The sum is therefore a little above the fused block's time;
// the per-operation shares are what it is for.
struct OpTimes {
    double seconds[int(BlockOp::Count)] = {};
};

// Runs blocks of the Session's model op by op on the Session's threads. Its buffers are kept from
// run to run, so repeated timings pay no allocation.
class OpTimedBlock {
public:
    explicit OpTimedBlock(Session& session) : session_(session) {}
    // Block `layer` on x [batch × tokens × dim], in place: adds each operation's seconds to `times`.
    // `pruner` (optional) prunes as inside Session::run (the sequence may shrink). Returns the
    // token count after the block. Same computation as the Session's block, not the same bits.
    int run(int layer, float* x, int batch, int tokens, TokenPruner* pruner, OpTimes& times);

private:
    float* buffer(int slot, size_t floats);

    Session& session_;
    std::vector<AlignedFloats> buffers_;
    std::vector<size_t> capacity_;
};

}  // namespace pomt
