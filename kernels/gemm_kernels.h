// The contract between the GEMM driver (kernels/gemm.cpp) and the per-ISA micro-kernels.
#pragma once
#include "kernels/gemm.h"
#include "kernels/isa.h"

namespace pomt {

// One output tile: `rows` rows × one 16-column panel of W (only `cols` ≤ 16 columns are stored).
struct GemmTile {
    int row0, rows, col0, cols, k;
    const float* a;  // first row of the tile, row stride lda
    int lda;
    const float* panel;  // k × 16 packed weights
    float* c;            // tile's top-left output, row stride ldc
    int ldc;
    const Epilogue* ep;
};
using GemmTileFn = void (*)(const GemmTile&);

// Rows per tile for each ISA's kernel.
inline int gemm_tile_rows(Isa isa) { return isa == Isa::Scalar ? 4 : 4; }

void gemm_tile_portable(const GemmTile& t);
void apply_epilogue_row(const Epilogue& ep, int row, int col0, int cols, const float* acc, float* c);

// Null when the build lacks that kernel.
GemmTileFn gemm_tile_kernel_avx512();
GemmTileFn gemm_tile_kernel_avx2();
GemmTileFn gemm_tile_kernel_neon();

}  // namespace pomt
