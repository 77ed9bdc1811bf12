// .pomt format version 3 (int8 models): the round trip quantize → save → load, the tensor table,
// what readers refuse in it (and in version 2 files), `pomt quantize`, `pomt convert --quantize int8`
// and `pomt info` on int8 files.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>

#include "core/json.h"
#include "doctest/doctest.h"
#include "pomt/error.h"
#include "quantize/quantize_model.h"
#include "tests/test_util.h"
#include "vit/forward.h"
#include "vit/model.h"
#include "vit/weights_file.h"

using namespace pomt;
using pomt_test::run_pomt;

namespace {

ModelConfig odd_config() { return pomt_test::odd_widths_config(); }

using pomt_test::data_start;
using pomt_test::entry_named;
using pomt_test::header_len;
using pomt_test::header_of;
using pomt_test::with_header;

// The tensors array without the entry `name`.
void drop_entry(json::Value& h, const std::string& name) {
    json::Value kept = json::Value::array();
    for (const json::Value& t : h.find("tensors")->as_array(""))
        if (t.find("name")->as_string("") != name) kept.push_back(t);
    h.set("tensors", kept);
}

std::vector<float> test_images(const ModelConfig& c, int batch) {
    std::vector<float> x(size_t(batch) * 3 * c.img_size * c.img_size);
    for (size_t i = 0; i < x.size(); ++i) x[i] = float(std::sin(0.37 * double(i)));
    return x;
}

std::shared_ptr<const Model> quantized_random(uint64_t seed) {
    auto fp32 = Model::random(odd_config(), seed);
    return quantize_model(*fp32, QuantizeOptions());
}

void expect_same_int8(const Int8Weights& a, const Int8Weights& b) {
    REQUIRE(a.n == b.n);
    REQUIRE(a.k == b.k);
    CHECK(std::memcmp(a.panels, b.panels, int8_panel_bytes(a.n, a.k)) == 0);
    CHECK(std::memcmp(a.scale, b.scale, size_t(a.n) * 4) == 0);
    CHECK(std::memcmp(a.sum, b.sum, size_t(a.n) * 4) == 0);
}

}  // namespace

