// The .pomt weight file (specified byte by byte in docs/FORMAT.md): a fixed 24-byte preamble,
// a JSON header (model config, preprocessing config, class names, tensor table), then float32
// tensors, each 64-byte aligned so they can be used straight from a memory mapping.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "vit/config.h"
#include "vit/mapped_file.h"

namespace pomt {

constexpr uint32_t kPomtFormatVersion = 1;
constexpr char kPomtMagic[8] = {'P', 'O', 'M', 'T', 'V', 'I', 'T', '\0'};
constexpr size_t kPomtPreambleBytes = 24;
constexpr size_t kPomtAlignment = 64;
constexpr uint64_t kPomtMaxHeaderBytes = 64u << 20;

struct WeightsMeta {
    ModelConfig model;
    PreprocessConfig preprocess;
    std::vector<std::string> class_names;  // empty when unknown
};

// Writes a .pomt atomically. `tensor_data(spec)` returns the float32 values of each expected
// tensor (in expected_tensors() order); its size must match the spec's shape.
void write_weights_file(const std::string& path, const WeightsMeta& meta,
                        const std::function<std::vector<float>(const TensorSpec&)>& tensor_data);

// The bytes write_weights_file would produce (tests compare the C++ and Python writers).
std::string weights_header_json(const WeightsMeta& meta);

struct WeightsTensor {
    std::string name;
    std::vector<int64_t> shape;
    const float* data;
};

// An open .pomt file: every offset, size and shape checked against the file and the config.
class WeightsFile {
public:
    explicit WeightsFile(const std::string& path, bool allow_mmap = true);
    const WeightsMeta& meta() const { return meta_; }
    const std::vector<WeightsTensor>& tensors() const { return tensors_; }
    const float* tensor(const std::string& name) const;  // null when absent
    bool is_mapped() const { return file_->is_mapped(); }

private:
    std::unique_ptr<MappedFile> file_;
    WeightsMeta meta_;
    std::vector<WeightsTensor> tensors_;
};

// Parses and checks a .pomt image in memory (the reader and the fuzzer share it).
void parse_weights_image(const unsigned char* bytes, size_t size, const std::string& what, WeightsMeta* meta,
                         std::vector<WeightsTensor>* tensors);

}  // namespace pomt
