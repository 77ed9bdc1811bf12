// The Pareto search (include/pomt/search.h, search/pareto_*.{h,cpp}): paired intervals, front
// extraction and budget choice on synthetic tables, the successive-halving cut on synthetic
// correctness, the candidates, and `pomt schedule --search pareto` end to end on a small random
// model through the API and the CLI. No timing assertions.
#include <algorithm>
#include <random>

#include "core/json.h"
#include "doctest/doctest.h"
#include "pomt/error.h"
#include "pomt/search.h"
#include "search/pareto_candidates.h"
#include "search/pareto_select.h"
#include "tests/test_util.h"

using namespace pomt;
using pomt_test::run_pomt;
using search::Correctness;

namespace {

ParetoPlan measured(const std::string& spec, double ms, double top1, double loss, double lo, double hi) {
    ParetoPlan p;
    p.spec = spec;
    p.method = spec.substr(0, spec.find(':'));
    p.measured = true;
    p.measured_ms = ms;
    p.measured_ratio = ms / 10.0;
    p.top1 = top1;
    p.loss = loss;
    p.loss_low = lo;
    p.loss_high = hi;
    p.images = 1000;
    return p;
}

// Correctness of n images, exactly `wrong` of them wrong, spread evenly (shifted by `offset`).
Correctness correctness(int n, int wrong, int offset = 0) {
    Correctness c(size_t(n), 1);
    for (int i = 0; i < n; ++i)
        if ((i + 1) * wrong / n > i * wrong / n) c[size_t((i + offset) % n)] = 0;
    return c;
}

json::Value read_json(const std::string& path) { return json::parse(pomt_test::read_bytes(path), path); }

}  // namespace

TEST_CASE("pareto: paired interval of per-image correctness") {
    // Identical plans: no difference and a zero-width interval.
    Correctness a(100, 1), b(100, 1);  // a wrong on images 0..9, b on 0..14
    for (int i = 0; i < 15; ++i) b[size_t(i)] = 0, a[size_t(i)] = i >= 10;
    auto d = search::paired_difference(a, a, 100, 1.96);
    CHECK(d.mean == 0);
    CHECK(d.low == 0);
    CHECK(d.high == 0);
    // b is wrong on 5 more images: a − b = +5 points; sd of the differences sqrt((5 − 100·0.05²)/99).
    d = search::paired_difference(a, b, 100, 1.96);
    CHECK(d.mean == doctest::Approx(5.0));
    const double sd = std::sqrt((5 - 100 * 0.05 * 0.05) / 99.0);
    CHECK(d.high - d.mean == doctest::Approx(100 * 1.96 * sd / 10));
    CHECK(d.mean - d.low == doctest::Approx(d.high - d.mean));
    // Over the first n images only; n beyond the data is an error.
    CHECK(search::paired_difference(a, b, 10, 1.96).mean == 0);
    CHECK_THROWS_AS(search::paired_difference(a, b, 101, 1.96), Error);
}

TEST_CASE("pareto: front extraction, dominance and ties") {
    //            0     1     2     3     4     5
    std::vector<double> ms = {10, 8, 8, 6, 6, 9};
    std::vector<double> acc = {80, 79, 79, 75, 76, 78};
    // 5 is dominated by 1 (faster, more accurate); 2 equals 1 (the earlier stands); 3 by 4.
    CHECK(pareto_front(ms, acc, {0, 1, 2, 3, 4, 5}) == std::vector<int>{4, 1, 0});
    CHECK(pareto_front(ms, acc, {2, 1}) == std::vector<int>{1});
    CHECK(pareto_front(ms, acc, {5, 3}) == std::vector<int>{3, 5});
    CHECK(pareto_front(ms, acc, {}).empty());
}