TEST_CASE("pomt v3: quantize → save → load keeps the int8 bytes and the logits") {
    const std::string dir = pomt_test::temp_dir();
    auto q = quantized_random(3);
    REQUIRE(q->is_int8());
    save_model(*q, dir + "/q.pomt");
    const std::string bytes = pomt_test::read_bytes(dir + "/q.pomt");
    CHECK(bytes[8] == 3);

    // The header: version 3, what quantization did, then each int8 weight with its scales and sums.
    const json::Value h = header_of(bytes);
    CHECK(h.find("version")->as_int("") == 3);
    CHECK(h.find("quantization")->dump() ==
          R"({"precision":"int8","weights":"per-output-channel symmetric","activations":"per-token dynamic","attention":"fp32",)"
          R"("calibration":"none"})");
    const std::vector<json::Value>& table = h.find("tensors")->as_array("");
    int int8 = 0;
    for (size_t i = 0; i < table.size(); ++i) {
        const json::Value& t = table[i];
        if (t.find("dtype")->as_string("") != "i8") continue;
        ++int8;
        const std::string name = t.find("name")->as_string("");
        CAPTURE(name);
        CHECK(t.find("layout")->as_string("") == "panels16x4");
        const int64_t n = t.find("shape")->as_array("")[0].as_int("");
        int64_t numel = 1;
        for (const json::Value& d : t.find("shape")->as_array("")) numel *= d.as_int("");
        CHECK(t.find("nbytes")->as_int("") == int64_t(int8_panel_bytes(int(n), int(numel / n))));
        REQUIRE(i + 2 < table.size());
        CHECK(table[i + 1].find("name")->as_string("") == name + "_scale");
        CHECK(table[i + 1].find("dtype")->as_string("") == "f32");
        CHECK(table[i + 1].find("nbytes")->as_int("") == 4 * n);
        CHECK(table[i + 2].find("name")->as_string("") == name + "_sum");
        CHECK(table[i + 2].find("dtype")->as_string("") == "i32");
        CHECK(table[i + 2].find("nbytes")->as_int("") == 4 * n);
    }
    CHECK(int8 == 1 + 4 * 2 + 2);  // patch_embed, 4 per block, head and head_dist

    // Loaded: the int8 weights are the mapping's bytes (borrowed), equal to the in-memory model's.
    auto loaded = Model::load(dir + "/q.pomt");
    CHECK(loaded->is_int8());
    CHECK(loaded->meta().quantization.calibration == "none");
    const WeightsFile file(dir + "/q.pomt");
    CHECK(file.version() == 3);
    const LinearParams& fc1 = loaded->blocks[1].fc1;
    REQUIRE(fc1.is_int8());
    CHECK(fc1.int8.storage.get() == nullptr);  // borrowed from the mapping
    const WeightsTensor* stored = file.tensor("blocks.1.mlp.fc1.weight");
    REQUIRE(stored);
    CHECK(stored->dtype == TensorDtype::I8);
    CHECK(stored->layout == TensorLayout::Panels16x4);
    CHECK(std::memcmp(fc1.int8.panels, stored->bytes(), stored->nbytes) == 0);
    CHECK(reinterpret_cast<uintptr_t>(fc1.int8.panels) % 64 == 0);
    expect_same_int8(fc1.int8, q->blocks[1].fc1.int8);
    expect_same_int8(loaded->patch_embed.int8, q->patch_embed.int8);
    expect_same_int8(loaded->head_dist.int8, q->head_dist.int8);
    for (const TensorSpec& s : expected_tensors(q->config())) {
        CAPTURE(s.name);
        const std::vector<float> a = q->tensor_values(s), b = loaded->tensor_values(s);
        CHECK(std::memcmp(a.data(), b.data(), a.size() * 4) == 0);
    }

    // Same logits as the in-memory quantized model; re-saving gives the same file.
    const std::vector<float> x = test_images(q->config(), 2);
    Session a(q, 1), b(loaded, 1);
    CHECK(a.run(x.data(), 2) == b.run(x.data(), 2));
    save_model(*loaded, dir + "/again.pomt");
    CHECK(pomt_test::read_bytes(dir + "/again.pomt") == bytes);

    // An fp32 model still saves as version 2, byte for byte what write_weights_file writes.
    auto fp32 = Model::random(odd_config(), 3);
    save_model(*fp32, dir + "/fp32.pomt");
    pomt_test::write_model(dir + "/v2.pomt", *fp32);
    CHECK(pomt_test::read_bytes(dir + "/fp32.pomt") == pomt_test::read_bytes(dir + "/v2.pomt"));
    CHECK(pomt_test::read_bytes(dir + "/fp32.pomt")[8] == 2);
}

