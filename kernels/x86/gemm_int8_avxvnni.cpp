// The avx-vnni int8 variant (Intel client CPUs since Alder Lake, without AVX-512): ymm vpdpbusd,
// 32 multiply-adds per instruction, with the q XOR 0x80 scheme of gemm_int8_avx512vnni.cpp.
#include <cpuid.h>

#include "kernels/x86/int8_ops_x86.h"

namespace pomt {
namespace {

struct Ops : simd::Int8Avx2Base {
    using Acc = __m256i;
    using AOp = __m256i;
    // As avx512-vnni's: rows XORed by prepare_a, so the broadcasts are loads.
    static void prepare_a(const int8_t* src, int8_t* dst, int bytes) { simd::copy_xor_0x80(src, dst, bytes); }
    static AOp prep_a(const int8_t* p) { return _mm256_set1_epi32(simd::group_word(p)); }
    static Acc madd(Acc acc, AOp a, W w) { return _mm256_dpbusd_avx_epi32(acc, a, w); }
    static I32 finish(Acc acc, const int32_t* sum) {
        const __m256i s = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sum));
        return _mm256_sub_epi32(acc, _mm256_slli_epi32(s, 7));
    }
};

struct Tiles {
    // 5 rows × 1 panel: 10 ymm accumulators + 2 of W + the broadcast, and the 0x80 constant of
    // prepare_a, which g++ keeps in a register across the k loop: with 6 rows (12 accumulators)
    // two of them went to the stack, loaded and stored every step. 10 chains still cover
    // vpdpbusd's latency × pipes (5 × 2). pomt bench --int8: DeiT-Tiny qkv 110 → 135 GMAC/s,
    // fc2 122 → 159 (6 rows with the spills → 5 rows).
    // The peak probe: 6 × 2 chains on 2 A and 2 W registers (16 ymm): vpdpbusd's latency × pipes
    // is 5 × 2 on Alder Lake, so 8 chains would reach only 80 % of its peak.
    static constexpr int probe_rows = 6, probe_vectors = 2, probe_a_regs = 2;
    static constexpr int rows = 5, panels = 1;
};

// CPUID leaf 7, sub-leaf 1, EAX bit 4 (AVX-VNNI): read directly, since older compilers (clang 14)
// do not know "avxvnni" in __builtin_cpu_supports. The table is only used within the avx2 level,
// whose check already covers the OS saving ymm state.
bool cpu_has() {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) return false;
    return (eax >> 4) & 1u;
}

constexpr Int8Kernels kTable = simd::int8_kernel_table<Ops, Tiles>("avx-vnni", Isa::Avx2, cpu_has);

}  // namespace

const Int8Kernels& int8_kernels_avxvnni() { return kTable; }

}  // namespace pomt
