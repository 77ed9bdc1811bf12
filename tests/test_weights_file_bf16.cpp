// .pomt format version 4 (bf16 models): write_bf16_weights_file's tensor table and bytes read back
// through WeightsFile, the panels16x2 layout checked against docs/FORMAT.md's formula, and what
// readers and writers refuse in it (and in versions 2 and 3). Model::load is not used here: the
// Linear layers' bf16 support is the model's, tested with it.
#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <set>

#include "core/json.h"
#include "doctest/doctest.h"
#include "kernels/bf16.h"
#include "kernels/gemm_bf16.h"
#include "kernels/panels.h"
#include "pomt/error.h"
#include "tests/test_util.h"
#include "tests/test_util_pomt.h"
#include "vit/model.h"
#include "vit/weights_file.h"

using namespace pomt;

namespace {

using pomt_test::data_start;
using pomt_test::entry_named;
using pomt_test::header_of;
using pomt_test::with_header;

static_assert(kPomtBf16FormatVersion == 4 && kPomtNewestReadVersion == 4, "this pomt reads up to version 4");

// odd_widths_config (output widths 24, 72, 39, 5: every panel set padded) with an MLP of 39, so
// fc2's k is odd: its last pair holds one input and a zero.
ModelConfig bf16_config() {
    ModelConfig c = pomt_test::odd_widths_config();
    c.mlp_hidden = 39;
    return c;
}

const TensorSpec& spec_named(const std::vector<TensorSpec>& specs, const std::string& name) {
    for (const TensorSpec& s : specs)
        if (s.name == name) return s;
    FAIL("no tensor " << name);
    return specs.front();
}

uint64_t numel(const std::vector<int64_t>& shape) {
    uint64_t n = 1;
    for (int64_t d : shape) n *= uint64_t(d);
    return n;
}

// A random fp32 model and its Linear weights as bf16 panels (pack_bf16_panels of the fp32 values).
struct Bf16Model {
    std::shared_ptr<const Model> fp32;
    std::map<std::string, std::vector<uint16_t>> panels;
};

Bf16Model bf16_random(uint64_t seed) {
    Bf16Model m{Model::random(bf16_config(), seed), {}};
    for (const TensorSpec& s : expected_tensors(m.fp32->config())) {
        if (!s.linear) continue;
        const int n = int(s.shape[0]), k = int(numel(s.shape) / uint64_t(n));
        std::vector<uint16_t>& p = m.panels[s.name];
        p.resize(bf16_panel_elems(n, k));
        pack_bf16_panels(m.fp32->tensor_values(s).data(), n, k, p.data());
    }
    return m;
}

WeightsMeta bf16_meta(const Model& model) {
    WeightsMeta meta = model.meta();
    meta.quantization = bf16_quantization();
    return meta;
}

// Writes `m` as version 4 to `path`, every Linear weight bf16 except those in `keep_f32`.
void write_bf16(const Bf16Model& m, const std::string& path, const WeightsMeta& meta,
                const std::set<std::string>& keep_f32 = {}) {
    write_bf16_weights_file(
        path, meta, [&](const TensorSpec& s) { return m.fp32->tensor_values(s); },
        [&](const TensorSpec& s) -> const uint16_t* { return keep_f32.count(s.name) ? nullptr : m.panels.at(s.name).data(); });
}
std::string bf16_file(const Bf16Model& m, const std::string& path, const std::set<std::string>& keep_f32 = {}) {
    write_bf16(m, path, bf16_meta(*m.fp32), keep_f32);
    return pomt_test::read_bytes(path);
}

const char* kBf16Quantization =
    R"({"precision":"bf16","weights":"bf16 round-to-nearest-even","activations":"bf16 at each Linear's input",)"
    R"("attention":"fp32","calibration":"none"})";

}  // namespace

