// The joint layer search (search/layer_search.h): the latency prediction from block tables, the
// candidates, the coarse-to-fine 2-D search against the exhaustive grid, and `pomt schedule
// --search layer` end to end on a small random model with generated images. No timing assertions.
#include <cmath>
#include <map>

#include "doctest/doctest.h"
#include "search/layer_search.h"
#include "profiler/latency_curve.h"
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

// depth 4, 17 tokens, 4 classes; `images` BMPs with labels i % 4.
Fixture make_fixture(int images) { return pomt_test::model_and_images(4, 11, images); }

json::Value read_json(const std::string& path) {
    return json::parse(pomt_test::read_bytes(path), path);
}

// A synthetic block curve with a 16-token sawtooth: 0.01 ms per token, a 0.05 ms jump above each
// multiple of 16.
std::vector<profiler::CurvePoint> sawtooth(int lo, int hi) {
    std::vector<profiler::CurvePoint> c;
    for (int n = lo; n <= hi; ++n) {
        double ms = 0.2 + 0.01 * n + 0.05 * ((n + 15) / 16);
        c.push_back({n, ms, ms * 0.98, ms * 1.05, 15});
    }
    return c;
}

// Plausible accuracy: pruning early and far costs most; saturating in the tokens kept.
double synthetic_accuracy(const search::PrunePlan& plan, int full, double c1 = 25.0, double c2 = 1.5) {
    double a = 80.0;
    int n_in = full;
    for (const auto& p : plan) {
        double lost = double(n_in - p.tokens) / full;
        a -= c1 * lost * lost * std::exp(-p.layer / 3.0) + c2 * lost;
        n_in = p.tokens;
    }
    return a;
}

}  // namespace

