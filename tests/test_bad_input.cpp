// Every bad input named in the foundation issue: a one-line error naming the problem, exit code 2,
// no crash and no partial output file. Driven through the real pomt binary.
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

void expect_clean_failure(const pomt_test::CommandResult& r, const std::string& needle) {
    INFO("stderr: " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(needle) != std::string::npos);
    // One line: the message and its newline, nothing else.
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
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
    SUBCASE("empty file") { expect_clean_failure(run_with(""), "is empty"); }
    SUBCASE("truncated preamble") { expect_clean_failure(run_with(bytes.substr(0, 10)), "too short"); }
    SUBCASE("truncated data") { expect_clean_failure(run_with(bytes.substr(0, bytes.size() - 100)), "runs past the end"); }
    SUBCASE("truncated inside the header") { expect_clean_failure(run_with(bytes.substr(0, 200)), "runs past the end"); }
    SUBCASE("wrong magic") {
        std::string b = bytes;
        b[0] = 'X';
        expect_clean_failure(run_with(b), "wrong magic");
    }
    SUBCASE("format version from the future") {
        std::string b = bytes;
        b[8] = 7;
        expect_clean_failure(run_with(b), "format version 7 is newer");
    }
    SUBCASE("absurd header length") {
        std::string b = bytes;
        b[23] = 0x40;
        expect_clean_failure(run_with(b), "header length");
    }
    SUBCASE("malformed header JSON") {
        std::string b = bytes;
        b[24] = '[';
        expect_clean_failure(run_with(b), "malformed JSON");
    }
    SUBCASE("config/shape mismatch") {
        expect_clean_failure(run_with(with_header(bytes, [](json::Value& h) {
                                 json::Value shape = json::Value::array();
                                 shape.push_back(json::Value::number(1));
                                 shape.push_back(json::Value::number(2));
                                 shape.push_back(json::Value::number(16));
                                 tensor_entry(h, 0).set("shape", shape);
                             })),
                             "does not match the model config");
    }
    SUBCASE("offset past the end") {
        expect_clean_failure(run_with(with_header(bytes, [](json::Value& h) {
                                 tensor_entry(h, 3).set("offset", json::Value::number(double(1ull << 40)));
                             })),
                             "runs past the end");
    }
    SUBCASE("2^40-element tensor") {
        expect_clean_failure(run_with(with_header(bytes, [](json::Value& h) {
                                 json::Value& m = const_cast<json::Value&>(*h.find("model"));
                                 m.set("num_classes", json::Value::number(double(1ull << 40)));
                             })),
                             "num_classes");
    }
    SUBCASE("misaligned tensor") {
        expect_clean_failure(run_with(with_header(bytes, [](json::Value& h) {
                                 tensor_entry(h, 1).set("offset", json::Value::number(4));
                             })),
                             "aligned");
    }
    SUBCASE("overlapping tensors") {
        expect_clean_failure(run_with(with_header(bytes, [](json::Value& h) {
                                 double off = tensor_entry(h, 0).find("offset")->as_number("");
                                 tensor_entry(h, 1).set("offset", json::Value::number(off));
                             })),
                             "overlap");
    }
    SUBCASE("missing tensor") {
        expect_clean_failure(run_with(with_header(bytes, [](json::Value& h) {
                                 json::Value list = json::Value::array();
                                 const auto& old = h.find("tensors")->as_array("");
                                 for (size_t i = 1; i < old.size(); ++i) list.push_back(old[i]);
                                 h.set("tensors", list);
                             })),
                             "tensor 'cls_token' is missing");
    }
    SUBCASE("missing file") {
        auto r = run_pomt({"run", "-m", dir + "/nope.pomt", "--input", input, "--output", out});
        expect_clean_failure(r, "No such file");
        CHECK_FALSE(pomt_test::file_exists(out));
    }
    SUBCASE("directory where a file is expected") {
        auto r = run_pomt({"run", "-m", dir, "--input", input, "--output", out});
        expect_clean_failure(r, "is a directory");
    }
    SUBCASE("info on a bad file") { expect_clean_failure(run_pomt({"info", input}), "not a .pomt file"); }
}

