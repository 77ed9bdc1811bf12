// bf16 models (Model::bf16, `pomt quantize --precision bf16`): every Linear weight bf16 and every
// Linear input rounded to bf16, the rest fp32. The fast pass against its readable simulation
// (forward_reference on the bf16 model: the same roundings, sums in double) and against timm's
// fp32 outputs, at every bf16 variant; pruning, threads, the memory limit, the profiler's blocks,
// a plan's precision, the file round trip and the commands.
//
// Tolerances. bf16 keeps 8 significant bits: one rounding moves a value by at most 2^-9 of it, so
// a model's outputs move from fp32's by about a percent per block on the small fixtures (measured
// below). The fast pass and the simulation round the same activations, which differ by float
// rounding (~1e-6 relative), so a value near a rounding boundary goes one bf16 step (2^-8) apart in
// the two and later blocks carry it on, as int8's flips do (tests/test_forward_int8.cpp): deep
// models are compared by top-1 and by their distance to timm's fp32 outputs.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "core/json.h"
#include "core/npy.h"
#include "doctest/doctest.h"
#include "kernels/bf16.h"
#include "kernels/gemm_bf16.h"
#include "kernels/gemm_bf16_kernels.h"
#include "profiler/block_ops.h"
#include "prune/pruning.h"
#include "quantize/quantize_model.h"
#include "tests/test_util.h"
#include "tests/test_util_logits.h"
#include "vit/config.h"
#include "vit/forward.h"
#include "vit/weights_file.h"
#include "weights_tools/convert.h"

using namespace pomt;
using pomt_test::converted_fixture;
using pomt_test::relative_l2;
using pomt_test::small_variant;
using pomt_test::top1_per_row;
using pomt_test::wave_images;

namespace {

// bf16 outputs against fp32 ones (relative L2): bounds with margin over what was measured (the
// fixture families' 2-3-block models with random or truncated weights and tiny widths 0.010-0.064,
// micro the largest; the real ViT-Tiny below), and the least a real rounding moves them.
constexpr double kFixtureBf16VsFp32 = 0.1;
constexpr double kRealBf16VsFp32 = 0.03;
constexpr double kMinRoundingEffect = 1e-4;
// Pruned runs also pick some other tokens than fp32 did where scores are close (measured up to 0.17
// on micro, ToMe r=8), as int8's do; the top-1 must still be timm's.
constexpr double kPrunedBf16VsFp32 = 0.3;
// The residual stream of three random blocks carries a bf16 rounding of each branch only (measured
// 8e-5; fp32 against itself would be ~1e-7).
constexpr double kMinBlockRoundingEffect = 2e-5;
// The fast pass against its simulation. Both round the same activations, which differ by float
// rounding, so a value at a rounding boundary goes one bf16 step apart in the two, and later blocks
// carry that on: two draws of the same rounding noise (measured 0.04-0.15 of the rounding effect on
// the families, 0.43 on CLIP QuickGELU at the widen variant). What must hold: the fast pass no
// farther from timm than 1.5x the simulation, and from the simulation at most kSimulationShare of
// the effect (a pass that skipped a rounding, or rounded twice, moves by about the whole effect).
constexpr double kSimulationShare = 0.6;
constexpr double kFastOverSimulation = 1.5;

std::shared_ptr<const Model> bf16_of(const Model& fp32, const std::string& attention = "fp32") {
    QuantizeOptions o;
    o.precision = "bf16";
    o.attention = attention;
    return quantize_model(fp32, o);
}

// Both attention precisions of a bf16 model.
const char* const kAttention[] = {"fp32", "bf16"};






uint64_t file_size(const std::string& path) {
    std::ifstream f(path, std::ios::binary | std::ios::ate);
    return uint64_t(f.tellg());
}

}  // namespace

