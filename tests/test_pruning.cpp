// Token pruning without reference data: spec and schedule-file parsing (good and bad), resolution
// against a model (token counts, range errors), the random method's determinism, and properties of
// the methods on random-weight models (R = 0 is the baseline, POMT at the last block keeps the class
// token's output, ToMe's sizes sum to the token count, token counts follow the schedule).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "doctest/doctest.h"
#include "kernels/gemm.h"
#include "tests/test_util.h"
#include "pomt/error.h"
#include "vit/forward.h"
#include "core/json.h"
#include "core/npy.h"
#include "prune/prune_random.h"
#include "prune/pruning.h"

using namespace pomt;

namespace {

ModelConfig small_config(const std::string& arch, const std::string& args) {
    json::Value hub = json::Value::object();
    hub.set("architecture", json::Value::string(arch));
    json::Value a = json::parse(args, "args");
    hub.set("model_args", a);
    const std::string size = std::to_string(int(a.find("img_size")->as_number("img_size")));
    hub.set("pretrained_cfg", json::parse(R"({"input_size":[3,)" + size + "," + size + "]}", "pc"));
    ModelConfig cfg;
    PreprocessConfig pre;
    config_from_hub_json(hub, "", "test", &cfg, &pre);
    return cfg;
}

// 36 patches + class token, 4 blocks.
ModelConfig vit_small() {
    return small_config("vit_tiny_patch16_224", R"({"embed_dim":48,"depth":4,"num_heads":3,"num_classes":7,"img_size":96})");
}

std::vector<float> test_images(const ModelConfig& c, int batch, double freq = 0.013) {
    std::vector<float> images(size_t(batch) * 3 * c.img_size * c.img_size);
    for (size_t i = 0; i < images.size(); ++i) images[i] = float(std::sin(double(i) * freq) + 0.3 * std::cos(double(i) * 0.71));
    return images;
}

PruneSchedule spec(const std::string& s) { return parse_prune_spec(s); }

// Small models of every prefix layout (class token, distillation token, LayerScale, average
// pooling without a class token, register tokens, attention pooling with and without registers,
// class token + registers; embed 40 is not a multiple of the 16-column
// GEMM panel) and schedules mixing the methods, the last block included.
struct Variant {
    const char* arch;
    const char* args;
};
const Variant kVariants[] = {
    {"vit_tiny_patch16_224", R"({"embed_dim":48,"depth":4,"num_heads":3,"num_classes":7,"img_size":96})"},
    {"deit_tiny_distilled_patch16_224", R"({"embed_dim":32,"depth":4,"num_heads":2,"num_classes":5,"img_size":96})"},
    {"deit3_small_patch16_224", R"({"embed_dim":48,"depth":4,"num_heads":3,"num_classes":3,"img_size":96})"},
    {"vit_base_patch16_224", R"({"embed_dim":32,"depth":4,"num_heads":2,"class_token":false,"global_pool":"avg","num_classes":6,"img_size":96})"},
    {"vit_tiny_patch16_224", R"({"embed_dim":32,"depth":4,"num_heads":2,"reg_tokens":4,"num_classes":4,"img_size":128})"},
    {"vit_tiny_patch16_224", R"({"embed_dim":40,"depth":4,"num_heads":2,"num_classes":5,"img_size":96})"},
    {"vit_base_patch16_siglip_224", R"({"embed_dim":32,"depth":4,"num_heads":2,"num_classes":3,"img_size":96})"},
    // Enough tokens that ToMe at r = 30 in every block (registers merged too) leaves more than the prefix.
    {"vit_so150m_patch16_reg4_map_256", R"({"embed_dim":32,"depth":4,"num_heads":2,"num_classes":0,"img_size":144})"},
    {"vit_small_patch14_reg4_dinov2", R"({"embed_dim":32,"depth":4,"num_heads":2,"num_classes":4,"img_size":126})"},
};
const char* const kVariantSpecs[] = {"pomt:R=10,layer=1", "pomt:R=1,layer=0", "topk:r=3", "tome:r=5", "tome:r=30", "tome:r=9,4,0,2",
                                     "random:keep=25,seed=4;tome:r=3", "tome:r=4,4,0,0;pomt:R=6,layer=2;topk:r=2,layer=3",
                                     "random:keep=30;topk:r=2,3,4", "pomt:R=12,layer=0;tome:r=0,3,3,3", "pomt:R=20,layer=3",
                                     "none"};

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

// Forwards to a real pruner and records what it sees (sizes, attention requests).
struct SpyPruner : TokenPruner {
    TokenPruner* inner;
    std::vector<double> size_sums;  // per block, per image: Σ sizes after the step
    std::vector<int> attention_layers;
    explicit SpyPruner(TokenPruner* p) : inner(p) {}
    int after_embedding(float* x, int batch, int tokens, int dim) override { return inner->after_embedding(x, batch, tokens, dim); }
    bool wants_attention(int layer) const override { return inner->wants_attention(layer); }
    bool tracks_sizes() const override { return inner->tracks_sizes(); }
    int after_attention(BlockInternals& b) override {
        if (b.attn) attention_layers.push_back(b.layer);
        int n = inner->after_attention(b);
        if (b.token_sizes)
            for (int i = 0; i < b.batch; ++i)
                size_sums.push_back(std::accumulate(b.token_sizes + size_t(i) * n, b.token_sizes + size_t(i + 1) * n, 0.0));
        return n;
    }
};

}  // namespace

