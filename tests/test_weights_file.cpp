// vit/weights_file, the .pomt file (docs/FORMAT.md): version 2's Linear weights stored as GEMM
// panels and used from the mapping; the version 1 files older pomt wrote (still read; built here by
// pomt_test::as_format_v1, since pomt writes them no more); every malformed file refused with a
// one-line error naming the problem (exit code 2 through the real pomt binary, no partial output).
// int8 (version 3) files: test_weights_file_int8.cpp.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <thread>

#include "doctest/doctest.h"
#include "kernels/gemm.h"
#include "tests/test_util.h"
#include "pomt/error.h"
#include "vit/forward.h"
#include "core/json.h"
#include "vit/model.h"
#include "core/npy.h"
#include "weights_tools/safetensors.h"
#include "vit/weights_file.h"
#include "weights_tools/convert.h"

using namespace pomt;
using pomt_test::run_pomt;

namespace {

ModelConfig odd_config() { return pomt_test::odd_widths_config(); }

// The file's bytes: version 2, or the version 1 file older pomt wrote.
std::string write_model(const Model& model, const std::string& path) {
    return pomt_test::read_bytes(pomt_test::write_model(path, model));
}
std::string write_model_v1(const Model& model, const std::string& path) {
    return pomt_test::read_bytes(pomt_test::write_model_v1(path, model));
}

using pomt_test::data_start;
using pomt_test::entry_named;
using pomt_test::header_len;
using pomt_test::header_of;
using pomt_test::with_header;

std::vector<float> test_images(const ModelConfig& c, int batch) {
    std::vector<float> x(size_t(batch) * 3 * c.img_size * c.img_size);
    for (size_t i = 0; i < x.size(); ++i) x[i] = float(std::sin(0.37 * double(i)));
    return x;
}

// Bit for bit (memcmp: == would take -0 for 0).
void expect_same_values(const Model& a, const Model& b) {
    for (const TensorSpec& s : expected_tensors(a.config())) {
        CAPTURE(s.name);
        const std::vector<float> va = a.tensor_values(s), vb = b.tensor_values(s);
        REQUIRE(va.size() == vb.size());
        CHECK(std::memcmp(va.data(), vb.data(), va.size() * 4) == 0);
    }
}

// A valid small .pomt; returns its bytes.
std::string make_valid_pomt(const std::string& path) {
    auto model = Model::random(pomt_test::tiny_config(), 1);
    pomt_test::write_model(path, *model);
    return pomt_test::read_bytes(path);
}

json::Value& tensor_entry(json::Value& h, size_t index) {
    return const_cast<json::Value&>(h.find("tensors")->as_array("")[index]);
}

}  // namespace

