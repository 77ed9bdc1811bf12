// int8 calibration (quantize/calibrate.h): the SmoothQuant folding leaves the fp32 model's function
// unchanged, and moves each channel's range where the formula says.
#include <algorithm>
#include <cmath>

#include "doctest/doctest.h"
#include "quantize/calibrate.h"
#include "tests/test_util.h"
#include "vit/forward.h"
#include "vit/model.h"
#include "vit/weights_file.h"

using namespace pomt;

namespace {

// Random weights give near-uniform channel ranges; these outlier channels (scaled norm1/norm2
// gammas and V rows) make the smoothing factors far from 1 so the folding is really exercised.
std::shared_ptr<const Model> model_with_outliers(const ModelConfig& c, const std::string& dir) {
    auto base = Model::random(c, 11);
    auto values = [&](const TensorSpec& s) {
        std::vector<float> v = base->tensor_values(s);
        const bool gamma = s.name.find("norm1.weight") != std::string::npos ||
                           s.name.find("norm2.weight") != std::string::npos;
        if (gamma)
            for (size_t i = 0; i < v.size(); i += 5) v[i] *= 20.0f;
        if (s.name.find("attn.qkv.weight") != std::string::npos)
            for (size_t i = size_t(2 * c.embed_dim + 3) * c.embed_dim; i < size_t(2 * c.embed_dim + 4) * c.embed_dim; ++i)
                v[i] *= 30.0f;  // one V output channel: an outlier at proj's input
        return v;
    };
    write_weights_file(dir + "/outliers.pomt", base->meta(), values);
    return Model::load(dir + "/outliers.pomt");
}

std::vector<float> random_image(const ModelConfig& c, int i) {
    return pomt_test::random_floats(size_t(3) * c.img_size * c.img_size, unsigned(100 + i), -2.0f, 2.0f);
}

ActivationRanges ranges_on_random_images(const std::shared_ptr<const Model>& m, int n, int threads, int samples = 8) {
    return measure_activation_ranges(m, n, [&](int i) { return random_image(m->config(), i); }, threads, samples);
}

double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
    double worst = 0, scale = 0;
    for (float v : b) scale = std::max(scale, double(std::fabs(v)));
    for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, double(std::fabs(a[i] - b[i])));
    return worst / scale;
}

}  // namespace

TEST_CASE("calibration: smoothing factors follow SmoothQuant's formula") {
    // w [2 × 3]: column maxima 2, 0.5, 0; activation maxima 8, 0.5, 3.
    const float w[] = {2.0f, -0.5f, 0.0f, -1.0f, 0.25f, 0.0f};
    std::vector<float> s = smoothing_factors({8.0f, 0.5f, 3.0f}, w, 2, 3, 0.5);
    CHECK(s[0] == doctest::Approx(std::sqrt(8.0 / 2.0)));
    CHECK(s[1] == doctest::Approx(1.0));
    CHECK(s[2] == 1.0f);  // an all-zero weight column is left alone
    s = smoothing_factors({8.0f, 0.0f, 3.0f}, w, 2, 3, 0.75);
    CHECK(s[0] == doctest::Approx(std::pow(8.0, 0.75) / std::pow(2.0, 0.25)));
    CHECK(s[1] == 1.0f);  // a channel never seen non-zero is left alone
}