TEST_CASE("pruning spec: good specs") {
    PruneSchedule s = spec("pomt:R=56,layer=3");
    REQUIRE(s.steps.size() == 1);
    CHECK(s.steps[0].kind == PruneStep::Pomt);
    CHECK(s.steps[0].r == std::vector<int>{56});
    CHECK(s.steps[0].layer == 3);

    s = spec("topk:r=8");
    CHECK(s.steps[0].kind == PruneStep::TopK);
    CHECK(s.steps[0].r == std::vector<int>{8});
    CHECK(s.steps[0].layer == -1);

    s = spec("tome:r=16,8,8,4");
    CHECK(s.steps[0].kind == PruneStep::ToMe);
    CHECK(s.steps[0].r == std::vector<int>{16, 8, 8, 4});

    s = spec("tome:r=16,layer=2");
    CHECK(s.steps[0].r == std::vector<int>{16});
    CHECK(s.steps[0].layer == 2);

    s = spec("random:keep=120,seed=1");
    CHECK(s.steps[0].kind == PruneStep::Random);
    CHECK(s.steps[0].keep == 120);
    CHECK(s.steps[0].seed == 1);
    CHECK(spec("random:keep=9").steps[0].seed == 0);

    CHECK(spec(" pomt : r = 5 , layer = 0 ").steps[0].r == std::vector<int>{5});
    CHECK(spec("none").empty());
    s = spec("random:keep=150,seed=7;tome:r=4");
    CHECK(s.steps.size() == 2);
    CHECK(spec("pomt:R=0,layer=1").steps[0].r == std::vector<int>{0});
}

TEST_CASE("pruning spec: bad specs are one-line errors") {
    const char* bad[] = {"pomt:R=abc,layer=3", "pomt:R=-1,layer=3", "foo:r=1", "pomt:layer=3", "pomt:R=5", "topk", "topk:",
                         "tome:r=", "tome:x=1", "tome:r=1,r=2", "tome:r=1,R=2", "pomt:R=1,2,layer=3", "random:seed=1",
                         "random:keep=-4", "", "   ", "none;tome:r=1", "tome:r=4;", "tome:r=1.5", "topk:r=8,layer=1,2",
                         "tome:r=16,8,layer=1", "tome:=3", "tome:5", "topk:r=99999999999", "pomt:R=5,layer=x", "Pomt:R=1,layer=0",
                         "random:keep=5,r=2", "topk:keep=3"};
    for (const char* s : bad) {
        const std::string spec_text = s;
        CAPTURE(spec_text);
        std::string msg = error_of([&] { parse_prune_spec(s); });
        CHECK(!msg.empty());
        CHECK(msg.find('\n') == std::string::npos);
    }
    CHECK(error_of([] { parse_prune_spec("pomt:R=abc,layer=3"); }).find("'abc'") != std::string::npos);
    CHECK(error_of([] { parse_prune_spec("pomt:R=-1,layer=3"); }).find("negative") != std::string::npos);
    CHECK(error_of([] { parse_prune_spec("foo:r=1"); }).find("unknown pruning method 'foo'") != std::string::npos);
    CHECK(error_of([] { parse_prune_spec("pomt:R=5"); }).find("missing layer") != std::string::npos);
    CHECK(error_of([] { parse_prune_spec("pomt:layer=2"); }).find("missing R") != std::string::npos);
}

