// The whole model against timm: every ../shared/fixtures folder and the real pretrained ViT-Tiny,
// converted by `pomt convert`'s library code and run by the fast Session and the reference pass.
#include <algorithm>
#include <cmath>

#include "doctest/doctest.h"
#include "kernels/isa.h"
#include "tests/test_util.h"
#include "core/file_util.h"
#include "vit/forward.h"
#include "core/json.h"
#include "core/npy.h"
#include "weights_tools/convert.h"

using namespace pomt;

namespace {

struct Comparison {
    double max_abs_diff = 0, max_abs_ref = 0;
    bool top1_equal = true;
};

Comparison compare_logits(const std::vector<float>& got, const NpyArray& ref) {
    Comparison c;
    REQUIRE(got.size() == ref.data.size());
    const int64_t classes = ref.shape.back(), rows = int64_t(ref.data.size()) / classes;
    for (int64_t r = 0; r < rows; ++r) {
        const float* g = got.data() + r * classes;
        const float* e = ref.data.data() + r * classes;
        if (std::max_element(g, g + classes) - g != std::max_element(e, e + classes) - e) c.top1_equal = false;
        for (int64_t k = 0; k < classes; ++k) {
            c.max_abs_diff = std::max(c.max_abs_diff, double(std::fabs(g[k] - e[k])));
            c.max_abs_ref = std::max(c.max_abs_ref, double(std::fabs(e[k])));
        }
    }
    return c;
}

std::shared_ptr<const Model> convert_and_load(const std::string& folder) {
    ConvertOptions o;
    o.input = folder;
    o.output = pomt_test::temp_dir() + "/model.pomt";
    convert_timm_weights(o);
    return Model::load(o.output);
}

double baseline_tol(const std::string& folder) {
    std::vector<unsigned char> bytes = read_file_bytes(folder + "/cases.json", "cases");
    json::Value cases = json::parse(std::string(bytes.begin(), bytes.end()), "cases.json");
    const json::Value* tol = cases.find("baseline_tol");
    REQUIRE(tol);
    return tol->as_number("baseline_tol");
}

void check_fixture(const std::string& name) {
    const std::string folder = pomt_test::shared_dir() + "/fixtures/" + name;
    auto model = convert_and_load(folder);
    const double tol = baseline_tol(folder);
    Session session(model, 2);
    for (const char* pair : {"input", "image_pre"}) {
        std::string in = std::string(pair), out = in == "input" ? "logits" : "image_logits";
        NpyArray x = read_npy(folder + "/" + in + ".npy"), ref = read_npy(folder + "/" + out + ".npy");
        std::vector<float> got = session.run(x.data.data(), int(x.shape[0]));
        Comparison c = compare_logits(got, ref);
        INFO(name << " " << in << ": max |Δlogit| = " << c.max_abs_diff << ", tol " << tol);
        CHECK(c.max_abs_diff <= tol);
        CHECK(c.top1_equal);
    }
}

}  // namespace

TEST_CASE("fixture micro matches timm") {
    POMT_REQUIRE_SHARED("fixtures/micro/model.safetensors", p);
    check_fixture("micro");
}

TEST_CASE("fixture deit_tiny matches timm") {
    POMT_REQUIRE_SHARED("fixtures/deit_tiny/model.safetensors", p);
    check_fixture("deit_tiny");
}

TEST_CASE("fixture deit_tiny_distilled_d2 matches timm") {
    POMT_REQUIRE_SHARED("fixtures/deit_tiny_distilled_d2/model.safetensors", p);
    check_fixture("deit_tiny_distilled_d2");
}

TEST_CASE("fixture deit3_micro matches timm") {
    POMT_REQUIRE_SHARED("fixtures/deit3_micro/model.safetensors", p);
    check_fixture("deit3_micro");
}

TEST_CASE("fixture dinov2_reg4_d3 matches timm") {
    POMT_REQUIRE_SHARED("fixtures/dinov2_reg4_d3/model.safetensors", p);
    check_fixture("dinov2_reg4_d3");
}

TEST_CASE("every fixture matches timm at every ISA level the CPU has") {
    POMT_REQUIRE_SHARED("fixtures/micro/model.safetensors", p);
    auto all_fixtures = [&] {
        for (const std::string& name : pomt_test::fixture_names()) {
            if (pomt_test::skip_long_fixture_here(name)) continue;
            CAPTURE(name);
            check_fixture(name);
        }
    };
    if (!pomt_test::sweep_fixtures_every_isa_here()) return all_fixtures();  // the default level only
    pomt_test::for_each_isa([&](Isa isa) {
        CAPTURE(isa_name(isa));
        all_fixtures();
    });
}

