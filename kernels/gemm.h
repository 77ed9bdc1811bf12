// Matrix products of the ViT's Linear layers: C[m×n] = A[m×k] · Wᵀ, W in PyTorch Linear layout
// [n×k] (out_features × in_features), with the epilogue fused so activations are not re-read.
//
// W is read in the panel layout of kernels/panels.h (one layout for every ISA): packed at model
// load from row-major weights, or borrowed as stored in a .pomt version 2 file.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/aligned.h"
#include "kernels/panels.h"

namespace pomt {

class ThreadPool;

// W [n×k] in panels, owned (packed here) or borrowed from memory the caller keeps alive (a
// memory-mapped .pomt v2 file, so loading it packs nothing). A bf16 model's weight is held in bf16
// panels instead (kernels/gemm_bf16.h; `panels` is then null) and gemm() runs it in bf16.
struct PackedWeights {
    int n = 0, k = 0;
    const float* panels = nullptr;    // panel_floats(n, k) floats: `storage`, or borrowed
    AlignedFloats storage;            // empty when the panels are borrowed
    const float* original = nullptr;  // [n×k] row-major when at hand (the OpenBLAS path and tests use it)
    const uint16_t* bf16 = nullptr;   // bf16_panel_elems(n, k) bf16 values (in `storage`, or borrowed)
    bool is_bf16() const { return bf16 != nullptr; }
};

// Columns [first, first + n) of w as a borrowed view (first a multiple of 16: whole panels), in
// whichever precision w is held.
PackedWeights panel_columns(const PackedWeights& w, int first, int n);

// Packs w into owned panels; original = w.
PackedWeights pack_weights(const float* w, int n, int k);
// Borrows panels already in the layout; original = null.
PackedWeights borrow_panels(const float* panels, int n, int k);

// True in the OpenBLAS build, where gemm() multiplies with `original` whenever it is set: owners of
// borrowed panels then keep a row-major copy too.
bool gemm_uses_row_major_weights();

// The MLP activation an epilogue applies: timm's nn.GELU (exact erf) or QuickGELU (OpenAI CLIP).
// GeluFast is GELU to 8.1e-5 in 14 operations instead of 23 (gelu_fast_reference), for outputs
// quantized to int8 at once: an int8 fc1 feeding an int8 fc2, whose rows' steps are ~100× that
// (ViT-Tiny: median 9.2e-3, 99 % of the rows above 4.4e-3).
enum class Activation { None, Gelu, QuickGelu, GeluFast };

// What happens to each accumulator acc = (A·Wᵀ)[i][j] before it is stored:
//   c = acc + bias[j]                          (bias may be null)
//   c = act(acc + bias[j])                     when act is not None
//   c = residual[i][j] + scale[j]·(acc + bias[j])  when residual is set (scale may be null = 1);
// c may alias residual (in-place residual add) when ldc == ld_residual.
struct Epilogue {
    const float* bias = nullptr;
    Activation act = Activation::None;
    const float* residual = nullptr;
    int ld_residual = 0;
    const float* scale = nullptr;
};

// Fast path: the active ISA's micro-kernel (or OpenBLAS when built with BLAS=openblas); bf16
// weights go to gemm_bf16 (kernels/gemm_bf16.h).
void gemm(int m, const float* a, int lda, const PackedWeights& w, float* c, int ldc, const Epilogue& ep,
          ThreadPool* pool);

// Readable reference: a plain triple loop with double accumulation, W unpacked [n×k] with row stride ldw.
void gemm_reference(int m, int n, int k, const float* a, int lda, const float* w, int ldw, float* c, int ldc,
                    const Epilogue& ep);

// Readable reference GELU: 0.5·x·(1 + erf(x/√2)) with std::erf in float (gemm_reference, the
// reference forward pass and the tests use it; the kernels' epilogue and gelu_inplace use the
// polynomial simd::gelu of kernels/simd.h, which agrees with it to 1e-6).
float gelu_erf(float x);

// Readable reference QuickGELU: x·σ(1.702·x) = x / (1 + e^(−1.702·x)), in double, rounded once
// (the kernels use simd::quick_gelu, tested against it).
float quick_gelu_reference(float x);

// Activation::GeluFast: GELU(x) = x/2 + (x/2)·erf(x/√2) with erf(x/√2) ≈ s·P(s²), s = clamp(x/4.2,
// −1, 1) and P of degree 7 (kGeluFastP below: a minimax fit of the GELU's absolute error on
// |x| ≤ 4.2, its float Horner value at 1 exactly 1). Past |x| = 4.2 the result is exactly x or 0,
// where the true GELU is within 4.2·Φ(−4.2) = 5.6e-5 of it. Within 8.1e-5 of the erf form over
// every float. Written with the kernels' operations (fmaf), so simd::gelu_fast gives its bits at
// every level. NaN and −inf give NaN, +inf gives +inf.
constexpr float kGeluFastInvRange = 2.380952388e-01f;  // 1/4.2
constexpr float kGeluFastP[8] = {3.347114563e+00f,  -9.709707260e+00f, 2.430394554e+01f, -4.383280945e+01f,
                                 5.440510559e+01f,  -4.358637238e+01f, 2.009857750e+01f, -4.025854588e+00f};
float gelu_fast_reference(float x);

// The epilogue's activation on one value, by the readable references above.
float activation_reference(Activation act, float x);

}  // namespace pomt
