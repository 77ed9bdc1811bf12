// Kernel benchmarks for `pomt bench`: the CPU's measured FMA peak, and GEMM throughput on the
// Linear shapes of ViTs. A benchmark, never a test: numbers depend on the machine and its load.
#pragma once
#include <string>
#include <vector>

#include "kernels/isa.h"

namespace pomt {

class ThreadPool;

// Single-core fp32 peak of `isa` in GFLOP/s: 12–16 independent FMA chains on full vectors (no
// dependency stalls, no memory traffic), the best of 20 timed windows of ~`seconds`/4 each.
// For Isa::Scalar it measures plain multiply-adds. Uses the ISA's kernel table; returns 0 if
// the CPU or build lacks `isa`.
double measure_fma_peak_gflops(Isa isa, double seconds = 0.05);

struct BenchStats {
    double median = 0, p10 = 0, p90 = 0;  // over the timed runs
    int runs = 0;
};

struct GemmShape {
    int m, n, k;
    std::string label;  // e.g. "deit_tiny fc1"
    // The model's epilogue for this layer: "bias", "bias+gelu" or "bias+residual" (in place).
    std::string epilogue = "bias";
};

struct GemmBenchResult {
    GemmShape shape;
    BenchStats gflops;   // pomt's packed kernels at the active ISA
    BenchStats blas;     // OpenBLAS through the same gemm() entry, when built with BLAS=openblas (runs = 0 otherwise)
    double pct_of_peak = 0;       // gflops.median / peak · 100 / threads
    double blas_pct_of_peak = 0;
};

// The four Linear layers (qkv (3D,D), proj (D,D), fc1 (4D,D), fc2 (D,4D)) of DeiT-Tiny (D=192),
// DeiT-Small (384) and ViT-Base (768) at each M in `ms`.
std::vector<GemmShape> vit_linear_shapes(const std::vector<int>& ms = {197, 99, 50});

// Times gemm() on each shape at the active ISA: warm-up, then `runs` timed runs (each repeats the
// product enough times to last ≥ ~2 ms), reported as GFLOP/s median and p10/p90.
// `peak_gflops` (single core) gives the percentages; pool may be null (one thread).
std::vector<GemmBenchResult> bench_gemm_shapes(const std::vector<GemmShape>& shapes, ThreadPool* pool, int runs,
                                               double peak_gflops);

// A plain-text table of the results (one line per shape), for `pomt bench`.
std::string format_gemm_bench(const std::vector<GemmBenchResult>& results, double peak_gflops, int threads);

// The int8 variant in use (kernels/gemm_int8_kernels.h: POMT_INT8 forces one), e.g. "avx512-vnni".
const char* int8_variant_name();
// Single-core int8 peak of the active int8 variant in GMAC/s (int8 multiply-adds per second):
// independent vpdpbusd / vpmaddubsw / sdot / smull chains, best of 20 windows as the FMA peak.
double measure_int8_peak_gmacs(double seconds = 0.05);

struct Int8GemmBenchResult {
    GemmShape shape;
    BenchStats gmacs;  // gemm_int8 (activations already quantized), GMAC/s
    double pct_of_peak = 0;  // gmacs.median / peak · 100 / threads
};
// Times gemm_int8 on each shape (per-column int8 weights, per-row quantized activations, the
// shape's epilogue) as bench_gemm_shapes times gemm().
std::vector<Int8GemmBenchResult> bench_int8_gemm_shapes(const std::vector<GemmShape>& shapes, ThreadPool* pool,
                                                        int runs, double peak_gmacs);
std::string format_int8_gemm_bench(const std::vector<Int8GemmBenchResult>& results, double peak_gmacs,
                                   int threads);

struct AttentionShape {
    int tokens, head_dim;
};
struct AttentionBenchResult {
    AttentionShape shape;
    // GFLOP/s counting the two products, 4·tokens²·head_dim per head, 1 thread:
    BenchStats fused;  // attention_head (Kᵀ transpose, QKᵀ, softmax, P·V) on one head
    BenchStats gemms;  // the same two products as plain gemm() calls on pre-packed K and Vᵀ, no softmax
    BenchStats bf16;   // attention_head_bf16 (K and V packed, Q, K, V, P rounded; the active bf16 variant)
    double pct_of_peak = 0, gemm_pct_of_peak = 0;
};
// The attention shapes of ViTs at 224² (197 tokens; 257 for patch 14), 384² (577) and DINOv2 at
// 518² (1370) for each head_dim in `head_dims`.
std::vector<AttentionShape> vit_attention_shapes(const std::vector<int>& head_dims = {64, 32, 48});
// Fused attention, the equivalent GEMMs and bf16 attention timed alternately (run r of each back to
// back), at the active ISA and bf16 variant, 1 thread.
std::vector<AttentionBenchResult> bench_attention_shapes(const std::vector<AttentionShape>& shapes, int runs,
                                                         double peak_gflops);
std::string format_attention_bench(const std::vector<AttentionBenchResult>& results, double peak_gflops);

}  // namespace pomt
