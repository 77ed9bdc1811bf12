// Image decoding: formats, PIL-compatible conversion to RGB, and every bad input the CLI must
// refuse with a one-line error naming the file. The test writes its own small images (PNG with
// stored deflate blocks, BMP, PNM, TGA, a hand-made baseline JPEG) so nothing depends on ../shared
// except the real-JPEG checks.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "pomt/error.h"
#include "image/image.h"

namespace {

using Bytes = std::string;

uint32_t crc32(const Bytes& s, size_t from = 0) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = from; i < s.size(); ++i) {
        c ^= uint8_t(s[i]);
        for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

void put_be32(Bytes& s, uint32_t v) {
    for (int i = 3; i >= 0; --i) s += char((v >> (8 * i)) & 0xFF);
}
void put_le16(Bytes& s, uint32_t v) {
    s += char(v & 0xFF);
    s += char((v >> 8) & 0xFF);
}
void put_le32(Bytes& s, uint32_t v) {
    put_le16(s, v & 0xFFFF);
    put_le16(s, v >> 16);
}

void png_chunk(Bytes& png, const char* type, const Bytes& data) {
    put_be32(png, uint32_t(data.size()));
    Bytes td = std::string(type, 4) + data;
    png += td;
    put_be32(png, crc32(td));
}

// PNG of `raw` (filter byte 0 per row is added here), colour type `ct`, `depth` bits, with the
// zlib stream made of stored (uncompressed) deflate blocks.
Bytes make_png(uint32_t w, uint32_t h, int ct, int depth, const Bytes& pixels, size_t row_bytes) {
    Bytes raw;
    for (uint32_t y = 0; y < h; ++y) raw += '\0' + pixels.substr(y * row_bytes, row_bytes);
    Bytes z = "\x78\x01";
    for (size_t i = 0; i < raw.size() || i == 0; i += 65535) {
        size_t n = std::min<size_t>(65535, raw.size() - i);
        z += char(i + n >= raw.size() ? 1 : 0);
        put_le16(z, uint32_t(n));
        put_le16(z, uint32_t(~n & 0xFFFF));
        z += raw.substr(i, n);
        if (raw.empty()) break;
    }
    uint32_t a = 1, b = 0;
    for (char c : raw) a = (a + uint8_t(c)) % 65521, b = (b + a) % 65521;
    put_be32(z, b << 16 | a);
    Bytes png = "\x89PNG\r\n\x1a\n";
    Bytes ihdr;
    put_be32(ihdr, w);
    put_be32(ihdr, h);
    ihdr += char(depth);
    ihdr += char(ct);
    ihdr += Bytes(3, '\0');
    png_chunk(png, "IHDR", ihdr);
    png_chunk(png, "IDAT", z);
    png_chunk(png, "IEND", "");
    return png;
}

// 24-bit bottom-up BMP of RGB pixels.
Bytes make_bmp(int w, int h, const Bytes& rgb) {
    int row = (w * 3 + 3) / 4 * 4;
    Bytes b = "BM";
    put_le32(b, uint32_t(54 + row * h));
    put_le32(b, 0);
    put_le32(b, 54);
    put_le32(b, 40);
    put_le32(b, uint32_t(w));
    put_le32(b, uint32_t(h));
    put_le16(b, 1);
    put_le16(b, 24);
    put_le32(b, 0);
    put_le32(b, uint32_t(row * h));
    put_le32(b, 2835);
    put_le32(b, 2835);
    put_le32(b, 0);
    put_le32(b, 0);
    for (int y = h - 1; y >= 0; --y) {
        for (int x = 0; x < w; ++x) {
            const char* p = &rgb[size_t(y * w + x) * 3];
            b += p[2];
            b += p[1];
            b += p[0];
        }
        b += Bytes(size_t(row - w * 3), '\0');
    }
    return b;
}

// An 8×8 baseline greyscale JPEG, all DC differences 0 (so every pixel decodes to 128): one
// quantisation table, one-code Huffman tables (DC category 0, AC end-of-block), a 1-byte scan.
Bytes make_jpeg_grey8() {
    Bytes j = "\xFF\xD8";
    j += Bytes("\xFF\xDB\x00\x43\x00", 5) + Bytes(64, '\x01');  // DQT: length 67, table 0, all ones
    j += Bytes("\xFF\xC0\x00\x0B\x08\x00\x08\x00\x08\x01\x01\x11\x00", 13);  // SOF0 8x8, 1 comp
    // DHT DC0: one code of length 1 for symbol 0; DHT AC0: one code of length 1 for 0x00 (EOB).
    Bytes counts(16, '\0');
    counts[0] = 1;
    j += Bytes("\xFF\xC4\x00\x14\x00", 5) + counts + Bytes(1, '\x00');
    j += Bytes("\xFF\xC4\x00\x14\x10", 5) + counts + Bytes(1, '\x00');
    j += Bytes("\xFF\xDA\x00\x08\x01\x01\x00\x00\x3F\x00", 10);  // SOS
    j += "\x3F";  // bits 0 (DC cat 0) 0 (EOB), padded with ones
    j += "\xFF\xD9";
    return j;
}

std::string write_temp(const std::string& name, const Bytes& bytes) {
    std::string path = pomt_test::temp_dir() + "/" + name;
    pomt_test::write_bytes(path, bytes);
    return path;
}

// Runs `fn`, expects a pomt::Error whose single-line message names `name` and contains `needle`.
template <class Fn>
void expect_error(Fn fn, const std::string& name, const std::string& needle) {
    std::string msg;
    try {
        fn();
    } catch (const pomt::Error& e) {
        msg = e.what();
    }
    INFO("message: " << msg);
    CHECK_FALSE(msg.empty());
    CHECK(msg.find(name) != std::string::npos);
    CHECK(msg.find(needle) != std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);
}

pomt::Image decode(const Bytes& b, const pomt::ImageLimits& lim = pomt::ImageLimits()) {
    return pomt::decode_image(reinterpret_cast<const unsigned char*>(b.data()), b.size(), "mem", lim);
}

Bytes rgb_pattern(int w, int h) {
    Bytes s;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            s += char(x * 40 + 3);
            s += char(y * 50 + 7);
            s += char((x + y) * 17 + 100);
        }
    return s;
}

}  // namespace