TEST_CASE("pomt v2: Linear weights stored in panels, read from the mapping, unpacked bit-exactly") {
    const std::string dir = pomt_test::temp_dir();
    auto random = Model::random(odd_config(), 3);
    const std::string bytes = write_model(*random, dir + "/v2.pomt");
    CHECK(bytes[8] == 2);

    // The tensor table: layout exactly on the Linear weights, nbytes = ceil(n/16)·16·k·4.
    const json::Value h = header_of(bytes);
    CHECK(h.find("version")->as_int("") == 2);
    int panels = 0;
    for (const json::Value& t : h.find("tensors")->as_array("")) {
        const std::string name = t.find("name")->as_string("");
        CAPTURE(name);
        std::vector<int64_t> shape;
        for (const json::Value& d : t.find("shape")->as_array("")) shape.push_back(d.as_int(""));
        int64_t numel = 1;
        for (int64_t d : shape) numel *= d;
        const bool linear = name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0 &&
                            name.find("norm") == std::string::npos;
        if (linear) {
            ++panels;
            REQUIRE(t.find("layout"));
            CHECK(t.find("layout")->as_string("") == "panels16");
            const int64_t n = shape[0], k = numel / n;
            CHECK(t.find("nbytes")->as_int("") == (n + 15) / 16 * 16 * k * 4);
            CHECK(t.find("nbytes")->as_int("") > numel * 4);  // every width here needs padding
        } else {
            CHECK_FALSE(t.find("layout"));
            CHECK(t.find("nbytes")->as_int("") == numel * 4);
        }
    }
    CHECK(panels == 1 + 4 * 2 + 2);  // patch_embed, 4 per block, head and head_dist

    // Loaded: the panels are the file's bytes, borrowed (nothing packed or owned at load).
    auto model = Model::load(dir + "/v2.pomt");
    const WeightsFile file(dir + "/v2.pomt");
    CHECK(file.version() == 2);
    const LinearParams& fc1 = model->blocks[1].fc1;
    CHECK(fc1.packed.storage == nullptr);
    CHECK(bool(fc1.packed.original) == gemm_uses_row_major_weights());
    const WeightsTensor* stored = file.tensor("blocks.1.mlp.fc1.weight");
    REQUIRE(stored);
    CHECK(stored->layout == TensorLayout::Panels16);
    CHECK(std::memcmp(fc1.packed.panels, stored->data, stored->nbytes) == 0);
    // The same panels the loader packs from the row-major weights, padding included.
    PackedWeights repacked = pack_weights(random->blocks[1].fc1.packed.original, 40, 24);
    CHECK(std::memcmp(fc1.packed.panels, repacked.panels, panel_floats(40, 24) * 4) == 0);

    // Unpacked on demand: every parameter equals the random model's, bit for bit.
    expect_same_values(*random, *model);
    CHECK(model->linear_weight(fc1) == model->tensor("blocks.1.mlp.fc1.weight"));  // one copy, kept

    // Re-saving gives the same file; the forward passes (fast and reference) give the same logits.
    CHECK(write_model(*model, dir + "/again.pomt") == bytes);
    const std::vector<float> x = test_images(model->config(), 2);
    Session a(random, 1), b(model, 1);
    CHECK(a.run(x.data(), 2) == b.run(x.data(), 2));
    CHECK(forward_reference(*random, x.data(), 2) == forward_reference(*model, x.data(), 2));
}

TEST_CASE("pomt v2: unpacking on demand is thread-safe and happens once per layer") {
    const std::string dir = pomt_test::temp_dir();
    auto random = Model::random(odd_config(), 8);
    write_model(*random, dir + "/m.pomt");
    auto model = Model::load(dir + "/m.pomt");
    const char* names[] = {"blocks.0.attn.qkv.weight", "blocks.1.mlp.fc2.weight", "head.weight"};
    std::vector<const float*> seen(12);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < seen.size(); ++t)
        threads.emplace_back([&, t] { seen[t] = model->tensor(names[t % 3]); });
    for (std::thread& t : threads) t.join();
    for (size_t t = 0; t < seen.size(); ++t) {
        CAPTURE(t);
        CHECK(seen[t] == seen[t % 3]);
        CHECK(seen[t] == model->tensor(names[t % 3]));
    }
    expect_same_values(*random, *model);
}