TEST_CASE("calibration: folding the smoothing keeps the fp32 model's outputs and balances the ranges") {
    const std::string dir = pomt_test::temp_dir();
    const ModelConfig c = pomt_test::small_config(2, 4);
    auto fp32 = model_with_outliers(c, dir);
    const ActivationRanges ranges = ranges_on_random_images(fp32, 3, 2);
    REQUIRE(ranges.images == 3);

    // The smoothed model, written as fp32 and loaded: same logits up to float rounding.
    const double alpha = 0.5;
    write_weights_file(dir + "/smoothed.pomt", fp32->meta(), smoothed_values(fp32, fixed_smoothing(*fp32, ranges, alpha)));
    auto smoothed = Model::load(dir + "/smoothed.pomt");
    Session a(fp32, 1), b(smoothed, 1);
    for (int i = 0; i < 3; ++i) {
        const std::vector<float> image = random_image(c, i);
        CHECK(max_rel_diff(b.run(image.data(), 1), a.run(image.data(), 1)) < 1e-4);
    }

    // With α = 0.5 each smoothed channel's activation range becomes sqrt(max|X|·max|W|): measured
    // again on the smoothed model, every channel of every smoothable input says so.
    const ActivationRanges after = ranges_on_random_images(smoothed, 3, 2);
    const int D = c.embed_dim;
    double worst = 0;
    int outliers_seen = 0;
    for (int l = 0; l < c.depth; ++l) {
        const BlockParams& bp = fp32->blocks[size_t(l)];
        struct Input {
            const std::vector<float>& before;
            const std::vector<float>& after;
            const LinearParams& linear;
        } inputs[] = {{ranges.qkv_in[size_t(l)], after.qkv_in[size_t(l)], bp.qkv},
                      {ranges.proj_in[size_t(l)], after.proj_in[size_t(l)], bp.proj},
                      {ranges.fc1_in[size_t(l)], after.fc1_in[size_t(l)], bp.fc1}};
        for (const Input& in : inputs) {
            const float* w = fp32->linear_weight(in.linear);
            const int n = in.linear.packed.n;
            const float median = [&] {
                std::vector<float> v(in.before);
                std::nth_element(v.begin(), v.begin() + D / 2, v.end());
                return v[size_t(D / 2)];
            }();
            for (int k = 0; k < D; ++k) {
                float wmax = 0;
                for (int j = 0; j < n; ++j) wmax = std::max(wmax, std::fabs(w[size_t(j) * D + k]));
                const double want = std::sqrt(double(in.before[size_t(k)]) * wmax);
                worst = std::max(worst, std::fabs(in.after[size_t(k)] - want) / want);
                if (in.before[size_t(k)] > 5 * median) ++outliers_seen;
            }
        }
    }
    INFO("worst relative error of the balanced ranges: " << worst);
    CHECK(worst < 1e-3);
    CHECK(outliers_seen >= 3 * c.depth);  // the planted outliers were there to be balanced
}

TEST_CASE("calibration: the chosen smoothing is the best candidate on the sampled rows, none included") {
    const std::string dir = pomt_test::temp_dir();
    const ModelConfig c = pomt_test::small_config(2, 4);
    auto fp32 = model_with_outliers(c, dir);
    const ActivationRanges ranges = ranges_on_random_images(fp32, 3, 1, 2);
    REQUIRE(ranges.samples[kQkvInput][0].size() == size_t(2) * c.num_tokens() * c.embed_dim);
    const std::vector<double> alphas = {0.25, 0.5, 0.75};
    const SmoothingPlan plan = choose_smoothing(*fp32, ranges, alphas);
    const std::vector<float> none(size_t(c.embed_dim), 1.0f);
    int smoothed = 0;
    for (int input = 0; input < kSmoothableInputs; ++input)
        for (int l = 0; l < c.depth; ++l) {
            CAPTURE(input);
            CAPTURE(l);
            const std::vector<float>& chosen = plan.factors[input][size_t(l)];
            const double a = plan.alpha[input][size_t(l)];
            if (a < 0) {
                CHECK(chosen == none);
            } else {
                CHECK(chosen == fixed_smoothing(*fp32, ranges, a).factors[input][size_t(l)]);
                ++smoothed;
            }
            const double err = smoothing_error(*fp32, ranges, input, l, chosen);
            CHECK(err > 0);
            CHECK(err <= smoothing_error(*fp32, ranges, input, l, none));
            for (double other : alphas)
                CHECK(err <= smoothing_error(*fp32, ranges, input, l, fixed_smoothing(*fp32, ranges, other).factors[input][size_t(l)]));
        }
    INFO(plan.describe());
    CHECK(plan.describe().find("smoothquant on 6 Linears:") == 0);
    CHECK(smoothed > 0);  // the planted outliers are worth smoothing somewhere
}

TEST_CASE("calibration: pomt quantize --data smooths, records what it did, and the model runs") {
    const pomt_test::ModelAndImages mi = pomt_test::model_and_images(2, 5, 4);
    const std::string out = mi.dir + "/q.pomt";
    pomt_test::CommandResult r = pomt_test::run_pomt({"quantize", mi.model, "-o", out, "--data", mi.list, "--images", "3"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    auto q = Model::load(out);
    CHECK(q->is_int8());
    CHECK(q->meta().quantization.calibration == "smoothquant");
    const std::string text = q->meta().quantization.calibration_text();
    CHECK(text.find("images 3") != std::string::npos);
    CHECK(text.find("smoothquant on 6 Linears:") != std::string::npos);
    r = pomt_test::run_pomt({"info", out});
    CHECK(r.out.find("smoothquant (images 3") != std::string::npos);
    r = pomt_test::run_pomt({"eval", "-m", out, "--data", mi.list});
    INFO(r.err);
    CHECK(r.exit_code == 0);
}