TEST_CASE("image: PNG colour types convert to RGB as PIL's convert('RGB')") {
    // RGB: unchanged.
    Bytes rgb = rgb_pattern(3, 2);
    pomt::Image im = decode(make_png(3, 2, 2, 8, rgb, 9));
    REQUIRE(im.width == 3);
    REQUIRE(im.height == 2);
    CHECK(Bytes(im.rgb.begin(), im.rgb.end()) == rgb);

    // Grey: replicated. Grey+alpha and RGBA: alpha dropped, not composited (PIL does the same).
    im = decode(make_png(2, 1, 0, 8, Bytes("\x10\xF0", 2), 2));
    CHECK(Bytes(im.rgb.begin(), im.rgb.end()) == Bytes("\x10\x10\x10\xF0\xF0\xF0", 6));
    im = decode(make_png(2, 1, 4, 8, Bytes("\x10\x00\xF0\x80", 4), 4));
    CHECK(Bytes(im.rgb.begin(), im.rgb.end()) == Bytes("\x10\x10\x10\xF0\xF0\xF0", 6));
    im = decode(make_png(1, 1, 6, 8, Bytes("\x11\x22\x33\x00", 4), 4));
    CHECK(Bytes(im.rgb.begin(), im.rgb.end()) == Bytes("\x11\x22\x33", 3));

    // 16-bit RGB keeps the high byte; 16-bit grey is clamped to 255 (Pillow's I;16 -> RGB), so
    // 0x0100 becomes 255 rather than 1.
    im = decode(make_png(1, 1, 2, 16, Bytes("\x12\x34\xAB\xCD\x00\xFF", 6), 6));
    CHECK(Bytes(im.rgb.begin(), im.rgb.end()) == Bytes("\x12\xAB\x00", 3));
    im = decode(make_png(3, 1, 0, 16, Bytes("\x00\x05\x00\xFF\x01\x00", 6), 6));
    CHECK(Bytes(im.rgb.begin(), im.rgb.end()) == Bytes("\x05\x05\x05\xFF\xFF\xFF\xFF\xFF\xFF", 9));

    // Sub-byte grey scales to the full range (PIL: L;2 -> ×85).
    im = decode(make_png(4, 1, 0, 2, Bytes("\x1B", 1), 1));  // 00 01 10 11
    CHECK(Bytes(im.rgb.begin(), im.rgb.end()) == Bytes("\x00\x00\x00\x55\x55\x55\xAA\xAA\xAA\xFF\xFF\xFF", 12));
}

