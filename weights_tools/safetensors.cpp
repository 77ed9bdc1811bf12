#include "weights_tools/safetensors.h"

#include <algorithm>
#include <cstring>

#include "pomt/error.h"
#include "core/json.h"

namespace pomt {

namespace {
constexpr uint64_t kMaxHeaderBytes = 100u << 20;  // the format's own limit (100 MB)

int dtype_size(const std::string& dtype) {
    if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
    if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
    if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
    if (dtype == "I8" || dtype == "U8" || dtype == "BOOL" || dtype == "F8_E4M3" || dtype == "F8_E5M2") return 1;
    return 0;
}
}  // namespace

int64_t SafeTensorInfo::numel() const {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    return n;
}

std::vector<SafeTensorInfo> parse_safetensors_header(const unsigned char* bytes, size_t size,
                                                     const std::string& what, size_t* data_offset) {
    if (size < 8) fail(what + ": too short to be a safetensors file");
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
    if (header_len > kMaxHeaderBytes) fail(what + ": safetensors header of " + std::to_string(header_len) +
                                           " bytes is larger than the format's 100 MB limit");
    if (header_len > size - 8) fail(what + ": safetensors header runs past the end of the file");
    std::string text(reinterpret_cast<const char*>(bytes + 8), size_t(header_len));
    json::Value header = json::parse(text, what + " (safetensors header)");
    if (!header.is_object()) fail(what + ": safetensors header is not a JSON object");
    uint64_t data_size = size - 8 - header_len;
    std::vector<SafeTensorInfo> tensors;
    for (const auto& kv : header.as_object("")) {
        if (kv.first == "__metadata__") continue;
        const std::string where = what + ": tensor '" + kv.first + "'";
        const json::Value& t = kv.second;
        if (!t.is_object()) fail(where + " is not an object");
        SafeTensorInfo info;
        info.name = kv.first;
        const json::Value* dtype = t.find("dtype");
        const json::Value* shape = t.find("shape");
        const json::Value* offsets = t.find("data_offsets");
        if (!dtype || !shape || !offsets) fail(where + " lacks dtype, shape or data_offsets");
        info.dtype = dtype->as_string(where + " dtype");
        int esize = dtype_size(info.dtype);
        if (!esize) fail(where + " has unknown dtype '" + info.dtype + "'");
        uint64_t numel = 1;
        for (const json::Value& d : shape->as_array(where + " shape")) {
            int64_t v = d.as_int(where + " shape");
            if (v < 0) fail(where + " has a negative dimension");
            if (v != 0 && numel > (uint64_t(1) << 40) / uint64_t(v)) fail(where + " has an absurd shape");
            numel *= uint64_t(v);
            info.shape.push_back(v);
        }
        const auto& off = offsets->as_array(where + " data_offsets");
        if (off.size() != 2) fail(where + " data_offsets must have two entries");
        int64_t b = off[0].as_int(where + " data_offsets"), e = off[1].as_int(where + " data_offsets");
        if (b < 0 || e < b) fail(where + " has invalid data_offsets");
        info.begin = uint64_t(b);
        info.end = uint64_t(e);
        if (info.end > data_size) fail(where + " data runs past the end of the file");
        if (info.end - info.begin != numel * uint64_t(esize))
            fail(where + " has " + std::to_string(info.end - info.begin) + " bytes, its shape needs " +
                 std::to_string(numel * uint64_t(esize)));
        tensors.push_back(std::move(info));
    }
    // The format forbids overlapping tensors (and holes); overlapping data would alias weights.
    std::vector<const SafeTensorInfo*> order;
    for (const auto& t : tensors) order.push_back(&t);
    std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
    for (size_t i = 1; i < order.size(); ++i)
        if (order[i]->begin < order[i - 1]->end)
            fail(what + ": tensors '" + order[i - 1]->name + "' and '" + order[i]->name + "' overlap");
    *data_offset = 8 + size_t(header_len);
    return tensors;
}

SafetensorsFile::SafetensorsFile(const std::string& path) {
    file_ = std::make_unique<MappedFile>(path, "safetensors file");
    size_t offset = 0;
    tensors_ = parse_safetensors_header(file_->data(), file_->size(), "'" + path + "'", &offset);
    data_ = file_->data() + offset;
}

const SafeTensorInfo* SafetensorsFile::find(const std::string& name) const {
    for (const auto& t : tensors_)
        if (t.name == name) return &t;
    return nullptr;
}

float half_to_float(uint16_t h) {
    uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {  // subnormal: renormalise
            exp = 127 - 15 + 1;
            while (!(mant & 0x400)) {
                mant <<= 1;
                --exp;
            }
            bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

float bfloat16_to_float(uint16_t b) {
    uint32_t bits = uint32_t(b) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

std::vector<float> SafetensorsFile::read_f32(const SafeTensorInfo& t) const {
    size_t n = size_t(t.numel());
    std::vector<float> out(n);
    const unsigned char* src = data_ + t.begin;
    if (t.dtype == "F32") {
        std::memcpy(out.data(), src, n * 4);
    } else if (t.dtype == "F16" || t.dtype == "BF16") {
        bool half = t.dtype == "F16";
        for (size_t i = 0; i < n; ++i) {
            uint16_t v = uint16_t(src[2 * i] | (src[2 * i + 1] << 8));
            out[i] = half ? half_to_float(v) : bfloat16_to_float(v);
        }
    } else {
        fail("tensor '" + t.name + "' has dtype " + t.dtype + "; only F32, F16 and BF16 weights are supported");
    }
    return out;
}

}  // namespace pomt
