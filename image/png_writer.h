// PNG encoding of 8-bit RGB pictures (`pomt classify --show-tokens`), through the vendored
// stb_image_write (v1.16, unmodified, third_party/stb): deflate-compressed with per-row filters, so
// a 224 × 224 picture is tens of kilobytes rather than the 150 KB stored blocks would take.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace pomt {

// The PNG file of an RGB image (height × width × 3 bytes, row-major). Throws pomt::Error for an
// empty or oversized image.
std::vector<uint8_t> encode_png(const uint8_t* rgb, int width, int height);

}  // namespace pomt
