// The schedule search as a library call (include/pomt/search.h): options in, result out on a small
// random model with generated images, progress reported and cancellation honoured, bad options
// refused before any work, and the schedule_search example built by `make examples` run.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

#include "api/internal.h"
#include "core/json.h"
#include "doctest/doctest.h"
#include "pomt/search.h"
#include "tests/test_util.h"
#include "vit/model.h"
#include "vit/weights_file.h"

using namespace pomt;

namespace {

// 17 tokens (64 px, patch 16), 3 blocks, 5 classes: every phase runs in well under a second.
ModelConfig search_config() {
    ModelConfig c = pomt_test::tiny_config(3);
    c.img_size = 64;
    return c;
}

struct Fixture {
    std::string dir, list;
    Classifier model = classifier_from_model(Model::random(search_config(), 5));
};

Fixture make_fixture(int images) {
    Fixture f;
    f.dir = pomt_test::temp_dir();
    f.list = pomt_test::write_labelled_bmps(f.dir, images, 5);
    return f;
}

ScheduleSearchOptions quick_options(const std::string& list) {
    ScheduleSearchOptions o;
    o.data = list;
    o.fast = true;
    o.threads = 1;
    o.verify_runs = 2;
    return o;
}

}  // namespace

TEST_CASE("schedule search api: options in, result out, the schedule file and the progress") {
    Fixture f = make_fixture(6);
    ScheduleSearchOptions o = quick_options(f.list);
    o.layer = 1;
    std::vector<std::string> phases;
    o.progress = [&](const SearchProgress& p) {
        if (phases.empty() || phases.back() != p.phase) phases.push_back(p.phase);
        CHECK(p.done <= p.total);
        return true;
    };
    const ScheduleSearchResult r = search_schedule(f.model, o);
    CHECK(phases == std::vector<std::string>{"images", "L(n)", "A(n)", "verify"});
    const TokenBounds b = search_token_bounds(f.model);
    CHECK(b.lowest == 3);  // the class token, one patch token, the merged one
    CHECK(b.highest == 17);
    CHECK(r.images == 6);
    CHECK(r.layer == 1);
    CHECK(r.latency.size() == size_t(17 - 3 + 1));
    CHECK(r.points.size() == r.latency.size());
    CHECK(r.latency_source == "measured here (model mode)");
    CHECK(r.n_star >= 3);
    CHECK(r.n_star <= 17);
    CHECK(r.n_star + r.r == 17);
    CHECK(r.best.tokens == r.n_star);
    for (const TokenUtility& p : r.points) CHECK(p.utility <= r.best.utility);
    CHECK(r.reference_r == std::max(0, r.r - 2));
    CHECK(r.verified);
    CHECK(r.baseline_ms > 0);
    CHECK(r.schedule_ms > 0);
    CHECK(r.description == f.model.describe(r.schedule));
    // The file records the search and is a schedule `run` accepts.
    const std::string text = schedule_file_json(f.model, r);
    json::Value doc = json::parse(text, "schedule");
    CHECK(doc.find("search")->find("n_star")->as_int("") == r.n_star);
    CHECK(doc.find("search")->find("verified_latency"));
    pomt_test::write_bytes(f.dir + "/s.json", text);
    Schedule loaded = Schedule::load(f.dir + "/s.json");
    CHECK(f.model.describe(loaded) == r.description);
    // The schedule prunes to n* after block 1.
    Tensor input;
    input.channels = 3;
    input.height = input.width = 64;
    input.data.assign(3 * 64 * 64, 0.1f);
    InferenceOptions io;
    io.schedule = r.schedule;
    CHECK(f.model.run(input, io).tokens_after_block == std::vector<int>{17, r.n_star, r.n_star});
    write_search_svgs(r, f.dir + "/curves");
    for (const char* part : {"latency", "accuracy", "utility"})
        CHECK(pomt_test::file_exists(f.dir + "/curves-" + part + ".svg"));
}

TEST_CASE("schedule search api: the joint layer search compares with the paper's choice") {
    Fixture f = make_fixture(4);
    JointSearchOptions o;
    static_cast<ScheduleSearchOptions&>(o) = quick_options(f.list);
    o.verify = false;
    o.grid_step = 4;
    o.max_prunes = 1;
    std::set<std::string> phases;
    o.progress = [&](const SearchProgress& p) {
        phases.insert(p.phase);
        return true;
    };
    const JointSearchResult r = search_joint_schedule(f.model, o);
    CHECK(phases == std::set<std::string>{"images", "L(n)", "A(n)", "B(n)", "search"});
    CHECK(r.paper_computed);
    CHECK(r.paper_search.n_star > 0);
    CHECK_FALSE(r.verified);
    CHECK(r.chosen.prunes.size() <= 1);
    CHECK(r.chosen.utility >= r.paper.utility);
    CHECK(r.chosen.utility >= r.baseline.utility);
    CHECK(r.evaluations.size() + 1 == size_t(r.accuracy_evaluations));
    CHECK(r.block_latency.back().tokens == 17);
    CHECK(r.description == f.model.describe(r.schedule));
    json::Value doc = json::parse(schedule_file_json(f.model, r), "schedule");
    CHECK(doc.find("search")->find("paper")->find("paper_search")->find("n_star"));
    CHECK_FALSE(doc.find("search")->find("verified_latency"));
}

