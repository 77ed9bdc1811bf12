// The pixel stages of libjpeg-turbo's decoder (Pillow's defaults), written for pomt from the
// algorithms; image/jpeg_exact.h says which libjpeg function each one reproduces and why.
#include "image/jpeg_exact.h"

#include <algorithm>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace pomt {
namespace jpeg_exact {
namespace {

// ---- IDCT (libjpeg-turbo jidctint.c jpeg_idct_islow, CONST_BITS 13, PASS1_BITS 2) -------------
// The 1-D transform of jpeg_idct_islow with its rotations regrouped into pairs of products
// (a·c1 + b·c2, the shape of SSE2's pmaddwd), which is exact in integers: the same sums, rounded
// only by DESCALE. Pass 1 (columns) results are kept as saturated 16-bit values, as libjpeg-turbo's
// SIMD IDCT keeps them; pass 2 (rows) output is clamp(x + 128, 0, 255). For any block a real
// encoder produces this is libjpeg's C result too; on crafted coefficients the 32-bit sums wrap
// (defined behaviour here, the same in the scalar and the SSE2 code).
constexpr int kC0298 = 2446, kC0390 = 3196, kC0541 = 4433, kC0765 = 6270, kC0899 = 7373,
              kC1175 = 9633, kC1501 = 12299, kC1847 = 15137, kC1961 = 16069, kC2053 = 16819,
              kC2562 = 20995, kC3072 = 25172;
constexpr int kPass1Shift = 13 - 2, kPass2Shift = 13 + 2 + 3;

inline int32_t madd(int32_t a, int32_t b, int32_t ca, int32_t cb) {  // a·ca + b·cb, wrapping
    return int32_t(uint32_t(a * ca) + uint32_t(b * cb));
}
inline int32_t wadd(int32_t a, int32_t b) { return int32_t(uint32_t(a) + uint32_t(b)); }
inline int32_t wsub(int32_t a, int32_t b) { return int32_t(uint32_t(a) - uint32_t(b)); }
inline int16_t add16(int16_t a, int16_t b) { return int16_t(uint16_t(uint16_t(a) + uint16_t(b))); }
inline int16_t sat16(int32_t v) { return int16_t(std::min(32767, std::max(-32768, v))); }
inline int16_t descale(int32_t v, int shift) {
    return sat16(wadd(v, int32_t(1) << (shift - 1)) >> shift);
}

// One 1-D pass over in[0..7] (frequencies), out[0..7] (positions).
void idct_1d(const int16_t* in, int16_t* out, int shift) {
    const int32_t tmp3e = madd(in[2], in[6], kC0541 + kC0765, kC0541);
    const int32_t tmp2e = madd(in[2], in[6], kC0541, kC0541 - kC1847);
    const int32_t tmp0e = madd(in[0], in[4], 8192, 8192);   // (in0 + in4) << CONST_BITS
    const int32_t tmp1e = madd(in[0], in[4], 8192, -8192);  // (in0 - in4) << CONST_BITS
    const int32_t t10 = wadd(tmp0e, tmp3e), t13 = wsub(tmp0e, tmp3e);
    const int32_t t11 = wadd(tmp1e, tmp2e), t12 = wsub(tmp1e, tmp2e);
    const int16_t z3 = add16(in[7], in[3]), z4 = add16(in[5], in[1]);
    const int32_t z3r = madd(z3, z4, kC1175 - kC1961, kC1175);  // z3·(-c1.961) + z5
    const int32_t z4r = madd(z3, z4, kC1175, kC1175 - kC0390);  // z4·(-c0.390) + z5
    const int32_t t0 = wadd(madd(in[7], in[1], kC0298 - kC0899, -kC0899), z3r);
    const int32_t t3 = wadd(madd(in[7], in[1], -kC0899, kC1501 - kC0899), z4r);
    const int32_t t1 = wadd(madd(in[5], in[3], kC2053 - kC2562, -kC2562), z4r);
    const int32_t t2 = wadd(madd(in[5], in[3], -kC2562, kC3072 - kC2562), z3r);
    out[0] = descale(wadd(t10, t3), shift);
    out[7] = descale(wsub(t10, t3), shift);
    out[1] = descale(wadd(t11, t2), shift);
    out[6] = descale(wsub(t11, t2), shift);
    out[2] = descale(wadd(t12, t1), shift);
    out[5] = descale(wsub(t12, t1), shift);
    out[3] = descale(wadd(t13, t0), shift);
    out[4] = descale(wsub(t13, t0), shift);
}

#if defined(__SSE2__)

struct Pair {  // 8 lanes of 32-bit values, as two registers
    __m128i lo, hi;
};
inline Pair vmadd(__m128i a, __m128i b, int16_t ca, int16_t cb) {
    const __m128i k = _mm_set_epi16(cb, ca, cb, ca, cb, ca, cb, ca);
    return {_mm_madd_epi16(_mm_unpacklo_epi16(a, b), k), _mm_madd_epi16(_mm_unpackhi_epi16(a, b), k)};
}
inline Pair vadd(Pair a, Pair b) { return {_mm_add_epi32(a.lo, b.lo), _mm_add_epi32(a.hi, b.hi)}; }
inline Pair vsub(Pair a, Pair b) { return {_mm_sub_epi32(a.lo, b.lo), _mm_sub_epi32(a.hi, b.hi)}; }
template <int Shift>
inline __m128i vdescale(Pair v) {
    const __m128i round = _mm_set1_epi32(1 << (Shift - 1));
    return _mm_packs_epi32(_mm_srai_epi32(_mm_add_epi32(v.lo, round), Shift),
                           _mm_srai_epi32(_mm_add_epi32(v.hi, round), Shift));
}

// The 1-D pass of idct_1d on 8 lanes at once: r[k] holds frequency k of 8 independent lines.
template <int Shift>
void idct_1d_sse2(__m128i r[8]) {
    const Pair tmp3e = vmadd(r[2], r[6], kC0541 + kC0765, kC0541);
    const Pair tmp2e = vmadd(r[2], r[6], kC0541, kC0541 - kC1847);
    const Pair tmp0e = vmadd(r[0], r[4], 8192, 8192);
    const Pair tmp1e = vmadd(r[0], r[4], 8192, -8192);
    const Pair t10 = vadd(tmp0e, tmp3e), t13 = vsub(tmp0e, tmp3e);
    const Pair t11 = vadd(tmp1e, tmp2e), t12 = vsub(tmp1e, tmp2e);
    const __m128i z3 = _mm_add_epi16(r[7], r[3]), z4 = _mm_add_epi16(r[5], r[1]);
    const Pair z3r = vmadd(z3, z4, kC1175 - kC1961, kC1175);
    const Pair z4r = vmadd(z3, z4, kC1175, kC1175 - kC0390);
    const Pair t0 = vadd(vmadd(r[7], r[1], kC0298 - kC0899, -kC0899), z3r);
    const Pair t3 = vadd(vmadd(r[7], r[1], -kC0899, kC1501 - kC0899), z4r);
    const Pair t1 = vadd(vmadd(r[5], r[3], kC2053 - kC2562, -kC2562), z4r);
    const Pair t2 = vadd(vmadd(r[5], r[3], -kC2562, kC3072 - kC2562), z3r);
    r[0] = vdescale<Shift>(vadd(t10, t3));
    r[7] = vdescale<Shift>(vsub(t10, t3));
    r[1] = vdescale<Shift>(vadd(t11, t2));
    r[6] = vdescale<Shift>(vsub(t11, t2));
    r[2] = vdescale<Shift>(vadd(t12, t1));
    r[5] = vdescale<Shift>(vsub(t12, t1));
    r[3] = vdescale<Shift>(vadd(t13, t0));
    r[4] = vdescale<Shift>(vsub(t13, t0));
}

void transpose8x8_16(__m128i r[8]) {
    const __m128i a0 = _mm_unpacklo_epi16(r[0], r[1]), a1 = _mm_unpackhi_epi16(r[0], r[1]);
    const __m128i a2 = _mm_unpacklo_epi16(r[2], r[3]), a3 = _mm_unpackhi_epi16(r[2], r[3]);
    const __m128i a4 = _mm_unpacklo_epi16(r[4], r[5]), a5 = _mm_unpackhi_epi16(r[4], r[5]);
    const __m128i a6 = _mm_unpacklo_epi16(r[6], r[7]), a7 = _mm_unpackhi_epi16(r[6], r[7]);
    const __m128i b0 = _mm_unpacklo_epi32(a0, a2), b1 = _mm_unpackhi_epi32(a0, a2);
    const __m128i b2 = _mm_unpacklo_epi32(a1, a3), b3 = _mm_unpackhi_epi32(a1, a3);
    const __m128i b4 = _mm_unpacklo_epi32(a4, a6), b5 = _mm_unpackhi_epi32(a4, a6);
    const __m128i b6 = _mm_unpacklo_epi32(a5, a7), b7 = _mm_unpackhi_epi32(a5, a7);
    r[0] = _mm_unpacklo_epi64(b0, b4);
    r[1] = _mm_unpackhi_epi64(b0, b4);
    r[2] = _mm_unpacklo_epi64(b1, b5);
    r[3] = _mm_unpackhi_epi64(b1, b5);
    r[4] = _mm_unpacklo_epi64(b2, b6);
    r[5] = _mm_unpackhi_epi64(b2, b6);
    r[6] = _mm_unpacklo_epi64(b3, b7);
    r[7] = _mm_unpackhi_epi64(b3, b7);
}

#endif

}  // namespace

void idct_islow_scalar(const int16_t coef[64], uint8_t* out, int stride) {
    int16_t ws[64], col[8], res[8];
    for (int c = 0; c < 8; ++c) {  // pass 1: columns
        for (int k = 0; k < 8; ++k) col[k] = coef[k * 8 + c];
        idct_1d(col, res, kPass1Shift);
        for (int k = 0; k < 8; ++k) ws[k * 8 + c] = res[k];
    }
    for (int y = 0; y < 8; ++y) {  // pass 2: rows
        idct_1d(ws + y * 8, res, kPass2Shift);
        for (int x = 0; x < 8; ++x) out[y * stride + x] = uint8_t(std::min(255, std::max(0, res[x] + 128)));
    }
}

void idct_islow(const int16_t coef[64], uint8_t* out, int stride) {
#if defined(__SSE2__)
    __m128i r[8];
    for (int k = 0; k < 8; ++k) r[k] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(coef + 8 * k));
    idct_1d_sse2<kPass1Shift>(r);  // lanes: columns
    transpose8x8_16(r);
    idct_1d_sse2<kPass2Shift>(r);  // lanes: rows
    transpose8x8_16(r);
    const __m128i centre = _mm_set1_epi16(128);
    for (int y = 0; y < 8; y += 2) {
        const __m128i px = _mm_packus_epi16(_mm_adds_epi16(r[y], centre), _mm_adds_epi16(r[y + 1], centre));
        _mm_storel_epi64(reinterpret_cast<__m128i*>(out + y * stride), px);
        _mm_storel_epi64(reinterpret_cast<__m128i*>(out + (y + 1) * stride), _mm_unpackhi_epi64(px, px));
    }
#else
    idct_islow_scalar(coef, out, stride);
#endif
}

