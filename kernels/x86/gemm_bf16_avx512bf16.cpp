// The avx512-bf16 variant (AMD Zen 4/5, Intel Cooper Lake and Xeons since Sapphire Rapids):
// zmm vdpbf16ps, 32 multiply-adds per instruction (16 fp32 lanes × a pair), twice the fp32 FMA's.
// Its additions per lane: the odd input's product, then the even one's (Intel's pseudo-code;
// denormals flushed, nearest even), so Bf16Order::PairsOddFirst, the bits of the scalar variant.
// This file is compiled with -mavx512bf16; it runs only where CPUID says AVX512_BF16.

#include <cstring>

#include "kernels/gemm_bf16_block.h"
#include "kernels/x86/bf16_convert.h"

namespace pomt {
namespace {

struct Ops {
    using V = simd::VecAvx512;
    using W = __m512bh;
    using AOp = __m512bh;
    static constexpr int lanes = 16;
    static W load_w(const uint16_t* p) { return (__m512bh)_mm512_loadu_si512(p); }
    static AOp prep_a(const uint16_t* p) {
        uint32_t x;
        std::memcpy(&x, p, 4);
        return (__m512bh)_mm512_set1_epi32(int(x));
    }
    static V::T dot(V::T acc, AOp a, W w) { return _mm512_dpbf16_ps(acc, a, w); }
};

struct Tiles {
    // 8 rows × 3 panels: 24 zmm accumulators + 3 of W + the broadcast, as the fp32 kernel's 8 × 3:
    // 3 loads and 8 broadcasts feed 24 vdpbf16ps per pair.
    static constexpr int rows = 8, panels = 3;
};

bool cpu_has() { return __builtin_cpu_supports("avx512bf16") != 0; }

constexpr Bf16Kernels with_round(Bf16Kernels t) {
    t.round = round_bf16_row_cvtne;
    return t;
}
constexpr Bf16Kernels kTable =
    with_round(simd::bf16_kernel_table<Ops, Tiles>("avx512-bf16", Isa::Avx512, cpu_has, Bf16Order::PairsOddFirst));

}  // namespace

const Bf16Kernels& bf16_kernels_avx512bf16() { return kTable; }

}  // namespace pomt