TEST_CASE("bf16: Model::bf16 rounds every Linear, keeps the rest, and round-trips through format 4") {
    auto fp32 = Model::random(pomt_test::small_config(2, 4), 5);
    auto b = bf16_of(*fp32);
    CHECK(b->is_bf16());
    CHECK(!b->is_int8());
    CHECK(b->precision() == "bf16");
    CHECK(b->meta().quantization.attention == "fp32");
    for (const TensorSpec& s : expected_tensors(fp32->config())) {
        CAPTURE(s.name);
        const std::vector<float> want = fp32->tensor_values(s), got = b->tensor_values(s);
        if (s.linear) {
            REQUIRE(b->linear_params(s.name));
            CHECK(b->linear_params(s.name)->packed.is_bf16());
            for (size_t i = 0; i < want.size(); ++i) CHECK(got[i] == round_to_bf16(want[i]));
        } else {
            CHECK(got == want);
        }
    }
    // Saved and loaded: version 4, the same logits bit for bit, and re-saving gives the same bytes.
    const std::string dir = pomt_test::temp_dir();
    save_model(*b, dir + "/b.pomt");
    CHECK(WeightsFile(dir + "/b.pomt").version() == 4u);
    auto loaded = Model::load(dir + "/b.pomt");
    CHECK(loaded->is_bf16());
    const std::vector<float> x = wave_images(b->config(), 2, 0.017);
    CHECK(Session(loaded, 2).run(x.data(), 2) == Session(b, 2).run(x.data(), 2));
    save_model(*loaded, dir + "/again.pomt");
    std::ifstream f1(dir + "/b.pomt", std::ios::binary), f2(dir + "/again.pomt", std::ios::binary);
    CHECK(std::string(std::istreambuf_iterator<char>(f1), {}) == std::string(std::istreambuf_iterator<char>(f2), {}));
    // Not twice: bf16 and int8 weights cannot be made from a bf16 model.
    pomt_test::expect_error([&] { bf16_of(*b); }, "already bf16");
    pomt_test::expect_error([&] { quantize_model(*b, QuantizeOptions()); }, "already bf16");
}

TEST_CASE("bf16: a ViT-Tiny-shaped file is about half the fp32 one") {
    auto fp32 = Model::random("vit_tiny_patch16_224", 1);
    const std::string dir = pomt_test::temp_dir();
    save_model(*fp32, dir + "/f.pomt");
    save_model(*bf16_of(*fp32), dir + "/b.pomt");
    const double ratio = double(file_size(dir + "/b.pomt")) / double(file_size(dir + "/f.pomt"));
    INFO("bf16 / fp32 file size " << ratio);
    CHECK(ratio > 0.5);   // the Linear weights halve; embeddings, norms and biases stay fp32
    CHECK(ratio < 0.52);
}

// Every fixture family (one image each), at every bf16 variant: the Session against the bf16
// simulation and against timm's fp32 logits.
TEST_CASE("bf16 fixtures: the Session and the bf16 simulation keep timm's top-1 and stay near its outputs") {
    POMT_REQUIRE_SHARED("fixtures/micro/model.safetensors", p);
    for (const std::string& name : pomt_test::fixture_names()) {
        if (name == "deit_tiny") continue;  // 12 blocks: the reference pass is slow (the real ViT-Tiny below)
        if (pomt_test::skip_long_fixture_here(name)) continue;
        CAPTURE(name);
        const std::string folder = pomt_test::shared_dir() + "/fixtures/" + name;
        auto fp32 = converted_fixture(folder);
        const NpyArray x = read_npy(folder + "/input.npy");
        const std::vector<float> timm = read_npy(folder + "/logits.npy").data;
        const int batch = int(x.shape[0]);
        for (const char* attention : kAttention) {
        CAPTURE(attention);
        auto b = bf16_of(*fp32, attention);
        const std::vector<float> simulated = forward_reference(*b, x.data.data(), batch);
        const double simulated_to_timm = relative_l2(simulated, timm);
        CHECK(simulated_to_timm >= kMinRoundingEffect);
        CHECK(simulated_to_timm <= kFixtureBf16VsFp32);
        pomt_test::for_each_bf16_variant([&](const char*) {
            Session session(b, 2);
            const std::vector<float> fast = session.run(x.data.data(), batch);
            const double to_timm = relative_l2(fast, timm), to_simulation = relative_l2(fast, simulated);
            INFO(name << ": fast bf16 vs timm " << to_timm << ", simulation vs timm " << simulated_to_timm
                      << ", fast vs simulation " << to_simulation);
            CHECK(to_timm <= kFixtureBf16VsFp32);
            CHECK(to_timm <= kFastOverSimulation * simulated_to_timm);
            CHECK(to_simulation <= kSimulationShare * simulated_to_timm);
            const int outs = session.outputs();
            if (b->config().num_classes > 0) CHECK(top1_per_row(fast, outs) == top1_per_row(timm, outs));
        }, pomt_test::Bf16Sweep::ModelSized);
        }
    }
}

