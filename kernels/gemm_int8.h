// int8 matrix products of the Linear layers: C[m×n] = dequant(Aq[m×k] · Wqᵀ) with the epilogue of
// kernels/gemm.h fused, where A is quantized per row (kernels/quantize.h) and W per output column
// (symmetric, w ≈ w_scale[j]·wq[j][t], wq in [−127, 127]).
//
// The integer part is exact: acc[i][j] = Σ_t aq[i][t]·wq[j][t] in int32 (|acc| ≤ 127²·k, so no
// overflow for k < 133,000), the same at every ISA level and thread count. Then
//   y[i][j] = w_scale[j]·(a_scale[i]·acc[i][j] + a_offset[i]·w_sum[j]) + bias[j]
// with w_sum[j] = Σ_t wq[j][t] (the offset term: Σ_t (scale·q + offset)·wq = scale·acc + offset·w_sum),
// followed by the activation / LayerScale / residual of Epilogue exactly as the fp32 GEMM does.
//
// Weight layout "panels16x4" (one layout for every ISA, stored as is in a .pomt file): panels of 16
// output columns; within a panel, k is taken in groups of 4 consecutive inputs, each group 64 bytes:
// byte 64·g + 4·j + t of panel p is wq[16p + j][4g + t]. Columns past n and inputs past k are 0. A
// 32-bit lane j of a group is then the 4 weights one VNNI vpdpbusd / NEON sdot lane multiplies
// with 4 activations of one row.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "kernels/gemm.h"
#include "kernels/quantize.h"

namespace pomt {

class ThreadPool;

constexpr int kInt8Group = 4;  // inputs per 32-bit lane

// Bytes the panels of an [n×k] int8 weight take: ceil(n/16) · 16 · quantized_row_bytes(k).
size_t int8_panel_bytes(int n, int k);
// wq [n×k] row-major → panels16x4 (int8_panel_bytes(n, k) bytes at dst); and back.
void pack_int8_panels(const int8_t* wq, int n, int k, int8_t* dst);
void unpack_int8_panels(const int8_t* panels, int n, int k, int8_t* wq);

// An int8 Linear weight: panels, per-column scales and column sums (owned, or borrowed from a
// memory-mapped .pomt file).
struct Int8Weights {
    int n = 0, k = 0;
    const int8_t* panels = nullptr;  // int8_panel_bytes(n, k)
    const float* scale = nullptr;    // [n], finite and > 0
    const int32_t* sum = nullptr;    // [n], Σ_t wq[j][t]
    std::shared_ptr<void> storage;   // keeps owned arrays alive; null when borrowed
    bool empty() const { return panels == nullptr; }
};

// Per-column symmetric quantization of w [n×k] row-major: scale[j] = max_t |w[j][t]| / 127 (a
// column of zeros gets scale 1), wq = clamp(round_half_even(w / scale), −127, 127).
Int8Weights quantize_weights(const float* w, int n, int k);
// The weights as floats, w[j][t] = scale[j]·wq[j][t] (the reference forward pass, tests).
void dequantize_weights(const Int8Weights& w, float* out /* [n×k] */);

// Fast path: the active level's int8 micro-kernel. a.k must equal w.k; c [m×n] with stride ldc.
void gemm_int8(int m, const QuantizedRows& a, const Int8Weights& w, float* c, int ldc, const Epilogue& ep,
               ThreadPool* pool);

// The same product with its output re-quantized per row into `out` (out.k == w.n), fused so the
// floats of a row never leave the thread's scratch (the MLP: fc1 + GELU → quantized input of fc2).
void gemm_int8_quantized(int m, const QuantizedRows& a, const Int8Weights& w, const Epilogue& ep,
                         QuantizedRows& out, ThreadPool* pool);

// gemm_int8 row block by row block: each block's rows across every column tile into c, then
// `after(r0, r1)` on those rows while they are still in cache (int8 attention quantizes each head's
// q, k and v there, vit/forward.cpp). c is the same as gemm_int8's.
void gemm_int8_then(int m, const QuantizedRows& a, const Int8Weights& w, float* c, int ldc, const Epilogue& ep,
                    const std::function<void(int r0, int r1)>& after, ThreadPool* pool);

// The exact int32 accumulators alone, acc[i][j] = Σ_t aq[i][t]·wq[j][t] (kernel tests).
void gemm_int8_accumulators(int m, const QuantizedRows& a, const Int8Weights& w, int32_t* acc, int ldacc,
                            ThreadPool* pool);

// Readable references: int64 sums of products from the unpacked weights, then the epilogue
// formula above in double.
void gemm_int8_accumulators_reference(int m, const QuantizedRows& a, const Int8Weights& w, int32_t* acc,
                                      int ldacc);
void gemm_int8_reference(int m, const QuantizedRows& a, const Int8Weights& w, float* c, int ldc,
                         const Epilogue& ep);

}  // namespace pomt
