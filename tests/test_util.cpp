#include "tests/test_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include "kernels/gemm_bf16_kernels.h"
#include "kernels/gemm_int8_kernels.h"
#include "pomt/error.h"
#include "tests/image_bytes.h"
#include "vit/model.h"
#include "vit/weights_file.h"

namespace pomt_test {

std::string bmp_image(int w, int h, int seed) {
    const int row = (3 * w + 3) / 4 * 4;
    std::string b = bmp_header(w, h, 24);
    for (int y = 0; y < h; ++y) {  // file order: bottom-up
        for (int x = 0; x < w; ++x)
            for (int c = 0; c < 3; ++c) b += char((x * (c + 1) + y * seed * 7 + seed * 31) & 0xff);
        b += std::string(size_t(row - 3 * w), '\0');
    }
    return b;
}

std::string write_labelled_bmps(const std::string& dir, int images, int classes) {
    std::string list;
    for (int i = 0; i < images; ++i) {
        std::string name = "img" + std::to_string(i) + ".bmp";
        write_bytes(dir + "/" + name, bmp_image(80, 70, i));
        list += name + " " + std::to_string(i % classes) + "\n";
    }
    write_bytes(dir + "/labels.txt", list);
    return dir + "/labels.txt";
}

pomt::ModelConfig tiny_config(int depth) {
    pomt::ModelConfig c = pomt::config_for_architecture("vit_tiny_patch16_224");
    c.embed_dim = 16;
    c.depth = depth;
    c.num_heads = 2;
    c.mlp_hidden = 32;
    c.num_classes = 5;
    c.img_size = 32;
    return c;
}

pomt::ModelConfig small_config(int depth, int num_classes) {
    pomt::ModelConfig c = pomt::config_for_architecture("vit_tiny_patch16_224");
    c.embed_dim = 32;
    c.depth = depth;
    c.num_heads = 2;
    c.mlp_hidden = 64;
    c.num_classes = num_classes;
    c.img_size = 64;  // 16 patches + class token = 17 tokens
    return c;
}

std::string write_model(const std::string& path, const pomt::Model& model) {
    pomt::write_weights_file(path, model.meta(), [&](const pomt::TensorSpec& s) { return model.tensor_values(s); });
    return path;
}

std::string write_model_v1(const std::string& path, const pomt::Model& model) {
    write_bytes(path, as_format_v1(read_bytes(write_model(path, model))));
    return path;
}

ModelAndImages model_and_images(int depth, uint64_t seed, int images) {
    ModelAndImages f;
    f.dir = temp_dir();
    auto m = pomt::Model::random(small_config(depth, 4), seed);
    f.model = write_model(f.dir + "/m.pomt", *m);
    f.list = write_labelled_bmps(f.dir, images, 4);
    return f;
}

std::vector<float> random_floats(size_t n, unsigned seed, float lo, float hi) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

namespace {
std::string current_test_name() {
    const auto* test = doctest::getContextOptions()->currentTest;
    return test ? test->m_name : "";
}
}  // namespace

void skip_test(const std::string& why) {
    std::printf("SKIP: %s: %s\n", current_test_name().c_str(), why.c_str());
    ++g_skipped;
}

void skip_part(const std::string& why) {
    std::printf("SKIP: %s: %s\n", current_test_name().c_str(), why.c_str());
    ++g_skipped_parts;
}

double jitter(uint64_t k, double amp) {
    uint64_t z = (k + 1) * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 31)) * 0xbf58476d1ce4e5b9ULL;
    return 1 + amp * (2 * double((z >> 11) % 10000) / 10000.0 - 1);
}