// Models without a class token and with registers, as the reference code prunes them: POMT keeps
// N − R − 2 patch tokens whatever the prefix; ToMe protects only a class / distillation token
// (registers are merged like patches, so they count in the half-the-tokens clamp); Top-K needs a
// class token.
TEST_CASE("pruning schedule: registers and no class token follow the reference rules") {
    const ModelConfig reg4_gap = config_for_architecture("vit_base_patch16_reg4_gap_256");  // 4 + 256 tokens
    CHECK(resolve_schedule(spec("pomt:R=56,layer=0"), reg4_gap).tokens_after_block[0] == 260 - 56 + 3);
    CHECK(resolve_schedule(spec("tome:r=200,layer=0"), reg4_gap).tokens_after_block[0] == 260 - 130);
    const ModelConfig siglip = config_for_architecture("vit_base_patch16_siglip_224");  // 196 tokens, no prefix
    CHECK(resolve_schedule(spec("pomt:R=56,layer=0"), siglip).tokens_after_block[0] == 196 - 56 - 1);
    CHECK(resolve_schedule(spec("tome:r=200,layer=0"), siglip).tokens_after_block[0] == 196 - 98);
    const ModelConfig dino = config_for_architecture("vit_small_patch14_reg4_dinov2");  // 1 + 4 + 1369 tokens
    CHECK(resolve_schedule(spec("pomt:R=56,layer=0"), dino).tokens_after_block[0] == 1374 - 56 + 4);
    CHECK(resolve_schedule(spec("tome:r=9999,layer=0"), dino).tokens_after_block[0] == 1374 - 686);
    pomt_test::expect_error([&] { resolve_schedule(spec("topk:r=4"), siglip); }, "topk: needs a model with a class token");
    pomt_test::expect_error([&] { resolve_schedule(spec("topk:r=4"), reg4_gap); }, "topk: needs a model with a class token");
    CHECK(resolve_schedule(spec("random:keep=100,seed=2"), reg4_gap).tokens_after_embedding == 100);
    // ToMe merging into the registers until no token follows them: refused, naming the block.
    pomt_test::expect_error([&] { resolve_schedule(spec("random:keep=9;tome:r=9"), reg4_gap); },
                            "tome: r=9 at block 1 leaves 3 tokens, no more than the model's 4 prefix tokens");
}