TEST_CASE("pomt v3: calibration details are written and read back") {
    const std::string dir = pomt_test::temp_dir();
    auto q = quantized_random(4);
    WeightsMeta meta = q->meta();
    meta.quantization.calibration = "smoothquant";
    meta.quantization.calibration_details.set("images", json::Value::number(256));
    meta.quantization.calibration_details.set("alpha", json::Value::number(0.5));
    auto values = [&](const TensorSpec& s) { return q->tensor_values(s); };
    write_quantized_weights_file(dir + "/c.pomt", meta, values, [&](const TensorSpec& s) -> const Int8Weights* {
        const LinearParams* p = q->linear_params(s.name);
        return p && p->is_int8() ? &p->int8 : nullptr;
    });
    const std::string bytes = pomt_test::read_bytes(dir + "/c.pomt");
    CHECK(header_of(bytes).find("quantization")->find("calibration")->dump() ==
          R"({"method":"smoothquant","images":256,"alpha":0.5})");
    const WeightsFile f(dir + "/c.pomt");
    CHECK(f.meta().quantization.calibration == "smoothquant");
    CHECK(f.meta().quantization.calibration_text() == "smoothquant (images 256, alpha 0.5)");
    auto r = run_pomt({"info", dir + "/c.pomt"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("calibration     smoothquant (images 256, alpha 0.5)") != std::string::npos);

    // A layer left in fp32 (int8_of returns null): f32 panels16, no scales or sums; it loads so.
    write_quantized_weights_file(dir + "/mixed.pomt", meta, values, [&](const TensorSpec& s) -> const Int8Weights* {
        if (s.name == "head.weight") return nullptr;
        return &q->linear_params(s.name)->int8;
    });
    auto mixed = Model::load(dir + "/mixed.pomt");
    CHECK_FALSE(mixed->head.is_int8());
    CHECK(mixed->blocks[0].qkv.is_int8());
    const std::string mixed_bytes = pomt_test::read_bytes(dir + "/mixed.pomt");
    CHECK(mixed_bytes.find("head.weight_scale") == std::string::npos);
    CHECK(mixed_bytes.find("head_dist.weight_scale") != std::string::npos);
}

TEST_CASE("pomt v3: malformed int8 files are refused with a one-line error") {
    const std::string dir = pomt_test::temp_dir();
    auto q = quantized_random(5);
    save_model(*q, dir + "/q.pomt");
    const std::string good = pomt_test::read_bytes(dir + "/q.pomt");
    const std::string path = dir + "/bad.pomt";
    auto refused = [&](const std::string& bytes, const std::string& needle) {
        pomt_test::write_bytes(path, bytes);
        pomt_test::expect_error([&] { Model::load(path); }, needle);
    };
    auto edited = [&](const std::function<void(json::Value&)>& edit) { return with_header(good, edit); };
    const std::string w = "blocks.0.mlp.fc1.weight";

    SUBCASE("int8 weight with dtype f32 / layout panels16 / no layout / wrong nbytes") {
        refused(edited([&](json::Value& h) { entry_named(h, w).set("dtype", json::Value::string("f32")); }),
                "has unknown layout 'panels16x4'");
        refused(edited([&](json::Value& h) { entry_named(h, w).set("layout", json::Value::string("panels16")); }),
                "needs \"layout\":\"panels16x4\"");
        refused(edited([&](json::Value& h) { entry_named(h, "blocks.0.norm1.weight").set("dtype", json::Value::string("i8")); }),
                "only Linear weights may be int8");
        refused(edited([&](json::Value& h) { entry_named(h, w).set("nbytes", json::Value::number(40 * 24)); }),
                "does not match its shape in panels16x4 layout (");
        refused(edited([&](json::Value& h) { entry_named(h, w).set("dtype", json::Value::string("u8")); }),
                "unsupported dtype 'u8'");
    }
    SUBCASE("scales and sums: missing, wrong dtype, wrong count, orphaned, repeated") {
        refused(edited([&](json::Value& h) { drop_entry(h, w + "_scale"); }), "lacks its tensor '" + w + "_scale'");
        refused(edited([&](json::Value& h) { drop_entry(h, w + "_sum"); }), "lacks its tensor '" + w + "_sum'");
        refused(edited([&](json::Value& h) { entry_named(h, w + "_sum").set("dtype", json::Value::string("f32")); }),
                "its companion dtype is 'i32'");
        refused(edited([&](json::Value& h) { entry_named(h, w + "_scale").set("layout", json::Value::string("panels16")); }),
                "stored in C order");
        refused(edited([&](json::Value& h) {
                    json::Value& e = entry_named(h, w + "_scale");
                    json::Value shape = json::Value::array();
                    shape.push_back(json::Value::number(39));
                    e.set("shape", shape);
                    e.set("nbytes", json::Value::number(39 * 4));
                }),
                "has 39 values for the 40 output columns");
        auto extra = [&](const std::string& name) {
            return edited([&](json::Value& h) {
                json::Value e = entry_named(h, w + "_scale");
                e.set("name", json::Value::string(name));
                json::Value t = *h.find("tensors");
                t.push_back(e);
                h.set("tensors", t);
            });
        };
        refused(extra("norm.weight_scale"), "tensor 'norm.weight_scale' belongs to no int8 weight");
        refused(extra(w + "_scale"), "is not part of a deit_tiny_distilled_patch16_224 model (or repeated)");
    }
    SUBCASE("version 3 features in version 2 files and the reverse") {
        std::string v2 = with_header(good, [](json::Value& h) { h.set("version", json::Value::number(2)); });
        v2[8] = 2;  // the preamble and the header relabelled alike
        refused(v2, "needs .pomt format version 3");
        refused(edited([](json::Value& h) {
                    json::Value kept = json::Value::object();
                    for (const auto& kv : h.as_object(""))
                        if (kv.first != "quantization") kept.set(kv.first, kv.second);
                    h = kept;
                }),
                "lacks its \"quantization\" object");
        // An fp32 file's i8 entry: the int8 dtype needs version 3.
        auto fp32 = Model::random(odd_config(), 5);
        const std::string f = pomt_test::read_bytes(pomt_test::write_model(dir + "/f.pomt", *fp32));
        refused(with_header(f, [&](json::Value& h) { entry_named(h, w).set("dtype", json::Value::string("i8")); }),
                "int8 tensors need .pomt format version 3");
    }
    SUBCASE("quantization object: unknown precision, scheme or calibration") {
        auto set_q = [&](const char* key, json::Value v) {
            return edited([&](json::Value& h) {
                json::Value qv = *h.find("quantization");
                qv.set(key, v);
                h.set("quantization", qv);
            });
        };
        refused(set_q("precision", json::Value::string("int4")), "precision 'int4' is not supported");
        refused(set_q("weights", json::Value::string("per-tensor")), "weights 'per-tensor' is not supported");
        refused(set_q("activations", json::Value::string("static")), "activations 'static' is not supported");
        refused(set_q("calibration", json::Value::string("some")), "calibration must be \"none\" or an object");
        refused(set_q("calibration", json::Value::object()), "calibration lacks \"method\"");
        refused(set_q("calibration", json::Value::number(1)), "calibration");
    }
    SUBCASE("scale 0, negative, NaN, Inf; truncated") {
        json::Value h = header_of(good);
        const int64_t off = entry_named(h, w + "_scale").find("offset")->as_int("");
        for (float bad : {0.0f, -1.0f, std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
            CAPTURE(bad);
            std::string b = good;
            std::memcpy(&b[size_t(data_start(good) + uint64_t(off) + 4 * 7)], &bad, 4);
            refused(b, "tensor '" + w + "_scale' has scale");
            refused(b, "at column 7 (must be finite and > 0)");
        }
        refused(good.substr(0, good.size() - 8), "runs past the end of the file (truncated?)");
    }
}

TEST_CASE("pomt quantize / convert --quantize int8 / info: the commands") {
    const std::string dir = pomt_test::temp_dir();
    const std::string in = pomt_test::write_model(dir + "/m.pomt", *Model::random(odd_config(), 6));
    const std::string out = dir + "/q.pomt";
    auto r = run_pomt({"quantize", in, "-o", out});
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("int8 (format v3), attention fp32, calibration none") != std::string::npos);
    // The file is quantize_model's model, byte for byte.
    save_model(*quantize_model(*Model::load(in), QuantizeOptions()), dir + "/lib.pomt");
    CHECK(pomt_test::read_bytes(out) == pomt_test::read_bytes(dir + "/lib.pomt"));

    r = run_pomt({"info", out});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("(format v3,") != std::string::npos);
    CHECK(r.out.find("precision       int8: weights per-output-channel symmetric, activations per-token dynamic") !=
          std::string::npos);
    CHECK(r.out.find("calibration     none") != std::string::npos);
    CHECK(r.out.find("attention       fp32") != std::string::npos);
    r = run_pomt({"info", in});
    CHECK(r.out.find("precision       fp32") != std::string::npos);
    // --attention int8: recorded in the file and shown.
    r = run_pomt({"quantize", in, "-o", dir + "/qa.pomt", "--attention", "int8"});
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("int8 (format v3), attention int8, calibration none") != std::string::npos);
    CHECK(Model::load(dir + "/qa.pomt")->int8_attention());
    CHECK(run_pomt({"info", dir + "/qa.pomt"}).out.find("attention       int8") != std::string::npos);
    // --attention bf16 likewise.
    r = run_pomt({"quantize", in, "-o", dir + "/qb.pomt", "--attention", "bf16"});
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("int8 (format v3), attention bf16, calibration none") != std::string::npos);
    CHECK(Model::load(dir + "/qb.pomt")->bf16_attention());
    CHECK(!Model::load(dir + "/qb.pomt")->int8_attention());
    CHECK(run_pomt({"info", dir + "/qb.pomt"}).out.find("attention       bf16") != std::string::npos);
    r = run_pomt({"info", out, "--json"});
    CHECK(r.out.find(R"("quantization":{"precision":"int8",)") != std::string::npos);

    // convert --random --quantize int8: the random model's int8 file.
    r = run_pomt({"convert", "--arch", "deit_tiny_patch16_224", "--random", "--seed", "2", "--quantize", "int8", "-o",
                  dir + "/c.pomt", "--quiet"});
    REQUIRE(r.exit_code == 0);
    save_model(*quantize_model(*Model::random("deit_tiny_patch16_224", 2), QuantizeOptions()), dir + "/c2.pomt");
    CHECK(pomt_test::read_bytes(dir + "/c.pomt") == pomt_test::read_bytes(dir + "/c2.pomt"));

    // Bad input: one line, exit 2, nothing written.
    const std::string list = pomt_test::write_labelled_bmps(dir, 2, 4);
    pomt_test::write_bytes(dir + "/missing.txt", "img_missing.bmp 0\n");
    const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
        {{"quantize", out, "-o", dir + "/x.pomt"}, "already int8"},
        {{"quantize", in, "-o", dir + "/x.pomt", "--data", dir + "/nope.txt"}, "nope.txt"},
        {{"quantize", in, "-o", dir + "/x.pomt", "--data", dir + "/missing.txt"}, "img_missing.bmp"},
        {{"quantize", in, "-o", dir + "/x.pomt", "--root", dir}, "need --data"},
        {{"quantize", in, "-o", dir + "/x.pomt", "--data", list, "--images", "-1"}, "--images"},
        {{"quantize", in, "-o", dir + "/x.pomt", "--threads", "0"}, "--threads"},
        {{"quantize", in}, "no output file"},
        {{"quantize", in, "-o", in}, "overwrite the input"},
        {{"quantize", dir + "/none.pomt", "-o", dir + "/x.pomt"}, "none.pomt"},
        {{"quantize", in, "-o", dir + "/x.pomt", "--bogus"}, "--bogus"},
        {{"quantize", in, "-o", dir + "/x.pomt", "--attention", "fp16"}, "--attention must be int8, bf16 or fp32"},
        {{"quantize", in, "-o", dir + "/x.pomt", "--attention"}, "--attention"},
        {{"convert", "--arch", "deit_tiny_patch16_224", "--random", "--quantize", "int8", "--attention", "int4", "-o",
          dir + "/x.pomt"},
         "int4"},
        {{"convert", "--arch", "deit_tiny_patch16_224", "--random", "--quantize", "int4", "-o", dir + "/x.pomt"}, "int4"},
        {{"convert", "--arch", "deit_tiny_patch16_224", "--random", "--data", list, "-o", dir + "/x.pomt"},
         "--quantize int8 only"},
    };
    for (const auto& b : bad) {
        CAPTURE(b.second);
        auto e = run_pomt(b.first);
        CHECK(e.exit_code == 2);
        CHECK(e.err.find(b.second) != std::string::npos);
        CHECK(std::count(e.err.begin(), e.err.end(), '\n') == 1);
        CHECK_FALSE(pomt_test::file_exists(dir + "/x.pomt"));
    }
}

TEST_CASE("convert --quantize int8 from a timm checkpoint equals convert then quantize") {
    POMT_REQUIRE_SHARED("fixtures/micro/model.safetensors", p);
    const std::string folder = pomt_test::shared_dir() + "/fixtures/micro";
    const std::string dir = pomt_test::temp_dir();
    REQUIRE(run_pomt({"convert", folder, "-o", dir + "/fp32.pomt", "--quiet"}).exit_code == 0);
    REQUIRE(run_pomt({"quantize", dir + "/fp32.pomt", "-o", dir + "/a.pomt", "--quiet"}).exit_code == 0);
    auto r = run_pomt({"convert", folder, "--quantize", "int8", "-o", dir + "/b.pomt"});
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find(", int8") != std::string::npos);
    CHECK(pomt_test::read_bytes(dir + "/a.pomt") == pomt_test::read_bytes(dir + "/b.pomt"));
}
