// JPEG decoding with Pillow's pixels and no dependency: stb_image's marker parsing and entropy
// decoding (huffman, progressive refinement, restart intervals), followed by pomt's own versions
// of the pixel stages that libjpeg-turbo (what Pillow decodes with) computes differently from stb:
// the accurate integer IDCT (jpeg_idct_islow), chroma upsampling ("fancy" triangle filters
// h2v1 / h2v2 / h1v2, box replication otherwise, edge rows and columns replicated) and the
// YCbCr → RGB conversion (fixed-point tables of jdcolor.c). Pillow's defaults: JDCT_ISLOW,
// do_fancy_upsampling = TRUE (so never the merged upsampler), out_color_space = JCS_RGB.
// Verified byte for byte against libjpeg-turbo by tests/test_image_jpeg_exact.cpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "image/image.h"

namespace pomt {

enum class JpegExactStatus {
    decoded,      // *out holds the RGB pixels
    failed,       // corrupt file; *reason holds stb's reason (one line)
    not_handled,  // 4-component (CMYK / YCCK) file: left to stb_image's own conversion
};

// Decodes a JPEG with stb's entropy decoding and libjpeg-turbo's pixel stages (above). Defined in
// image/stb_image_impl.cpp, the translation unit that compiles stb_image. Used by decode_image in
// the default build; the libjpeg build keeps it so that tests compare it with libjpeg.
JpegExactStatus decode_jpeg_exact(const unsigned char* bytes, size_t size, Image* out, std::string* reason);

namespace jpeg_exact {

// libjpeg-turbo's jpeg_idct_islow on an already dequantised block (coefficients in natural order,
// as stb keeps them): 8×8 samples written to out[y * stride + x]. Arithmetic as libjpeg-turbo's
// SIMD version does it (16-bit pass-1 results, saturated), which equals its C version on every
// block a real encoder can produce. SSE2 on x86-64, the same arithmetic in scalar code elsewhere.
void idct_islow(const int16_t coef[64], uint8_t* out, int stride);
void idct_islow_scalar(const int16_t coef[64], uint8_t* out, int stride);  // for tests

// One component plane as stb leaves it after the IDCT: `width` × `height` samples are the
// component's own (libjpeg's downsampled_width / downsampled_height), rows `stride` apart.
struct Plane {
    const uint8_t* data = nullptr;
    int stride = 0, width = 0, height = 0;
    int h = 1, v = 1;  // sampling factors of this component
};

// Sample row `y` of the component upsampled to the full image width `width` (max_h / h and
// max_v / v must be integers; check with sampling_supported). Returns a pointer to the row: into
// the plane itself when no upsampling is needed, else into `buf` (at least
// (max_h / plane.h) * plane.width + 16 bytes); `sums` is scratch of plane.width + 2 values.
const uint8_t* upsampled_row(const Plane& plane, int max_h, int max_v, int y, int width, uint8_t* buf,
                             int16_t* sums);

// libjpeg refuses sampling factors whose ratio to the largest is not an integer ("Fractional
// sampling not implemented yet"); Pillow then fails, and so does pomt.
bool sampling_supported(int h, int v, int max_h, int max_v);

// jdcolor.c ycc_rgb_convert: `count` pixels of Y, Cb, Cr rows to interleaved RGB.
void ycc_to_rgb(const uint8_t* y, const uint8_t* cb, const uint8_t* cr, int count, uint8_t* rgb);

}  // namespace jpeg_exact
}  // namespace pomt
