// The Pareto search (include/pomt/search.h, search/pareto_*.{h,cpp}): paired intervals, front
// extraction and budget choice on synthetic tables, the successive-halving cut on synthetic
// correctness, the candidates, and `pomt schedule --search pareto` end to end on a small random
// model through the API and the CLI. No timing assertions.
#include <algorithm>
#include <fstream>
#include <random>

#include "api/internal.h"
#include "core/json.h"
#include "eval/dataset.h"
#include "eval/evaluate.h"
#include "quantize/quantize_model.h"
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

// A quick search of the small test models: rounds from 3 images, 4 plans timed `verify_runs` times,
// any loss within budget.
ParetoSearchOptions small_search(const std::string& list, int verify_runs) {
    ParetoSearchOptions o;
    o.data = list;
    o.threads = 1;
    o.fast = true;
    o.first_images = 3;
    o.max_measured = 4;
    o.verify_runs = verify_runs;
    o.budget.max_loss = 100;
    return o;
}

// A `pomt profile --mode block --csv` file as a device would give it (1 thread, batch 1): B(n)
// linear in n at every count up to `tokens`, and the whole model's row there. The searches that
// read it skip measuring B(n).
void write_block_csv(const std::string& path, double scale, int tokens) {
    std::string text = "mode,tokens,batch,threads,median_ms,p10_ms,p90_ms,runs\n";
    auto row = [&](const char* mode, int n, double ms) {
        const std::string v = json::format_number(scale * ms);
        text += std::string(mode) + "," + std::to_string(n) + ",1,1," + v + "," + v + "," + v + ",5\n";
    };
    for (int n = 1; n <= tokens; ++n) row("block", n, 0.02 + 0.004 * n);
    row("model", tokens, 4 * (0.02 + 0.004 * tokens) + 0.05);
    pomt_test::write_bytes(path, text);
}

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
    b.max_loss = 0.5;
    CHECK_THROWS_WITH_AS(choose_pareto_plan(plans, b, &why), doctest::Contains("choose_confirmed_plan"), Error);
    b.loss_rule = LossRule::Estimate;  // tie at 8 ms between plans 1 and 2: the more accurate wins
    CHECK(choose_pareto_plan(plans, b, &why) == 2);
    CHECK(why.find("estimated loss") != std::string::npos);
    b.max_loss = 1.0;
    CHECK(choose_pareto_plan(plans, b, &why) == 4);
    b.max_loss = 2.0;
    CHECK(choose_pareto_plan(plans, b, &why) == 3);
    b.max_loss = 1.0;
    b.loss_rule = LossRule::EstimateBound;  // upper ends: 0.9 and 0.8 fit, 1.8 does not
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

