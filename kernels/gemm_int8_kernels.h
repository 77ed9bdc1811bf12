// The contract between the int8 GEMM driver (kernels/gemm_int8.cpp) and the int8 tile kernels
// (kernels/gemm_int8_block.h, instantiated once per int8 variant: kernels/gemm_int8_scalar.cpp,
// kernels/x86/gemm_int8_*.cpp, kernels/arm/gemm_int8_*.cpp), and the choice of variant.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/gemm.h"
#include "kernels/gemm_int8.h"
#include "kernels/isa.h"

namespace pomt {

// One output tile: `rows` rows × `panels` consecutive panels16x4 (only `cols` ≤ 16·panels columns
// are stored). Output either floats through the epilogue (c) or the raw int32 sums (acc, when set).
struct Int8Tile {
    int row0, rows, col0, cols, groups;  // groups: 4-byte groups of k (quantized_row_bytes(k) / 4)
    const int8_t* a;                     // first row of the tile, row stride lda bytes
    int lda;
    const float* a_scale;  // [rows], of the tile's first row
    const float* a_offset;
    const int8_t* panel;  // first panel; panel i at panel + i·panel_stride bytes
    size_t panel_stride;
    int panels;
    const float* w_scale;  // [cols], of the tile's first column
    const int32_t* w_sum;
    float* c;  // tile's top-left output, row stride ldc (rows are global: row0 + r for ep)
    int ldc;
    const Epilogue* ep;
    int32_t* acc = nullptr;  // int32 mode: tile's top-left accumulator, row stride ldacc
    int ldacc = 0;
};
using Int8TileFn = void (*)(const Int8Tile&);

// One int8 variant: its tile kernel and largest tile, the level its float epilogue needs, and the
// peak probe of profiler/kernel_bench.cpp (independent dot-product chains; returns a value derived
// from them so they cannot be dropped; each step does macs_per_step int8 multiply-adds).
struct Int8Kernels {
    const char* name;
    Isa isa;  // the CPU must support this fp32 level ...
    bool (*cpu_has)();  // ... and this (the extra instructions: VNNI, dotprod)
    Int8TileFn tile;
    int rows, panels;
    int32_t (*dot_loop)(long iters);
    int macs_per_step;
    // quantize_rows (kernels/quantize.h) for one row of k values.
    void (*quantize_row)(const float* x, int k, int8_t* q, float* scale, float* offset);
    // The same for a row whose least and greatest values the caller has found (lo, hi: what
    // quantize_row's first pass would find): its second pass alone, the same bits. int8 attention
    // takes P''s range in the pass that forms P'.
    void (*quantize_row_in_range)(const float* x, int k, float lo, float hi, int8_t* q, float* scale, float* offset);
    // Called by the drivers before the tiles of each GEMM or attention call, or null: AMX loads
    // its tile configuration again there (kernels/x86/amx.h).
    void (*begin)() = nullptr;
};

// Each variant's table, declared for the architecture whose build compiles it.
#if defined(__x86_64__)
const Int8Kernels& int8_kernels_amx();
const Int8Kernels& int8_kernels_avx512vnni();
const Int8Kernels& int8_kernels_avx512bw();
const Int8Kernels& int8_kernels_avxvnni();
const Int8Kernels& int8_kernels_avx2();
#elif defined(__aarch64__)
const Int8Kernels& int8_kernels_neondot();
const Int8Kernels& int8_kernels_neon();
#endif
const Int8Kernels& int8_kernels_scalar();

// Every variant this build has, best first ("amx-int8", "avx512-vnni", "avx512bw", "avx-vnni", "avx2",
// "neon-dot", "neon", "scalar").
std::vector<const char*> int8_variants();
bool int8_variant_supported(const char* name);  // built in and the CPU has it
// The variant in use: the one forced by POMT_INT8 or set_active_int8_variant if supported, else the
// best the CPU has within active_isa() (avx512 → amx-int8, avx512-vnni or avx512bw; avx2 → avx-vnni or avx2;
// neon → neon-dot or neon; scalar → scalar).
const Int8Kernels& active_int8_kernels();

// The tile of column tile `ct` (kern.panels panels wide) for rows [r0, r1) of a·w: the drivers of
// kernels/gemm_int8.cpp and the int8 attention (kernels/attention_int8_impl.h) build their tiles
// with it. c / acc point at row r0, column 0 (null: not written); ep is applied to the floats.
Int8Tile int8_tile(const Int8Kernels& kern, const QuantizedRows& a, const Int8Weights& w, int ct, int r0, int r1,
                   float* c, int ldc, const Epilogue* ep, int32_t* acc, int ldacc);
const char* active_int8_variant();
// Forces a variant (tests, the bench); false if unsupported. Null or "" returns to the default.
bool set_active_int8_variant(const char* name);

}  // namespace pomt
