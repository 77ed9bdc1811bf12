// The avx512bw int8 variant (Skylake-X: AVX-512 without VNNI): vpmaddubsw + vpmaddwd. vpmaddubsw
// takes u8 × s8 and saturates pairs at int16, so the u8 side is |a| and a's sign moves onto the
// weights (AVX-512 has no vpsignb: a masked 0 − w where a < 0). With a and w in [−127, 127] a
// pair is at most 2·127·127 = 32258 < 32767: it cannot saturate.
#include "kernels/x86/int8_ops_x86.h"

namespace pomt {
namespace {

struct Ops : simd::Int8Avx512Base {
    using Acc = __m512i;
    struct AOp {
        __m512i abs;
        __mmask64 neg;
    };
    static AOp prep_a(const int8_t* p) {
        const __m512i b = _mm512_set1_epi32(simd::group_word(p));
        return {_mm512_abs_epi8(b), _mm512_movepi8_mask(b)};
    }
    static Acc madd(Acc acc, const AOp& a, W w) {
        const __m512i signed_w = _mm512_mask_sub_epi8(w, a.neg, _mm512_setzero_si512(), w);
        const __m512i pairs = _mm512_maddubs_epi16(a.abs, signed_w);
        return _mm512_add_epi32(acc, _mm512_madd_epi16(pairs, _mm512_set1_epi16(1)));
    }
    static I32 finish(Acc acc, const int32_t*) { return acc; }
};

struct Tiles {
    // 8 rows × 2 panels: 16 accumulators + 2 of W + the constants and temporaries of madd.
    // The peak probe: 4 × 4 chains, its operands in registers too.
    static constexpr int probe_rows = 4, probe_vectors = 4;
    static constexpr int rows = 8, panels = 2;
};

bool cpu_has() { return true; }  // AVX-512BW is part of the avx512 level

constexpr Int8Kernels kTable = simd::int8_kernel_table<Ops, Tiles>("avx512bw", Isa::Avx512, cpu_has);

}  // namespace

const Int8Kernels& int8_kernels_avx512bw() { return kTable; }

}  // namespace pomt
