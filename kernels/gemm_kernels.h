// The contract between the GEMM driver (kernels/gemm.cpp) and the per-ISA micro-kernels.
#pragma once
#include "kernels/gemm.h"
#include "kernels/isa.h"

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

// Largest tile each ISA's kernel takes: rows, and 16-column panels. The register budget sets it:
// AVX-512 8×48 (24 zmm accumulators), AVX2 6×16 (12 ymm), NEON 6×16 (24 q), portable 4×16.
inline int gemm_tile_rows(Isa isa) {
    return isa == Isa::Avx512 ? 8 : isa == Isa::Avx2 || isa == Isa::Neon ? 6 : 4;
}
inline int gemm_tile_panels(Isa isa) { return isa == Isa::Avx512 ? 3 : 1; }

void gemm_tile_portable(const GemmTile& t);
void apply_epilogue_row(const Epilogue& ep, int row, int col0, int cols, const float* acc, float* c);

// Null when the build lacks that kernel.
GemmTileFn gemm_tile_kernel_avx512();
GemmTileFn gemm_tile_kernel_avx2();
GemmTileFn gemm_tile_kernel_neon();

}  // namespace pomt