TEST_CASE("schedule search api: cancellation stops the search with a pomt::Error") {
    Fixture f = make_fixture(4);
    for (const std::string stop_at : {"images", "L(n)", "A(n)"}) {
        INFO(stop_at);
        ScheduleSearchOptions o = quick_options(f.list);
        int calls_after_cancel = 0;
        bool cancelled = false;
        o.progress = [&](const SearchProgress& p) {
            if (cancelled) ++calls_after_cancel;
            cancelled = cancelled || p.phase == stop_at;
            return !cancelled;
        };
        pomt_test::expect_error([&] { search_schedule(f.model, o); }, "schedule search cancelled (during " + stop_at + ")");
        CHECK(cancelled);
        CHECK(calls_after_cancel <= 3);  // image workers already running may still report
    }
}

TEST_CASE("schedule search api: bad options are one-line errors before any work") {
    Fixture f = make_fixture(2);
    bool worked = false;
    auto expect = [&](auto options, const std::string& needle) {
        options.progress = [&](const SearchProgress&) { return worked = true; };
        if constexpr (std::is_same_v<decltype(options), JointSearchOptions>)
            pomt_test::expect_error([&] { search_joint_schedule(f.model, options); }, needle);
        else
            pomt_test::expect_error([&] { search_schedule(f.model, options); }, needle);
    };
    ScheduleSearchOptions o = quick_options(f.list), b;
    b = o, b.min_tokens = 12, b.max_tokens = 8;
    expect(b, "token range 12..8 is empty");
    b = o, b.min_tokens = 2;
    expect(b, "min_tokens 2 is below 3");
    b = o, b.max_tokens = 18;
    expect(b, "above the model's 17 tokens");
    b = o, b.token_step = 0;
    expect(b, "token_step");
    b = o, b.alpha = 1.5;
    expect(b, "alpha must be between 0 and 1");
    b = o, b.layer = 3;
    expect(b, "layer 3 is outside the model's blocks 0..2");
    b = o, b.data = "";
    expect(b, "no estimation images");
    b = o, b.data = f.dir + "/none.txt";
    expect(b, "none.txt");
    b = o, b.batch = 0;
    expect(b, "batch");
    JointSearchOptions j;
    static_cast<ScheduleSearchOptions&>(j) = o;
    j.max_prunes = 3;
    expect(j, "max_prunes must be 1 or 2");
    j.max_prunes = 1, j.grid_step = 0;
    expect(j, "grid_step");
    j.grid_step = 8, j.compare_schedule = f.dir + "/none.json";
    expect(j, "none.json");
    CHECK_FALSE(worked);
}

TEST_CASE("schedule search api: the schedule_search example computes and writes a schedule") {
    const std::string bin = pomt_test::pomt_binary();
    const std::string example = bin.substr(0, bin.rfind('/')) + "/examples/schedule_search";
    if (!pomt_test::file_exists(example)) {
        pomt_test::skip_test("examples not built beside the tests (make examples)");
        return;
    }
    Fixture f = make_fixture(4);
    auto model = Model::random(search_config(), 5);
    write_weights_file(f.dir + "/m.pomt", model->meta(), [&](const TensorSpec& s) { return model->tensor_values(s); });
    auto run = [&](const std::string& args) {
        std::string cmd = example + " " + args + " > " + f.dir + "/out.txt 2> " + f.dir + "/err.txt";
        return std::system(cmd.c_str());
    };
    const int rc = run(f.dir + "/m.pomt " + f.list + " " + f.dir + "/s.json --fast");
    const std::string out = pomt_test::read_bytes(f.dir + "/out.txt");
    INFO(out << pomt_test::read_bytes(f.dir + "/err.txt"));
    CHECK(rc == 0);
    CHECK(out.find("n* = ") != std::string::npos);
    CHECK(out.find("wrote " + f.dir + "/s.json") != std::string::npos);
    CHECK(pomt_test::read_bytes(f.dir + "/err.txt").find("A(n) done") != std::string::npos);
    json::Value doc = json::parse(pomt_test::read_bytes(f.dir + "/s.json"), "s.json");
    CHECK(doc.find("search")->find("n_star"));
    CHECK(run(f.dir + "/m.pomt " + f.dir + "/none.txt " + f.dir + "/t.json") != 0);
}
