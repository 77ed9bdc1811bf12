// A picture of what pruning kept of one image: the model's input de-normalised back to RGB, each
// patch drawn as the final token set sees it (from a TokenProvenance recorded in the real forward
// pass), and a legend strip under it. Drawing rules (docs/SCHEDULES.md, "A picture of the kept tokens"):
//   kept patch (its own token)          the input's pixels
//   dropped (Top-K, random, or a merged token dropped later)   dimmed: dim(v) = (3v + 5) / 10
//   merged by POMT into its extra token dimmed, with a magenta hatch on pixels where (x + y) % 4 = 0
//   merged by ToMe (a final token holding several patches)  filled with the group's mean colour
//                                       (as ToMe's own visualisation), its boundary at half that colour
// The legend lists the prefix tokens (class, distillation, registers) and the counts.
#pragma once
#include <cstdint>
#include <string>

#include "image/image.h"
#include "prune/token_provenance.h"
#include "vit/config.h"

namespace pomt {

struct TokenCounts {
    int tokens_before = 0, tokens_after = 0;  // the sequence after the embedding / after the last step
    int patches = 0, kept = 0, dropped = 0, pomt_merged = 0;
    int tome_groups = 0, tome_grouped = 0;  // final tokens holding ≥ 2 patches, and those patches
};

struct TokenPictureParts {
    Image picture;         // width = the input's width; height = the input's height + the legend strip
    int input_height = 0;  // rows [0, input_height) are the input
    std::string legend;    // the legend's text as one line
    TokenCounts counts;
};

// The dimming of a dropped or POMT-merged patch's pixel value.
inline uint8_t dim_pixel(uint8_t v) { return uint8_t((3 * v + 5) / 10); }
// The hatch colour of POMT-merged patches, and where it goes.
constexpr uint8_t kPomtHatch[3] = {255, 0, 255};
inline bool pomt_hatch_at(int x, int y) { return (x + y) % 4 == 0; }

// The input of image `image` of `prov`: `input` is its 3 × H × W float32 tensor, normalised with
// `pre`'s mean and std (the eval transform's output); `model` gives the patch grid and prefix tokens.
TokenPictureParts draw_token_picture(const float* input, const PreprocessConfig& pre, const ModelConfig& model,
                                     const TokenProvenance& prov, int image);

// The eval transform's output back to 8-bit RGB: round(255 · (t · std + mean)), clamped.
Image denormalize_input(const float* input, int height, int width, const PreprocessConfig& pre);

}  // namespace pomt
