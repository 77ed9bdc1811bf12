#include "image/png_writer.h"

#include "pomt/error.h"

// The one translation unit that compiles stb_image_write; only its PNG writer to memory is used.
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#define STBI_WRITE_NO_STDIO
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif
#include "stb/stb_image_write.h"
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace pomt {

std::vector<uint8_t> encode_png(const uint8_t* rgb, int width, int height) {
    // stb_image_write computes sizes in int: keep every buffer well inside it.
    if (!rgb || width <= 0 || height <= 0 || int64_t(width) * height > (int64_t(1) << 26))
        fail("PNG: cannot encode a " + std::to_string(width) + "x" + std::to_string(height) + " image");
    std::vector<uint8_t> png;
    auto append = [](void* context, void* data, int size) {
        auto* out = static_cast<std::vector<uint8_t>*>(context);
        const uint8_t* bytes = static_cast<const uint8_t*>(data);
        out->insert(out->end(), bytes, bytes + size);
    };
    if (!stbi_write_png_to_func(append, &png, width, height, 3, rgb, width * 3) || png.empty())
        fail("PNG: encoding failed (out of memory)");
    return png;
}

}  // namespace pomt