TEST_CASE("pomt format v4: bf16 Linear weights written and read back byte for byte") {
    const std::string dir = pomt_test::temp_dir();
    const Bf16Model m = bf16_random(11);
    const std::string bytes = bf16_file(m, dir + "/b.pomt", {"head_dist.weight"});  // one layer left in fp32

    // The preamble and the header: version 4 in both, the quantization object between class_names
    // and tensors, its keys in order.
    CHECK(bytes.compare(0, 8, std::string(kPomtMagic, 8)) == 0);
    CHECK(bytes.compare(8, 8, std::string("\4\0\0\0\0\0\0\0", 8)) == 0);
    const json::Value h = header_of(bytes);
    std::vector<std::string> keys;
    for (const auto& kv : h.as_object("")) keys.push_back(kv.first);
    CHECK(keys == std::vector<std::string>{"format", "version", "model", "preprocess", "class_names", "quantization",
                                           "tensors"});
    CHECK(h.find("version")->as_int("") == 4);
    CHECK(h.find("quantization")->dump() == kBf16Quantization);

    // The table: expected_tensors() order, bf16 Linear weights in panels16x2 and nothing after them,
    // the one kept f32 in panels16, every other tensor f32 in C order; offsets 64-aligned in order.
    const std::vector<json::Value>& table = h.find("tensors")->as_array("");
    const std::vector<TensorSpec> specs = expected_tensors(m.fp32->config());
    REQUIRE(table.size() == specs.size());  // no companion tensors (int8's _scale and _sum)
    const uint64_t start = data_start(bytes);
    uint64_t offset = 0, end = 0;
    int bf16 = 0;
    for (size_t i = 0; i < specs.size(); ++i) {
        const TensorSpec& s = specs[i];
        const json::Value& t = table[i];
        CAPTURE(s.name);
        std::vector<std::string> entry_keys;
        for (const auto& kv : t.as_object("")) entry_keys.push_back(kv.first);
        const int n = int(s.shape[0]), k = int(numel(s.shape) / uint64_t(n));
        CHECK(t.find("name")->as_string("") == s.name);
        std::string dtype = "f32", layout;
        uint64_t nbytes = 4 * numel(s.shape);
        if (s.linear && s.name != "head_dist.weight") {
            dtype = "bf16", layout = "panels16x2", nbytes = 2 * bf16_panel_elems(n, k);
            ++bf16;
        } else if (s.linear) {
            layout = "panels16", nbytes = 4 * uint64_t(panel_floats(n, k));
        }
        CHECK(t.find("dtype")->as_string("") == dtype);
        if (layout.empty()) {
            CHECK(entry_keys == std::vector<std::string>{"name", "dtype", "shape", "offset", "nbytes"});
        } else {
            CHECK(entry_keys == std::vector<std::string>{"name", "dtype", "shape", "layout", "offset", "nbytes"});
            CHECK(t.find("layout")->as_string("") == layout);
        }
        CHECK(uint64_t(t.find("offset")->as_int("")) == offset);
        CHECK(uint64_t(t.find("nbytes")->as_int("")) == nbytes);
        end = offset + nbytes;
        offset = (end + 63) / 64 * 64;
    }
    CHECK(bytes.size() == start + end);  // the file ends right after the last tensor
    CHECK(bf16 == 1 + 4 * 2 + 1);  // patch_embed, 4 per block, head (head_dist kept f32)

    // Read back: version 4, the bf16 quantization, every tensor's dtype, layout and size as the
    // table says and its bytes the file's at data_start + offset.
    const WeightsFile f(dir + "/b.pomt");
    CHECK(f.version() == 4);
    const QuantizationInfo want = bf16_quantization();
    const QuantizationInfo& q = f.meta().quantization;
    CHECK(q.precision == "bf16");
    CHECK(q.weights == want.weights);
    CHECK(q.activations == want.activations);
    CHECK(q.attention == "fp32");
    CHECK(q.calibration == "none");
    CHECK(q.calibration_details.as_object("").empty());
    REQUIRE(f.tensors().size() == table.size());
    for (size_t i = 0; i < table.size(); ++i) {
        const WeightsTensor& t = f.tensors()[i];
        const TensorSpec& s = specs[i];
        CAPTURE(s.name);
        CHECK(t.name == s.name);
        CHECK(t.shape == s.shape);
        const std::string dtype = table[i].find("dtype")->as_string("");
        CHECK(t.dtype == (dtype == "bf16" ? TensorDtype::BF16 : TensorDtype::F32));
        CHECK(t.layout == (dtype == "bf16" ? TensorLayout::Panels16x2
                           : s.linear      ? TensorLayout::Panels16
                                           : TensorLayout::RowMajor));
        CHECK(t.nbytes == uint64_t(table[i].find("nbytes")->as_int("")));
        CHECK(reinterpret_cast<uintptr_t>(t.bytes()) % 64 == 0);
        const uint64_t off = uint64_t(table[i].find("offset")->as_int(""));
        CHECK(std::memcmp(t.bytes(), bytes.data() + start + off, t.nbytes) == 0);
        if (dtype == "bf16") {
            const std::vector<uint16_t>& written = m.panels.at(s.name);
            REQUIRE(t.nbytes == written.size() * 2);
            CHECK(std::memcmp(t.bytes(), written.data(), t.nbytes) == 0);
        } else if (!s.linear) {
            const std::vector<float> v = m.fp32->tensor_values(s);
            CHECK(std::memcmp(t.bytes(), v.data(), v.size() * 4) == 0);
        }
    }
    CHECK(f.tensor("blocks.0.mlp.fc1.weight")->dtype == TensorDtype::BF16);
    CHECK(f.tensor("head_dist.weight")->dtype == TensorDtype::F32);

    // The panels16x2 formula of docs/FORMAT.md, element by element (padding included), on fc2
    // [24 × 39] (odd k: 20 pairs, the last one half padding), fc1 [39 × 24] (3 panels, the last
    // 7 columns wide), the head [5 × 24] and the patch embedding [24 × 3·8·8].
    for (const char* name : {"blocks.1.mlp.fc2.weight", "blocks.0.mlp.fc1.weight", "head.weight", "patch_embed.proj.weight"}) {
        CAPTURE(name);
        const WeightsTensor& t = *f.tensor(name);
        const int n = int(t.shape[0]), k = int(numel(t.shape) / uint64_t(n));
        const std::vector<float> w = m.fp32->tensor_values(spec_named(specs, name));
        const int pairs = (k + 1) / 2, panels = (n + 15) / 16;
        REQUIRE(t.nbytes == uint64_t(panels) * uint64_t(pairs) * 64);
        const unsigned char* p = static_cast<const unsigned char*>(t.bytes());
        int mismatches = 0;
        for (int pn = 0; pn < panels; ++pn)
            for (int g = 0; g < pairs; ++g)
                for (int j = 0; j < 16; ++j)
                    for (int u = 0; u < 2; ++u) {
                        const size_t e = size_t(pn) * 16 * 2 * size_t(pairs) + 32 * size_t(g) + 2 * size_t(j) + size_t(u);
                        const uint16_t stored = uint16_t(p[2 * e] | p[2 * e + 1] << 8);  // little-endian
                        const int row = 16 * pn + j, col = 2 * g + u;
                        const uint16_t expect =
                            row < n && col < k ? bf16_from_float(w[size_t(row) * size_t(k) + size_t(col)]) : 0;
                        mismatches += stored != expect;
                    }
        CHECK(mismatches == 0);
        // And back: unpack_bf16_panels gives the fp32 values rounded to bf16.
        std::vector<float> back(size_t(n) * size_t(k));
        unpack_bf16_panels(static_cast<const uint16_t*>(t.bytes()), n, k, back.data());
        for (size_t i = 0; i < back.size(); ++i) mismatches += back[i] != round_to_bf16(w[i]);
        CHECK(mismatches == 0);
    }
    // The Linear weight kept in fp32: panels16, the fp32 values exactly.
    const WeightsTensor& hd = *f.tensor("head_dist.weight");
    std::vector<float> hd_values(numel(hd.shape));
    unpack_panels(hd.data, int(hd.shape[0]), int(hd.shape[1]), hd_values.data());
    CHECK(hd_values == m.fp32->tensor_values(spec_named(specs, "head_dist.weight")));

    // Deterministic: the same inputs write the same bytes.
    CHECK(bf16_file(m, dir + "/again.pomt", {"head_dist.weight"}) == bytes);
}

