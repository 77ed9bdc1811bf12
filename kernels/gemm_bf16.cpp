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

// Arm's BFDOT, as the Arm ARM's shared pseudocode states it for FEAT_BF16 without FEAT_EBF16 (and
// with FEAT_EBF16 while FPCR.EBF = 0, as Linux starts a process and pomt leaves it): per
// 32-bit lane BFDotAdd(addend, a0, a1, w0, w1) = BFAdd(addend, BFAdd(BFMul(a0, w0), BFMul(a1, w1))):
// the pair's two products summed first, then that sum added to the accumulator, each step rounded
// by BFRound. FPCR's rounding mode, FZ and DN are ignored; no exception flags. The functions below
// are BFUnpack, BFRound, BFMul and BFAdd (shared/functions/float/bfloat). (FEAT_EBF16 with
// FPCR.EBF = 1 instead rounds the pair once, to nearest (FPDot), and honours the FPCR: not modelled.)

// FPDefaultNaN: what BFMul and BFAdd return for a NaN operand, ∞·0 and ∞ − ∞.
float default_nan() {
    const uint32_t u = 0x7fc00000u;
    float x;
    std::memcpy(&x, &u, 4);
    return x;
}

// BFUnpack: a denormal input reads as a zero of its sign (fixed flush to zero).
float bf_unpack(float x) { return std::fpclassify(x) == FP_SUBNORMAL ? std::copysign(0.0f, x) : x; }

// BFRound of the nonzero exact value x + e (x a double, e the error two-sum left, 0 when x is exact):
// below 2^-126 a zero of its sign (flushed before rounding), at or above 2^128 an infinity, else
// truncated to float32's 24 bits with the last bit set when anything was lost (round to odd).
float bf_round(double x, double e) {
    const double ax = std::fabs(x);
    const bool toward_zero = e != 0 && (e < 0) != (x < 0);  // the exact value is just inside |x|
    if (ax < 0x1p-126 || (ax == 0x1p-126 && toward_zero)) return std::copysign(0.0f, float(x));
    if (ax > 0x1p128 || (ax == 0x1p128 && !toward_zero)) return std::copysign(HUGE_VALF, float(x));
    float f = float(x);  // nearest (∞ just under 2^128): stepped back toward zero when past the exact value
    if (std::fabs(double(f)) > ax || (double(f) == x && toward_zero)) f = std::nextafter(f, 0.0f);
    if (double(f) != x || e != 0) {
        uint32_t u;
        std::memcpy(&u, &f, 4);
        u |= 1u;
        std::memcpy(&f, &u, 4);
    }
    return f;
}

// BFMul: the product (exact in double) through BFRound; zeros and infinities signed by the operands.
float bf_mul(float a, float b) {
    a = bf_unpack(a);
    b = bf_unpack(b);
    if (std::isnan(a) || std::isnan(b)) return default_nan();
    if ((std::isinf(a) && b == 0) || (a == 0 && std::isinf(b))) return default_nan();
    const double p = double(a) * double(b);
    if (std::isinf(a) || std::isinf(b) || p == 0) return float(p);
    return bf_round(p, 0.0);
}

