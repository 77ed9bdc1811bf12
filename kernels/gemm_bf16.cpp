// bf16 GEMM driver, packing and reference (kernels/gemm_bf16.h): rounds A to bf16 once per call,
// splits C into tiles and threads as the fp32 driver does, and runs the active variant's tile
// kernel, or for "widen" the active fp32 level's tile on each column tile's panels widened to fp32.
#include "kernels/gemm_bf16.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/bf16.h"
#include "kernels/dispatch.h"
#include "kernels/gemm_bf16_kernels.h"
#include "kernels/gemm_kernels.h"
#include "kernels/threads.h"

namespace pomt {

size_t bf16_panel_elems(int n, int k) {
    return size_t((n + kGemmPanel - 1) / kGemmPanel) * kGemmPanel * size_t(bf16_row_elems(k));
}

void pack_bf16_panels(const float* w, int n, int k, uint16_t* dst) {
    const int kq = bf16_row_elems(k);
    std::memset(dst, 0, bf16_panel_elems(n, k) * sizeof(uint16_t));
    for (int j = 0; j < n; ++j) {
        uint16_t* panel = dst + size_t(j / kGemmPanel) * kGemmPanel * kq;
        for (int t = 0; t < k; ++t)
            panel[size_t(t / 2) * kGemmPanel * 2 + (j % kGemmPanel) * 2 + t % 2] = bf16_from_float(w[size_t(j) * k + t]);
    }
}

void unpack_bf16_panels(const uint16_t* panels, int n, int k, float* w) {
    const int kq = bf16_row_elems(k);
    for (int j = 0; j < n; ++j) {
        const uint16_t* panel = panels + size_t(j / kGemmPanel) * kGemmPanel * kq;
        for (int t = 0; t < k; ++t)
            w[size_t(j) * k + t] = bf16_to_float(panel[size_t(t / 2) * kGemmPanel * 2 + (j % kGemmPanel) * 2 + t % 2]);
    }
}

PackedWeights pack_bf16_weights(const float* w, int n, int k) {
    PackedWeights p;
    p.n = n;
    p.k = k;
    const size_t elems = bf16_panel_elems(n, k);
    p.storage = alloc_floats((elems + 1) / 2);
    uint16_t* dst = reinterpret_cast<uint16_t*>(p.storage.get());
    pack_bf16_panels(w, n, k, dst);
    p.bf16 = dst;
    return p;
}

PackedWeights borrow_bf16_panels(const uint16_t* panels, int n, int k) {
    PackedWeights p;
    p.n = n;
    p.k = k;
    p.bf16 = panels;
    return p;
}

namespace {

// The weight of output j, input t, from the panels.
float panel_weight(const PackedWeights& w, int j, int t) {
    const size_t kq = size_t(bf16_row_elems(w.k));
    return bf16_to_float(w.bf16[size_t(j / kGemmPanel) * kGemmPanel * kq + size_t(t / 2) * kGemmPanel * 2 +
                                (j % kGemmPanel) * 2 + t % 2]);
}

// Round to odd (float32): the exact value x + e (x a double, e its error term) truncated toward zero
// to a float, its last bit set when anything was lost. Then denormals flushed to zero, as BFDOT does.
float round_to_odd(double x, double e) {
    float f = float(x);  // nearest; stepped back toward zero below when it went past the exact value
    const double fd = double(f);
    const bool past = std::fabs(fd) > std::fabs(x) || (fd == x && e != 0 && (e < 0) != (x < 0));
    if (past && f != 0.0f) f = std::nextafter(f, 0.0f);
    if (double(f) != x || e != 0) {
        uint32_t u;
        std::memcpy(&u, &f, 4);
        u |= 1u;
        std::memcpy(&f, &u, 4);
    }
    if (std::fpclassify(f) == FP_SUBNORMAL) f = std::copysign(0.0f, f);
    return f;
}

// a + b rounded to odd (a, b floats: their sum is exact in double unless their exponents differ
// by more than 29; two-sum keeps the error then).
float add_round_to_odd(float a, float b) {
    const double s = double(a) + double(b);
    const double bb = s - double(a);
    const double e = (double(a) - (s - bb)) + (double(b) - bb);
    return round_to_odd(s, e);
}

float flush(float x) { return std::fpclassify(x) == FP_SUBNORMAL ? std::copysign(0.0f, x) : x; }

}  // namespace

void gemm_bf16_reference(int m, const float* a, int lda, const PackedWeights& w, float* c, int ldc,
                         const Epilogue& ep, Bf16Order order) {
    const int n = w.n, k = w.k;
    std::vector<float> row(size_t(bf16_row_elems(k)), 0.0f);
    for (int i = 0; i < m; ++i) {
        for (int t = 0; t < k; ++t) row[size_t(t)] = round_to_bf16(a[size_t(i) * lda + t]);
        for (int j = 0; j < n; ++j) {
            auto wt = [&](int t) { return t < k ? panel_weight(w, j, t) : 0.0f; };
            float acc = 0.0f;
            if (order == Bf16Order::Sequential) {
                for (int t = 0; t < k; ++t) acc = std::fma(row[size_t(t)], wt(t), acc);
            } else if (order == Bf16Order::PairsOddFirst) {
                for (int t = 0; t < k; t += 2) {
                    acc = std::fma(row[size_t(t) + 1], wt(t + 1), acc);
                    acc = std::fma(row[size_t(t)], wt(t), acc);
                }
            } else {
                for (int t = 0; t < k; t += 2) {
                    const float p0 = flush(flush(row[size_t(t)]) * flush(wt(t)));
                    const float p1 = flush(flush(row[size_t(t) + 1]) * flush(wt(t + 1)));
                    acc = add_round_to_odd(flush(acc), add_round_to_odd(p0, p1));
                }
            }
            float v = acc + (ep.bias ? ep.bias[j] : 0.0f);
            v = activation_reference(ep.act, v);
            if (ep.residual) v = std::fma(ep.scale ? ep.scale[j] : 1.0f, v, ep.residual[size_t(i) * ep.ld_residual + j]);
            c[size_t(i) * ldc + j] = v;
        }
    }
}

namespace {

// The bf16 variants: A rounded to bf16 pairs (rows of bf16_row_elems(k), the odd k's last input 0).
void gemm_native(const Bf16Kernels& kern, int m, const float* a, int lda, const PackedWeights& w, float* c,
                 int ldc, const Epilogue& ep, ThreadPool* pool) {
    const int kq = bf16_row_elems(w.k);
    // The calling thread's scratch (the workers only read it): m·kq bf16, kept for the next call.
    thread_local std::vector<uint16_t> rounded;
    rounded.resize(size_t(m) * kq);
    uint16_t* ab = rounded.data();
    parallel_for(2.0 * m * w.n * w.k < 1e6 ? nullptr : pool, m, 16, [&](int b, int e) {
        for (int i = b; i < e; ++i) {
            for (int t = 0; t < w.k; ++t) ab[size_t(i) * kq + t] = bf16_from_float(a[size_t(i) * lda + t]);
            if (kq > w.k) ab[size_t(i) * kq + w.k] = 0;
        }
    });
    const int panels = (w.n + kGemmPanel - 1) / kGemmPanel;
    const size_t panel_stride = size_t(kq) * kGemmPanel;
    const GemmSplit split(m, w.n, w.k, kern.rows, kern.panels, pool);
    split.run(pool, [&](int ct, int rb0, int rb1) {
        Bf16Tile tile;
        tile.pairs = kq / 2;
        tile.lda = kq;
        tile.ldc = ldc;
        tile.ep = &ep;
        tile.panel_stride = panel_stride;
        const int p0 = ct * kern.panels;
        tile.panels = std::min(kern.panels, panels - p0);
        tile.col0 = p0 * kGemmPanel;
        tile.cols = std::min(tile.panels * kGemmPanel, w.n - tile.col0);
        tile.panel = w.bf16 + size_t(p0) * panel_stride;
        for (int rb = rb0; rb < rb1; ++rb) {
            int r0, r1;
            split.rows(rb, &r0, &r1);
            tile.row0 = r0;
            tile.rows = r1 - r0;
            tile.a = ab + size_t(r0) * kq;
            tile.c = c + size_t(r0) * ldc + tile.col0;
            kern.tile(tile);
        }
    });
}

// "widen": A rounded to bf16 values held in fp32, each column tile's panels widened to fp32 panels
// (kernels/panels.h) in the thread's scratch, then the fp32 level's tile kernel.
void gemm_widened(int m, const float* a, int lda, const PackedWeights& w, float* c, int ldc, const Epilogue& ep,
                  ThreadPool* pool) {
    const IsaKernels& kern = active_kernels();
    const int k = w.k, kq = bf16_row_elems(k);
    thread_local std::vector<float> rounded;
    rounded.resize(size_t(m) * k);
    float* ar = rounded.data();
    parallel_for(2.0 * m * w.n * k < 1e6 ? nullptr : pool, m, 16, [&](int b, int e) {
        for (int i = b; i < e; ++i)
            for (int t = 0; t < k; ++t) ar[size_t(i) * k + t] = round_to_bf16(a[size_t(i) * lda + t]);
    });
    const int panels = (w.n + kGemmPanel - 1) / kGemmPanel;
    const size_t panel_stride = size_t(k) * kGemmPanel;  // of the widened panels
    const GemmSplit split(m, w.n, k, kern.gemm_rows, kern.gemm_panels, pool);
    split.run(pool, [&](int ct, int rb0, int rb1) {
        GemmTile tile;
        tile.k = k;
        tile.lda = k;
        tile.ldc = ldc;
        tile.ep = &ep;
        tile.panel_stride = panel_stride;
        const int p0 = ct * kern.gemm_panels;
        tile.panels = std::min(kern.gemm_panels, panels - p0);
        tile.col0 = p0 * kGemmPanel;
        tile.cols = std::min(tile.panels * kGemmPanel, w.n - tile.col0);
        // The tile's panels in fp32, k rows of 16 per panel (a pair of bf16 rows interleaved by column).
        thread_local AlignedFloats widened;
        thread_local size_t widened_floats = 0;
        const size_t need = size_t(tile.panels) * panel_stride;
        if (need > widened_floats) {
            widened = alloc_floats(need);
            widened_floats = need;
        }
        for (int q = 0; q < tile.panels; ++q) {
            const uint16_t* src = w.bf16 + size_t(p0 + q) * kGemmPanel * kq;
            float* dst = widened.get() + size_t(q) * panel_stride;
            for (int t = 0; t < k; ++t)
                for (int j = 0; j < kGemmPanel; ++j)
                    dst[size_t(t) * kGemmPanel + j] = bf16_to_float(src[size_t(t / 2) * kGemmPanel * 2 + j * 2 + t % 2]);
        }
        tile.panel = widened.get();
        for (int rb = rb0; rb < rb1; ++rb) {
            int r0, r1;
            split.rows(rb, &r0, &r1);
            tile.row0 = r0;
            tile.rows = r1 - r0;
            tile.a = ar + size_t(r0) * k;
            tile.c = c + size_t(r0) * ldc + tile.col0;
            kern.gemm_tile(tile);
        }
    });
}

bool always() { return true; }

constexpr Bf16Kernels kWiden{"widen", Isa::Scalar, always, nullptr, 0, 0, Bf16Order::Sequential};

}  // namespace

const Bf16Kernels& bf16_kernels_widen() { return kWiden; }

void gemm_bf16(int m, const float* a, int lda, const PackedWeights& w, float* c, int ldc, const Epilogue& ep,
               ThreadPool* pool) {
    if (m <= 0 || w.n <= 0) return;
    if (!w.bf16) std::abort();
    const Bf16Kernels& kern = active_bf16_kernels();
    if (kern.tile) gemm_native(kern, m, a, lda, w, c, ldc, ep, pool);
    else gemm_widened(m, a, lda, w, c, ldc, ep, pool);
}

}  // namespace pomt
