// The activation-memory limit (issue 8): a model whose forward pass needs more than the limit is
// refused with a one-line message naming both sizes, through the library, the public API and
// every CLI command that runs a model; model files read instead of mapped count too.
#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "doctest/doctest.h"
#include "pomt/pomt.h"
#include "tests/test_util.h"
#include "vit/forward.h"
#include "core/mapped_file.h"
#include "core/memory_limit.h"
#include "vit/model.h"
#include "core/npy.h"
#include "vit/weights_file.h"
#include "quantize/quantize_model.h"

using namespace pomt;

namespace {

// 1024 px with 1-pixel patches: 1 048 577 tokens, each with a 65 536-wide MLP: ~256 GiB of
// activations for one image from a 4.5 MB file (the weights are tiny with embed_dim 1).
ModelConfig huge_activation_config() {
    ModelConfig c = config_for_architecture("vit_tiny_patch16_224");
    c.embed_dim = 1;
    c.num_heads = 1;
    c.depth = 1;
    c.mlp_hidden = 65536;
    c.num_classes = 2;
    c.img_size = 1024;
    c.patch_size = 1;
    return c;
}

std::string write_model(const std::string& path, const ModelConfig& c) {
    auto model = Model::random(c, 1);
    return pomt_test::write_model(path, *model);
}

}  // namespace

TEST_CASE("memory limit: sizes parse in binary units and print readably") {
    CHECK(parse_memory_size("512M", "--max-memory") == uint64_t(512) << 20);
    CHECK(parse_memory_size("2G", "--max-memory") == uint64_t(2) << 30);
    CHECK(parse_memory_size("2GiB", "--max-memory") == uint64_t(2) << 30);
    CHECK(parse_memory_size("2gb", "--max-memory") == uint64_t(2) << 30);
    CHECK(parse_memory_size("1.5G", "--max-memory") == uint64_t(3) << 29);
    CHECK(parse_memory_size("64k", "--max-memory") == uint64_t(64) << 10);
    CHECK(parse_memory_size("1T", "--max-memory") == uint64_t(1) << 40);
    CHECK(parse_memory_size("1073741824", "--max-memory") == uint64_t(1) << 30);
    for (const char* bad : {"", "G", "-1G", "2X", "2 G", "1e400", "0", "0.1"})
        pomt_test::expect_error([&] { parse_memory_size(bad, "--max-memory"); }, "--max-memory must be");
    CHECK(format_bytes(100) == "100 bytes");
    CHECK(format_bytes(uint64_t(3) << 29) == "1.5 GiB");
    CHECK(format_bytes(uint64_t(512) << 20) == "512 MiB");
}

TEST_CASE("memory limit: the workspace estimate bounds a run and is checked before allocating") {
    const auto model = Model::random(pomt_test::tiny_config(), 1);
    const ModelConfig& c = model->config();
    const uint64_t one = Session::workspace_bytes(c, 1);
    CHECK(Session::workspace_bytes(c, 4) > 3 * one);
    CHECK(Session::workspace_bytes(c, 1, true) > one);  // attention maps kept for a pruner
    std::vector<float> x(size_t(4) * 3 * c.img_size * c.img_size, 0.5f);
    Session s(model, 1);
    CHECK(s.memory_limit() == default_memory_limit());
    s.set_memory_limit(one);
    CHECK(s.run(x.data(), 1).size() == size_t(c.num_classes));  // exactly enough
    pomt_test::expect_error([&] { s.run(x.data(), 4); }, "the forward pass of 4 images at 5 tokens needs ");
    pomt_test::expect_error([&] { s.run(x.data(), 4); }, "above the memory limit of " + format_bytes(one) + " (--max-memory)");
    Session small(model, 1);
    small.set_memory_limit(one - 1);
    pomt_test::expect_error([&] { small.run(x.data(), 1); }, "the forward pass of 1 image");
    // A declared model far beyond any memory: refused from its configuration alone.
    const ModelConfig huge = huge_activation_config();
    CHECK(Session::workspace_bytes(huge, 1) > (uint64_t(256) << 30));
    pomt_test::expect_error([&] { check_model_memory(huge, uint64_t(4) << 30); },
                 "model 'vit_tiny_patch16_224' (1048577 tokens) for one image needs 256 GiB, above the memory "
                 "limit of 4.0 GiB");
}

TEST_CASE("memory limit: the public API refuses a model that does not fit LoadOptions::max_memory") {
    const std::string dir = pomt_test::temp_dir();
    const std::string path = write_model(dir + "/tiny.pomt", pomt_test::tiny_config());
    LoadOptions tight;
    tight.max_memory = 1000;
    pomt_test::expect_error([&] { Classifier::load(path, tight); }, "above the memory limit of 1000 bytes");
    pomt_test::expect_error([&] { Classifier::random("vit_tiny_patch16_224", 0, tight); }, "(197 tokens) for one image needs");
    // Enough for one image: loads and runs, and the Workspace's Session carries the limit.
    LoadOptions fits;
    fits.max_memory = Session::workspace_bytes(Model::load(path)->config(), 1);
    Classifier c = Classifier::load(path, fits);
    CHECK(c.max_memory() == fits.max_memory);
    Tensor t;
    t.channels = 3, t.height = t.width = 32;
    t.data.assign(size_t(3) * 32 * 32, 0.1f);
    CHECK(c.run(t).logits.size() == 5u);
    CHECK(Classifier::load(path).max_memory() == default_memory_limit());
}