TEST_CASE("layer search: block-table latency prediction and plans") {
    auto table = search::make_block_table(sawtooth(3, 197), 40.0, 12, 197, "synthetic");
    const double b_full = table.block_ms(197);
    CHECK(table.overhead_ms == doctest::Approx(40.0 - 12 * b_full));
    CHECK(table.unpruned_ms() == doctest::Approx(40.0));
    CHECK(search::predict_plan_ms(table, {}) == doctest::Approx(40.0));
    // POMT at block ℓ leaving n: overhead + (ℓ+1)·B(N) + (depth−ℓ−1)·B(n).
    CHECK(search::predict_plan_ms(table, {{3, 128}}) ==
          doctest::Approx(table.overhead_ms + 4 * b_full + 8 * table.block_ms(128)));
    CHECK(search::predict_plan_ms(table, {{2, 160}, {7, 96}}) ==
          doctest::Approx(table.overhead_ms + 3 * b_full + 5 * table.block_ms(160) + 4 * table.block_ms(96)));
    // With the share f of a block after the pruning point known, the pruning block runs its MLP at n.
    auto split = table;
    split.after_prune_share = 0.6;
    CHECK(split.pruning_block_ms(197, 128) == doctest::Approx(b_full - 0.6 * (b_full - table.block_ms(128))));
    CHECK(search::predict_plan_ms(split, {{3, 128}}) ==
          doctest::Approx(table.overhead_ms + 3 * b_full + split.pruning_block_ms(197, 128) + 8 * table.block_ms(128)));
    CHECK(search::predict_plan_ms(split, {{11, 64}}) < search::predict_plan_ms(table, {{11, 64}}));  // last block saves too
    CHECK(search::predict_plan_ms(split, {}) == doctest::Approx(40.0));
    CHECK(search::plan_block_tokens({{2, 160}, {7, 96}}, 12, 197) ==
          std::vector<int>{197, 197, 197, 160, 160, 160, 160, 160, 96, 96, 96, 96});
    // Interpolation between measured counts; outside the table is an error.
    auto sparse = search::make_block_table({{10, 1.0, 1, 1, 1}, {20, 2.0, 2, 2, 1}}, 25.0, 12, 20, "sparse");
    CHECK(sparse.block_ms(15) == doctest::Approx(1.5));
    CHECK_THROWS_AS(sparse.block_ms(9), Error);
    CHECK(sparse.overhead_ms == doctest::Approx(1.0));
    // Bad tables.
    CHECK_THROWS_AS(search::make_block_table({{10, 1.0, 1, 1, 1}}, 25.0, 12, 10, "one"), Error);
    CHECK_THROWS_AS(search::make_block_table({{10, 1.0, 1, 1, 1}, {20, 2.0, 2, 2, 1}}, 25.0, 12, 30, "no N"), Error);
    CHECK_THROWS_AS(search::make_block_table({{20, 1.0, 1, 1, 1}, {10, 2.0, 2, 2, 1}}, 25.0, 12, 10, "desc"), Error);
    CHECK_THROWS_AS(search::make_block_table({{10, 0.0, 0, 0, 1}, {20, 2.0, 2, 2, 1}}, 25.0, 12, 20, "zero"), Error);
    CHECK_THROWS_AS(search::make_block_table(sawtooth(3, 197), 0.0, 12, 197, "no model"), Error);

    // A last block computing the pooled rows only costs s·B(n) and its prune changes nothing.
    auto pooled = search::make_block_table(sawtooth(3, 197), 40.0, 12, 197, "pooled", 0.25);
    CHECK(pooled.last_block_pooled());
    CHECK(!table.last_block_pooled());
    CHECK(pooled.overhead_ms == doctest::Approx(40.0 - 11.25 * b_full));
    CHECK(pooled.unpruned_ms() == doctest::Approx(40.0));
    CHECK(search::predict_plan_ms(pooled, {}) == doctest::Approx(40.0));
    CHECK(search::predict_plan_ms(pooled, {{3, 128}}) ==
          doctest::Approx(pooled.overhead_ms + 4 * b_full + 7 * table.block_ms(128) + 0.25 * table.block_ms(128)));
    CHECK(search::predict_plan_ms(pooled, {{11, 64}}) == doctest::Approx(40.0));
    CHECK(search::predict_plan_ms(pooled, {{3, 128}, {11, 64}}) == doctest::Approx(search::predict_plan_ms(pooled, {{3, 128}})));
    CHECK_THROWS_AS(search::make_block_table(sawtooth(3, 197), 40.0, 12, 197, "bad share", 0.0), Error);
    CHECK_THROWS_AS(search::make_block_table(sawtooth(3, 197), 40.0, 12, 197, "bad share", 1.5), Error);

    // Plans become POMT schedules: R from the tokens entering the block.
    ModelConfig c = config_for_architecture("vit_tiny_patch16_224");
    PruneSchedule s = search::plan_schedule({{3, 141}, {7, 101}}, c);
    REQUIRE(s.steps.size() == 2);
    CHECK(s.steps[0].r[0] == 56);
    CHECK(s.steps[0].layer == 3);
    CHECK(s.steps[1].r[0] == 40);
    ResolvedSchedule r = resolve_schedule(s, c);
    CHECK(r.tokens_after_block[3] == 141);
    CHECK(r.tokens_after_block[7] == 101);
    CHECK(r.tokens_after_block[11] == 101);
    CHECK(search::describe_plan({{3, 141}, {7, 101}}) == "block 3 -> 141, block 7 -> 101");
    CHECK(search::describe_plan({}) == "none");
    CHECK_THROWS_AS(search::plan_schedule({{3, 141}, {2, 101}}, c), Error);   // blocks not ascending
    CHECK_THROWS_AS(search::plan_schedule({{3, 141}, {5, 150}}, c), Error);   // tokens not descending
    CHECK_THROWS_AS(search::plan_schedule({{12, 141}}, c), Error);            // no block 12
    CHECK_THROWS_AS(search::plan_schedule({{0, 197}}, c), Error);             // R = 0
}