TEST_CASE("image: BMP, PNM, TGA, GIF and JPEG decode") {
    Bytes rgb = rgb_pattern(5, 3);
    pomt::Image im = decode(make_bmp(5, 3, rgb));
    CHECK(im.width == 5);
    CHECK(im.height == 3);
    CHECK(Bytes(im.rgb.begin(), im.rgb.end()) == rgb);

    im = decode("P6\n# comment\n5 3\n255\n" + rgb);
    CHECK(Bytes(im.rgb.begin(), im.rgb.end()) == rgb);
    im = decode(Bytes("P5 2 1 255\n\x07\xFE", 13));
    CHECK(Bytes(im.rgb.begin(), im.rgb.end()) == Bytes("\x07\x07\x07\xFE\xFE\xFE", 6));

    // Uncompressed true-colour TGA, top-left origin, BGR.
    Bytes tga(18, '\0');
    tga[2] = 2;
    tga[12] = 2;  // width 2
    tga[14] = 1;  // height 1
    tga[16] = 24;
    tga[17] = 0x20;
    tga += Bytes("\x03\x02\x01\x30\x20\x10", 6);
    im = decode(tga);
    CHECK(Bytes(im.rgb.begin(), im.rgb.end()) == Bytes("\x01\x02\x03\x10\x20\x30", 6));

    // 1×1 GIF, palette [red, black], pixel index 0.
    Bytes gif("GIF89a\x01\x00\x01\x00\x80\x00\x00\xFF\x00\x00\x00\x00\x00"
              ",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00;",
              35);
    im = decode(gif);
    REQUIRE(im.width == 1);
    CHECK(Bytes(im.rgb.begin(), im.rgb.end()) == Bytes("\xFF\x00\x00", 3));

    im = decode(make_jpeg_grey8());
    REQUIRE(im.width == 8);
    REQUIRE(im.height == 8);
    for (uint8_t v : im.rgb) CHECK(int(v) == 128);

    // load_image reads files the same way.
    std::string path = write_temp("a.bmp", make_bmp(5, 3, rgb));
    im = pomt::load_image(path);
    CHECK(Bytes(im.rgb.begin(), im.rgb.end()) == rgb);
}

TEST_CASE("image: PNM with maxval other than 255 decodes as Pillow does (16-bit colour included)") {
    // Expected values from Pillow 13: Image.open(BytesIO(b)).convert('RGB'). Pillow scales every
    // sample by round(v / maxval * 255) (half to even, capped at 255); 16-bit grey is mode I
    // (scaled to 0..65535) and convert('RGB') clamps it to 255.
    auto rgb = [](const pomt::Image& im) { return Bytes(im.rgb.begin(), im.rgb.end()); };
    // stb 2.27 alone gives the low bytes (0x34 0xff 0x80 0x80 0x01 0xc0); the last sample also tells
    // rounding (0x01c0 -> 2) from taking the high byte (1).
    pomt::Image im = decode("P6\n2 1\n65535\n" + Bytes("\x12\x34\xff\xff\x00\x80\x80\x80\x00\x01\x01\xc0", 12));
    CHECK(rgb(im) == Bytes("\x12\xff\x00\x80\x00\x02", 6));  // (18,255,0) (128,0,2)
    im = decode("P6\n2 1\n1000\n" + Bytes("\x00\x02\x03\xe8\x01\xf4\x03\xe9\x00\x00\x00\x01", 12));
    CHECK(rgb(im) == Bytes("\x01\xff\x80\xff\x00\x00", 6));  // (1,255,128) (255,0,0)
    im = decode("P5\n3 1\n100\n" + Bytes("\x00\x32\x65", 3));
    CHECK(rgb(im) == Bytes("\x00\x00\x00\x80\x80\x80\xff\xff\xff", 9));  // 50/100*255 = 127.5 -> 128
    im = decode("P5\n3 1\n1023\n" + Bytes("\x00\x03\x00\x04\x03\xff", 6));
    CHECK(rgb(im) == Bytes("\xc0\xc0\xc0\xff\xff\xff\xff\xff\xff", 9));  // 192, then clamped
    im = decode("P6\n1 1\n100\n" + Bytes("\x01\x02\x03", 3));
    CHECK(rgb(im) == Bytes("\x03\x05\x08", 3));
    expect_error([] { decode("P6\n1 1\n0\n" + Bytes("\x01\x02\x03", 3)); }, "mem", "PNM maxval 0 is outside 1..65535");
}

