// The neon int8 variant (ARMv8.0: Cortex-A72 / Raspberry Pi 4): smull/smlal into int16, then
// sadalp into int32. A step takes two groups of 4 inputs: each int16 lane is the sum of two
// products, at most 2·127·127 = 32258 < 32767, so it cannot overflow. An accumulator holds
// [c0(t0+t1), c0(t2+t3), c1(…), c1(…)] and [c2…, c3…]; finish adds the pairs (addp).
#include "kernels/arm/int8_ops_neon.h"

namespace pomt {
namespace {

struct Ops : simd::Int8NeonBase {
    static const int8_t (*bytes16(const int8_t* p))[16] { return reinterpret_cast<const int8_t(*)[16]>(p); }
    struct Acc {
        int32x4_t lo, hi;
    };
    struct AOp {
        int8x16_t g0, g1;
    };
    // W: where the 16 bytes of the step's two groups are; madd loads them itself.
    struct W {
        const int8_t (*g0)[16], (*g1)[16];
    };
    static constexpr int kstep = 2;
    static Acc zero() { return {vdupq_n_s32(0), vdupq_n_s32(0)}; }
    static AOp prep_a(const int8_t* p) { return {broadcast_group(p), broadcast_group(p + 4)}; }
    static AOp prep_a_tail(const int8_t* p) { return {broadcast_group(p), vdupq_n_s8(0)}; }
    static W load_w(const int8_t* p) { return {bytes16(p), bytes16(p + 64)}; }
    static W load_w_tail(const int8_t* p) {  // the second group is past the panel: zeros (× a zero A)
        alignas(16) static const int8_t zeros[16] = {};
        return {bytes16(p), bytes16(zeros)};
    }
    // lo = w.g0·a.g0 + w.g1·a.g1 on bytes 0–7 (smull, smlal), hi on bytes 8–15 (smull2, smlal2),
    // each pair of int16 lanes then added into the int32 accumulators (sadalp). One asm statement
    // per row and column vector, loads of W included, so that four temporaries are all a madd keeps
    // live: with intrinsics, g++ loads a step's eight W vectors and computes a row's eight int16
    // temporaries at once, and spills accumulators inside the k loop. W is loaded once per row:
    // the load pipe has room for it (smull/smlal, one per cycle on Cortex-A72, are the limit).
    static Acc madd(Acc acc, const AOp& a, const W& w) {
        int8x16_t w0, w1;
        int16x8_t lo, hi;
        __asm__("ldr    %q[w0], %[m0]\n\t"
                "ldr    %q[w1], %[m1]\n\t"
                "smull  %[lo].8h, %[w0].8b, %[a0].8b\n\t"
                "smull2 %[hi].8h, %[w0].16b, %[a0].16b\n\t"
                "smlal  %[lo].8h, %[w1].8b, %[a1].8b\n\t"
                "smlal2 %[hi].8h, %[w1].16b, %[a1].16b\n\t"
                "sadalp %[acc_lo].4s, %[lo].8h\n\t"
                "sadalp %[acc_hi].4s, %[hi].8h"
                : [w0] "=&w"(w0), [w1] "=&w"(w1), [lo] "=&w"(lo), [hi] "=&w"(hi), [acc_lo] "+w"(acc.lo),
                  [acc_hi] "+w"(acc.hi)
                : [m0] "m"(*w.g0), [m1] "m"(*w.g1), [a0] "w"(a.g0), [a1] "w"(a.g1));
        return acc;
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
