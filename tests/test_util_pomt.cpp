#include "tests/test_util_pomt.h"

#include <cstring>
#include <vector>

#include "pomt/error.h"

namespace pomt_test {

namespace {

constexpr uint64_t kAlign = 64;

uint64_t align_up(uint64_t x) { return (x + kAlign - 1) / kAlign * kAlign; }

void put_u64(std::string& s, uint64_t v) {
    for (int i = 0; i < 8; ++i) s += char((v >> (8 * i)) & 0xff);
}

}  // namespace

uint64_t header_len(const std::string& bytes) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(bytes[16 + i]);
    return v;
}

pomt::json::Value header_of(const std::string& bytes) {
    return pomt::json::parse(bytes.substr(24, header_len(bytes)), "header");
}

uint64_t data_start(const std::string& bytes) { return align_up(24 + header_len(bytes)); }

std::string with_header(const std::string& bytes, const std::function<void(pomt::json::Value&)>& edit) {
    pomt::json::Value h = header_of(bytes);
    edit(h);
    const std::string text = h.dump();
    std::string out = bytes.substr(0, 16);
    put_u64(out, text.size());
    out += text;
    out.append(align_up(out.size()) - out.size(), '\0');
    return out + bytes.substr(data_start(bytes));
}

std::string as_format_v1(const std::string& v2) {
    const pomt::json::Value h = header_of(v2);
    if (v2[8] != 2 || h.find("version")->as_int("version") != 2) pomt::fail("as_format_v1 needs a version 2 file");
    const uint64_t start = data_start(v2);
    pomt::json::Value tensors = pomt::json::Value::array();
    std::string data;
    for (const pomt::json::Value& t : h.find("tensors")->as_array("tensors")) {
        std::vector<int64_t> shape;
        uint64_t numel = 1;
        for (const pomt::json::Value& d : t.find("shape")->as_array("shape")) {
            shape.push_back(d.as_int("shape"));
            numel *= uint64_t(shape.back());
        }
        const char* stored = v2.data() + start + uint64_t(t.find("offset")->as_int("offset"));
        std::string values(numel * 4, '\0');
        if (const pomt::json::Value* layout = t.find("layout")) {
            if (layout->as_string("layout") != "panels16") pomt::fail("as_format_v1: unknown layout");
            // Float 16·k·p + 16·i + j of the panels is W[16p + j][i]; columns past n are padding.
            const uint64_t n = uint64_t(shape[0]), k = numel / n;
            for (uint64_t r = 0; r < n; ++r)
                for (uint64_t i = 0; i < k; ++i)
                    std::memcpy(&values[(r * k + i) * 4], stored + (16 * k * (r / 16) + 16 * i + r % 16) * 4, 4);
        } else {
            values.assign(stored, numel * 4);
        }
        data.append(align_up(data.size()) - data.size(), '\0');
        pomt::json::Value e = pomt::json::Value::object();
        for (const char* key : {"name", "dtype", "shape"}) e.set(key, *t.find(key));
        e.set("offset", pomt::json::Value::number(double(data.size())));
        e.set("nbytes", pomt::json::Value::number(double(values.size())));
        tensors.push_back(e);
        data += values;
    }
    pomt::json::Value v1 = h;
    v1.set("version", pomt::json::Value::number(1));
    v1.set("tensors", tensors);
    const std::string text = v1.dump();
    std::string out = v2.substr(0, 8) + std::string("\1\0\0\0\0\0\0\0", 8);  // magic, version 1, reserved
    put_u64(out, text.size());
    out += text;
    out.append(align_up(out.size()) - out.size(), '\0');
    return out + data;
}

}  // namespace pomt_test