TEST_CASE("image: a PNG with an empty IDAT chunk before its data decodes (fuzz_image)") {
    // stb 2.27 passed a null buffer to memcpy for the empty chunk (UBSan); pomt leaves it out.
    const Bytes rgb = rgb_pattern(3, 2);
    const Bytes png = make_png(3, 2, 2, 8, rgb, 9);
    const size_t idat = 8 + 25;  // signature, IHDR chunk
    Bytes empty_idat;
    png_chunk(empty_idat, "IDAT", "");
    const pomt::Image im = decode(png.substr(0, idat) + empty_idat + empty_idat + png.substr(idat));
    CHECK(im.width == 3);
    CHECK(Bytes(im.rgb.begin(), im.rgb.end()) == rgb);
}

TEST_CASE("image: missing file, directory, empty file, not an image") {
    std::string dir = pomt_test::temp_dir();
    expect_error([&] { pomt::load_image(dir + "/nope.jpg"); }, dir + "/nope.jpg", "No such file");
    expect_error([&] { pomt::load_image(dir); }, dir, "directory");
    std::string empty = write_temp("empty.png", "");
    expect_error([&] { pomt::load_image(empty); }, empty, "empty file");
    std::string text = write_temp("notes.jpg", "this is a text file, not a picture\n");
    expect_error([&] { pomt::load_image(text); }, text, "not a supported image");
}

TEST_CASE("image: truncated JPEG, PNG, BMP and PNM are refused") {
    Bytes jpeg = make_jpeg_grey8();
    Bytes png = make_png(16, 16, 2, 8, rgb_pattern(16, 16), 48);
    Bytes bmp = make_bmp(16, 16, rgb_pattern(16, 16));
    Bytes pnm = "P6\n16 16\n255\n" + rgb_pattern(16, 16);
    REQUIRE_NOTHROW(decode(jpeg));
    REQUIRE_NOTHROW(decode(png));
    // Cut at several points: before EOI, inside the scan, inside a header segment; for PNG inside
    // IEND's header, before IEND, inside IDAT, inside IHDR. (A PNG missing only IEND's CRC decodes,
    // as in PIL, which does not read it.)
    for (size_t cut : {jpeg.size() - 1, jpeg.size() - 2, jpeg.size() - 3, size_t(30), size_t(4)}) {
        std::string p = write_temp("cut.jpg", jpeg.substr(0, cut));
        INFO("jpeg cut at " << cut);
        expect_error([&] { pomt::load_image(p); }, p, "truncated JPEG");
    }
    for (size_t cut : {png.size() - 8, png.size() - 12, png.size() / 2, size_t(40), size_t(20)}) {
        std::string p = write_temp("cut.png", png.substr(0, cut));
        INFO("png cut at " << cut);
        expect_error([&] { pomt::load_image(p); }, p, "truncated PNG");
    }
    std::string pb = write_temp("cut.bmp", bmp.substr(0, bmp.size() - 100));
    expect_error([&] { pomt::load_image(pb); }, pb, "truncated BMP");
    std::string pp = write_temp("cut.ppm", pnm.substr(0, pnm.size() - 1));
    expect_error([&] { pomt::load_image(pp); }, pp, "truncated PNM");
}