// The reference forward pass reads like timm: it must match timm on every family by itself.
TEST_CASE("fixtures: the reference forward pass matches timm on every family") {
    POMT_REQUIRE_SHARED("fixtures/siglip_map_d3/model.safetensors", p);
    for (const std::string& name : pomt_test::fixture_names()) {
        if (name == "deit_tiny" || name == "micro") continue;  // micro: the test below; deit_tiny: 12 blocks, slow
        if (pomt_test::skip_long_fixture_here(name)) continue;
        CAPTURE(name);
        const std::string folder = pomt_test::shared_dir() + "/fixtures/" + name;
        auto model = convert_and_load(folder);
        NpyArray x = read_npy(folder + "/input.npy"), ref = read_npy(folder + "/logits.npy");
        Comparison c = compare_logits(forward_reference(*model, x.data.data(), 1), ref);
        INFO(name << ": max |Δlogit| = " << c.max_abs_diff);
        CHECK(c.max_abs_diff <= baseline_tol(folder));
        CHECK(c.top1_equal);
    }
}

TEST_CASE("reference forward pass matches timm and the fast path on micro") {
    POMT_REQUIRE_SHARED("fixtures/micro/model.safetensors", p);
    const std::string folder = pomt_test::shared_dir() + "/fixtures/micro";
    auto model = convert_and_load(folder);
    NpyArray x = read_npy(folder + "/input.npy"), ref = read_npy(folder + "/logits.npy");
    std::vector<float> slow = forward_reference(*model, x.data.data(), 1);
    Comparison c = compare_logits(slow, ref);
    CHECK(c.max_abs_diff <= baseline_tol(folder));
    CHECK(c.top1_equal);
    Session session(model, 1);
    std::vector<float> fast = session.run(x.data.data(), 1);
    for (size_t i = 0; i < fast.size(); ++i) CHECK(std::fabs(fast[i] - slow[i]) <= 1e-4f);
}

TEST_CASE("real pretrained ViT-Tiny matches timm on 8 ImageNet images") {
    if (pomt_test::skip_heavy_test_here()) return;
    POMT_REQUIRE_SHARED("models/vit_tiny_patch16_224.augreg_in21k_ft_in1k/model.safetensors", p);
    const std::string folder = pomt_test::shared_dir() + "/models/vit_tiny_patch16_224.augreg_in21k_ft_in1k";
    auto model = convert_and_load(folder);
    NpyArray x = read_npy(folder + "/reference/input.npy"), ref = read_npy(folder + "/reference/logits.npy");
    Session session(model, 2);
    std::vector<float> got = session.run(x.data.data(), int(x.shape[0]));
    Comparison c = compare_logits(got, ref);
    INFO("max |Δlogit| = " << c.max_abs_diff << " of max |logit| " << c.max_abs_ref);
    CHECK(c.max_abs_diff <= 1e-4 * c.max_abs_ref);
    CHECK(c.top1_equal);
    CHECK(model->class_names().size() == 1000);
}

TEST_CASE("a batch gives the same logits as its images one at a time") {
    auto model = Model::random("vit_tiny_patch16_224", 3);
    const ModelConfig& c = model->config();
    const size_t img = size_t(3) * c.img_size * c.img_size;
    std::vector<float> images(3 * img);
    for (size_t i = 0; i < images.size(); ++i) images[i] = float(std::sin(double(i) * 0.001));
    Session session(model, 2);
    std::vector<float> all = session.run(images.data(), 3);
    for (int b = 0; b < 3; ++b) {
        std::vector<float> one = session.run(images.data() + b * img, 1);
        for (int k = 0; k < session.outputs(); ++k) CHECK(one[k] == doctest::Approx(all[b * session.outputs() + k]).epsilon(1e-5));
    }
}

