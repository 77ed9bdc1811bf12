// The layers a transformer block is made of, on a token matrix [rows × features]: shared by the
// Session's fused block and the profiler's op-by-op block (profiler/block_ops.h), so both compute
// each layer the same way.
#pragma once
#include <functional>

#include "kernels/attention_int8.h"
#include "vit/forward.h"

namespace pomt {

// y = LayerNorm(x) row by row (y may be x), split over the pool.
void layernorm_rows(ThreadPool* pool, const float* x, float* y, int rows, int dim, const LayerNormParams& p,
                    float eps);

// The input of an int8 Linear straight from the LayerNorm before it: each thread normalises a few
// rows into a small scratch of its own and quantizes them into `out` (kernels/quantize.h), so the
// normalised rows never exist as a whole fp32 matrix.
void layernorm_quantize_rows(ThreadPool* pool, const float* x, int rows, int dim, const LayerNormParams& p, float eps,
                             QuantizedRows& out);

// quantize_rows split over the pool (rows are independent).
void quantize_rows_parallel(ThreadPool* pool, const float* x, int ld_x, int rows, int k, QuantizedRows& out);

// Rows [first, first + count) of q, as a view.
QuantizedRows quantized_row_range(const QuantizedRows& q, int first, int count);

// out = in·Wᵀ + b, the activation (the MLP's GELU or QuickGELU) applied in the GEMM's epilogue.
void linear(ThreadPool* pool, const LinearParams& p, const LinearInput& in, int rows, float* out, int ld_out,
            Activation act = Activation::None);
// The fp32 form (an fp32 layer only: an int8 one needs its input quantized, LinearInput::q).
void linear(ThreadPool* pool, const LinearParams& p, const float* in, int ld_in, int rows, float* out, int ld_out,
            Activation act = Activation::None);

// An int8 Linear computed row block by row block, `after(r0, r1)` running on each block's output
// rows while they are in cache (gemm_int8_then): int8 attention quantizes q, k and v there.
void linear_then(ThreadPool* pool, const LinearParams& p, const QuantizedRows& in, int rows, float* out, int ld_out,
                 const std::function<void(int r0, int r1)>& after);

// int8 attention's heads for `batch` images at `tokens` tokens in `memory` (int8_heads_floats):
// one Int8Head per (image, head), pair = image·heads + head. int8_heads_clear zeroes their panels
// (before the tokens are quantized); quantize_qkv_heads quantizes rows [r0, r1) of qkv [rows × 3·dim]
// (image r / tokens, token r % tokens) into them: each head's query (`q`), key and value (`kv`);
// int8_heads_finish adds V's column sums once every token is in. Each splits its work over the pool
// except quantize_qkv_heads, which runs inside the qkv GEMM's row blocks (linear_then).
size_t int8_heads_floats(const ModelConfig& c, int batch, int tokens);
Int8Head int8_head_at(const ModelConfig& c, float* memory, int tokens, int pair);
void int8_heads_clear(ThreadPool* pool, const ModelConfig& c, float* memory, int batch, int tokens);
void quantize_qkv_heads(const ModelConfig& c, float* memory, const float* qkv, int tokens, int r0, int r1, bool q,
                        bool kv);
void int8_heads_finish(ThreadPool* pool, const ModelConfig& c, float* memory, int batch, int tokens);

// An int8 Linear whose output feeds another int8 Linear (fc1 → fc2): out = quantize(act(in·Wᵀ + b))
// per row, fused into the GEMM (gemm_int8_quantized), no fp32 output.
void linear_quantized(ThreadPool* pool, const LinearParams& p, const QuantizedRows& in, int rows, Activation act,
                      QuantizedRows& out);

// A bf16 Linear whose output feeds another bf16 Linear (fc1 → fc2) on a native bf16 variant:
// out = bf16(act(in·Wᵀ + b)), rows of ld_out, rounded in the GEMM (gemm_bf16_to_bf16), no fp32
// output to read back.
void linear_to_bf16(ThreadPool* pool, const LinearParams& p, const LinearInput& in, int rows, Activation act,
                    uint16_t* out, int ld_out);

// The MLP activation of a model.
inline Activation mlp_activation(const ModelConfig& c) { return c.quick_gelu() ? Activation::QuickGelu : Activation::Gelu; }

// The activation between fc1 and fc2 as the forward pass applies it: when both are int8, fc1's
// output is quantized at once (linear_quantized) and GELU is Activation::GeluFast, whose 8.1e-5
// is under 2 % of the rows' quantization step for 99 % of ViT-Tiny's rows (docs/PERFORMANCE.md, "GELU").
inline Activation hidden_activation(const ModelConfig& c, const LinearParams& fc1, const LinearParams& fc2) {
    const Activation act = mlp_activation(c);
    return act == Activation::Gelu && fc1.is_int8() && fc2.is_int8() ? Activation::GeluFast : act;
}

// The end of a residual branch, in place: x += scale·(in·Wᵀ + b); scale is the LayerScale gammas,
// or null for none.
void add_linear(ThreadPool* pool, const LinearParams& p, const LinearInput& in, int rows, const float* scale, float* x,
                int ld_x);
void add_linear(ThreadPool* pool, const LinearParams& p, const float* in, int ld_in, int rows, const float* scale,
                float* x, int ld_x);

// Floats of workspace that quantized rows [rows × k] take (int8 values, then scales and offsets),
// and the view of such a block of floats.
size_t quantized_rows_floats(int rows, int k);
QuantizedRows quantized_rows_in(float* memory, int rows, int k);

// A pruner's count checked: at least one token and no more than `before`; throws pomt::Error.
int checked_token_count(int after, int before);

// The pruning step of block `layer`, after the attention residual: the pruner rewrites x [batch ×
// tokens × dim] (and the sizes) in place; returns the checked new count.
int prune_step(TokenPruner& pruner, const ModelConfig& c, int layer, float* x, int batch, int tokens, const float* qkv,
               const float* attn, float* sizes, ThreadPool* pool);

}  // namespace pomt