TEST_CASE("image: 0x0 headers are refused") {
    Bytes png = make_png(0, 0, 2, 8, "", 0);
    std::string p = write_temp("zero.png", png);
    expect_error([&] { pomt::load_image(p); }, p, "0x0");
    std::string q = write_temp("zero.ppm", "P6\n0 0\n255\n");
    expect_error([&] { pomt::load_image(q); }, q, "empty image");
    Bytes bmp = make_bmp(0, 0, "");
    std::string b = write_temp("zero.bmp", bmp);
    CHECK_THROWS_AS(pomt::load_image(b), pomt::Error);
}

TEST_CASE("image: a 60000x60000 header is refused before decoding; the limit is configurable") {
    // A PNM header alone declares 3.6 gigapixels; there is no pixel data at all, so only the
    // header check can produce this message (the decoder would report truncation or allocate).
    std::string p = write_temp("huge.ppm", "P6\n60000 60000\n255\n");
    expect_error([&] { pomt::load_image(p); }, p, "60000x60000 pixels exceeds the limit of 100000000");
    // Same for a BMP header.
    Bytes bmp = make_bmp(1, 1, "\x01\x02\x03");
    bmp[18] = char(0x60), bmp[19] = char(0xEA), bmp[20] = 0, bmp[21] = 0;  // width 60000
    bmp[22] = char(0x60), bmp[23] = char(0xEA), bmp[24] = 0, bmp[25] = 0;  // height 60000
    std::string b = write_temp("huge.bmp", bmp);
    expect_error([&] { pomt::load_image(b); }, b, "exceeds the limit");
    // PNG: stb refuses this header itself (more than 2^30 bytes of pixels); the message is still ours.
    Bytes png = make_png(1, 1, 2, 8, "\x01\x02\x03", 3);
    png[16] = 0, png[17] = 0, png[18] = char(0xEA), png[19] = char(0x60);
    png[20] = 0, png[21] = 0, png[22] = char(0xEA), png[23] = char(0x60);
    std::string q = write_temp("huge.png", png);
    expect_error([&] { pomt::load_image(q); }, q, "60000x60000 pixels exceeds the limit");

    pomt::ImageLimits small;
    small.max_pixels = 20;
    Bytes ok = make_bmp(5, 4, rgb_pattern(5, 4));
    CHECK_NOTHROW(decode(ok, small));
    Bytes big = make_bmp(5, 5, rgb_pattern(5, 5));
    CHECK_THROWS_WITH_AS(decode(big, small), doctest::Contains("5x5 pixels exceeds the limit of 20"), pomt::Error);
}

TEST_CASE("image: probe_image reads the header only") {
    Bytes png = make_png(7, 3, 4, 8, Bytes(7 * 3 * 2, '\x40'), 14);
    pomt::ImageInfo info = pomt::probe_image(reinterpret_cast<const unsigned char*>(png.data()), png.size(), "x");
    CHECK(info.width == 7);
    CHECK(info.height == 3);
    CHECK(info.channels == 2);
    CHECK(info.format == "png");
    CHECK_FALSE(info.is_16bit);
}

TEST_CASE("image: real ImageNet JPEGs decode and truncation is detected") {
    POMT_REQUIRE_SHARED("data/imagenet-val-1300/images/ILSVRC2012_val_00000347.JPEG", path);
    pomt::Image im = pomt::load_image(path);
    CHECK(im.width == 227);
    CHECK(im.height == 227);
    Bytes bytes = pomt_test::read_bytes(path);
    for (size_t cut : {bytes.size() - 2, bytes.size() / 2, size_t(700)}) {
        std::string p = write_temp("cut_real.jpg", bytes.substr(0, cut));
        INFO("cut at " << cut);
        expect_error([&] { pomt::load_image(p); }, p, "truncated JPEG");
    }
}
