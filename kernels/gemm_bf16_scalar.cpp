// The scalar bf16 variant: vdpbf16ps's order of additions in plain C++ (the odd input of each
// pair first, then the even one, each an fma of exact products), compiled without ISA flags. It
// gives the avx512-bf16 variant's bits on any CPU; it is never chosen by itself ("widen" is).
#include "kernels/bf16.h"
#include "kernels/gemm_bf16_block.h"

namespace pomt {
namespace {

struct Ops {
    using V = simd::VecF1;
    using W = const uint16_t*;  // one column's pair
    struct AOp {
        float lo, hi;
    };
    static constexpr int lanes = 1;
    static W load_w(const uint16_t* p) { return p; }
    static AOp prep_a(const uint16_t* p) { return {bf16_to_float(p[0]), bf16_to_float(p[1])}; }
    static float dot(float acc, const AOp& a, W w) {
        acc = std::fma(a.hi, bf16_to_float(w[1]), acc);
        return std::fma(a.lo, bf16_to_float(w[0]), acc);
    }
};

struct Tiles {
    static constexpr int rows = 4, panels = 1;
};

bool cpu_has() { return true; }

constexpr Bf16Kernels kTable =
    simd::bf16_kernel_table<Ops, Tiles>("scalar", Isa::Scalar, cpu_has, Bf16Order::PairsOddFirst);

}  // namespace

const Bf16Kernels& bf16_kernels_scalar() { return kTable; }

}  // namespace pomt
