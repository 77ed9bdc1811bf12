// The avx512-vnni int8 variant: zmm vpdpbusd, 64 multiply-adds per instruction. vpdpbusd takes
// u8 × s8, so the activations go in as q XOR 0x80 = q + 128 (as u8) and 128·w_sum[j] comes off
// the int32 sum at the end (exact: the sums wrap modulo 2³² and the true one fits).
#include "kernels/x86/int8_ops_x86.h"

namespace pomt {
namespace {

struct Ops : simd::Int8Avx512Base {
    using Acc = __m512i;
    using AOp = __m512i;
    // The tile's rows go through prepare_a first (kernels/gemm_int8_block.h), so prep_a is a
    // broadcast load: from memory it runs on a load port, while a broadcast from a general
    // register (after the XOR) takes port 5, which every other vpdpbusd needs (a step: 24 of them
    // and 8 broadcasts on ports 0 and 5, 16 cycles instead of 12).
    static void prepare_a(const int8_t* src, int8_t* dst, int bytes) { simd::copy_xor_0x80(src, dst, bytes); }
    static AOp prep_a(const int8_t* p) { return _mm512_set1_epi32(simd::group_word(p)); }
    static Acc madd(Acc acc, AOp a, W w) { return _mm512_dpbusd_epi32(acc, a, w); }
    static I32 finish(Acc acc, const int32_t* sum) {
        return _mm512_sub_epi32(acc, _mm512_slli_epi32(_mm512_loadu_si512(sum), 7));
    }
};

struct Tiles {
    // 8 rows × 3 panels: 24 zmm accumulators + 3 of W + the broadcast; 3 loads and 8 broadcasts
    // feed 24 vpdpbusd per step (as the fp32 kernel's 8 × 3).
    // The peak probe: 4 × 4 chains, its operands in registers too.
    static constexpr int probe_rows = 4, probe_vectors = 4;
    static constexpr int rows = 8, panels = 3;
};

bool cpu_has() { return __builtin_cpu_supports("avx512vnni") != 0; }

constexpr Int8Kernels kTable = simd::int8_kernel_table<Ops, Tiles>("avx512-vnni", Isa::Avx512, cpu_has);

}  // namespace

const Int8Kernels& int8_kernels_avx512vnni() { return kTable; }

}  // namespace pomt
