// The default build's JPEG decoder (image/jpeg_exact.h: stb's entropy decoding + libjpeg-turbo's
// IDCT, upsampling and colour conversion) must give Pillow's pixels byte for byte. In a
// `make JPEG=libjpeg` build libjpeg-turbo (what Pillow decodes with, same settings) is the oracle:
// every JPEG of ../shared/data/imagenet-val-1300 and synthetic files written at test time by
// libjpeg's compressor (baseline / progressive, 4:4:4, 4:2:2, 4:2:0, 4:4:0, 4:1:1, greyscale, RGB,
// restart intervals, odd sizes down to 1×1, qualities that make the IDCT clamp).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "image/image.h"
#include "image/jpeg_exact.h"
#include "image/jpeg_libjpeg.h"

#ifdef POMT_USE_LIBJPEG
#include <jpeglib.h>
#endif

using namespace pomt;

namespace {

uint32_t next_random(uint32_t& s) {
    s = s * 1664525u + 1013904223u;
    return s >> 8;
}

Image decode_exact(const std::string& bytes) {
    Image img;
    std::string reason;
    const JpegExactStatus st =
        decode_jpeg_exact(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), &img, &reason);
    REQUIRE_MESSAGE(st == JpegExactStatus::decoded, reason);
    return img;
}

}  // namespace

TEST_CASE("image: JPEG IDCT, SSE2 and scalar code agree on random and extreme blocks") {
#if !defined(__SSE2__)
    // idct_islow is idct_islow_scalar here: there is no second implementation to compare.
    pomt_test::skip_test("this build has no SSE2 IDCT (idct_islow is the scalar code)");
    return;
#endif
    uint32_t seed = 12345;
    for (int trial = 0; trial < 20000; ++trial) {
        int16_t coef[64];
        const int kind = trial % 4;
        for (int k = 0; k < 64; ++k) {
            const uint32_t r = next_random(seed);
            if (kind == 0) coef[k] = int16_t(int(r % 2048) - 1024);                       // realistic range
            else if (kind == 1) coef[k] = k < 10 ? int16_t(int(r % 4096) - 2048) : 0;    // low frequencies
            else if (kind == 2) coef[k] = int16_t(r & 0xFFFF);                            // anything
            else coef[k] = (r & 1) ? int16_t(32767) : int16_t(-32768);                    // extremes
        }
        uint8_t a[8 * 9], b[8 * 9];
        jpeg_exact::idct_islow(coef, a, 9);
        jpeg_exact::idct_islow_scalar(coef, b, 9);
        for (int y = 0; y < 8; ++y)
            for (int x = 0; x < 8; ++x)
                if (a[y * 9 + x] != b[y * 9 + x]) {
                    FAIL("trial " << trial << " differs at " << x << "," << y);
                }
    }
}

TEST_CASE("image: JPEG colour conversion equals libjpeg's fixed-point formula for every Y, Cb, Cr") {
    // jdcolor.c: SCALEBITS 16, ONE_HALF rounding, FIX(1.40200) = 91881, FIX(1.77200) = 116130,
    // FIX(0.71414) = 46802, FIX(0.34414) = 22554; every (Y, Cb, Cr), through the vector code
    // (rows of 256) and the scalar tail (a row of 7).
    std::vector<uint8_t> y(256), cb(256), cr(256), rgb(256 * 3);
    auto clamp = [](int v) { return v < 0 ? 0 : v > 255 ? 255 : v; };
    int bad = 0;
    for (int b = 0; b < 256; ++b)
        for (int r = 0; r < 256; ++r) {
            for (int i = 0; i < 256; ++i) y[i] = uint8_t(i), cb[i] = uint8_t(b), cr[i] = uint8_t(r);
            const int count = (b + r) % 2 ? 256 : 7;
            jpeg_exact::ycc_to_rgb(y.data(), cb.data(), cr.data(), count, rgb.data());
            for (int i = 0; i < count; ++i) {
                const int xb = b - 128, xr = r - 128;
                const int want[3] = {clamp(i + ((91881 * xr + 32768) >> 16)),
                                     clamp(i + ((-22554 * xb - 46802 * xr + 32768) >> 16)),
                                     clamp(i + ((116130 * xb + 32768) >> 16))};
                for (int c = 0; c < 3; ++c) bad += rgb[3 * i + c] != want[c];
            }
        }
    CHECK(bad == 0);
}

