// The neon-dot int8 variant (ARMv8.2 dotprod: Cortex-A76 / Raspberry Pi 5): sdot, 16 multiply-adds
// per instruction, s8 × s8 so no offset trick. This file is compiled with
// -march=armv8.2-a+dotprod; it runs only where the kernel reports HWCAP_ASIMDDP.
#include <sys/auxv.h>

#include "kernels/arm/int8_ops_neon.h"

#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif

namespace pomt {
namespace {

struct Ops : simd::Int8NeonBase {
    using Acc = int32x4_t;
    using AOp = int8x16_t;
    using W = int8x16_t;
    static constexpr int kstep = 1;
    static Acc zero() { return vdupq_n_s32(0); }
    static AOp prep_a(const int8_t* p) { return broadcast_group(p); }
    static W load_w(const int8_t* p) { return vld1q_s8(p); }
    static Acc madd(Acc acc, AOp a, W w) { return vdotq_s32(acc, w, a); }
    static I32 finish(Acc acc, const int32_t*) { return acc; }
};

struct Tiles {
    // 6 rows × 1 panel: 24 q accumulators + 4 of W + the broadcast fit the 32 registers.
    // The peak probe: 4 × 4 chains, its operands in registers too.
    static constexpr int probe_rows = 4, probe_vectors = 4;
    static constexpr int rows = 6, panels = 1;
};

bool cpu_has() { return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0; }

constexpr Int8Kernels kTable = simd::int8_kernel_table<Ops, Tiles>("neon-dot", Isa::Neon, cpu_has);

}  // namespace

const Int8Kernels& int8_kernels_neondot() { return kTable; }

}  // namespace pomt