// ---- Upsampling (libjpeg-turbo jdsample.c, do_fancy_upsampling = TRUE) ------------------------
// jinit_upsampler picks per component: no change at full size; "fancy" triangle filters for
// 2:1 horizontal (h2v1_fancy_upsample), 2:1 both ways (h2v2_fancy_upsample) and 2:1 vertical
// (h1v2_fancy_upsample, libjpeg-turbo >= 2.0); plain replication (h2v1_upsample, h2v2_upsample,
// int_upsample) for any other integer ratio, and for 2:1 horizontal ratios of components 1 or 2
// samples wide, where libjpeg does not use the fancy filters. Samples outside the component repeat
// its edge: libjpeg duplicates the first and last sample rows as context rows, and the fancy
// filters treat the first and last column as their own neighbour.

bool sampling_supported(int h, int v, int max_h, int max_v) {
    return h >= 1 && v >= 1 && h <= max_h && v <= max_v && max_h % h == 0 && max_v % v == 0;
}

namespace {

// The horizontal 3:1 triangle filter of h2v1_fancy_upsample / h2v2_fancy_upsample on s[0..w-1]
// (s[-1] and s[w] hold the edge copies): out[2c] = (3 s[c] + s[c-1] + b0) >> shift,
// out[2c+1] = (3 s[c] + s[c+1] + b1) >> shift.
template <int B0, int B1, int Shift>
void triangle_h2(const int16_t* s, int w, uint8_t* out) {
    int c = 0;
#if defined(__SSE2__)
    const __m128i b0 = _mm_set1_epi16(B0), b1 = _mm_set1_epi16(B1);
    for (; c + 8 <= w; c += 8) {
        const __m128i cur = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + c));
        const __m128i prev = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + c - 1));
        const __m128i next = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + c + 1));
        const __m128i three = _mm_add_epi16(_mm_add_epi16(cur, cur), cur);
        const __m128i even = _mm_srli_epi16(_mm_add_epi16(_mm_add_epi16(three, prev), b0), Shift);
        const __m128i odd = _mm_srli_epi16(_mm_add_epi16(_mm_add_epi16(three, next), b1), Shift);
        const __m128i lo = _mm_unpacklo_epi16(even, odd), hi = _mm_unpackhi_epi16(even, odd);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 2 * c), _mm_packus_epi16(lo, hi));
    }
