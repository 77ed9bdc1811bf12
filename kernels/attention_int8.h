// int8 attention for one (image, head) of an int8 model: softmax(scale·Q·Kᵀ + key_bias)·V with both
// matrix products on the int8 tiles of kernels/gemm_int8.h, and the softmax in fp32.
//
// Q, K and V are quantized per token and head with the activations' scheme (kernels/quantize.h):
// x ≈ s·x_q + o, x_q in [−127, 127], s and o per row. For token i's query and token j's key,
//   q̂_i·k̂_j = s_kj·(s_qi·Σ_c Q_ic·K_jc + o_qi·Σ_c K_jc) + o_kj·S_i,   S_i = Σ_c q̂_ic,
// the first term being the int8 GEMM's epilogue with K as the weights (per-column scale s_kj and
// column sum Σ_c K_jc), the second a rank-one correction. The softmax runs on
// scale·(q̂·k̂) + key_bias in fp32 and gives p (what POMT reads). For P·V the reduction runs over
// tokens, so V's per-token scale cannot leave the integer sum: it is folded into the probabilities,
//   Σ_j p_ij·v̂_jc = Σ_j (p_ij·s_vj)·V_jc + Σ_j p_ij·o_vj,
// P' = p·s_v is quantized per row (the same scheme) and multiplied with V as the weights (scale 1,
// column sums Σ_j V_jc), and T_i = Σ_j p_ij·o_vj is added to the row. The integer sums are exact,
// so they are the same at every int8 variant and thread count; a row's result does not depend on
// how the query rows are split.
#pragma once
#include <cstdint>

#include "kernels/attention.h"
#include "kernels/gemm_int8.h"
#include "kernels/quantize.h"

namespace pomt {

// One head's quantized Q, K and V (memory owned by the caller: a Session's workspace, the tests),
// laid out for the int8 tiles: K as the weights of Q·Kᵀ (columns: tokens, inputs: head_dim), V as
// the weights of P'·V (columns: head_dim, inputs: tokens).
struct Int8Head {
    int tokens = 0, head_dim = 0;
    QuantizedRows q;  // [tokens × head_dim]: Q's rows, q.k = head_dim
    int8_t* k_panels = nullptr;  // int8_head_k_bytes
    float *k_scale = nullptr, *k_offset = nullptr;  // [tokens]
    int32_t* k_sum = nullptr;                        // [tokens]: Σ_c K_jc
    int8_t* v_panels = nullptr;  // int8_head_v_bytes (int8_head_finish)
    int8_t* v_rows = nullptr;    // [tokens × head_dim]: V's rows as quantized, laid into v_panels by int8_head_finish
    float *v_scale = nullptr, *v_offset = nullptr;  // [tokens]
    int32_t* v_sum = nullptr;                        // [head_dim]: Σ_j V_jc (int8_head_finish)

    Int8Weights k_weights() const;  // scale s_kj, sum Σ_c K_jc
    Int8Weights v_weights() const;  // scale 1, sum Σ_j V_jc
};

// Bytes of one head's K and V panels at `tokens` tokens. head_dim ≤ kMaxInt8HeadDim.
constexpr int kMaxInt8HeadDim = 256;
size_t int8_head_k_bytes(int tokens, int head_dim);
size_t int8_head_v_bytes(int tokens, int head_dim);

// A head laid out in `memory` (int8_head_floats(tokens, head_dim) floats, 64-byte aligned).
size_t int8_head_floats(int tokens, int head_dim);
Int8Head int8_head_in(float* memory, int tokens, int head_dim);

// Zeroes K's panels (their padding must be zero) before the tokens are quantized.
void int8_head_clear(const Int8Head& h);
// Quantizes token `token`'s query (Q's row), and its key and value (K's panel column with its
// scale, offset and sum, V's row with its scale and offset); head_dim floats each. Different
// tokens may be quantized by different threads at once.
void int8_head_quantize_q(const Int8Head& h, int token, const float* q);
void int8_head_quantize_kv(const Int8Head& h, int token, const float* k, const float* v);
// The same for token `token` of `count` heads at once (a qkv row): head i's query, key and value
// at q, k, v + i·head_dim. Null q: no query; null k and v: no key and value.
void int8_heads_quantize_token(const Int8Head* heads, int count, int token, const float* q, const float* k,
                               const float* v);
// Once every token is quantized: V's rows into its panels (their padding zeroed), and V's column
// sums.
void int8_head_finish(const Int8Head& h);

struct AttentionHeadInt8 : AttentionRows {
    const Int8Head* head = nullptr;  // int8_head_finish done
    int rows_end() const { return row_end < 0 ? head->tokens : row_end; }
};

// What the fast path multiplied, for the exact tests: the int32 sums of Q·Kᵀ [rows × tokens] and
// P'·V [rows × head_dim] and the quantized P' rows [rows × quantized_row_bytes(tokens)] with their
// scales and offsets (rows: the query rows asked for, from row_begin). Null members are skipped.
struct Int8AttentionTrace {
    int32_t* acc_qk = nullptr;
    int32_t* acc_pv = nullptr;
    int8_t* p_q = nullptr;
    float* p_scale = nullptr;
    float* p_offset = nullptr;
};

// Fast path: the active int8 variant's tiles, the active fp32 level's exp.
void attention_head_int8(const AttentionHeadInt8& a, const Int8AttentionTrace* trace = nullptr);
// The same in the profiler's op-by-op block (profiler/block_ops.cpp), stage by stage over a's rows:
// the logits scale·(q̂·k̂) + key_bias into `logits` (row i − row_begin at logits + that·ld, ld ≥
// tokens rounded up to 16); then, once the caller has taken each row's softmax there, P·V from
// those probabilities (left as they are) into a.out.
void attention_int8_scores(const AttentionHeadInt8& a, float* logits, size_t ld);
void attention_int8_pv(const AttentionHeadInt8& a, const float* probs, size_t ld);

// Readable reference of the same formulas: the dequantized values and the softmax in double, P'
// quantized by quantize_rows_reference (tests compare the fast path with it within float error).
void attention_head_int8_reference(const AttentionHeadInt8& a);
// The same from a head's floats (the reference forward pass simulates an int8 model's attention
// with it): Q, K and V quantized per token by quantize_rows_reference, then the function above.
void attention_head_int8_reference(const AttentionHead& a);

}  // namespace pomt
