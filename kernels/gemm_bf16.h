// bf16 matrix products of the Linear layers of a bf16 model: C[m×n] = bf16(A)[m×k] · Wᵀ with the
// epilogue of kernels/gemm.h fused, W stored in bf16 (rounded to nearest even from fp32 once, at
// `pomt quantize --precision bf16`) and A rounded to bf16 as the GEMM reads it; products and sums
// in fp32. (The product of two bf16 values is exact in fp32, so only the order of the additions
// differs between the kernels: the variant says which order it uses, Bf16Order.)
//
// Weight layout "panels16x2" (one layout for every ISA, stored as is in a .pomt version 4 file):
// panels of 16 output columns; within a panel, k is taken in pairs of consecutive inputs, each pair
// 64 bytes: bf16 element 32·g + 2·j + t of panel p is W[16p + j][2g + t]. Columns past n and the
// input past an odd k are 0. A 32-bit lane j of a pair is then the two weights one vdpbf16ps /
// BFDOT lane multiplies with two activations of one row, and a panel is the B operand of an AMX
// TDPBF16PS tile as it stands (k/2 rows of 16 pairs).
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/gemm.h"

namespace pomt {

class ThreadPool;

constexpr int kBf16Pair = 2;  // inputs per 32-bit lane

// k rounded up to a pair.
inline int bf16_row_elems(int k) { return (k + 1) / 2 * 2; }
// bf16 elements the panels of an [n×k] weight take: ceil(n/16) · 16 · bf16_row_elems(k).
size_t bf16_panel_elems(int n, int k);
// w [n×k] row-major fp32 → panels16x2 (bf16_panel_elems(n, k) elements at dst), each value
// rounded to nearest even; and back (exact: every bf16 is a float).
void pack_bf16_panels(const float* w, int n, int k, uint16_t* dst);
void unpack_bf16_panels(const uint16_t* panels, int n, int k, float* w);

// The order in which a kernel adds the (exact) products of one output into its fp32 accumulator:
//   Sequential:  acc = fma(a[t], w[t], acc) for t = 0, 1, …, k−1 (the fp32 kernels on widened
//                weights: the "widen" variant);
//   PairsOddFirst: for each pair g, acc = fma(a[2g+1], w[2g+1], acc), then fma(a[2g], w[2g], acc)
//                (vdpbf16ps: Intel's pseudo-code; the "avx512-bf16" and "scalar" variants);
//   PairsRoundToOdd: for each pair, s = a[2g]·w[2g] + a[2g+1]·w[2g+1] rounded to odd, then acc + s
//                rounded to odd; denormal inputs and results under 2^-126 flushed to zero, ≥ 2^128
//                to infinity, NaNs the default NaN (the Arm ARM's BFDotAdd without FEAT_EBF16, or
//                with FPCR.EBF = 0: Arm BFDOT, the "neon-bf16" variant; kernels/gemm_bf16.cpp).
//   AmxSteps:    k in steps of 16 pairs (the last step padded with zero pairs); in each step the
//                even inputs' products summed in order, E = ((p0 + p2) + p4) + …, the odd ones'
//                likewise, O = ((p1 + p3) + p5) + …, then acc = acc + (E + O), every addition
//                rounded to nearest even (AMX TDPBF16PS on 16-pair tiles, the "amx-bf16" variant:
//                found by comparing its results with candidate orders on an Emerald Rapids Xeon,
//                exact for steps of 1, 2, 3, 4, 8 and 16 pairs from zero and random accumulators;
//                the kernel issues 16-pair steps only. Intel's pseudo-code describes a per-pair
//                order the hardware does not follow: ~44 % of outputs differ from it).
enum class Bf16Order { Sequential, PairsOddFirst, PairsRoundToOdd, AmxSteps };

// Fast path: the active bf16 variant (kernels/gemm_bf16_kernels.h). w.bf16 must be set.
// A is rounded to bf16 once per call into `scratch`, gemm_bf16_scratch_bytes(m, w.k) bytes aligned
// to 4 (a Session's workspace, so that its memory limit counts them), or, when null, into a
// scratch the calling thread keeps for its next calls. The widen variant also widens each column
// tile's panels into a small scratch per thread (its panels × k floats).
void gemm_bf16(int m, const float* a, int lda, const PackedWeights& w, float* c, int ldc, const Epilogue& ep,
               ThreadPool* pool, void* scratch = nullptr);
// gemm_bf16 on A already rounded (bf16 rows of lda ≥ bf16_row_elems(w.k) elements, an odd k's pad
// input 0), on the calling thread: the same bits as gemm_bf16 on those values as floats.
void gemm_bf16_rounded(int m, const uint16_t* a, int lda, const PackedWeights& w, float* c, int ldc,
                       const Epilogue& ep, ThreadPool* pool = nullptr);
// gemm_bf16 with its outputs rounded to bf16 into `out` (rows of ld_out ≥ bf16_row_elems(w.n)
// values, the pad input of an odd n zero): the next bf16 GEMM's A, for gemm_bf16_rounded. A native
// variant runs each block of rows across every column tile into the thread's scratch and rounds
// it there while it is in cache, as gemm_int8_quantized does; the bits are gemm_bf16's rounded.
void gemm_bf16_to_bf16(int m, const float* a, int lda, const PackedWeights& w, const Epilogue& ep, uint16_t* out,
                       int ld_out, ThreadPool* pool, void* scratch = nullptr);
// Whether the active variant multiplies bf16 values itself (every variant but "widen", which
// takes A as floats) and an [n×k] weight is small enough for gemm_bf16_to_bf16's blocks of rows
// (each reads all of it: up to 2 MB, an L2): where a producer's rounding saves a pass.
bool gemm_bf16_rounds_rows(int n, int k);
// The bytes of A rounded for the active variant: m · bf16_row_elems(k) bf16 values, or m · k
// floats for "widen" (A rounded but held in fp32 for the fp32 tile).
size_t gemm_bf16_scratch_bytes(int m, int k);

// Readable reference: A rounded to bf16, the weights read from the panels, each output summed in
// `order` in fp32, then the epilogue in float as the kernels apply it (bias added, the activation
// by activation_reference, c = residual + scale·v with one fma).
void gemm_bf16_reference(int m, const float* a, int lda, const PackedWeights& w, float* c, int ldc,
                         const Epilogue& ep, Bf16Order order);

// The weights of `w` [n×k] as a PackedWeights holding bf16 panels (owned).
PackedWeights pack_bf16_weights(const float* w, int n, int k);
// Borrows bf16 panels already in the layout (a memory-mapped .pomt version 4 file).
PackedWeights borrow_bf16_panels(const uint16_t* panels, int n, int k);

}  // namespace pomt