TEST_CASE("pareto: the confirmed rule walks the front from the slowest and stops at the first failure") {
    // Plan 3 is the winner's curse: estimated 0.45 (just under the budget), it loses 2 on new images.
    std::vector<ParetoPlan> plans = {measured("none", 10, 80, 0, 0, 0), measured("tome:r=2", 9, 79.8, 0.2, -0.3, 0.7),
                                     measured("tome:r=4", 8, 79.6, 0.4, -0.2, 1.0), measured("topk:r=6", 7, 79.55, 0.45, -0.4, 1.3),
                                     measured("pomt:R=50,layer=3", 6, 77, 3, 2, 4), measured("tome:r=3", 8.5, 79.0, 0.3, 0, 0.6)};
    for (ParetoPlan& p : plans) p.on_front = p.spec != "tome:r=3";  // plan 5 is dominated by plan 2
    // Confirmed (loss, upper bound) per plan: what new images say.
    std::vector<std::pair<double, double>> truth = {{0, 0}, {0.1, 0.35}, {0.3, 0.48}, {2.0, 2.9}, {3, 4}, {0, 0.1}};
    std::vector<int> asked;
    auto confirm = [&](int i) {
        asked.push_back(i);
        ParetoPlan& p = plans[size_t(i)];
        p.confirmed = true;
        p.confirm_images = 276;
        p.confirm_loss = truth[size_t(i)].first;
        p.confirm_high = truth[size_t(i)].second;
    };
    ParetoBudget b;
    b.max_loss = 0.5;
    b.loss_rule = LossRule::Estimate;
    std::string why;
    CHECK(choose_pareto_plan(plans, b, &why) == 3);  // the estimate alone takes the cursed plan
    b.loss_rule = LossRule::Confirmed;
    CHECK(choose_confirmed_plan(plans, b, confirm, &why) == 2);
    CHECK(asked == std::vector<int>{1, 2, 3});  // slowest first; plan 4 (estimate 3) and the dominated plan 5 never
    CHECK(why.find("fp32 topk:r=6, confirmed 2 with upper bound 2.9, ended the walk") != std::string::npos);
    CHECK(why.find("90 % upper bound") != std::string::npos);
    // A failure first: the unpruned model, however good the plans after it.
    asked.clear();
    truth[1] = {0.4, 0.6};
    CHECK(choose_confirmed_plan(plans, b, confirm, &why) == 0);
    CHECK(asked == std::vector<int>{1});
    CHECK(why.find("none was, so the unpruned model") != std::string::npos);
    truth[1] = {0.1, 0.35};
    // Every other precision's unpruned model comes first, though off the estimated front, slowest
    // first; then only the pruned plans faster than the last of them (tome:r=2, 9 ms, is not).
    ParetoPlan int8 = measured("none", 8.8, 79.5, 0.5, 0.1, 0.9), bf16 = measured("none", 9.5, 79.9, 0.1, -0.2, 0.4);
    int8.precision = PlanPrecision::Int8;
    bf16.precision = PlanPrecision::Bf16;
    plans.push_back(int8);
    plans.push_back(bf16);
    truth.push_back({0.2, 0.4});
    truth.push_back({0.1, 0.3});
    asked.clear();
    CHECK(choose_confirmed_plan(plans, b, confirm, &why) == 2);
    CHECK(asked == std::vector<int>{7, 6, 2, 3});
    // The case seen on the real ViT-Tiny: a pruned int8 plan a hair slower than int8 unpruned and
    // more accurate by estimate, confirmed over the budget. Slowest first, it came before int8 and
    // ended the walk, and the search kept fp32; int8 unpruned is now tried first and chosen.
    plans[6].measured_ms = 7.1;
    plans.push_back(measured("tome:r=5", 7.12, 79.9, 0.1, -0.5, 0.6));
    plans.back().precision = PlanPrecision::Int8;
    plans.back().on_front = true;
    truth.push_back({0.4, 1.2});
    plans[3].on_front = plans[2].on_front = false;  // off the front here: the case is the two int8 plans
    asked.clear();
    CHECK(choose_confirmed_plan(plans, b, confirm, &why) == 6);
    CHECK(asked == std::vector<int>{7, 6});
    plans.resize(6);
    truth.resize(6);
    for (ParetoPlan& p : plans) p.on_front = p.spec != "tome:r=3";
    // A larger budget takes the walk further; a plan whose estimate exceeds it is never tried.
    asked.clear();
    b.max_loss = 3;
    CHECK(choose_confirmed_plan(plans, b, confirm, &why) == 3);
    CHECK(asked == std::vector<int>{1, 2, 3, 4});
    // The rule needs a loss budget and the unpruned model measured.
    ParetoBudget ms;
    ms.max_ms = 5;
    CHECK_THROWS_AS(choose_confirmed_plan(plans, ms, confirm, &why), Error);
    b.confidence = 1;
    CHECK_THROWS_AS(choose_confirmed_plan(plans, b, confirm, &why), Error);
    CHECK(normal_quantile(0.5) == doctest::Approx(0).epsilon(1e-12));
    CHECK(normal_quantile(0.9) == doctest::Approx(1.2815515655).epsilon(1e-9));
    CHECK(normal_quantile(0.975) == doctest::Approx(1.9599639845).epsilon(1e-9));
    CHECK_THROWS_AS(normal_quantile(1), Error);
}

