// int8 GEMM driver: splits the output into column tiles × row blocks and threads, and calls the
// active int8 variant's tile kernel (kernels/gemm_int8_block.h, chosen in
// kernels/gemm_int8_dispatch.cpp). The int32 sums are exact and each output element's float
// epilogue depends only on its own row and column, so no split changes a bit.
#include "kernels/gemm_int8.h"

#include <algorithm>

#include "kernels/gemm_int8_kernels.h"
#include "kernels/gemm_kernels.h"
#include "kernels/ops_impl.h"
#include "kernels/threads.h"

namespace pomt {

Int8Tile int8_tile(const Int8Kernels& kern, const QuantizedRows& a, const Int8Weights& w, int ct, int r0,
                   int r1, float* c, int ldc, const Epilogue* ep, int32_t* acc, int ldacc) {
    const int all_panels = (w.n + kGemmPanel - 1) / kGemmPanel, p0 = ct * kern.panels;
    Int8Tile t;
    t.row0 = r0;
    t.rows = r1 - r0;
    t.col0 = p0 * kGemmPanel;
    t.panels = std::min(kern.panels, all_panels - p0);
    t.cols = std::min(t.panels * kGemmPanel, w.n - t.col0);
    t.groups = quantized_row_bytes(w.k) / kInt8Group;
    t.a = a.q + size_t(r0) * a.ld;
    t.lda = a.ld;
    t.a_scale = a.scale + r0;
    t.a_offset = a.offset + r0;
    t.panel_stride = size_t(kGemmPanel) * quantized_row_bytes(w.k);
    t.panel = w.panels + size_t(p0) * t.panel_stride;
    t.w_scale = w.scale + t.col0;
    t.w_sum = w.sum + t.col0;
    t.c = c ? c + t.col0 : nullptr;
    t.ldc = ldc;
    t.ep = ep;
    t.acc = acc ? acc + t.col0 : nullptr;
    t.ldacc = ldacc;
    return t;
}

namespace {

// As the fp32 driver (kernels/gemm.cpp): whole column tiles per work item, cut into row chunks
// when there are too few tiles for a balanced share.
constexpr int kItemsPerThread = 4;

int useful_threads(ThreadPool* pool, int m, const Int8Weights& w) {
    int threads = pool ? pool->size() : 1;
    if (2.0 * m * w.n * w.k < 2e6) threads = 1;  // below this a parallel region costs more than it saves
    return threads;
}


// Column tiles outer, their row blocks inner: a tile's panels (k × 16 bytes per panel) stay in
// L1/L2 while the rows of A stream past them.
void run_tiles(int m, const QuantizedRows& a, const Int8Weights& w, float* c, int ldc, const Epilogue* ep,
               int32_t* acc, int ldacc, ThreadPool* pool) {
    if (m <= 0 || w.n <= 0) return;
    const Int8Kernels& kern = active_int8_kernels();
    if (kern.begin) kern.begin();
    const int panels = (w.n + kGemmPanel - 1) / kGemmPanel;
    const int col_tiles = (panels + kern.panels - 1) / kern.panels;
    const int row_blocks = (m + kern.rows - 1) / kern.rows;
    const int threads = useful_threads(pool, m, w);
    const int row_chunks =
        threads == 1 ? 1 : std::min(row_blocks, (kItemsPerThread * threads + col_tiles - 1) / col_tiles);
    if (threads == 1 && kern.rows >= 32 && int8_panel_bytes(w.n, w.k) <= kRowBlocksOuterMaxWeightBytes) {
        // Tiles of 32 rows (AMX): row blocks outer, so a block of A (32 × k bytes) stays in L1
        // while the column tiles' panels stream past it; with A re-read from L2 for every column
        // tile, a DeiT-Tiny qkv tile took 155 ns instead of 137 in a loop of amx::multiply.
        for (int rb = 0; rb < row_blocks; ++rb) {
            int r0, r1;
            split_range(m, row_blocks, rb, &r0, &r1);
            for (int ct = 0; ct < col_tiles; ++ct)
                kern.tile(int8_tile(kern, a, w, ct, r0, r1, c ? c + size_t(r0) * ldc : nullptr, ldc, ep,
                                    acc ? acc + size_t(r0) * ldacc : nullptr, ldacc));
        }
        return;
    }
    auto run = [&](int item) {
        const int ct = item / row_chunks;
        int rb0, rb1;
        split_range(row_blocks, row_chunks, item % row_chunks, &rb0, &rb1);
        for (int rb = rb0; rb < rb1; ++rb) {
            int r0, r1;
            split_range(m, row_blocks, rb, &r0, &r1);
            kern.tile(int8_tile(kern, a, w, ct, r0, r1, c ? c + size_t(r0) * ldc : nullptr, ldc, ep,
                                acc ? acc + size_t(r0) * ldacc : nullptr, ldacc));
        }
    };
    const int items = col_tiles * row_chunks;
    if (threads == 1) {
        for (int i = 0; i < items; ++i) run(i);
    } else {
        pool->run_shared(items, run);
    }
}

// The fused drivers' split: one work item per row block of kern.rows rows, every column tile of
// the block in it, so `fn(r0, r1)` can finish the block's rows while they are in cache.
template <class Fn>
void for_each_row_block(int m, const Int8Weights& w, ThreadPool* pool, const Int8Kernels& kern, Fn&& fn) {
    const int row_blocks = (m + kern.rows - 1) / kern.rows;
    auto run = [&](int rb) {
        int r0, r1;
        split_range(m, row_blocks, rb, &r0, &r1);
        fn(r0, r1);
    };
    if (useful_threads(pool, m, w) == 1) {
        for (int rb = 0; rb < row_blocks; ++rb) run(rb);
    } else {
        pool->run_shared(row_blocks, run);
    }
}

int column_tiles(const Int8Kernels& kern, const Int8Weights& w) {
    const int panels = (w.n + kGemmPanel - 1) / kGemmPanel;
    return (panels + kern.panels - 1) / kern.panels;
}

}  // namespace

void gemm_int8(int m, const QuantizedRows& a, const Int8Weights& w, float* c, int ldc, const Epilogue& ep,
               ThreadPool* pool) {
    run_tiles(m, a, w, c, ldc, &ep, nullptr, 0, pool);
}

void gemm_int8_accumulators(int m, const QuantizedRows& a, const Int8Weights& w, int32_t* acc, int ldacc,
                            ThreadPool* pool) {
    static const Epilogue kNone{};
    run_tiles(m, a, w, nullptr, 0, &kNone, acc, ldacc, pool);
}

void gemm_int8_then(int m, const QuantizedRows& a, const Int8Weights& w, float* c, int ldc, const Epilogue& ep,
                    const std::function<void(int r0, int r1)>& after, ThreadPool* pool) {
    if (m <= 0 || w.n <= 0) return;
    const Int8Kernels& kern = active_int8_kernels();
    if (kern.begin) kern.begin();
    const int col_tiles = column_tiles(kern, w);
    for_each_row_block(m, w, pool, kern, [&](int r0, int r1) {
        for (int ct = 0; ct < col_tiles; ++ct)
            kern.tile(int8_tile(kern, a, w, ct, r0, r1, c + size_t(r0) * ldc, ldc, &ep, nullptr, 0));
        after(r0, r1);
    });
}

// One work item per row block: its rows across every column tile into the thread's scratch, then
// quantized from there while still in cache. The floats are those gemm_int8 writes (same tiles,
// same epilogue), so the result equals gemm_int8 followed by quantize_rows.
void gemm_int8_quantized(int m, const QuantizedRows& a, const Int8Weights& w, const Epilogue& ep,
                         QuantizedRows& out, ThreadPool* pool) {
    if (m <= 0 || w.n <= 0) return;
    const Int8Kernels& kern = active_int8_kernels();
    if (kern.begin) kern.begin();
    const int col_tiles = column_tiles(kern, w);
    for_each_row_block(m, w, pool, kern, [&](int r0, int r1) {
        float* rows = thread_scratch(size_t(kern.rows) * w.n);
        for (int ct = 0; ct < col_tiles; ++ct)
            kern.tile(int8_tile(kern, a, w, ct, r0, r1, rows, w.n, &ep, nullptr, 0));
        QuantizedRows o = out;
        o.q += size_t(r0) * out.ld;
        o.scale += r0;
        o.offset += r0;
        quantize_rows(rows, w.n, r1 - r0, w.n, o);
    });
}

}  // namespace pomt
