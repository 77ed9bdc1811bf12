// round_row_to_bf16 (kernels/bf16.h) with AVX512_BF16's VCVTNE2PS2BF16, for the variants compiled
// with -mavx512bf16 (amx-bf16, avx512-bf16): their Bf16Kernels::round. The instruction rounds to
// nearest even and quiets a NaN as round_row_to_bf16 does, but it does not consult MXCSR and
// flushes subnormal inputs to zero; a row holding one (VFPCLASSPS) is rounded again by the integer
// path, so the bits are round_row_to_bf16's for every float. The level's integer loop took 8 % of
// DeiT-Small bf16 (about 9 cycles per 16 values); this is two instructions per 32.
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "kernels/bf16.h"

namespace pomt {

inline void round_bf16_row_cvtne(const float* x, int n, uint16_t* out) {
    constexpr int kSubnormal = 0x20;  // VFPCLASSPS category
    __mmask16 sub = 0;
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m512 lo = _mm512_loadu_ps(x + i), hi = _mm512_loadu_ps(x + i + 16);
        sub |= __mmask16(_mm512_fpclass_ps_mask(lo, kSubnormal) | _mm512_fpclass_ps_mask(hi, kSubnormal));
        _mm512_storeu_si512(out + i, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));  // lo → the low half
    }
    for (; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1u);
        const __m512 v = _mm512_maskz_loadu_ps(m, x + i);  // the lanes past n: +0, not subnormal
        sub |= _mm512_fpclass_ps_mask(v, kSubnormal);
        _mm256_mask_storeu_epi16(out + i, m, (__m256i)_mm512_cvtneps_pbh(v));
    }
    if (sub) round_row_to_bf16(x, n, out);
}

}  // namespace pomt
