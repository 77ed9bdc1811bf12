// The int8 tile kernel and the row quantizer, written once over a small "int8 ops" type per variant
// and instantiated by each variant's translation unit (kernels/gemm_int8_scalar.cpp,
// kernels/x86/gemm_int8_*.cpp, kernels/arm/gemm_int8_*.cpp). Included only by those.
//
// A tile is R rows × NP panels of 16 columns: R·NP·(16/lanes) int32 accumulators stay in registers
// for the whole depth; each step loads NP·(16/lanes) vectors of W (I::kstep groups of 4 inputs) and
// prepares R broadcasts of A. Integer sums are exact, so the result is the same at every variant,
// tile shape and thread count. The epilogue turns a row's int32 vector into floats and applies
//   y = w_scale·(a_scale·acc + a_offset·w_sum)  (one FMA, one multiply)
// then the rest of kernels/gemm_block.h's epilogue (bias, GELU, LayerScale, residual: once per
// whole tile through store_epilogue_buffer, vector by vector in a tile cut short by n), so the
// float output is also the same bits for every variant whose float vector type rounds alike.
//
// The type I provides: V (the float vector of the same width), lanes (int32 columns per vector),
// kstep (4-byte groups per step), Acc / AOp / W, zero(), prep_a(p) / load_w(p) for kstep groups at
// p (prep_a_tail / load_w_tail for the last group when kstep = 2), madd(acc, a, w), finish(acc,
// sum) → I32 (the exact Σ aq·wq; sum = the 16-aligned column sums, for offsets a variant adds),
// to_float(I32), store_i32(p, I32) and store_q(p, V::T) (lanes integral floats in [−127, 127] → int8);
// optionally prepare_a(src, dst, bytes), a transform of A's bytes that prep_a then reads (PreparesA).
#pragma once
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "kernels/gemm_block.h"
#include "kernels/gemm_int8.h"
#include "kernels/gemm_int8_kernels.h"

