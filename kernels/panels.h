// The panel layout of a Linear weight W [n×k] (PyTorch out × in), the one layout every GEMM
// micro-kernel reads and the one a .pomt version 2 file stores (docs/FORMAT.md): column panels of
// kGemmPanel = 16 floats; panel p holds columns [16p, 16p+16) as k rows of 16 contiguous floats,
// zero-padded past n. It does not depend on the ISA, so it can be computed once at conversion.
#pragma once
#include <cstddef>

namespace pomt {

constexpr int kGemmPanel = 16;

// Floats the panels of an [n×k] weight take: ceil(n/16) · k · 16.
size_t panel_floats(int n, int k);

// w [n×k] row-major → panels (panel_floats(n, k) floats at dst).
void pack_panels(const float* w, int n, int k, float* dst);

// The inverse: panels → w [n×k] row-major (bit-exact; the padding is dropped).
void unpack_panels(const float* panels, int n, int k, float* w);

}  // namespace pomt