TEST_CASE("pareto: the confirmed rule keeps the budget where the estimate's choice breaks it (simulated)") {
    // Many searches on synthetic paired outcomes: 12 plans, each 0.5 ms faster than the last and
    // truly losing 0.25 points more; per image a plan loses a correct answer with probability
    // 3 % + its loss and gains one with 3 %. 1024 estimation images, 276 confirmation images (the
    // split of the 1300 shared ones), budget 1 point. How often does the chosen plan truly lose
    // more than the budget? The confirmed rule promises at most 1 − confidence (10 %); 400 searches
    // put 3 standard errors (±4.5 points) on that share. The estimate's choice has no such bound.
    std::mt19937_64 rng(2026);
    auto uniform = [&] { return double(rng() >> 11) * (1.0 / 9007199254740992.0); };
    const int plans_n = 13, n_est = 1024, n_conf = 276, trials = 400;
    auto draw = [&](int k, int n) {  // paired outcomes: base correct, plan correct
        std::pair<Correctness, Correctness> out;
        const double lose = 0.03 + 0.0025 * k, gain = 0.03;
        for (int i = 0; i < n; ++i) {
            const double u = uniform();
            const bool base = uniform() < 0.8;
            bool plan = base;
            if (k > 0 && base && u < lose / 0.8) plan = false;
            if (k > 0 && !base && u < gain / 0.2) plan = true;
            out.first.push_back(base);
            out.second.push_back(plan);
        }
        return out;
    };
    int broke_estimate = 0, broke_confirmed = 0, chose_pruned = 0;
    for (int t = 0; t < trials; ++t) {
        std::vector<ParetoPlan> plans;
        std::vector<double> ms, top1;
        std::vector<int> all;
        for (int k = 0; k < plans_n; ++k) {
            auto [base, plan] = draw(k, n_est);
            const search::PairedInterval d = search::paired_difference(base, plan, n_est, 1.96);
            ParetoPlan p = measured(k ? "tome:r=" + std::to_string(k) : "none", 10 - 0.5 * k, 80 - d.mean, d.mean, d.low, d.high);
            plans.push_back(p);
            ms.push_back(p.measured_ms);
            top1.push_back(p.top1);
            all.push_back(k);
        }
        for (int i : pareto_front(ms, top1, all)) plans[size_t(i)].on_front = true;
        ParetoBudget b;
        b.max_loss = 1;
        b.loss_rule = LossRule::Estimate;
        std::string why;
        const int e = choose_pareto_plan(plans, b, &why);
        broke_estimate += 0.25 * e > 1 + 1e-9;
        b.loss_rule = LossRule::Confirmed;
        const int c = choose_confirmed_plan(plans, b, [&](int k) {
            auto [base, plan] = draw(k, n_conf);
            const search::PairedInterval d = search::paired_difference(base, plan, n_conf, normal_quantile(b.confidence));
            plans[size_t(k)].confirmed = true;
            plans[size_t(k)].confirm_loss = d.mean;
            plans[size_t(k)].confirm_high = d.high;
        }, &why);
        broke_confirmed += 0.25 * c > 1 + 1e-9;
        chose_pruned += c > 0;
    }
    MESSAGE("budget 1 broken: estimate rule " << broke_estimate << "/" << trials << ", confirmed rule " << broke_confirmed
            << "/" << trials << " (a pruned plan chosen in " << chose_pruned << ")");
    CHECK(broke_confirmed <= trials * 0.145);
    CHECK(broke_estimate >= trials * 0.3);  // the curse is real in this setting, or the test shows nothing
    CHECK(chose_pruned > 0);                // and the rule is not merely "never prune"
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
    ParetoSearchOptions o = small_search(f.list, 3);
    std::vector<std::string> phases;
    o.progress = [&](const SearchProgress& p) {
        if (phases.empty() || phases.back() != p.phase) phases.push_back(p.phase);
        return true;
    };
    const Classifier model = Classifier::load(f.model);
    ParetoSearchResult r = search_pareto(model, o);
    // 12 images and no --confirm: the last quarter confirms, the first 9 estimate.
    CHECK(r.images == 9);
    CHECK(r.round_images == std::vector<int>{3, 6, 9});
    CHECK(r.confirm_images == 3);
    CHECK(r.confirm_source.find("images 9..12") != std::string::npos);
    REQUIRE(r.chosen >= 0);
    CHECK(r.plans[0].method == "none");
    CHECK(r.plans[0].measured);
    CHECK(r.plans[0].loss == 0);
    int measured_count = 0;
    for (const ParetoPlan& p : r.plans) {
        measured_count += p.measured;
        if (p.measured) CHECK(p.images == 9);
        if (p.dropped_round >= 0) CHECK(p.images == r.round_images[size_t(p.dropped_round)]);
        CHECK(p.loss_low <= p.loss + 1e-9);
        CHECK(p.loss_high >= p.loss - 1e-9);
    }
    // Each method in each precision gets a share of max_measured (at least one), besides the
    // unpruned model in both precisions (fp32 and int8 by default from an fp32 model).
    std::vector<std::string> groups;
    for (const ParetoPlan& p : r.plans) {
        const std::string g = p.method + plan_precision_name(p.precision);
        if (p.dropped_round < 0 && p.method != "none" && !std::count(groups.begin(), groups.end(), g)) groups.push_back(g);
    }
    CHECK(measured_count <= 2 + std::max<int>(4, int(groups.size())));
    CHECK(r.precisions == std::vector<PlanPrecision>{PlanPrecision::Float32, PlanPrecision::Int8});
    CHECK(std::count_if(r.plans.begin(), r.plans.end(), [](const ParetoPlan& p) {
              return p.method == "none" && p.precision == PlanPrecision::Int8 && p.measured;
          }) == 1);
    CHECK(r.round_candidates[0] > r.round_candidates.back());
    // Any loss is within 100 points: the fastest measured plan.
    for (const ParetoPlan& p : r.plans)
        if (p.measured) CHECK(p.measured_ms >= r.plans[size_t(r.chosen)].measured_ms);
    CHECK(std::count(phases.begin(), phases.end(), "search") == 1);
    CHECK(phases.back() == "confirm");  // the walk confirms after the front is timed
    CHECK(phases[phases.size() - 2] == "verify");
    // Budget 100: every front plan within it is confirmed and accepted, so the chosen one is.
    CHECK(r.plans[size_t(r.chosen)].confirmed == (r.chosen > 0));
    CHECK(r.choice.find("fixed sequence") != std::string::npos);
    // The file and the picture.
    const std::string file = schedule_file_json(model, r);
    json::Value j = json::parse(file, "pareto");
    CHECK(j.find("search")->find("measured")->as_array("").size() == size_t(measured_count));
    CHECK(j.find("search")->find("chosen")->find("spec")->as_string("") == r.plans[size_t(r.chosen)].spec);
    write_search_svgs(r, f.dir + "/api");
    CHECK(pomt_test::read_bytes(f.dir + "/api-front.svg").find("chosen") != std::string::npos);
    CHECK(pomt_test::read_bytes(f.dir + "/api-front.svg").find("int8 (centre dot)") != std::string::npos);
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
    CHECK(pomt_test::lines_besides_disturbance(e.err) == 1);
    CHECK_FALSE(pomt_test::file_exists(f.dir + "/none.json"));
}

