// Per-token (per-row) int8 quantization of activations, the input of every int8 Linear
// (kernels/gemm_int8.h). Each row x[0..k) is mapped onto its own range [lo, hi]:
//   offset = (hi + lo) / 2,  scale = (hi − lo) / 254,
//   q[t]   = clamp(round_half_even((x[t] − offset) · (254 / (hi − lo))), −127, 127),
// so x ≈ scale·q + offset. The range is asymmetric (it follows the row's min and max, as an
// asymmetric u8 scheme would) while q stays a symmetric s8 in [−127, 127]: every int8 kernel can use
// it as is (AVX2's vpmaddubsw cannot saturate on it, see kernels/gemm_int8.h), and the offset is
// added back exactly in the GEMM epilogue through the weights' column sums. A constant row
// (hi == lo) gets scale 0, q = 0 and offset = its value.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace pomt {

// The int8 of a value already rounded to an integer: clamped to [−127, 127]. A NaN (a file's NaN
// weights, an activation that overflowed) becomes 0: converting it would be undefined behaviour.
// The vector variants' lanes give their own defined value for a NaN (x86: −128); the bits are the
// same at every level for finite inputs only.
inline int8_t clamp_to_int8(float v) { return v == v ? int8_t(std::clamp(v, -127.0f, 127.0f)) : int8_t(0); }

// Bytes between consecutive rows of quantized activations: k rounded up to the 4-value groups the
// int8 kernels consume (the padding bytes are zero).
inline int quantized_row_bytes(int k) { return (k + 3) / 4 * 4; }

// Quantized rows: q [rows × ld] int8 (ld = quantized_row_bytes(k)), one scale and offset per row.
// A view: the memory belongs to whoever made it (a Session's workspace, the tests).
struct QuantizedRows {
    int rows = 0, k = 0, ld = 0;
    int8_t* q = nullptr;
    float* scale = nullptr;
    float* offset = nullptr;
};

// Quantizes rows [0, rows) of x (row stride ldx) into out (out.k must equal k; out.q, out.scale and
// out.offset must hold `rows` rows). The result is the same bits at every ISA level: each q is
// computed by the exact float operations written above.
void quantize_rows(const float* x, int ldx, int rows, int k, QuantizedRows& out);

// The readable reference of the same formula, one value at a time (tests compare the two).
void quantize_rows_reference(const float* x, int ldx, int rows, int k, QuantizedRows& out);

// x̂ = scale·q + offset for row r (tests, the reference forward pass).
void dequantize_row(const QuantizedRows& in, int r, float* x);

}  // namespace pomt
