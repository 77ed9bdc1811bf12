// The one translation unit that compiles stb_image (v2.27, vendored unmodified in third_party/stb).
// Only the formats pomt documents are compiled in (less code that parses untrusted bytes), and
// only the from-memory API: image/image.cpp reads files itself so that missing files and directories
// get pomt's own messages.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_ONLY_TGA
#define STBI_ONLY_GIF
#define STBI_ONLY_PNM
#define STBI_NO_STDIO
#define STBI_NO_LINEAR

// stb 2.27 is quiet at -Wall -Wextra with GCC 12 and Clang 14; these guard other compiler versions
// (third-party code we do not edit).
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wshadow"
#endif

#include "stb/stb_image.h"

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

// ---- pomt's Pillow-exact JPEG path (image/jpeg_exact.h) ----------------------------------------
// Here because it drives stb's internal JPEG decoder (static functions of this translation unit):
// stbi__decode_jpeg_image parses the markers and entropy-decodes every scan, with pomt's IDCT in
// the stbi__jpeg::idct_block_kernel slot that stbi__setup_jpeg fills; what stb's load_jpeg_image
// would do next (its own upsampling and YCbCr conversion) is replaced by libjpeg's stages.
#include <algorithm>
#include <climits>
#include <vector>

#include "image/jpeg_exact.h"

namespace {

void pomt_idct_kernel(stbi_uc* out, int out_stride, short data[64]) {
    pomt::jpeg_exact::idct_islow(data, out, out_stride);
}

// libjpeg's default_decompress_parms (jdapimin.c): which 3-component files are RGB, not YCbCr.
// A JFIF marker means YCbCr; else an Adobe marker's transform (0 = RGB); else component ids
// 'R' 'G' 'B'. (stb's own rule lets the ids win over JFIF.)
bool libjpeg_is_rgb(const stbi__jpeg& j) {
    if (j.jfif) return false;
    if (j.app14_color_transform >= 0) return j.app14_color_transform == 0;
    return j.img_comp[0].id == 'R' && j.img_comp[1].id == 'G' && j.img_comp[2].id == 'B';
}

struct JpegState {
    stbi__context s;
    stbi__jpeg* j = nullptr;
    ~JpegState() {
        if (!j) return;
        stbi__cleanup_jpeg(j);
        STBI_FREE(j);
    }
};

}  // namespace

namespace pomt {

JpegExactStatus decode_jpeg_exact(const unsigned char* bytes, size_t size, Image* out, std::string* reason) {
    if (size > size_t(INT_MAX)) {
        *reason = "file larger than 2 GiB";
        return JpegExactStatus::failed;
    }
    JpegState st;
    stbi__start_mem(&st.s, bytes, int(size));
    st.j = static_cast<stbi__jpeg*>(stbi__malloc(sizeof(stbi__jpeg)));
    if (!st.j) {
        *reason = "out of memory";
        return JpegExactStatus::failed;
    }
    stbi__jpeg& j = *st.j;
    j.s = &st.s;
    stbi__setup_jpeg(&j);
    j.idct_block_kernel = pomt_idct_kernel;
    st.s.img_n = 0;  // stbi__cleanup_jpeg frees img_n components
    if (!stbi__decode_jpeg_image(&j)) {
        const char* r = stbi_failure_reason();
        *reason = r ? r : "corrupt JPEG";
        return JpegExactStatus::failed;
    }
    const int n = st.s.img_n;
    if (n != 1 && n != 3) return JpegExactStatus::not_handled;
    const int width = int(st.s.img_x), height = int(st.s.img_y);
    jpeg_exact::Plane planes[3];
    size_t scratch = 0;
    for (int k = 0; k < n; ++k) {
        const auto& c = j.img_comp[k];
        if (!jpeg_exact::sampling_supported(c.h, c.v, j.img_h_max, j.img_v_max)) {
            *reason = "fractional sampling factors (libjpeg and Pillow refuse them)";
            return JpegExactStatus::failed;
        }
        planes[k].data = c.data;
        planes[k].stride = c.w2;
        planes[k].width = c.x;
        planes[k].height = c.y;
        planes[k].h = c.h;
        planes[k].v = c.v;
        scratch = std::max(scratch, size_t(j.img_h_max / c.h) * size_t(c.x));
    }
    Image img;
    img.width = width;
    img.height = height;
    img.rgb.resize(size_t(width) * size_t(height) * 3);
    scratch += 16;
    std::vector<uint8_t> buf(3 * scratch);
    std::vector<int16_t> sums(scratch + 2);
    uint8_t* bufs[3] = {buf.data(), buf.data() + scratch, buf.data() + 2 * scratch};
    const bool rgb = n == 3 && libjpeg_is_rgb(j);
    for (int y = 0; y < height; ++y) {
        uint8_t* o = img.row(y);
        if (n == 1) {
            const uint8_t* g = jpeg_exact::upsampled_row(planes[0], j.img_h_max, j.img_v_max, y, width, bufs[0], sums.data());
            for (int x = 0; x < width; ++x) o[3 * x] = o[3 * x + 1] = o[3 * x + 2] = g[x];
            continue;
        }
        const uint8_t* row[3];
        for (int k = 0; k < 3; ++k)
            row[k] = jpeg_exact::upsampled_row(planes[k], j.img_h_max, j.img_v_max, y, width, bufs[k], sums.data());
        if (rgb) {
            for (int x = 0; x < width; ++x) {
                o[3 * x] = row[0][x];
                o[3 * x + 1] = row[1][x];
                o[3 * x + 2] = row[2][x];
            }
        } else {
            jpeg_exact::ycc_to_rgb(row[0], row[1], row[2], width, o);
        }
    }
    *out = std::move(img);
    return JpegExactStatus::decoded;
}

}  // namespace pomt
