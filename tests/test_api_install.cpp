// `cmake --install` + find_package(pomt): installs the library into a temporary prefix and builds
// examples/cmake_consumer out of tree against it, then runs it. Skipped visibly without cmake or
// outside a source checkout. The library build is kept beside the test binary
// (<build>/cmake-install-test) so that later runs only rebuild what changed; it is unoptimised,
// because this test checks the packaging, not speed.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "doctest/doctest.h"
#include "tests/test_util.h"
#include "vit/model.h"
#include "vit/weights_file.h"

namespace {

void skip(const std::string& why) {
    pomt_test::skip_test(why);
}

std::string quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

// Runs a shell command with its output appended to `log`; true on exit status 0.
bool sh(const std::string& cmd, const std::string& log) {
    std::string full = "(" + cmd + ") >> " + quote(log) + " 2>&1";
    return std::system(full.c_str()) == 0;
}

std::string tail(const std::string& text, size_t n = 3000) {
    return text.size() > n ? "..." + text.substr(text.size() - n) : text;
}

}  // namespace

TEST_CASE("api: cmake --install, then find_package(pomt) builds and runs an out-of-tree program") {
    if (pomt_test::skip_heavy_test_here()) return;  // it builds its own, unsanitized library
    if (std::system("cmake --version > /dev/null 2>&1") != 0) return skip("cmake is not installed");
    // The tests run from the source tree (make test; ctest sets the working directory).
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) return skip("no working directory");
    const std::string src = cwd;
    if (!pomt_test::file_exists(src + "/CMakeLists.txt") || !pomt_test::file_exists(src + "/examples/cmake_consumer/CMakeLists.txt"))
        return skip("not run from a pomt source checkout");

    const std::string bin = pomt_test::pomt_binary();
    const std::string build = bin.substr(0, bin.rfind('/')) + "/cmake-install-test";
    const std::string tmp = pomt_test::temp_dir();
    const std::string prefix = tmp + "/prefix", consumer = tmp + "/consumer", log = tmp + "/log.txt";
    auto log_text = [&] { return tail(pomt_test::read_bytes(log)); };
    const std::string jobs = " -j" + std::to_string(std::max(1u, std::thread::hardware_concurrency()));

    // Build type "None": no optimisation flags, the fastest compile.
    REQUIRE_MESSAGE(sh("cmake -S " + quote(src) + " -B " + quote(build) +
                           " -DPOMT_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=None",
                       log),
                    log_text());
    // Only what `install` needs (the library and the pomt program), not the examples.
    REQUIRE_MESSAGE(sh("cmake --build " + quote(build) + jobs + " --target pomt pomt_cli", log), log_text());
    REQUIRE_MESSAGE(sh("cmake --install " + quote(build) + " --prefix " + quote(prefix), log), log_text());
    CHECK(pomt_test::file_exists(prefix + "/include/pomt/pomt/pomt.h"));
    CHECK(pomt_test::file_exists(prefix + "/include/pomt/pomt/error.h"));

    REQUIRE_MESSAGE(sh("cmake -S " + quote(src + "/examples/cmake_consumer") + " -B " + quote(consumer) +
                           " -DCMAKE_PREFIX_PATH=" + quote(prefix),
                       log),
                    log_text());
    REQUIRE_MESSAGE(sh("cmake --build " + quote(consumer), log), log_text());

    // Run it on a tiny model and image written here.
    pomt::ModelConfig c = pomt::config_for_architecture("vit_tiny_patch16_224");
    c.embed_dim = 16, c.depth = 1, c.num_heads = 2, c.mlp_hidden = 32, c.num_classes = 4, c.img_size = 32;
    auto model = pomt::Model::random(c, 3);
    pomt::write_weights_file(tmp + "/m.pomt", model->meta(),
                             [&](const pomt::TensorSpec& s) { return model->tensor_values(s); });
    pomt_test::write_bytes(tmp + "/a.ppm", "P6\n2 2\n255\n" + std::string(12, '\x55'));
    const std::string out = tmp + "/out.txt";
    REQUIRE_MESSAGE(sh(quote(consumer + "/pomt_consumer") + " " + quote(tmp + "/m.pomt") + " " + quote(tmp + "/a.ppm") +
                           " > " + quote(out),
                       log),
                    log_text());
    const std::string text = pomt_test::read_bytes(out);
    INFO("consumer output: " << text);
    CHECK(std::count(text.begin(), text.end(), '\n') == 3);
    CHECK(text.find("class ") != std::string::npos);
}
