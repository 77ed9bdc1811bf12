// Optional JPEG decoding through the system libjpeg(-turbo) (`make JPEG=libjpeg`,
// `cmake -DPOMT_JPEG=libjpeg`): PIL decodes JPEG with libjpeg-turbo, so this path gives PIL's
// pixels exactly, where stb_image's own IDCT and upsampling differ by up to 3 levels. Token
// merging (ToMe) turns such tiny input differences into different merges on ~2 % of ImageNet
// images (docs/RESULTS.md); the default build stays dependency-free with stb_image.
#pragma once
#include <cstddef>
#include <string>

#include "image/image.h"

namespace pomt {

// True when this build decodes JPEG with libjpeg.
bool libjpeg_available();

// Decodes a baseline or progressive JPEG to RGB as PIL's Image.open(...).convert('RGB') does.
// Returns false (and leaves `out` alone) for colour spaces it leaves to stb_image (CMYK, YCCK);
// throws pomt::Error naming `name` for a corrupt file.
bool decode_jpeg_libjpeg(const unsigned char* bytes, size_t size, const std::string& name, Image* out);

}  // namespace pomt
