// The contract between the GEMM driver (kernels/gemm.cpp) and the per-level tile kernels
// (kernels/gemm_block.h, instantiated in each level's kernel table: kernels/dispatch.h).
#pragma once
#include <cstddef>

#include "kernels/gemm.h"

namespace pomt {

// One output tile: `rows` rows × `panels` consecutive 16-column panels of W (only `cols` ≤ 16·panels
// columns are stored; the last panel may be partial).
struct GemmTile {
    int row0, rows, col0, cols, k;
    const float* a;  // first row of the tile, row stride lda
    int lda;
    const float* panel;  // first k × 16 packed panel; panel i at panel + i·panel_stride
    float* c;            // tile's top-left output, row stride ldc
    int ldc;
    const Epilogue* ep;
    int panels = 1;
    size_t panel_stride = 0;  // floats between consecutive panels (k·16 in PackedWeights)
};
using GemmTileFn = void (*)(const GemmTile&);

}  // namespace pomt
