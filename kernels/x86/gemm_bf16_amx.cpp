// The amx-bf16 variant (Intel Xeons since Sapphire Rapids): TDPBF16PS multiplies a 16-row × 32-bf16
// tile of activations by a 16-pair × 16-column tile of weights into 16 × 16 fp32 sums, 8 192
// multiply-adds per instruction (amx::multiply, kernels/x86/amx.h: 32 rows × 2 panels per tile).
// Its sums are ordered per 16-pair step, Bf16Order::AmxSteps (kernels/gemm_bf16.h): unlike the
// pseudo-code's, found by measurement, and held to exactly by the tests. The epilogue is the
// avx512 level's store_epilogue. This file is compiled with the AMX flags; it runs only where
// amx::usable says the CPU and Linux allow it.

// g++ 12 under -mamx-* flags takes the self-initialised vectors of its own avx512 intrinsics
// (_mm512_undefined_*) for uninitialised reads once the epilogue is inlined here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "kernels/gemm_bf16_kernels.h"
#include "kernels/gemm_block.h"
#include "kernels/x86/amx.h"
#include "kernels/x86/bf16_convert.h"

namespace pomt {

void attention_bf16_amx(const AttentionHeadBf16& a, const Bf16AttentionTrace* trace);  // attention_bf16_amx.cpp

namespace {


void tile(const Bf16Tile& t) {
    using V = simd::VecAvx512;
    alignas(64) float sums[amx::kTileRows * amx::kTileRows];
    amx::multiply<amx::DotBf16>(t.a, size_t(t.lda) * 2, t.rows, t.panel, t.panel_stride * 2, t.panels, t.pairs, sums);
    if (t.cols == amx::kTilePanels * kGemmPanel) {  // whole tiles: the epilogue's branches once
        simd::store_epilogue_rows<V, amx::kTilePanels>(*t.ep, t.row0, t.col0, t.rows, t.c, size_t(t.ldc), [&](int r, int j) {
            return V::load(sums + r * amx::kTileRows + j * 16);
        });
        return;
    }
    amx::with_activation(t.ep->act, [&](auto act) {
        for (int r = 0; r < t.rows; ++r)
            for (int j = 0; j < t.panels && j * 16 < t.cols; ++j)
                simd::store_epilogue<V, decltype(act)::value>(*t.ep, t.row0 + r, t.col0 + j * 16,
                                                              std::min(16, t.cols - j * 16),
                                                              V::load(sums + r * amx::kTileRows + j * 16),
                                                              t.c + size_t(r) * t.ldc + j * 16);
    });
}

bool cpu_has() { return amx::usable(22); }  // AMX-BF16

constexpr Bf16Kernels kTable = {"amx-bf16",       Isa::Avx512,         cpu_has,       tile,
                                amx::kTileRows,   amx::kTilePanels,    Bf16Order::AmxSteps, amx::new_call,
                                attention_bf16_amx, round_bf16_row_cvtne};

}  // namespace

const Bf16Kernels& bf16_kernels_amx() { return kTable; }

}  // namespace pomt
