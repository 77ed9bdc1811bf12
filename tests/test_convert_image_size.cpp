// Models at another image size: the position embedding resampler against a plain double-precision
// reference of the same formula, `pomt convert --image-size` against timm's resize_224 fixtures,
// the C++/Python byte identity, and bad sizes.
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "core/file_util.h"
#include "core/json.h"
#include "core/npy.h"
#include "doctest/doctest.h"
#include "tests/test_util.h"
#include "vit/forward.h"
#include "weights_tools/convert.h"
#include "weights_tools/pos_embed_resample.h"

using namespace pomt;

namespace {

// PyTorch's interpolate(mode='bicubic', antialias=True, align_corners=False) written out in double as
// a 2-D sum: out[r][c] = Σ_a Σ_b w(r, a)·w(c, b)·in[a][b], with the per-axis weights of PIL's filter.
double keys(double x) {
    const double a = -0.5;
    x = std::fabs(x);
    if (x < 1) return (a + 2) * x * x * x - (a + 3) * x * x + 1;
    if (x < 2) return a * x * x * x - 5 * a * x * x + 8 * a * x - 4 * a;
    return 0;
}

// Row i: the weight of every input index (zero outside its support).
std::vector<std::vector<double>> reference_weights(int in, int out) {
    const double scale = double(in) / out, stretch = std::max(scale, 1.0), support = 2 * stretch;
    std::vector<std::vector<double>> w(size_t(out), std::vector<double>(size_t(in), 0.0));
    for (int i = 0; i < out; ++i) {
        const double center = scale * (i + 0.5);
        const int lo = std::max(int(center - support + 0.5), 0), hi = std::min(int(center + support + 0.5), in);
        double total = 0;
        for (int j = lo; j < hi; ++j) total += w[i][j] = keys((j - center + 0.5) / stretch);
        for (int j = lo; j < hi; ++j) w[i][j] /= total;
    }
    return w;
}

std::vector<double> reference_resample(const std::vector<float>& pos, int prefix, int g, int G, int D) {
    std::vector<double> out(pos.begin(), pos.begin() + prefix * D);
    out.resize(size_t(prefix + G * G) * D, 0.0);
    const auto w = reference_weights(g, G);
    for (int r = 0; r < G; ++r)
        for (int c = 0; c < G; ++c)
            for (int a = 0; a < g; ++a)
                for (int b = 0; b < g; ++b)
                    for (int d = 0; d < D; ++d)
                        out[size_t(prefix + r * G + c) * D + d] +=
                            w[r][a] * w[c][b] * pos[size_t(prefix + a * g + b) * D + d];
    return out;
}

json::Value read_json(const std::string& path) {
    std::vector<unsigned char> bytes = read_file_bytes(path, "json");
    return json::parse(std::string(bytes.begin(), bytes.end()), path);
}

// The resize_224 fixture of `name`: converted with --image-size 224 (library and CLI), every
// ISA level within cases.json's tol with the same top-1, and the size kept in the .pomt file.
// `spelled_out`, when given, replaces the folder's config.json: the same model written as
// model_args of a plain ViT name, so the resampling is checked whatever names pomt resolves.
void check_resized_fixture(const std::string& name, const std::string& spelled_out = "") {
    const std::string folder = pomt_test::shared_dir() + "/fixtures/" + name;
    std::string config = folder + "/config.json", source = folder;
    if (!spelled_out.empty()) {
        config = pomt_test::temp_dir() + "/config.json";
        pomt_test::write_bytes(config, spelled_out);
        source = folder + "/model.safetensors";
    }
    const json::Value cases = read_json(folder + "/resize_224/cases.json");
    const int size = int(cases.find("image_size")->as_int("image_size"));
    const double tol = cases.find("tol")->as_number("tol");
    const int tokens = int(cases.find("tokens")->as_int("tokens"));
    ConvertOptions o;
    o.input = source;
    o.config_path = config;
    o.output = pomt_test::temp_dir() + "/resized.pomt";
    o.image_size = size;
    convert_timm_weights(o);
    auto model = Model::load(o.output);
    const ModelConfig& c = model->config();
    CHECK(c.img_size == size);
    CHECK(c.num_tokens() == tokens);
    const json::Value hub = read_json(config);
    const json::Value& pretrained = *hub.find("pretrained_cfg");
    CHECK(c.architecture == hub.find("architecture")->as_string("architecture"));  // the name keeps its default size
    CHECK(model->meta().preprocess.input_size[1] == size);
    CHECK(model->meta().preprocess.input_size[2] == size);
    CHECK(model->meta().preprocess.crop_pct == pretrained.find("crop_pct")->as_number("crop_pct"));

    NpyArray x = read_npy(folder + "/resize_224/input.npy"), ref = read_npy(folder + "/resize_224/logits.npy");
    REQUIRE(x.shape == std::vector<int64_t>{1, 3, size, size});
    auto check_logits = [&](const std::vector<float>& got, const std::string& how) {
        REQUIRE(got.size() == ref.data.size());
        double diff = 0;
        for (size_t i = 0; i < got.size(); ++i) diff = std::max(diff, double(std::fabs(got[i] - ref.data[i])));
        INFO(name << " at " << size << " (" << how << "): max |Δ| = " << diff << ", tol " << tol);
        CHECK(diff <= tol);
        CHECK(std::max_element(got.begin(), got.end()) - got.begin() ==
              std::max_element(ref.data.begin(), ref.data.end()) - ref.data.begin());
    };
    pomt_test::for_each_isa([&](Isa isa) {
        Session session(model, 2);
        check_logits(session.run(x.data.data(), 1), isa_name(isa));
    });

    // The command line: convert --image-size, then run.
    const std::string dir = pomt_test::temp_dir();
    auto r = pomt_test::run_pomt(
        {"convert", source, "--config", config, "--image-size", std::to_string(size), "-o", dir + "/m.pomt", "--quiet"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(pomt_test::read_bytes(dir + "/m.pomt") == pomt_test::read_bytes(o.output));
    r = pomt_test::run_pomt({"run", "-m", dir + "/m.pomt", "--input", folder + "/resize_224/input.npy", "--output",
                             dir + "/y.npy"});
    REQUIRE(r.exit_code == 0);
    check_logits(read_npy(dir + "/y.npy").data, "pomt run");
}

}  // namespace

TEST_CASE("pos_embed resample: the float kernel against the double reference, down, up and identity") {
    struct Case {
        int prefix, g, G, D;
    };
    // 37 → 16 is DINOv2 518 → 224, 16 → 14 is 256 → 224 at patch 16, 14 → 24 / 16 → 37 upsample;
    // 1 and 2 cells and odd ratios exercise the clipped supports at the edges.
    for (Case k : {Case{5, 37, 16, 8}, Case{0, 16, 14, 6}, Case{1, 14, 24, 5}, Case{0, 16, 37, 3}, Case{2, 7, 3, 4},
                   Case{1, 5, 9, 3}, Case{0, 1, 4, 2}, Case{1, 4, 1, 2}, Case{0, 2, 3, 3}, Case{4, 24, 24, 3}}) {
        CAPTURE(k.prefix);
        CAPTURE(k.g);
        CAPTURE(k.G);
        std::vector<float> pos = pomt_test::random_floats(size_t(k.prefix + k.g * k.g) * k.D, unsigned(k.g * 100 + k.G));
        std::vector<float> got = resample_pos_embed(pos, k.prefix, k.g, k.G, k.D);
        std::vector<double> want = reference_resample(pos, k.prefix, k.g, k.G, k.D);
        REQUIRE(got.size() == want.size());
        double diff = 0;
        for (size_t i = 0; i < got.size(); ++i) diff = std::max(diff, std::fabs(got[i] - want[i]));
        CHECK(diff < 3e-6);  // float32 rounding of values in [-1, 1]
        for (int i = 0; i < k.prefix * k.D; ++i) REQUIRE(got[size_t(i)] == pos[size_t(i)]);  // prefix rows untouched
        if (k.g == k.G) CHECK(got == pos);
    }
    // A constant grid stays constant (the weights are normalised), also where the support is clipped.
    std::vector<float> ones(size_t(37 * 37), 1.0f);
    for (float v : resample_pos_embed(ones, 0, 37, 16, 1)) CHECK(v == doctest::Approx(1.0).epsilon(1e-6));
    for (float v : resample_pos_embed(std::vector<float>(196, 1.0f), 0, 14, 37, 1))
        CHECK(v == doctest::Approx(1.0).epsilon(1e-6));
    // Downsampling widens the filter (antialiasing): an output cell reads 2·2·scale + 1 inputs, not 4.
    ResampleAxis ax = antialiased_bicubic_axis(37, 16);
    CHECK(*std::max_element(ax.count.begin(), ax.count.end()) > 4);
    ResampleAxis up = antialiased_bicubic_axis(16, 37);
    CHECK(*std::max_element(up.count.begin(), up.count.end()) == 4);
    pomt_test::expect_error([] { resample_pos_embed(std::vector<float>(11), 1, 3, 2, 1); }, "do not hold");
}

// The two resize_224 models spelled out as model_args (timm's definitions of the names, depth 3, embed 96).
const char* kDinov2Reg4Args = R"({"architecture":"vit_small_patch16_224","num_classes":0,"global_pool":"token",
  "model_args":{"embed_dim":96,"depth":3,"num_heads":3,"img_size":518,"patch_size":14,"reg_tokens":4,
                "no_embed_class":true,"init_values":1e-5,"num_classes":0},
  "pretrained_cfg":{"input_size":[3,518,518],"interpolation":"bicubic","crop_pct":1.0,
                    "mean":[0.485,0.456,0.406],"std":[0.229,0.224,0.225]}})";
