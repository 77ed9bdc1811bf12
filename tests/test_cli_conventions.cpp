// The conventions a user of timm / ONNX Runtime / ncnn expects of the command line: `pomt COMMAND
// --help` for every command, generated from the same table the parser reads (every option it lists
// is accepted), one-line errors for unknown options, `pomt --version`, folders made when needed,
// warnings for prunes that do nothing, the precision said, and a line for every file written.
// Driven through the real pomt binary with tiny models.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>

#include "doctest/doctest.h"
#include "core/npy.h"
#include "pomt/version.h"
#include "quantize/quantize_model.h"
#include "tests/test_util.h"
#include "vit/model.h"

using namespace pomt;
using pomt_test::run_pomt;

namespace {

const char* const kCommands[] = {"convert", "classify", "info", "quantize", "preprocess",
                                 "run",     "profile",  "eval", "schedule", "bench"};

struct ListedOption {
    std::vector<std::string> names;  // the option and its alias
    bool takes_value = false;
};

// The options `pomt COMMAND --help` lists: its lines "  -o, --output FILE   description" after
// "options:" (a long left column puts the description on the next line).
std::vector<ListedOption> listed_options(const std::string& help) {
    std::vector<ListedOption> out;
    std::istringstream in(help.substr(help.find("\noptions:\n")));
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("  -", 0) != 0) continue;
        std::string left =
            line.substr(2, line.find("  ", 2) == std::string::npos ? std::string::npos : line.find("  ", 2) - 2);
        ListedOption o;
        std::istringstream words(left);
        std::string w;
        while (words >> w) {
            if (w.back() == ',') w.pop_back();
            if (w[0] == '-')
                o.names.push_back(w);
            else
                o.takes_value = true;
        }
        out.push_back(o);
    }
    return out;
}

std::string text_of(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

}  // namespace

TEST_CASE("cli: COMMAND --help and -h print that command's usage and every option, exit 0") {
    for (const char* cmd : kCommands) {
        CAPTURE(cmd);
        for (const char* flag : {"--help", "-h"}) {
            auto r = run_pomt({cmd, flag});
            CHECK(r.exit_code == 0);
            CHECK(r.err.empty());
            CHECK(r.out.rfind(std::string("usage: pomt ") + cmd + " ", 0) == 0);
        }
        // Help wins wherever it stands, even after an unknown option or a value option's value.
        auto r = run_pomt({cmd, "--no-such-option", "--help"});
        CHECK(r.exit_code == 0);
        CHECK(r.out.rfind(std::string("usage: pomt ") + cmd + " ", 0) == 0);
        CHECK(run_pomt({"help", cmd}).out == run_pomt({cmd, "--help"}).out);
        const std::vector<ListedOption> options = listed_options(run_pomt({cmd, "--help"}).out);
        CHECK(options.size() >= 2);  // -h / --help and at least one of its own
    }
    // The shared options are listed where they apply.
    const std::string classify = run_pomt({"classify", "--help"}).out;
    for (const char* o :
         {"-m model.pomt", "--arch NAME", "--seed S", "--max-memory SIZE", "--prune SPEC", "--show-tokens PATH"})
        CHECK_MESSAGE(classify.find(o) != std::string::npos, o);
    const std::string schedule = run_pomt({"schedule", "-h"}).out;
    for (const char* o :
         {"--search paper|layer|pareto", "--max-loss", "--max-ms", "--max-ratio", "--rule", "--confirm", "--precision", "--also"})
        CHECK_MESSAGE(schedule.find(o) != std::string::npos, o);
}