void for_each_isa(const std::function<void(pomt::Isa)>& fn) {
    using pomt::Isa;
#if defined(__aarch64__)
    const Isa levels[] = {Isa::Scalar, Isa::Neon};
#elif defined(__x86_64__)
    const Isa levels[] = {Isa::Scalar, Isa::Avx2, Isa::Avx512};
#else
    const Isa levels[] = {Isa::Scalar};
#endif
    struct Restore {
        Isa saved = pomt::active_isa();
        ~Restore() { pomt::set_active_isa(saved); }
    } restore;
    // One SKIP line per test case and level, however often the test case sweeps the levels.
    static std::string reported_test;
    static unsigned reported_levels = 0;
    const std::string test = doctest::getContextOptions()->currentTest
                                 ? doctest::getContextOptions()->currentTest->m_name
                                 : "";
    if (test != reported_test) reported_test = test, reported_levels = 0;
    for (Isa isa : levels) {
        if (!pomt::isa_supported(isa)) {
            const unsigned bit = 1u << unsigned(isa);
            if (!(reported_levels & bit)) {
                reported_levels |= bit;
                skip_part(std::string(pomt::isa_name(isa)) + " not on this CPU");
            }
            continue;
        }
        REQUIRE(pomt::set_active_isa(isa));
        fn(isa);
    }
}

void for_each_int8_variant(const std::function<void(const char*)>& fn) {
    struct Restore {
        ~Restore() { pomt::set_active_int8_variant(nullptr); }
    } restore;
    // One SKIP line per test case and variant, however often the test case sweeps the variants.
    static std::string reported_test;
    static std::vector<std::string> reported;
    const std::string test = current_test_name();
    if (test != reported_test) reported_test = test, reported.clear();
    for (const char* name : pomt::int8_variants()) {
        const std::string variant = name;
        if (!pomt::int8_variant_supported(name)) {
            if (std::find(reported.begin(), reported.end(), variant) == reported.end()) {
                reported.push_back(variant);
                skip_part("int8 variant " + variant + ": CPU lacks it");
            }
            continue;
        }
        REQUIRE(pomt::set_active_int8_variant(name));
        REQUIRE(std::string(pomt::active_int8_variant()) == variant);
        CAPTURE(variant);
        fn(name);
    }
}

void for_each_bf16_variant(const std::function<void(const char*)>& fn, Bf16Sweep sweep) {
    struct Restore {
        ~Restore() { pomt::set_active_bf16_variant(nullptr); }
    } restore;
    static std::string reported_test;
    static std::vector<std::string> reported;
    const std::string test = current_test_name();
    if (test != reported_test) reported_test = test, reported.clear();
    for (const char* name : pomt::bf16_variants()) {
        const std::string variant = name;
        if (!pomt::bf16_variant_supported(name)) {
            if (std::find(reported.begin(), reported.end(), variant) == reported.end()) {
                reported.push_back(variant);
                skip_part("bf16 variant " + variant + ": CPU lacks it");
            }
            continue;
        }
        if (sweep == Bf16Sweep::ModelSized && sanitized() && variant == "scalar") {
            if (std::find(reported.begin(), reported.end(), variant) == reported.end()) {
                reported.push_back(variant);
                skip_part("bf16 variant scalar: a model-sized sweep, left to the plain build in a sanitizer build");
            }
            continue;
        }
        REQUIRE(pomt::set_active_bf16_variant(name));
        REQUIRE(std::string(pomt::active_bf16_variant()) == variant);
        CAPTURE(variant);
        fn(name);
    }
}

void expect_cli_error(const CommandResult& r, const std::string& needle) {
    INFO("stderr: " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(needle) != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);  // the message and its newline
}

void expect_error(const std::function<void()>& fn, const std::string& needle) {
    try {
        fn();
        FAIL("no error; expected one containing '" << needle << "'");
    } catch (const pomt::Error& e) {
        const std::string msg = e.what();
        INFO("message: " << msg);
        CHECK(msg.find(needle) != std::string::npos);
        CHECK(msg.find('\n') == std::string::npos);
    }
}

bool file_exists(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0;
}

const std::vector<std::string>& fixture_names() {
    static const std::vector<std::string> names = {
        "micro",         "deit_tiny",         "deit_tiny_distilled_d2", "deit3_micro",
        "dinov2_reg4_d3", "clip_b16_d3",      "clip_quickgelu_d3",      "gap_d3",
        "reg4_gap_d3",   "siglip_map_d3",     "so150m_reg4_map_d2"};
    return names;
}

namespace {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
}  // namespace

