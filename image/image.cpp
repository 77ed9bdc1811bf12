#include "image/image.h"
#include "image/jpeg_exact.h"
#include "image/jpeg_libjpeg.h"
#include "image/jpeg_stb_check.h"
#include "image/pnm_header.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "stb/stb_image.h"
#include "pomt/error.h"
#include "core/file_util.h"

// Decoder fidelity vs PIL (what timm uses): PNG, BMP, TGA, PNM and GIF are lossless, so the RGB
// bytes are PIL's. JPEG is lossy: stb_image's own integer IDCT, chroma upsampling and YCbCr
// conversion round differently from libjpeg-turbo (PIL), by up to 3 levels. So JPEG (greyscale and
// 3-component) goes through image/jpeg_exact.h: stb's entropy decoding with libjpeg-turbo's pixel
// stages, byte-identical to Pillow (tests/test_image_jpeg_exact.cpp checks it against libjpeg on
// the 1300 ImageNet JPEGs of ../shared and on synthetic files). `make JPEG=libjpeg` decodes JPEG
// with libjpeg-turbo itself. CMYK / YCCK JPEG still uses stb's conversion (Pillow keeps such files
// as mode CMYK and converts them its own way).

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

// stb 2.27 copies an empty IDAT chunk that comes before any data with memcpy(NULL, …, 0)
// (undefined behaviour; UBSan, found by fuzz_image). An empty IDAT holds no data, so the bytes stb
// sees leave such chunks out. False (and `out` untouched) when there is none.
bool png_without_empty_idat(const unsigned char* p, size_t n, std::vector<unsigned char>* out) {
    std::vector<unsigned char> kept(p, p + std::min<size_t>(n, 8));
    bool dropped = false;
    size_t i = 8;
    while (i <= n && n - i >= 12) {
        const uint64_t chunk = uint64_t(be32(p + i)) + 12;
        const bool empty_idat = be32(p + i) == 0 && std::memcmp(p + i + 4, "IDAT", 4) == 0;
        if (chunk > n - i || std::memcmp(p + i + 4, "IEND", 4) == 0) break;  // the rest as it is
        if (empty_idat) dropped = true;
        else kept.insert(kept.end(), p + i, p + i + chunk);
        i += size_t(chunk);
    }
    if (!dropped) return false;
    kept.insert(kept.end(), p + i, p + n);
    out->swap(kept);
    return true;
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

// Binary PNM (P5 grey, P6 RGB): the raster after the header, 1 or 2 bytes per sample.
bool pnm_truncated(const unsigned char* p, size_t n) {
    PnmHeader h;
    if (!parse_pnm_header(p, n, &h) || h.too_large) return false;
    if (h.width <= 0 || h.height <= 0 || h.width > (1 << 24) || h.height > (1 << 24)) return false;
    const uint64_t bytes = uint64_t(h.width) * uint64_t(h.height) * uint64_t(h.channels) * (h.maxval > 255 ? 2 : 1);
    return h.raster > n || bytes > n - h.raster;
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
    // Before any stb call, and whatever detect_format says: stb also takes "FF FF D8 ..." for a JPEG.
    if (!stb_jpeg_huffman_tables_ok(bytes, size))
        image_fail(name, "corrupt JPEG (Huffman table with more than 256 codes)");
    // stb 2.27 parses PNM header numbers into an int without an overflow check (undefined behaviour).
    PnmHeader pnm;
    if (parse_pnm_header(bytes, size, &pnm) && pnm.too_large)
        image_fail(name, "corrupt PNM header (a number larger than " + std::to_string(INT_MAX) + ")");
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

// PNM as Pillow decodes it (PpmImagePlugin): samples are scaled by round(v / maxval · 255), half to
// even, capped at 255 — except 8-bit maxval 255, read as is, and grey with maxval > 255, which is
// mode I (scaled to 0..65535) and then clamped to 255 by convert('RGB'). stb returns the raw samples
// (16-bit ones in file byte order, 2.27 does not swap) with the file's channel count, so no stb
// channel conversion runs (its 16-bit grey one over-reads, F1).
Image decode_pnm(const unsigned char* bytes, size_t size, const std::string& name) {
    PnmHeader hdr;
    parse_pnm_header(bytes, size, &hdr);  // probe() has accepted it
    if (hdr.maxval < 1 || hdr.maxval > 65535)
        image_fail(name, "PNM maxval " + std::to_string(hdr.maxval) + " is outside 1..65535");
    const bool wide = hdr.maxval > 255;
    const int out_max = wide && hdr.channels == 1 ? 65535 : 255;
    std::vector<uint8_t> level(wide ? 65536 : 256);
    for (size_t v = 0; v < level.size(); ++v) {
        const double scaled = std::min(double(out_max), std::nearbyint(double(v) / double(hdr.maxval) * out_max));
        level[v] = uint8_t(std::min(scaled, 255.0));
    }
    int w = 0, h = 0, comp = 0;
    std::unique_ptr<void, StbFree> px(
        wide ? static_cast<void*>(stbi_load_16_from_memory(bytes, int(size), &w, &h, &comp, hdr.channels))
             : static_cast<void*>(stbi_load_from_memory(bytes, int(size), &w, &h, &comp, hdr.channels)));
    if (!px) image_fail(name, "cannot decode PNM: " + stb_reason());
    const unsigned char* raw = static_cast<const unsigned char*>(px.get());
    Image img;
    img.width = w;
    img.height = h;
    img.rgb.resize(size_t(w) * size_t(h) * 3);
    const size_t samples = size_t(w) * size_t(h) * size_t(hdr.channels);
    for (size_t i = 0; i < samples; ++i) {
        const unsigned v = wide ? unsigned(raw[2 * i]) << 8 | raw[2 * i + 1] : raw[i];  // big-endian
        if (hdr.channels == 3) img.rgb[i] = level[v];
        else img.rgb[3 * i] = img.rgb[3 * i + 1] = img.rgb[3 * i + 2] = level[v];
    }
    return img;
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
    if (info.format == "jpeg" && !libjpeg_available()) {
        std::string reason;
        switch (decode_jpeg_exact(bytes, size, &img, &reason)) {
            case JpegExactStatus::decoded: return img;
            case JpegExactStatus::failed: image_fail(name, "cannot decode JPEG: " + reason);
            case JpegExactStatus::not_handled: break;  // CMYK / YCCK: stb's conversion below
        }
    }
    if (info.format == "pnm") return decode_pnm(bytes, size, name);
    std::vector<unsigned char> png_copy;
    if (info.format == "png" && png_without_empty_idat(bytes, size, &png_copy)) {
        bytes = png_copy.data();
        size = png_copy.size();
    }
    const int len = int(size);
    int w = 0, h = 0, comp = 0;
    if (info.is_16bit && info.channels == 1 && info.format == "png") {
        // PIL opens 16-bit grey PNG as mode I;16 and convert('RGB') clamps values to 255 instead of
        // keeping the high byte (so most such images become white). Matched because timm does it.
        std::unique_ptr<stbi_us, StbFree> px(stbi_load_16_from_memory(bytes, len, &w, &h, &comp, 1));
        if (!px) image_fail(name, "cannot decode PNG: " + stb_reason());
        img.width = w;
        img.height = h;
        img.rgb.resize(size_t(w) * size_t(h) * 3);
        for (size_t i = 0, n = size_t(w) * size_t(h); i < n; ++i) {
            uint16_t s = px.get()[i];
            uint8_t v = s > 255 ? 255 : uint8_t(s);
            img.rgb[3 * i] = img.rgb[3 * i + 1] = img.rgb[3 * i + 2] = v;
        }
        return img;
    }
    // req_comp = 3 is PIL's convert('RGB'): grey replicated, alpha dropped (not composited);
    // 16-bit colour PNG keeps the high byte, as PIL's RGB;16B unpacker does.
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