TEST_CASE("memory limit: a bf16 file counts its Linear inputs rounded to bf16") {
    const std::string dir = pomt_test::temp_dir();
    auto fp32 = Model::random(pomt_test::tiny_config(), 1);
    QuantizeOptions o;
    o.precision = "bf16";
    const std::string path = dir + "/tiny_bf16.pomt";
    save_model(*quantize_model(*fp32, o), path);
    const ModelConfig& c = fp32->config();
    const uint64_t fp32_bytes = Session::workspace_bytes(c, 1);
    const uint64_t bf16_bytes = Session::workspace_bytes(c, 1, false, false, false, false, true);
    CHECK(bf16_bytes > fp32_bytes);
    LoadOptions tight;
    tight.max_memory = fp32_bytes;  // enough for the fp32 model, not for the bf16 one
    pomt_test::expect_error([&] { Classifier::load(path, tight); }, "for one image needs");
    LoadOptions fits;
    fits.max_memory = bf16_bytes;
    Classifier classifier = Classifier::load(path, fits);
    Tensor t;
    t.channels = 3, t.height = t.width = 32;
    t.data.assign(size_t(3) * 32 * 32, 0.1f);
    CHECK(classifier.run(t).logits.size() == 5u);
}

TEST_CASE("memory limit: a model file read instead of mapped counts against the limit") {
    const std::string dir = pomt_test::temp_dir();
    const std::string path = write_model(dir + "/tiny.pomt", pomt_test::tiny_config());
    MappedFile ok(path, "model file", false);  // the default limit: read as before
    CHECK_FALSE(ok.is_mapped());
    set_default_memory_limit(100);
    try {
        pomt_test::expect_error([&] { MappedFile f(path, "model file", false); },
                     "(read into memory: it cannot be mapped) needs ");
        MappedFile mapped(path, "model file");  // a mapping is not a copy: allowed
        CHECK(mapped.is_mapped());
    } catch (...) {
        set_default_memory_limit(0);
        throw;
    }
    set_default_memory_limit(0);
    CHECK(default_memory_limit() > 100);
}

TEST_CASE("memory limit: every command that runs a model takes --max-memory; exit 2, one line") {
    const std::string dir = pomt_test::temp_dir();
    const std::string model = write_model(dir + "/tiny.pomt", pomt_test::tiny_config());
    const std::string limit = "above the memory limit of 1.0 KiB (--max-memory)";
    pomt_test::write_bytes(dir + "/list.txt", "a.png 0\n");
    const std::vector<std::vector<std::string>> commands = {
        {"run", "-m", model, "--input", dir + "/x.npy", "--output", dir + "/y.npy"},
        {"classify", "-m", model, dir + "/a.png"},
        {"eval", "-m", model, "--data", dir + "/list.txt"},
        {"profile", "-m", model, "--fast", "--quiet", "--csv", dir + "/p.csv", "--no-svg"},
        {"bench", "-m", model, "--runs", "1"},
        {"schedule", "-m", model, "--data", dir + "/list.txt", "-o", dir + "/s.json"},
    };
    std::vector<float> x(size_t(3) * 32 * 32, 0.0f);
    write_npy(dir + "/x.npy", x.data(), {1, 3, 32, 32});
    for (std::vector<std::string> args : commands) {
        INFO("pomt " << args[0]);
        args.push_back("--max-memory");
        args.push_back("1K");
        pomt_test::expect_cli_error(pomt_test::run_pomt(args), limit);
    }
    CHECK_FALSE(pomt_test::file_exists(dir + "/y.npy"));
    CHECK_FALSE(pomt_test::file_exists(dir + "/s.json"));
    // The same model runs with a sufficient limit; bad sizes are refused; info takes no limit.
    auto r = pomt_test::run_pomt({"run", "-m", model, "--input", dir + "/x.npy", "--output", dir + "/y.npy",
                                  "--max-memory=64M"});
    CHECK(r.exit_code == 0);
    pomt_test::expect_cli_error(pomt_test::run_pomt({"bench", "-m", model, "--max-memory", "lots"}),
                       "--max-memory must be a size such as 512M, 2G or 1073741824, got 'lots'");
    pomt_test::expect_cli_error(pomt_test::run_pomt({"info", model, "--max-memory", "1G"}), "unknown option '--max-memory'");
}

TEST_CASE("memory limit: a .pomt declaring a huge forward pass is refused at the default limit") {
    // The default is half the physical memory; this model needs ~256 GiB for one image.
    const std::string dir = pomt_test::temp_dir();
    const std::string model = write_model(dir + "/huge.pomt", huge_activation_config());
    pomt_test::expect_cli_error(pomt_test::run_pomt({"bench", "-m", model, "--runs", "1"}),
                       "(1048577 tokens) for one image needs 256 GiB, above the memory limit of " +
                           format_bytes(default_memory_limit()));
    pomt_test::expect_error([&] { Classifier::load(model); }, "for one image needs 256 GiB");
}