TEST_CASE("pruning schedule: resolution gives the token counts and checks ranges") {
    const ModelConfig tiny = config_for_architecture("deit_tiny_patch16_224");
    ResolvedSchedule r = resolve_schedule(spec("pomt:R=56,layer=3"), tiny);
    CHECK(r.tokens_after_embedding == 197);
    CHECK(r.tokens_after_block == std::vector<int>{197, 197, 197, 141, 141, 141, 141, 141, 141, 141, 141, 141});
    CHECK(r.describe() == "pomt R=56 at block 3");

    r = resolve_schedule(spec("topk:r=8"), tiny);
    CHECK(r.tokens_after_block.back() == 197 - 96);
    CHECK(r.describe() == "topk r=8 in every block");

    // ToMe clamps r to half the non-prefix tokens, as the reference does.
    r = resolve_schedule(spec("tome:r=90"), tiny);
    CHECK(r.tokens_after_block[0] == 197 - 90);
    CHECK(r.tokens_after_block[1] == 107 - 53);
    r = resolve_schedule(spec("tome:r=16,8,8,4"), tiny);
    CHECK(r.tokens_after_block == std::vector<int>{181, 173, 165, 161, 161, 161, 161, 161, 161, 161, 161, 161});

    r = resolve_schedule(spec("random:keep=120,seed=1;pomt:R=56,layer=0"), tiny);
    CHECK(r.tokens_after_embedding == 120);
    CHECK(r.tokens_after_block[0] == 64);

    // Distilled: the official rule keeps N − R − 2 patch tokens, so R − 1 fewer.
    const ModelConfig dist = config_for_architecture("deit_tiny_distilled_patch16_224");
    CHECK(resolve_schedule(spec("pomt:R=56,layer=0"), dist).tokens_after_block[0] == 143);
    CHECK(resolve_schedule(spec("pomt:R=1,layer=0"), dist).tokens_after_block[0] == 198);
    CHECK(resolve_schedule(spec("topk:r=4"), dist).tokens_after_block[0] == 194);

    // R = 0 / r = 0 change nothing.
    CHECK(resolve_schedule(spec("pomt:R=0,layer=3"), tiny).empty());
    CHECK(resolve_schedule(spec("tome:r=0"), tiny).empty());
    CHECK(make_pruner(spec("pomt:R=0,layer=3"), tiny) == nullptr);

    // Errors: one line, naming the limit.
    auto err = [&](const std::string& s, const ModelConfig& c) { return error_of([&] { resolve_schedule(spec(s), c); }); };
    CHECK(err("pomt:R=56,layer=12", tiny).find("out of range") != std::string::npos);
    CHECK(err("pomt:R=195,layer=0", tiny).find("at most 194") != std::string::npos);
    CHECK(err("pomt:R=194,layer=0", tiny).empty());
    CHECK(err("random:keep=100;pomt:R=98,layer=0", tiny).find("at most 97") != std::string::npos);
    CHECK(err("topk:r=17", tiny).find("at most") != std::string::npos);
    CHECK(err("topk:r=16", tiny).empty());
    CHECK(err("tome:r=1,2,3,4,5,6,7,8,9,10,11,12,13", tiny).find("12 blocks") != std::string::npos);
    CHECK(err("tome:r=4,layer=12", tiny).find("out of range") != std::string::npos);
    CHECK(err("random:keep=198", tiny).find("between 2 and 197") != std::string::npos);
    CHECK(err("random:keep=1", tiny).find("between 2 and 197") != std::string::npos);
    CHECK(err("random:keep=5;random:keep=6", tiny).find("twice") != std::string::npos);
    CHECK(err("tome:r=4;pomt:R=5,layer=2", tiny).find("two pruning steps at block 2") != std::string::npos);
    CHECK(err("tome:r=4,0,0;pomt:R=5,layer=2", tiny).empty());
    ModelConfig no_cls = small_config("vit_base_patch16_224",
                                      R"({"embed_dim":32,"depth":2,"num_heads":2,"class_token":false,"global_pool":"avg","img_size":64})");
    CHECK(err("topk:r=2", no_cls).find("class token") != std::string::npos);
}