bool sweep_fixtures_every_isa_here() {
    if (!kSanitized) return true;
    skip_part("the every-level sweep in a sanitizer build (the plain build runs it; the kernels' tests run every "
              "level here)");
    return false;
}

bool sanitized() { return kSanitized; }

bool skip_long_fixture_here(const std::string& name) {
    if (!kSanitized || name != "dinov2_reg4_d3") return false;
    skip_part(name + " in a sanitizer build (1374 tokens; the plain build runs it)");
    return true;
}

bool skip_heavy_test_here() {
    if (!kSanitized) return false;
    skip_test("a heavy data test, left to the plain build in a sanitizer build");
    return true;
}

std::string shared_dir() {
    const char* env = std::getenv("POMT_SHARED");
    std::string dir = env && *env ? env : "../shared";
    return file_exists(dir + "/README.md") ? dir : std::string();
}

namespace {
std::vector<std::string>& temp_dirs() {
    static std::vector<std::string> dirs;
    return dirs;
}
void remove_temp_dirs() {
    for (const std::string& d : temp_dirs()) {
        std::string cmd = "rm -rf '" + d + "'";
        if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "could not remove %s\n", d.c_str());
    }
}
}  // namespace

int lines_besides_disturbance(const std::string& err) {
    std::istringstream in(err);
    int n = 0;
    for (std::string line; std::getline(in, line);) n += line.find(" looks disturbed by other load") == std::string::npos;
    return n;
}

std::string temp_dir() {
    const char* base = std::getenv("TMPDIR");
    std::string templ = std::string(base && *base ? base : "/tmp") + "/pomt_test_XXXXXX";
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) FAIL("mkdtemp failed");
    if (temp_dirs().empty()) std::atexit(remove_temp_dirs);
    temp_dirs().push_back(buf.data());
    return buf.data();
}

std::string pomt_binary() {
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    std::string dir = ".";
    if (n > 0) {
        self[n] = '\0';
        dir = self;
        dir = dir.substr(0, dir.rfind('/'));
    }
    return dir + "/pomt";
}

static std::string slurp_fd(int fd) {
    std::string s;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) s.append(buf, size_t(n));
    return s;
}

CommandResult run_pomt(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {pomt_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv);
}

CommandResult run_convert_timm(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"python3", "weights_tools/convert_timm.py", "--pomt", pomt_binary()};
    argv.insert(argv.end(), args.begin(), args.end());  // a --pomt among them wins (argparse keeps the last)
    return run_command(argv);
}

bool python_has(const std::string& module, const std::string& why) {
    if (std::system(("python3 -c 'import " + module + "' >/dev/null 2>&1").c_str()) == 0) return true;
    skip_test(why);
    return false;
}

CommandResult run_command(const std::vector<std::string>& args) {
    std::string dir = temp_dir();
    std::string out_path = dir + "/stdout", err_path = dir + "/stderr";
    pid_t pid = fork();
    if (pid == 0) {
        int o = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(o, 1);
        dup2(e, 2);
        std::vector<char*> argv;
        for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        execvp(argv[0], argv.data());
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CommandResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    int fo = open(out_path.c_str(), O_RDONLY), fe = open(err_path.c_str(), O_RDONLY);
    r.out = slurp_fd(fo);
    r.err = slurp_fd(fe);
    close(fo);
    close(fe);
    return r;
}

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary);
    f << bytes;
}

std::string read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

pomt::ModelConfig odd_widths_config() {
    pomt::ModelConfig c = pomt::config_for_architecture("deit_tiny_distilled_patch16_224");
    c.embed_dim = 24;
    c.depth = 2;
    c.num_heads = 2;
    c.mlp_hidden = 40;
    c.num_classes = 5;
    c.img_size = 32;
    c.patch_size = 8;
    return c;
}

pomt::json::Value& entry_named(pomt::json::Value& h, const std::string& name) {
    const pomt::json::Value* found = nullptr;
    for (const pomt::json::Value& t : h.find("tensors")->as_array(""))
        if (t.find("name")->as_string("") == name) found = &t;
    REQUIRE(found);
    return const_cast<pomt::json::Value&>(*found);
}

}  // namespace pomt_test
