// Reader for the safetensors format (8-byte little-endian header length, a JSON header mapping
// tensor names to dtype, shape and data_offsets, then the raw bytes). Everything declared is
// checked against the file before use.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/mapped_file.h"

namespace pomt {

struct SafeTensorInfo {
    std::string name;
    std::string dtype;  // "F32", "F16", "BF16", ... as stored
    std::vector<int64_t> shape;
    uint64_t begin = 0, end = 0;  // byte range relative to the data section
    int64_t numel() const;
};

class SafetensorsFile {
public:
    explicit SafetensorsFile(const std::string& path);

    const std::vector<SafeTensorInfo>& tensors() const { return tensors_; }
    const SafeTensorInfo* find(const std::string& name) const;
    // The tensor as float32 (F32 copied, F16 and BF16 widened); other dtypes throw pomt::Error.
    std::vector<float> read_f32(const SafeTensorInfo& t) const;

private:
    std::unique_ptr<MappedFile> file_;
    const unsigned char* data_ = nullptr;  // start of the data section
    std::vector<SafeTensorInfo> tensors_;
};

// Parses only the header of an in-memory safetensors image (used by the reader and the fuzzer).
std::vector<SafeTensorInfo> parse_safetensors_header(const unsigned char* bytes, size_t size,
                                                     const std::string& what, size_t* data_offset);

float half_to_float(uint16_t h);
float bfloat16_to_float(uint16_t b);

}  // namespace pomt