TEST_CASE("pruning schedule files: layers, steps, random, prune; round trip") {
    const ModelConfig tiny = config_for_architecture("deit_tiny_patch16_224");
    PruneSchedule a = parse_schedule_json(
        R"({"comment":"x","random":{"keep":150,"seed":2},"layers":[{"method":"tome","r":16},null,{},{"method":"pomt","R":20},{"method":"none"}]})",
        "t");
    ResolvedSchedule ra = resolve_schedule(a, tiny);
    CHECK(ra.keep == 150);
    CHECK(ra.seed == 2);
    CHECK(ra.layers[0].method == PruneMethod::ToMe);
    CHECK(ra.layers[3].method == PruneMethod::Pomt);
    CHECK(ra.layers[3].r == 20);
    PruneSchedule b = parse_schedule_json(R"({"steps":[{"method":"random","keep":150,"seed":2},{"method":"tome","r":[16]},)"
                                          R"({"method":"pomt","R":20,"layer":3}]})",
                                          "t");
    // "r":[16] is a per-block list (block 0 only), unlike "r":16 (every block).
    ResolvedSchedule rb = resolve_schedule(b, tiny);
    CHECK(rb.tokens_after_block == ra.tokens_after_block);
    PruneSchedule c = parse_schedule_json(R"({"prune":"random:keep=150,seed=2;tome:r=16,0;pomt:R=20,layer=3"})", "t");
    CHECK(resolve_schedule(c, tiny).tokens_after_block == ra.tokens_after_block);
    // to_json is a schedule file.
    PruneSchedule d = parse_schedule_json(ra.to_json().dump(), "round trip");
    ResolvedSchedule rd = resolve_schedule(d, tiny);
    CHECK(rd.to_json().dump() == ra.to_json().dump());
    CHECK(rd.tokens_after_block == ra.tokens_after_block);

    const char* bad[] = {"[]", "{\"layers\":[{\"r\":3}]}", "{\"layers\":[{\"method\":\"tome\"}]}",
                         "{\"layers\":[{\"method\":\"tome\",\"r\":-2}]}", "{\"layers\":[{\"method\":\"tome\",\"r\":[1,2]}]}",
                         "{\"layers\":[{\"method\":\"tome\",\"r\":2,\"layer\":3}]}", "{\"steps\":[{\"method\":\"pomt\",\"R\":2}]}",
                         "{\"layers\":[{\"method\":\"random\",\"keep\":3}]}", "{\"random\":{\"keep\":2.5}}", "{\"extra\":1}",
                         "{\"version\":2}", "{\"prune\":\"pomt:R=abc,layer=1\"}", "{\"layers\":[{\"method\":\"none\",\"r\":1}]}",
                         "{\"layers\":[{\"method\":\"tome\",\"r\":\"4\"}]}", "{\"steps\":[{\"method\":\"tome\",\"r\":4,\"r\":5}]}"};
    for (const char* t : bad) {
        const std::string text = t;
        CAPTURE(text);
        std::string msg = error_of([&] { parse_schedule_json(text, "t"); });
        CHECK(!msg.empty());
        CHECK(msg.find('\n') == std::string::npos);
    }
}

TEST_CASE("pruning random: seeded, prefix kept, the same for every image") {
    std::vector<int> a = random_keep_positions(197, 1, 120, 1), b = random_keep_positions(197, 1, 120, 1);
    CHECK(a == b);
    CHECK(a.size() == 120);
    CHECK(a[0] == 0);
    CHECK(std::is_sorted(a.begin(), a.end()));
    CHECK(std::adjacent_find(a.begin(), a.end()) == a.end());
    CHECK(a.back() < 197);
    CHECK(random_keep_positions(197, 1, 120, 2) != a);
    std::vector<int> d = random_keep_positions(198, 2, 50, 5);
    CHECK(d[0] == 0);
    CHECK(d[1] == 1);
    CHECK(d[2] >= 2);
    // A fixed golden sequence: the choice must not change between builds or platforms.
    std::vector<int> g = random_keep_positions(12, 1, 5, 42);
    CHECK(g == std::vector<int>{0, 2, 3, 8, 10});

    const ModelConfig cfg = vit_small();
    auto model = Model::random(cfg, 5);
    std::vector<float> images = test_images(cfg, 2);
    const size_t img = images.size() / 2;
    auto pruner = make_pruner(spec("random:keep=20,seed=9"), cfg);
    RunOptions opt;
    opt.pruner = pruner.get();
    std::vector<int> tokens;
    opt.tokens_after_block = &tokens;
    Session s1(model, 1), s2(model, 2);
    std::vector<float> x1 = s1.run(images.data(), 2, opt);
    CHECK(tokens == std::vector<int>{20, 20, 20, 20});
    std::vector<float> x2 = s2.run(images.data(), 2, opt);
    std::vector<float> x3 = s1.run(images.data(), 2, opt);
    CHECK(x1 == x3);
    for (size_t i = 0; i < x1.size(); ++i) CHECK(x1[i] == doctest::Approx(x2[i]).epsilon(1e-5));
    std::vector<float> one = s1.run(images.data() + img, 1, opt);
    for (size_t k = 0; k < one.size(); ++k) CHECK(one[k] == doctest::Approx(x1[one.size() + k]).epsilon(1e-5));
    // A different seed keeps other tokens, so other logits.
    auto other = make_pruner(spec("random:keep=20,seed=10"), cfg);
    opt.pruner = other.get();
    CHECK(s1.run(images.data(), 2, opt) != x1);
}