TEST_CASE("pomt format v4: the writers refuse a quantization the reader would") {
    const std::string dir = pomt_test::temp_dir();
    const Bf16Model m = bf16_random(12);
    const std::string path = dir + "/w.pomt";
    auto refused = [&](const std::function<void(WeightsMeta&)>& edit, const std::string& needle) {
        WeightsMeta meta = bf16_meta(*m.fp32);
        edit(meta);
        pomt_test::expect_error([&] { write_bf16(m, path, meta); }, needle);
        CHECK_FALSE(pomt_test::file_exists(path));
    };
    refused([](WeightsMeta& mt) { mt.quantization = QuantizationInfo(); },
            "write_bf16_weights_file needs quantization precision \"bf16\", not \"fp32\"");
    refused([](WeightsMeta& mt) { mt.quantization.precision = "int8"; }, "needs quantization precision \"bf16\", not \"int8\"");
    // precision alone is not enough: the int8 defaults of the other fields are not bf16's.
    refused(
        [](WeightsMeta& mt) {
            mt.quantization = QuantizationInfo();
            mt.quantization.precision = "bf16";
        },
            "quantization weights 'per-output-channel symmetric' is not supported (only 'bf16 round-to-nearest-even')");
    refused([](WeightsMeta& mt) { mt.quantization.activations = "per-token dynamic"; },
            "quantization activations 'per-token dynamic' is not supported (only 'bf16 at each Linear's input')");
    refused([](WeightsMeta& mt) { mt.quantization.attention = "int8"; },
            "quantization attention 'int8' is not supported ('fp32' or 'bf16')");
    refused([](WeightsMeta& mt) { mt.quantization.calibration = "smoothquant"; }, "quantization calibration");
    refused([](WeightsMeta& mt) { mt.model.num_heads = 5; }, "embed_dim must be a multiple of num_heads");

    // Each writer writes its own version only.
    WeightsMeta meta = bf16_meta(*m.fp32);
    auto values = [&](const TensorSpec& s) { return m.fp32->tensor_values(s); };
    pomt_test::expect_error([&] { write_weights_file(path, meta, values); },
                            "a bf16 model is written as .pomt format version 4 (write_bf16_weights_file)");
    pomt_test::expect_error(
        [&] { write_quantized_weights_file(path, meta, values, [](const TensorSpec&) -> const Int8Weights* { return nullptr; }); },
        "write_quantized_weights_file needs quantization precision \"int8\", not \"bf16\"");
    CHECK_FALSE(pomt_test::file_exists(path));
}