TEST_CASE("schedule --search pareto: accuracy evaluated elsewhere lands where the local run puts it") {
    // The remote evaluator here decodes the list's images itself (as a cluster worker does) and
    // runs each plan's schedule text in its precision; every plan's accuracy must equal a local
    // evaluation of the same images, and the confirmation must use the confirmation images.
    pomt_test::ModelAndImages f = pomt_test::model_and_images(4, 11, 12);
    const Classifier model = Classifier::load(f.model);
    const std::vector<LabelledImage> list = load_dataset(f.list, "", model.num_classes());
    ParetoSearchOptions o = small_search(f.list, 2);
    int requests = 0, confirmations = 0;
    o.remote_accuracy = [&](const std::vector<ParetoSearchOptions::AccuracyRequest>& reqs) {
        std::vector<ParetoSearchOptions::AccuracyReply> out;
        for (const auto& q : reqs) {
            ++requests;
            confirmations += q.confirmation || q.first >= 9;
            const PruneSchedule ps = parse_schedule_json(q.schedule, "request");
            CHECK(ps.precision == plan_precision_name(q.precision));
            EvalOptions eo;
            eo.threads = 1;
            const std::vector<LabelledImage> part(list.begin() + q.first, list.begin() + q.first + q.count);
            const EvalResult r = evaluate_images(model_in_precision(model_of(model), ps.precision), part, ps, eo);
            ParetoSearchOptions::AccuracyReply a;
            for (const ImageOutcome& im : r.per_image) a.top1.push_back(im.correct1), a.top5.push_back(im.correct5);
            out.push_back(a);
        }
        return out;
    };
    // The walk confirms only plans measured faster than the unpruned model: on a loaded machine
    // every plan of this tiny model can measure slower (seen once in a CI run), and then nothing
    // is confirmed. Up to three searches, so that the confirmation path is exercised.
    ParetoSearchResult r = search_pareto(model, o);
    for (int attempt = 1; attempt < 3 && confirmations == 0; ++attempt) r = search_pareto(model, o);
    CHECK(requests > 0);
    CHECK(confirmations > 0);
    CHECK(r.images == 9);
    CHECK(r.confirm_images == 3);
    std::shared_ptr<const Model> int8 = model_in_precision(model_of(model), "int8");
    std::vector<unsigned char> base;
    for (const ParetoPlan& p : r.plans) {
        if (p.images == 0) continue;
        const std::vector<LabelledImage> first(list.begin(), list.begin() + p.images);
        EvalOptions eo;
        eo.threads = 1;
        const EvalResult local = evaluate_images(p.precision == PlanPrecision::Int8 ? int8 : model_of(model), first,
                                                 parse_prune_spec(p.spec), eo);
        INFO(p.spec << " " << plan_precision_name(p.precision));
        CHECK(p.top1 == doctest::Approx(local.top1()));
        CHECK(p.top5 == doctest::Approx(local.top5()));
    }
    REQUIRE(r.chosen >= 0);
    // Bad hooks: a reply of the wrong size is an error, not a silent misalignment; skip_bad is refused.
    o.remote_accuracy = [](const std::vector<ParetoSearchOptions::AccuracyRequest>& reqs) {
        return std::vector<ParetoSearchOptions::AccuracyReply>(reqs.size());
    };
    CHECK_THROWS_WITH_AS(search_pareto(model, o), doctest::Contains("one entry per image"), Error);
    o.skip_bad = true;
    CHECK_THROWS_WITH_AS(search_pareto(model, o), doctest::Contains("skip_bad"), Error);
}