// ---- stb 2.27's known JPEG CVEs on this path (docs/RELIABILITY.md) ----------------------------
// The inputs are fuzz/regressions/image/*.bin (4 fuzz control bytes, then the JPEG); fuzz_image
// replays them with every UBSan check fatal.

namespace {

std::string regression_jpeg(const std::string& name) {
    const std::string bytes = pomt_test::read_bytes("fuzz/regressions/image/" + name);
    REQUIRE(bytes.size() > 4);
    return bytes.substr(4);
}

Image decode_any(const std::string& bytes, const std::string& name) {
    return decode_image(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), name);
}

}  // namespace

TEST_CASE("image: CVE-2022-28041, a progressive DC scan whose prediction times 2^Al overflows, decodes cleanly") {
    // 32×32 grey, progressive; the DC-first scan has Al = 13 and sixteen DC differences of +32767:
    // stb 2.27 computed dc * (1 << 13) in an int (signed overflow from the 9th block on).
    const std::string j = regression_jpeg("jpeg_cve_2022_28041_prog_dc_overflow.bin");
    const Image exact = decode_exact(j);
    CHECK(exact.width == 32);
    CHECK(exact.height == 32);
    const Image img = decode_any(j, "cve-2022-28041.jpg");
    CHECK(img.rgb.size() == size_t(32 * 32 * 3));
}

TEST_CASE("image: a baseline DC times a 16-bit quantiser past INT_MAX decodes cleanly (stb issue 1533)") {
    // 32×8 grey, 16-bit DQT of 65535, DC differences of +32767: stb 2.27's dc * dequant[0] overflowed.
    const std::string j = regression_jpeg("jpeg_dc_times_dequant_overflow.bin");
    const Image exact = decode_exact(j);
    CHECK(exact.width == 32);
    CHECK(exact.height == 8);
    // (libjpeg-turbo 2.1.5 gives mid-grey for this file; it is corrupt, so only a clean decode is
    // required.)
}

TEST_CASE("image: a JPEG whose DC prediction passes INT_MAX is refused with one line") {
    // 2048×2056 grey baseline (65792 blocks), every DC difference +32767 (category 15): the running
    // prediction passes INT_MAX at block 65538. stb 2.27 overflowed; pomt's stb says "bad delta"
    // (libjpeg-turbo 2.1.5 decodes it; builds with JPEG=libjpeg use that).
    std::string j("\xFF\xD8", 2);
    j += std::string("\xFF\xDB\x00\x43\x00", 5) + std::string(64, '\x01');
    j += std::string("\xFF\xC0\x00\x0B\x08\x08\x08\x08\x00\x01\x01\x11\x00", 13);   // 2056 high, 2048 wide
    j += std::string("\xFF\xC4\x00\x14\x00\x01", 6) + std::string(15, '\0') + std::string("\x0F", 1);  // DC: "0" = 15
    j += std::string("\xFF\xC4\x00\x14\x10\x01", 6) + std::string(15, '\0') + std::string("\x00", 1);  // AC: "0" = EOB
    j += std::string("\xFF\xDA\x00\x08\x01\x01\x00\x00\x3F\x00", 10);
    std::string bits;
    for (int b = 0; b < 2048 / 8 * 2056 / 8; ++b) bits += "0111111111111111" "0";
    bits.append((8 - bits.size() % 8) % 8, '1');
    for (size_t i = 0; i < bits.size(); i += 8) {
        const char byte = char(std::stoi(bits.substr(i, 8), nullptr, 2));
        j += byte;
        if (byte == '\xFF') j += '\0';
    }
    j += "\xFF\xD9";
    Image img;
    std::string reason;
    CHECK(decode_jpeg_exact(reinterpret_cast<const unsigned char*>(j.data()), j.size(), &img, &reason) ==
          JpegExactStatus::failed);
    CHECK(reason == "bad delta");
    if (!libjpeg_available())
        pomt_test::expect_error([&] { decode_any(j, "dc-overflow.jpg"); }, "image 'dc-overflow.jpg': cannot decode JPEG: bad delta");
}