TEST_CASE("pareto: budget choice on a synthetic table") {
    std::vector<ParetoPlan> plans = {measured("none", 10, 80, 0, 0, 0), measured("tome:r=4", 8, 79.6, 0.4, -0.1, 0.9),
                                     measured("topk:r=4", 8, 79.7, 0.3, -0.2, 0.8), measured("pomt:R=50,layer=3", 6, 78, 2, 1, 3),
                                     measured("tome:r=8", 7, 79.0, 1.0, 0.2, 1.8)};
    ParetoPlan not_measured = measured("random:keep=100,seed=0", 1, 90, -10, -11, -9);
    not_measured.measured = false;  // never chosen, however good it looks
    plans.push_back(not_measured);
    std::string why;
    ParetoBudget b;
    b.max_loss = 0.5;  // tie at 8 ms between plans 1 and 2: the more accurate wins
    CHECK(choose_pareto_plan(plans, b, &why) == 2);
    CHECK(why.find("estimated loss") != std::string::npos);
    b.max_loss = 1.0;
    CHECK(choose_pareto_plan(plans, b, &why) == 4);
    b.max_loss = 2.0;
    CHECK(choose_pareto_plan(plans, b, &why) == 3);
    b.max_loss = 1.0;
    b.loss_by_bound = true;  // upper ends: 0.9 and 0.8 fit, 1.8 does not
    CHECK(choose_pareto_plan(plans, b, &why) == 2);
    CHECK(why.find("upper end") != std::string::npos);
    b.max_loss = 0.5;  // no pruned plan's upper end is within 0.5: the unpruned model
    CHECK(choose_pareto_plan(plans, b, &why) == 0);
    b = ParetoBudget();
    b.max_ms = 7.5;
    CHECK(choose_pareto_plan(plans, b, &why) == 4);
    b.max_ms = 8;  // within means <=; the 8 ms tie goes to the more accurate
    CHECK(choose_pareto_plan(plans, b, &why) == 2);
    b = ParetoBudget();
    b.max_ratio = 0.65;
    CHECK(choose_pareto_plan(plans, b, &why) == 3);
    // Empty feasible set: -1 and a message naming the budget and the fastest plan.
    b.max_ratio = 0.5;
    CHECK(choose_pareto_plan(plans, b, &why) == -1);
    CHECK(why.find("within 0.5 of the unpruned latency") != std::string::npos);
    CHECK(why.find("fastest: 6 ms") != std::string::npos);
    b = ParetoBudget();
    b.max_ms = 1;
    CHECK(choose_pareto_plan(plans, b, &why) == -1);
    // The utility: alpha 1 is the fastest, alpha 0 the most accurate; no budget is alpha 0.5.
    b = ParetoBudget();
    b.alpha = 1;
    CHECK(choose_pareto_plan(plans, b, &why) == 3);
    b.alpha = 0;
    CHECK(choose_pareto_plan(plans, b, &why) == 0);
    b = ParetoBudget();
    const int half = choose_pareto_plan(plans, b, &why);
    b.alpha = 0.5;
    CHECK(choose_pareto_plan(plans, b, &why) == half);
    // Two budgets, or one out of range, are refused.
    b.max_loss = 1;
    CHECK_THROWS_AS(choose_pareto_plan(plans, b, &why), Error);
    b = ParetoBudget();
    b.max_ms = -1;
    CHECK_THROWS_AS(choose_pareto_plan(plans, b, &why), Error);
    b = ParetoBudget();
    b.alpha = 1.5;
    CHECK_THROWS_AS(choose_pareto_plan(plans, b, &why), Error);
}

TEST_CASE("pareto: successive halving keeps the front and drops the clearly dominated") {
    // 0 unpruned; 1..4 near-front plans; 5 and 6 slower than 1 and clearly worse; 7 fastest but awful.
    const int n = 400;
    std::vector<double> ms = {10, 9, 8, 7, 6, 9.5, 9.2, 3};
    std::vector<Correctness> c = {correctness(n, 80),      correctness(n, 82, 1), correctness(n, 86, 2),
                                  correctness(n, 92, 3),   correctness(n, 100, 4), correctness(n, 160, 5),
                                  correctness(n, 150, 100), correctness(n, 300)};
    std::vector<int> all = {0, 1, 2, 3, 4, 5, 6, 7};
    auto kept = search::halving_survivors(ms, c, all, n, 1.96, 8, {0});
    CHECK(kept == std::vector<int>{0, 1, 2, 3, 4, 7});  // 5, 6 dropped: 1 is faster and clearly better
    // A cap of 4 keeps the first non-dominated layer by top-1, the unpruned model always.
    kept = search::halving_survivors(ms, c, all, n, 1.96, 4, {0});
    CHECK(kept.size() == 4);
    CHECK(std::count(kept.begin(), kept.end(), 0) == 1);
    CHECK(std::count(kept.begin(), kept.end(), 1) == 1);
    // On few images nothing is clear yet: all stay.
    kept = search::halving_survivors(ms, c, all, 20, 1.96, 8, {0});
    CHECK(kept.size() == all.size());
    // An "always" plan stays even when dominated.
    kept = search::halving_survivors(ms, c, all, n, 1.96, 8, {0, 6});
    CHECK(std::count(kept.begin(), kept.end(), 6) == 1);
}

