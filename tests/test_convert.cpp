// Conversion from safetensors: good files, the C++/Python byte-identity, and every malformed input.
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "doctest/doctest.h"
#include "tests/test_util.h"
#include "vit/config.h"
#include "vit/imagenet_classes.h"
#include "core/json.h"
#include "vit/model.h"
#include "core/npy.h"
#include "weights_tools/safetensors.h"
#include "weights_tools/convert.h"

using namespace pomt;
using pomt_test::run_pomt;

namespace {

const char* kTinyConfig = R"({"architecture":"vit_tiny_patch16_224","num_classes":5,
  "model_args":{"embed_dim":16,"depth":1,"num_heads":2,"num_classes":5,"img_size":32},
  "pretrained_cfg":{"input_size":[3,32,32],"interpolation":"bicubic","crop_pct":0.9,"mean":[0.5,0.5,0.5],"std":[0.5,0.5,0.5]}})";

struct Tensor {
    std::string name, dtype;
    std::vector<int64_t> shape;
    std::string raw;
};

std::string safetensors_bytes(const std::vector<Tensor>& tensors, const std::string& header_override = "") {
    json::Value h = json::Value::object();
    std::string data;
    for (const Tensor& t : tensors) {
        json::Value e = json::Value::object();
        e.set("dtype", json::Value::string(t.dtype));
        json::Value shape = json::Value::array();
        for (int64_t s : t.shape) shape.push_back(json::Value::number(double(s)));
        e.set("shape", shape);
        json::Value off = json::Value::array();
        off.push_back(json::Value::number(double(data.size())));
        off.push_back(json::Value::number(double(data.size() + t.raw.size())));
        e.set("data_offsets", off);
        h.set(t.name, e);
        data += t.raw;
    }
    std::string text = header_override.empty() ? h.dump() : header_override;
    std::string out;
    for (int i = 0; i < 8; ++i) out += char((uint64_t(text.size()) >> (8 * i)) & 0xff);
    return out + text + data;
}

// The tensors of a random tiny model, as a timm state dict would hold them (F32).
std::vector<Tensor> tiny_tensors(const ModelConfig& cfg) {
    auto model = Model::random(cfg, 5);
    std::vector<Tensor> out;
    for (const TensorSpec& s : expected_tensors(cfg)) {
        std::vector<float> v = model->tensor_values(s);
        out.push_back({s.name, "F32", s.shape, std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4)});
    }
    return out;
}

ModelConfig tiny_cfg() {
    ModelConfig cfg;
    PreprocessConfig pre;
    config_from_hub_json(json::parse(kTinyConfig, "cfg"), "", "cfg", &cfg, &pre);
    return cfg;
}

std::string write_hub(const std::vector<Tensor>& tensors, const std::string& config = kTinyConfig) {
    std::string dir = pomt_test::temp_dir();
    pomt_test::write_bytes(dir + "/config.json", config);
    pomt_test::write_bytes(dir + "/model.safetensors", safetensors_bytes(tensors));
    return dir;
}

// Both writers compared on version 2 files: every Linear weight in panels, so the packing (and
// its zero padding) is part of what must be byte-identical.
void expect_version2_panels(const std::string& bytes, const ModelConfig& cfg) {
    REQUIRE(bytes.size() > 24);
    CHECK(bytes[8] == 2);
    size_t marks = 0, linear = 0;
    for (size_t p = bytes.find("\"layout\":\"panels16\""); p != std::string::npos;
         p = bytes.find("\"layout\":\"panels16\"", p + 1))
        ++marks;
    for (const TensorSpec& s : expected_tensors(cfg)) linear += s.linear ? 1 : 0;
    CHECK(marks == linear);
    CHECK(linear == size_t(4 * cfg.depth + 1 + (cfg.num_classes > 0) + (cfg.num_classes > 0 && cfg.distilled)));
}

void expect_convert_error(const std::string& hub, const std::string& needle) {
    const std::string out = pomt_test::temp_dir() + "/out.pomt";
    auto r = run_pomt({"convert", hub, "-o", out});
    INFO("stderr: " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(needle) != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK_FALSE(pomt_test::file_exists(out));
}

}  // namespace