TEST_CASE("schedule --search pareto: a plan chosen in int8 runs in int8 from the fp32 file") {
    pomt_test::ModelAndImages f = pomt_test::model_and_images(3, 5, 8);
    const std::string plan = f.dir + "/int8.json";
    {
        std::ofstream out(plan);
        out << "{\"layers\": [null, {\"method\": \"tome\", \"r\": 4}, null], \"precision\": \"int8\"}\n";
    }
    const Classifier fp32 = Classifier::load(f.model);
    const Schedule sched = Schedule::load(plan);
    CHECK(sched.precision() == "int8");
    const Classifier int8 = fp32.for_schedule(sched);
    CHECK(model_of(int8)->is_int8());
    CHECK(model_of(fp32.for_schedule(Schedule::parse("tome:r=4"))) == model_of(fp32));
    // The same logits as the file `pomt quantize` writes, run with the same schedule.
    const std::string q = f.dir + "/q.pomt";
    REQUIRE(run_pomt({"quantize", f.model, "-o", q}).exit_code == 0);
    const Classifier from_file = Classifier::load(q);
    const Tensor x = fp32.preprocess_file(f.dir + "/img0.bmp");
    InferenceOptions io;
    io.schedule = sched;
    CHECK(int8.run(x, io).logits == from_file.run(x, io).logits);
    // The commands apply it; an int8 model refuses an fp32 plan; a bad precision is one line.
    auto a = run_pomt({"eval", "-m", f.model, "--data", f.list, "--schedule", plan, "--json", "--quiet", "--latency-runs", "0"});
    auto b = run_pomt({"eval", "-m", q, "--data", f.list, "--schedule", plan, "--json", "--quiet", "--latency-runs", "0"});
    INFO(a.err << b.err);
    CHECK(a.exit_code == 0);
    CHECK(json::parse(a.out, "a").find("top1")->as_number("") == json::parse(b.out, "b").find("top1")->as_number(""));
    auto bench = run_pomt({"bench", "-m", f.model, "--threads", "1", "--runs", "2", "--compare", "@" + plan});
    CHECK(bench.exit_code == 0);
    CHECK(bench.out.find("(int8)") != std::string::npos);
    {
        std::ofstream out(f.dir + "/fp32.json");
        out << "{\"prune\": \"tome:r=2\", \"precision\": \"fp32\"}\n";
        std::ofstream bad(f.dir + "/bad.json");
        bad << "{\"prune\": \"tome:r=2\", \"precision\": \"fp16\"}\n";
    }
    auto c = run_pomt({"eval", "-m", q, "--data", f.list, "--schedule", f.dir + "/fp32.json", "--quiet"});
    CHECK(c.exit_code == 2);
    CHECK(c.err.find("the plan runs in fp32 and the model is int8") != std::string::npos);
    auto d = run_pomt({"classify", "-m", f.model, "--schedule", f.dir + "/bad.json", f.dir + "/img0.bmp"});
    CHECK(d.exit_code == 2);
    CHECK(d.err.find("precision must be \"fp32\", \"int8\" or \"bf16\"") != std::string::npos);
    CHECK(std::count(d.err.begin(), d.err.end(), '\n') == 1);
}

