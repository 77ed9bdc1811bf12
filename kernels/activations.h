// Elementwise activations and row softmax.
#pragma once
#include <cstddef>

namespace pomt {

// Exact-erf GELU, in place: 0.5·x·(1 + erf(x/√2)) (timm's nn.GELU default).
void gelu_inplace(float* x, size_t n);

// Activation::GeluFast in place (kernels/gemm.h: GELU to 8.1e-5, for outputs quantized at once).
void gelu_fast_inplace(float* x, size_t n);

// QuickGELU, in place: x·σ(1.702·x) (timm act_layer='quick_gelu', OpenAI CLIP).
void quick_gelu_inplace(float* x, size_t n);

// Numerically stable softmax of one row, in place: subtract the max before exp.
void softmax_inplace(float* x, int n);

// Readable references (double precision).
void softmax_reference(const float* x, float* y, int n);

}  // namespace pomt
