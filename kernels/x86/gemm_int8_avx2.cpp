// The avx2 int8 variant: vpmaddubsw + vpmaddwd. vpmaddubsw takes u8 × s8 and saturates pairs at
// int16, so the u8 side is |a| and a's sign moves onto the weights (vpsignb w, a): with a and w in
// [−127, 127] a pair is at most 2·127·127 = 32258 < 32767, so it cannot saturate.
#include "kernels/x86/int8_ops_x86.h"

namespace pomt {
namespace {

struct Ops : simd::Int8Avx2Base {
    using Acc = __m256i;
    struct AOp {
        __m256i a, abs;
    };
    static AOp prep_a(const int8_t* p) {
        const __m256i b = _mm256_set1_epi32(simd::group_word(p));
        return {b, _mm256_abs_epi8(b)};
    }
    static Acc madd(Acc acc, const AOp& a, W w) {
        const __m256i pairs = _mm256_maddubs_epi16(a.abs, _mm256_sign_epi8(w, a.a));
        return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
    }
    static I32 finish(Acc acc, const int32_t*) { return acc; }
};

struct Tiles {
    // 2 rows × 2 panels: 8 ymm accumulators + 4 of W + the broadcast, its |a| and a temporary
    // (ones from memory). The madd itself is 4 µops (sign, maddubs, maddwd, add) on 4 pipes, so
    // what a tile can save is the |a| of each broadcast: 1 per 4 madds here, 1 per 2 in a 4×16
    // tile. llvm-mca -mcpu=znver3, 8 madds of the k loop: 9.5 cycles here, 10.5 for 4×16, the
    // probe 8.8 (tools/mca/x86.py).
    // The peak probe: 2 × 2 chains, its operands in registers too.
    static constexpr int probe_rows = 2, probe_vectors = 2;
    static constexpr int rows = 2, panels = 2;
};

bool cpu_has() { return true; }  // plain AVX2

constexpr Int8Kernels kTable = simd::int8_kernel_table<Ops, Tiles>("avx2", Isa::Avx2, cpu_has);

}  // namespace

const Int8Kernels& int8_kernels_avx2() { return kTable; }

}  // namespace pomt
