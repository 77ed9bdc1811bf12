// vit/weights_file: the .pomt reader refuses every malformed file with a one-line error naming the
// problem (exit code 2 through the real pomt binary, no crash, no partial output file).
#include <cstring>

#include "doctest/doctest.h"
#include "tests/test_util.h"
#include "core/json.h"
#include "vit/model.h"
#include "core/npy.h"
#include "vit/weights_file.h"

using namespace pomt;
using pomt_test::run_pomt;

namespace {

// A valid small .pomt; returns its bytes.
std::string make_valid_pomt(const std::string& path) {
    auto model = Model::random(pomt_test::tiny_config(), 1);
    pomt_test::write_model(path, *model);
    return pomt_test::read_bytes(path);
}

using pomt_test::header_len;
using pomt_test::with_header;

json::Value& tensor_entry(json::Value& h, size_t index) {
    return const_cast<json::Value&>(h.find("tensors")->as_array("")[index]);
}

}  // namespace

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