TEST_CASE("pomt v1 files still load, packed at load, with the v2 file's logits") {
    const std::string dir = pomt_test::temp_dir();
    auto random = Model::random(odd_config(), 5);
    const std::string v1 = write_model_v1(*random, dir + "/v1.pomt");
    const std::string v2 = write_model(*random, dir + "/v2.pomt");
    CHECK(v1[8] == 1);
    CHECK(v1.find("\"layout\"") == std::string::npos);
    CHECK(v1.size() < v2.size());  // the panels' zero padding

    auto m1 = Model::load(dir + "/v1.pomt");
    auto m2 = Model::load(dir + "/v2.pomt");
    CHECK(m1->blocks[0].qkv.packed.storage != nullptr);  // packed at load, as before version 2
    CHECK(m2->blocks[0].qkv.packed.storage == nullptr);
    expect_same_values(*m1, *m2);
    const std::vector<float> x = test_images(m1->config(), 3);
    Session s1(m1, 2), s2(m2, 2);
    const std::vector<float> l1 = s1.run(x.data(), 3), l2 = s2.run(x.data(), 3);
    CHECK(l1 == l2);
    CHECK(forward_reference(*m1, x.data(), 3) == forward_reference(*m2, x.data(), 3));

    // Re-saving a v1 model writes version 2; `pomt info` names each file's version.
    CHECK(write_model(*m1, dir + "/up.pomt") == v2);
    auto r = run_pomt({"info", dir + "/v1.pomt"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("(format v1,") != std::string::npos);
    r = run_pomt({"info", dir + "/v2.pomt"});
    CHECK(r.out.find("(format v2,") != std::string::npos);

    // Nothing writes version 1 any more: `pomt convert --format-version` is gone.
    r = run_pomt({"convert", "--arch", "vit_tiny_patch16_224", "--random", "--format-version", "1", "-o", dir + "/r1.pomt"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("unknown option '--format-version'") != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK_FALSE(pomt_test::file_exists(dir + "/r1.pomt"));
}

TEST_CASE("pomt v1: the tests' version 1 files are those pomt's version 1 writer wrote") {
    // The committed fuzz seeds *_v1.pomt were written by pomt's own version 1 writer (since removed)
    // from the same models as their version 2 seeds: as_format_v1 must give those bytes.
    for (const char* name : {"vit", "deit_distilled", "deit3_reg", "avg_prenorm", "headless"}) {
        CAPTURE(name);
        const std::string seeds = "fuzz/corpus/pomt_file/" + std::string(name);
        const std::string v2 = pomt_test::read_bytes(seeds + ".pomt"), v1 = pomt_test::read_bytes(seeds + "_v1.pomt");
        REQUIRE(!v2.empty());
        REQUIRE(!v1.empty());
        CHECK(pomt_test::as_format_v1(v2) == v1);
    }
    auto random = Model::random(odd_config(), 2);
    CHECK_THROWS_WITH_AS(pomt_test::as_format_v1(pomt_test::as_format_v1(write_model(*random, pomt_test::temp_dir() + "/m.pomt"))),
                         doctest::Contains("needs a version 2 file"), Error);
}

TEST_CASE("pomt v2: converted timm weights unpack to the safetensors values, v1 and v2 agree") {
    POMT_REQUIRE_SHARED("fixtures/deit_tiny_distilled_d2/model.safetensors", weights);
    const std::string dir = pomt_test::temp_dir();
    ConvertOptions o;
    o.input = pomt_test::shared_dir() + "/fixtures/deit_tiny_distilled_d2";
    o.output = dir + "/v2.pomt";
    convert_timm_weights(o);
    auto model = Model::load(o.output);
    CHECK(WeightsFile(o.output).version() == 2);
    SafetensorsFile st(weights);
    for (const TensorSpec& s : expected_tensors(model->config())) {
        CAPTURE(s.name);
        const std::vector<float> want = st.read_f32(*st.find(s.name));
        CHECK(std::memcmp(model->tensor(s.name), want.data(), want.size() * 4) == 0);
    }
    write_model_v1(*model, dir + "/v1.pomt");
    auto v1 = Model::load(dir + "/v1.pomt");
    const std::vector<float> x = test_images(model->config(), 1);
    Session a(model, 2), b(v1, 2);
    CHECK(a.run(x.data(), 1) == b.run(x.data(), 1));
}

TEST_CASE("pomt v2: malformed layout fields are refused with a one-line error, exit 2") {
    const std::string dir = pomt_test::temp_dir();
    auto random = Model::random(odd_config(), 1);
    const std::string v2 = write_model(*random, dir + "/v2.pomt");
    const std::string v1 = write_model_v1(*random, dir + "/v1.pomt");
    const std::vector<float> x = test_images(random->config(), 1);
    write_npy(dir + "/x.npy", x.data(), {1, 3, 32, 32});
    auto expect_refused = [&](const std::string& bytes, const std::string& needle) {
        const std::string path = dir + "/bad.pomt";
        pomt_test::write_bytes(path, bytes);
        for (const char* cmd : {"info", "run"}) {
            CAPTURE(cmd);
            auto r = std::string(cmd) == "info"
                         ? run_pomt({"info", path})
                         : run_pomt({"run", "-m", path, "--input", dir + "/x.npy", "--output", dir + "/o.npy"});
            INFO("stderr: " << r.err);
            CHECK(r.exit_code == 2);
            CHECK(r.err.find(needle) != std::string::npos);
            CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
        }
        CHECK_FALSE(pomt_test::file_exists(dir + "/o.npy"));
    };
    SUBCASE("nbytes of a row-major tensor on a panels16 tensor") {
        expect_refused(with_header(v2, [](json::Value& h) {
                           entry_named(h, "head.weight").set("nbytes", json::Value::number(5 * 24 * 4));
                       }),
                       "tensor 'head.weight' nbytes 480 does not match its shape in panels16 layout (1536)");
    }
    SUBCASE("panels16 nbytes on a version 1 tensor") {
        expect_refused(with_header(v1, [](json::Value& h) {
                           entry_named(h, "head.weight").set("nbytes", json::Value::number(16 * 24 * 4));
                       }),
                       "tensor 'head.weight' nbytes 1536 does not match its shape (480)");
    }
    SUBCASE("layout on a tensor that is not a Linear weight") {
        expect_refused(with_header(v2, [](json::Value& h) {
                           entry_named(h, "blocks.0.norm1.weight").set("layout", json::Value::string("panels16"));
                       }),
                       "tensor 'blocks.0.norm1.weight' has layout 'panels16' but only Linear weights may be stored in panels");
    }
    SUBCASE("unknown layout") {
        expect_refused(with_header(v2, [](json::Value& h) {
                           entry_named(h, "blocks.1.attn.qkv.weight").set("layout", json::Value::string("panels8"));
                       }),
                       "tensor 'blocks.1.attn.qkv.weight' has unknown layout 'panels8'");
    }
    SUBCASE("layout that is not a string") {
        expect_refused(with_header(v2, [](json::Value& h) {
                           entry_named(h, "head.weight").set("layout", json::Value::number(16));
                       }),
                       "tensor 'head.weight' layout");
    }
    SUBCASE("Linear weight without its layout in version 2") {
        expect_refused(with_header(v2, [](json::Value& h) {
                           json::Value& e = entry_named(h, "patch_embed.proj.weight");
                           json::Value plain = json::Value::object();
                           for (const char* key : {"name", "dtype", "shape", "offset", "nbytes"}) plain.set(key, *e.find(key));
                           e = plain;
                       }),
                       "tensor 'patch_embed.proj.weight' lacks \"layout\":\"panels16\"");
    }
    SUBCASE("layout field in a version 1 file") {
        expect_refused(with_header(v1, [](json::Value& h) {
                           entry_named(h, "head.weight").set("layout", json::Value::string("panels16"));
                       }),
                       "tensor 'head.weight' has a layout field, which needs .pomt format version 2");
    }
    SUBCASE("a header version that is not the preamble's") {
        expect_refused(with_header(v2, [](json::Value& h) { h.set("version", json::Value::number(3)); }),
                       "header \"version\" does not match the file's format version 2 (bytes 8-11)");
        expect_refused(with_header(v2, [](json::Value& h) { h.set("version", json::Value::string("2")); }),
                       "header \"version\" does not match");
        expect_refused(with_header(v2, [](json::Value& h) { h.set("format", json::Value::string("gguf")); }),
                       "header \"format\" is not \"pomt\"");
    }
    SUBCASE("a version 2 file relabelled version 1") {
        std::string b = v2;
        b[8] = 1;
        expect_refused(with_header(b, [](json::Value& h) { h.set("version", json::Value::number(1)); }),
                       "has a layout field, which needs .pomt format version 2");
    }
}

TEST_CASE("bad model files: one-line error, exit 2, no output file") {
    const std::string dir = pomt_test::temp_dir();
    const std::string good = dir + "/good.pomt";
    const std::string bytes = make_valid_pomt(good);
    std::vector<float> img(3 * 32 * 32, 0.5f);
    const std::string input = dir + "/x.npy";
    write_npy(input, img.data(), {1, 3, 32, 32});
    const std::string out = dir + "/out.npy";

    auto run_with = [&](const std::string& content) {
        const std::string path = dir + "/bad.pomt";
        pomt_test::write_bytes(path, content);
        auto r = run_pomt({"run", "-m", path, "--input", input, "--output", out});
        CHECK_FALSE(pomt_test::file_exists(out));
        return r;
    };

    SUBCASE("the valid file runs") {
        auto r = run_pomt({"run", "-m", good, "--input", input, "--output", out});
        CHECK(r.exit_code == 0);
        CHECK(pomt_test::file_exists(out));
        std::remove(out.c_str());
    }
    SUBCASE("empty file") { pomt_test::expect_cli_error(run_with(""), "is empty"); }
    SUBCASE("truncated preamble") { pomt_test::expect_cli_error(run_with(bytes.substr(0, 10)), "too short"); }
    SUBCASE("truncated data") { pomt_test::expect_cli_error(run_with(bytes.substr(0, bytes.size() - 100)), "runs past the end"); }
    SUBCASE("truncated inside the header") { pomt_test::expect_cli_error(run_with(bytes.substr(0, 200)), "runs past the end"); }
    SUBCASE("wrong magic") {
        std::string b = bytes;
        b[0] = 'X';
        pomt_test::expect_cli_error(run_with(b), "wrong magic");
    }
    SUBCASE("format version from the future") {
        std::string b = bytes;
        b[8] = 7;
        pomt_test::expect_cli_error(run_with(b), "format version 7 is newer");
    }
    SUBCASE("absurd header length") {
        std::string b = bytes;
        b[23] = 0x40;
        pomt_test::expect_cli_error(run_with(b), "header length");
    }
    SUBCASE("malformed header JSON") {
        std::string b = bytes;
        b[24] = '[';
        pomt_test::expect_cli_error(run_with(b), "malformed JSON");
    }
    SUBCASE("config/shape mismatch") {
        pomt_test::expect_cli_error(run_with(with_header(bytes, [](json::Value& h) {
                                 json::Value shape = json::Value::array();
                                 shape.push_back(json::Value::number(1));
                                 shape.push_back(json::Value::number(2));
                                 shape.push_back(json::Value::number(16));
                                 tensor_entry(h, 0).set("shape", shape);
                             })),
                             "does not match the model config");
    }
    SUBCASE("offset past the end") {
        pomt_test::expect_cli_error(run_with(with_header(bytes, [](json::Value& h) {
                                 tensor_entry(h, 3).set("offset", json::Value::number(double(1ull << 40)));
                             })),
                             "runs past the end");
    }
    SUBCASE("2^40-element tensor") {
        pomt_test::expect_cli_error(run_with(with_header(bytes, [](json::Value& h) {
                                 json::Value& m = const_cast<json::Value&>(*h.find("model"));
                                 m.set("num_classes", json::Value::number(double(1ull << 40)));
                             })),
                             "num_classes");
    }
    SUBCASE("misaligned tensor") {
        pomt_test::expect_cli_error(run_with(with_header(bytes, [](json::Value& h) {
                                 tensor_entry(h, 1).set("offset", json::Value::number(4));
                             })),
                             "aligned");
    }
    SUBCASE("overlapping tensors") {
        pomt_test::expect_cli_error(run_with(with_header(bytes, [](json::Value& h) {
                                 double off = tensor_entry(h, 0).find("offset")->as_number("");
                                 tensor_entry(h, 1).set("offset", json::Value::number(off));
                             })),
                             "overlap");
    }
    SUBCASE("missing tensor") {
        pomt_test::expect_cli_error(run_with(with_header(bytes, [](json::Value& h) {
                                 json::Value list = json::Value::array();
                                 const auto& old = h.find("tensors")->as_array("");
                                 for (size_t i = 1; i < old.size(); ++i) list.push_back(old[i]);
                                 h.set("tensors", list);
                             })),
                             "tensor 'cls_token' is missing");
    }
    SUBCASE("missing file") {
        auto r = run_pomt({"run", "-m", dir + "/nope.pomt", "--input", input, "--output", out});
        pomt_test::expect_cli_error(r, "No such file");
        CHECK_FALSE(pomt_test::file_exists(out));
    }
    SUBCASE("directory where a file is expected") {
        auto r = run_pomt({"run", "-m", dir, "--input", input, "--output", out});
        pomt_test::expect_cli_error(r, "is a directory");
    }
    SUBCASE("info on a bad file") { pomt_test::expect_cli_error(run_pomt({"info", input}), "not a .pomt file"); }
}

TEST_CASE("pomt files: a header length over 64 MB is refused from the preamble") {
    std::string pomt(kPomtMagic, 8);
    pomt += std::string("\x01\x00\x00\x00\x00\x00\x00\x00", 8);
    pomt += std::string("\x00\x00\x00\x10\x00\x00\x00\x00", 8);
    pomt_test::expect_error([&] {
        WeightsMeta meta;
        std::vector<WeightsTensor> t;
        parse_weights_image(reinterpret_cast<const unsigned char*>(pomt.data()), pomt.size(), "'z'", &meta, &t);
    }, "header length 268435456");
}
