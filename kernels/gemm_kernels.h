// The contract between the GEMM driver (kernels/gemm.cpp) and the per-level tile kernels
// (kernels/gemm_block.h, instantiated in each level's kernel table: kernels/dispatch.h).
#pragma once
#include <cstddef>
#include <functional>

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

// How the GEMM drivers (fp32 and bf16) share C among threads: whole column tiles of tile_panels
// panels (each thread then streams only the W panels of the tiles it takes), cut into row chunks
// when there are too few tiles for a balanced share (DeiT-Tiny's proj and fc2 have 4); row blocks
// of at most tile_rows rows, split evenly (197 rows with 8-row tiles: 25 blocks of 7–8, never a thin
// 5-row leftover). Any split gives the same bits: tiles never change with it.
// The AMX drivers at 1 thread take row blocks outer (a block of A stays in L1 while the weights
// stream past it) only for weights up to this size, an L2 on Emerald Rapids; larger ones would be
// read from memory once per block of 32 rows. ViT-Base's bf16 fc1 (4.7 MB) that way took the bf16
// model from 45 to 60 ms, and its int8 fc2 (2.4 MB) cost the int8 model 6 %; DeiT-Small's weights
// (up to 1.2 MB in bf16) gain from row blocks outer. Also bounds gemm_bf16_rounds_rows.
constexpr size_t kRowBlocksOuterMaxWeightBytes = size_t(2) << 20;

struct GemmSplit {
    int m, col_tiles, row_blocks, row_chunks, threads;
    GemmSplit(int m, int n, int k, int tile_rows, int tile_panels, ThreadPool* pool);
    // Calls item(col_tile, rb0, rb1) once per item (one column tile, row blocks [rb0, rb1)), on the
    // pool's threads when there are several.
    void run(ThreadPool* pool, const std::function<void(int ct, int rb0, int rb1)>& item) const;
    // Row block rb's rows [r0, r1).
    void rows(int rb, int* r0, int* r1) const;
};

}  // namespace pomt
