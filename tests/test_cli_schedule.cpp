// pomt schedule (the paper's search) end to end on a small model and generated images: the schedule
// file that run accepts, the search recorded in it, bad input refused before any work.
#include <cmath>

#include "doctest/doctest.h"
#include "tests/test_util.h"
#include "pomt/error.h"
#include "core/file_util.h"
#include "core/json.h"
#include "vit/model.h"
#include "core/npy.h"
#include "vit/weights_file.h"

using namespace pomt;
using pomt_test::run_pomt;

TEST_CASE("schedule: writes a schedule that run accepts, with the search recorded") {
    pomt_test::ModelAndImages f = pomt_test::model_and_images(3, 9, 8);  // depth 3, 17 tokens, 4 classes
    const std::string out = f.dir + "/s.json";
    auto r = run_pomt({"schedule", "-m", f.model, "--data", f.list, "--images", "8", "--fast", "--layer", "1", "--threads", "1",
                       "--verify-runs", "3", "--quiet", "-o", out, "--svg-prefix", f.dir + "/curves"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    std::vector<unsigned char> bytes = read_file_bytes(out, "schedule");
    json::Value s = json::parse(std::string(bytes.begin(), bytes.end()), "schedule");
    const json::Value* search = s.find("search");
    REQUIRE(search);
    const int n_star = int(search->find("n_star")->as_int(""));
    const int r_value = int(search->find("R")->as_int(""));
    CHECK(n_star + r_value == 17);
    CHECK(search->find("layer")->as_int("") == 1);
    CHECK(search->find("device")->find("isa"));
    CHECK(search->find("curves")->find("utility")->as_array("").size() == search->find("curves")->find("tokens")->as_array("").size());
    const json::Value* verified = search->find("verified_latency");
    REQUIRE(verified);
    // The disturbance check's record (its value depends on the machine's load: not asserted).
    CHECK(verified->find("remeasured")->is_bool());
    CHECK(verified->find("disturbed")->is_bool());
    CHECK(verified->find("disturbed")->as_bool("") == (verified->find("warning") != nullptr));
    for (const char* part : {"latency", "accuracy", "utility"})
        CHECK(pomt_test::file_exists(f.dir + "/curves-" + part + ".svg"));
    // The file drives `run`: n* tokens after the prune layer.
    std::vector<float> x(3 * 64 * 64, 0.25f);
    write_npy(f.dir + "/x.npy", x.data(), {1, 3, 64, 64});
    auto run = run_pomt({"run", "-m", f.model, "--input", f.dir + "/x.npy", "--output", f.dir + "/y.npy", "--schedule", out,
                         "--verbose"});
    REQUIRE(run.exit_code == 0);
    if (r_value > 0) CHECK(run.err.find("tokens after each block: 17 " + std::to_string(n_star) + " " + std::to_string(n_star)) != std::string::npos);
}

TEST_CASE("schedule: bad input is refused before any work") {
    pomt_test::ModelAndImages f = pomt_test::model_and_images(3, 9, 2);  // depth 3, 17 tokens, 4 classes
    auto expect = [&](std::vector<std::string> extra, const std::string& needle) {
        std::vector<std::string> args = {"schedule", "-m", f.model, "--data", f.list, "--quiet"};
        args.insert(args.end(), extra.begin(), extra.end());
        auto r = run_pomt(args);
        INFO(r.err);
        CHECK(r.exit_code == 2);
        CHECK(r.err.find(needle) != std::string::npos);
    };
    expect({"-o", f.dir + "/a.json", "--alpha", "1.5"}, "--alpha must be a number between 0 and 1");
    expect({"-o", f.dir + "/a.json", "--layer", "3"}, "--layer 3 is outside the model's blocks 0..2");
    expect({}, "no output file given");
    expect({"-o", "/nonexistent-dir/s.json"}, "not writable");
    expect({"-o", f.dir + "/a.json", "--tokens", "17:2"}, "empty or reversed");
    expect({"-o", f.dir + "/a.json", "--latency", f.dir + "/none.csv"}, "none.csv");
    CHECK_FALSE(pomt_test::file_exists(f.dir + "/a.json"));
}