TEST_CASE("convert: F32, F16 and BF16 safetensors give the model back") {
    ModelConfig cfg = tiny_cfg();
    std::vector<Tensor> f32 = tiny_tensors(cfg);
    const std::string out_dir = pomt_test::temp_dir();
    ConvertOptions o;
    o.input = write_hub(f32);
    o.output = out_dir + "/a.pomt";
    ConvertReport rep = convert_timm_weights(o);
    CHECK(rep.tensors == int(f32.size()));
    auto model = Model::load(o.output);
    for (const Tensor& t : f32) {
        const float* p = model->tensor(t.name);
        REQUIRE(p);
        CHECK(std::memcmp(p, t.raw.data(), t.raw.size()) == 0);
    }
    // Half-precision inputs widen exactly: values representable in both formats come back unchanged.
    std::vector<Tensor> half = f32, bf = f32;
    for (size_t i = 0; i < f32.size(); ++i) {
        size_t n = f32[i].raw.size() / 4;
        half[i].dtype = "F16";
        bf[i].dtype = "BF16";
        half[i].raw.assign(n * 2, '\0');
        bf[i].raw.assign(n * 2, '\0');
        for (size_t k = 0; k < n; ++k) {
            // 1.5 is exact in F16 (0x3E00) and BF16 (0x3FC0).
            half[i].raw[2 * k + 1] = char(0x3E);
            bf[i].raw[2 * k] = char(0xC0);
            bf[i].raw[2 * k + 1] = char(0x3F);
        }
    }
    for (auto* variant : {&half, &bf}) {
        o.input = write_hub(*variant);
        o.output = out_dir + "/h.pomt";
        convert_timm_weights(o);
        auto m = Model::load(o.output);
        CHECK(m->tensor("head.weight")[0] == 1.5f);
        CHECK(m->tensor("pos_embed")[7] == 1.5f);
    }
    CHECK(half_to_float(0x0001) == doctest::Approx(5.960464477539063e-08));  // smallest subnormal
    CHECK(half_to_float(0xC000) == -2.0f);
    CHECK(std::isinf(half_to_float(0x7C00)));
}

