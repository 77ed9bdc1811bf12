// A loaded ViT: its configuration and its parameters, read-only and shareable between threads.
// Parameters point into the memory-mapped .pomt file (or into owned buffers for random
// weights). The Linear weights' GEMM panels are used straight from the mapping of a version 2
// file; random models and version 1 files are packed here, once, at load.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kernels/gemm.h"
#include "kernels/gemm_int8.h"
#include "vit/config.h"
#include "vit/weights_file.h"

namespace pomt {

struct LinearParams {
    const float* bias = nullptr;  // [out] or null
    // The weight [out × in] in panels; packed.original is the PyTorch layout when the model has it
    // at hand (see Model::linear_weight for the general way to get it).
    PackedWeights packed;
    // The int8 weight of a quantized model (kernels/gemm_int8.h); `packed` then holds n and k only.
    Int8Weights int8;
    bool is_int8() const { return !int8.empty(); }
};

struct LayerNormParams {
    const float* weight = nullptr;
    const float* bias = nullptr;
};

struct BlockParams {
    LayerNormParams norm1, norm2;
    LinearParams qkv, proj, fc1, fc2;
    const float* ls1 = nullptr;  // LayerScale gammas, null without LayerScale
    const float* ls2 = nullptr;
};

// timm's AttentionPoolLatent (global_pool 'map'): a learned latent query attends to every token.
struct AttnPoolParams {
    const float* latent = nullptr;  // [1 × D]
    LinearParams q, kv, proj, fc1, fc2;
    LayerNormParams norm;
};

class Model {
public:
    // Opens a .pomt file (memory-mapped). Throws pomt::Error on any problem with the file.
    static std::shared_ptr<const Model> load(const std::string& path);
    // An architecture with seeded random weights (latency does not depend on the values).
    static std::shared_ptr<const Model> random(const ModelConfig& config, uint64_t seed = 0);
    static std::shared_ptr<const Model> random(const std::string& architecture, uint64_t seed = 0);
    // An int8 model: every Linear weight of `values` (fp32, timm's row-major layout, one vector per
    // expected tensor) quantized per output column (quantize_weights), every other tensor copied.
    // meta.quantization says what was done.
    static std::shared_ptr<const Model> quantized(const WeightsMeta& meta,
                                                  const std::function<std::vector<float>(const TensorSpec&)>& values);
    bool is_int8() const { return meta_.quantization.precision == "int8"; }
    // A bf16 model: its Linear weights bf16 (PackedWeights::bf16), run by kernels/gemm_bf16.h with
    // their inputs rounded to bf16; everything else fp32 (Model::bf16).
    bool is_bf16() const { return meta_.quantization.precision == "bf16"; }
    // "fp32", "int8" or "bf16".
    const std::string& precision() const { return meta_.quantization.precision; }
    // An int8 model whose attention products run in int8 too (QuantizationInfo::attention).
    bool int8_attention() const { return is_int8() && meta_.quantization.attention == "int8"; }
    // An int8 or bf16 model whose attention products run in bf16 (kernels/attention_bf16.h).
    bool bf16_attention() const { return (is_int8() || is_bf16()) && meta_.quantization.attention == "bf16"; }
    // A bf16 model: every Linear weight of `values` rounded to bf16 (nearest even) in the panels16x2
    // layout of kernels/gemm_bf16.h, every other tensor copied (meta.quantization.precision "bf16").
    static std::shared_ptr<const Model> bf16(const WeightsMeta& meta,
                                             const std::function<std::vector<float>(const TensorSpec&)>& values);
    // An fp32 model from its tensors' values (timm layout), as Model::random does with random ones:
    // calibration runs the checkpoint `pomt convert --quantize` reads without writing it first.
    static std::shared_ptr<const Model> from_values(const WeightsMeta& meta,
                                                    const std::function<std::vector<float>(const TensorSpec&)>& values);

    const ModelConfig& config() const { return meta_.model; }
    const PreprocessConfig& preprocess() const { return meta_.preprocess; }
    const std::vector<std::string>& class_names() const { return meta_.class_names; }
    const WeightsMeta& meta() const { return meta_; }
    // Any parameter by its timm name, in timm's layout; null when the model has no such tensor.
    const float* tensor(const std::string& name) const;
    // A Linear layer's weight [out × in] in PyTorch layout (the reference forward pass, re-saving).
    // A version 2 file holds only the panels: they are unpacked on the first request (thread-safe,
    // kept for the model's lifetime) rather than at load, which the fast path never needs. An int8
    // weight is dequantized (scale·wq) the same way, a bf16 one widened.
    const float* linear_weight(const LinearParams& p) const;

    // Parameters, ready for the forward pass.
    const float* cls_token = nullptr;
    const float* dist_token = nullptr;
    const float* reg_token = nullptr;
    const float* pos_embed = nullptr;
    LinearParams patch_embed;  // conv weight viewed as [D × C·P·P]
    LayerNormParams norm_pre, norm, fc_norm;
    std::vector<BlockParams> blocks;
    LinearParams head, head_dist;
    AttnPoolParams attn_pool;  // global_pool 'map' only

    // The values written to a .pomt for this model (random models can be saved too).
    std::vector<float> tensor_values(const TensorSpec& spec) const;
    // The Linear layer whose weight has this timm name ("blocks.0.mlp.fc1.weight"); null when none.
    const LinearParams* linear_params(const std::string& weight_name) const;

private:
    struct StoredTensor {
        const float* data = nullptr;
        bool panels = false;  // data is a Linear weight in the GEMM panel layout
        Int8Weights int8;     // or the Linear weight is int8 (data null)
        const uint16_t* bf16 = nullptr;  // or bf16 panels16x2 (data null)
    };
    struct NamedTensor {
        std::string name;
        const float* data = nullptr;           // row-major values, or null for...
        const LinearParams* linear = nullptr;  // ...a Linear weight, read through linear_weight()
    };

    Model() = default;
    // A model from every tensor's fp32 values, each Linear weight turned into its stored form by
    // `linear` (int8, bf16), every other tensor copied.
    static std::shared_ptr<Model> with_linears(
        const WeightsMeta& meta, const std::function<std::vector<float>(const TensorSpec&)>& values,
        const std::function<StoredTensor(const float* w, int n, int k)>& linear);
    void bind(const std::function<StoredTensor(const std::string&)>& lookup);

    WeightsMeta meta_;
    std::unique_ptr<WeightsFile> file_;
    std::vector<std::vector<float>> owned_;
    std::vector<AlignedFloats> bf16_storage_;  // Model::bf16's panels
    std::vector<NamedTensor> by_name_;
    mutable std::mutex unpack_mutex_;
    mutable std::map<const LinearParams*, std::vector<float>> unpacked_;  // node-based: pointers stay valid
};

// Writes `model` as a .pomt file, atomically: version 2 for an fp32 model, version 3 for an int8
// one (its int8 weights, scales and sums byte for byte), version 4 for a bf16 one (its bf16 panels
// byte for byte; docs/FORMAT.md).
void save_model(const Model& model, const std::string& path);

}  // namespace pomt
