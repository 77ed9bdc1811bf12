// timm's eval transform (transforms_imagenet_eval), reproduced bit for bit on 8-bit RGB images:
// PIL-exact resampling (Pillow's Resample.c: separable, horizontal pass first, fixed-point
// coefficients, 8-bit rounding and clipping after each pass), torchvision's resize-size and
// centre-crop rules, then ToTensor (/255) and Normalize in float32.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "vit/config.h"  // PreprocessConfig (input_size, interpolation, crop_pct, crop_mode, mean, std)
#include "image/image.h"

namespace pomt {

// PIL's resampling filters under timm's names.
enum class Resample { Nearest, Box, Bilinear, Hamming, Bicubic, Lanczos };

// "nearest", "box", "bilinear", "hamming", "bicubic", "lanczos"; anything else throws pomt::Error.
Resample parse_resample(const std::string& name);

// PIL's Image.resize((width, height), filter) of an RGB image, bit-exact.
Image resize_like_pil(const Image& src, int width, int height, Resample filter);

// Where the eval transform takes its pixels from: the image is resized to resize_w × resize_h with
// `filter`, then the crop_w × crop_h window at (crop_left, crop_top) of the resized image is kept.
// Offsets are negative when the window is larger than the resized image (torchvision pads); padded
// pixels take `fill` (0 except in timm's "border" crop mode, where it is round(255 · mean)).
struct EvalGeometry {
    int64_t resize_w = 0, resize_h = 0;
    Resample filter = Resample::Bicubic;
    int crop_w = 0, crop_h = 0;
    int64_t crop_left = 0, crop_top = 0;
    uint8_t fill[3] = {0, 0, 0};
};

// The geometry timm computes for an image of width × height. Throws pomt::Error for a config it
// cannot apply (crop_mode other than center / squash / border, channels != 3, crop_pct <= 0, ...).
EvalGeometry eval_geometry(int width, int height, const PreprocessConfig& cfg);

// The whole eval transform: writes 3 × H × W float32 values (CHW, H and W from cfg.input_size) to
// `out`. Any non-empty image works, however small (it is upsampled first, as timm does); only the
// pixels inside the crop are computed, so a degenerate aspect ratio (1 × 50000) costs no memory
// beyond the crop.
void preprocess_image(const Image& img, const PreprocessConfig& cfg, float* out);
std::vector<float> preprocess_image(const Image& img, const PreprocessConfig& cfg);

// The eval transform's 8-bit stage alone (resize + crop/pad), H × W × 3: what PIL holds before
// ToTensor. Exposed for tests and for callers that want the cropped picture.
Image eval_crop_rgb(const Image& img, const PreprocessConfig& cfg);

// The eval transform's float stage alone: ToTensor and Normalize of an eval_crop_rgb result into
// 3 × H × W float32. preprocess_image = normalize_crop(eval_crop_rgb(...)); callers that keep many
// images (schedule search) store the 8-bit crops, a quarter of the floats' memory.
void normalize_crop(const Image& crop, const PreprocessConfig& cfg, float* out);

}  // namespace pomt
