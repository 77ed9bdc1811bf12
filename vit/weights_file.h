// The .pomt weight file (specified byte by byte in docs/FORMAT.md): a fixed 24-byte preamble,
// a JSON header (model config, preprocessing config, class names, tensor table), then float32
// tensors, each 64-byte aligned so they can be used straight from a memory mapping. From version 2
// the Linear weights are stored in the GEMM panel layout (kernels/panels.h), so loading packs nothing.
// Version 3 holds an int8 model: its Linear weights int8 in the panels16x4 layout of
// kernels/gemm_int8.h, each with its per-column scales and sums as tensors of their own. Version 4
// holds a bf16 model: its Linear weights bf16 in the panels16x2 layout of kernels/gemm_bf16.h.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/mapped_file.h"
#include "kernels/gemm_int8.h"
#include "vit/config.h"

namespace pomt {

constexpr uint32_t kPomtFormatVersion = 2;      // what the writer writes for fp32 models; the reader also reads 1
constexpr uint32_t kPomtInt8FormatVersion = 3;  // int8 models (write_quantized_weights_file)
constexpr uint32_t kPomtBf16FormatVersion = 4;  // bf16 models (write_bf16_weights_file)
constexpr uint32_t kPomtNewestReadVersion = 4;
constexpr char kPomtMagic[8] = {'P', 'O', 'M', 'T', 'V', 'I', 'T', '\0'};
constexpr size_t kPomtPreambleBytes = 24;
constexpr size_t kPomtAlignment = 64;
constexpr uint64_t kPomtMaxHeaderBytes = 64u << 20;

// What quantization did to a model (docs/FORMAT.md, the header's "quantization" object of versions
// 3 and 4): precision "fp32"; "int8" (Linear weights int8 per output column, activations quantized
// per token at run time; the defaults below are its values); or "bf16" (Linear weights and their
// inputs rounded to bf16: bf16_quantization() gives its values, the only ones a bf16 file holds).
struct QuantizationInfo {
    std::string precision = "fp32";
    std::string weights = "per-output-channel symmetric";  // the only scheme the int8 kernels run
    std::string activations = "per-token dynamic";
    // The attention's two products: "fp32", or "int8" (Q, K, V quantized per token and head, P·V on
    // the probabilities quantized per row: kernels/attention_int8.h). Files written before the
    // choice existed have no key and run fp32 attention.
    std::string attention = "fp32";
    // Calibration: "none", or the method's name (e.g. "smoothquant") with whatever it wants to
    // record in calibration_details (a JSON object such as {"images":256,"alpha":0.5}; written
    // into the file's calibration object after "method", read back as is).
    std::string calibration = "none";
    json::Value calibration_details = json::Value::object();
    // One line for `pomt info`: "none", "smoothquant (images 256, alpha 0.5)".
    std::string calibration_text() const;
};

// The quantization of a bf16 model (.pomt version 4): precision "bf16", weights "bf16
// round-to-nearest-even", activations "bf16 at each Linear's input", attention "fp32",
// calibration "none".
QuantizationInfo bf16_quantization();

struct WeightsMeta {
    ModelConfig model;
    PreprocessConfig preprocess;
    std::vector<std::string> class_names;  // empty when unknown
    QuantizationInfo quantization;
};

// Writes an fp32 model as version 2, atomically. `tensor_data(spec)` returns the float32 values
// of each expected tensor (in expected_tensors() order) in timm's row-major layout; its size must
// match the spec's shape. The Linear weights are packed into panels here. (Version 1 is read, never
// written: tests build such files from version 2 ones, tests/test_util_pomt.h.)
void write_weights_file(const std::string& path, const WeightsMeta& meta,
                        const std::function<std::vector<float>(const TensorSpec&)>& tensor_data);

// Writes an int8 model as version 3, atomically (meta.quantization.precision must be "int8").
// For each Linear weight `int8_of(spec)` returns its int8 form (written in panels16x4 with
// "<name>_scale" f32 [n] and "<name>_sum" i32 [n] after it), or null to keep it f32 in panels16
// (a layer left in fp32); `tensor_data` gives every other tensor's float32 values as above.
// Scales must be finite and > 0; the n and k of each Int8Weights must match the spec.
void write_quantized_weights_file(const std::string& path, const WeightsMeta& meta,
                                  const std::function<std::vector<float>(const TensorSpec&)>& tensor_data,
                                  const std::function<const Int8Weights*(const TensorSpec&)>& int8_of);

// Writes a bf16 model as version 4, atomically (meta.quantization must be bf16_quantization()).
// For each Linear weight `bf16_of(spec)` returns its bf16 panels in the panels16x2 layout of
// kernels/gemm_bf16.h (bf16_panel_elems(n, k) values, as pack_bf16_panels writes them; stored byte
// for byte, little-endian), or null to keep it f32 in panels16 (a layer left in fp32);
// `tensor_data` gives every other tensor's float32 values as above.
void write_bf16_weights_file(const std::string& path, const WeightsMeta& meta,
                             const std::function<std::vector<float>(const TensorSpec&)>& tensor_data,
                             const std::function<const uint16_t*(const TensorSpec&)>& bf16_of);

// How a tensor's bytes are laid out: C order, or (Linear weights, version 2) GEMM panels, or
// (int8 Linear weights, version 3) the int8 panels of kernels/gemm_int8.h, or (bf16 Linear
// weights, version 4) the bf16 panels of kernels/gemm_bf16.h.
enum class TensorLayout { RowMajor, Panels16, Panels16x4, Panels16x2 };
enum class TensorDtype { F32, I8, I32, BF16 };

// The names of an int8 Linear weight's companions: "<weight>_scale" and "<weight>_sum".
std::string int8_scale_name(const std::string& weight_name);
std::string int8_sum_name(const std::string& weight_name);

struct WeightsTensor {
    std::string name;
    std::vector<int64_t> shape;  // timm's logical shape, whatever the layout
    const float* data;           // the stored bytes (read them as `dtype`: see bytes())
    TensorLayout layout = TensorLayout::RowMajor;
    // stored size: 4 × numel, 4 × panel_floats for Panels16, int8_panel_bytes for Panels16x4,
    // 2 × bf16_panel_elems for Panels16x2
    uint64_t nbytes = 0;
    TensorDtype dtype = TensorDtype::F32;
    const void* bytes() const { return data; }
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
