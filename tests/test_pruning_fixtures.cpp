// Token pruning against the reference implementations: every pruned case of every
// ../shared/fixtures/*/cases.json (the official POMT code, its Top-K baseline, facebookresearch ToMe),
// plus batch-versus-single-image checks on the fixture models.
#include <dirent.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "doctest/doctest.h"
#include "kernels/isa.h"
#include "tests/test_util.h"
#include "core/file_util.h"
#include "pomt/error.h"
#include "vit/forward.h"
#include "core/json.h"
#include "core/npy.h"
#include "prune/pruning.h"
#include "weights_tools/convert.h"

using namespace pomt;

namespace {

std::shared_ptr<const Model> load_fixture_model(const std::string& folder) {
    ConvertOptions o;
    o.input = folder;
    o.output = pomt_test::temp_dir() + "/model.pomt";
    convert_timm_weights(o);
    return Model::load(o.output);
}

json::Value read_cases(const std::string& folder) {
    std::vector<unsigned char> bytes = read_file_bytes(folder + "/cases.json", "cases");
    return json::parse(std::string(bytes.begin(), bytes.end()), "cases.json");
}

// Every fixture folder (pomt_test::fixture_names() must all be there and pass; a folder pomt cannot
// load fails the test). The resize_224/ sub-folders (a model run at another image size) are the
// --image-size tests' (test_convert_image_size.cpp runs every case of their cases.json).
std::vector<std::string> fixture_folders() {
    std::vector<std::string> names;
    const std::string root = pomt_test::shared_dir() + "/fixtures";
    if (DIR* d = opendir(root.c_str())) {
        while (dirent* e = readdir(d)) {
            std::string name = e->d_name;
            if (name[0] != '.' && pomt_test::file_exists(root + "/" + name + "/cases.json")) names.push_back(name);
        }
        closedir(d);
    }
    std::sort(names.begin(), names.end());
    std::vector<std::string> runnable;
    for (const std::string& name : names) {
        try {
            load_fixture_model(root + "/" + name);
            runnable.push_back(name);
        } catch (const Error& e) {
            FAIL_CHECK("fixture " << name << " does not load: " << e.what());
        }
    }
    for (const std::string& required : pomt_test::fixture_names()) {
        INFO("fixture " << required);
        CHECK(std::find(runnable.begin(), runnable.end(), required) != runnable.end());
    }
    return runnable;
}

// The schedule of one cases.json entry.
PruneSchedule schedule_of_case(const json::Value& c) {
    const std::string method = c.find("method")->as_string("method");
    PruneStep s;
    if (method == "pomt") {
        s.kind = PruneStep::Pomt;
        s.r = {int(c.find("R")->as_int("R"))};
        s.layer = int(c.find("layer")->as_int("layer"));
    } else if (method == "topk") {
        s.kind = PruneStep::TopK;
        s.r = {int(c.find("r")->as_int("r"))};
    } else if (method == "tome") {
        s.kind = PruneStep::ToMe;
        s.r = {int(c.find("r")->as_int("r"))};
    } else {
        FAIL("unknown method in cases.json: " << method);
    }
    PruneSchedule sched;
    sched.steps.push_back(s);
    return sched;
}

int argmax(const float* v, int n) { return int(std::max_element(v, v + n) - v); }

}  // namespace