TEST_CASE("convert: a bare .safetensors needs --config or --arch") {
    ModelConfig cfg = tiny_cfg();
    std::string dir = write_hub(tiny_tensors(cfg));
    auto r = run_pomt({"convert", dir + "/model.safetensors", "-o", dir + "/o.pomt"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("--config") != std::string::npos);
    r = run_pomt({"convert", dir + "/model.safetensors", "--config", dir + "/config.json", "-o", dir + "/o.pomt"});
    CHECK(r.exit_code == 0);
    r = run_pomt({"info", dir + "/o.pomt"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("embed_dim       16, depth 1, heads 2") != std::string::npos);
}

TEST_CASE("convert: unknown, missing, extra tensors and shape mismatches are refused by name") {
    ModelConfig cfg = tiny_cfg();
    std::vector<Tensor> t = tiny_tensors(cfg);
    SUBCASE("missing") {
        std::vector<Tensor> m(t.begin() + 1, t.end());
        expect_convert_error(write_hub(m), "tensor 'cls_token' is missing");
    }
    SUBCASE("extra") {
        std::vector<Tensor> m = t;
        m.push_back({"blocks.7.attn.qkv.weight", "F32", {1}, std::string(4, '\0')});
        expect_convert_error(write_hub(m), "unexpected tensor 'blocks.7.attn.qkv.weight'");
    }
    SUBCASE("shape mismatch") {
        std::vector<Tensor> m = t;
        for (Tensor& x : m)
            if (x.name == "head.bias") x.shape = {1, 5};
        expect_convert_error(write_hub(m), "tensor 'head.bias' has shape [1, 5]");
    }
    SUBCASE("unsupported dtype") {
        std::vector<Tensor> m = t;
        m[0].dtype = "I32";
        expect_convert_error(write_hub(m), "dtype I32");
    }
    SUBCASE("unknown architecture") {
        expect_convert_error(write_hub(t, R"({"architecture":"resnet50"})"), "unknown architecture 'resnet50'");
    }
    SUBCASE("unsupported model_args") {
        expect_convert_error(write_hub(t, R"({"architecture":"vit_tiny_patch16_224","model_args":{"qk_norm":true}})"),
                             "model_args.qk_norm is not supported");
    }
}

TEST_CASE("convert: malformed safetensors files") {
    const std::string dir = pomt_test::temp_dir();
    pomt_test::write_bytes(dir + "/config.json", kTinyConfig);
    auto with_weights = [&](const std::string& bytes, const std::string& needle) {
        pomt_test::write_bytes(dir + "/model.safetensors", bytes);
        expect_convert_error(dir, needle);
    };
    ModelConfig cfg = tiny_cfg();
    std::string good = safetensors_bytes(tiny_tensors(cfg));
    SUBCASE("too short") { with_weights("abc", "too short"); }
    SUBCASE("oversized header") {
        std::string b = good;
        b[5] = 0x10;  // 2^40 bytes
        with_weights(b, "larger than the format's 100 MB limit");
    }
    SUBCASE("header past the end") {
        std::string b = good;
        b[2] = 0x10;
        with_weights(b, "runs past the end");
    }
    SUBCASE("malformed header JSON") { with_weights(safetensors_bytes({}, "{\"a\":"), "malformed JSON"); }
    SUBCASE("not an object") { with_weights(safetensors_bytes({}, "[1,2]"), "not a JSON object"); }
    SUBCASE("data past the end") {
        with_weights(safetensors_bytes({}, R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})"),
                     "data runs past the end");
    }
    SUBCASE("size does not match the shape") {
        with_weights(safetensors_bytes({{"x", "F32", {4}, std::string(12, '\0')}},
                                       R"({"x":{"dtype":"F32","shape":[4],"data_offsets":[0,12]}})"),
                     "its shape needs 16");
    }
    SUBCASE("absurd shape") {
        with_weights(safetensors_bytes({}, R"({"x":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,0]}})"),
                     "absurd shape");
    }
    SUBCASE("overlapping tensors") {
        with_weights(safetensors_bytes({{"a", "F32", {1}, std::string(8, '\0')}},
                                       R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})"),
                     "overlap");
    }
    SUBCASE("unknown dtype") {
        with_weights(safetensors_bytes({}, R"({"x":{"dtype":"Q4","shape":[1],"data_offsets":[0,0]}})"), "unknown dtype 'Q4'");
    }
    SUBCASE("deeply nested JSON") {
        with_weights(safetensors_bytes({}, std::string(5000, '[') + std::string(5000, ']')), "nested too deeply");
    }
}

TEST_CASE("convert_timm.py writes byte-identical files") {
    POMT_REQUIRE_SHARED("fixtures/micro/model.safetensors", p);
    if (std::system("python3 -c 'import sys' 2>/dev/null") != 0) {
        pomt_test::skip_test("python3 is not installed");
        return;
    }
    for (const char* name : {"micro", "deit_tiny_distilled_d2", "deit3_micro"}) {
        CAPTURE(name);
        const std::string folder = pomt_test::shared_dir() + "/fixtures/" + name;
        const std::string dir = pomt_test::temp_dir();
        ConvertOptions o;
        o.input = folder;
        o.output = dir + "/cpp.pomt";
        convert_timm_weights(o);
        std::string cmd = "python3 weights_tools/convert_timm.py --quiet '" + folder + "' -o '" + dir + "/py.pomt'";
        REQUIRE(std::system(cmd.c_str()) == 0);
        const std::string cpp = pomt_test::read_bytes(dir + "/cpp.pomt");
        CHECK(cpp == pomt_test::read_bytes(dir + "/py.pomt"));
        expect_version2_panels(cpp, Model::load(o.output)->config());
    }
    // Also on a random model with every option the writers serialise (F16 input, avg pooling, registers).
    const char* config = R"({"architecture":"vit_small_patch16_224","num_classes":1000,"global_pool":"avg",
      "model_args":{"embed_dim":16,"depth":1,"num_heads":2,"img_size":32,"reg_tokens":2,"mlp_ratio":2.5,"init_values":1e-5},
      "pretrained_cfg":{"input_size":[3,32,32],"interpolation":"bilinear","crop_pct":0.95,"mean":[0.1,0.2,0.3],"std":[0.3,0.2,0.1]}})";
    ModelConfig cfg;
    PreprocessConfig pre;
    config_from_hub_json(json::parse(config, "cfg"), "", "cfg", &cfg, &pre);
    std::string hub = write_hub(tiny_tensors(cfg), config);
    ConvertOptions o;
    o.input = hub;
    o.output = hub + "/cpp.pomt";
    convert_timm_weights(o);
    std::string cmd = "python3 weights_tools/convert_timm.py --quiet '" + hub + "' -o '" + hub + "/py.pomt'";
    REQUIRE(std::system(cmd.c_str()) == 0);
    const std::string cpp = pomt_test::read_bytes(hub + "/cpp.pomt");
    CHECK(cpp == pomt_test::read_bytes(hub + "/py.pomt"));
    expect_version2_panels(cpp, cfg);  // MLP width 40 and 1000 classes: padded last panels
}

