// The header of a binary PNM image (P5 grey, P6 RGB), read exactly the way the vendored
// stb_image 2.27 reads it (stbi__pnm_info), so pomt's checks and stb agree on the numbers and on
// where the samples start.
#pragma once
#include <cstddef>
#include <cstdint>

namespace pomt {

struct PnmHeader {
    int channels = 0;                         // 1 (P5) or 3 (P6)
    int64_t width = 0, height = 0, maxval = 0;
    size_t raster = 0;                        // offset of the first sample
    bool too_large = false;                   // a number stb's int parser would overflow on (UB)
};

// False when the bytes do not start with "P5" or "P6". Numbers stop at the first value that would
// exceed INT_MAX (too_large is then set and the other fields are meaningless).
bool parse_pnm_header(const unsigned char* bytes, size_t size, PnmHeader* header);

}  // namespace pomt
