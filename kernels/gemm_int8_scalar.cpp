// The scalar int8 variant: plain int32 multiply-adds, compiled without ISA flags (any CPU).
#include "kernels/gemm_int8_block.h"

namespace pomt {
namespace {

struct Ops {
    using V = simd::VecF1;
    using Acc = int32_t;
    using I32 = int32_t;
    using W = const int8_t*;  // the 4 weights of one column
    struct AOp {
        int32_t a[4];
    };
    static constexpr int lanes = 1, kstep = 1;
    static Acc zero() { return 0; }
    static AOp prep_a(const int8_t* p) { return {{p[0], p[1], p[2], p[3]}}; }
    static W load_w(const int8_t* p) { return p; }
    // In uint32, which wraps as the vector instructions do (the peak probe runs past 2³¹).
    static Acc madd(Acc acc, const AOp& a, W w) {
        uint32_t s = uint32_t(acc);
        for (int t = 0; t < 4; ++t) s += uint32_t(a.a[t] * w[t]);
        return int32_t(s);
    }
    static I32 finish(Acc acc, const int32_t*) { return acc; }
    static float to_float(I32 x) { return float(x); }
    static void store_i32(int32_t* p, I32 x) { *p = x; }
    static void store_q(int8_t* q, float v) { *q = clamp_to_int8(v); }
};

struct Tiles {
    // The peak probe: 2 × 2 chains, its operands in registers too.
    static constexpr int probe_rows = 2, probe_vectors = 2;
    static constexpr int rows = 4, panels = 1;
};

bool cpu_has() { return true; }

constexpr Int8Kernels kTable = simd::int8_kernel_table<Ops, Tiles>("scalar", Isa::Scalar, cpu_has);

}  // namespace

const Int8Kernels& int8_kernels_scalar() { return kTable; }

}  // namespace pomt
