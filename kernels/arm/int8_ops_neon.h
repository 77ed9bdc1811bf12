// What the two NEON int8 variants share: loads, stores and conversions of their "int8 ops" types
// (kernels/gemm_int8_block.h). Each variant file adds its multiply-add.
#pragma once
#include <cstdint>
#include <cstring>

#include "kernels/gemm_int8_block.h"

namespace pomt {
namespace simd {

struct Int8NeonBase {
    using V = VecNeon;
    using I32 = int32x4_t;
    static constexpr int lanes = 4;
    // The 4 bytes of one group in every 32-bit lane.
    static int8x16_t broadcast_group(const int8_t* p) {
        int32_t x;
        std::memcpy(&x, p, 4);
        return vreinterpretq_s8_s32(vdupq_n_s32(x));
    }
    static V::T to_float(I32 x) { return vcvtq_f32_s32(x); }
    static void store_i32(int32_t* p, I32 x) { vst1q_s32(p, x); }
    // v holds values in [−127, 127]; fcvtns rounds them to the nearest integer, even on ties (as
    // nearbyint in the default mode), so quantize_row leaves the rounding to it.
    static constexpr bool store_q_rounds = true;
    static void store_q(int8_t* q, V::T v) {
        const int16x4_t h = vmovn_s32(vcvtnq_s32_f32(v));
        const int8x8_t b = vmovn_s16(vcombine_s16(h, h));
        vst1_lane_s32(reinterpret_cast<int32_t*>(q), vreinterpret_s32_s8(b), 0);
    }
};

}  // namespace simd
}  // namespace pomt
