// The contract between the bf16 GEMM driver (kernels/gemm_bf16.cpp) and the bf16 tile kernels
// (kernels/gemm_bf16_block.h, instantiated once per variant: kernels/gemm_bf16_scalar.cpp,
// kernels/x86/gemm_bf16_avx512bf16.cpp, kernels/arm/gemm_bf16_neonbf16.cpp), and the choice of
// variant.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/attention_bf16.h"
#include "kernels/gemm.h"
#include "kernels/gemm_bf16.h"
#include "kernels/isa.h"

namespace pomt {

// One output tile: `rows` rows × `panels` consecutive panels16x2 (only `cols` ≤ 16·panels columns
// are stored).
struct Bf16Tile {
    int row0, rows, col0, cols, pairs;  // pairs: bf16_row_elems(k) / 2
    const uint16_t* a;                  // first row of the tile (bf16, pairs·2 per row), row stride lda elements
    int lda;
    const uint16_t* panel;  // first panel; panel i at panel + i·panel_stride elements
    size_t panel_stride;
    int panels;
    float* c;  // tile's top-left output, row stride ldc (rows are global: row0 + r for ep)
    int ldc;
    const Epilogue* ep;
};
using Bf16TileFn = void (*)(const Bf16Tile&);

// One bf16 variant. A variant without a tile kernel ("widen") widens each column tile's panels to
// fp32 and runs the active fp32 level's GEMM tile on them (A rounded to bf16 but kept in fp32):
// the path of every CPU without bf16 dot products, at fp32's speed with half the weight memory.
struct Bf16Kernels {
    const char* name;
    Isa isa;            // the CPU must support this fp32 level ...
    bool (*cpu_has)();  // ... and this (the extra instructions: AVX512_BF16, BF16)
    Bf16TileFn tile;    // null: "widen"
    int rows, panels;
    Bf16Order order;  // how its sums are ordered (the reference the tests hold it to)
    // Called by the driver before the tiles of each GEMM, or null: AMX loads its tile
    // configuration again there (kernels/x86/amx.h).
    void (*begin)() = nullptr;
    // bf16 attention of one head in a kernel of its own (the same bits as attention_head_bf16's
    // steps on this variant's GEMM), or null: those steps.
    void (*attention)(const AttentionHeadBf16& a, const Bf16AttentionTrace* trace) = nullptr;
    // round_row_to_bf16 (kernels/bf16.h) with the variant's own instructions (the same bits), or
    // null: the level's vector loop (IsaKernels::round_bf16). Rounds the GEMM's A.
    void (*round)(const float* x, int n, uint16_t* out) = nullptr;
};

// Each variant's table, declared for the architecture whose build compiles it.
#if defined(__x86_64__)
const Bf16Kernels& bf16_kernels_amx();
const Bf16Kernels& bf16_kernels_avx512bf16();
#elif defined(__aarch64__)
const Bf16Kernels& bf16_kernels_neonbf16();
#endif
const Bf16Kernels& bf16_kernels_widen();
const Bf16Kernels& bf16_kernels_scalar();

// Every variant this build has, best first ("amx-bf16", "avx512-bf16", "neon-bf16", "widen", "scalar").
std::vector<const char*> bf16_variants();
bool bf16_variant_supported(const char* name);  // built in and the CPU has it
// The variant in use: the one forced by POMT_BF16 or set_active_bf16_variant if supported, else
// the best the CPU has within active_isa() (avx512 → amx-bf16, or avx512-bf16 but on Intel CPUs, neon → neon-bf16, else widen).
// "scalar" is never chosen by itself: it is the portable form of avx512-bf16's sums (the same
// bits), for the tests and for checking a bf16 host's results on any machine.
const Bf16Kernels& active_bf16_kernels();
const char* active_bf16_variant();
// Forces a variant (tests, the bench); false if unsupported. Null or "" returns to the default.
bool set_active_bf16_variant(const char* name);

}  // namespace pomt