TEST_CASE("image: CVE-2022-28042, a progressive JPEG with a Huffman table of 265 codes between scans, is refused") {
    // The use-after-free in stbi__jpeg_huff_decode follows stbi__build_huffman writing past its
    // arrays for a table of more than 256 codes (the F5 finding); image/jpeg_stb_check.cpp refuses
    // every such table stb would build before stb runs, here an AC table defined after the DC scan.
    const std::string j = regression_jpeg("jpeg_cve_2022_28042_prog_dht_over_256.bin");
    pomt_test::expect_error([&] { decode_any(j, "cve-2022-28042.jpg"); }, "Huffman table with more than 256 codes");
}

#ifdef POMT_USE_LIBJPEG

namespace {

// "" when equal, else where and how the first difference shows.
std::string first_difference(const Image& a, const Image& b) {
    if (a.width != b.width || a.height != b.height)
        return "size " + std::to_string(a.width) + "x" + std::to_string(a.height) + " vs " +
               std::to_string(b.width) + "x" + std::to_string(b.height);
    for (size_t i = 0; i < a.rgb.size(); ++i)
        if (a.rgb[i] != b.rgb[i]) {
            const size_t px = i / 3;
            return "pixel (" + std::to_string(px % size_t(a.width)) + "," + std::to_string(px / size_t(a.width)) +
                   ") channel " + std::to_string(i % 3) + ": " + std::to_string(a.rgb[i]) + " vs " +
                   std::to_string(b.rgb[i]);
        }
    return "";
}


struct Synthetic {
    int width, height;
    int components;               // 1 or 3
    int samp[3][2];               // h, v per component
    bool progressive;
    int restart;                  // MCUs per restart interval, 0 = none
    int quality;
    J_COLOR_SPACE jpeg_space;     // JCS_YCbCr, JCS_RGB or JCS_GRAYSCALE
    int pattern;                  // 0 smooth + noise, 1 hard colour edges, 2 pure noise
};

std::string describe(const Synthetic& s) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%dx%d comps=%d samp=%dx%d,%dx%d,%dx%d %s restart=%d q=%d space=%d pattern=%d",
                  s.width, s.height, s.components, s.samp[0][0], s.samp[0][1], s.samp[1][0], s.samp[1][1],
                  s.samp[2][0], s.samp[2][1], s.progressive ? "progressive" : "baseline", s.restart, s.quality,
                  int(s.jpeg_space), s.pattern);
    return buf;
}

std::string encode(const Synthetic& s) {
    std::vector<uint8_t> px(size_t(s.width) * size_t(s.height) * size_t(s.components));
    uint32_t seed = uint32_t(s.width * 7919 + s.height * 104729 + s.pattern);
    for (int y = 0; y < s.height; ++y)
        for (int x = 0; x < s.width; ++x)
            for (int c = 0; c < s.components; ++c) {
                int v;
                if (s.pattern == 0) v = (x * 255 / std::max(1, s.width - 1) + y * 97 / std::max(1, s.height) + c * 60) % 256 +
                                        int(next_random(seed) % 17) - 8;
                else if (s.pattern == 1) v = (((x / 3) + (y / 5) + c) % 3 == 0) ? 255 : (((x + y) & 4) ? 0 : 40 * c);
                else v = int(next_random(seed) & 255);
                px[(size_t(y) * s.width + x) * s.components + c] = uint8_t(std::min(255, std::max(0, v)));
            }
    jpeg_compress_struct c;
    jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    unsigned char* mem = nullptr;
    unsigned long len = 0;
    jpeg_mem_dest(&c, &mem, &len);
    c.image_width = JDIMENSION(s.width);
    c.image_height = JDIMENSION(s.height);
    c.input_components = s.components;
    c.in_color_space = s.components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, s.quality, TRUE);
    jpeg_set_colorspace(&c, s.jpeg_space);
    for (int k = 0; k < s.components; ++k) {
        c.comp_info[k].h_samp_factor = s.samp[k][0];
        c.comp_info[k].v_samp_factor = s.samp[k][1];
    }
    if (s.progressive) jpeg_simple_progression(&c);
    c.restart_interval = unsigned(s.restart);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = px.data() + size_t(c.next_scanline) * size_t(s.width) * size_t(s.components);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    std::string out(reinterpret_cast<const char*>(mem), len);
    std::free(mem);
    return out;
}