TEST_CASE("pareto: candidates cover every method and resolve on the model") {
    ModelConfig c = pomt_test::small_config(4, 4);
    auto cands = search::pareto_candidates(c, false, true);
    for (const char* m : {"pomt", "topk", "tome", "random"})
        CHECK(std::count_if(cands.begin(), cands.end(), [&](const auto& x) { return x.method == m; }) > 0);
    for (const auto& x : cands) {
        INFO(x.spec);
        ResolvedSchedule r = resolve_schedule(parse_prune_spec(x.spec), c);
        CHECK((r.layers.back().r == 0 || x.family == "constant"));  // lists never prune at the pooled last block
    }
    CHECK(search::pareto_candidates(c, true, true).size() < cands.size());
    // ViT-Tiny's shape: per-block lists of every kind.
    ModelConfig tiny = c;
    tiny.depth = 12;
    tiny.img_size = 224;
    tiny.patch_size = 16;
    auto big = search::pareto_candidates(tiny, false, true);
    for (const char* fam : {"decreasing", "increasing", "from block 2", "from block 5", "two blocks", "one block"})
        CHECK(std::count_if(big.begin(), big.end(), [&](const auto& x) { return x.family == fam; }) > 0);
}

TEST_CASE("schedule --search pareto: the API and the CLI on a small model") {
    pomt_test::ModelAndImages f = pomt_test::model_and_images(4, 11, 12);
    ParetoSearchOptions o;
    o.data = f.list;
    o.threads = 1;
    o.fast = true;
    o.first_images = 3;
    o.max_measured = 4;
    o.verify_runs = 3;
    o.budget.max_loss = 100;
    std::vector<std::string> phases;
    o.progress = [&](const SearchProgress& p) {
        if (phases.empty() || phases.back() != p.phase) phases.push_back(p.phase);
        return true;
    };
    const Classifier model = Classifier::load(f.model);
    ParetoSearchResult r = search_pareto(model, o);
    CHECK(r.images == 12);
    CHECK(r.round_images == std::vector<int>{3, 6, 12});
    REQUIRE(r.chosen >= 0);
    CHECK(r.plans[0].method == "none");
    CHECK(r.plans[0].measured);
    CHECK(r.plans[0].loss == 0);
    int measured_count = 0;
    for (const ParetoPlan& p : r.plans) {
        measured_count += p.measured;
        if (p.measured) CHECK(p.images == 12);
        if (p.dropped_round >= 0) CHECK(p.images == r.round_images[size_t(p.dropped_round)]);
        CHECK(p.loss_low <= p.loss + 1e-9);
        CHECK(p.loss_high >= p.loss - 1e-9);
    }
    CHECK(measured_count <= 5);
    CHECK(r.round_candidates[0] > r.round_candidates.back());
    // Any loss is within 100 points: the fastest measured plan.
    for (const ParetoPlan& p : r.plans)
        if (p.measured) CHECK(p.measured_ms >= r.plans[size_t(r.chosen)].measured_ms);
    CHECK(std::count(phases.begin(), phases.end(), "search") == 1);
    CHECK(phases.back() == "verify");
    // The file and the picture.
    const std::string file = schedule_file_json(model, r);
    json::Value j = json::parse(file, "pareto");
    CHECK(j.find("search")->find("measured")->as_array("").size() == size_t(measured_count));
    CHECK(j.find("search")->find("chosen")->find("spec")->as_string("") == r.plans[size_t(r.chosen)].spec);
    write_search_svgs(r, f.dir + "/api");
    CHECK(pomt_test::read_bytes(f.dir + "/api-front.svg").find("chosen") != std::string::npos);
    // Cancellation.
    o.progress = [](const SearchProgress& p) { return p.phase != "search"; };
    CHECK_THROWS_WITH_AS(search_pareto(model, o), doctest::Contains("cancelled"), Error);

    // The CLI: a file every --schedule command reads.
    const std::string out = f.dir + "/front.json";
    auto c = run_pomt({"schedule", "-m", f.model, "--data", f.list, "--threads", "1", "--fast", "--search", "pareto",
                       "--first-images", "4", "--max-measured", "3", "--verify-runs", "3", "--max-loss", "50", "--quiet",
                       "-o", out, "--svg-prefix", f.dir + "/cli"});
    INFO(c.out << c.err);
    REQUIRE(c.exit_code == 0);
    CHECK(c.out.find("chosen: ") != std::string::npos);
    CHECK(c.out.find("successive halving") != std::string::npos);
    CHECK(pomt_test::file_exists(f.dir + "/cli-front.svg"));
    json::Value s = read_json(out);
    CHECK(s.find("search")->find("choice")->as_string("").find("within 50 points") != std::string::npos);
    auto ev = run_pomt({"eval", "-m", f.model, "--data", f.list, "--schedule", out, "--json", "--quiet", "--latency-runs", "1"});
    CHECK(ev.exit_code == 0);
    auto bench = run_pomt({"bench", "-m", f.model, "--threads", "1", "--runs", "2", "--compare", "@" + out});
    CHECK(bench.exit_code == 0);
    auto cl = run_pomt({"classify", "-m", f.model, "--schedule", out, f.dir + "/" + "img0.bmp"});
    INFO(cl.err);
    CHECK(cl.exit_code == 0);
    // An empty feasible set: one line, exit 2, no file.
    auto e = run_pomt({"schedule", "-m", f.model, "--data", f.list, "--threads", "1", "--fast", "--search", "pareto",
                       "--first-images", "4", "--max-measured", "2", "--verify-runs", "2", "--max-ms", "0.000001",
                       "--quiet", "-o", f.dir + "/none.json"});
    CHECK(e.exit_code == 2);
    CHECK(e.err.find("no measured plan runs within") != std::string::npos);
    CHECK(std::count(e.err.begin(), e.err.end(), '\n') == 1);
    CHECK_FALSE(pomt_test::file_exists(f.dir + "/none.json"));
}

