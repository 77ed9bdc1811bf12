// pomt run: preprocessed images (NPY) in, logits (NPY) out; every bad input one line, exit 2, no
// output file.
#include <vector>

#include "core/npy.h"
#include "doctest/doctest.h"
#include "tests/test_util.h"
#include "vit/model.h"

using namespace pomt;
using pomt_test::run_pomt;

TEST_CASE("bad NPY inputs: wrong dtype, rank, shape, truncation") {
    const std::string dir = pomt_test::temp_dir();
    const std::string model = dir + "/m.pomt";
    pomt_test::write_model(model, *Model::random(pomt_test::tiny_config(), 1));
    const std::string out = dir + "/out.npy";
    auto run_input = [&](const std::string& path) {
        auto r = run_pomt({"run", "-m", model, "--input", path, "--output", out});
        CHECK_FALSE(pomt_test::file_exists(out));
        return r;
    };
    std::vector<float> v(3 * 32 * 32, 0.f);
    SUBCASE("wrong shape") {
        write_npy(dir + "/a.npy", v.data(), {1, 3, 16, 64});
        pomt_test::expect_cli_error(run_input(dir + "/a.npy"), "must have shape (N, 3, 32, 32)");
    }
    SUBCASE("wrong rank") {
        write_npy(dir + "/b.npy", v.data(), {3, 32, 32});
        pomt_test::expect_cli_error(run_input(dir + "/b.npy"), "must have shape");
    }
    SUBCASE("wrong dtype") {
        std::string b = pomt_test::read_bytes((write_npy(dir + "/c.npy", v.data(), {1, 3, 32, 32}), dir + "/c.npy"));
        size_t p = b.find("<f4");
        b.replace(p, 3, "<f8");
        pomt_test::write_bytes(dir + "/c.npy", b);
        pomt_test::expect_cli_error(run_input(dir + "/c.npy"), "dtype is '<f8'");
    }
    SUBCASE("truncated data") {
        write_npy(dir + "/d.npy", v.data(), {1, 3, 32, 32});
        std::string b = pomt_test::read_bytes(dir + "/d.npy");
        pomt_test::write_bytes(dir + "/d.npy", b.substr(0, b.size() - 8));
        pomt_test::expect_cli_error(run_input(dir + "/d.npy"), "NPY data is");
    }
    SUBCASE("not an NPY file") {
        pomt_test::write_bytes(dir + "/e.npy", "hello");
        pomt_test::expect_cli_error(run_input(dir + "/e.npy"), "not an NPY file");
    }
    SUBCASE("unwritable output leaves nothing behind") {
        write_npy(dir + "/f.npy", v.data(), {1, 3, 32, 32});
        auto r = run_pomt({"run", "-m", model, "--input", dir + "/f.npy", "--output", dir + "/no/such/dir/out.npy"});
        pomt_test::expect_cli_error(r, "cannot write output");
    }
}