Image decode_oracle(const std::string& bytes, const std::string& name) {
    Image img;
    REQUIRE(decode_jpeg_libjpeg(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), name, &img));
    return img;
}

}  // namespace

TEST_CASE("image: JPEG decoding of the default build equals libjpeg on every ImageNet JPEG of ../shared") {
    POMT_REQUIRE_SHARED("data/imagenet-val-1300/images", dir);
    std::vector<std::string> files;
    for (const auto& e : std::filesystem::directory_iterator(dir)) files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    size_t jpegs = 0, identical = 0;
    for (const std::string& f : files) {
        const std::string bytes = pomt_test::read_bytes(f);
        if (bytes.size() < 3 || bytes.compare(0, 3, "\xFF\xD8\xFF") != 0) continue;
        ++jpegs;
        const std::string diff = first_difference(decode_exact(bytes), decode_oracle(bytes, f));
        if (diff.empty()) ++identical;
        else if (jpegs - identical <= 5) MESSAGE(f << ": " << diff);
    }
    std::printf("image: %zu of %zu ImageNet JPEGs byte-identical to libjpeg-turbo\n", identical, jpegs);
    CHECK(jpegs == 1300);
    CHECK(identical == jpegs);
}

TEST_CASE("image: JPEG decoding of the default build equals libjpeg on synthetic JPEGs (sampling, progressive, restarts, odd sizes)") {
    struct Sampling {
        int comps;
        int f[3][2];
        J_COLOR_SPACE space;
    };
    const Sampling samplings[] = {
        {3, {{1, 1}, {1, 1}, {1, 1}}, JCS_YCbCr},  // 4:4:4
        {3, {{2, 1}, {1, 1}, {1, 1}}, JCS_YCbCr},  // 4:2:2 (h2v1)
        {3, {{2, 2}, {1, 1}, {1, 1}}, JCS_YCbCr},  // 4:2:0 (h2v2)
        {3, {{1, 2}, {1, 1}, {1, 1}}, JCS_YCbCr},  // 4:4:0 (h1v2)
        {3, {{4, 1}, {1, 1}, {1, 1}}, JCS_YCbCr},  // 4:1:1 (int_upsample)
        {3, {{2, 2}, {2, 1}, {1, 2}}, JCS_YCbCr},  // mixed: h1v2 and h2v1 in one file
        {3, {{1, 1}, {1, 1}, {1, 1}}, JCS_RGB},    // RGB, no conversion
        {3, {{2, 2}, {1, 1}, {1, 1}}, JCS_RGB},    // subsampled RGB
        {1, {{1, 1}, {1, 1}, {1, 1}}, JCS_GRAYSCALE},
        {1, {{2, 2}, {1, 1}, {1, 1}}, JCS_GRAYSCALE},
    };
    const int sizes[][2] = {{1, 1}, {2, 2}, {3, 3}, {1, 9}, {9, 1}, {4, 3}, {5, 7}, {8, 8}, {15, 17},
                            {16, 16}, {17, 31}, {33, 18}, {64, 48}, {227, 227}, {101, 67}};
    int cases = 0, identical = 0;
    for (const Sampling& smp : samplings)
        for (const auto& sz : sizes)
            for (int variant = 0; variant < 4; ++variant) {
                Synthetic s{};
                s.width = sz[0];
                s.height = sz[1];
                s.components = smp.comps;
                for (int k = 0; k < 3; ++k) s.samp[k][0] = smp.f[k][0], s.samp[k][1] = smp.f[k][1];
                s.jpeg_space = smp.space;
                s.progressive = variant & 1;
                s.restart = variant == 2 ? 1 : variant == 3 ? 3 : 0;
                s.quality = variant == 0 ? 90 : variant == 1 ? 40 : variant == 2 ? 100 : 8;
                s.pattern = (sz[0] + sz[1] + variant) % 3;
                const std::string bytes = encode(s);
                ++cases;
                const std::string diff = first_difference(decode_exact(bytes), decode_oracle(bytes, describe(s)));
                if (diff.empty()) ++identical;
                else if (cases - identical <= 10) MESSAGE(describe(s) << ": " << diff);
            }
    std::printf("image: %d of %d synthetic JPEGs byte-identical to libjpeg-turbo\n", identical, cases);
    CHECK(identical == cases);
}

#endif  // POMT_USE_LIBJPEG