TEST_CASE("bf16: the real ViT-Tiny keeps timm's top-1 on 8 ImageNet images") {
    if (pomt_test::skip_heavy_test_here()) return;
    POMT_REQUIRE_SHARED("models/vit_tiny_patch16_224.augreg_in21k_ft_in1k/model.safetensors", p);
    const std::string folder = pomt_test::shared_dir() + "/models/vit_tiny_patch16_224.augreg_in21k_ft_in1k";
    auto fp32 = converted_fixture(folder);
    const NpyArray x = read_npy(folder + "/reference/input.npy");
    const std::vector<float> timm = read_npy(folder + "/reference/logits.npy").data;
    for (const char* attention : kAttention) {
        CAPTURE(attention);
        const std::vector<float> fast = Session(bf16_of(*fp32, attention), 2).run(x.data.data(), int(x.shape[0]));
        const double to_timm = relative_l2(fast, timm);
        INFO("bf16 vs timm fp32, relative L2 " << to_timm);
        CHECK(to_timm >= kMinRoundingEffect);
        CHECK(to_timm <= kRealBf16VsFp32);
        CHECK(top1_per_row(fast, 1000) == top1_per_row(timm, 1000));
    }
}

TEST_CASE("bf16 pruning: every method runs and stays near timm's fp32 pruned outputs") {
    POMT_REQUIRE_SHARED("fixtures/micro/model.safetensors", p);
    const std::string folder = pomt_test::shared_dir() + "/fixtures/micro";
    auto fp32 = converted_fixture(folder);
    const NpyArray x = read_npy(folder + "/input.npy");
    for (const char* attention : kAttention) {
    CAPTURE(attention);
    auto b = bf16_of(*fp32, attention);
    const ModelConfig& cfg = b->config();
    Session session(b, 2);
    struct Case {
        const char* spec;
        const char* file;
    };
    const Case cases[] = {{"pomt:R=56,layer=1", "logits_pomt_R56_L1.npy"},
                          {"pomt:R=100,layer=2", "logits_pomt_R100_L2.npy"},
                          {"topk:r=4", "logits_topk_r4.npy"},
                          {"tome:r=8", "logits_tome_r8.npy"},
                          {"tome:r=16", "logits_tome_r16.npy"},
                          {"random:keep=100,seed=3", nullptr}};
    const std::vector<float> images = wave_images(cfg, 3, 0.013);
    for (const Case& c : cases) {
        const std::string s = c.spec;
        CAPTURE(s);
        const ResolvedSchedule plan = resolve_schedule(parse_prune_spec(c.spec), cfg);
        auto pruner = make_pruner(plan, cfg);
        REQUIRE(pruner);
        std::vector<int> tokens;
        RunOptions opt;
        opt.pruner = pruner.get();
        opt.tokens_after_block = &tokens;
        if (c.file) {
            const std::vector<float> got = session.run(x.data.data(), 1, opt);
            const std::vector<float> ref = read_npy(folder + "/" + c.file).data;
            const double to_timm = relative_l2(got, ref);
            INFO("bf16 pruned vs timm fp32 pruned, relative L2 " << to_timm);
            CHECK(to_timm <= kPrunedBf16VsFp32);
            CHECK(top1_per_row(got, cfg.num_classes) == top1_per_row(ref, cfg.num_classes));
            CHECK(tokens == plan.tokens_after_block);
        }
        const std::vector<float> pooled = session.run(images.data(), 3, opt);
        RunOptions all_rows = opt;
        all_rows.last_block_all_rows = true;
        CHECK(session.run(images.data(), 3, all_rows) == pooled);
        for (float v : pooled) CHECK(std::isfinite(v));
    }
    }
}