namespace {

// Runs every pruned case of every fixture folder; `print` lists max |Δlogit| per case.
void check_all_cases(bool print) {
    const std::vector<std::string> folders = fixture_folders();
    REQUIRE(!folders.empty());
    int cases_run = 0, skipped = 0;
    for (const std::string& name : folders) {
        if (pomt_test::skip_long_fixture_here(name)) {
            skipped += int(read_cases(pomt_test::shared_dir() + "/fixtures/" + name).find("pruned")->as_array("").size());
            continue;
        }
        CAPTURE(name);
        const std::string folder = pomt_test::shared_dir() + "/fixtures/" + name;
        auto model = load_fixture_model(folder);
        const ModelConfig& cfg = model->config();
        Session session(model, 2);
        NpyArray x = read_npy(folder + "/input.npy");
        const json::Value cases = read_cases(folder);
        const json::Value* pruned = cases.find("pruned");
        REQUIRE(pruned);
        for (const json::Value& c : pruned->as_array("pruned")) {
            const std::string file = c.find("file")->as_string("file");
            CAPTURE(file);
            if (const json::Value* prop = c.find("prop_attn"))
                REQUIRE_MESSAGE(prop->as_bool("prop_attn"), "ToMe without proportional attention is not supported");
            ResolvedSchedule plan = resolve_schedule(schedule_of_case(c), cfg);
            std::unique_ptr<TokenPruner> pruner = make_pruner(plan, cfg);
            REQUIRE(pruner);
            std::vector<int> tokens;
            RunOptions opt;
            opt.pruner = pruner.get();
            opt.tokens_after_block = &tokens;
            std::vector<float> got = session.run(x.data.data(), 1, opt);
            NpyArray ref = read_npy(folder + "/" + file);
            REQUIRE(got.size() == ref.data.size());
            double max_diff = 0;
            for (size_t i = 0; i < got.size(); ++i) max_diff = std::max(max_diff, double(std::fabs(got[i] - ref.data[i])));
            const double tol = c.find("tol")->as_number("tol");
            const int classes = int(got.size());
            if (print)
                std::printf("pruning fixture %-24s %-26s max|dlogit| = %.3g (tol %.3g)\n", name.c_str(), file.c_str(), max_diff, tol);
            INFO(name << " " << file << ": max |Δlogit| = " << max_diff << ", tol " << tol);
            CHECK(max_diff <= tol);
            CHECK(argmax(got.data(), classes) == argmax(ref.data.data(), classes));
            CHECK(argmax(got.data(), classes) == int(c.find("top1")->as_int("top1")));
            CHECK(tokens == plan.tokens_after_block);
            if (const json::Value* after = c.find("tokens_after")) {
                const int layer = int(c.find("layer")->as_int("layer"));
                REQUIRE(layer < int(tokens.size()));
                CHECK(tokens[size_t(layer)] == after->as_int("tokens_after"));
            }
            ++cases_run;
        }
    }
    CHECK(cases_run + skipped >= 56);  // every case of the 11 fixture folders
}

}  // namespace

TEST_CASE("pruning fixtures: every pruned case matches its reference logits") {
    POMT_REQUIRE_SHARED("fixtures", p);
    check_all_cases(true);
}

TEST_CASE("pruning fixtures: every case at every ISA level the CPU has") {
    POMT_REQUIRE_SHARED("fixtures", p);
    if (!pomt_test::sweep_fixtures_every_isa_here()) return;
    pomt_test::for_each_isa([&](Isa isa) {
        CAPTURE(isa_name(isa));
        check_all_cases(false);
    });
}

TEST_CASE("pruning fixtures: a batch is pruned image by image") {
    POMT_REQUIRE_SHARED("fixtures/micro/model.safetensors", p);
    for (const char* fixture : {"micro", "deit_tiny_distilled_d2", "deit3_micro"}) {
        const std::string name = fixture;
        CAPTURE(name);
        const std::string folder = pomt_test::shared_dir() + "/fixtures/" + name;
        auto model = load_fixture_model(folder);
        const ModelConfig& cfg = model->config();
        NpyArray a = read_npy(folder + "/input.npy"), b = read_npy(folder + "/image_pre.npy");
        const size_t img = a.data.size();
        // Three different images: the input, the picture, and the input mirrored left-right.
        std::vector<float> batch(a.data);
        batch.insert(batch.end(), b.data.begin(), b.data.end());
        const int S = cfg.img_size;
        for (int ch = 0; ch < 3; ++ch)
            for (int y = 0; y < S; ++y)
                for (int xx = 0; xx < S; ++xx) batch.push_back(a.data[(size_t(ch) * S + y) * S + (S - 1 - xx)]);
        Session session(model, 2);
        const int outs = session.outputs();
        for (const char* spec : {"pomt:R=56,layer=1", "pomt:R=100,layer=0", "topk:r=8", "tome:r=16", "tome:r=8,16",
                                 "random:keep=100,seed=3", "random:keep=150,seed=1;tome:r=8"}) {
            const std::string spec_text = spec;
            CAPTURE(spec_text);
            PruneSchedule sched = parse_prune_spec(spec);
            ResolvedSchedule plan = resolve_schedule(sched, cfg);
            auto pruner = make_pruner(plan, cfg);
            RunOptions opt;
            opt.pruner = pruner.get();
            std::vector<float> all = session.run(batch.data(), 3, opt);
            double worst = 0;
            for (int i = 0; i < 3; ++i) {
                std::vector<float> one = session.run(batch.data() + i * img, 1, opt);
                for (int k = 0; k < outs; ++k)
                    worst = std::max(worst, double(std::fabs(one[k] - all[size_t(i) * outs + k])) /
                                                std::max(1.0, double(std::fabs(one[k]))));
            }
            CHECK(worst <= 1e-4);
        }
    }
}
