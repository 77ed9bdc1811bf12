// `pomt schedule` and `pomt eval` end to end on a small model and generated images, and the
// coarse-to-fine utility search against the full grid.
#include <cmath>

#include "doctest/doctest.h"
#include "profiler/latency_curve.h"
#include "search/utility.h"
#include "tests/test_util.h"
#include "pomt/error.h"
#include "core/file_util.h"
#include "core/json.h"
#include "vit/model.h"
#include "core/npy.h"
#include "vit/weights_file.h"

using namespace pomt;
using pomt_test::run_pomt;

namespace {

using Fixture = pomt_test::ModelAndImages;

// depth 3, 17 tokens, 4 classes; `images` BMPs with labels i % 4.
Fixture make_fixture(int images) { return pomt_test::model_and_images(3, 9, images); }

}  // namespace

TEST_CASE("utility search: coarse-to-fine picks the full grid's n* on measured latency curves") {
    POMT_REQUIRE_SHARED("data/latency-curves/pytorch113_openblas_deit_tiny_1thread.csv", p);
    for (const char* file : {"pytorch113_openblas_deit_tiny_1thread.csv", "onnxruntime130_deit_tiny_1thread.csv"}) {
        CAPTURE(file);
        auto latency = profiler::select_curve(profiler::read_latency_csv(pomt_test::shared_dir() + "/data/latency-curves/" + file));
        for (double alpha : {0.3, 0.5, 0.7}) {
            CAPTURE(alpha);
            // A plausible accuracy curve: saturating in n, with a deterministic wiggle of ±0.3 %.
            auto accuracy = [](int n) { return 82.0 - 30.0 * std::exp(-n / 40.0) + 0.3 * std::sin(n * 1.7); };
            search::UtilitySearchOptions full, coarse;
            full.alpha = coarse.alpha = alpha;
            full.coarse_step = 1;
            coarse.coarse_step = 8;
            auto a = search::search_utility(latency, accuracy, full);
            auto b = search::search_utility(latency, accuracy, coarse);
            CHECK(a.best_tokens == b.best_tokens);
            CHECK(b.accuracy_evaluations < a.accuracy_evaluations / 2);
        }
    }
}

TEST_CASE("utility search: U(n) and bad options") {
    std::vector<search::UtilityPoint> pts(3);
    pts[0] = {10, 5.0, 50.0, true, 0};
    pts[1] = {20, 8.0, 80.0, true, 0};
    pts[2] = {30, 10.0, 100.0, true, 0};
    search::compute_utility(pts, 0.5);
    CHECK(pts[0].utility == doctest::Approx(0.5 * 0.5 + 0.5 * 0.5));
    CHECK(pts[2].utility == doctest::Approx(0.5));
    CHECK(pts[1].utility == doctest::Approx(0.5 * 0.2 + 0.5 * 0.8));
    search::UtilitySearchOptions o;
    o.alpha = 1.5;
    CHECK_THROWS_AS(search::search_utility({{1, 1, 1, 1, 1}}, [](int) { return 1.0; }, o), Error);
    o.alpha = 0.5;
    CHECK_THROWS_AS(search::search_utility({}, [](int) { return 1.0; }, o), Error);
}

TEST_CASE("eval: accuracy, JSON, predictions and bad lists") {
    Fixture f = make_fixture(12);
    auto r = run_pomt({"eval", "-m", f.model, "--data", f.list, "--json", "--quiet", "--threads", "2", "--latency-runs", "3",
                       "--predictions", f.dir + "/pred.tsv"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    json::Value v = json::parse(r.out, "eval output");
    CHECK(v.find("images")->as_int("") == 12);
    CHECK(v.find("top1")->as_number("") >= 0);
    CHECK(v.find("top5")->as_number("") == 100);  // 4 classes: the top 5 always holds the label
    CHECK(v.find("median_ms")->as_number("") > 0);
    std::string pred = pomt_test::read_bytes(f.dir + "/pred.tsv");
    CHECK(std::count(pred.begin(), pred.end(), '\n') == 13);
    // The same predictions with one thread and with pruning that changes nothing.
    auto r1 = run_pomt({"eval", "-m", f.model, "--data", f.list, "--json", "--quiet", "--threads", "1", "--latency-runs", "1",
                        "--prune", "pomt:R=0,layer=1"});
    REQUIRE(r1.exit_code == 0);
    CHECK(json::parse(r1.out, "e").find("top1")->as_number("") == v.find("top1")->as_number(""));

    auto expect = [&](const std::string& list_text, const std::string& needle, std::vector<std::string> extra = {}) {
        std::string list = f.dir + "/bad.txt";
        pomt_test::write_bytes(list, list_text);
        std::vector<std::string> args = {"eval", "-m", f.model, "--data", list, "--quiet", "--latency-runs", "1"};
        args.insert(args.end(), extra.begin(), extra.end());
        auto b = run_pomt(args);
        INFO(b.err);
        CHECK(b.exit_code == 2);
        CHECK(b.err.find(needle) != std::string::npos);
        CHECK(std::count(b.err.begin(), b.err.end(), '\n') == 1);
        return b;
    };
    expect("", "has no images");
    expect("img0.bmp\n", "line 1: expected 'path label'");
    expect("img0.bmp 7\n", "line 1: label 7 is outside 0..3");
    expect("img0.bmp x\n", "line 1: label 'x' is not an integer");
    expect("img0.bmp 0\nmissing.bmp 1\n", "missing.bmp");
    // --skip-bad counts the unreadable image and goes on.
    pomt_test::write_bytes(f.dir + "/skip.txt", "img0.bmp 0\nmissing.bmp 1\nimg1.bmp 1\n");
    auto s = run_pomt({"eval", "-m", f.model, "--data", f.dir + "/skip.txt", "--skip-bad", "--json", "--quiet", "--latency-runs", "1"});
    REQUIRE(s.exit_code == 0);
    CHECK(json::parse(s.out, "s").find("skipped")->as_int("") == 1);
    CHECK(json::parse(s.out, "s").find("evaluated")->as_int("") == 2);
    auto nolist = run_pomt({"eval", "-m", f.model, "--data", f.dir + "/none.txt"});
    CHECK(nolist.exit_code == 2);
}

TEST_CASE("schedule: writes a schedule that run accepts, with the search recorded") {
    Fixture f = make_fixture(8);
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
    Fixture f = make_fixture(2);
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