// Every output is one chain of additions in a fixed order whatever the split (kernels/gemm_bf16.h),
// so the thread count cannot change a bit.
TEST_CASE("bf16: 1, 2 and 3 threads give identical logits, pruned or not") {
    for (const char* arch : {"vit_tiny_patch16_224", "deit_tiny_distilled_patch16_224", "vit_base_patch16_siglip_224"}) {
        const std::string name = arch;
        CAPTURE(name);
        for (const char* attention : kAttention) {
        CAPTURE(attention);
        auto b = bf16_of(*Model::random(small_variant(arch, 3), 9), attention);
        const std::vector<float> images = wave_images(b->config(), 2, 0.011);
        for (const char* s : {"none", "tome:r=3", "pomt:R=5,layer=1"}) {
            CAPTURE(s);
            if (std::string(s).find("pomt") == 0 && !b->config().class_token) continue;
            std::unique_ptr<TokenPruner> pruner;
            if (std::string(s) != "none") pruner = make_pruner(parse_prune_spec(s), b->config());
            RunOptions opt;
            opt.pruner = pruner.get();
            std::vector<float> first;
            for (int threads : {1, 2, 3}) {
                const std::vector<float> got = Session(b, threads).run(images.data(), 2, opt);
                if (first.empty()) first = got;
                else CHECK(got == first);
            }
        }
        }
    }
}

TEST_CASE("bf16: the memory limit, run_blocks and the profiler's op-by-op block") {
    ModelConfig c = pomt_test::small_config(3, 4);
    auto fp32 = Model::random(c, 21);
    auto b = bf16_of(*fp32);
    // The workspace is fp32's plus the largest Linear input rounded to bf16, which the Session
    // hands to the GEMM (LinearInput::bf16_scratch): fc2's (hidden wide) or the patch embedding's.
    // Where fc1 rounds fc2's input itself (gemm_bf16_rounds_rows), into a slot that replaces
    // fp32's hidden matrix (half its size), the widest input a GEMM rounds is D wide or the patches'.
    const bool native = gemm_bf16_rounds_rows(c.mlp_hidden, c.embed_dim);
    const uint64_t rows = uint64_t(c.num_tokens()), H = uint64_t(c.mlp_hidden);
    const uint64_t fp32_bytes = Session::workspace_bytes(c, 1);
    const uint64_t bf16_bytes = Session::workspace_bytes(c, 1, false, false, false, false, true);
    const uint64_t widest = std::max(gemm_bf16_scratch_bytes(c.num_tokens(), native ? c.embed_dim : c.mlp_hidden),
                                     gemm_bf16_scratch_bytes(c.num_patches(), c.in_chans * c.patch_size * c.patch_size));
    const uint64_t hidden = native ? (rows * uint64_t(bf16_row_elems(c.mlp_hidden)) + 1) / 2 * 4 : 0;
    const uint64_t expected = fp32_bytes - (native ? rows * H * 4 : 0) + hidden + widest;
    CHECK(bf16_bytes >= expected);
    CHECK(bf16_bytes <= expected + 3);  // rounded up to whole floats
    CHECK(Session::workspace_bytes(c, 3, false, false, false, false, true) > 2 * bf16_bytes);
    check_model_memory(c, bf16_bytes, false, false, true);
    const uint64_t short_by_one = bf16_bytes - 4;
    pomt_test::expect_error([&] { check_model_memory(c, short_by_one, false, false, true); }, "for one image needs");
    Session limited(b, 1);
    limited.set_memory_limit(bf16_bytes);
    std::vector<float> x = wave_images(c, 2, 0.02);
    const std::vector<float> within = limited.run(x.data(), 1);
    CHECK(within == Session(b, 1).run(x.data(), 1));
    pomt_test::expect_error([&] { limited.run(x.data(), 2); }, "the forward pass of 2 images");
    Session short_limit(b, 1);
    short_limit.set_memory_limit(short_by_one);
    pomt_test::expect_error([&] { short_limit.run(x.data(), 1); }, "the forward pass of 1 image");
    const int D = c.embed_dim, n = c.num_tokens(), batch = 2;
    std::vector<float> tokens(size_t(batch) * n * D);
    for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = float(std::sin(double(i) * 0.05));
    Session session(b, 2), session32(fp32, 2);
    std::vector<float> blocks = tokens, blocks32 = tokens, ops = tokens;
    CHECK(session.run_blocks(blocks.data(), batch, n, 0, c.depth) == n);
    session32.run_blocks(blocks32.data(), batch, n, 0, c.depth);
    OpTimedBlock op_block(session);
    OpTimes times;
    for (int layer = 0; layer < c.depth; ++layer) CHECK(op_block.run(layer, ops.data(), batch, n, nullptr, times) == n);
    const double rounding = relative_l2(blocks, blocks32), ops_to_blocks = relative_l2(ops, blocks);
    INFO("bf16 vs fp32 blocks " << rounding << ", op block vs run_blocks " << ops_to_blocks);
    CHECK(rounding >= kMinBlockRoundingEffect);
    CHECK(ops_to_blocks <= kSimulationShare * rounding);
}

