// `pomt profile` end to end on a small model: outputs, modes, and every bad input.
#include "doctest/doctest.h"
#include "profiler/latency_curve.h"
#include "tests/test_util.h"
#include "core/json.h"
#include "vit/model.h"
#include "vit/weights_file.h"

using namespace pomt;
using pomt_test::run_pomt;

namespace {

std::string small_model(const std::string& dir) {
    auto model = Model::random(pomt_test::small_config(2, 10), 2);  // 17 tokens
    return pomt_test::write_model(dir + "/small.pomt", *model);
}

}  // namespace

TEST_CASE("profile: model, block and op modes write the CSV, the SVG and a summary") {
    const std::string dir = pomt_test::temp_dir();
    const std::string model = small_model(dir);
    for (const char* mode : {"model", "block", "op"}) {
        CAPTURE(mode);
        const std::string csv = dir + "/" + mode + ".csv", svg = dir + "/" + mode + ".svg";
        auto r = run_pomt({"profile", "-m", model, "--mode", mode, "--fast", "--threads", "1", "--quiet", "--csv", csv,
                           "--svg", svg});
        INFO(r.err);
        REQUIRE(r.exit_code == 0);
        CHECK(r.out.find("wrote " + csv) != std::string::npos);
        auto rows = profiler::read_latency_csv(csv);
        std::vector<profiler::CurvePoint> curve = profiler::select_curve(rows, mode, 1, 1, std::string(mode) == "op" ? "block" : "");
        REQUIRE(curve.size() == 16);  // every count 2..17
        CHECK(curve.front().tokens == 2);
        CHECK(curve.back().tokens == 17);
        for (const auto& p : curve) {
            CHECK(p.median_ms > 0);
            CHECK(p.p10_ms <= p.median_ms);
            CHECK(p.median_ms <= p.p90_ms);
            CHECK(p.runs >= 3);
        }
        std::string header = pomt_test::read_bytes(csv).substr(0, 70);
        CHECK(header.find("mode,tokens,batch,threads,median_ms,p10_ms,p90_ms,runs,slow_runs") != std::string::npos);
        // Quiet: stderr is empty, or the one-line disturbance warning (it depends on the machine's load).
        CHECK((r.err.empty() || (r.err.rfind("warning: the profile looks disturbed by other load: ", 0) == 0 &&
                                 std::count(r.err.begin(), r.err.end(), '\n') == 1)));
        std::string plot = pomt_test::read_bytes(svg);
        CHECK(plot.find("<svg") != std::string::npos);
        CHECK(plot.find("</svg>") != std::string::npos);
        if (std::string(mode) == "op") {
            for (const char* op : {"norm1", "qkv", "scores", "softmax", "attn_v", "proj", "norm2", "fc1", "gelu", "fc2"}) {
                CAPTURE(op);
                CHECK(!profiler::select_curve(rows, "op", 1, 1, op).empty());
            }
        }
    }
}

TEST_CASE("profile: a token range, batch and step") {
    const std::string dir = pomt_test::temp_dir();
    const std::string model = small_model(dir);
    auto r = run_pomt({"profile", "-m", model, "--tokens", "5:17:4", "--batch", "2", "--fast", "--quiet", "--threads", "1",
                       "--csv", dir + "/r.csv", "--no-svg"});
    REQUIRE(r.exit_code == 0);
    auto curve = profiler::select_curve(profiler::read_latency_csv(dir + "/r.csv"), "model", 2, 1);
    REQUIRE(curve.size() == 4);
    CHECK(curve[0].tokens == 5);
    CHECK(curve[3].tokens == 17);
    CHECK_FALSE(pomt_test::file_exists(dir + "/profile-vit_tiny_patch16_224-model-b2-t1.svg"));
}

