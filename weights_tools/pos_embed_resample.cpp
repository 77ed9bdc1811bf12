#include "weights_tools/pos_embed_resample.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "pomt/error.h"

namespace pomt {

namespace {

// HelperInterpCubic::aa_filter<float>: Keys' cubic with a = -0.5, evaluated in float.
float keys_cubic(float x) {
    constexpr float a = -0.5f;
    x = std::fabs(x);
    if (x < 1.0f) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2.0f) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0.0f;
}

// Output = Σ_j in[first + j] · w[j], summed in float from j = 0 as ATen's interpolate_aa_single_dim.
void resample_rows(const float* const* in_rows, const float* w, int count, int dim, float* out) {
    if (count == 0) return std::fill(out, out + dim, 0.0f);
    for (int d = 0; d < dim; ++d) out[d] = in_rows[0][d] * w[0];
    for (int j = 1; j < count; ++j)
        for (int d = 0; d < dim; ++d) out[d] += in_rows[j][d] * w[j];
}

}  // namespace

ResampleAxis antialiased_bicubic_axis(int in_size, int out_size) {
    // The casts spell out ATen's promotions (HelperInterpBase::_compute_index_ranges_weights and
    // _compute_indices_min_size_weights_aa with scalar_t = float): `i + 0.5` and `… + 0.5` are double.
    const float scale = float(in_size) / float(out_size);
    const float support = scale >= 1.0f ? float(2.0 * double(scale)) : 2.0f;
    const int max_taps = int(std::ceil(support)) * 2 + 1;
    const float invscale = scale >= 1.0f ? float(1.0 / double(scale)) : 1.0f;
    ResampleAxis ax;
    for (int i = 0; i < out_size; ++i) {
        const float center = float(double(scale) * (double(i) + 0.5));
        const int64_t xmin = std::max<int64_t>(int64_t(double(center - support) + 0.5), 0);
        const int64_t xsize =
            std::clamp<int64_t>(std::min<int64_t>(int64_t(double(center + support) + 0.5), in_size) - xmin, 0, max_taps);
        std::vector<float> w(static_cast<size_t>(xsize));
        float total = 0.0f;
        for (int64_t j = 0; j < xsize; ++j) {
            w[size_t(j)] = keys_cubic(float((double(float(j + xmin) - center) + 0.5) * double(invscale)));
            total += w[size_t(j)];
        }
        if (total != 0.0f)
            for (float& v : w) v /= total;
        ax.first.push_back(int(xmin));
        ax.count.push_back(int(xsize));
        ax.weights.push_back(std::move(w));
    }
    return ax;
}

std::vector<float> resample_pos_embed(const std::vector<float>& pos, int prefix, int old_grid, int new_grid, int dim) {
    if (prefix < 0 || old_grid <= 0 || new_grid <= 0 || dim <= 0 ||
        pos.size() != size_t(prefix + old_grid * old_grid) * size_t(dim))
        fail("position embedding resample: " + std::to_string(pos.size()) + " values do not hold " +
             std::to_string(prefix) + " prefix rows and a " + std::to_string(old_grid) + "x" + std::to_string(old_grid) +
             " grid of " + std::to_string(dim));
    if (old_grid == new_grid) return pos;
    const size_t D = size_t(dim);
    const float* patches = pos.data() + size_t(prefix) * D;
    std::vector<float> out(size_t(prefix + new_grid * new_grid) * D);
    std::copy(pos.begin(), pos.begin() + std::ptrdiff_t(size_t(prefix) * D), out.begin());

    // Width first: row r of the old grid, columns resampled → (old_grid × new_grid) rows of D.
    const ResampleAxis ax = antialiased_bicubic_axis(old_grid, new_grid);
    std::vector<float> wide(size_t(old_grid) * size_t(new_grid) * D);
    std::vector<const float*> rows;
    for (int r = 0; r < old_grid; ++r)
        for (int c = 0; c < new_grid; ++c) {
            rows.clear();
            for (int j = 0; j < ax.count[c]; ++j) rows.push_back(patches + (size_t(r) * old_grid + ax.first[c] + j) * D);
            resample_rows(rows.data(), ax.weights[c].data(), ax.count[c], dim, &wide[(size_t(r) * new_grid + c) * D]);
        }
    // Then the height: column c, rows resampled.
    float* dst = out.data() + size_t(prefix) * D;
    for (int r = 0; r < new_grid; ++r)
        for (int c = 0; c < new_grid; ++c) {
            rows.clear();
            for (int j = 0; j < ax.count[r]; ++j) rows.push_back(&wide[(size_t(ax.first[r] + j) * new_grid + c) * D]);
            resample_rows(rows.data(), ax.weights[r].data(), ax.count[r], dim, dst + (size_t(r) * new_grid + c) * D);
        }
    return out;
}

}  // namespace pomt