// BFAdd: two zeros of one sign keep it, any other exact zero is +0 ("positive sign when Round to
// Odd"), else the exact sum (two-sum: double plus its error) through BFRound.
float bf_add(float a, float b) {
    a = bf_unpack(a);
    b = bf_unpack(b);
    if (std::isnan(a) || std::isnan(b)) return default_nan();
    if (std::isinf(a) && std::isinf(b) && std::signbit(a) != std::signbit(b)) return default_nan();
    if (std::isinf(a)) return a;
    if (std::isinf(b)) return b;
    if (a == 0 && b == 0 && std::signbit(a) == std::signbit(b)) return a;
    const double s = double(a) + double(b);
    if (s == 0) return 0.0f;
    const double bb = s - double(a);
    const double e = (double(a) - (s - bb)) + (double(b) - bb);
    return bf_round(s, e);
}

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
            } else if (order == Bf16Order::AmxSteps) {
                const int pairs = bf16_row_elems(k) / 2, step = 16, padded = (pairs + step - 1) / step * step;
                for (int g0 = 0; g0 < padded; g0 += step) {
                    float even = 0.0f, odd = 0.0f;
                    for (int g = g0; g < g0 + step; ++g) {
                        const bool in = g < pairs;  // padding pairs add +0 products
                        even = std::fma(in ? row[size_t(2 * g)] : 0.0f, in ? wt(2 * g) : 0.0f, even);
                        odd = std::fma(in ? row[size_t(2 * g) + 1] : 0.0f, in ? wt(2 * g + 1) : 0.0f, odd);
                    }
                    acc = acc + (even + odd);
                }
            } else {
                for (int t = 0; t < k; t += 2)  // BFDotAdd
                    acc = bf_add(acc, bf_add(bf_mul(row[size_t(t)], wt(t)), bf_mul(row[size_t(t) + 1], wt(t + 1))));
            }
            float v = ep.bias ? acc + ep.bias[j] : acc;  // as the kernels: −0 (a flushed sum) stays −0
            v = activation_reference(ep.act, v);
            if (ep.residual) v = std::fma(ep.scale ? ep.scale[j] : 1.0f, v, ep.residual[size_t(i) * ep.ld_residual + j]);
            c[size_t(i) * ldc + j] = v;
        }
    }
}