TEST_CASE("layer search: candidate blocks and token counts") {
    CHECK(search::default_candidate_layers(12) == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
    CHECK(search::default_candidate_layers(3) == std::vector<int>{0, 1, 2});
    CHECK(search::default_candidate_layers(12, true) == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
    CHECK(search::default_candidate_layers(24, true).back() == 22);
    CHECK(search::default_candidate_layers(24) ==
          std::vector<int>{0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 23});
    std::vector<profiler::Step> steps(2);
    steps[0].from_tokens = 129, steps[0].to_tokens = 128;
    steps[1].from_tokens = 193, steps[1].to_tokens = 192;
    auto t = search::candidate_token_counts(steps, 3, 197, 50, {141, 500, 1});
    CHECK(t == std::vector<int>{3, 47, 97, 128, 141, 147, 192});
    CHECK_THROWS_AS(search::candidate_token_counts(steps, 3, 197, 0), Error);
}

TEST_CASE("layer search: coarse-to-fine finds the exhaustive grid's best plan with fewer evaluations") {
    const int N = 197, depth = 12;
    auto table = search::make_block_table(sawtooth(3, N), 40.0, depth, N, "synthetic");
    std::vector<profiler::Step> steps;
    for (int m = 16; m < N; m += 16) {
        profiler::Step s;
        s.from_tokens = m + 1;
        s.to_tokens = m;
        steps.push_back(s);
    }
    for (double alpha : {0.3, 0.5, 0.7}) {
        CAPTURE(alpha);
        search::LayerSearchOptions coarse;
        coarse.alpha = alpha;
        coarse.layers = search::default_candidate_layers(depth);
        coarse.tokens = search::candidate_token_counts(steps, 3, N, 8, {141});
        coarse.max_prunes = 1;
        coarse.also_measure = {{{3, 141}}};  // the paper's choice competes like any plan
        search::LayerSearchOptions full = coarse;
        full.seed_layers = int(full.layers.size());
        full.seed_tokens = int(full.tokens.size());
        std::map<std::string, int> calls;
        auto accuracy = [&](const search::PrunePlan& p) {
            ++calls[search::describe_plan(p)];
            return synthetic_accuracy(p, N);
        };
        auto a = search::search_layers(table, accuracy, full);
        for (const auto& kv : calls) CHECK(kv.second == 1);  // each plan measured once
        calls.clear();
        auto b = search::search_layers(table, accuracy, coarse);
        for (const auto& kv : calls) CHECK(kv.second == 1);
        CHECK(a.best.plan == b.best.plan);
        CHECK(b.accuracy_evaluations < a.accuracy_evaluations / 2);
        CHECK(a.accuracy_evaluations == 1 + int(full.layers.size() * full.tokens.size()));
        // The winner beats (or is) the paper's plan on the same utility.
        CHECK(b.best.utility >= b.result_for({{3, 141}}).utility);
        CHECK(b.best.utility >= b.baseline.utility);
        CHECK(b.latency_max_ms == doctest::Approx(40.0));
        CHECK(b.accuracy_max == doctest::Approx(80.0));
        CHECK(b.best.plan.size() == 1);
    }
}

TEST_CASE("layer search: a second prune is kept only when it raises the utility") {
    const int N = 197, depth = 12;
    auto table = search::make_block_table(sawtooth(3, N), 40.0, depth, N, "synthetic");
    search::LayerSearchOptions o;
    o.layers = search::default_candidate_layers(depth);
    o.tokens = search::candidate_token_counts({}, 3, N, 8);
    o.alpha = 0.3;
    auto acc = [&](const search::PrunePlan& p) { return synthetic_accuracy(p, N, 60.0, 8.0); };
    auto r = search::search_layers(table, acc, o);
    REQUIRE(r.best_single.plan.size() == 1);
    INFO("best single: " << search::describe_plan(r.best_single.plan) << ", best: " << search::describe_plan(r.best.plan));
    CHECK(r.best.utility >= r.best_single.utility);
    bool second_tried = false;
    for (const auto& m : r.measured) {
        if (m.plan.size() != 2) continue;
        second_tried = true;
        CHECK(m.plan[0] == r.best_single.plan[0]);  // greedy: below the best single prune
        CHECK(m.plan[1].layer > m.plan[0].layer);
        CHECK(m.plan[1].tokens < m.plan[0].tokens);
        CHECK(m.utility <= r.best.utility);
    }
    CHECK(second_tried);
    // Here a second prune pays, and the search finds the best one an exhaustive search would.
    search::PrunePlan best2;
    double best_u = -1;
    for (int l : o.layers)
        for (int n : o.tokens) {
            if (l <= r.best_single.plan[0].layer || n >= r.best_single.plan[0].tokens) continue;
            search::PrunePlan p = {r.best_single.plan[0], {l, n}};
            double u = o.alpha * (1 - search::predict_plan_ms(table, p) / r.latency_max_ms) +
                       (1 - o.alpha) * acc(p) / r.accuracy_max;
            if (u > best_u) best_u = u, best2 = p;
        }
    CHECK(r.best.plan == best2);
    CHECK(r.best.utility == doctest::Approx(best_u));
    // Accuracy that collapses with any second prune: the best plan stays single.
    auto one = search::search_layers(
        table, [&](const search::PrunePlan& p) { return p.size() > 1 ? 1.0 : acc(p); }, o);
    CHECK(one.best.plan.size() == 1);
    // max_prunes = 1 never tries two.
    o.max_prunes = 1;
    auto single = search::search_layers(table, acc, o);
    for (const auto& m : single.measured) CHECK(m.plan.size() == 1);
    CHECK(single.best.plan == r.best_single.plan);
}

TEST_CASE("layer search: bad options") {
    auto table = search::make_block_table(sawtooth(3, 197), 40.0, 12, 197, "synthetic");
    auto acc = [](const search::PrunePlan&) { return 50.0; };
    search::LayerSearchOptions o;
    o.layers = {0, 3};
    o.tokens = {100, 150};
    auto expect = [&](search::LayerSearchOptions bad, const std::string& needle) {
        try {
            search::search_layers(table, acc, bad);
            FAIL("no error for " << needle);
        } catch (const Error& e) {
            CHECK(std::string(e.what()).find(needle) != std::string::npos);
        }
    };
    auto b = o;
    b.alpha = -0.1;
    expect(b, "--alpha");
    b = o, b.layers = {};
    expect(b, "no candidate blocks");
    b = o, b.tokens = {};
    expect(b, "no candidate token counts");
    b = o, b.layers = {3, 12};
    expect(b, "0..11");
    b = o, b.layers = {3, 3};
    expect(b, "ascending");
    b = o, b.tokens = {100, 197};
    expect(b, "below 197");
    b = o, b.max_prunes = 3;
    expect(b, "at most two");
    b = o, b.also_measure = {{{3, 150}, {2, 100}}};
    expect(b, "ascending blocks");
    CHECK_NOTHROW(search::search_layers(table, acc, o));
}

TEST_CASE("schedule --search layer: a schedule run accepts, the search and the comparison recorded") {
    Fixture f = make_fixture(8);
    const std::string out = f.dir + "/joint.json";
    auto r = run_pomt({"schedule", "-m", f.model, "--data", f.list, "--images", "8", "--fast", "--threads", "1",
                       "--search", "layer", "--layer", "1", "--grid", "3", "--verify-runs", "3", "--quiet", "-o", out,
                       "--svg-prefix", f.dir + "/curves"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("joint search over blocks and tokens") != std::string::npos);
    CHECK(r.out.find("paper") != std::string::npos);
    CHECK(r.out.find("verified (median of 3 interleaved runs") != std::string::npos);
    json::Value s = read_json(out);
    const json::Value* search = s.find("search");
    REQUIRE(search);
    CHECK(search->find("method")->as_string("").find("joint layer search") == 0);
    CHECK(search->find("device")->find("isa"));
    CHECK(search->find("overhead_ms")->as_number("") >= 0);
    // Blocks 0–2 of 4: the last block computes the class token only, so a prune there is never a candidate.
    CHECK(search->find("candidate_layers")->as_array("").size() == 3);
    CHECK(search->find("last_block_share")->as_number("") < 1);
    CHECK(search->find("verified_latency")->find("paper_ms"));
    CHECK(search->find("paper")->find("paper_search")->find("n_star"));
    CHECK(search->find("accuracy_evaluations")->as_int("") >= 2);
    CHECK(search->find("evaluations")->as_array("").size() + 1 == size_t(search->find("accuracy_evaluations")->as_int("")));
    for (const char* part : {"latency", "accuracy", "utility", "block-latency"})
        CHECK(pomt_test::file_exists(f.dir + "/curves-" + part + ".svg"));
    // The chosen plan's utility is at least the paper plan's and the baseline's (same U, same data).
    const double u = search->find("chosen")->find("utility")->as_number("");
    CHECK(u >= search->find("paper")->find("utility")->as_number(""));
    CHECK(u >= search->find("baseline")->find("utility")->as_number(""));
    // The file is the per-layer form: `run --verbose` shows the token count after each block.
    std::string expect_tokens = "tokens after each block:";
    {
        std::vector<int> after(4, 17);
        int n = 17;
        size_t k = 0;
        const auto& prunes = search->find("chosen")->find("prunes")->as_array("");
        for (int b = 0; b < 4; ++b) {
            if (k < prunes.size() && prunes[k].find("layer")->as_int("") == b) n = int(prunes[k++].find("tokens")->as_int(""));
            after[size_t(b)] = n;
        }
        for (int t : after) expect_tokens += " " + std::to_string(t);
    }
    std::vector<float> x(3 * 64 * 64, 0.25f);
    write_npy(f.dir + "/x.npy", x.data(), {1, 3, 64, 64});
    auto run = run_pomt({"run", "-m", f.model, "--input", f.dir + "/x.npy", "--output", f.dir + "/y.npy", "--schedule", out,
                         "--verbose"});
    INFO(run.err);
    REQUIRE(run.exit_code == 0);
    CHECK(run.err.find(expect_tokens) != std::string::npos);
    auto ev = run_pomt({"eval", "-m", f.model, "--data", f.list, "--schedule", out, "--json", "--quiet", "--latency-runs", "1"});
    CHECK(ev.exit_code == 0);
}

TEST_CASE("schedule --search layer: block CSV from profile, --compare with a paper schedule, one prune") {
    Fixture f = make_fixture(6);
    const std::string csv = f.dir + "/block.csv";
    auto p = run_pomt({"profile", "-m", f.model, "--mode", "block", "--fast", "--threads", "1", "--quiet", "--csv", csv,
                       "--svg", f.dir + "/block.svg"});
    INFO(p.err);
    REQUIRE(p.exit_code == 0);
    const std::string paper = f.dir + "/paper.json";
    auto a = run_pomt({"schedule", "-m", f.model, "--data", f.list, "--fast", "--threads", "1", "--layer", "2", "--no-verify",
                       "--quiet", "-o", paper});
    INFO(a.err);
    REQUIRE(a.exit_code == 0);
    const std::string out = f.dir + "/joint.json";
    auto r = run_pomt({"schedule", "-m", f.model, "--data", f.list, "--fast", "--threads", "1", "--search", "layer",
                       "--block-latency", csv, "--compare", paper, "--max-prunes", "1", "--no-verify", "--quiet", "-o", out});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    json::Value s = read_json(out);
    const json::Value* search = s.find("search");
    REQUIRE(search);
    CHECK(search->find("block_latency_source")->as_string("").find(csv) == 0);
    CHECK(search->find("paper")->find("source")->as_string("") == paper);
    CHECK_FALSE(search->find("verified_latency"));
    CHECK(search->find("chosen")->find("prunes")->as_array("").size() <= 1);
    for (const auto& e : search->find("evaluations")->as_array("")) CHECK(e.find("prunes")->as_array("").size() == 1);
    // The paper's plan was measured: its prune (if any) is the paper file's.
    json::Value ps = read_json(paper);
    const int paper_r = int(ps.find("search")->find("R")->as_int(""));
    const auto& pp = search->find("paper")->find("prunes")->as_array("");
    if (paper_r > 0) {
        REQUIRE(pp.size() == 1);
        CHECK(pp[0].find("layer")->as_int("") == 2);
        CHECK(pp[0].find("R")->as_int("") == paper_r);
    }
}

TEST_CASE("schedule --search layer: bad input is refused before any work") {
    Fixture f = make_fixture(2);
    pomt_test::write_bytes(f.dir + "/model.csv", "mode,tokens,batch,threads,median_ms,p10_ms,p90_ms,runs\nmodel,17,1,1,1,1,1,5\n");
    pomt_test::write_bytes(f.dir + "/topk.json", "{\"prune\": \"topk:r=2\"}");
    pomt_test::write_bytes(f.dir + "/bad.json", "{\"layers\": [");
    auto expect = [&](std::vector<std::string> extra, const std::string& needle) {
        std::vector<std::string> args = {"schedule", "-m", f.model, "--data", f.list, "--quiet", "--fast", "--no-verify",
                                         "--threads", "1", "-o", f.dir + "/a.json"};
        args.insert(args.end(), extra.begin(), extra.end());
        auto r = run_pomt(args);
        INFO(r.err);
        CHECK(r.exit_code == 2);
        CHECK(r.err.find(needle) != std::string::npos);
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    };
    expect({"--search", "both"}, "--search must be paper, layer or pareto");
    expect({"--grid", "4"}, "--grid applies only to --search layer");
    expect({"--compare", f.dir + "/topk.json"}, "--compare applies only to --search layer");
    expect({"--search", "layer", "--max-prunes", "3"}, "--max-prunes");
    expect({"--search", "layer", "--grid", "0"}, "--grid");
    expect({"--search", "layer", "--block-latency", f.dir + "/none.csv"}, "none.csv");
    expect({"--search", "layer", "--block-latency", f.dir + "/model.csv"}, "no block-mode latency");
    expect({"--search", "layer", "--compare", f.dir + "/topk.json"}, "POMT-only");
    expect({"--search", "layer", "--compare", f.dir + "/bad.json"}, "bad.json");
    expect({"--search", "layer", "--compare", f.dir + "/none.json"}, "none.json");
    CHECK_FALSE(pomt_test::file_exists(f.dir + "/a.json"));
}
