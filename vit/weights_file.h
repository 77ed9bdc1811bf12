// The .pomt weight file (specified byte by byte in docs/FORMAT.md): a fixed 24-byte preamble,
// a JSON header (model config, preprocessing config, class names, tensor table), then float32
// tensors, each 64-byte aligned so they can be used straight from a memory mapping. From version 2
// the Linear weights are stored in the GEMM panel layout (kernels/panels.h), so loading packs nothing.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "vit/config.h"
#include "core/mapped_file.h"

namespace pomt {

constexpr uint32_t kPomtFormatVersion = 2;  // what the writers write; the reader also reads 1
constexpr char kPomtMagic[8] = {'P', 'O', 'M', 'T', 'V', 'I', 'T', '\0'};
constexpr size_t kPomtPreambleBytes = 24;
constexpr size_t kPomtAlignment = 64;
constexpr uint64_t kPomtMaxHeaderBytes = 64u << 20;

// What quantization did to a model (docs/FORMAT.md): precision "fp32", or "int8" (Linear weights
// int8 per output column, activations quantized per token at run time).
struct QuantizationInfo {
    std::string precision = "fp32";
    std::string calibration = "none";  // what calibration did, in words (pomt info prints it)
};

struct WeightsMeta {
    ModelConfig model;
    PreprocessConfig preprocess;
    std::vector<std::string> class_names;  // empty when unknown
    QuantizationInfo quantization;
};

// Writes a .pomt atomically. `tensor_data(spec)` returns the float32 values of each expected
// tensor (in expected_tensors() order) in timm's row-major layout; its size must match the spec's
// shape. Version 2 packs the Linear weights into panels here; `version` 1 (plain row-major, as
// older pomt wrote) exists for compatibility tests and load-time comparisons.
void write_weights_file(const std::string& path, const WeightsMeta& meta,
                        const std::function<std::vector<float>(const TensorSpec&)>& tensor_data,
                        uint32_t version = kPomtFormatVersion);

// The JSON header write_weights_file would write (tests compare the C++ and Python writers).
std::string weights_header_json(const WeightsMeta& meta, uint32_t version = kPomtFormatVersion);

// How a tensor's bytes are laid out: C order, or (Linear weights, version 2) GEMM panels.
enum class TensorLayout { RowMajor, Panels16 };

struct WeightsTensor {
    std::string name;
    std::vector<int64_t> shape;  // timm's logical shape, whatever the layout
    const float* data;
    TensorLayout layout = TensorLayout::RowMajor;
    uint64_t nbytes = 0;  // stored size: 4 × numel, or 4 × panel_floats for Panels16
};

// An open .pomt file: every offset, size and shape checked against the file and the config.
class WeightsFile {
public:
    explicit WeightsFile(const std::string& path, bool allow_mmap = true);
    const WeightsMeta& meta() const { return meta_; }
    const std::vector<WeightsTensor>& tensors() const { return tensors_; }
    const WeightsTensor* tensor(const std::string& name) const;  // null when absent
    bool is_mapped() const { return file_->is_mapped(); }
    uint32_t version() const { return version_; }

private:
    std::unique_ptr<MappedFile> file_;
    uint32_t version_ = 0;
    WeightsMeta meta_;
    std::vector<WeightsTensor> tensors_;
};

// Parses and checks a .pomt image in memory (the reader and the fuzzer share it).
void parse_weights_image(const unsigned char* bytes, size_t size, const std::string& what, WeightsMeta* meta,
                         std::vector<WeightsTensor>* tensors, uint32_t* version = nullptr);

}  // namespace pomt