TEST_CASE("bad NPY inputs: wrong dtype, rank, shape, truncation") {
    const std::string dir = pomt_test::temp_dir();
    const std::string model = dir + "/m.pomt";
    make_valid_pomt(model);
    const std::string out = dir + "/out.npy";
    auto run_input = [&](const std::string& path) {
        auto r = run_pomt({"run", "-m", model, "--input", path, "--output", out});
        CHECK_FALSE(pomt_test::file_exists(out));
        return r;
    };
    std::vector<float> v(3 * 32 * 32, 0.f);
    SUBCASE("wrong shape") {
        write_npy(dir + "/a.npy", v.data(), {1, 3, 16, 64});
        expect_clean_failure(run_input(dir + "/a.npy"), "must have shape (N, 3, 32, 32)");
    }
    SUBCASE("wrong rank") {
        write_npy(dir + "/b.npy", v.data(), {3, 32, 32});
        expect_clean_failure(run_input(dir + "/b.npy"), "must have shape");
    }
    SUBCASE("wrong dtype") {
        std::string b = pomt_test::read_bytes((write_npy(dir + "/c.npy", v.data(), {1, 3, 32, 32}), dir + "/c.npy"));
        size_t p = b.find("<f4");
        b.replace(p, 3, "<f8");
        pomt_test::write_bytes(dir + "/c.npy", b);
        expect_clean_failure(run_input(dir + "/c.npy"), "dtype is '<f8'");
    }
    SUBCASE("truncated data") {
        write_npy(dir + "/d.npy", v.data(), {1, 3, 32, 32});
        std::string b = pomt_test::read_bytes(dir + "/d.npy");
        pomt_test::write_bytes(dir + "/d.npy", b.substr(0, b.size() - 8));
        expect_clean_failure(run_input(dir + "/d.npy"), "NPY data is");
    }
    SUBCASE("not an NPY file") {
        pomt_test::write_bytes(dir + "/e.npy", "hello");
        expect_clean_failure(run_input(dir + "/e.npy"), "not an NPY file");
    }
    SUBCASE("unwritable output leaves nothing behind") {
        write_npy(dir + "/f.npy", v.data(), {1, 3, 32, 32});
        auto r = run_pomt({"run", "-m", model, "--input", dir + "/f.npy", "--output", dir + "/no/such/dir/out.npy"});
        expect_clean_failure(r, "cannot write output");
    }
}

TEST_CASE("bad command lines: exit 2 with a one-line message") {
    expect_clean_failure(run_pomt({"frobnicate"}), "unknown command");
    expect_clean_failure(run_pomt({"run", "--bogus"}), "unknown option '--bogus'");
    expect_clean_failure(run_pomt({"bench", "--arch", "vit_tiny_patch16_224", "--threads", "0"}), "--threads must be between");
    expect_clean_failure(run_pomt({"bench", "--arch", "vit_tiny_patch16_224", "--runs", "x"}), "--runs must be an integer");
    expect_clean_failure(run_pomt({"bench", "--arch", "vit_gigantic_patch16_224"}), "unknown architecture");
    expect_clean_failure(run_pomt({"bench", "--json"}), "need a model");
    expect_clean_failure(run_pomt({"bench", "-m", "a.pomt", "--arch", "vit_tiny_patch16_224"}), "give exactly one of -m model.pomt or --arch NAME");
    expect_clean_failure(run_pomt({"bench", "--attention", "--arch", "vit_tiny_patch16_224"}), "--attention takes only --runs N");
    expect_clean_failure(run_pomt({"convert", "/nonexistent/x.safetensors", "--arch", "vit_tiny_patch16_224", "-o", "/tmp/x.pomt"}),
                         "No such file");
}
