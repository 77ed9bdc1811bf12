// What the reduced-precision model tests (int8, bf16) share: logits compared by relative L2 and
// top-1, deterministic test images, small models of timm's families, and a fixture converted to a
// .pomt model.
#pragma once
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "vit/config.h"
#include "vit/model.h"
#include "weights_tools/convert.h"

namespace pomt_test {

// ‖a − b‖ / ‖b‖ (infinity when the sizes differ, so a size mismatch fails any bound).
inline double relative_l2(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size()) return std::numeric_limits<double>::infinity();
    double d = 0, n = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        d += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
        n += double(b[i]) * b[i];
    }
    return std::sqrt(d / n);
}

// The top class of each row of `classes` logits.
inline std::vector<int> top1_per_row(const std::vector<float>& logits, int classes) {
    std::vector<int> top;
    for (size_t r = 0; r + size_t(classes) <= logits.size(); r += size_t(classes))
        top.push_back(int(std::max_element(logits.begin() + long(r), logits.begin() + long(r) + classes) -
                          (logits.begin() + long(r))));
    return top;
}

// Whether each row's top class in `got` is one a pass with relative noise `noise` could rank first
// in `want`: a class whose `want` logit is within noise·‖want row‖ of that row's maximum (with a
// gap wider than the noise, only want's own top-1).
inline bool top1_within_noise(const std::vector<float>& got, const std::vector<float>& want, int classes,
                              double noise) {
    if (got.size() != want.size()) return false;
    const std::vector<int> top = top1_per_row(got, classes);
    for (size_t i = 0; i < top.size(); ++i) {
        const float* row = want.data() + i * size_t(classes);
        double norm = 0;
        for (int c = 0; c < classes; ++c) norm += double(row[c]) * row[c];
        const float best = *std::max_element(row, row + classes);
        if (double(best) - row[top[i]] > noise * std::sqrt(norm)) return false;
    }
    return true;
}

// `batch` deterministic images for c's input size: two waves, `freq` setting the first.
inline std::vector<float> wave_images(const pomt::ModelConfig& c, int batch, double freq) {
    std::vector<float> images(size_t(batch) * 3 * c.img_size * c.img_size);
    for (size_t i = 0; i < images.size(); ++i) images[i] = float(std::sin(double(i) * freq) + 0.3 * std::cos(double(i) * 0.7));
    return images;
}

// A small model of one of timm's families (random weights): embed 48, 3 heads, 64 px, 10 classes.
inline pomt::ModelConfig small_variant(const char* arch, int depth) {
    pomt::ModelConfig c = pomt::config_for_architecture(arch);
    c.embed_dim = 48;
    c.num_heads = 3;
    c.mlp_hidden = 4 * 48;
    c.depth = depth;
    c.img_size = 64;
    if (c.num_classes > 0) c.num_classes = 10;
    return c;
}

// A fixture's (hub folder's) fp32 model, converted with pomt convert into a temp folder.
inline std::shared_ptr<const pomt::Model> converted_fixture(const std::string& folder) {
    pomt::ConvertOptions o;
    o.input = folder;
    o.output = temp_dir() + "/model.pomt";
    pomt::convert_timm_weights(o);
    return pomt::Model::load(o.output);
}

}  // namespace pomt_test