TEST_CASE("cli: every option a command's help lists is one its parser accepts") {
    // The option, then a sentinel the parser must refuse: the error naming the sentinel shows that
    // everything before it was accepted, and nothing runs.
    for (const char* cmd : kCommands) {
        const std::vector<ListedOption> options = listed_options(run_pomt({cmd, "--help"}).out);
        for (const ListedOption& o : options)
            for (const std::string& name : o.names) {
                if (name == "-h" || name == "--help") continue;
                CAPTURE(cmd);
                CAPTURE(name);
                std::vector<std::string> args = {cmd, name};
                if (o.takes_value) args.push_back("1");
                args.push_back("--zz-sentinel");
                auto r = run_pomt(args);
                pomt_test::expect_cli_error(r, "unknown option '--zz-sentinel'");
            }
    }
}

TEST_CASE("cli: an unknown option is one line naming it and pointing at the command's help, exit 2") {
    for (const char* cmd : kCommands) {
        CAPTURE(cmd);
        auto r = run_pomt({cmd, "--no-such-option"});
        pomt_test::expect_cli_error(r, "unknown option '--no-such-option'");
        CHECK(r.err.find(std::string("pomt ") + cmd + " --help") != std::string::npos);
        CHECK(r.out.empty());
    }
    // A near miss is named; a flag given a value and a value option without one are refused.
    pomt_test::expect_cli_error(run_pomt({"run", "--thread", "2"}), "did you mean --threads?");
    pomt_test::expect_cli_error(run_pomt({"eval", "--json=1"}), "option --json takes no value");
    pomt_test::expect_cli_error(run_pomt({"eval", "--threads"}), "option --threads needs a value: --threads N");
    pomt_test::expect_cli_error(run_pomt({"quantize", "m.pomt", "-o", "a", "--output", "b"}),
                          "option -o/--output given twice");
    pomt_test::expect_cli_error(run_pomt({"clasify"}), "unknown command 'clasify': did you mean classify?");
}