TEST_CASE("profile: bad input is refused before measuring") {
    const std::string dir = pomt_test::temp_dir();
    const std::string model = small_model(dir);
    auto expect = [&](std::vector<std::string> args, const std::string& needle) {
        args.insert(args.begin(), {"profile", "-m", model, "--quiet", "--csv", dir + "/x.csv"});
        auto r = run_pomt(args);
        INFO(r.err);
        CHECK(r.exit_code == 2);
        CHECK(r.err.find(needle) != std::string::npos);
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
        CHECK_FALSE(pomt_test::file_exists(dir + "/x.csv"));
    };
    expect({"--tokens", "10:5"}, "empty or reversed");
    expect({"--tokens", "1:10"}, "below 2");
    expect({"--tokens", "2:500"}, "above the model's 17 tokens");
    expect({"--tokens", "2:10:0"}, "--tokens STEP must be between");
    expect({"--tokens", "a:b"}, "must be an integer");
    expect({"--threads", "0"}, "--threads must be between");
    expect({"--batch", "0"}, "--batch must be between");
    expect({"--mode", "layer"}, "--mode must be model, block or op");
    expect({"--svg", "/nonexistent-dir/x.svg"}, "not writable");
    expect({"--pin", "banana"}, "banana");
}

TEST_CASE("profile: --prune compares with the full model; --mode op times the pruning block") {
    const std::string dir = pomt_test::temp_dir();
    const std::string model = small_model(dir);
    auto r = run_pomt({"profile", "-m", model, "--prune", "pomt:R=6,layer=0", "--fast", "--quiet", "--threads", "1", "--csv",
                       dir + "/s.csv"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("tokens after each block: 11 11") != std::string::npos);
    auto rows = profiler::read_latency_csv(dir + "/s.csv");
    CHECK(!profiler::select_curve(rows, "baseline").empty());
    CHECK(!profiler::select_curve(rows, "schedule").empty());
    auto op = run_pomt({"profile", "-m", model, "--prune", "pomt:R=6,layer=1", "--mode", "op", "--fast", "--quiet",
                        "--threads", "1"});
    INFO(op.err);
    REQUIRE(op.exit_code == 0);
    CHECK(op.out.find("block 1 at 17 tokens") != std::string::npos);
    CHECK(op.out.find("pruning step at block 1") != std::string::npos);
    auto bad = run_pomt({"profile", "-m", model, "--prune", "pomt:R=6,layer=0", "--tokens", "2:5", "--quiet"});
    CHECK(bad.exit_code == 2);
    auto bad2 = run_pomt({"profile", "-m", model, "--prune", "random:keep=5", "--mode", "op", "--quiet"});
    CHECK(bad2.exit_code == 2);
}

TEST_CASE("bench --compare: the unpruned model and each schedule, interleaved, with ratios") {
    const std::string dir = pomt_test::temp_dir();
    const std::string model = small_model(dir);
    pomt_test::write_bytes(dir + "/s.json", R"({"layers": [{"method": "pomt", "R": 4}]})");
    auto r = run_pomt({"bench", "-m", model, "--threads", "1", "--runs", "3", "--warmup", "0", "--json", "--compare",
                       "tome:r=2|@" + dir + "/s.json"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    json::Value v = json::parse(r.out, "bench output");
    CHECK(v.find("interleaved")->as_bool("interleaved"));
    const auto& results = v.find("results")->as_array("results");
    REQUIRE(results.size() == 3);
    CHECK(results[0].find("schedule")->as_string("schedule") == "none");
    CHECK(results[0].find("ratio")->as_number("ratio") == 1.0);
    CHECK(results[1].find("schedule")->as_string("schedule") == "tome:r=2");
    CHECK(results[2].find("schedule")->as_string("schedule") == "@" + dir + "/s.json");
    for (const auto& x : results) {
        CHECK(x.find("median_ms")->as_number("median_ms") > 0);
        CHECK(x.find("p10_ms")->as_number("p10_ms") <= x.find("p90_ms")->as_number("p90_ms"));
        CHECK(x.find("slow_runs")->as_int("slow_runs") >= 0);
    }
    // The disturbance verdict, and its warning exactly when disturbed (the load decides which).
    const bool disturbed = v.find("disturbed")->as_bool("disturbed");
    CHECK(disturbed == !v.find("warning")->as_string("warning").empty());
    CHECK(disturbed == (r.err.find("warning: the measurement looks disturbed") != std::string::npos));
    auto bad = run_pomt({"bench", "-m", model, "--compare", "tome:r=2||pomt:R=1,layer=0"});
    CHECK(bad.exit_code == 2);
    CHECK(bad.err.find("empty entry") != std::string::npos);
    bad = run_pomt({"bench", "-m", model, "--compare", "pomt:R=4,layer=9"});
    CHECK(bad.exit_code == 2);
    CHECK(bad.err.find("block") != std::string::npos);
}
