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
    // The group through a general register: dup from it runs on Cortex-A76's integer M pipe, while
    // dup from a vector lane (g++'s choice for a plain vdupq_n_s32) takes a slot of the two vector
    // pipes that the sdots need.
    static AOp prep_a(const int8_t* p) {
        int32_t x;
        std::memcpy(&x, p, 4);
        __asm__("" : "+r"(x));
        return vreinterpretq_s8_s32(vdupq_n_s32(x));
    }
    static W load_w(const int8_t* p) { return vld1q_s8(p); }
    static Acc madd(Acc acc, AOp a, W w) { return vdotq_s32(acc, w, a); }
    static I32 finish(Acc acc, const int32_t*) { return acc; }
};

struct Tiles {
    // 5 rows × 1 panel: 20 q accumulators + 4 of W + 5 broadcasts fit the 32 registers (6 rows
    // need 34, and g++ then spills accumulators inside the k loop).
    // The peak probe: 4 × 4 chains, its operands in registers too.
    static constexpr int probe_rows = 4, probe_vectors = 4;
    static constexpr int rows = 5, panels = 1;
};

bool cpu_has() { return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0; }

constexpr Int8Kernels kTable = simd::int8_kernel_table<Ops, Tiles>("neon-dot", Isa::Neon, cpu_has);

}  // namespace

const Int8Kernels& int8_kernels_neondot() { return kTable; }

}  // namespace pomt