TEST_CASE("schedule --search pareto: fp32, int8 and bf16 in one search") {
    pomt_test::ModelAndImages f = pomt_test::model_and_images(3, 5, 8);
    const Classifier model = Classifier::load(f.model);
    ParetoSearchOptions o = small_search(f.list, 2);
    o.precisions = {PlanPrecision::Float32, PlanPrecision::Int8, PlanPrecision::Bf16};
    const ParetoSearchResult r = search_pareto(model, o);
    CHECK(r.precisions == o.precisions);
    CHECK(r.precision_sources.size() == 3);
    CHECK(r.plans[0].precision == PlanPrecision::Float32);
    for (PlanPrecision q : o.precisions) {
        INFO(plan_precision_name(q));
        // Every candidate in every precision, and each precision's unpruned model measured.
        CHECK(std::count_if(r.plans.begin(), r.plans.end(), [&](const ParetoPlan& p) {
                  return p.precision == q && p.method != "none";
              }) == std::count_if(r.plans.begin(), r.plans.end(), [&](const ParetoPlan& p) {
                  return p.precision == PlanPrecision::Float32 && p.method != "none";
              }));
        CHECK(std::count_if(r.plans.begin(), r.plans.end(), [&](const ParetoPlan& p) {
                  return p.precision == q && p.method == "none" && p.measured;
              }) == 1);
    }
    // The bf16 plans ran on the bf16 model `pomt quantize --precision bf16` makes.
    const std::shared_ptr<const Model> bf16 = model_in_precision(model_of(model), "bf16");
    const std::vector<LabelledImage> list = load_dataset(f.list, "", model.num_classes());
    EvalOptions eo;
    eo.threads = 1;
    int bf16_plans = 0;
    for (const ParetoPlan& p : r.plans) {
        if (p.precision != PlanPrecision::Bf16 || p.images == 0) continue;
        INFO(p.spec);
        const std::vector<LabelledImage> first(list.begin(), list.begin() + p.images);
        CHECK(p.top1 == doctest::Approx(evaluate_images(bf16, first, parse_prune_spec(p.spec), eo).top1()));
        ++bf16_plans;
    }
    CHECK(bf16_plans > 1);
    // The file records each plan's precision and each precision's latency source; the picture marks bf16.
    json::Value j = json::parse(schedule_file_json(model, r), "pareto");
    const auto& measured_plans = j.find("search")->find("measured")->as_array("");
    CHECK(std::count_if(measured_plans.begin(), measured_plans.end(), [](const json::Value& p) {
              return p.find("precision")->as_string("") == "bf16";
          }) >= 1);
    CHECK(j.find("search")->find("precisions")->as_array("")[2].find("precision")->as_string("") == "bf16");
    write_search_svgs(r, f.dir + "/three");
    const std::string svg = pomt_test::read_bytes(f.dir + "/three-front.svg");
    CHECK(svg.find("bf16 (centre bar)") != std::string::npos);
    CHECK(svg.find("int8 (centre dot)") != std::string::npos);
    CHECK(svg.find("<line class=\"bf16\"") != std::string::npos);
}