TEST_CASE("pomt format v4: malformed bf16 files are refused with a one-line error") {
    const std::string dir = pomt_test::temp_dir();
    const Bf16Model m = bf16_random(13);
    const std::string good = bf16_file(m, dir + "/b.pomt", {"head_dist.weight"});
    const std::string path = dir + "/bad.pomt";
    auto refused = [&](const std::string& bytes, const std::string& needle) {
        pomt_test::write_bytes(path, bytes);
        pomt_test::expect_error([&] { WeightsFile f(path); }, needle);
    };
    auto edited = [&](const std::function<void(json::Value&)>& edit) { return with_header(good, edit); };
    auto set_entry = [&](const std::string& name, const char* key, json::Value v) {
        return edited([&](json::Value& h) { entry_named(h, name).set(key, v); });
    };
    auto set_q = [&](const std::string& bytes, const char* key, json::Value v) {
        return with_header(bytes, [&](json::Value& h) {
            json::Value qv = *h.find("quantization");
            qv.set(key, v);
            h.set("quantization", qv);
        });
    };
    auto drop_q = [&](const char* key) {
        return edited([&](json::Value& h) {
            json::Value qv = json::Value::object();
            for (const auto& kv : h.find("quantization")->as_object(""))
                if (kv.first != key) qv.set(kv.first, kv.second);
            h.set("quantization", qv);
        });
    };
    auto s = [](const char* v) { return json::Value::string(v); };
    const std::string w = "blocks.0.mlp.fc2.weight";  // [24 × 39]

    SUBCASE("the bytes as written are read") { CHECK(WeightsFile(dir + "/b.pomt").version() == 4); }
    SUBCASE("bf16 weight: wrong layout, wrong nbytes, bf16 elsewhere, i8 or i32 in version 4") {
        refused(set_entry(w, "dtype", s("f32")), "tensor '" + w + "' has unknown layout 'panels16x2' (only 'panels16' for f32)");
        refused(set_entry(w, "layout", s("panels16")), "tensor '" + w + "' is bf16 and needs \"layout\":\"panels16x2\"");
        refused(set_entry(w, "layout", s("panels16x4")), "is bf16 and needs \"layout\":\"panels16x2\"");
        refused(edited([&](json::Value& h) {
                    json::Value e = json::Value::object();
                    for (const auto& kv : entry_named(h, w).as_object(""))
                        if (kv.first != "layout") e.set(kv.first, kv.second);
                    entry_named(h, w) = e;
                }),
                "is bf16 and needs \"layout\":\"panels16x2\"");
        // 2 panels · 20 pairs · 64 bytes = 2560; C order's 24 · 39 · 2 = 1872 is refused.
        refused(set_entry(w, "nbytes", json::Value::number(24 * 39 * 2)),
                "nbytes 1872 does not match its shape in panels16x2 layout (2560)");
        refused(set_entry("blocks.0.norm1.weight", "dtype", s("bf16")),
                "tensor 'blocks.0.norm1.weight' has unsupported dtype 'bf16' (only Linear weights may be bf16)");
        // The Linear weight kept in fp32 claiming bf16 in panels16 (its size is f32's).
        refused(set_entry("head_dist.weight", "dtype", s("bf16")), "is bf16 and needs \"layout\":\"panels16x2\"");
        refused(set_entry(w, "dtype", s("i8")), "has unsupported dtype 'i8' (int8 tensors need .pomt format version 3)");
        refused(set_entry("blocks.0.norm1.weight", "dtype", s("i8")), "int8 tensors need .pomt format version 3");
        refused(set_entry(w, "dtype", s("i32")), "has unsupported dtype 'i32'");
        refused(set_entry(w, "dtype", s("f16")), "has unsupported dtype 'f16'");
    }
    SUBCASE("no int8 companions in version 4") {
        refused(edited([&](json::Value& h) {
                    json::Value e = json::Value::object();
                    e.set("name", s((w + "_scale").c_str()));
                    e.set("dtype", s("f32"));
                    json::Value shape = json::Value::array();
                    shape.push_back(json::Value::number(24));
                    e.set("shape", shape);
                    e.set("offset", json::Value::number(0));
                    e.set("nbytes", json::Value::number(96));
                    json::Value t = *h.find("tensors");
                    t.push_back(e);
                    h.set("tensors", t);
                }),
                "tensor '" + w + "_scale' is not part of a deit_tiny_distilled_patch16_224 model");
    }
    SUBCASE("the quantization object: absent, each field missing or another value") {
        refused(edited([](json::Value& h) {
                    json::Value kept = json::Value::object();
                    for (const auto& kv : h.as_object(""))
                        if (kv.first != "quantization") kept.set(kv.first, kv.second);
                    h = kept;
                }),
                "a version 4 file lacks its \"quantization\" object");
        for (const char* key : {"precision", "weights", "activations", "attention", "calibration"}) {
            CAPTURE(key);
            refused(drop_q(key), std::string("quantization lacks \"") + key + "\"");
        }
        refused(set_q(good, "precision", s("int8")), "quantization precision 'int8' needs .pomt format version 3 (this file is version 4)");
        refused(set_q(good, "precision", s("fp16")), "quantization precision 'fp16' is not supported (only 'int8' in version 3, 'bf16' in version 4)");
        refused(set_q(good, "weights", s("per-output-channel symmetric")),
                "quantization weights 'per-output-channel symmetric' is not supported (only 'bf16 round-to-nearest-even')");
        refused(set_q(good, "weights", s("bf16 truncated")), "quantization weights 'bf16 truncated' is not supported");
        refused(set_q(good, "activations", s("fp32")),
                "quantization activations 'fp32' is not supported (only 'bf16 at each Linear's input')");
        refused(set_q(good, "attention", s("int8")), "quantization attention 'int8' is not supported ('fp32' or 'bf16')");
        refused(set_q(good, "attention", s("fp16")), "quantization attention 'fp16' is not supported ('fp32' or 'bf16')");
        refused(set_q(good, "calibration", s("smoothquant")),
                "quantization calibration must be \"none\" (a bf16 model is not calibrated), not 'smoothquant'");
        json::Value method = json::Value::object();
        method.set("method", s("smoothquant"));
        refused(set_q(good, "calibration", method), "quantization calibration");
        refused(set_q(good, "precision", json::Value::number(16)), "quantization precision");
        refused(edited([](json::Value& h) { h.set("quantization", json::Value::string("bf16")); }), "quantization");
    }
    SUBCASE("version 4 content under another version, version 3 content under version 4") {
        std::string v3 = with_header(good, [](json::Value& h) { h.set("version", json::Value::number(3)); });
        v3[8] = 3;  // the preamble and the header relabelled alike
        refused(v3, "quantization precision 'bf16' needs .pomt format version 4 (this file is version 3)");
        std::string v2 = with_header(good, [](json::Value& h) { h.set("version", json::Value::number(2)); });
        v2[8] = 2;  // the preamble and the header relabelled alike
        refused(v2, "has a \"quantization\" object, which needs .pomt format version 4");
        // A version 3 (int8) header around a bf16 weight: the dtype needs version 4.
        json::Value iq = json::parse(
            R"({"precision":"int8","weights":"per-output-channel symmetric","activations":"per-token dynamic","attention":"fp32","calibration":"none"})",
            "q");
        std::string as_v3 = with_header(good, [&](json::Value& h) {
            h.set("version", json::Value::number(3));
            h.set("quantization", iq);
        });
        as_v3[8] = 3;
        refused(as_v3, "tensor 'patch_embed.proj.weight' has unsupported dtype 'bf16' (bf16 tensors need .pomt format version 4)");
        // An fp32 (version 2) file with a bf16 entry.
        const std::string f32 = pomt_test::read_bytes(pomt_test::write_model(dir + "/f.pomt", *m.fp32));
        refused(with_header(f32, [&](json::Value& h) { entry_named(h, w).set("dtype", s("bf16")); }),
                "bf16 tensors need .pomt format version 4");
        refused(with_header(f32, [&](json::Value& h) { h.set("quantization", *header_of(good).find("quantization")); }),
                "has a \"quantization\" object, which needs .pomt format version 4");
        // An int8 quantization object in a version 4 file.
        refused(edited([&](json::Value& h) { h.set("quantization", iq); }),
                "quantization precision 'int8' needs .pomt format version 3 (this file is version 4)");
    }
    SUBCASE("offsets: misaligned, overlapping, past the end") {
        json::Value h = header_of(good);
        const int64_t off = entry_named(h, w).find("offset")->as_int("");
        refused(set_entry(w, "offset", json::Value::number(double(off + 2))), "tensor '" + w + "' is not 64-byte aligned");
        refused(set_entry(w, "offset", json::Value::number(0)), "tensors overlap");
        refused(good.substr(0, good.size() - 2), "runs past the end of the file (truncated?)");
    }
}

TEST_CASE("pomt format v4: newer versions are refused from the preamble") {
    const std::string dir = pomt_test::temp_dir();
    const std::string good = bf16_file(bf16_random(14), dir + "/b.pomt");
    const std::string path = dir + "/v5.pomt";
    // What a version 3 reader says of a version 4 file, this reader says of a version 5 one.
    std::string v5 = with_header(good, [](json::Value& h) { h.set("version", json::Value::number(5)); });
    v5[8] = 5;
    pomt_test::write_bytes(path, v5);
    pomt_test::expect_error([&] { WeightsFile f(path); },
                            "'" + path + "': .pomt format version 5 is newer than this pomt reads (4); update pomt");
    std::string v0 = good;
    v0[8] = 0;
    pomt_test::write_bytes(path, v0);
    pomt_test::expect_error([&] { WeightsFile f(path); }, "invalid .pomt format version 0");
}
