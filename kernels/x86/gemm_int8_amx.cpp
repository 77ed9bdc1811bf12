// The amx-int8 variant (Intel Xeons since Sapphire Rapids): TDPBSSD multiplies a 16-row × 64-byte
// tile of activations by a 16-group × 16-column tile of weights into 16 × 16 int32 sums, 16 384
// multiply-adds per instruction (amx::multiply, kernels/x86/amx.h: 32 rows × 2 panels per tile).
// s8 × s8, so the sums are Σ aq·wq as they stand (no +128 offset), exact like every variant's.
// The float epilogue is the avx512 variants' (int8_store), so the outputs are their bits too.
// This file is compiled with the AMX flags; it runs only where amx::usable says the CPU and Linux
// allow it.

// g++ 12 under -mamx-* flags takes the self-initialised vectors of its own avx512 intrinsics
// (_mm512_undefined_*) for uninitialised reads once the epilogue is inlined here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "kernels/x86/amx.h"
#include "kernels/x86/int8_ops_x86.h"

namespace pomt {
namespace {

// The avx512 float side (epilogue, quantize_row); the sums come from the tiles.
struct Ops : simd::Int8Avx512Base {};


void tile(const Int8Tile& t) {
    alignas(64) int32_t sums[amx::kTileRows * amx::kTileRows];
    amx::multiply<amx::DotInt8>(t.a, size_t(t.lda), t.rows, t.panel, t.panel_stride, t.panels, t.groups, sums);
    const simd::Int8Columns<amx::kTilePanels> cols(t);
    const float* fscale = cols.fscale;
    const float* fsum = cols.fsum;
    using V = Ops::V;
    if (!t.acc && t.cols == amx::kTilePanels * kGemmPanel) {  // whole tiles: the epilogue's branches once
        const V::T s0 = V::load(fscale), s1 = V::load(fscale + 16), u0 = V::load(fsum), u1 = V::load(fsum + 16);
        const float* a_scale = t.a_scale;
        const float* a_offset = t.a_offset;
        simd::store_epilogue_rows<V, amx::kTilePanels>(*t.ep, t.row0, t.col0, t.rows, t.c, size_t(t.ldc), [&](int r, int j) {
            const V::T x = Ops::to_float(_mm512_load_si512(sums + r * amx::kTileRows + j * 16));
            // int8_store's y = w_scale·(a_scale·acc + a_offset·w_sum)
            return V::mul(j ? s1 : s0, V::fmadd(V::set1(a_scale[r]), x, V::mul(V::set1(a_offset[r]), j ? u1 : u0)));
        });
        return;
    }
    amx::with_activation(t.ep->act, [&](auto act) {
        for (int r = 0; r < t.rows; ++r) {
            const V::T as = V::set1(t.a_scale[r]), ao = V::set1(t.a_offset[r]);
            for (int j = 0; j < t.panels && j * 16 < t.cols; ++j)
                simd::int8_store<Ops, decltype(act)::value>(t, fscale, fsum, r, j,
                                                            _mm512_load_si512(sums + r * amx::kTileRows + j * 16), as, ao);
        }
    });
}

// The peak probe: the four products of a step on tiles already loaded, `iters` times.
int32_t dot_loop(long iters) {
    alignas(64) static const int8_t bytes[2048] = {1, -2, 3, -4, 5, -6, 7, -8, 9, -10, 11, -12, 13};  // A reads 32 rows
    alignas(64) int32_t out[amx::kTileRows * amx::kTileRows];
    amx::multiply<amx::DotInt8>(bytes, 64, 32, bytes, 0, 2, 16, out);  // configures the tiles
    _tile_loadd(4, bytes, 64);
    _tile_loadd(5, bytes, 64);
    _tile_loadd(6, bytes, 64);
    _tile_loadd(7, bytes, 64);
    for (long i = 0; i < iters; ++i) {
        _tile_dpbssd(0, 4, 6);
        _tile_dpbssd(1, 4, 7);
        _tile_dpbssd(2, 5, 6);
        _tile_dpbssd(3, 5, 7);
    }
    constexpr long ld = amx::kTileRows * 4;
    _tile_stored(0, out, ld);
    _tile_stored(1, out + 16, ld);
    _tile_stored(2, out + 16 * amx::kTileRows, ld);
    _tile_stored(3, out + 16 * amx::kTileRows + 16, ld);
    return simd::sum_lanes<Ops>(out, amx::kTileRows * amx::kTileRows);
}

bool cpu_has() { return amx::usable(25); }  // AMX-INT8

constexpr Int8Kernels kTable = {"amx-int8",     Isa::Avx512,       cpu_has, tile, amx::kTileRows, amx::kTilePanels,
                                dot_loop,       4 * 16 * 16 * 64,  simd::quantize_row<Ops>, simd::quantize_row_in_range<Ops>,
                                amx::new_call};

}  // namespace

const Int8Kernels& int8_kernels_amx() { return kTable; }

}  // namespace pomt