TEST_CASE("random models: fast path matches the reference for every supported variant") {
    struct Variant {
        const char* arch;
        const char* args;
    };
    // Small dimensions keep the reference pass quick; each variant exercises a different timm option.
    const Variant variants[] = {
        {"vit_tiny_patch16_224", R"({"embed_dim":32,"depth":2,"num_heads":2,"num_classes":7,"img_size":64})"},
        {"deit_tiny_distilled_patch16_224", R"({"embed_dim":32,"depth":1,"num_heads":4,"num_classes":5,"img_size":32})"},
        {"deit3_small_patch16_224", R"({"embed_dim":48,"depth":2,"num_heads":3,"num_classes":3,"img_size":48})"},
        {"vit_small_patch32_224", R"({"embed_dim":32,"depth":1,"num_heads":2,"global_pool":"avg","num_classes":4,"img_size":64})"},
        {"vit_base_patch16_224", R"({"embed_dim":32,"depth":1,"num_heads":2,"class_token":false,"global_pool":"avg","num_classes":6,"img_size":32})"},
        {"vit_tiny_patch16_224", R"({"embed_dim":32,"depth":1,"num_heads":2,"reg_tokens":4,"pre_norm":true,"qkv_bias":false,"mlp_ratio":2.5,"num_classes":0,"img_size":32})"},
        {"vit_base_patch32_clip_quickgelu_224", R"({"embed_dim":32,"depth":2,"num_heads":2,"num_classes":5,"img_size":64})"},
        {"vit_base_patch16_siglip_224", R"({"embed_dim":48,"depth":2,"num_heads":3,"mlp_ratio":2.572,"num_classes":3,"img_size":48})"},
        {"vit_so150m_patch16_reg4_map_256", R"({"embed_dim":32,"depth":1,"num_heads":2,"num_classes":0,"img_size":32,"fc_norm":true})"},
        {"vit_small_patch14_reg4_dinov2", R"({"embed_dim":32,"depth":2,"num_heads":2,"num_classes":4,"img_size":56})"},
        {"vit_medium_patch16_gap_256", R"({"embed_dim":32,"depth":2,"num_heads":2,"num_classes":4,"img_size":32})"},
    };
    for (const Variant& v : variants) {
        CAPTURE(v.arch);
        CAPTURE(v.args);
        json::Value hub = json::Value::object();
        hub.set("architecture", json::Value::string(v.arch));
        hub.set("model_args", json::parse(v.args, "args"));
        ModelConfig cfg;
        PreprocessConfig pre;
        hub.set("pretrained_cfg", json::parse(R"({"input_size":[3,)" + std::to_string(int(json::parse(v.args, "a").find("img_size")->as_number(""))) + "," + std::to_string(int(json::parse(v.args, "a").find("img_size")->as_number(""))) + "]}", "pc"));
        config_from_hub_json(hub, "", "test", &cfg, &pre);
        auto model = Model::random(cfg, 11);
        std::vector<float> images(size_t(2) * 3 * cfg.img_size * cfg.img_size);
        for (size_t i = 0; i < images.size(); ++i) images[i] = float(std::cos(double(i) * 0.37));
        std::vector<float> ref = forward_reference(*model, images.data(), 2);
        Session session(model, 2);
        std::vector<float> fast = session.run(images.data(), 2);
        REQUIRE(fast.size() == ref.size());
        for (size_t i = 0; i < ref.size(); ++i) CHECK(fast[i] == doctest::Approx(ref[i]).epsilon(1e-4).scale(1.0));
    }
}

// A feature extractor (DINOv2, num_classes 0): `run` writes (N, embed_dim) features equal to timm's;
// `classify` and `eval` refuse it in one line with exit code 2; a hub folder whose tensors do not
// match its config is refused in one line too.
TEST_CASE("cli: a model without a classifier head, and a hub folder inconsistent with its tensors") {
    POMT_REQUIRE_SHARED("fixtures/dinov2_reg4_d3/model.safetensors", p);
    const std::string folder = pomt_test::shared_dir() + "/fixtures/dinov2_reg4_d3";
    const std::string dir = pomt_test::temp_dir(), model = dir + "/dino.pomt";
    REQUIRE(pomt_test::run_pomt({"convert", folder, "-o", model}).exit_code == 0);
    pomt_test::CommandResult r =
        pomt_test::run_pomt({"run", "-m", model, "--input", folder + "/input.npy", "--output", dir + "/f.npy"});
    REQUIRE(r.exit_code == 0);
    NpyArray got = read_npy(dir + "/f.npy"), ref = read_npy(folder + "/logits.npy");
    CHECK(got.shape == std::vector<int64_t>{1, 96});
    CHECK(compare_logits(got.data, ref).max_abs_diff <= baseline_tol(folder));
    pomt_test::expect_cli_error(pomt_test::run_pomt({"classify", "-m", model, folder + "/image.png"}), "no classifier head");
    pomt_test::write_bytes(dir + "/labels.txt", folder + "/image.png 0\n");
    pomt_test::expect_cli_error(pomt_test::run_pomt({"eval", "-m", model, "--data", dir + "/labels.txt"}), "no classifier head");

    // The same tensors under a config that disagrees with them (another depth, another pooling).
    const std::string hub = pomt_test::temp_dir();
    std::string config = pomt_test::read_bytes(folder + "/config.json");
    pomt_test::write_bytes(hub + "/model.safetensors", pomt_test::read_bytes(folder + "/model.safetensors"));
    pomt_test::write_bytes(hub + "/config.json", config.replace(config.find("\"depth\": 3"), 10, "\"depth\": 4"));
    pomt_test::expect_cli_error(pomt_test::run_pomt({"convert", hub, "-o", dir + "/x.pomt"}), "blocks.3");
    CHECK_FALSE(pomt_test::file_exists(dir + "/x.pomt"));
}