TEST_CASE("pruning properties: R = 0 is the baseline; POMT at the last block keeps the class token's output") {
    const ModelConfig cfg = vit_small();
    auto model = Model::random(cfg, 7);
    std::vector<float> images = test_images(cfg, 2);
    Session session(model, 2);
    std::vector<float> base = session.run(images.data(), 2);

    ResolvedSchedule zero = resolve_schedule(spec("pomt:R=0,layer=2;tome:r=0,0,0,0"), cfg);
    CHECK(zero.empty());
    CHECK(zero.tokens_after_block == std::vector<int>{37, 37, 37, 37});

    // The last block's MLP is per token, so dropping tokens there cannot change the class token.
    for (const char* s : {"pomt:R=20,layer=3", "pomt:R=34,layer=3", "topk:r=9,layer=3"}) {
        const std::string spec_text = s;
        CAPTURE(spec_text);
        auto pruner = make_pruner(spec(s), cfg);
        RunOptions opt;
        opt.pruner = pruner.get();
        std::vector<float> got = session.run(images.data(), 2, opt);
        for (size_t i = 0; i < base.size(); ++i) CHECK(got[i] == doctest::Approx(base[i]).epsilon(1e-5).scale(1e-4));
    }
    // ... but pruning earlier does.
    auto early = make_pruner(spec("pomt:R=20,layer=1"), cfg);
    RunOptions opt;
    opt.pruner = early.get();
    std::vector<float> got = session.run(images.data(), 2, opt);
    double diff = 0;
    for (size_t i = 0; i < base.size(); ++i) diff = std::max(diff, double(std::fabs(got[i] - base[i])));
    CHECK(diff > 1e-4);
}

TEST_CASE("pruning properties: token counts follow the schedule; sizes; attention only where needed") {
    for (const Variant& v : kVariants) {
        const std::string args = v.args;
        CAPTURE(args);
        const ModelConfig cfg = small_config(v.arch, v.args);
        auto model = Model::random(cfg, 3);
        std::vector<float> images = test_images(cfg, 3, 0.021);
        const size_t img = images.size() / 3;
        Session session(model, 2);
        for (const char* s : kVariantSpecs) {
            const std::string spec_text = s;
            CAPTURE(spec_text);
            PruneSchedule sched = spec(s);
            if (!cfg.class_token && std::string(s).find("topk") != std::string::npos) {
                CHECK_THROWS_AS(resolve_schedule(sched, cfg), Error);
                continue;
            }
            ResolvedSchedule plan = resolve_schedule(sched, cfg);
            if (plan.empty()) continue;  // no pruner to watch
            auto inner = make_pruner(plan, cfg);
            REQUIRE(inner);
            SpyPruner spy(inner.get());
            std::vector<int> tokens;
            RunOptions opt;
            opt.pruner = &spy;
            opt.tokens_after_block = &tokens;
            std::vector<float> all = session.run(images.data(), 3, opt);
            CHECK(tokens == plan.tokens_after_block);
            for (float f : all) CHECK(std::isfinite(f));
            // Attention matrices only at POMT blocks.
            std::vector<int> pomt_layers;
            for (int l = 0; l < cfg.depth; ++l)
                if (plan.layers[size_t(l)].method == PruneMethod::Pomt) pomt_layers.push_back(l);
            CHECK(spy.attention_layers == pomt_layers);
            // Sizes (tracked when ToMe is in the schedule) always add up to the tokens after the embedding.
            CHECK(spy.tracks_sizes() == (std::string(s).find("tome") != std::string::npos));
            if (std::string(s).find("topk") == std::string::npos)  // Top-K discards tokens and their sizes
                for (double sum : spy.size_sums) CHECK(sum == doctest::Approx(plan.tokens_after_embedding));
            // A batch equals its images one at a time.
            const int outs = session.outputs();
            for (int i = 0; i < 3; ++i) {
                std::vector<float> one = session.run(images.data() + i * img, 1, opt);
                for (int k = 0; k < outs; ++k)
                    CHECK(one[k] == doctest::Approx(all[size_t(i) * outs + k]).epsilon(1e-4).scale(1e-3));
            }
        }
    }
}