#endif
    for (; c < w; ++c) {
        const int t = 3 * s[c];
        out[2 * c] = uint8_t((t + s[c - 1] + B0) >> Shift);
        out[2 * c + 1] = uint8_t((t + s[c + 1] + B1) >> Shift);
    }
}

}  // namespace

const uint8_t* upsampled_row(const Plane& p, int max_h, int max_v, int y, int width, uint8_t* buf, int16_t* sums) {
    const int hx = max_h / p.h, vx = max_v / p.v, w = p.width;
    const int r = std::min(y / vx, p.height - 1);
    const uint8_t* near = p.data + size_t(r) * size_t(p.stride);
    if (hx == 1 && vx == 1) return near;
    const bool fancy_h = hx == 2 && w > 2;
    int16_t* s = sums + 1;
    if (fancy_h && vx == 1) {
        // h2v1_fancy_upsample: 3/4 nearer sample + 1/4 further one, biased 1 then 2.
        for (int c = 0; c < w; ++c) s[c] = near[c];
        s[-1] = s[0];
        s[w] = s[w - 1];
        triangle_h2<1, 2, 2>(s, w, buf);
        return buf;
    }
    if (fancy_h && vx == 2) {
        // h2v2_fancy_upsample: column sums 3 * nearer row + further row (the row above for even
        // output rows, below for odd ones), then 3:1 across columns, biased 8 then 7.
        const int rf = (y & 1) ? std::min(r + 1, p.height - 1) : std::max(r - 1, 0);
        const uint8_t* far = p.data + size_t(rf) * size_t(p.stride);
        for (int c = 0; c < w; ++c) s[c] = int16_t(3 * near[c] + far[c]);
        s[-1] = s[0];
        s[w] = s[w - 1];
        triangle_h2<8, 7, 4>(s, w, buf);
        return buf;
    }
    if (hx == 1 && vx == 2) {
        // h1v2_fancy_upsample: 3/4 nearer row + 1/4 further row, biased 1 (upper) then 2 (lower).
        const bool lower = (y & 1) != 0;
        const int rf = lower ? std::min(r + 1, p.height - 1) : std::max(r - 1, 0);
        const uint8_t* far = p.data + size_t(rf) * size_t(p.stride);
        const int bias = lower ? 2 : 1;
        for (int c = 0; c < w; ++c) buf[c] = uint8_t((3 * near[c] + far[c] + bias) >> 2);
        return buf;
    }
    // int_upsample (and h2v1_upsample / h2v2_upsample): each sample repeated hx times; rows
    // repeat by the choice of r above.
    if (hx == 1) return near;
    for (int c = 0, o = 0; c < w && o < width; ++c)
        for (int k = 0; k < hx; ++k) buf[o++] = near[c];
    return buf;
}