namespace pomt {
namespace simd {

// The tile's column constants: read in place when the tile is full, else copied with zeros
// past t.cols so full-vector loads stay in bounds. (Copying them always cost a tenth of a
// 2-row tile at K = 192: a scalar loop over every column, amortised over two rows.)
template <int NP>
struct Int8Columns {
    alignas(64) int32_t isum_copy[NP * 16];
    alignas(64) float fsum[NP * 16], fscale_copy[NP * 16];
    const int32_t* isum;
    const float* fscale;
    explicit Int8Columns(const Int8Tile& t) : isum(t.w_sum), fscale(t.w_scale) {
        if (t.cols >= NP * 16) {
            for (int j = 0; j < NP * 16; ++j) fsum[j] = float(t.w_sum[j]);
            return;
        }
        for (int j = 0; j < NP * 16; ++j) {
            isum_copy[j] = j < t.cols ? t.w_sum[j] : 0;
            fsum[j] = float(isum_copy[j]);
            fscale_copy[j] = j < t.cols ? t.w_scale[j] : 0.0f;
        }
        isum = isum_copy;
        fscale = fscale_copy;
    }
};

// Row r's exact sums Σ aq·wq for the tile's columns [j·L, j·L + L) (those below t.cols kept): into
// t.acc as they are, or y = w_scale·(a_scale·acc + a_offset·w_sum) through the float epilogue
// (as, ao: the row's a_scale and a_offset in every lane).
// fscale, fsum: the tile's column constants (Int8Columns), passed as pointers so that they stay in
// registers across the epilogue's stores. ACT: as store_epilogue's.
template <class I, int ACT = -1>
POMT_INLINE void int8_store(const Int8Tile& t, const float* fscale, const float* fsum, int r, int j,
                            typename I::I32 x, typename I::V::T as, typename I::V::T ao) {
    using V = typename I::V;
    constexpr int L = I::lanes;
    const int n = std::min(L, t.cols - j * L);
    if (t.acc) {
        alignas(64) int32_t tmp[L];
        I::store_i32(tmp, x);
        int32_t* dst = t.acc + size_t(r) * t.ldacc + j * L;
        // Not memcpy: a call in the tile makes g++ keep accumulators on the stack in the k loop.
#pragma GCC unroll 16
        for (int l = 0; l < L; ++l)
            if (l < n) dst[l] = tmp[l];
        return;
    }
    const typename V::T y =
        V::mul(V::load(fscale + j * L), V::fmadd(as, I::to_float(x), V::mul(ao, V::load(fsum + j * L))));
    store_epilogue<V, ACT>(*t.ep, t.row0 + r, t.col0 + j * L, n, y, t.c + size_t(r) * t.ldc + j * L);
}

// I::prepare_a where a variant has it (its A operand is a transformed copy of the bytes: the
// VNNI variants' q XOR 0x80): the tile then copies its rows through it into a buffer, a chunk of
// k at a time, and its steps read the copy.
template <class T, class = void>
struct PreparesA {
    static constexpr bool value = false;
};
template <class T>
struct PreparesA<T, std::void_t<decltype(&T::prepare_a)>> {
    static constexpr bool value = true;
};
constexpr int kPreparedRowBytes = 1024;  // per row and chunk: 8 rows take 8 KB of stack

// `steps` steps of the k loop from a (row stride lda) and w: the tile's accumulators in acc.
template <class I, int R, int NP>
POMT_INLINE void int8_steps(typename I::Acc (&acc)[R][NP * (16 / I::lanes)], const int8_t* a, size_t lda,
                            const int8_t* w, size_t panel_stride, int steps) {
    constexpr int L = I::lanes, PV = 16 / L, NV = NP * PV, KS = I::kstep;
    constexpr size_t kGroupBytes = size_t(kGemmPanel) * kInt8Group;
    for (int s = 0; s < steps; ++s, a += KS * kInt8Group, w += KS * kGroupBytes) {
        typename I::W wv[NV];
#pragma GCC unroll 32
        for (int q = 0; q < NP; ++q)
#pragma GCC unroll 32
            for (int v = 0; v < PV; ++v) wv[q * PV + v] = I::load_w(w + q * panel_stride + v * L * 4);
#pragma GCC unroll 32
        for (int r = 0; r < R; ++r) {
            const typename I::AOp av = I::prep_a(a + size_t(r) * lda);
#pragma GCC unroll 32
            for (int j = 0; j < NV; ++j) acc[r][j] = I::madd(acc[r][j], av, wv[j]);
        }
    }
}

template <class I, int R, int NP>
POMT_NOINLINE void int8_tile(const Int8Tile& t) {
    using V = typename I::V;
    constexpr int L = I::lanes, PV = 16 / L, NV = NP * PV, KS = I::kstep;
    constexpr size_t kGroupBytes = size_t(kGemmPanel) * kInt8Group;
    typename I::Acc acc[R][NV];
#pragma GCC unroll 32
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 32
        for (int j = 0; j < NV; ++j) acc[r][j] = I::zero();
    const int steps = t.groups / KS;
    const int8_t* a = t.a + size_t(steps) * KS * kInt8Group;  // where the steps end (the KS > 1 tail)
    const int8_t* w = t.panel + size_t(steps) * KS * kGroupBytes;
    if constexpr (PreparesA<I>::value) {
        static_assert(KS == 1, "prepare_a chunks whole steps of one group");
        constexpr int kChunkSteps = kPreparedRowBytes / kInt8Group;
        alignas(64) int8_t rows[R * kPreparedRowBytes];
        for (int s0 = 0; s0 < steps; s0 += kChunkSteps) {
            const int n = std::min(kChunkSteps, steps - s0);
#pragma GCC unroll 32
            for (int r = 0; r < R; ++r)
                I::prepare_a(t.a + size_t(r) * t.lda + size_t(s0) * kInt8Group, rows + r * kPreparedRowBytes,
                             n * kInt8Group);
            int8_steps<I, R, NP>(acc, rows, kPreparedRowBytes, t.panel + size_t(s0) * kGroupBytes, t.panel_stride, n);
        }
    } else {
        int8_steps<I, R, NP>(acc, t.a, size_t(t.lda), t.panel, t.panel_stride, steps);
    }
    if constexpr (KS > 1) {
        if (steps * KS < t.groups) {  // one group left (KS = 2); unrolled like the loop above, or
            typename I::W wv[NV];      // acc[][] would be indexed at run time and live on the stack
#pragma GCC unroll 32
            for (int q = 0; q < NP; ++q)
#pragma GCC unroll 32
                for (int v = 0; v < PV; ++v) wv[q * PV + v] = I::load_w_tail(w + q * t.panel_stride + v * L * 4);
#pragma GCC unroll 32
            for (int r = 0; r < R; ++r) {
                const typename I::AOp av = I::prep_a_tail(a + size_t(r) * t.lda);
#pragma GCC unroll 32
                for (int j = 0; j < NV; ++j) acc[r][j] = I::madd(acc[r][j], av, wv[j]);
            }
        }
    }

    const Int8Columns<NP> cols(t);
    const int32_t* isum = cols.isum;
    const float* fscale = cols.fscale;
    const float* fsum = cols.fsum;
    if (!t.acc && t.cols == NP * 16) {
        // A whole tile: int8_store's y = w_scale·(a_scale·acc + a_offset·w_sum) for every vector,
        // then the rest of the epilogue once for the tile (store_epilogue_buffer). Same bits.
        alignas(64) float y[R * NV * L];
#pragma GCC unroll 32
        for (int r = 0; r < R; ++r) {
            const typename V::T as = V::set1(t.a_scale[r]), ao = V::set1(t.a_offset[r]);
#pragma GCC unroll 32
            for (int j = 0; j < NV; ++j)
                V::store(y + (r * NV + j) * L,
                         V::mul(V::load(fscale + j * L), V::fmadd(as, I::to_float(I::finish(acc[r][j], isum + j * L)),
                                                                  V::mul(ao, V::load(fsum + j * L)))));
        }
        store_epilogue_buffer<V, NV>(*t.ep, t.row0, t.col0, R, y, t.c, size_t(t.ldc));
        return;
    }
#pragma GCC unroll 32
    for (int r = 0; r < R; ++r) {
        const typename V::T as = V::set1(t.a_scale[r]), ao = V::set1(t.a_offset[r]);
#pragma GCC unroll 32
        for (int j = 0; j < NV; ++j) {
            if (t.cols - j * L <= 0) break;
            int8_store<I>(t, fscale, fsum, r, j, I::finish(acc[r][j], isum + j * L), as, ao);
        }
    }
}

// The tile kernel for t.rows (1..RMAX) × t.panels (1..NPMAX).
template <class I, int RMAX, int NPMAX>
void int8_tile_dispatch(const Int8Tile& t) {
    with_count<RMAX>(t.rows, [&](auto r) {
        with_count<NPMAX>(t.panels, [&](auto np) { int8_tile<I, decltype(r)::value, decltype(np)::value>(t); });
    });
}

// I::store_q_rounds where a variant sets it (its store_q converts to the nearest integer, even on
// ties, as nearbyint does in the default rounding mode), else false.
template <class T, class = void>
struct StoreQRounds {
    static constexpr bool value = false;
};
template <class T>
struct StoreQRounds<T, std::void_t<decltype(T::store_q_rounds)>> {
    static constexpr bool value = T::store_q_rounds;
};

// quantize_rows (kernels/quantize.h) for one row: min and max, then per value
// clamp(nearbyint((x − mid)·inv), −127, 127), the same float operations as
// quantize_rows_reference in the same order, so every variant gives the reference's bits.
// The min and max run in four chains (one chain waits on each vector's min latency; at k = 192 that
// was half the row's time). Where store_q rounds, the clamp comes first: its bounds are integers,
// so clamping and rounding commute, and the rounding is the conversion's own.
template <class I>
POMT_INLINE void quantize_row_in_range(const float* x, int k, float lo, float hi, int8_t* q, float* scale,
                                       float* offset);

template <class I>
void quantize_row(const float* x, int k, int8_t* q, float* scale, float* offset) {
    using V = typename I::V;
    using T = typename V::T;
    constexpr int L = V::lanes;
    float lo = x[0], hi = x[0];
    int t = 0;
    if (k >= L) {
        T mn[4], mx[4];
        mn[0] = mx[0] = V::load(x);
        for (int c = 1; c < 4; ++c) mn[c] = mx[c] = mn[0];
        t = L;
        for (; t + 4 * L <= k; t += 4 * L)
            for (int c = 0; c < 4; ++c) {
                const T v = V::load(x + t + c * L);
                mn[c] = V::min(mn[c], v);
                mx[c] = V::max(mx[c], v);
            }
        for (; t + L <= k; t += L) {
            const T v = V::load(x + t);
            mn[0] = V::min(mn[0], v);
            mx[0] = V::max(mx[0], v);
        }
        const T mn2 = V::min(V::min(mn[0], mn[1]), V::min(mn[2], mn[3]));
        const T mx2 = V::max(V::max(mx[0], mx[1]), V::max(mx[2], mx[3]));
        lo = -V::hmax(V::sub(V::zero(), mn2));  // exact: min = −max(−x)
        hi = V::hmax(mx2);
    }
    for (; t < k; ++t) {
        lo = std::min(lo, x[t]);
        hi = std::max(hi, x[t]);
    }
    quantize_row_in_range<I>(x, k, lo, hi, q, scale, offset);
}

// quantize_row's second pass, for a row of least value lo and greatest hi.
template <class I>
POMT_INLINE void quantize_row_in_range(const float* x, int k, float lo, float hi, int8_t* q, float* scale,
                                       float* offset) {
    using V = typename I::V;
    using T = typename V::T;
    constexpr int L = V::lanes;
    int t;
    const float mid = 0.5f * (hi + lo), range = hi - lo;
    *offset = mid;
    if (!(range > 0.0f)) {
        *scale = 0.0f;
        std::memset(q, 0, size_t(k));
        return;
    }
    *scale = range / 254.0f;
    const float inv = 254.0f / range;
    const T vmid = V::set1(mid), vinv = V::set1(inv), top = V::set1(127.0f), bottom = V::set1(-127.0f);
    for (t = 0; t + L <= k; t += L) {
        T v = V::mul(V::sub(V::load(x + t), vmid), vinv);
        if constexpr (!StoreQRounds<I>::value) v = V::round(v);
        I::store_q(q + t, V::min(top, V::max(bottom, v)));
    }
    for (; t < k; ++t) q[t] = clamp_to_int8(std::nearbyint((x[t] - mid) * inv));
}

// The probe's checksum, out of line: summed inline, g++'s partial redundancy elimination moves
// the sum of the accumulators into the probe's loop (register copies and spills every step).
// Summed modulo 2^32: a long probe's accumulators have wrapped (the vector adds wrap), and a
// signed sum of them would overflow (undefined; clang's UBSan stops there).
template <class I>
POMT_NOINLINE int32_t sum_lanes(const int32_t* p, int n) {
    uint32_t s = 0;
    for (int i = 0; i < n; ++i) s += uint32_t(p[i]);
    return int32_t(s);
}

// The peak probe: RA broadcast rows × NW weight vectors = RA·NW independent madd chains, as in a
// tile but with A in registers: NA of them (row r uses a[r % NA]), so that chains enough for the
// madd's latency × pipes fit the register file. Each chain starts from its own first step (its own
// row of bytes), so no two chains compute the same values and the compiler cannot merge any; W is
// reloaded through a volatile pointer so nothing folds across steps. Every loop is unrolled, so
// the accumulators stay in registers.
template <class I, int RA, int NW, int NA>
int32_t dot_loop(long iters) {
    alignas(64) static const int8_t bytes[256] = {1,  -2,  3,  -4,  5,  -6,  7,  -8,  9,  -10, 11, -12,
                                                  13, -14, 15, -16, 17, -18, 19, -20, 21, -22, 23, -24,
                                                  25, -26, 27, -28, 29, -30, 31, -32};
    alignas(64) static const int32_t zeros[16] = {};
    static const int8_t* volatile source = bytes;
    static_assert(RA <= 8, "bytes holds distinct groups for 8 rows");
    typename I::Acc acc[RA][NW];
    typename I::AOp a[NA];
#pragma GCC unroll 32
    for (int r = 0; r < RA; ++r) {
        if (r < NA) a[r] = I::prep_a(bytes + 4 * r);
#pragma GCC unroll 32
        for (int v = 0; v < NW; ++v)
            acc[r][v] = I::madd(I::zero(), I::prep_a(bytes + 4 * r), I::load_w(bytes + 16 * v));
    }
    for (long it = 0; it < iters; ++it) {
        const int8_t* p = source;
        typename I::W w[NW];
#pragma GCC unroll 32
        for (int v = 0; v < NW; ++v) w[v] = I::load_w(p + 16 * v);
#pragma GCC unroll 32
        for (int r = 0; r < RA; ++r)
#pragma GCC unroll 32
            for (int v = 0; v < NW; ++v) acc[r][v] = I::madd(acc[r][v], a[r % NA], w[v]);
    }
    alignas(64) int32_t out[RA * NW * I::lanes];
#pragma GCC unroll 32
    for (int r = 0; r < RA; ++r)
#pragma GCC unroll 32
        for (int v = 0; v < NW; ++v) I::store_i32(out + (r * NW + v) * I::lanes, I::finish(acc[r][v], zeros));
    return sum_lanes<I>(out, RA * NW * I::lanes);
}

// Tiles::probe_a_regs where a variant sets it (fewer A registers than probe rows), else probe_rows.
// Only a one-instruction madd (vpdpbusd, sdot) may share A registers: where madd is several
// instructions, g++ computes the product of a shared (a, w) pair once for all its chains.
template <class T, class = void>
struct ProbeARegs {
    static constexpr int value = T::probe_rows;
};
template <class T>
struct ProbeARegs<T, std::void_t<decltype(T::probe_a_regs)>> {
    static constexpr int value = T::probe_a_regs;
};

template <class I, class Tiles>
constexpr Int8Kernels int8_kernel_table(const char* name, Isa isa, bool (*cpu_has)()) {
    return {name, isa, cpu_has, int8_tile_dispatch<I, Tiles::rows, Tiles::panels>, Tiles::rows, Tiles::panels,
            dot_loop<I, Tiles::probe_rows, Tiles::probe_vectors, ProbeARegs<Tiles>::value>,
            Tiles::probe_rows * Tiles::probe_vectors * I::lanes * 4 * I::kstep, quantize_row<I>, quantize_row_in_range<I>,
            nullptr};
}

}  // namespace simd
}  // namespace pomt
