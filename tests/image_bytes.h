// Image files built byte by byte, for the tests and the fuzz seeds (fuzz/make_seeds.cpp): PNG with
// stored (uncompressed) deflate blocks, BMP, and baseline JPEGs whose blocks all decode to flat
// grey. Header-only, so the seed generator uses it without the test library.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

namespace pomt_test {

using Bytes = std::string;

inline void put_be32(Bytes& s, uint32_t v) {
    for (int i = 3; i >= 0; --i) s += char((v >> (8 * i)) & 0xFF);
}
inline void put_le16(Bytes& s, uint32_t v) {
    s += char(v & 0xFF);
    s += char((v >> 8) & 0xFF);
}
inline void put_le32(Bytes& s, uint32_t v) {
    put_le16(s, v & 0xFFFF);
    put_le16(s, v >> 16);
}

// CRC-32 (ISO 3309, as PNG chunks use it), bit by bit.
inline uint32_t crc32(const Bytes& s) {
    uint32_t c = 0xFFFFFFFFu;
    for (unsigned char ch : s) {
        c ^= ch;
        for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

// length, type, data, CRC of type + data.
inline void png_chunk(Bytes& png, const char* type, const Bytes& data) {
    put_be32(png, uint32_t(data.size()));
    const Bytes td = std::string(type, 4) + data;
    png += td;
    put_be32(png, crc32(td));
}

// A PNG of `pixels` (h rows of `row_bytes`; `filter` is the filter byte put before each row) of
// colour type `ct` and `depth` bits, its zlib stream made of stored deflate blocks (at most 65535
// bytes each); `plte` adds a PLTE chunk, `interlace` sets Adam7 in the header.
inline Bytes make_png(uint32_t w, uint32_t h, int ct, int depth, const Bytes& pixels, size_t row_bytes,
                      int filter = 0, const Bytes& plte = "", bool interlace = false) {
    Bytes raw;
    for (uint32_t y = 0; y < h; ++y) raw += char(filter) + pixels.substr(y * row_bytes, row_bytes);
    Bytes z = "\x78\x01";
    size_t i = 0;
    do {
        const size_t n = std::min<size_t>(65535, raw.size() - i);
        z += char(i + n >= raw.size() ? 1 : 0);  // BFINAL on the last block, BTYPE 00 (stored)
        put_le16(z, uint32_t(n));
        put_le16(z, uint32_t(~n & 0xFFFF));
        z += raw.substr(i, n);
        i += n;
    } while (i < raw.size());
    uint32_t a = 1, b = 0;  // Adler-32
    for (unsigned char c : raw) a = (a + c) % 65521, b = (b + a) % 65521;
    put_be32(z, b << 16 | a);
    Bytes png = "\x89PNG\r\n\x1a\n";
    Bytes ihdr;
    put_be32(ihdr, w);
    put_be32(ihdr, h);
    ihdr += char(depth);
    ihdr += char(ct);
    ihdr += Bytes(2, '\0');
    ihdr += char(interlace ? 1 : 0);
    png_chunk(png, "IHDR", ihdr);
    if (!plte.empty()) png_chunk(png, "PLTE", plte);
    png_chunk(png, "IDAT", z);
    png_chunk(png, "IEND", "");
    return png;
}

// The first 33 bytes of a PNG (signature + IHDR of an 8-bit RGB image, CRC 0) and an IEND, so the
// file is not "truncated": enough for the header probe, which checks sizes before any CRC.
inline Bytes png_header(uint32_t w, uint32_t h) {
    Bytes png = "\x89PNG\r\n\x1a\n";
    put_be32(png, 13);
    png += "IHDR";
    put_be32(png, w);
    put_be32(png, h);
    png += Bytes("\x08\x02\x00\x00\x00", 5);
    put_be32(png, 0);
    png += Bytes("\0\0\0\0IEND\xAE\x42\x60\x82", 12);
    return png;
}

// The 54-byte header of an uncompressed BMP (BITMAPINFOHEADER) of `bpp` bits per pixel, bottom-up,
// followed by `palette` colours; the caller appends the palette and the rows (padded to 4 bytes).
inline Bytes bmp_header(int w, int h, int bpp, int palette = 0) {
    const int row = (w * bpp / 8 + 3) / 4 * 4;
    Bytes b = "BM";
    put_le32(b, uint32_t(54 + 4 * palette + row * h));
    put_le32(b, 0);
    put_le32(b, uint32_t(54 + 4 * palette));
    put_le32(b, 40);
    put_le32(b, uint32_t(w));
    put_le32(b, uint32_t(h));
    put_le16(b, 1);
    put_le16(b, uint32_t(bpp));
    put_le32(b, 0);
    put_le32(b, uint32_t(row * h));
    put_le32(b, 2835);
    put_le32(b, 2835);
    put_le32(b, uint32_t(palette));
    put_le32(b, 0);
    return b;
}

// A 24-bit BMP of top-down RGB pixels (w * h * 3 bytes).
inline Bytes make_bmp(int w, int h, const Bytes& rgb) {
    const int row = (w * 3 + 3) / 4 * 4;
    Bytes b = bmp_header(w, h, 24);
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

// A baseline JPEG whose blocks all decode to DC 0 / end-of-block, so every pixel is 128: `comps`
// components, component 0 sampled `sampling` (0x11 or 0x22), the others 0x11; one quantisation
// table of ones, one-code Huffman tables (DC category 0, AC end-of-block); `scan` is the entropy
// data ("\x3F" for one 8×8 grey block: bits 0 (DC) 0 (EOB), padded with ones).
inline Bytes make_jpeg(int w, int h, int comps, int sampling, const Bytes& scan) {
    Bytes j = "\xFF\xD8";
    j += Bytes("\xFF\xDB\x00\x43\x00", 5) + Bytes(64, '\x01');  // DQT: table 0, all ones
    Bytes sof = "\xFF\xC0";
    const int len = 8 + 3 * comps;
    sof += char(len >> 8), sof += char(len & 0xFF), sof += '\x08';
    sof += char(h >> 8), sof += char(h & 0xFF), sof += char(w >> 8), sof += char(w & 0xFF), sof += char(comps);
    for (int c = 0; c < comps; ++c) sof += char(c + 1), sof += char(c == 0 ? sampling : 0x11), sof += '\0';
    j += sof;
    Bytes counts(16, '\0');
    counts[0] = 1;
    j += Bytes("\xFF\xC4\x00\x14\x00", 5) + counts + Bytes(1, '\x00');  // DHT DC0: one code, symbol 0
    j += Bytes("\xFF\xC4\x00\x14\x10", 5) + counts + Bytes(1, '\x00');  // DHT AC0: one code, EOB
    Bytes sos = "\xFF\xDA";
    const int slen = 6 + 2 * comps;
    sos += char(0), sos += char(slen), sos += char(comps);
    for (int c = 0; c < comps; ++c) sos += char(c + 1), sos += '\0';
    sos += Bytes("\x00\x3F\x00", 3);
    return j + sos + scan + "\xFF\xD9";
}

// An 8×8 greyscale baseline JPEG, every pixel 128.
inline Bytes make_jpeg_grey8() { return make_jpeg(8, 8, 1, 0x11, "\x3F"); }

}  // namespace pomt_test
