// A loaded ViT: its configuration and its parameters, read-only and shareable between threads.
// Parameters point into the memory-mapped .pomt file (or into owned buffers for random
// weights); the matrix weights are also packed once here for the GEMM micro-kernels.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kernels/gemm.h"
#include "vit/config.h"
#include "vit/weights_file.h"

namespace pomt {

struct LinearParams {
    const float* weight = nullptr;  // [out × in], PyTorch layout
    const float* bias = nullptr;    // [out] or null
    PackedWeights packed;
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

class Model {
public:
    // Opens a .pomt file (memory-mapped). Throws pomt::Error on any problem with the file.
    static std::shared_ptr<const Model> load(const std::string& path);
    // An architecture with seeded random weights (latency does not depend on the values).
    static std::shared_ptr<const Model> random(const ModelConfig& config, uint64_t seed = 0);
    static std::shared_ptr<const Model> random(const std::string& architecture, uint64_t seed = 0);

    const ModelConfig& config() const { return meta_.model; }
    const PreprocessConfig& preprocess() const { return meta_.preprocess; }
    const std::vector<std::string>& class_names() const { return meta_.class_names; }
    const WeightsMeta& meta() const { return meta_; }
    // Any parameter by its timm name; null when the model has no such tensor.
    const float* tensor(const std::string& name) const;

    // Parameters, ready for the forward pass.
    const float* cls_token = nullptr;
    const float* dist_token = nullptr;
    const float* reg_token = nullptr;
    const float* pos_embed = nullptr;
    LinearParams patch_embed;  // conv weight viewed as [D × C·P·P]
    LayerNormParams norm_pre, norm, fc_norm;
    std::vector<BlockParams> blocks;
    LinearParams head, head_dist;

    // The values written to a .pomt for this model (random models can be saved too).
    std::vector<float> tensor_values(const TensorSpec& spec) const;

private:
    Model() = default;
    void bind(const std::function<const float*(const std::string&)>& lookup);

    WeightsMeta meta_;
    std::unique_ptr<WeightsFile> file_;
    std::vector<std::vector<float>> owned_;
    std::vector<std::pair<std::string, const float*>> by_name_;
};

}  // namespace pomt
