// Matrix products of the ViT's Linear layers: C[m×n] = A[m×k] · Wᵀ, W in PyTorch Linear layout
// [n×k] (out_features × in_features), with the epilogue fused so activations are not re-read.
//
// W is packed once (at model load) into column panels of kGemmPanel floats: panel p holds columns
// [p·16, p·16+16) as k rows of 16 contiguous floats, zero-padded past n. One layout serves every ISA.
#pragma once
#include <cstddef>

#include "kernels/aligned.h"

namespace pomt {

class ThreadPool;

constexpr int kGemmPanel = 16;

struct PackedWeights {
    int n = 0, k = 0;
    AlignedFloats panels;            // ceil(n/16) × k × 16 floats
    const float* original = nullptr;  // [n×k] as given (the OpenBLAS path and tests use it)
};

PackedWeights pack_weights(const float* w, int n, int k);

// What happens to each accumulator acc = (A·Wᵀ)[i][j] before it is stored:
//   c = acc + bias[j]                          (bias may be null)
//   c = gelu(acc + bias[j])                    when gelu
//   c = residual[i][j] + scale[j]·(acc + bias[j])  when residual is set (scale may be null = 1);
// c may alias residual (in-place residual add) when ldc == ld_residual.
struct Epilogue {
    const float* bias = nullptr;
    bool gelu = false;
    const float* residual = nullptr;
    int ld_residual = 0;
    const float* scale = nullptr;
};

// Fast path: the active ISA's micro-kernel (or OpenBLAS when built with BLAS=openblas).
void gemm(int m, const float* a, int lda, const PackedWeights& w, float* c, int ldc, const Epilogue& ep,
          ThreadPool* pool);

// Readable reference: a plain triple loop with double accumulation, W unpacked [n×k] with row stride ldw.
void gemm_reference(int m, int n, int k, const float* a, int lda, const float* w, int ldw, float* c, int ldc,
                    const Epilogue& ep);

// Applies the epilogue to one value (shared by every kernel so they agree bit for bit on it).
float gelu_erf(float x);

}  // namespace pomt