TEST_CASE("schedule --search pareto: bad flags are refused before any work") {
    pomt_test::ModelAndImages f = pomt_test::model_and_images(3, 5, 2);
    auto expect = [&](std::vector<std::string> extra, const std::string& needle) {
        std::vector<std::string> args = {"schedule", "-m", f.model, "--data", f.list, "--quiet", "--fast",
                                         "--threads", "1", "-o", f.dir + "/a.json"};
        args.insert(args.end(), extra.begin(), extra.end());
        auto r = run_pomt(args);
        INFO(r.err);
        CHECK(r.exit_code == 2);
        CHECK(r.err.find(needle) != std::string::npos);
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    };
    expect({"--max-loss", "1"}, "--max-loss applies only to --search pareto");
    expect({"--search", "pareto", "--max-loss", "-1"}, "--max-loss must be a number");
    expect({"--search", "pareto", "--max-loss", "x"}, "--max-loss must be a number");
    expect({"--search", "pareto", "--max-ms", "0"}, "--max-ms must be a number");
    expect({"--search", "pareto", "--max-ratio", "abc"}, "--max-ratio");
    expect({"--search", "pareto", "--max-loss", "1", "--max-ms", "5"}, "give one budget");
    expect({"--search", "pareto", "--alpha", "0.5", "--max-ratio", "0.8"}, "give one budget");
    expect({"--search", "pareto", "--by-bound"}, "--by-bound applies only with --max-loss");
    expect({"--search", "pareto", "--grid", "4"}, "--grid does not apply to --search pareto");
    expect({"--search", "pareto", "--z", "0"}, "--z");
    expect({"--search", "pareto", "--first-images", "0"}, "--first-images");
    expect({"--search", "pareto", "--also", "pomt:R=99,layer=0"}, "pomt");
    expect({"--search", "pareto", "--compare", f.dir + "/none.json"}, "none.json");
}
