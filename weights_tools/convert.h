// Conversion of timm weights (hub folder or .safetensors) to a .pomt file, in C++ so no Python is
// needed. pomt's one .pomt writer: pomt.convert and weights_tools/convert_timm.py (which first turns a
// PyTorch state dict or a timm model name into a hub folder) call it.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "vit/weights_file.h"

namespace pomt {

struct ConvertOptions {
    std::string input;        // hub folder (config.json + model.safetensors) or a .safetensors file
    std::string config_path;  // --config: a config.json for a bare .safetensors
    std::string arch;         // --arch: timm architecture name (overrides config.json's)
    std::string output;       // the .pomt to write
    int image_size = 0;       // --image-size S: run at S×S, pos_embed resampled as timm does (0: trained size)
};

struct ConvertReport {
    WeightsMeta meta;
    int tensors = 0;
    long long parameters = 0;
};

// The model at another image size, as timm's create_model(name, img_size=S) + checkpoint_filter_fn
// builds it: img_size = S, the patch rows of pos_embed resampled (weights_tools/pos_embed_resample.h),
// and the preprocessing's input_size S with the trained crop_pct, interpolation, mean and std (what
// timm's validate.py --img-size S evaluates). Throws pomt::Error for an S the patch size does not divide.
void set_image_size(int image_size, ModelConfig* cfg, PreprocessConfig* pre);

// Throws pomt::Error naming the tensor for unknown, missing or extra tensors and shape mismatches;
// the output is written atomically, so nothing is left behind on failure.
ConvertReport convert_timm_weights(const ConvertOptions& options);

// The checkpoint checked as above, its fp32 values not yet written (`pomt convert --quantize`
// quantizes them first): `values(spec)` reads a tensor in timm's layout at the model's image size.
struct TimmWeights {
    ConvertReport report;
    std::function<std::vector<float>(const TensorSpec&)> values;  // valid while this object lives
};
TimmWeights read_timm_weights(const ConvertOptions& options);

}  // namespace pomt
