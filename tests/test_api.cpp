// The public API (include/pomt/pomt.h): it gives exactly what vit/ gives, its top-k is a correct
// softmax ranking, bad inputs are one-line pomt::Errors, one Classifier serves concurrent
// inferences from several threads with results equal to the serial ones, and the examples run.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "api/internal.h"
#include "doctest/doctest.h"
#include "pomt/pomt.h"
#include "tests/test_util.h"
#include "vit/forward.h"
#include "image/image.h"
#include "vit/model.h"
#include "image/preprocess.h"
#include "prune/pruning.h"
#include "vit/weights_file.h"

using namespace pomt;

namespace {

// 224-pixel input (197 tokens, like the real models) with a narrow, shallow network so the
// threading test stays fast.
ModelConfig small_config() {
    ModelConfig c = config_for_architecture("vit_tiny_patch16_224");
    c.embed_dim = 64;
    c.depth = 4;
    c.num_heads = 2;
    c.mlp_hidden = 128;
    c.num_classes = 10;
    return c;
}

std::string ppm(int w, int h, int seed) {
    std::string s = "P6\n" + std::to_string(w) + " " + std::to_string(h) + "\n255\n";
    uint32_t state = uint32_t(seed) * 2654435761u + 1;
    for (int i = 0; i < w * h * 3; ++i) {
        state = state * 1664525u + 1013904223u;
        s += char((state >> 24) ^ (i % 97));
    }
    return s;
}

template <class Fn>
std::string error_of(Fn fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

bool same_result(const Result& a, const Result& b) {
    if (a.logits != b.logits || a.tokens_after_block != b.tokens_after_block || a.top.size() != b.top.size())
        return false;
    for (size_t i = 0; i < a.top.size(); ++i)
        if (a.top[i].index != b.top[i].index || a.top[i].prob != b.top[i].prob || a.top[i].name != b.top[i].name)
            return false;
    return true;
}

}  // namespace

TEST_CASE("api: load, preprocess and run give exactly what vit/ gives") {
    auto model = Model::random(small_config(), 11);
    const std::string dir = pomt_test::temp_dir();
    const std::string path = dir + "/m.pomt";
    pomt_test::write_model(path, *model);
    const std::string img_path = dir + "/x.ppm";
    pomt_test::write_bytes(img_path, ppm(300, 200, 1));

    Classifier c = Classifier::load(path);
    CHECK(c.architecture() == "vit_tiny_patch16_224");
    CHECK(c.num_classes() == 10);
    CHECK(c.input_channels() == 3);
    CHECK(c.input_height() == 224);
    CHECK(c.input_width() == 224);
    CHECK(c.class_names().size() == 10);
    CHECK(c.class_name(3) == "class 3");
    CHECK_THROWS_AS(c.class_name(10), Error);

    Tensor t = c.preprocess_file(img_path);
    REQUIRE(t.data.size() == size_t(3 * 224 * 224));
    // The same pixels through vit/ directly.
    Image img = load_image(img_path);
    std::vector<float> expect_in = preprocess_image(img, model->preprocess());
    CHECK(t.data == expect_in);
    // preprocess_bytes and preprocess_rgb agree with the file path.
    const std::string bytes = pomt_test::read_bytes(img_path);
    CHECK(c.preprocess_bytes(bytes.data(), bytes.size(), "mem").data == expect_in);
    CHECK(c.preprocess_rgb(img.rgb.data(), img.width, img.height).data == expect_in);

    Session session(Model::load(path), 1);
    std::vector<float> expect = session.run(expect_in.data(), 1);
    Result r = c.run(t);
    CHECK(r.logits == expect);
    CHECK(r.top.size() == 5);
    CHECK(r.tokens_after_block == std::vector<int>(4, 197));
    Workspace ws(c, 2);
    CHECK(ws.threads() == 2);
    Result r2 = ws.run(t);
    CHECK(r2.top[0].index == r.top[0].index);
    // A pruned run equals vit/'s pruner in a Session.
    InferenceOptions o;
    o.schedule = Schedule::parse("pomt:R=56,layer=1");
    CHECK(c.describe(o.schedule) == "pomt R=56 at block 1");
    Result p = c.run(t, o);
    auto pruner = make_pruner(parse_prune_spec("pomt:R=56,layer=1"), model->config());
    RunOptions ro;
    ro.pruner = pruner.get();
    CHECK(p.logits == session.run(expect_in.data(), 1, ro));
    CHECK(p.tokens_after_block == std::vector<int>{197, 141, 141, 141});
}

TEST_CASE("api: top_k is the softmax ranking, ties to the lower index, k clamped") {
    Classifier c = classifier_from_model(Model::random(small_config(), 1));
    std::vector<float> z = {0.f, 2.f, 1.f, 2.f, -1.f, 0.5f, 0.f, 0.f, 3.f, -5.f};
    std::vector<Prediction> top = c.top_k(z, 4);
    REQUIRE(top.size() == 4);
    CHECK(top[0].index == 8);
    CHECK(top[1].index == 1);  // tie with 3: lower index first
    CHECK(top[2].index == 3);
    CHECK(top[3].index == 2);
    double sum = 0;
    for (float v : z) sum += std::exp(double(v));
    CHECK(top[0].prob == doctest::Approx(std::exp(3.0) / sum).epsilon(1e-12));
    CHECK(top[1].prob == top[2].prob);
    CHECK(c.top_k(z, 100).size() == 10);
    CHECK(c.top_k(z, 0).empty());
    // Large logits do not overflow.
    std::vector<float> big(10, 1e4f);
    big[7] = 1e4f + 1;
    top = c.top_k(big, 1);
    CHECK(top[0].index == 7);
    CHECK(std::isfinite(top[0].prob));
    CHECK_THROWS_AS(c.top_k(std::vector<float>(3, 0.f), 1), Error);
}

TEST_CASE("api: class names are unambiguous; with_labels replaces them") {
    ModelConfig cfg = small_config();
    cfg.num_classes = 1000;
    Classifier c = classifier_from_model(Model::random(cfg, 1));
    CHECK(c.class_name(0) == "tench");
    CHECK(c.class_name(134) == "crane (class 134)");
    CHECK(c.class_name(517) == "crane (class 517)");
    CHECK(c.class_name(638) == "maillot");
    CHECK(c.class_name(639) == "maillot, tank suit");
    std::vector<std::string> names = c.class_names();
    std::sort(names.begin(), names.end());
    CHECK(std::adjacent_find(names.begin(), names.end()) == names.end());

    Classifier small = classifier_from_model(Model::random(small_config(), 1));
    std::vector<std::string> labels;
    for (int i = 0; i < 10; ++i) labels.push_back("label" + std::to_string(i));
    Classifier named = small.with_labels(labels);
    CHECK(named.class_name(4) == "label4");
    CHECK(small.class_name(4) == "class 4");  // the original handle is unchanged
    CHECK(model_of(named).get() == model_of(small).get());  // one model, shared
    CHECK(error_of([&] { small.with_labels({"a", "b"}); }).find("2 labels given, the model has 10 classes") !=
          std::string::npos);
}

TEST_CASE("api: bad inputs are one-line pomt::Errors") {
    Classifier c = classifier_from_model(Model::random(small_config(), 1));
    Tensor wrong;
    wrong.channels = 3, wrong.height = 32, wrong.width = 32;
    wrong.data.assign(3 * 32 * 32, 0.f);
    CHECK(error_of([&] { c.run(wrong); }).find("the model takes 3x224x224") != std::string::npos);
    CHECK(error_of([&] { Schedule::parse(""); }).find("empty pruning spec") != std::string::npos);
    CHECK_THROWS_AS(Schedule::parse("nonsense:q=1"), Error);
    InferenceOptions o;
    o.schedule = Schedule::parse("pomt:R=56,layer=9");
    CHECK_THROWS_AS(c.describe(o.schedule), Error);
    Tensor t = c.preprocess_rgb(std::vector<uint8_t>(3 * 5 * 4, 100).data(), 5, 4);
    CHECK_THROWS_AS(c.run(t, o), Error);
    CHECK(c.describe(Schedule()) == "none");
    CHECK(error_of([&] { c.preprocess_file("/nonexistent/x.jpg"); }).find("'/nonexistent/x.jpg'") != std::string::npos);
    ImageOptions lim;
    lim.max_pixels = 10;
    const std::string big = ppm(4, 4, 0);
    CHECK(error_of([&] { c.preprocess_bytes(big.data(), big.size(), "b.ppm", lim); }).find("4x4 pixels exceeds the limit of 10") !=
          std::string::npos);
    CHECK_THROWS_AS(c.preprocess_rgb(nullptr, 0, 0), Error);
    CHECK_THROWS_AS(Classifier::load("/nonexistent/m.pomt"), Error);
}

TEST_CASE("api: one model, 4 threads x 25 inferences, every result equal to the serial one") {
    Classifier c = classifier_from_model(Model::random(small_config(), 5));
    const int kImages = 5, kThreads = 4, kRuns = 25;
    std::vector<std::string> encoded;
    for (int i = 0; i < kImages; ++i) encoded.push_back(ppm(180 + 20 * i, 240 - 10 * i, i));
    const std::vector<std::string> specs = {"", "pomt:R=56,layer=2", "topk:r=8", "tome:r=13"};

    // Serial: every (image, schedule) pair once, one thread.
    std::vector<std::vector<Result>> serial(size_t(kImages), std::vector<Result>(specs.size()));
    {
        Workspace ws(c, 1);
        for (int i = 0; i < kImages; ++i) {
            Tensor t = c.preprocess_bytes(encoded[size_t(i)].data(), encoded[size_t(i)].size(), "img");
            for (size_t s = 0; s < specs.size(); ++s) {
                InferenceOptions o;
                if (!specs[s].empty()) o.schedule = Schedule::parse(specs[s]);
                serial[size_t(i)][s] = ws.run(t, o);
            }
        }
    }
    // Concurrent: decoding, preprocessing and the forward pass all run in the threads at once.
    // Threads 0-1 use per-call workspaces (Classifier::run), 2-3 their own Workspace.
    std::atomic<int> mismatches{0}, errors{0}, done{0};
    std::vector<std::thread> threads;
    for (int th = 0; th < kThreads; ++th) {
        threads.emplace_back([&, th] {
            try {
                Workspace own(c, 1);
                for (int k = 0; k < kRuns; ++k) {
                    const int i = (k + th) % kImages;
                    const size_t s = size_t(k * 3 + th) % specs.size();
                    Tensor t = c.preprocess_bytes(encoded[size_t(i)].data(), encoded[size_t(i)].size(), "img");
                    InferenceOptions o;
                    if (!specs[s].empty()) o.schedule = Schedule::parse(specs[s]);
                    Result r = th < 2 ? c.run(t, o) : own.run(t, o);
                    if (!same_result(r, serial[size_t(i)][s])) ++mismatches;
                    ++done;
                }
            } catch (const std::exception& e) {
                std::fprintf(stderr, "thread %d: %s\n", th, e.what());
                ++errors;
            }
        });
    }
    for (std::thread& t : threads) t.join();
    CHECK(errors.load() == 0);
    CHECK(done.load() == kThreads * kRuns);
    CHECK(mismatches.load() == 0);
    // The schedules really pruned (otherwise the comparison would not cover the pruners).
    CHECK(serial[0][1].tokens_after_block.back() == 141);
    CHECK(serial[0][3].tokens_after_block.back() < 197);
}

TEST_CASE("api: Workspace::run_batch writes a batch's logits into the caller's buffer") {
    ModelConfig nohead = small_config();
    nohead.num_classes = 0;
    CHECK(classifier_from_model(Model::random(nohead, 2)).num_outputs() == 64);  // pooled features
    Classifier c = classifier_from_model(Model::random(small_config(), 9));
    REQUIRE(c.num_outputs() == 10);
    const int kBatch = 3;
    std::vector<Tensor> images;
    std::vector<float> batch;
    for (int i = 0; i < kBatch; ++i) {
        const std::string bytes = ppm(160 + 30 * i, 200, i);
        images.push_back(c.preprocess_bytes(bytes.data(), bytes.size(), "img"));
        batch.insert(batch.end(), images.back().data.begin(), images.back().data.end());
    }
    Workspace ws(c, 2);
    for (const char* spec : {"", "pomt:R=56,layer=1", "topk:r=8", "tome:r=13"}) {
        INFO("schedule '" << spec << "'");
        InferenceOptions o;
        if (*spec) o.schedule = Schedule::parse(spec);
        // Sentinels past the end: nothing is written beyond batch × num_outputs floats.
        std::vector<float> out(size_t(kBatch * c.num_outputs()) + 4, -7.0f);
        std::vector<int> tokens;
        ws.run_batch(batch.data(), kBatch, out.data(), o.schedule, &tokens);
        for (int k = 0; k < 4; ++k) CHECK(out[size_t(kBatch * c.num_outputs() + k)] == -7.0f);
        for (int i = 0; i < kBatch; ++i) {
            Result single = c.run(images[size_t(i)], o);
            CHECK(tokens == single.tokens_after_block);
            float diff = 0;
            for (int j = 0; j < c.num_outputs(); ++j)
                diff = std::max(diff, std::fabs(out[size_t(i * c.num_outputs() + j)] - single.logits[size_t(j)]));
            CHECK(diff <= 1e-4f);
        }
    }
    std::vector<float> out(size_t(c.num_outputs()));
    CHECK(error_of([&] { ws.run_batch(batch.data(), 0, out.data()); }) == "batch must be at least 1, got 0");
    CHECK_THROWS_AS(ws.run_batch(nullptr, 1, out.data()), Error);
    CHECK_THROWS_AS(ws.run_batch(batch.data(), 1, nullptr), Error);
    CHECK_THROWS_AS(ws.run_batch(batch.data(), 1, out.data(), Schedule::parse("pomt:R=56,layer=9")), Error);
}

TEST_CASE("api: the examples built by `make examples` run") {
    const std::string bin = pomt_test::pomt_binary();
    const std::string dir = bin.substr(0, bin.rfind('/')) + "/examples";
    if (!pomt_test::file_exists(dir + "/classify_minimal") || !pomt_test::file_exists(dir + "/classify_pruned")) {
        pomt_test::skip_test("examples not built beside the tests (make examples)");
        return;
    }
    const std::string tmp = pomt_test::temp_dir();
    auto model = Model::random(small_config(), 2);
    pomt_test::write_model(tmp + "/m.pomt", *model);
    pomt_test::write_bytes(tmp + "/a.ppm", ppm(64, 48, 3));
    auto run = [&](const std::string& cmd) {
        std::string full = cmd + " > " + tmp + "/out.txt 2> " + tmp + "/err.txt";
        int rc = std::system(full.c_str());
        return std::make_pair(rc, pomt_test::read_bytes(tmp + "/out.txt"));
    };
    auto m = run(dir + "/classify_minimal " + tmp + "/m.pomt " + tmp + "/a.ppm");
    CHECK(m.first == 0);
    CHECK(std::count(m.second.begin(), m.second.end(), '\n') == 5);
    auto p = run(dir + "/classify_pruned " + tmp + "/m.pomt pomt:R=56,layer=1 " + tmp + "/a.ppm");
    CHECK(p.first == 0);
    CHECK(p.second.find("schedule: pomt R=56 at block 1") != std::string::npos);
    CHECK(p.second.find("pruned: 141 tokens") != std::string::npos);
    auto bad = run(dir + "/classify_minimal " + tmp + "/m.pomt " + tmp + "/missing.jpg");
    CHECK(bad.first != 0);
}
