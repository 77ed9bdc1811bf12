// bf16 attention for one (image, head): softmax(scale·Q·Kᵀ + key_bias)·V with Q, K, V and the
// probabilities P rounded to bf16 (nearest even) and both matrix products run by the bf16 GEMM of
// kernels/gemm_bf16.h (AMX tiles, vdpbf16ps, BFDOT, or widened to fp32), products and sums fp32;
// the scale, the key bias and the softmax in fp32. What OpenVINO and PyTorch's autocast run on a
// bf16 CPU; pomt runs it for a model whose file asks for it ("attention": "bf16").
//
// K and V are packed once per head into the GEMM's weight layout, panels16x2: K as the weights of
// Q·Kᵀ (columns: tokens, inputs: head_dim), V as the weights of P·V (columns: head_dim, inputs:
// tokens, zero-padded to a multiple of 32 so that AMX never takes a partial step). Each product
// is one GEMM over a block of query rows, so its sums are in the active variant's Bf16Order
// (kernels/gemm_bf16.h), and a row's result does not depend on how the rows are split:
//   S_ij      = Σ_c bf16(Q_ic)·K_jc                       (the first GEMM, no epilogue)
//   logits_ij = fma(scale, S_ij, key_bias_j)              (fused into the softmax's max pass)
//   p_ij      = softmax_row(logits_i)_j                   (the fp32 level's, the same bits at every level)
//   out_ic    = Σ_j bf16(p_ij)·V_jc                       (the second GEMM, P rounded as the softmax ends)
// The amx-bf16 variant runs the same steps in one kernel of its own (Bf16Kernels::attention), its
// tiles stored straight into the logits and output rows: the same bits.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/attention.h"
#include "kernels/gemm.h"

namespace pomt {

// One head's K and V in panels16x2 (memory owned by the caller: a Session's workspace, the tests).
struct Bf16Head {
    int tokens = 0, head_dim = 0;
    uint16_t* k_panels = nullptr;  // bf16_panel_elems(tokens, head_dim)
    uint16_t* v_panels = nullptr;  // bf16_panel_elems(head_dim, bf16_head_v_inputs(tokens))
    PackedWeights k_weights() const;  // [tokens × head_dim], borrowed
    PackedWeights v_weights() const;  // [head_dim × bf16_head_v_inputs(tokens)], borrowed
};

// V's inputs: the tokens rounded up to 32 (whole 16-pair AMX steps), the rest zero.
int bf16_head_v_inputs(int tokens);

constexpr int kMaxBf16HeadDim = 256;  // head_dim ≤ this

// Floats of memory one head takes at `tokens` tokens (64-byte steps), and a head laid out there.
size_t bf16_head_floats(int tokens, int head_dim);
Bf16Head bf16_head_in(float* memory, int tokens, int head_dim);
// K's and V's rows [token0, token1) rounded into the panels (row j of K at k + j·ld, of V at
// v + j·ld). Both ends even or the last token (two tokens share V's 32-bit words); disjoint ranges
// may be packed by different threads at once, and the padding is written with the last range.
void bf16_head_pack(const Bf16Head& h, const float* k, const float* v, int ld, int token0, int token1);

struct AttentionHeadBf16 : AttentionRows {
    const Bf16Head* head = nullptr;  // packed
    const float* q = nullptr;        // query row i at q + i·ld_q (fp32; rounded as it is read)
    int ld_q = 0;
    int rows_end() const { return row_end < 0 ? head->tokens : row_end; }
};

// What the fast path computed, for the exact tests (rows: the query rows asked for, from
// row_begin): the sums S [rows × tokens], and the bf16 probabilities P·V multiplied [rows ×
// bf16_head_v_inputs(tokens)], the padding included. Null members are skipped.
struct Bf16AttentionTrace {
    float* sums = nullptr;
    uint16_t* p = nullptr;
};

// Fast path: the active bf16 variant's GEMM, the active fp32 level's softmax, on a packed head.
void attention_head_bf16(const AttentionHeadBf16& a, const Bf16AttentionTrace* trace = nullptr);
// The same from a head's floats (as attention_head takes them): its K and V packed first into a
// buffer the calling thread keeps for its next calls (bf16_head_floats, like fp32 attention's
// transposed K), so they are in cache when the products read them. Threads that split one head's
// rows each pack it.
void attention_head_bf16(const AttentionHead& a);
// The same on a packed head in the profiler's op-by-op block, stage by stage over a's rows: the logits into `logits`
// (row i − row_begin at logits + that·ld, ld ≥ tokens; scale and key bias in the GEMM's epilogue),
// then, once the caller has taken each row's softmax there, P·V from those probabilities (rounded
// in a copy; left as they are) into a.out.
void attention_bf16_scores(const AttentionHeadBf16& a, float* logits, size_t ld);
void attention_bf16_pv(const AttentionHeadBf16& a, const float* probs, size_t ld);

// Readable reference from a head's floats (the reference forward pass simulates a bf16-attention
// model with it): Q, K and V rounded to bf16, the logits, softmax and P·V in double, P rounded to
// bf16 first. Order-free: tests compare the fast path with it within float error, and each
// product exactly with gemm_bf16_reference in the variant's order.
void attention_head_bf16_reference(const AttentionHead& a);

}  // namespace pomt