TEST_CASE("schedule --search pareto: a bf16 plan runs as the bf16 file does; --block-latency-bf16") {
    pomt_test::ModelAndImages f = pomt_test::model_and_images(3, 5, 8);
    const std::string csv = f.dir + "/block_bf16.csv", out = f.dir + "/bf16.json", q = f.dir + "/bf16.pomt";
    write_block_csv(csv, 0.9, 17);
    const std::vector<std::string> quick = {"--data", f.list, "--threads", "1", "--fast", "--search", "pareto",
                                            "--first-images", "3", "--max-measured", "3", "--verify-runs", "2",
                                            "--max-loss", "100", "--quiet"};
    auto schedule = [&](std::vector<std::string> args) {
        args.insert(args.begin(), "schedule");
        args.insert(args.end(), quick.begin(), quick.end());
        auto c = run_pomt(args);
        INFO(c.out << c.err);
        REQUIRE(c.exit_code == 0);
        return read_json(args[size_t(std::find(args.begin(), args.end(), "-o") - args.begin()) + 1]);
    };
    // bf16 alone from the fp32 file, its B(n) from the CSV: every plan, the chosen one too, in bf16.
    json::Value s = schedule({"-m", f.model, "--precision", "bf16", "--block-latency-bf16", csv, "-o", out});
    CHECK(s.find("precision")->as_string("") == "bf16");
    const auto& sources = s.find("search")->find("precisions")->as_array("");
    REQUIRE(sources.size() == 1);
    CHECK(sources[0].find("block_latency_source")->as_string("").find(csv) == 0);
    // The same logits as the file `pomt quantize --precision bf16` writes, run with the same schedule.
    REQUIRE(run_pomt({"quantize", f.model, "--precision", "bf16", "-o", q}).exit_code == 0);
    const Classifier fp32 = Classifier::load(f.model), from_file = Classifier::load(q);
    const Schedule sched = Schedule::load(out);
    CHECK(sched.precision() == "bf16");
    CHECK(model_of(fp32.for_schedule(sched))->is_bf16());
    InferenceOptions io;
    io.schedule = sched;
    for (const char* image : {"img0.bmp", "img3.bmp"}) {
        const Tensor x = fp32.preprocess_file(f.dir + "/" + image);
        CHECK(fp32.for_schedule(sched).run(x, io).logits == from_file.run(x, io).logits);
    }
    // eval applies it from the fp32 file as the bf16 file runs it, with the search's accuracy.
    auto a = run_pomt({"eval", "-m", f.model, "--data", f.list, "--schedule", out, "--json", "--quiet", "--latency-runs", "0"});
    auto b = run_pomt({"eval", "-m", q, "--data", f.list, "--schedule", out, "--json", "--quiet", "--latency-runs", "0"});
    auto c = run_pomt({"eval", "-m", f.model, "--data", f.list, "--schedule", out, "--json", "--quiet", "--latency-runs", "0",
                       "--limit", "6"});
    INFO(a.err << b.err << c.err);
    REQUIRE(a.exit_code == 0);
    CHECK(json::parse(a.out, "a").find("top1")->as_number("") == json::parse(b.out, "b").find("top1")->as_number(""));
    CHECK(json::parse(c.out, "c").find("top1")->as_number("") ==
          doctest::Approx(s.find("search")->find("chosen")->find("top1")->as_number("")));
    // A bf16 file searches in bf16 by default; its own B(n) CSV is --block-latency.
    json::Value own = schedule({"-m", q, "--block-latency", csv, "-o", f.dir + "/own.json"});
    const auto& own_sources = own.find("search")->find("precisions")->as_array("");
    REQUIRE(own_sources.size() == 1);
    CHECK(own_sources[0].find("precision")->as_string("") == "bf16");
    CHECK(own.find("precision")->as_string("") == "bf16");
}