TEST_CASE("last block: computing the pooled rows only gives the logits of the full block") {
    // Session::run computes the last block of a class-token model for the pooled rows alone and
    // skips its pruning step; RunOptions::last_block_all_rows computes every row and prunes. The
    // logits and the reported token counts must be the same, bit for bit with pomt's own kernels
    // (each output value is the same dot products in the same order; OpenBLAS blocks by row count).
    const bool exact = !gemm_uses_row_major_weights();
    for (const Variant& v : kVariants) {
        const std::string args = v.args;
        CAPTURE(args);
        const ModelConfig cfg = small_config(v.arch, v.args);
        auto model = Model::random(cfg, 11);
        std::vector<float> images = test_images(cfg, 3, 0.017);
        for (int threads : {1, 2}) {
            CAPTURE(threads);
            Session session(model, threads);
            for (const char* s : kVariantSpecs) {
                const std::string spec_text = s;
                CAPTURE(spec_text);
                if (!cfg.class_token && std::string(s).find("topk") != std::string::npos) continue;
                const ResolvedSchedule plan = resolve_schedule(spec(s), cfg);
                auto pruner = make_pruner(plan, cfg);
                std::vector<int> pooled_tokens, all_tokens;
                RunOptions opt;
                opt.pruner = pruner.get();
                opt.tokens_after_block = &pooled_tokens;
                std::vector<float> pooled = session.run(images.data(), 3, opt);
                opt.last_block_all_rows = true;
                opt.tokens_after_block = &all_tokens;
                std::vector<float> all = session.run(images.data(), 3, opt);
                CHECK(pooled_tokens == plan.tokens_after_block);
                CHECK(all_tokens == plan.tokens_after_block);
                REQUIRE(pooled.size() == all.size());
                if (exact) {
                    for (size_t i = 0; i < all.size(); ++i) CHECK(pooled[i] == all[i]);
                } else {  // as the ONNX Runtime check: max|Δ| within 1e-4 · max|logit|
                    double diff = 0, top = 0;
                    for (size_t i = 0; i < all.size(); ++i) {
                        diff = std::max(diff, double(std::fabs(pooled[i] - all[i])));
                        top = std::max(top, double(std::fabs(all[i])));
                    }
                    CHECK(diff <= 1e-4 * top);
                }
            }
        }
    }
}

