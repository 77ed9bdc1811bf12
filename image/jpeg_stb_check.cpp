#include "image/jpeg_stb_check.h"

#include <cstdint>
#include <cstring>

// Mirrors third_party/stb/stb_image.h 2.27: stbi__decode_jpeg_header, stbi__process_marker,
// stbi__process_frame_header, stbi__process_scan_header and the marker handling around
// stbi__parse_entropy_coded_data in stbi__decode_jpeg_image. Keep it in step with the vendored
// header if that is ever updated (a fixed stb checks the counts itself).

namespace pomt {
namespace {

constexpr int kNoMarker = 0xFF;  // stb's STBI__MARKER_none

bool is_restart(int m) { return m >= 0xD0 && m <= 0xD7; }

// stbi__context over memory, read the way stb reads it: get8 past the end returns 0 and does not
// move, stbi__skip may move past the end (where every read gives 0).
class StbReader {
public:
    StbReader(const unsigned char* p, size_t n) : p_(p), n_(n) {}

    int get8() { return pos_ < n_ ? p_[pos_++] : 0; }
    int get16be() {
        const int hi = get8();
        return hi << 8 | get8();
    }
    void read(uint64_t count) {  // `count` calls of get8
        if (pos_ < n_) pos_ = count < n_ - pos_ ? pos_ + count : n_;
    }
    void skip(uint64_t count) { pos_ += count; }
    bool at_eof() const { return pos_ >= n_; }

    // stbi__get_marker with no marker pending: 0xFF, any fill bytes, then the marker byte.
    int get_marker() {
        int x = get8();
        if (x != 0xFF) return kNoMarker;
        while (x == 0xFF) x = get8();
        return x;
    }

    // After a scan header. stb decodes the entropy-coded data, so where it stops depends on the
    // Huffman codes; wherever that is, it either fails (a stuffed 0xFF00 or a restart marker read
    // as a marker) or continues at the first 0xFF that starts a real marker. Stop just before that.
    void skip_entropy_coded_data() {
        while (pos_ < n_) {
            const void* ff = std::memchr(p_ + pos_, 0xFF, n_ - pos_);
            if (!ff) break;
            const size_t at = size_t(static_cast<const unsigned char*>(ff) - p_);
            size_t j = at + 1;
            while (j < n_ && p_[j] == 0xFF) ++j;  // fill bytes
            if (j >= n_) break;
            if (p_[j] == 0x00 || is_restart(p_[j])) {  // stuffed 0xFF data byte, or restart: more data
                pos_ = j + 1;
                continue;
            }
            pos_ = at;
            return;
        }
        pos_ = n_;
    }

private:
    const unsigned char* p_;
    size_t n_;
    uint64_t pos_ = 0;
};

// DHT (stbi__process_marker case 0xC4): false when a table declares more than 256 codes, the
// most stbi__huffman's size[257] / values[256] hold.
bool dht_ok(StbReader& s) {
    int64_t left = int64_t(s.get16be()) - 2;
    while (left > 0) {
        const int q = s.get8();
        if ((q >> 4) > 1 || (q & 15) > 3) return true;  // stb stops: "bad DHT header"
        int codes = 0;
        for (int i = 0; i < 16; ++i) codes += s.get8();
        if (codes > 256) return false;
        s.read(uint64_t(codes));
        left -= 17 + codes;
    }
    return true;
}

// DQT: stb reads 64 one-byte or 64 two-byte values per table whatever the length says, and only
// afterwards compares what it read with the length.
void skip_dqt(StbReader& s) {
    int64_t left = int64_t(s.get16be()) - 2;
    while (left > 0) {
        const int q = s.get8();
        const int precision = q >> 4;
        if (precision > 1 || (q & 15) > 3) return;  // stb stops: "bad DQT type" / "bad DQT table"
        s.read(precision ? 128 : 64);
        left -= precision ? 129 : 65;
    }
}

}  // namespace

bool stb_jpeg_huffman_tables_ok(const unsigned char* bytes, size_t size) {
    StbReader s(bytes, size);
    if (s.get_marker() != 0xD8) return true;  // not a JPEG to stb ("no SOI")
    while (!s.at_eof()) {
        const int m = s.get_marker();
        if (m == kNoMarker) continue;  // junk byte: stb scans past it before SOF (and fails after)
        if (m == 0xD9) return true;    // EOI
        if (m == 0xC4) {
            if (!dht_ok(s)) return false;
        } else if (m == 0xDB) {
            skip_dqt(s);
        } else if (m == 0xDD || m == 0xDC) {  // DRI, DNL: length 4 and one 16-bit value
            s.read(4);
        } else if ((m >= 0xE0 && m <= 0xEF) || m == 0xFE) {  // APPn, COM
            const int len = s.get16be();
            if (len >= 2) s.skip(uint64_t(len - 2));
        } else if (m == 0xC0 || m == 0xC1 || m == 0xC2) {  // SOF: length, precision, height, width
            s.read(7);
            s.read(3 * uint64_t(s.get8()));  // id, sampling, table per component
        } else if (m == 0xDA) {  // SOS: length, components, 2 bytes each, spectral selection
            s.read(2);
            s.read(2 * uint64_t(s.get8()) + 3);
            s.skip_entropy_coded_data();
        }
        // Any other marker is an error to stb ("unknown marker"); scanning on checks more, not less.
    }
    return true;
}

}  // namespace pomt