TEST_CASE("cli: pomt --help lists every command's synopsis, generated from the same tables") {
    auto r = run_pomt({"--help"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("pomt COMMAND --help") != std::string::npos);
    for (const char* cmd : kCommands) {
        CAPTURE(cmd);
        CHECK(r.out.find(std::string("\n  ") + cmd + " ") != std::string::npos);
        // Every option of the command appears in its synopsis there.
        for (const ListedOption& o : listed_options(run_pomt({cmd, "--help"}).out))
            if (o.names[0] != "-h") CHECK_MESSAGE(r.out.find(o.names[0]) != std::string::npos, o.names[0]);
    }
    for (const char* o : {"--search paper|layer|pareto", "[--max-loss POINTS]", "[--max-ms MS]", "[--max-ratio R]"})
        CHECK_MESSAGE(r.out.find(o) != std::string::npos, o);
    // No command at all: the same text on stderr, exit 2.
    auto none = run_pomt({});
    CHECK(none.exit_code == 2);
    CHECK(none.err == r.out);
}

TEST_CASE("cli: --version prints the version of include/pomt/version.h, the same as pyproject.toml's") {
    for (const char* arg : {"--version", "version"}) {
        auto r = run_pomt({arg});
        CHECK(r.exit_code == 0);
        CHECK(r.out.rfind(std::string("pomt ") + kVersion + "\n", 0) == 0);
        CHECK(r.out.find("int8 kernels: ") != std::string::npos);
        CHECK(r.out.find("bf16 kernels: ") != std::string::npos);
    }
    // pyproject.toml (read from the source tree the tests run in): [project] version = "X".
    const std::string toml = text_of("pyproject.toml");
    REQUIRE_MESSAGE(!toml.empty(), "pyproject.toml not found: run the tests from the source tree");
    std::smatch m;
    const std::string project = toml.substr(toml.find("[project]"));
    REQUIRE(std::regex_search(project, m, std::regex("\nversion = \"([^\"]+)\"")));
    CHECK(m[1].str() == kVersion);
    // CMakeLists.txt reads it from the header rather than repeating it.
    const std::string cmake = text_of("CMakeLists.txt");
    CHECK(cmake.find("include/pomt/version.h") != std::string::npos);
    CHECK(cmake.find("project(pomt VERSION ${POMT_VERSION}") != std::string::npos);
}

TEST_CASE("cli: an unknown --arch suggests the nearest names and how to list them all") {
    auto r = run_pomt({"bench", "--arch", "vit_tiny"});
    pomt_test::expect_cli_error(r, "unknown architecture 'vit_tiny': did you mean vit_tiny_patch16_224");
    CHECK(r.err.find("pomt info --architectures") != std::string::npos);
    auto list = run_pomt({"info", "--architectures"});
    CHECK(list.exit_code == 0);
    const std::vector<std::string> known = known_architectures();
    std::string expected;
    for (const std::string& name : known) expected += name + "\n";
    CHECK(list.out == expected);
    auto as_json = run_pomt({"info", "--architectures", "--json"});
    CHECK(as_json.exit_code == 0);
    CHECK(json::parse(as_json.out, "info --json").as_array("").size() == known.size());
    pomt_test::expect_cli_error(run_pomt({"info", "--architectures", "m.pomt"}), "--architectures takes no model file");
}

TEST_CASE("cli: classify --show-tokens makes a missing folder for several images; a bad one is one line, exit 2") {
    const pomt_test::ModelAndImages f = pomt_test::model_and_images(2, 4, 2);
    const std::string a = f.dir + "/img0.bmp", b = f.dir + "/img1.bmp";
    const std::string dir = pomt_test::temp_dir() + "/made/deeper";
    auto r = run_pomt({"classify", "-m", f.model, a, b, "--prune", "tome:r=2", "--show-tokens", dir});
    CHECK(r.exit_code == 0);
    CHECK(pomt_test::file_exists(dir + "/img0.tokens.png"));
    CHECK(pomt_test::file_exists(dir + "/img1.tokens.png"));
    // One image and a path ending in '/': a folder too.
    const std::string one = pomt_test::temp_dir() + "/one/";
    r = run_pomt({"classify", "-m", f.model, a, "--show-tokens", one});
    CHECK(r.exit_code == 0);
    CHECK(pomt_test::file_exists(one + "img0.tokens.png"));
    // Under a regular file: refused before anything runs, nothing made.
    const std::string file = f.dir + "/plain.txt";
    pomt_test::write_bytes(file, "x");
    r = run_pomt({"classify", "-m", f.model, a, b, "--show-tokens", file + "/sub"});
    pomt_test::expect_cli_error(r, "'" + file + "' is a file, not a folder");
    CHECK(r.out.empty());
    // A model that fails to load leaves no empty folder behind.
    const std::string never = pomt_test::temp_dir() + "/never";
    r = run_pomt({"classify", "-m", f.dir + "/missing.pomt", a, b, "--show-tokens", never});
    CHECK(r.exit_code == 2);
    CHECK_FALSE(pomt_test::file_exists(never));
}

TEST_CASE("cli: a prune that changes nothing or leaves almost no token gets one warning line; exit code unchanged") {
    // small_config: 17 tokens (16 patches) in 2 blocks; the last block computes the class row only.
    const pomt_test::ModelAndImages f = pomt_test::model_and_images(2, 5, 2);
    const std::string a = f.dir + "/img0.bmp";
    const std::string x = f.dir + "/x.npy", y = f.dir + "/y.npy";
    const std::vector<float> input = pomt_test::random_floats(3 * 64 * 64, 3);
    write_npy(x, input.data(), {1, 3, 64, 64});
    auto warned = [](const pomt_test::CommandResult& r, const std::string& cmd, const std::string& needle) {
        INFO("stderr: " << r.err);
        CHECK(r.exit_code == 0);
        CHECK(r.err.find("pomt " + cmd + ": warning: ") != std::string::npos);
        CHECK(r.err.find(needle) != std::string::npos);
        CHECK(pomt_test::lines_besides_disturbance(r.err) == 1);
    };
    const std::string noop = "pomt:R=3,layer=1", few = "topk:r=15,layer=0";
    warned(run_pomt({"run", "-m", f.model, "--input", x, "--output", y, "--prune", noop}), "run", "changes nothing");
    warned(run_pomt({"run", "-m", f.model, "--input", x, "--output", y, "--prune", few}), "run",
           "leaves 1 of the 16 patch tokens");
    warned(run_pomt({"classify", "-m", f.model, a, "--prune", noop}), "classify", "block 1 is the last");
    warned(run_pomt({"eval", "-m", f.model, "--data", f.list, "--latency-runs", "0", "--quiet", "--prune", few}),
           "eval", "leaves 1 of the 16 patch tokens");
    warned(run_pomt({"bench", "-m", f.model, "--runs", "1", "--warmup", "0", "--compare", noop}), "bench",
           "changes nothing");
    warned(run_pomt({"profile", "-m", f.model, "--fast", "--quiet", "--csv", f.dir + "/p.csv", "--prune", noop}),
           "profile", "changes nothing");
    // A schedule file says the same.
    const std::string sched = f.dir + "/s.json";
    pomt_test::write_bytes(sched, R"({"layers":[null,{"method":"pomt","R":3}]})");
    warned(run_pomt({"run", "-m", f.model, "--input", x, "--output", y, "--schedule", sched}), "run",
           "changes nothing");
    // An ordinary prune says nothing.
    auto r = run_pomt({"run", "-m", f.model, "--input", x, "--output", y, "--prune", "pomt:R=3,layer=0"});
    CHECK(r.exit_code == 0);
    CHECK(r.err.empty());
}

TEST_CASE("cli: classify and eval say when the model is int8 (text and JSON)") {
    const pomt_test::ModelAndImages f = pomt_test::model_and_images(1, 6, 2);
    const std::string q = f.dir + "/q.pomt";
    save_model(*quantize_model(*Model::load(f.model), QuantizeOptions()), q);
    const std::string a = f.dir + "/img0.bmp";
    auto text = run_pomt({"classify", "-m", q, a});
    CHECK(text.exit_code == 0);
    CHECK(text.out.find("forward ") != std::string::npos);
    CHECK(text.out.find("  int8 (") != std::string::npos);
    CHECK(text.out.find(" kernels)") != std::string::npos);
    auto json = run_pomt({"classify", "-m", q, a, "--json"});
    CHECK(json.exit_code == 0);
    CHECK(json::parse(json.out, "classify --json").find("precision")->as_string("") == "int8");
    CHECK(json::parse(json.out, "classify --json").find("int8_kernels") != nullptr);
    auto fp32 = run_pomt({"classify", "-m", f.model, a, "--json"});
    CHECK(json::parse(fp32.out, "classify --json").find("precision")->as_string("") == "fp32");
    CHECK(json::parse(fp32.out, "classify --json").find("int8_kernels") == nullptr);

    auto eval = run_pomt({"eval", "-m", q, "--data", f.list, "--latency-runs", "0", "--quiet"});
    CHECK(eval.exit_code == 0);
    CHECK(eval.out.find(", int8 (") != std::string::npos);
    auto eval_json = run_pomt({"eval", "-m", q, "--data", f.list, "--latency-runs", "0", "--quiet", "--json"});
    CHECK(eval_json.exit_code == 0);
    CHECK(json::parse(eval_json.out, "eval --json").find("precision")->as_string("") == "int8");
}

TEST_CASE("cli: preprocess and run say what they wrote, as convert does (--quiet: nothing)") {
    const pomt_test::ModelAndImages f = pomt_test::model_and_images(1, 7, 2);
    const std::string x = f.dir + "/x.npy", y = f.dir + "/y.npy";
    auto p = run_pomt({"preprocess", "-m", f.model, f.dir + "/img0.bmp", f.dir + "/img1.bmp", "-o", x});
    CHECK(p.exit_code == 0);
    CHECK(p.out == "wrote " + x + ": (2, 3, 64, 64) float32\n");
    auto r = run_pomt({"run", "-m", f.model, "--input", x, "--output", y});
    CHECK(r.exit_code == 0);
    CHECK(r.out == "wrote " + y + ": (2, 4) float32 logits\n");
    CHECK(run_pomt({"run", "-m", f.model, "--input", x, "--output", y, "--quiet"}).out.empty());
    CHECK(run_pomt({"preprocess", "-m", f.model, f.dir + "/img0.bmp", "-o", x, "--quiet"}).out.empty());
}

TEST_CASE("cli: bench --compare's table is aligned (every row as wide as its header, ASCII only)") {
    const pomt_test::ModelAndImages f = pomt_test::model_and_images(1, 8, 0);
    auto r = run_pomt(
        {"bench", "-m", f.model, "--runs", "2", "--warmup", "0", "--compare", "pomt:R=3,layer=0|tome:r=2|topk:r=1"});
    REQUIRE(r.exit_code == 0);
    std::istringstream in(r.out);
    std::string line;
    std::getline(in, line);  // the title
    std::vector<std::string> rows;
    while (std::getline(in, line)) rows.push_back(line);
    REQUIRE(rows.size() == 5);  // header, the unpruned model, three schedules
    for (const std::string& row : rows) {
        CAPTURE(row);
        CHECK(row.size() == rows[0].size());
        CHECK(std::all_of(row.begin(), row.end(), [](char c) { return c > 0 && c < 127; }));
    }
}

TEST_CASE("cli: errors quoting user text stay one line (file names with a newline)") {
    CHECK(std::string(Error("a\nb\r\tc\x01").what()) == "a\\nb\\r\\tc\\x01");
    const std::string dir = pomt_test::temp_dir();
    // A missing model, and an existing file that is not an image, both named with a newline.
    auto r = pomt_test::run_pomt({"info", dir + "/two\nlines.pomt"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("two\\nlines.pomt") != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    const std::string image = dir + "/cat\nerror: fake.jpg";
    pomt_test::write_bytes(image, "not an image");
    r = pomt_test::run_pomt({"classify", "--arch", "vit_tiny_patch16_224", image});
    INFO("stderr: " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("cat\\nerror: fake.jpg") != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    // A flag value and an unknown command.
    r = pomt_test::run_pomt({"bench", "--arch", "vit_tiny_patch16_224", "--runs", "1\n2"});
    CHECK(r.exit_code == 2);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    r = pomt_test::run_pomt({"no\ncommand"});
    CHECK(r.exit_code == 2);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
}

TEST_CASE("bad command lines: exit 2 with a one-line message") {
    pomt_test::expect_cli_error(run_pomt({"frobnicate"}), "unknown command");
    pomt_test::expect_cli_error(run_pomt({"run", "--bogus"}), "unknown option '--bogus'");
    pomt_test::expect_cli_error(run_pomt({"bench", "--arch", "vit_tiny_patch16_224", "--threads", "0"}), "--threads must be between");
    pomt_test::expect_cli_error(run_pomt({"bench", "--arch", "vit_tiny_patch16_224", "--runs", "x"}), "--runs must be an integer");
    pomt_test::expect_cli_error(run_pomt({"bench", "--arch", "vit_gigantic_patch16_224"}), "unknown architecture");
    pomt_test::expect_cli_error(run_pomt({"bench", "--json"}), "need a model");
    pomt_test::expect_cli_error(run_pomt({"bench", "-m", "a.pomt", "--arch", "vit_tiny_patch16_224"}), "give exactly one of -m model.pomt or --arch NAME");
    pomt_test::expect_cli_error(run_pomt({"bench", "--attention", "--arch", "vit_tiny_patch16_224"}), "--attention takes only --runs N");
    pomt_test::expect_cli_error(run_pomt({"convert", "/nonexistent/x.safetensors", "--arch", "vit_tiny_patch16_224", "-o", "/tmp/x.pomt"}),
                         "No such file");
}