TEST_CASE("pruning CLI: pomt run --prune / --schedule / --verbose; bad specs exit 2") {
    const std::string dir = pomt_test::temp_dir();
    const ModelConfig cfg = config_for_architecture("vit_tiny_patch16_224");
    std::vector<float> x = test_images(cfg, 2);
    write_npy(dir + "/x.npy", x.data(), {2, 3, cfg.img_size, cfg.img_size});
    const std::vector<std::string> base = {"run", "--arch", "vit_tiny_patch16_224", "--seed", "3", "--input", dir + "/x.npy",
                                           "--threads", "2"};
    auto with = [&](std::vector<std::string> extra) {
        std::vector<std::string> a = base;
        a.insert(a.end(), extra.begin(), extra.end());
        return pomt_test::run_pomt(a);
    };
    auto r = with({"--output", dir + "/a.npy", "--prune", "pomt:R=56,layer=3", "--verbose"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.err.find("pruning: pomt R=56 at block 3") != std::string::npos);
    CHECK(r.err.find("tokens after each block: 197 197 197 141 141 141 141 141 141 141 141 141") != std::string::npos);

    pomt_test::write_bytes(dir + "/s.json", R"({"layers":[null,null,null,{"method":"pomt","R":56}]})");
    r = with({"--output", dir + "/b.npy", "--schedule", dir + "/s.json"});
    REQUIRE(r.exit_code == 0);
    CHECK(pomt_test::read_bytes(dir + "/a.npy") == pomt_test::read_bytes(dir + "/b.npy"));

    r = with({"--output", dir + "/c.npy", "--prune", "tome:r=16,8,8,4", "--verbose"});
    REQUIRE(r.exit_code == 0);
    CHECK(r.err.find("tokens after each block: 181 173 165 161 161") != std::string::npos);

    for (std::vector<std::string> bad : std::vector<std::vector<std::string>>{
             {"--prune", "pomt:R=abc,layer=3"},
             {"--prune", "magic:r=1"},
             {"--prune", "pomt:R=56"},
             {"--prune", "topk:r=-1"},
             {"--prune", "pomt:R=56,layer=12"},
             {"--prune", "pomt:R=500,layer=0"},
             {"--prune", ""},
             {"--schedule", dir + "/missing.json"},
             {"--schedule", dir + "/x.npy"}}) {
        CAPTURE(bad[1]);
        bad.push_back("--output");
        bad.push_back(dir + "/bad.npy");
        r = with(bad);
        CHECK(r.exit_code == 2);
        CHECK(!r.err.empty());
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') <= 1);
        CHECK(!pomt_test::file_exists(dir + "/bad.npy"));
    }
}

TEST_CASE("pruning warnings: no-op steps and almost no patch token are said; ordinary schedules are not") {
    const ModelConfig tiny = config_for_architecture("vit_tiny_patch16_224");  // 196 patches, 12 blocks
    auto warnings = [&](const std::string& s) { return schedule_warnings(spec(s), tiny); };
    auto has = [](const std::vector<std::string>& w, const std::string& needle) {
        return w.size() == 1 && w[0].find(needle) != std::string::npos;
    };
    CHECK(schedule_warnings(PruneSchedule(), tiny).empty());
    for (const char* quiet : {"pomt:R=56,layer=3", "tome:r=13", "topk:r=8", "tome:r=16", "random:keep=120"})
        CHECK_MESSAGE(warnings(quiet).empty(), quiet);
    // The last block of a class-token model computes the class row only: a prune there does nothing.
    CHECK(has(warnings("pomt:R=56,layer=11"), "pruning changes nothing on this model: block 11 is the last, which "
                                              "computes the class token's row only"));
    CHECK(has(warnings("pomt:R=56,layer=3;topk:r=4,layer=11"), "the topk step at block 11 is a no-op"));
    CHECK(has(warnings("pomt:R=0,layer=3"), "every step removes 0 tokens"));
    CHECK(has(warnings("random:keep=197"), "every step removes 0 tokens"));
    // Unless the full last block runs (pomt bench --full-last-block): then only the output is unchanged.
    CHECK(schedule_warnings(spec("pomt:R=56,layer=3;topk:r=4,layer=11"), tiny, true).empty());
    // ToMe's merges clamp to half the tokens: r=130 ends with the class token and one patch token.
    CHECK(has(warnings("tome:r=130"), "pruning leaves 4 of the 196 patch tokens from block 6 on, and 1 (2 tokens in "
                                      "all) from block 8 on: the model sees almost nothing of the image"));
    CHECK(has(warnings("tome:r=20"), "from block 11 on"));
    CHECK(has(warnings("random:keep=5"), "leaves 4 of the 196 patch tokens (5 tokens in all) after the embedding"));
    CHECK(has(warnings("pomt:R=193,layer=10"), "from block 11 on"));
    // Average pooling reads every token after the last block: a prune there counts.
    ModelConfig gap = tiny;
    gap.global_pool = "avg";
    gap.class_token = false;
    gap.fc_norm = true;
    CHECK(schedule_warnings(spec("tome:r=8,layer=11"), gap).empty());
    CHECK(has(schedule_warnings(spec("topk:r=190,layer=11"), tiny), "changes nothing"));
    // A bad schedule fails as resolve_schedule does.
    CHECK_THROWS_AS(warnings("pomt:R=56,layer=12"), Error);
}
