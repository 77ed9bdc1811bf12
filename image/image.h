// Image decoding through the vendored stb_image: JPEG (baseline, progressive), PNG, BMP, TGA, GIF
// (first frame) and PNM, always returned as 8-bit interleaved RGB, converted the way PIL's
// Image.convert('RGB') converts (grey replicated, alpha dropped, not composited), because timm's
// reference pipeline is PIL.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pomt {

struct ImageLimits {
    // Refused before any pixel memory is allocated (3 bytes per pixel, plus stb's own buffers).
    uint64_t max_pixels = 100000000;  // 100 megapixels
};

struct Image {
    int width = 0, height = 0;
    std::vector<uint8_t> rgb;  // height × width × 3, row-major, R G B

    const uint8_t* row(int y) const { return rgb.data() + size_t(y) * size_t(width) * 3; }
    uint8_t* row(int y) { return rgb.data() + size_t(y) * size_t(width) * 3; }
};

// Header facts read without decoding: what the pixel limit is checked against.
struct ImageInfo {
    int width = 0, height = 0;
    int channels = 0;        // as stored: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA
    bool is_16bit = false;   // 16 bits per channel (PNG, PNM)
    std::string format;      // "jpeg", "png", "bmp", "gif", "tga", "pnm" or "" when unknown
};

// Reads the header of an in-memory image; throws pomt::Error naming `name` when it is not a
// supported image or declares an empty (0-pixel) size.
ImageInfo probe_image(const unsigned char* bytes, size_t size, const std::string& name);

// Decodes an in-memory image. `name` only appears in error messages. Errors (pomt::Error, one line,
// naming `name`): not an image, truncated, 0×0, larger than limits.max_pixels, or stb's reason.
Image decode_image(const unsigned char* bytes, size_t size, const std::string& name,
                   const ImageLimits& limits = ImageLimits());

// Reads and decodes a file; a missing file or a directory is a pomt::Error naming the path.
Image load_image(const std::string& path, const ImageLimits& limits = ImageLimits());

}  // namespace pomt
