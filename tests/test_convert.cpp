// Conversion from safetensors: good files, every malformed input, and convert_timm.py in front of it.
#include <algorithm>
#include <cmath>
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

// convert_timm.py writes nothing itself: each source must become the file pomt convert writes
// from the equivalent hub folder, byte for byte.
TEST_CASE("convert_timm.py: a hub folder and a bare .safetensors give the file pomt convert writes") {
    POMT_REQUIRE_SHARED("fixtures/micro/model.safetensors", p);
    if (!pomt_test::python_has("sys", "python3 is not installed")) return;
    for (const char* name : {"micro", "deit_tiny_distilled_d2"}) {
        CAPTURE(name);
        const std::string folder = pomt_test::shared_dir() + "/fixtures/" + name, dir = pomt_test::temp_dir();
        REQUIRE(run_pomt({"convert", folder, "--quiet", "-o", dir + "/want.pomt"}).exit_code == 0);
        const std::string want = pomt_test::read_bytes(dir + "/want.pomt");
        auto r = pomt_test::run_convert_timm({folder, "-o", dir + "/hub.pomt"});
        INFO(r.err);
        REQUIRE(r.exit_code == 0);
        CHECK(r.out.find("wrote " + dir + "/hub.pomt: ") == 0);  // pomt convert's summary line
        CHECK(pomt_test::read_bytes(dir + "/hub.pomt") == want);
        r = pomt_test::run_convert_timm(
            {folder + "/model.safetensors", "--config", folder + "/config.json", "--quiet", "-o", dir + "/bare.pomt"});
        REQUIRE(r.exit_code == 0);
        CHECK(r.out.empty());
        CHECK(pomt_test::read_bytes(dir + "/bare.pomt") == want);
    }
}

TEST_CASE("convert_timm.py: a PyTorch state dict gives the file pomt convert writes from the hub folder") {
    POMT_REQUIRE_SHARED("fixtures/deit_tiny_distilled_d2/model.safetensors", p);
    if (!pomt_test::python_has("torch", "torch is not installed (pip install torch)")) return;
    const std::string folder = pomt_test::shared_dir() + "/fixtures/deit_tiny_distilled_d2", dir = pomt_test::temp_dir();
    // The hub folder's tensors as a training checkpoint would hold them: float16 where that is
    // exact (the norms' ones and zeros), under "state_dict", with DataParallel's "module." prefix.
    const std::string script = R"(
import json, struct, sys, torch
src, out = sys.argv[1:3]
raw = open(src, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
sd = {}
for name, t in json.loads(raw[8:8 + n]).items():
    if name == "__metadata__":
        continue
    b, e = t["data_offsets"]
    v = torch.frombuffer(bytearray(raw[8 + n + b:8 + n + e]), dtype=torch.float32).reshape(t["shape"])
    sd["module." + name] = v.half() if torch.equal(v.half().float(), v) else v
torch.save({"epoch": 3, "state_dict": sd}, out)
)";
    auto r = pomt_test::run_command({"python3", "-c", script, folder + "/model.safetensors", dir + "/sd.pth"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    REQUIRE(run_pomt({"convert", folder, "--quiet", "-o", dir + "/want.pomt"}).exit_code == 0);
    r = pomt_test::run_convert_timm({dir + "/sd.pth", "--config", folder + "/config.json", "--quiet", "-o", dir + "/sd.pomt"});
    REQUIRE(r.exit_code == 0);
    CHECK(pomt_test::read_bytes(dir + "/sd.pomt") == pomt_test::read_bytes(dir + "/want.pomt"));
}

TEST_CASE("convert_timm.py refuses bad input with one line, exit code 2 and no output") {
    if (!pomt_test::python_has("sys", "python3 is not installed")) return;
    ModelConfig cfg = tiny_cfg();
    std::vector<Tensor> t = tiny_tensors(cfg);
    const std::string hub = write_hub(t), out = hub + "/out.pomt";
    const std::string missing = write_hub(std::vector<Tensor>(t.begin() + 1, t.end()));
    pomt_test::write_bytes(hub + "/empty.pth", "");
    const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
        {{missing, "-o", out}, "tensor 'cls_token' is missing"},  // pomt's own check, passed on
        {{hub + "/model.safetensors", "-o", out}, "give --config config.json or --arch NAME"},
        {{hub + "/empty.pth", "-o", out}, "is a bare weights file: give --config config.json or --arch NAME"},
        {{hub + "/none.pth", "--arch", "vit_tiny_patch16_224", "-o", out}, "none.pth': No such file or directory"},
        {{hub, "--image-size", "2x", "-o", out}, "--image-size must be an integer, got '2x'"},
        {{hub, "--image-size", "20", "-o", out}, "not a multiple of the patch size 16"},
        {{hub, "--arch", "resnet50", "-o", out}, "unknown architecture 'resnet50'"},
        {{hub, "-o", out, "--pomt", hub + "/none"}, "--pomt '" + hub + "/none' is not an executable file"},
        {{hub}, "the following arguments are required: -o"},
        {{hub, "-o", out, "--bogus"}, "unrecognized arguments: --bogus"},
    };
    for (const auto& b : bad) {
        CAPTURE(b.second);
        auto r = pomt_test::run_convert_timm(b.first);
        INFO("stderr: " << r.err);
        CHECK(r.exit_code == 2);
        CHECK(r.err.find("convert_timm.py: error: ") == 0);
        CHECK(r.err.find(b.second) != std::string::npos);
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
        CHECK_FALSE(pomt_test::file_exists(out));
    }
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
