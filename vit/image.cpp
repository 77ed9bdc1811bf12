#include "vit/image.h"
#include "vit/jpeg_libjpeg.h"

#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "stb/stb_image.h"
#include "vit/error.h"
#include "vit/file_util.h"

// Decoder fidelity vs PIL (what timm uses): PNG, BMP, TGA, PNM and GIF are lossless, so the RGB
// bytes are PIL's. JPEG is lossy and stb_image has its own integer IDCT, chroma upsampling and
// YCbCr conversion, which round differently from libjpeg-turbo (PIL). Measured against Pillow 13 on
// the 1300 ImageNet JPEGs of ../shared (227x227, 4:2:0): max 3 levels, mean 0.06, 4.7% of values
// differ. After timm's eval transform (ViT-Tiny reference input, mean = std = 0.5) the tensor
// differs by at most 0.031 (4 levels), mean 6.2e-4; from PIL-decoded pixels it is bit-identical.

namespace pomt {
namespace {

[[noreturn]] void image_fail(const std::string& name, const std::string& problem) {
    fail("image '" + name + "': " + problem);
}

bool starts_with(const unsigned char* p, size_t n, const char* sig, size_t len) {
    return n >= len && std::memcmp(p, sig, len) == 0;
}

std::string detect_format(const unsigned char* p, size_t n) {
    if (starts_with(p, n, "\xFF\xD8\xFF", 3)) return "jpeg";
    if (starts_with(p, n, "\x89PNG\r\n\x1A\n", 8)) return "png";
    if (starts_with(p, n, "BM", 2)) return "bmp";
    if (starts_with(p, n, "GIF8", 4)) return "gif";
    if (n >= 2 && p[0] == 'P' && (p[1] == '5' || p[1] == '6')) return "pnm";
    return "";  // TGA has no signature; stb recognises it by plausibility checks
}

uint32_t be32(const unsigned char* p) {
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
uint32_t le32(const unsigned char* p) {
    return uint32_t(p[3]) << 24 | uint32_t(p[2]) << 16 | uint32_t(p[1]) << 8 | p[0];
}

// stb_image reads zeros past the end of its buffer instead of failing, so a cut-off JPEG, BMP or
// PNM would "decode" with a grey or black band where PIL raises "image file is truncated". These
// walkers only answer "does the file end before its structure says it should"; any other damage is
// left to stb, which reports it.

// JPEG: walk the marker segments and the entropy-coded scans up to the EOI marker. Stricter than
// libjpeg in one case: a file whose scan data is complete but lacks EOI is reported as truncated.
bool jpeg_truncated(const unsigned char* p, size_t n) {
    size_t i = 2;  // after SOI
    for (;;) {
        if (i >= n) return true;
        if (p[i] != 0xFF) return false;  // not at a marker: corrupt, not truncated; stb will say
        while (i < n && p[i] == 0xFF) ++i;  // fill bytes
        if (i >= n) return true;
        unsigned marker = p[i++];
        if (marker == 0xD9) return false;                                   // EOI
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;  // no length field
        if (i + 2 > n) return true;
        size_t len = size_t(p[i]) << 8 | p[i + 1];
        if (len < 2) return false;
        if (len > n - i) return true;
        i += len;
        if (marker != 0xDA) continue;
        // Entropy-coded data after SOS: 0xFF is followed by a stuffed 0x00 or a restart marker;
        // anything else starts the next segment (another scan, DHT, ... or EOI).
        for (;;) {
            const void* ff = std::memchr(p + i, 0xFF, n - i);
            if (!ff) return true;
            size_t j = size_t(static_cast<const unsigned char*>(ff) - p) + 1;
            while (j < n && p[j] == 0xFF) ++j;
            if (j >= n) return true;
            if (p[j] == 0x00 || (p[j] >= 0xD0 && p[j] <= 0xD7)) {
                i = j + 1;
                continue;
            }
            i = j - 1;  // the 0xFF before the marker byte
            break;
        }
    }
}

// stb_image 2.27 trusts a Huffman table's 16 code counts: a DHT segment declaring more than 256
// codes makes it write past its tables (found by fuzz_image). Walk every segment, scans included
// (progressive files define tables between scans), and check each table before stb sees it.
bool jpeg_huffman_tables_ok(const unsigned char* p, size_t n) {
    size_t i = 2;
    while (i < n) {
        if (p[i] != 0xFF) {
            // stb skips bytes between segments until the next 0xFF, so the walk must too.
            const void* ff = std::memchr(p + i, 0xFF, n - i);
            if (!ff) return true;
            i = size_t(static_cast<const unsigned char*>(ff) - p);
        }
        while (i < n && p[i] == 0xFF) ++i;
        if (i >= n) return true;
        unsigned marker = p[i++];
        if (marker == 0xD9) return true;
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;
        if (i + 2 > n) return true;
        size_t len = size_t(p[i]) << 8 | p[i + 1];
        if (len < 2 || len > n - i) return true;  // truncation is reported elsewhere
        if (marker == 0xC4) {
            size_t at = i + 2, end = i + len;
            while (at < end) {
                if (end - at < 17) return false;
                size_t codes = 0;
                for (int k = 1; k <= 16; ++k) codes += p[at + size_t(k)];
                if (codes > 256 || codes > end - at - 17) return false;
                at += 17 + codes;
            }
        }
        i += len;
        if (marker != 0xDA) continue;
        for (;;) {  // skip entropy-coded data (see jpeg_truncated)
            const void* ff = std::memchr(p + i, 0xFF, n - i);
            if (!ff) return true;
            size_t j = size_t(static_cast<const unsigned char*>(ff) - p) + 1;
            while (j < n && p[j] == 0xFF) ++j;
            if (j >= n) return true;
            if (p[j] == 0x00 || (p[j] >= 0xD0 && p[j] <= 0xD7)) {
                i = j + 1;
                continue;
            }
            i = j - 1;
            break;
        }
    }
    return true;
}

// PNG: walk the chunks up to IEND.
bool png_truncated(const unsigned char* p, size_t n) {
    size_t i = 8;
    for (;;) {
        if (n - i < 8) return true;
        uint32_t len = be32(p + i);
        if (len > 0x7FFFFFFFu) return false;  // corrupt; stb says so
        if (std::memcmp(p + i + 4, "IEND", 4) == 0) return false;
        if (uint64_t(len) + 12 > n - i) return true;
        i += size_t(len) + 12;
    }
}

// BMP: uncompressed (BI_RGB / BI_BITFIELDS) pixel rows must all be present. The last row's padding
// is not required (some writers omit it).
bool bmp_truncated(const unsigned char* p, size_t n) {
    if (n < 34) return true;
    uint32_t offset = le32(p + 10), header = le32(p + 14);
    if (header < 40) return false;  // OS/2 headers: rare, left to stb
    int64_t w = int32_t(le32(p + 18)), h = int32_t(le32(p + 22));
    unsigned bpp = p[28] | p[29] << 8;
    uint32_t compression = le32(p + 30);
    if (compression != 0 && compression != 3) return false;
    if (w <= 0 || h == 0 || bpp == 0 || bpp > 32) return false;
    if (h < 0) h = -h;
    uint64_t row = (uint64_t(w) * bpp + 31) / 32 * 4;
    uint64_t need = uint64_t(offset) + row * uint64_t(h - 1) + (uint64_t(w) * bpp + 7) / 8;
    return need > n;
}

// Binary PNM (P5 grey, P6 RGB): header tokens, one whitespace byte, then the raster.
bool pnm_truncated(const unsigned char* p, size_t n) {
    size_t i = 2;
    uint64_t v[3] = {0, 0, 0};
    for (int t = 0; t < 3; ++t) {
        for (;;) {  // whitespace and # comments
            if (i >= n) return true;
            if (p[i] == '#') {
                while (i < n && p[i] != '\n' && p[i] != '\r') ++i;
            } else if (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r' || p[i] == '\v' ||
                       p[i] == '\f') {
                ++i;
            } else {
                break;
            }
        }
        if (p[i] < '0' || p[i] > '9') return false;
        while (i < n && p[i] >= '0' && p[i] <= '9' && v[t] < (uint64_t(1) << 40)) v[t] = v[t] * 10 + (p[i++] - '0');
    }
    ++i;  // the single whitespace byte before the raster
    uint64_t channels = p[1] == '6' ? 3 : 1, bytes = v[2] > 255 ? 2 : 1;
    if (v[0] == 0 || v[1] == 0 || v[0] > (1u << 24) || v[1] > (1u << 24)) return false;
    return i > n || v[0] * v[1] * channels * bytes > n - i;
}

// Width and height as the header declares them, for the error message when stb refuses a header
// (stb's failure reason is the last loader's, usually "unknown image type"). False when unknown.
bool header_dims(const std::string& format, const unsigned char* p, size_t n, uint64_t* w, uint64_t* h) {
    if (format == "png" && n >= 24 && std::memcmp(p + 12, "IHDR", 4) == 0) {
        *w = be32(p + 16), *h = be32(p + 20);
        return true;
    }
    if (format == "gif" && n >= 10) {
        *w = p[6] | p[7] << 8, *h = p[8] | p[9] << 8;
        return true;
    }
    if (format == "bmp" && n >= 26) {
        *w = uint64_t(std::abs(int64_t(int32_t(le32(p + 18))))), *h = uint64_t(std::abs(int64_t(int32_t(le32(p + 22)))));
        return true;
    }
    if (format == "jpeg") {  // first SOFn segment
        for (size_t i = 2; i + 4 <= n;) {
            if (p[i] != 0xFF) return false;
            unsigned m = p[i + 1];
            if (m == 0xFF) { ++i; continue; }
            size_t len = size_t(p[i + 2]) << 8 | p[i + 3];
            if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
                if (i + 9 > n) return false;
                *h = size_t(p[i + 5]) << 8 | p[i + 6];
                *w = size_t(p[i + 7]) << 8 | p[i + 8];
                return true;
            }
            if (m == 0xDA || len < 2) return false;
            i += 2 + len;
        }
    }
    return false;
}

bool truncated(const std::string& format, const unsigned char* p, size_t n) {
    if (format == "jpeg") return jpeg_truncated(p, n);
    if (format == "png") return png_truncated(p, n);
    if (format == "bmp") return bmp_truncated(p, n);
    if (format == "pnm") return pnm_truncated(p, n);
    return false;  // GIF, TGA: stb's own checks only
}

std::string stb_reason() {
    const char* r = stbi_failure_reason();
    return r ? r : "unknown error";
}

std::string upper(std::string s) {
    for (char& c : s) c = char(c >= 'a' && c <= 'z' ? c - 32 : c);
    return s;
}

struct StbFree {
    void operator()(void* p) const { stbi_image_free(p); }
};

std::string limit_message(uint64_t w, uint64_t h, const ImageLimits& limits) {
    return std::to_string(w) + "x" + std::to_string(h) + " pixels exceeds the limit of " +
           std::to_string(limits.max_pixels) + " pixels";
}

// Header check; `limits` (optional) lets a header that stb refuses still get the size message.
ImageInfo probe(const unsigned char* bytes, size_t size, const std::string& name, const ImageLimits* limits) {
    if (size == 0) image_fail(name, "empty file, not an image");
    if (size > size_t(INT_MAX)) image_fail(name, "file larger than 2 GiB, not supported");
    ImageInfo info;
    info.format = detect_format(bytes, size);
    if (info.format == "jpeg" && !jpeg_huffman_tables_ok(bytes, size))
        image_fail(name, "corrupt JPEG (Huffman table with more than 256 codes)");
    int len = int(size);
    if (!stbi_info_from_memory(bytes, len, &info.width, &info.height, &info.channels)) {
        std::string reason = stb_reason();
        // A header cut short is a truncated file (stb reads zeros past the end, so it may
        // otherwise claim "0-pixel image").
        if (!info.format.empty() && truncated(info.format, bytes, size))
            image_fail(name, "truncated " + upper(info.format) + " file");
        if (reason == "unknown image type" && info.format.empty())
            image_fail(name, "not a supported image (JPEG, PNG, BMP, GIF, TGA, PNM)");
        uint64_t w = 0, h = 0;
        const bool dims = header_dims(info.format, bytes, size, &w, &h);
        if (dims && (w == 0 || h == 0))
            image_fail(name, "empty image (" + std::to_string(w) + "x" + std::to_string(h) + " pixels)");
        if (dims && limits && w * h > limits->max_pixels) image_fail(name, limit_message(w, h, *limits));
        if (reason == "0-pixel image" || reason == "0 width" || reason == "0 height")
            image_fail(name, "empty image (0 pixels)");
        if (reason == "unknown image type")  // signature matched, header refused
            image_fail(name, "corrupt or unsupported " + upper(info.format) + " header");
        image_fail(name, "cannot read " + (info.format.empty() ? std::string("image") : upper(info.format)) +
                             " header: " + reason);
    }
    if (info.format.empty()) info.format = "tga";
    if (info.width <= 0 || info.height <= 0)
        image_fail(name, "empty image (" + std::to_string(info.width) + "x" + std::to_string(info.height) +
                             " pixels)");
    info.is_16bit = stbi_is_16_bit_from_memory(bytes, len) != 0;
    return info;
}

}  // namespace

ImageInfo probe_image(const unsigned char* bytes, size_t size, const std::string& name) {
    return probe(bytes, size, name, nullptr);
}

Image decode_image(const unsigned char* bytes, size_t size, const std::string& name, const ImageLimits& limits) {
    ImageInfo info = probe(bytes, size, name, &limits);
    // Refuse before stb allocates anything for the pixels (a 60000×60000 header is a few bytes).
    if (uint64_t(info.width) * uint64_t(info.height) > limits.max_pixels)
        image_fail(name, limit_message(uint64_t(info.width), uint64_t(info.height), limits));
    if (truncated(info.format, bytes, size)) image_fail(name, "truncated " + upper(info.format) + " file");

    Image img;
    if (info.format == "jpeg" && decode_jpeg_libjpeg(bytes, size, name, &img)) return img;  // JPEG=libjpeg builds
    const int len = int(size);
    int w = 0, h = 0, comp = 0;
    if (info.is_16bit && info.channels == 1 && (info.format == "png" || info.format == "pnm")) {
        // (16-bit PGM too: Pillow opens it as mode I and clamps the same way; and stb 2.27 would
        // otherwise run its 8-bit converter over 16-bit samples, a heap over-read.)
        // PIL opens 16-bit grey PNG as mode I;16 and convert('RGB') clamps values to 255 instead of
        // keeping the high byte (so most such images become white). Matched because timm does it.
        std::unique_ptr<stbi_us, StbFree> px(stbi_load_16_from_memory(bytes, len, &w, &h, &comp, 1));
        if (!px) image_fail(name, "cannot decode " + upper(info.format) + ": " + stb_reason());
        img.width = w;
        img.height = h;
        img.rgb.resize(size_t(w) * size_t(h) * 3);
        for (size_t i = 0, n = size_t(w) * size_t(h); i < n; ++i) {
            uint16_t s = px.get()[i];
            if (info.format == "pnm") s = uint16_t(s >> 8 | s << 8);  // stb 2.27 leaves PNM samples big-endian
            uint8_t v = s > 255 ? 255 : uint8_t(s);
            img.rgb[3 * i] = img.rgb[3 * i + 1] = img.rgb[3 * i + 2] = v;
        }
        return img;
    }
    // req_comp = 3 is PIL's convert('RGB'): grey replicated, alpha dropped (not composited);
    // 16-bit colour keeps the high byte, as PIL's RGB;16B unpacker does.
    std::unique_ptr<stbi_uc, StbFree> px(stbi_load_from_memory(bytes, len, &w, &h, &comp, 3));
    if (!px) image_fail(name, "cannot decode " + upper(info.format) + ": " + stb_reason());
    if (w != info.width || h != info.height)
        image_fail(name, "decoded size differs from the header");  // defensive; stb keeps them equal
    img.width = w;
    img.height = h;
    img.rgb.assign(px.get(), px.get() + size_t(w) * size_t(h) * 3);
    return img;
}

Image load_image(const std::string& path, const ImageLimits& limits) {
    std::vector<unsigned char> bytes = read_file_bytes(path, "image");
    return decode_image(bytes.data(), bytes.size(), path, limits);
}

}  // namespace pomt
