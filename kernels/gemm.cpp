// GEMM dispatch, weight packing and the portable micro-kernel. ISA-specific micro-kernels live in
// kernels/x86/ and kernels/arm/ and register through kernels/gemm_kernels.h.
#include "kernels/gemm.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/gemm_kernels.h"
#include "kernels/isa.h"
#include "kernels/threads.h"

#ifdef POMT_USE_OPENBLAS
#include <cblas.h>
#endif

namespace pomt {

PackedWeights pack_weights(const float* w, int n, int k) {
    PackedWeights p;
    p.n = n;
    p.k = k;
    p.original = w;
    int panels = (n + kGemmPanel - 1) / kGemmPanel;
    p.panels = alloc_floats(size_t(panels) * k * kGemmPanel);
    float* dst = p.panels.get();
    for (int pi = 0; pi < panels; ++pi)
        for (int kk = 0; kk < k; ++kk)
            for (int j = 0; j < kGemmPanel; ++j) {
                int col = pi * kGemmPanel + j;
                *dst++ = col < n ? w[size_t(col) * k + kk] : 0.0f;
            }
    return p;
}

void apply_epilogue_row(const Epilogue& ep, int row, int col0, int cols, const float* acc, float* c) {
    for (int j = 0; j < cols; ++j) {
        int col = col0 + j;
        float v = acc[j] + (ep.bias ? ep.bias[col] : 0.0f);
        if (ep.gelu) v = gelu_erf(v);
        if (ep.residual) v = ep.residual[size_t(row) * ep.ld_residual + col] + (ep.scale ? ep.scale[col] : 1.0f) * v;
        c[j] = v;
    }
}

// Portable micro-kernel: up to 4 rows × one 16-wide panel, plain loops the compiler vectorises.
void gemm_tile_portable(const GemmTile& t) {
    float acc[4][kGemmPanel] = {};
    for (int p = 0; p < t.k; ++p) {
        const float* b = t.panel + size_t(p) * kGemmPanel;
        for (int r = 0; r < t.rows; ++r) {
            float av = t.a[size_t(r) * t.lda + p];
            for (int j = 0; j < kGemmPanel; ++j) acc[r][j] += av * b[j];
        }
    }
    for (int r = 0; r < t.rows; ++r)
        apply_epilogue_row(*t.ep, t.row0 + r, t.col0, t.cols, acc[r], t.c + size_t(r) * t.ldc);
}

namespace {

GemmTileFn tile_kernel_for(Isa isa) {
    GemmTileFn fn = nullptr;
#if defined(__x86_64__)
    if (isa == Isa::Avx512) fn = gemm_tile_kernel_avx512();
    if (isa == Isa::Avx2) fn = gemm_tile_kernel_avx2();
#elif defined(__aarch64__)
    if (isa == Isa::Neon) fn = gemm_tile_kernel_neon();
#endif
    (void)isa;
    return fn ? fn : gemm_tile_portable;
}

void gemm_packed(int m, const float* a, int lda, const PackedWeights& w, float* c, int ldc, const Epilogue& ep,
                 ThreadPool* pool) {
    GemmTileFn kernel = tile_kernel_for(active_isa());
    const int rows_per_tile = gemm_tile_rows(active_isa());
    int panels = (w.n + kGemmPanel - 1) / kGemmPanel;
    int row_blocks = (m + rows_per_tile - 1) / rows_per_tile;
    // Each task owns whole output tiles, so the result does not depend on the thread count.
    auto run = [&](int begin, int end) {
        for (int t = begin; t < end; ++t) {
            int pi = t % panels, rb = t / panels;
            GemmTile tile;
            tile.row0 = rb * rows_per_tile;
            tile.rows = std::min(rows_per_tile, m - tile.row0);
            tile.col0 = pi * kGemmPanel;
            tile.cols = std::min(kGemmPanel, w.n - tile.col0);
            tile.k = w.k;
            tile.a = a + size_t(tile.row0) * lda;
            tile.lda = lda;
            tile.panel = w.panels.get() + size_t(pi) * w.k * kGemmPanel;
            tile.c = c + size_t(tile.row0) * ldc + tile.col0;
            tile.ldc = ldc;
            tile.ep = &ep;
            kernel(tile);
        }
    };
    parallel_for(pool, panels * row_blocks, 8, run);
}

}  // namespace

void gemm(int m, const float* a, int lda, const PackedWeights& w, float* c, int ldc, const Epilogue& ep,
          ThreadPool* pool) {
    if (m <= 0 || w.n <= 0) return;
#ifdef POMT_USE_OPENBLAS
    if (w.original) {
        // OpenBLAS writes C directly, so an in-place residual must be saved first.
        bool in_place = ep.residual && ep.residual == c;
        std::vector<float> saved;
        Epilogue e = ep;
        if (in_place) {
            saved.resize(size_t(m) * w.n);
            for (int i = 0; i < m; ++i) std::memcpy(&saved[size_t(i) * w.n], c + size_t(i) * ldc, w.n * 4);
            e.residual = saved.data();
            e.ld_residual = w.n;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, w.n, w.k, 1.0f, a, lda, w.original, w.k, 0.0f, c,
                    ldc);
        for (int i = 0; i < m; ++i) apply_epilogue_row(e, i, 0, w.n, c + size_t(i) * ldc, c + size_t(i) * ldc);
        (void)pool;
        return;
    }
#endif
    gemm_packed(m, a, lda, w, c, ldc, ep, pool);
}

}  // namespace pomt