// ---- YCbCr -> RGB (libjpeg-turbo jdcolor.c build_ycc_rgb_table + ycc_rgb_convert) -------------
// SCALEBITS 16 fixed point: R = Y + round(1.402 (Cr-128)), B = Y + round(1.772 (Cb-128)),
// G = Y + ((-0.34414 (Cb-128) - 0.71414 (Cr-128) + 1/2) >> 16), each clamped to 0..255 (the
// range_limit table). The FIX() constants are libjpeg's, rounded as it rounds them.
namespace {

struct YccTables {
    int cr_r[256], cb_b[256], cr_g[256], cb_g[256];
    YccTables() {
        constexpr int kScale = 16, kHalf = 1 << (kScale - 1);
        constexpr int kCrR = 91881, kCbB = 116130, kCrG = 46802, kCbG = 22554;  // FIX(1.40200) ...
        for (int i = 0; i < 256; ++i) {
            const int x = i - 128;
            cr_r[i] = (kCrR * x + kHalf) >> kScale;
            cb_b[i] = (kCbB * x + kHalf) >> kScale;
            cr_g[i] = -kCrG * x;
            cb_g[i] = -kCbG * x + kHalf;
        }
    }
};

inline uint8_t clamp255(int v) { return uint8_t(v < 0 ? 0 : v > 255 ? 255 : v); }

}  // namespace