TEST_CASE("bf16: a plan chosen in bf16 runs from the fp32 file as the bf16 file runs") {
    auto fp32 = Model::random(pomt_test::small_config(2, 4), 8);
    auto b = model_in_precision(fp32, "bf16");
    CHECK(b->is_bf16());
    const std::string dir = pomt_test::temp_dir();
    save_model(*bf16_of(*fp32), dir + "/b.pomt");
    const std::vector<float> x = wave_images(fp32->config(), 1, 0.03);
    CHECK(Session(b, 1).run(x.data(), 1) == Session(Model::load(dir + "/b.pomt"), 1).run(x.data(), 1));
    CHECK(model_in_precision(b, "bf16") == b);
    pomt_test::expect_error([&] { model_in_precision(b, "fp32"); }, "the plan runs in fp32 and the model is bf16");
    pomt_test::expect_error([&] { model_in_precision(b, "int8"); }, "the plan runs in int8 and the model is bf16");
    CHECK(parse_schedule_json("{\"precision\":\"bf16\",\"prune\":\"tome:r=1\"}", "s").precision == "bf16");
    pomt_test::expect_error([&] { parse_schedule_json("{\"precision\":\"fp16\"}", "s"); }, "precision must be");
}

TEST_CASE("pomt quantize --precision bf16 / convert --quantize bf16 / info / classify: the commands") {
    const std::string dir = pomt_test::temp_dir();
    const std::string in = pomt_test::write_model(dir + "/m.pomt", *Model::random(pomt_test::small_config(2, 4), 3));
    auto r = pomt_test::run_pomt({"quantize", in, "-o", dir + "/b.pomt", "--precision", "bf16"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("bf16 (format v4), attention fp32") != std::string::npos);
    // The file is quantize_model's model, byte for byte.
    save_model(*bf16_of(*Model::load(in)), dir + "/lib.pomt");
    std::ifstream f1(dir + "/b.pomt", std::ios::binary), f2(dir + "/lib.pomt", std::ios::binary);
    CHECK(std::string(std::istreambuf_iterator<char>(f1), {}) == std::string(std::istreambuf_iterator<char>(f2), {}));
    r = pomt_test::run_pomt({"info", dir + "/b.pomt"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("precision       bf16: weights bf16 round-to-nearest-even") != std::string::npos);
    CHECK(r.out.find("bf16 kernels    " + std::string(active_bf16_variant())) != std::string::npos);
    r = pomt_test::run_pomt({"info", dir + "/b.pomt", "--json"});
    CHECK(r.exit_code == 0);
    CHECK(json::parse(r.out, "info").find("quantization")->find("precision")->as_string("") == "bf16");
    {
        std::ofstream img(dir + "/img.bmp", std::ios::binary);
        img << pomt_test::bmp_image(40, 30, 1);
    }
    r = pomt_test::run_pomt({"classify", "-m", dir + "/b.pomt", dir + "/img.bmp"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("bf16 (" + std::string(active_bf16_variant()) + " kernels)") != std::string::npos);
    const std::string list = pomt_test::write_labelled_bmps(dir, 2, 4);
    pomt_test::expect_cli_error(
        pomt_test::run_pomt({"quantize", in, "-o", dir + "/x.pomt", "--precision", "bf16", "--data", list}),
        "bf16 needs no calibration images");
    // convert --random --quantize bf16: the random model's bf16 file.
    r = pomt_test::run_pomt({"convert", "--arch", "deit_tiny_patch16_224", "--random", "--seed", "2", "--quantize",
                             "bf16", "-o", dir + "/c.pomt"});
    CHECK(r.exit_code == 0);
    CHECK(WeightsFile(dir + "/c.pomt").meta().quantization.precision == "bf16");
    // Refused, one line and exit 2, nothing written.
    pomt_test::expect_cli_error(pomt_test::run_pomt({"quantize", in, "-o", dir + "/x.pomt", "--precision", "fp16"}),
                                "--precision must be int8 or bf16");
    pomt_test::expect_cli_error(
        pomt_test::run_pomt({"quantize", in, "-o", dir + "/x.pomt", "--precision", "bf16", "--attention", "int8"}),
        "a bf16 model's attention runs in bf16 or fp32, not int8");
    // --attention bf16: recorded in the file and shown.
    r = pomt_test::run_pomt({"quantize", in, "-o", dir + "/bb.pomt", "--precision", "bf16", "--attention", "bf16"});
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("bf16 (format v4), attention bf16") != std::string::npos);
    CHECK(Model::load(dir + "/bb.pomt")->bf16_attention());
    CHECK(pomt_test::run_pomt({"info", dir + "/bb.pomt"}).out.find("attention       bf16 (") != std::string::npos);
    // Where the bf16 kernels have no tiles (widen), quantize and info say that bf16 attention costs.
    const std::string costs = "bf16 attention here runs on the widen kernels";
    setenv("POMT_BF16", "widen", 1);
    r = pomt_test::run_pomt({"quantize", in, "-o", dir + "/bw.pomt", "--attention", "bf16"});
    const std::string info_widen = pomt_test::run_pomt({"info", dir + "/bw.pomt"}).out;
    unsetenv("POMT_BF16");
    CHECK(r.exit_code == 0);
    CHECK(r.out.find(costs) != std::string::npos);
    CHECK(info_widen.find(costs) != std::string::npos);
    if (active_bf16_kernels().tile) CHECK(pomt_test::run_pomt({"info", dir + "/bw.pomt"}).out.find(costs) == std::string::npos);
    pomt_test::expect_cli_error(pomt_test::run_pomt({"quantize", dir + "/b.pomt", "-o", dir + "/x.pomt"}),
                                "already bf16");
    pomt_test::expect_cli_error(
        pomt_test::run_pomt({"convert", "--arch", "deit_tiny_patch16_224", "--random", "--quantize", "fp16", "-o",
                             dir + "/x.pomt"}),
        "--quantize 'fp16' is not supported (int8 or bf16)");
    CHECK(!pomt_test::file_exists(dir + "/x.pomt"));
}