const char* kMediumGapArgs = R"({"architecture":"vit_base_patch16_224","num_classes":1000,"global_pool":"avg",
  "model_args":{"embed_dim":96,"depth":3,"num_heads":3,"img_size":256,"class_token":false,"global_pool":"avg",
                "fc_norm":false,"qkv_bias":false,"init_values":1e-6,"num_classes":1000},
  "pretrained_cfg":{"input_size":[3,256,256],"interpolation":"bicubic","crop_pct":0.95,"mean":[0.5,0.5,0.5],"std":[0.5,0.5,0.5]}})";

TEST_CASE("image size: the resize_224 weights spelled out as model_args match timm (convert --image-size)") {
    POMT_REQUIRE_SHARED("fixtures/gap_d3/resize_224/logits.npy", p);
    POMT_REQUIRE_SHARED("fixtures/dinov2_reg4_d3/resize_224/logits.npy", q);
    check_resized_fixture("dinov2_reg4_d3", kDinov2Reg4Args);  // 4 registers + class token, no_embed_class: 1369 → 256 patches
    check_resized_fixture("gap_d3", kMediumGapArgs);           // no prefix at all: 256 → 196 patches
}

TEST_CASE("image size: DINOv2 + registers resized to 224 matches timm (convert --image-size)") {
    POMT_REQUIRE_SHARED("fixtures/dinov2_reg4_d3/resize_224/logits.npy", p);
    check_resized_fixture("dinov2_reg4_d3");
}

