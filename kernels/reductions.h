// Reductions over the attention matrix that token pruning needs (POMT's importance scores).
#pragma once
#include <cstddef>

namespace pomt {

// out[j] = Σ_{i<rows} max_{h<heads} a[h·head_stride + i·ld + j] for j < cols. Rows are added in
// float in order i = 0, 1, …, so every ISA gives the same bits (max is exact, the additions happen
// in one order); callers keep `rows` short (POMT uses groups of 16) and sum the groups in double.
void head_max_column_sums(const float* a, size_t head_stride, int ld, int heads, int rows, int cols, float* out);

// Readable reference (also the kernels' columns past the last whole vector).
void head_max_column_sums_reference(const float* a, size_t head_stride, int ld, int heads, int rows, int cols,
                                   float* out);

}  // namespace pomt
