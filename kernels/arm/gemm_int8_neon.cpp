// The neon int8 variant (ARMv8.0: Cortex-A72 / Raspberry Pi 4): smull/smlal into int16, then
// sadalp into int32. A step takes two groups of 4 inputs: each int16 lane is the sum of two
// products, at most 2·127·127 = 32258 < 32767, so it cannot overflow. An accumulator holds
// [c0(t0+t1), c0(t2+t3), c1(…), c1(…)] and [c2…, c3…]; finish adds the pairs (addp).
#include "kernels/arm/int8_ops_neon.h"

namespace pomt {
namespace {

struct Ops : simd::Int8NeonBase {
    struct Acc {
        int32x4_t lo, hi;
    };
    struct AOp {
        int8x16_t g0, g1;
    };
    using W = AOp;  // the same 16 bytes of two consecutive groups
    static constexpr int kstep = 2;
    static Acc zero() { return {vdupq_n_s32(0), vdupq_n_s32(0)}; }
    static AOp prep_a(const int8_t* p) { return {broadcast_group(p), broadcast_group(p + 4)}; }
    static AOp prep_a_tail(const int8_t* p) { return {broadcast_group(p), vdupq_n_s8(0)}; }
    static W load_w(const int8_t* p) { return {vld1q_s8(p), vld1q_s8(p + 64)}; }
    static W load_w_tail(const int8_t* p) { return {vld1q_s8(p), vdupq_n_s8(0)}; }
    static Acc madd(Acc acc, const AOp& a, const W& w) {
        int16x8_t lo = vmull_s8(vget_low_s8(w.g0), vget_low_s8(a.g0));
        lo = vmlal_s8(lo, vget_low_s8(w.g1), vget_low_s8(a.g1));
        int16x8_t hi = vmull_high_s8(w.g0, a.g0);
        hi = vmlal_high_s8(hi, w.g1, a.g1);
        return {vpadalq_s16(acc.lo, lo), vpadalq_s16(acc.hi, hi)};
    }
    static I32 finish(const Acc& acc, const int32_t*) { return vpaddq_s32(acc.lo, acc.hi); }
};

struct Tiles {
    // 2 rows × 1 panel: 16 q accumulators + 8 of W (two groups) + 2 broadcasts + 2 temporaries.
    // The peak probe: 2 × 4 chains, its operands in registers too.
    static constexpr int probe_rows = 2, probe_vectors = 4;
    static constexpr int rows = 2, panels = 1;
};

bool cpu_has() { return true; }

constexpr Int8Kernels kTable = simd::int8_kernel_table<Ops, Tiles>("neon", Isa::Neon, cpu_has);

}  // namespace

const Int8Kernels& int8_kernels_neon() { return kTable; }

}  // namespace pomt
