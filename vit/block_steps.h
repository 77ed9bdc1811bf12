// The steps a transformer block is made of, on a token matrix [rows × features]: shared by the
// Session's fused block and the profiler's op-by-op block (profiler/block_ops.h), so both compute
// each step the same way.
#pragma once
#include "vit/forward.h"

namespace pomt {

// y = LayerNorm(x) row by row (y may be x), split over the pool.
void layernorm_rows(ThreadPool* pool, const float* x, float* y, int rows, int dim, const LayerNormParams& p,
                    float eps);

// out = in·Wᵀ + b, the activation (the MLP's GELU or QuickGELU) applied in the GEMM's epilogue.
void linear(ThreadPool* pool, const LinearParams& p, const float* in, int ld_in, int rows, float* out, int ld_out,
            Activation act = Activation::None);

// The MLP activation of a model.
inline Activation mlp_activation(const ModelConfig& c) { return c.quick_gelu() ? Activation::QuickGelu : Activation::Gelu; }

// The end of a residual branch, in place: x += scale·(in·Wᵀ + b); scale is the LayerScale gammas,
// or null for none.
void add_linear(ThreadPool* pool, const LinearParams& p, const float* in, int ld_in, int rows, const float* scale,
                float* x, int ld_x);

// A pruner's count checked: at least one token and no more than `before`; throws pomt::Error.
int checked_token_count(int after, int before);

// The pruning step of block `layer`, after the attention residual: the pruner rewrites x [batch ×
// tokens × dim] (and the sizes) in place; returns the checked new count.
int prune_step(TokenPruner& pruner, const ModelConfig& c, int layer, float* x, int batch, int tokens, const float* qkv,
               const float* attn, float* sizes, ThreadPool* pool);

}  // namespace pomt