TEST_CASE("image size: average pooling, no class token, resized to 224 matches timm (convert --image-size)") {
    POMT_REQUIRE_SHARED("fixtures/gap_d3/resize_224/logits.npy", p);
    check_resized_fixture("gap_d3");
}

TEST_CASE("image size: convert_timm.py --image-size writes the bytes of pomt convert --image-size") {
    POMT_REQUIRE_SHARED("fixtures/deit3_micro/model.safetensors", p);
    if (!pomt_test::python_has("sys", "python3 is not installed")) return;
    // micro: one class token resampled around; deit3_micro: no_embed_class (every row resampled).
    for (const char* name : {"micro", "deit3_micro"})
        for (int size : {160, 288}) {
            CAPTURE(name);
            CAPTURE(size);
            const std::string folder = pomt_test::shared_dir() + "/fixtures/" + name, dir = pomt_test::temp_dir();
            ConvertOptions o;
            o.input = folder;
            o.output = dir + "/cpp.pomt";
            o.image_size = size;
            convert_timm_weights(o);
            auto r = pomt_test::run_convert_timm(
                {folder, "--quiet", "--image-size", std::to_string(size), "-o", dir + "/py.pomt"});
            INFO(r.err);
            REQUIRE(r.exit_code == 0);
            CHECK(pomt_test::read_bytes(o.output) == pomt_test::read_bytes(dir + "/py.pomt"));
            CHECK(Model::load(o.output)->config().img_size == size);
        }
}

TEST_CASE("image size: bad --image-size values get one line and exit 2") {
    POMT_REQUIRE_SHARED("fixtures/micro/model.safetensors", p);
    const std::string folder = pomt_test::shared_dir() + "/fixtures/micro", dir = pomt_test::temp_dir();
    struct Bad {
        const char* value;
        const char* needle;
    };
    for (Bad b : {Bad{"225", "not a multiple of the patch size 16"}, Bad{"0", "--image-size must be between 1 and 4096"},
                  Bad{"8", "not a multiple of the patch size 16"}, Bad{"99999", "--image-size must be between 1 and 4096"},
                  Bad{"-16", "between 1 and 4096"}, Bad{"2x", "must be an integer"}}) {
        CAPTURE(b.value);
        for (bool random : {false, true}) {
            std::vector<std::string> args = {"convert", "--image-size", b.value, "-o", dir + "/bad.pomt"};
            if (random) {
                args.insert(args.end(), {"--random", "--arch", "vit_tiny_patch16_224"});
            } else {
                args.push_back(folder);
            }
            auto r = pomt_test::run_pomt(args);
            INFO(r.err);
            CHECK(r.exit_code == 2);
            CHECK(r.err.find(b.needle) != std::string::npos);
            CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
            CHECK_FALSE(pomt_test::file_exists(dir + "/bad.pomt"));
        }
    }
    // The library refuses them as well; a good size on a random model gives a model of that size.
    ModelConfig cfg = config_for_architecture("vit_tiny_patch16_224");
    PreprocessConfig pre;
    pomt_test::expect_error([&] { set_image_size(100, &cfg, &pre); }, "not a multiple of the patch size 16");
    auto r = pomt_test::run_pomt({"convert", "--random", "--arch", "vit_tiny_patch16_224", "--image-size", "96", "-o",
                                  dir + "/r.pomt", "--quiet"});
    REQUIRE(r.exit_code == 0);
    auto m = Model::load(dir + "/r.pomt");
    CHECK(m->config().img_size == 96);
    CHECK(m->config().num_tokens() == 37);
    CHECK(m->meta().preprocess.input_size[2] == 96);
}
