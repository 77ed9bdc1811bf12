// The neon-bf16 variant (ARMv8.6 BF16: Graviton 3, Neoverse V1/N2, Apple M2 and later; not the
// Raspberry Pi's Cortex-A72/A76): BFDOT, 8 multiply-adds per instruction (4 fp32 lanes × a pair),
// twice the fp32 FMLA's. BFDOT sums each pair's two products and adds them to the lane rounding
// to odd, denormals flushed (the Arm ARM's BFDotAdd without FEAT_EBF16, or with FPCR.EBF = 0, the
// value Linux starts a process with and pomt never changes): Bf16Order::PairsRoundToOdd.
// Held bit for bit to that reference (tests/test_kernels_gemm_bf16.cpp, edge cases included) only
// under qemu-aarch64 -cpu max (7.2: FEAT_BF16 without FEAT_EBF16; target/arm vec_helper.c
// bfdotadd, round to odd with flushes, which implements the same pseudocode), not yet on BF16
// hardware: exactness there rests on the Arm ARM, not on a measurement.
// This file is compiled with -march=armv8.2-a+bf16; it runs only where HWCAP2_BF16 says so.
#include <arm_neon.h>
#include <sys/auxv.h>

#include <cstring>

#include "kernels/gemm_bf16_block.h"

#ifndef HWCAP2_BF16
#define HWCAP2_BF16 (1 << 14)
#endif

namespace pomt {
namespace {

struct Ops {
    using V = simd::VecNeon;
    using W = bfloat16x8_t;
    using AOp = bfloat16x8_t;
    static constexpr int lanes = 4;
    static W load_w(const uint16_t* p) { return vreinterpretq_bf16_u16(vld1q_u16(p)); }
    // The pair through a general register, as the neon-dot variant's group (dup from it runs on
    // the integer pipe, not a vector one).
    static AOp prep_a(const uint16_t* p) {
        uint32_t x;
        std::memcpy(&x, p, 4);
        __asm__("" : "+r"(x));
        return vreinterpretq_bf16_u32(vdupq_n_u32(x));
    }
    static V::T dot(V::T acc, AOp a, W w) { return vbfdotq_f32(acc, w, a); }
};

struct Tiles {
    // 5 rows × 1 panel: 20 q accumulators + 4 of W + the broadcast within the 32 registers (as the
    // neon-dot int8 kernel's tile).
    static constexpr int rows = 5, panels = 1;
};

bool cpu_has() { return (getauxval(AT_HWCAP2) & HWCAP2_BF16) != 0; }

constexpr Bf16Kernels kTable =
    simd::bf16_kernel_table<Ops, Tiles>("neon-bf16", Isa::Neon, cpu_has, Bf16Order::PairsRoundToOdd);

}  // namespace

const Bf16Kernels& bf16_kernels_neonbf16() { return kTable; }

}  // namespace pomt
