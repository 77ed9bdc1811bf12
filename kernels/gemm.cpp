// GEMM driver and weight packing: splits C into tiles and threads, and calls the active level's tile
// kernel (kernels/gemm_block.h, through kernels/dispatch.h).
#include "kernels/gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/gemm_bf16.h"
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
    p.storage = alloc_floats(panel_floats(n, k));
    pack_panels(w, n, k, p.storage.get());
    p.panels = p.storage.get();
    return p;
}

PackedWeights borrow_panels(const float* panels, int n, int k) {
    PackedWeights p;
    p.n = n;
    p.k = k;
    p.panels = panels;
    return p;
}

PackedWeights panel_columns(const PackedWeights& w, int first, int n) {
    if (first % kGemmPanel != 0 || first < 0 || n < 0 || first + n > w.n) std::abort();
    PackedWeights v;
    v.n = n;
    v.k = w.k;
    const size_t panel = size_t(first / kGemmPanel);
    if (w.bf16) v.bf16 = w.bf16 + panel * kGemmPanel * size_t(bf16_row_elems(w.k));
    if (w.panels) v.panels = w.panels + panel * kGemmPanel * size_t(w.k);
    if (w.original) v.original = w.original + size_t(first) * w.k;
    return v;
}

bool gemm_uses_row_major_weights() {
#ifdef POMT_USE_OPENBLAS
    return true;
#else
    return false;
#endif
}

// Items per thread: enough for a balanced share when tiles take unequal time.
constexpr int kItemsPerThread = 4;

GemmSplit::GemmSplit(int m_, int n, int k, int tile_rows, int tile_panels, ThreadPool* pool) : m(m_) {
    const int panels = (n + kGemmPanel - 1) / kGemmPanel;
    col_tiles = (panels + tile_panels - 1) / tile_panels;
    row_blocks = (m + tile_rows - 1) / tile_rows;
    // Below ~1 MFLOP a parallel region costs more than it saves.
    threads = pool ? pool->size() : 1;
    if (2.0 * m * n * k < 1e6) threads = 1;
    row_chunks = threads == 1 ? 1 : std::min(row_blocks, (kItemsPerThread * threads + col_tiles - 1) / col_tiles);
}

void GemmSplit::run(ThreadPool* pool, const std::function<void(int ct, int rb0, int rb1)>& item) const {
    auto one = [&](int i) {
        int rb0, rb1;
        split_range(row_blocks, row_chunks, i % row_chunks, &rb0, &rb1);
        item(i / row_chunks, rb0, rb1);
    };
    const int items = col_tiles * row_chunks;
    if (threads == 1) {
        for (int i = 0; i < items; ++i) one(i);
    } else {
        pool->run_shared(items, one);
    }
}

void GemmSplit::rows(int rb, int* r0, int* r1) const { split_range(m, row_blocks, rb, r0, r1); }

namespace {

void gemm_packed(int m, const float* a, int lda, const PackedWeights& w, float* c, int ldc, const Epilogue& ep,
                 ThreadPool* pool) {
    const IsaKernels& kern = active_kernels();
    const int panels = (w.n + kGemmPanel - 1) / kGemmPanel;
    const size_t panel_stride = size_t(w.k) * kGemmPanel;
    const GemmSplit split(m, w.n, w.k, kern.gemm_rows, kern.gemm_panels, pool);
    split.run(pool, [&](int ct, int rb0, int rb1) {
        GemmTile tile;
        tile.k = w.k;
        tile.lda = lda;
        tile.ldc = ldc;
        tile.ep = &ep;
        tile.panel_stride = panel_stride;
        // One column tile, its row blocks inner: the tile's panels (k × 48 floats) stay in L1/L2
        // while the rows of A stream past them.
        const int p0 = ct * kern.gemm_panels;
        tile.panels = std::min(kern.gemm_panels, panels - p0);
        tile.col0 = p0 * kGemmPanel;
        tile.cols = std::min(tile.panels * kGemmPanel, w.n - tile.col0);
        tile.panel = w.panels + size_t(p0) * panel_stride;
        for (int rb = rb0; rb < rb1; ++rb) {
            int r0, r1;
            split.rows(rb, &r0, &r1);
            tile.row0 = r0;
            tile.rows = r1 - r0;
            tile.a = a + size_t(r0) * lda;
            tile.c = c + size_t(r0) * ldc + tile.col0;
            kern.gemm_tile(tile);
        }
    });
}

}  // namespace

void gemm(int m, const float* a, int lda, const PackedWeights& w, float* c, int ldc, const Epilogue& ep,
          ThreadPool* pool) {
    if (m <= 0 || w.n <= 0) return;
    if (w.bf16) return gemm_bf16(m, a, lda, w, c, ldc, ep, pool);
#ifdef POMT_USE_OPENBLAS
    // The epilogue's activation here is the readable reference (std::erf / std::exp), not the kernels' polynomial.
    auto apply_epilogue_row = [](const Epilogue& ep, int row, int col0, int cols, const float* acc, float* c) {
        for (int j = 0; j < cols; ++j) {
            int col = col0 + j;
            float v = acc[j] + (ep.bias ? ep.bias[col] : 0.0f);
            v = activation_reference(ep.act, v);
            if (ep.residual)
                v = ep.residual[size_t(row) * ep.ld_residual + col] + (ep.scale ? ep.scale[col] : 1.0f) * v;
            c[j] = v;
        }
    };
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
