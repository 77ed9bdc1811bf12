// Calibration for int8 (SmoothQuant, Xiao et al., ICML 2023, eq. 4): per-token quantization loses
// the small channels of a token whose range a few outlier channels set. Measured on a few images,
// each outlier input channel k of a Linear is divided by
//     s_k = max|X_k|^α / max|W_k|^(1−α)
// and its weight column multiplied by s_k — the product is unchanged in exact arithmetic, and the
// division is folded into what produces X, so it costs nothing at run time:
//   qkv  ← norm1: the LayerNorm's γ and β divided by s;
//   fc1  ← norm2: likewise;
//   proj ← the attention output, a per-channel mix of V: V's rows of the qkv weight and bias
//          divided by s (attention probabilities sum over tokens, not channels).
// fc2's input (after GELU) has no linear producer to fold into and is left as it is.
//
// α is chosen per Linear (choose_smoothing): each candidate, and no smoothing at all, is applied
// to rows sampled from the calibration images, quantized as the int8 model will be (per token,
// per output channel), and the one whose product is closest to the fp32 product wins — so a layer
// that smoothing would hurt (its weights' per-channel scales then grow with the outliers they
// absorb) keeps its weights as they were.
#pragma once
#include <functional>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "vit/config.h"
#include "vit/model.h"

namespace pomt {

// The smoothable Linear inputs of a block, in this order.
enum SmoothableInput { kQkvInput = 0, kProjInput = 1, kFc1Input = 2, kSmoothableInputs = 3 };

// max |x| per input channel at the smoothable Linear inputs of each block, over the images seen,
// and the rows of the first `sample_images` images (for choose_smoothing).
struct ActivationRanges {
    std::vector<std::vector<float>> qkv_in, proj_in, fc1_in;  // [depth][embed_dim]
    std::vector<std::vector<float>> samples[kSmoothableInputs];  // [depth][rows × embed_dim]
    int images = 0;
    const std::vector<float>& max_of(int input, int layer) const {
        return (input == kQkvInput ? qkv_in : input == kProjInput ? proj_in : fc1_in)[size_t(layer)];
    }
};

// Runs the fp32 model on `count` images, image(i) giving image i preprocessed (3 × img × img
// floats; one at a time, so a calibration set never sits in memory whole), and records the ranges.
ActivationRanges measure_activation_ranges(const std::shared_ptr<const Model>& fp32, int count,
                                           const std::function<std::vector<float>(int)>& image, int threads,
                                           int sample_images = 8);

// The factors s of every smoothable Linear ([depth][input], all 1 for "none") and the α chosen.
struct SmoothingPlan {
    std::vector<std::vector<float>> factors[kSmoothableInputs];  // [depth][embed_dim]
    std::vector<double> alpha[kSmoothableInputs];                // [depth]; < 0: not smoothed
    // One line for the model file and `pomt info`: how many Linears each α was chosen for.
    std::string describe() const;
};

// One α for every smoothable Linear (SmoothQuant's recipe).
SmoothingPlan fixed_smoothing(const Model& fp32, const ActivationRanges& ranges, double alpha);
// The best of `alphas` or none per Linear, by the error of its int8 product on the sampled rows.
SmoothingPlan choose_smoothing(const Model& fp32, const ActivationRanges& ranges,
                               const std::vector<double>& alphas = {0.25, 0.5, 0.75});

// The smoothing factors of one Linear: s_k from the activation range and the weight w [n × k]
// (row-major); 1 where the channel was never seen non-zero.
std::vector<float> smoothing_factors(const std::vector<float>& act_max, const float* w, int n, int k, double alpha);

// Σ (int8 product − fp32 product)² of one smoothable Linear (block `layer`, SmoothableInput
// `input`) on the sampled rows, with its input divided and its weight columns multiplied by s.
double smoothing_error(const Model& fp32, const ActivationRanges& ranges, int input, int layer,
                       const std::vector<float>& s);

// The fp32 values of every tensor of `fp32` (timm layout) with the smoothing folded in, ready for
// Model::quantized.
std::function<std::vector<float>(const TensorSpec&)> smoothed_values(const std::shared_ptr<const Model>& fp32,
                                                                     const SmoothingPlan& plan);

}  // namespace pomt
