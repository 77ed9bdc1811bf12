// pomt eval end to end on a small model and generated images: accuracy, JSON, predictions, bad lists.
#include <cmath>

#include "core/file_util.h"
#include "core/json.h"
#include "doctest/doctest.h"
#include "pomt/error.h"
#include "tests/test_util.h"
#include "vit/model.h"

using namespace pomt;
using pomt_test::run_pomt;

TEST_CASE("eval: accuracy, JSON, predictions and bad lists") {
    pomt_test::ModelAndImages f = pomt_test::model_and_images(3, 9, 12);  // depth 3, 17 tokens, 4 classes
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