TEST_CASE("convert_timm.py refuses bad input with exit code 2 and no output") {
    if (std::system("python3 -c 'import sys' 2>/dev/null") != 0) {
        pomt_test::skip_test("python3 is not installed");
        return;
    }
    ModelConfig cfg = tiny_cfg();
    std::vector<Tensor> t = tiny_tensors(cfg);
    std::vector<Tensor> m(t.begin() + 1, t.end());
    std::string hub = write_hub(m);
    std::string cmd = "python3 weights_tools/convert_timm.py --quiet '" + hub + "' -o '" + hub + "/py.pomt' 2>/dev/null";
    int rc = std::system(cmd.c_str());
    CHECK(WEXITSTATUS(rc) == 2);
    CHECK_FALSE(pomt_test::file_exists(hub + "/py.pomt"));
}

TEST_CASE("compiled-in ImageNet class names equal weights_tools/imagenet_classes.txt") {
    std::string text = pomt_test::read_bytes("weights_tools/imagenet_classes.txt");
    REQUIRE(!text.empty());
    size_t pos = 0;
    for (int i = 0; i < 1000; ++i) {
        size_t nl = text.find('\n', pos);
        CHECK(text.substr(pos, nl - pos) == imagenet_class_entry(i));
        pos = nl + 1;
    }
    CHECK(imagenet_class_entry(1000) == nullptr);
}

TEST_CASE("convert --random writes the same model --arch runs") {
    const std::string dir = pomt_test::temp_dir();
    auto model = Model::random("vit_tiny_patch16_224", 4);
    const ModelConfig& c = model->config();
    std::vector<float> x(size_t(3) * c.img_size * c.img_size);
    for (size_t i = 0; i < x.size(); ++i) x[i] = float(std::sin(double(i)));
    write_npy(dir + "/x.npy", x.data(), {1, 3, c.img_size, c.img_size});
    REQUIRE(run_pomt({"convert", "--arch", "vit_tiny_patch16_224", "--random", "--seed", "4", "-o", dir + "/r.pomt"}).exit_code == 0);
    REQUIRE(run_pomt({"run", "-m", dir + "/r.pomt", "--input", dir + "/x.npy", "--output", dir + "/a.npy"}).exit_code == 0);
    REQUIRE(run_pomt({"run", "--arch", "vit_tiny_patch16_224", "--seed", "4", "--input", dir + "/x.npy", "--output", dir + "/b.npy"}).exit_code == 0);
    CHECK(read_npy(dir + "/a.npy").data == read_npy(dir + "/b.npy").data);
    auto r = run_pomt({"convert", "--random", "-o", dir + "/c.pomt"});
    CHECK(r.exit_code == 2);
    CHECK_FALSE(pomt_test::file_exists(dir + "/c.pomt"));
}