namespace {

void native_tiles(const Bf16Kernels& kern, int m, const uint16_t* ab, int lda, const PackedWeights& w, float* c,
                  int ldc, const Epilogue& ep, ThreadPool* pool);

// How rows are rounded to bf16: the bf16 variant's own rounding where it has one, else the fp32
// level's.
using RoundFn = void (*)(const float*, int, uint16_t*);
RoundFn row_rounder(const Bf16Kernels& kern) { return kern.round ? kern.round : active_kernels().round_bf16; }

// A rounded to bf16 pairs for a native variant (rows of bf16_row_elems(k), the odd k's last input
// 0): into the caller's scratch, or the calling thread's (the workers only read it), kept for the
// next call.
const uint16_t* rounded_a(const Bf16Kernels& kern, int m, const float* a, int lda, const PackedWeights& w,
                          ThreadPool* pool, void* scratch) {
    const int kq = bf16_row_elems(w.k);
    thread_local std::vector<uint16_t> rounded;
    if (!scratch) rounded.resize(size_t(m) * kq);
    uint16_t* ab = scratch ? static_cast<uint16_t*>(scratch) : rounded.data();
    const RoundFn round = row_rounder(kern);
    parallel_for(2.0 * m * w.n * w.k < 1e6 ? nullptr : pool, m, 16, [&](int b, int e) {
        for (int i = b; i < e; ++i) {
            round(a + size_t(i) * lda, w.k, ab + size_t(i) * kq);
            if (kq > w.k) ab[size_t(i) * kq + w.k] = 0;
        }
    });
    return ab;
}

// The bf16 variants: A rounded, then the tiles.
void gemm_native(const Bf16Kernels& kern, int m, const float* a, int lda, const PackedWeights& w, float* c,
                 int ldc, const Epilogue& ep, ThreadPool* pool, void* scratch) {
    native_tiles(kern, m, rounded_a(kern, m, a, lda, w, pool, scratch), bf16_row_elems(w.k), w, c, ldc, ep, pool);
}

// Column tile ct (kern.panels panels) of rows [r0, r1) of A (rounded, rows of lda) into c (the
// tile's first row, stride ldc).
Bf16Tile native_tile(const Bf16Kernels& kern, const uint16_t* ab, int lda, const PackedWeights& w, int ct, int r0,
                     int r1, float* c, int ldc, const Epilogue& ep) {
    const int kq = bf16_row_elems(w.k), panels = (w.n + kGemmPanel - 1) / kGemmPanel;
    Bf16Tile tile;
    tile.pairs = kq / 2;
    tile.lda = lda;
    tile.ldc = ldc;
    tile.ep = &ep;
    tile.panel_stride = size_t(kq) * kGemmPanel;
    const int p0 = ct * kern.panels;
    tile.panels = std::min(kern.panels, panels - p0);
    tile.col0 = p0 * kGemmPanel;
    tile.cols = std::min(tile.panels * kGemmPanel, w.n - tile.col0);
    tile.panel = w.bf16 + size_t(p0) * tile.panel_stride;
    tile.row0 = r0;
    tile.rows = r1 - r0;
    tile.a = ab + size_t(r0) * lda;
    tile.c = c + tile.col0;
    return tile;
}

// The tiles of gemm_native on A already rounded (rows of lda ≥ bf16_row_elems(w.k) bf16 values).
void native_tiles(const Bf16Kernels& kern, int m, const uint16_t* ab, int lda, const PackedWeights& w, float* c,
                  int ldc, const Epilogue& ep, ThreadPool* pool) {
    const GemmSplit split(m, w.n, w.k, kern.rows, kern.panels, pool);
    const int panels = (w.n + kGemmPanel - 1) / kGemmPanel;
    const size_t panel_stride = size_t(bf16_row_elems(w.k)) * kGemmPanel;  // bf16 values
    if (kern.begin) kern.begin();
    auto tile_of = [&](int ct, int rb) {  // column tile ct of row block rb
        int r0, r1;
        split.rows(rb, &r0, &r1);
        return native_tile(kern, ab, lda, w, ct, r0, r1, c + size_t(r0) * ldc, ldc, ep);
    };
    if (split.threads == 1 && kern.rows >= 32 && panel_stride * 2 * size_t(panels) <= kRowBlocksOuterMaxWeightBytes) {
        // Tiles of 32 rows (AMX): row blocks outer, as the int8 driver's run_tiles (kernels/gemm_int8.cpp),
        // while the weights fit in L2; larger ones would stream from memory once per row block.
        for (int rb = 0; rb < split.row_blocks; ++rb)
            for (int ct = 0; ct < split.col_tiles; ++ct) kern.tile(tile_of(ct, rb));
        return;
    }
    split.run(pool, [&](int ct, int rb0, int rb1) {
        for (int rb = rb0; rb < rb1; ++rb) kern.tile(tile_of(ct, rb));
    });
}

// One panels16x2 panel → the fp32 panel (kernels/panels.h, k rows of 16): pair row g's 32-bit
// words hold input 2g in their low half and 2g+1 in their high half, so rows 2g and 2g+1 are each
// word shifted up and masked (plain integer operations the compiler vectorizes).
void widen_panel(const uint16_t* src, int k, float* dst) {
    for (int g = 0; 2 * g < k; ++g) {
        uint32_t word[kGemmPanel], even[kGemmPanel], odd[kGemmPanel];
        std::memcpy(word, src + size_t(g) * kGemmPanel * 2, sizeof(word));
        for (int j = 0; j < kGemmPanel; ++j) {
            even[j] = word[j] << 16;
            odd[j] = word[j] & 0xffff0000u;
        }
        std::memcpy(dst + size_t(2 * g) * kGemmPanel, even, sizeof(even));
        if (2 * g + 1 < k) std::memcpy(dst + size_t(2 * g + 1) * kGemmPanel, odd, sizeof(odd));
    }
}

// "widen": A rounded to bf16 values held in fp32, each column tile's panels widened to fp32 panels
// (kernels/panels.h) in the thread's scratch, then the fp32 level's tile kernel.
void gemm_widened(int m, const float* a, int lda, const PackedWeights& w, float* c, int ldc, const Epilogue& ep,
                  ThreadPool* pool, void* scratch) {
    const IsaKernels& kern = active_kernels();
    const int k = w.k, kq = bf16_row_elems(k);
    thread_local std::vector<float> rounded;
    if (!scratch) rounded.resize(size_t(m) * k);
    float* ar = scratch ? static_cast<float*>(scratch) : rounded.data();
    parallel_for(2.0 * m * w.n * k < 1e6 ? nullptr : pool, m, 16, [&](int b, int e) {
        for (int i = b; i < e; ++i) kern.round_bf16_float(a + size_t(i) * lda, k, ar + size_t(i) * k);
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
        for (int q = 0; q < tile.panels; ++q)
            widen_panel(w.bf16 + size_t(p0 + q) * kGemmPanel * kq, k, widened.get() + size_t(q) * panel_stride);
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

constexpr Bf16Kernels kWiden{"widen", Isa::Scalar, always, nullptr, 0, 0, Bf16Order::Sequential, nullptr};

}  // namespace

const Bf16Kernels& bf16_kernels_widen() { return kWiden; }

void gemm_bf16(int m, const float* a, int lda, const PackedWeights& w, float* c, int ldc, const Epilogue& ep,
               ThreadPool* pool, void* scratch) {
    if (m <= 0 || w.n <= 0) return;
    if (!w.bf16) std::abort();
    const Bf16Kernels& kern = active_bf16_kernels();
    if (kern.tile) gemm_native(kern, m, a, lda, w, c, ldc, ep, pool, scratch);
    else gemm_widened(m, a, lda, w, c, ldc, ep, pool, scratch);
}

void gemm_bf16_rounded(int m, const uint16_t* a, int lda, const PackedWeights& w, float* c, int ldc,
                       const Epilogue& ep, ThreadPool* pool) {
    if (m <= 0 || w.n <= 0) return;
    if (!w.bf16) std::abort();
    const Bf16Kernels& kern = active_bf16_kernels();
    if (kern.tile) return native_tiles(kern, m, a, lda, w, c, ldc, ep, pool);
    // widen: A as floats (exact), which gemm_widened's rounding leaves as they are.
    thread_local std::vector<float> floats;
    floats.resize(size_t(m) * w.k);
    for (int i = 0; i < m; ++i)
        for (int t = 0; t < w.k; ++t) floats[size_t(i) * w.k + t] = bf16_to_float(a[size_t(i) * lda + t]);
    gemm_widened(m, floats.data(), w.k, w, c, ldc, ep, nullptr, nullptr);
}

bool gemm_bf16_rounds_rows(int n, int k) {
    return active_bf16_kernels().tile != nullptr && bf16_panel_elems(n, k) * 2 <= kRowBlocksOuterMaxWeightBytes;
}

void gemm_bf16_to_bf16(int m, const float* a, int lda, const PackedWeights& w, const Epilogue& ep, uint16_t* out,
                       int ld_out, ThreadPool* pool, void* scratch) {
    if (m <= 0 || w.n <= 0) return;
    if (!w.bf16) std::abort();
    const Bf16Kernels& kern = active_bf16_kernels();
    const int n = w.n, nq = bf16_row_elems(n);
    const RoundFn round = row_rounder(kern);
    auto round_rows = [&](const float* rows, int r0, int r1) {
        for (int r = r0; r < r1; ++r) {
            round(rows + size_t(r - r0) * n, n, out + size_t(r) * ld_out);
            if (nq > n) out[size_t(r) * ld_out + n] = 0;
        }
    };
    if (!kern.tile) {  // widen: the fp32 outputs whole, then rounded
        thread_local std::vector<float> c;
        c.resize(size_t(m) * n);
        gemm_widened(m, a, lda, w, c.data(), n, ep, pool, scratch);
        round_rows(c.data(), 0, m);
        return;
    }
    const uint16_t* ab = rounded_a(kern, m, a, lda, w, pool, scratch);
    const int kq = bf16_row_elems(w.k), panels = (n + kGemmPanel - 1) / kGemmPanel;
    const int col_tiles = (panels + kern.panels - 1) / kern.panels, row_blocks = (m + kern.rows - 1) / kern.rows;
    if (kern.begin) kern.begin();
    auto block = [&](int rb) {
        int r0, r1;
        split_range(m, row_blocks, rb, &r0, &r1);
        float* rows = thread_scratch(size_t(kern.rows) * n);
        for (int ct = 0; ct < col_tiles; ++ct) kern.tile(native_tile(kern, ab, kq, w, ct, r0, r1, rows, n, ep));
        round_rows(rows, r0, r1);
    };
    const bool parallel = pool && pool->size() > 1 && row_blocks > 1 && 2.0 * m * n * w.k >= 2e6;
    if (parallel) pool->run_shared(row_blocks, block);
    else
        for (int rb = 0; rb < row_blocks; ++rb) block(rb);
}

size_t gemm_bf16_scratch_bytes(int m, int k) {
    if (m <= 0 || k <= 0) return 0;
    if (active_bf16_kernels().tile) return size_t(m) * size_t(bf16_row_elems(k)) * sizeof(uint16_t);
    return size_t(m) * size_t(k) * sizeof(float);
}

}  // namespace pomt