void ycc_to_rgb(const uint8_t* y, const uint8_t* cb, const uint8_t* cr, int count, uint8_t* rgb) {
    static const YccTables t;
    int i = 0;
#if defined(__SSE2__)
    // The same sums in 16/32-bit lanes: with x = Cr-128 or Cb-128, FIX(1.402) x = 65536 x +
    // 26345 x, FIX(1.772) x = 131072 x - 14942 x and -FIX(0.71414) x = -65536 x + 18734 x, so
    // the whole multiples of 65536 leave the >> 16 exactly and the rest is one pmaddwd with the
    // ONE_HALF rounding term as its second product.
    const __m128i zero = _mm_setzero_si128(), c128 = _mm_set1_epi16(128);
    const __m128i k_r = _mm_set_epi16(-32768, 26345, -32768, 26345, -32768, 26345, -32768, 26345);
    const __m128i k_b = _mm_set_epi16(-32768, -14942, -32768, -14942, -32768, -14942, -32768, -14942);
    const __m128i k_g = _mm_set_epi16(18734, -22554, 18734, -22554, 18734, -22554, 18734, -22554);
    const __m128i minus_one = _mm_set1_epi16(-1), half = _mm_set1_epi32(32768);
    alignas(16) uint8_t r8[16], g8[16], b8[16];
    for (; i + 16 <= count; i += 16) {
        const __m128i yv = _mm_loadu_si128(reinterpret_cast<const __m128i*>(y + i));
        const __m128i cbv = _mm_loadu_si128(reinterpret_cast<const __m128i*>(cb + i));
        const __m128i crv = _mm_loadu_si128(reinterpret_cast<const __m128i*>(cr + i));
        __m128i out_r[2], out_g[2], out_b[2];
        for (int h = 0; h < 2; ++h) {
            const __m128i yy = h ? _mm_unpackhi_epi8(yv, zero) : _mm_unpacklo_epi8(yv, zero);
            const __m128i xb = _mm_sub_epi16(h ? _mm_unpackhi_epi8(cbv, zero) : _mm_unpacklo_epi8(cbv, zero), c128);
            const __m128i xr = _mm_sub_epi16(h ? _mm_unpackhi_epi8(crv, zero) : _mm_unpacklo_epi8(crv, zero), c128);
            // (x, -1) pairs times (k, -32768): k x + 32768 (ONE_HALF)
            const __m128i r_lo = _mm_srai_epi32(_mm_madd_epi16(_mm_unpacklo_epi16(xr, minus_one), k_r), 16);
            const __m128i r_hi = _mm_srai_epi32(_mm_madd_epi16(_mm_unpackhi_epi16(xr, minus_one), k_r), 16);
            const __m128i b_lo = _mm_srai_epi32(_mm_madd_epi16(_mm_unpacklo_epi16(xb, minus_one), k_b), 16);
            const __m128i b_hi = _mm_srai_epi32(_mm_madd_epi16(_mm_unpackhi_epi16(xb, minus_one), k_b), 16);
            const __m128i g_lo = _mm_srai_epi32(_mm_add_epi32(_mm_madd_epi16(_mm_unpacklo_epi16(xb, xr), k_g), half), 16);
            const __m128i g_hi = _mm_srai_epi32(_mm_add_epi32(_mm_madd_epi16(_mm_unpackhi_epi16(xb, xr), k_g), half), 16);
            out_r[h] = _mm_add_epi16(_mm_add_epi16(yy, xr), _mm_packs_epi32(r_lo, r_hi));
            out_b[h] = _mm_add_epi16(_mm_add_epi16(yy, _mm_add_epi16(xb, xb)), _mm_packs_epi32(b_lo, b_hi));
            out_g[h] = _mm_add_epi16(_mm_sub_epi16(yy, xr), _mm_packs_epi32(g_lo, g_hi));
        }
        _mm_store_si128(reinterpret_cast<__m128i*>(r8), _mm_packus_epi16(out_r[0], out_r[1]));
        _mm_store_si128(reinterpret_cast<__m128i*>(g8), _mm_packus_epi16(out_g[0], out_g[1]));
        _mm_store_si128(reinterpret_cast<__m128i*>(b8), _mm_packus_epi16(out_b[0], out_b[1]));
        uint8_t* o = rgb + 3 * i;
        for (int k = 0; k < 16; ++k) {
            o[3 * k] = r8[k];
            o[3 * k + 1] = g8[k];
            o[3 * k + 2] = b8[k];
        }
    }
#endif
    for (; i < count; ++i) {
        const int yy = y[i], b = cb[i], r = cr[i];
        rgb[3 * i] = clamp255(yy + t.cr_r[r]);
        rgb[3 * i + 1] = clamp255(yy + ((t.cb_g[b] + t.cr_g[r]) >> 16));
        rgb[3 * i + 2] = clamp255(yy + t.cb_b[b]);
    }
}

}  // namespace jpeg_exact
}  // namespace pomt
