// Per-level kernel tables: each level's translation unit fills one from the same templates
// (kernels/kernels_scalar.cpp, kernels/x86/kernels_avx2.cpp, kernels_avx512.cpp,
// kernels/arm/kernels_neon.cpp); the public entry points (gemm, attention_head, layernorm,
// gelu_inplace, quick_gelu_inplace, softmax_inplace, head_max_column_sums) call through the table of active_isa().
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/attention.h"
#include "kernels/attention_int8.h"
#include "kernels/gemm_kernels.h"
#include "kernels/isa.h"
#include "kernels/reductions.h"

namespace pomt {

struct IsaKernels {
    Isa isa;
    GemmTileFn gemm_tile;
    int gemm_rows, gemm_panels;  // the largest tile gemm_tile takes
    void (*gelu)(float* x, size_t n);
    void (*gelu_fast)(float* x, size_t n);
    void (*quick_gelu)(float* x, size_t n);
    void (*softmax)(float* x, int n);
    void (*layernorm)(const float* x, int ld_x, float* y, int ld_y, int rows, int dim, const float* gamma,
                      const float* beta, float eps);
    void (*attention)(const AttentionHead& a);
    void (*attention_int8)(const AttentionHeadInt8& a, const Int8AttentionTrace* trace);
    void (*attention_int8_scores)(const AttentionHeadInt8& a, float* logits, size_t ld);
    void (*attention_int8_pv)(const AttentionHeadInt8& a, const float* probs, size_t ld);
    void (*head_max_column_sums)(const float* a, size_t head_stride, int ld, int heads, int rows, int cols,
                                 float* out);
    // round_row_to_bf16 (kernels/bf16.h) compiled for the level, so it runs vectorized: the bf16
    // GEMM's rounding of A and bf16 attention's packing of K and V.
    void (*round_bf16)(const float* x, int n, uint16_t* out);
    void (*round_bf16_float)(const float* x, int n, float* out);
    // bf16 attention's softmax of a logits row (kernels/attention_bf16.h): returns nothing, leaves
    // the fp32 probabilities in x and their bf16 rounding in p (npad values, the padding zero).
    void (*softmax_bf16)(float* x, int n, float scale, const float* bias, uint16_t* p, int npad);
    // bf16 attention's packing of a head's K and V (bf16_head_pack): tokens [token0, token1) of n.
    void (*pack_bf16_head)(const float* k, const float* v, int ld, int n, int d, int token0, int token1,
                           uint16_t* k_panels, uint16_t* v_panels);
    // Runs `iters` steps of independent FMA chains on full vectors (the peak-throughput probe of
    // profiler/kernel_bench.cpp); returns a value derived from the chains so they cannot be dropped.
    // Each step does fma_per_step FMAs (chains × lanes).
    float (*fma_loop)(long iters);
    int fma_per_step;
};

// Each ISA's table, declared for the architecture whose build compiles it.
#if defined(__x86_64__)
const IsaKernels& isa_kernels_avx512();
const IsaKernels& isa_kernels_avx2();
#elif defined(__aarch64__)
const IsaKernels& isa_kernels_neon();
#endif
const IsaKernels& isa_kernels_scalar();

// A growing 64-byte-aligned buffer per thread and slot: slot 0 for a kernel's working rows
// (attention's transposed K, padded V, logits rows), slot 1 for what a caller keeps across the
// kernel calls it makes (bf16 attention's packed K and V around the call that uses slot 0).
float* thread_scratch(size_t floats, int slot = 0);

// The table for `isa` (the scalar one for a level of another architecture).
const IsaKernels& kernels_for(Isa isa);
inline const IsaKernels& active_kernels() { return kernels_for(active_isa()); }

}  // namespace pomt