TEST_CASE("schedule --search pareto: bad flags are refused before any work") {
    pomt_test::ModelAndImages f = pomt_test::model_and_images(3, 5, 2);
    const std::string q8 = f.dir + "/int8.pomt", q16 = f.dir + "/bf16.pomt";
    REQUIRE(run_pomt({"quantize", f.model, "-o", q8}).exit_code == 0);
    REQUIRE(run_pomt({"quantize", f.model, "--precision", "bf16", "-o", q16}).exit_code == 0);
    pomt_test::write_bytes(f.dir + "/model.csv", "mode,tokens,batch,threads,median_ms,p10_ms,p90_ms,runs\nmodel,17,1,1,1,1,1,5\n");
    pomt_test::write_bytes(f.dir + "/int8.json", "{\"prune\": \"tome:r=2\", \"precision\": \"int8\"}\n");
    auto expect = [&](std::vector<std::string> extra, const std::string& needle, const std::string& model = "") {
        std::vector<std::string> args = {"schedule", "-m", model.empty() ? f.model : model, "--data", f.list, "--quiet", "--fast",
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
    expect({"--search", "pareto", "--rule", "bound"}, "--rule applies only with --max-loss");
    expect({"--search", "pareto", "--max-loss", "1", "--rule", "x"}, "--rule must be confirmed, estimate or bound");
    expect({"--search", "pareto", "--max-loss", "1", "--confidence", "0.4"}, "--confidence must be a number");
    expect({"--search", "pareto", "--max-loss", "1", "--rule", "estimate", "--confidence", "0.8"},
           "--confidence applies only to --rule confirmed");
    expect({"--search", "pareto", "--max-loss", "1", "--confirm", "0"}, "there are none");
    expect({"--search", "pareto", "--confirm", "2", "--max-ms", "1"}, "too few for 2 confirmation images");
    expect({"--search", "pareto", "--confirm-root", "/tmp"}, "--confirm-root applies only with --confirm-data");
    expect({"--search", "pareto", "--confirm-data", f.dir + "/missing.txt"}, "missing.txt");
    expect({"--search", "pareto", "--precision", "fp16"}, "--precision takes fp32, int8 and/or bf16, comma-separated, not 'fp16'");
    expect({"--search", "pareto", "--precision", "fp32,"}, "--precision takes fp32, int8 and/or bf16");
    expect({"--search", "pareto", "--precision", "fp32,fp32"}, "precision fp32 is listed twice");
    expect({"--search", "pareto", "--precision", "bf16,int8,bf16"}, "precision bf16 is listed twice");
    expect({"--search", "pareto", "--precision", "fp32", "--block-latency-int8", f.dir + "/b.csv"}, "int8 is not searched");
    expect({"--search", "pareto", "--block-latency-bf16", f.dir + "/b.csv"},
           "a bf16 block latency CSV is given and bf16 is not searched");
    expect({"--block-latency-bf16", f.dir + "/b.csv"}, "--block-latency-bf16 applies only to --search pareto");
    expect({"--search", "pareto", "--precision", "bf16", "--block-latency-bf16", f.dir + "/none.csv"}, "none.csv");
    expect({"--search", "pareto", "--precision", "bf16", "--block-latency-bf16", f.dir + "/model.csv"}, "no block-mode latency");
    // An int8 or bf16 file runs its own precision only.
    expect({"--search", "pareto", "--precision", "fp32"}, "the model is bf16 and cannot run fp32 plans", q16);
    expect({"--search", "pareto", "--precision", "bf16,int8"}, "the model is bf16 and cannot run int8 plans", q16);
    expect({"--search", "pareto", "--precision", "bf16"}, "the model is int8 and cannot run bf16 plans", q8);
    expect({"--search", "pareto", "--block-latency-bf16", f.dir + "/b.csv"}, "the model is bf16: its block latency CSV is",
           q16);
    expect({"--search", "pareto", "--compare", f.dir + "/int8.json"}, "runs in int8 and the model is bf16", q16);
    expect({"--search", "pareto", "--grid", "4"}, "--grid does not apply to --search pareto");
    expect({"--search", "pareto", "--z", "0"}, "--z");
    expect({"--search", "pareto", "--first-images", "0"}, "--first-images");
    expect({"--search", "pareto", "--also", "pomt:R=99,layer=0"}, "pomt");
    expect({"--search", "pareto", "--compare", f.dir + "/none.json"}, "none.json");
}
