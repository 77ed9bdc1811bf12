// `pomt classify` through the real binary: output format (text and JSON), softmax top-k, class
// names and --labels, pruning options, every bad image of the issue (a one-line error naming the
// file, the other images still classified, exit code 2), and the real ViT-Tiny on ImageNet images
// against timm when ../shared is present. The test writes its own small images and models.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "doctest/doctest.h"
#include "pomt/pomt.h"
#include "tests/image_bytes.h"
#include "tests/test_util.h"
#include "core/json.h"
#include "vit/model.h"
#include "core/npy.h"
#include "vit/weights_file.h"
#include "weights_tools/convert.h"

using namespace pomt;
using pomt_test::run_pomt;

namespace {

using Bytes = std::string;

// A small random .pomt; `names` are stored as its class entries (empty: none).
std::string make_model(const std::string& dir, const std::vector<std::string>& names = {}) {
    auto model = Model::random(pomt_test::tiny_config(2), 7);
    WeightsMeta meta = model->meta();
    meta.class_names = names;
    const std::string path = dir + "/tiny.pomt";
    write_weights_file(path, meta, [&](const TensorSpec& s) { return model->tensor_values(s); });
    return path;
}

// Binary PPM of a deterministic pattern.
Bytes make_ppm(int w, int h, int seed = 0) {
    Bytes s = "P6\n" + std::to_string(w) + " " + std::to_string(h) + "\n255\n";
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            s += char((x * 37 + y * 11 + seed * 50) & 0xFF);
            s += char((y * 23 + seed * 90 + 40) & 0xFF);
            s += char((x * y + seed * 13) & 0xFF);
        }
    return s;
}

// A w × h RGB PNG of a fixed pattern.
Bytes make_png(uint32_t w, uint32_t h) {
    Bytes rgb;
    for (uint32_t y = 0; y < h; ++y)
        for (uint32_t x = 0; x < w * 3; ++x) rgb += char((x * 7 + y * 3) & 0xFF);
    return pomt_test::make_png(w, h, 2, 8, rgb, w * 3);
}

std::string write_file(const std::string& dir, const std::string& name, const Bytes& bytes) {
    const std::string path = dir + "/" + name;
    pomt_test::write_bytes(path, bytes);
    return path;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

struct Row {
    int rank = 0, index = 0;
    double prob = 0;
    std::string name;
};

// `rank  probability  index  name` rows of the text output, in order.
std::vector<Row> parse_rows(const std::vector<std::string>& lines, size_t first, size_t count) {
    std::vector<Row> rows;
    for (size_t i = first; i < first + count && i < lines.size(); ++i) {
        Row r;
        char name[256] = {0};
        int n = std::sscanf(lines[i].c_str(), "%d %lf %d %255[^\n]", &r.rank, &r.prob, &r.index, name);
        REQUIRE_MESSAGE(n == 4, "not a result row: " << lines[i]);
        r.name = name;
        rows.push_back(r);
    }
    return rows;
}

}  // namespace

TEST_CASE("classify: text output is top-k rows of softmax probabilities and one timing line") {
    const std::string dir = pomt_test::temp_dir();
    const std::string model = make_model(dir);
    const std::string img = write_file(dir, "a.ppm", make_ppm(40, 30));
    auto r = run_pomt({"classify", "-m", model, img, "--top", "3", "--threads", "1"});
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.err.empty());
    std::vector<std::string> lines = lines_of(r.out);
    REQUIRE(lines.size() == 5);  // image, 3 rows, timing
    CHECK(lines[0] == img);
    std::vector<Row> rows = parse_rows(lines, 1, 3);
    CHECK(lines[4].find("load ") == 0);
    CHECK(lines[4].find("decode+preprocess ") != std::string::npos);
    CHECK(lines[4].find("forward ") != std::string::npos);

    // The same numbers as the library's softmax over the logits.
    Classifier c = Classifier::load(model);
    Result res = Workspace(c, 1).run(c.preprocess_file(img), InferenceOptions{5, Schedule()});
    const std::vector<float>& z = res.logits;
    REQUIRE(z.size() == 5);
    double mx = *std::max_element(z.begin(), z.end()), sum = 0;
    for (float v : z) sum += std::exp(double(v) - mx);
    for (int k = 0; k < 3; ++k) {
        CHECK(rows[size_t(k)].rank == k + 1);
        CHECK(rows[size_t(k)].index == res.top[size_t(k)].index);
        const double p = std::exp(double(z[size_t(rows[size_t(k)].index)]) - mx) / sum;
        CHECK(std::fabs(rows[size_t(k)].prob - p) < 6e-5);  // printed with 4 decimals
        CHECK(rows[size_t(k)].name == "class " + std::to_string(rows[size_t(k)].index));
        if (k > 0) CHECK(rows[size_t(k)].prob <= rows[size_t(k - 1)].prob);
    }
}

TEST_CASE("classify: --json is one document with image, top {index, prob, name} and timings") {
    const std::string dir = pomt_test::temp_dir();
    const std::string model = make_model(dir, {"tench, Tinca tinca", "crane", "crane", "maillot", "maillot, tank suit"});
    // A file name that needs escaping in JSON.
    const std::string a = write_file(dir, "we\"ird\\name.ppm", make_ppm(33, 47, 1));
    const std::string b = write_file(dir, "b.png", make_png(50, 40));
    auto r = run_pomt({"classify", "-m", model, a, b, "--json", "--top", "5", "--threads", "2"});
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    REQUIRE(r.exit_code == 0);
    REQUIRE(std::count(r.out.begin(), r.out.end(), '\n') == 1);
    json::Value doc = json::parse(r.out, "classify output");
    CHECK(doc.find("model")->as_string("model") == "vit_tiny_patch16_224");
    CHECK(doc.find("schedule")->as_string("schedule") == "none");
    const auto& images = doc.find("images")->as_array("images");
    REQUIRE(images.size() == 2);
    CHECK(images[0].find("image")->as_string("image") == a);
    CHECK(images[1].find("image")->as_string("image") == b);
    for (const json::Value& im : images) {
        const auto& top = im.find("top")->as_array("top");
        REQUIRE(top.size() == 5);
        double total = 0;
        std::vector<std::string> names;
        for (const json::Value& p : top) {
            total += p.find("prob")->as_number("prob");
            names.push_back(p.find("name")->as_string("name"));
            CHECK(p.find("index")->as_int("index") >= 0);
        }
        CHECK(std::fabs(total - 1.0) < 1e-5);  // all 5 classes: the probabilities sum to 1
        // First names, made unambiguous where two classes share one.
        std::sort(names.begin(), names.end());
        CHECK(names == std::vector<std::string>{"crane (class 1)", "crane (class 2)", "maillot", "maillot, tank suit",
                                                "tench"});
        const json::Value* t = im.find("timings");
        REQUIRE(t);
        for (const char* key : {"load_ms", "decode_preprocess_ms", "forward_ms"}) CHECK(t->find(key)->as_number(key) >= 0);
    }
}

TEST_CASE("classify: bad images get a one-line error naming the file; the others are classified; exit 2") {
    const std::string dir = pomt_test::temp_dir();
    const std::string model = make_model(dir);
    const std::string good1 = write_file(dir, "good1.ppm", make_ppm(40, 40));
    const std::string good2 = write_file(dir, "good2.jpg", pomt_test::make_jpeg_grey8());
    const Bytes png = make_png(16, 16), jpeg = pomt_test::make_jpeg_grey8();
    struct Bad {
        std::string path, needle;
    };
    const std::vector<Bad> bad = {
        {dir + "/missing.jpg", "No such file"},
        {pomt_test::temp_dir(), "directory"},
        {write_file(dir, "notes.jpg", "not a picture at all\n"), "not a supported image"},
        {write_file(dir, "cut.jpg", jpeg.substr(0, jpeg.size() - 3)), "truncated JPEG"},
        {write_file(dir, "cut.png", png.substr(0, png.size() / 2)), "truncated PNG"},
        {write_file(dir, "zero.png", make_png(0, 0)), "0x0"},
        // The header alone declares 3.6 gigapixels: refused before any pixel memory exists.
        {write_file(dir, "huge.ppm", "P6\n60000 60000\n255\n"), "60000x60000 pixels exceeds the limit"},
    };
    std::vector<std::string> args = {"classify", "-m", model, "--top", "2", good1};
    for (const Bad& b : bad) args.push_back(b.path);
    args.push_back(good2);

    SUBCASE("text") {
        auto r = run_pomt(args);
        INFO("stdout: " << r.out << "\nstderr: " << r.err);
        CHECK(r.exit_code == 2);
        std::vector<std::string> err = lines_of(r.err);
        REQUIRE(err.size() == bad.size());
        for (size_t i = 0; i < bad.size(); ++i) {
            CHECK(err[i].find("'" + bad[i].path + "'") != std::string::npos);
            CHECK(err[i].find(bad[i].needle) != std::string::npos);
        }
        std::vector<std::string> out = lines_of(r.out);
        REQUIRE(out.size() == 9);  // 2 × (image, 2 rows, timing) + the blank line between them
        CHECK(out[0] == good1);
        CHECK(out[5] == good2);
    }
    SUBCASE("json: failed images appear with their error") {
        args.push_back("--json");
        auto r = run_pomt(args);
        CHECK(r.exit_code == 2);
        CHECK(lines_of(r.err).size() == bad.size());
        json::Value doc = json::parse(r.out, "classify output");
        const auto& images = doc.find("images")->as_array("images");
        REQUIRE(images.size() == bad.size() + 2);
        CHECK(images.front().find("top"));
        CHECK(images.back().find("top"));
        for (size_t i = 0; i < bad.size(); ++i) {
            const json::Value* e = images[i + 1].find("error");
            REQUIRE(e);
            CHECK(e->as_string("error").find(bad[i].needle) != std::string::npos);
        }
    }
}

TEST_CASE("classify: --max-pixels sets the decoding limit") {
    const std::string dir = pomt_test::temp_dir();
    const std::string model = make_model(dir);
    const std::string img = write_file(dir, "ten.ppm", make_ppm(10, 10));
    pomt_test::expect_cli_error(run_pomt({"classify", "-m", model, img, "--max-pixels", "99"}),
                          "10x10 pixels exceeds the limit of 99 pixels");
    CHECK(run_pomt({"classify", "-m", model, img, "--max-pixels", "100"}).exit_code == 0);
    pomt_test::expect_cli_error(run_pomt({"classify", "-m", model, img, "--max-pixels", "0"}), "--max-pixels must be between");
}

TEST_CASE("classify: an image smaller than the crop is upsampled, as timm does") {
    // timm resizes the shorter side up to floor(size / crop_pct) whatever the input size, so a
    // tiny picture is a valid input, not an error.
    const std::string dir = pomt_test::temp_dir();
    const std::string model = make_model(dir);
    for (auto wh : {std::make_pair(1, 1), std::make_pair(3, 2), std::make_pair(1, 50)}) {
        const std::string img = write_file(dir, "small.ppm", make_ppm(wh.first, wh.second));
        auto r = run_pomt({"classify", "-m", model, img, "--json"});
        INFO(wh.first << "x" << wh.second << ": " << r.err);
        CHECK(r.exit_code == 0);
        Classifier c = Classifier::load(model);
        Tensor t = c.preprocess_file(img);
        CHECK(t.height == 32);
        CHECK(t.width == 32);
        CHECK(t.data.size() == size_t(3 * 32 * 32));
    }
}

TEST_CASE("classify: --labels overrides the names; its line count must match") {
    const std::string dir = pomt_test::temp_dir();
    const std::string model = make_model(dir);
    const std::string img = write_file(dir, "a.ppm", make_ppm(20, 20));
    const std::string labels = write_file(dir, "labels.txt", "zero\r\none\ntwo \"quoted\"\nthree\nfour\n");
    auto r = run_pomt({"classify", "-m", model, img, "--labels", labels, "--top", "5", "--json"});
    REQUIRE(r.exit_code == 0);
    json::Value doc = json::parse(r.out, "classify output");
    const std::vector<std::string> expect = {"zero", "one", "two \"quoted\"", "three", "four"};
    for (const json::Value& p : doc.find("images")->as_array("")[0].find("top")->as_array("")) {
        const int64_t i = p.find("index")->as_int("index");
        CHECK(p.find("name")->as_string("name") == expect[size_t(i)]);
    }
    pomt_test::expect_cli_error(run_pomt({"classify", "-m", model, img, "--labels", write_file(dir, "l4.txt", "a\nb\nc\nd\n")}),
                          "has 4 names, the model has 5 classes");
    pomt_test::expect_cli_error(run_pomt({"classify", "-m", model, img, "--labels", write_file(dir, "le.txt", "a\n\nc\nd\ne\n")}),
                          "line 2 is empty");
    pomt_test::expect_cli_error(run_pomt({"classify", "-m", model, img, "--labels", dir + "/none.txt"}), "No such file");
}

TEST_CASE("classify: --prune and --schedule run the pruned model, validated before any image") {
    const std::string dir = pomt_test::temp_dir();
    const std::string model = make_model(dir);
    const std::string img = write_file(dir, "a.ppm", make_ppm(40, 36, 2));
    auto r = run_pomt({"classify", "-m", model, img, "--prune", "pomt:R=2,layer=0", "--json", "--threads", "1"});
    INFO("stderr: " << r.err);
    REQUIRE(r.exit_code == 0);
    json::Value doc = json::parse(r.out, "classify output");
    CHECK(doc.find("schedule")->as_string("schedule") == "pomt R=2 at block 0");
    const json::Value& im = doc.find("images")->as_array("")[0];
    CHECK(im.find("tokens_after_last_block")->as_int("tokens") == 3);  // cls + 4 patches - 2

    // The library with the same schedule gives the same top-1 and probability.
    Classifier c = Classifier::load(model);
    InferenceOptions o;
    o.schedule = Schedule::parse("pomt:R=2,layer=0");
    Result res = Workspace(c, 1).run(c.preprocess_file(img), o);
    REQUIRE(res.tokens_after_block == std::vector<int>{3, 3});
    const json::Value& best = im.find("top")->as_array("")[0];
    CHECK(best.find("index")->as_int("index") == res.top[0].index);
    CHECK(std::fabs(best.find("prob")->as_number("prob") - res.top[0].prob) < 1e-6);

    // Text mode names the schedule.
    auto t = run_pomt({"classify", "-m", model, img, "--prune", "topk:r=1"});
    REQUIRE(t.exit_code == 0);
    CHECK(t.out.rfind("pruning: topk r=1", 0) == 0);

    // A schedule file (docs/SCHEDULES.md) says the same as the spec.
    const std::string sched = write_file(dir, "s.json", "{\"prune\": \"pomt:R=2,layer=0\"}");
    auto f = run_pomt({"classify", "-m", model, img, "--schedule", sched, "--json", "--threads", "1"});
    INFO("stderr: " << f.err);
    REQUIRE(f.exit_code == 0);
    CHECK(json::parse(f.out, "classify output").find("schedule")->as_string("") == "pomt R=2 at block 0");

    pomt_test::expect_cli_error(run_pomt({"classify", "-m", model, img, "--prune", "bogus:x=1"}), "bogus");
    pomt_test::expect_cli_error(run_pomt({"classify", "-m", model, img, "--prune", ""}), "--prune needs a spec");
    pomt_test::expect_cli_error(run_pomt({"classify", "-m", model, img, "--prune", "pomt:R=2,layer=7"}), "out of range");
    pomt_test::expect_cli_error(run_pomt({"classify", "-m", model, img, "--schedule", dir + "/none.json"}), "none.json");
}

TEST_CASE("classify: bad command lines are one-line errors") {
    const std::string dir = pomt_test::temp_dir();
    const std::string model = make_model(dir);
    const std::string img = write_file(dir, "a.ppm", make_ppm(8, 8));
    pomt_test::expect_cli_error(run_pomt({"classify", "-m", model}), "give at least one image");
    pomt_test::expect_cli_error(run_pomt({"classify", "-m", model, img, "--top", "0"}), "--top must be between");
    pomt_test::expect_cli_error(run_pomt({"classify", "-m", model, img, "--bogus"}), "unknown option '--bogus'");
    pomt_test::expect_cli_error(run_pomt({"classify", img}), "give exactly one of -m model.pomt or --arch NAME");
    pomt_test::expect_cli_error(run_pomt({"classify", "-m", dir + "/no.pomt", img}), "No such file");
    // --top larger than the class count shows every class.
    auto r = run_pomt({"classify", "-m", model, img, "--top", "50"});
    CHECK(r.exit_code == 0);
    CHECK(lines_of(r.out).size() == 7);
    // --arch: random weights, 1000 ImageNet names.
    auto a = run_pomt({"classify", "--arch", "vit_tiny_patch16_224", img, "--top", "1", "--threads", "1"});
    CHECK(a.exit_code == 0);
}

TEST_CASE("classify: the real ViT-Tiny gives timm's top-1 on its 8 reference ImageNet images") {
    if (pomt_test::skip_heavy_test_here()) return;
    POMT_REQUIRE_SHARED("models/vit_tiny_patch16_224.augreg_in21k_ft_in1k/reference/images.txt", list);
    POMT_REQUIRE_SHARED("data/imagenet-val-1300/images", images_dir);
    const std::string folder = pomt_test::shared_dir() + "/models/vit_tiny_patch16_224.augreg_in21k_ft_in1k";
    ConvertOptions o;
    o.input = folder;
    o.output = pomt_test::temp_dir() + "/vit_tiny.pomt";
    convert_timm_weights(o);

    // images.txt: "images/NAME.JPEG label timm_top1", in the order of reference/logits.npy.
    std::vector<std::string> paths;
    std::vector<int> timm_top1;
    for (const std::string& line : lines_of(pomt_test::read_bytes(list))) {
        std::istringstream in(line);
        std::string rel;
        int label = -1, top1 = -1;
        if (!(in >> rel >> label >> top1)) continue;
        paths.push_back(pomt_test::shared_dir() + "/data/imagenet-val-1300/" + rel);
        timm_top1.push_back(top1);
    }
    REQUIRE(paths.size() == 8);
    NpyArray ref = read_npy(folder + "/reference/logits.npy");
    REQUIRE(ref.data.size() == 8 * 1000);

    std::vector<std::string> args = {"classify", "-m", o.output, "--json", "--top", "5"};
    args.insert(args.end(), paths.begin(), paths.end());
    auto r = run_pomt(args);
    INFO("stderr: " << r.err);
    REQUIRE(r.exit_code == 0);
    json::Value doc = json::parse(r.out, "classify output");
    const auto& images = doc.find("images")->as_array("images");
    REQUIRE(images.size() == 8);
    double worst = 0;
    for (size_t i = 0; i < 8; ++i) {
        const auto& top = images[i].find("top")->as_array("top");
        const int got = int(top[0].find("index")->as_int("index"));
        INFO(paths[i]);
        CHECK(got == timm_top1[i]);
        // timm's probabilities: softmax of its float64 logits (from PIL-decoded pixels).
        const float* z = ref.data.data() + i * 1000;
        double mx = *std::max_element(z, z + 1000), sum = 0;
        for (int k = 0; k < 1000; ++k) sum += std::exp(double(z[k]) - mx);
        for (const json::Value& p : top) {
            const double timm_p = std::exp(double(z[p.find("index")->as_int("")]) - mx) / sum;
            worst = std::max(worst, std::fabs(p.find("prob")->as_number("") - timm_p));
        }
    }
    // The JPEG files decode to PIL's pixels in every build (image/jpeg_exact.h, or libjpeg in
    // JPEG=libjpeg builds), so the whole route is held to the 1e-3.
    MESSAGE("real ViT-Tiny from JPEG files: max |prob - timm prob| over the top-5 = " << worst);
    CHECK(worst <= 1e-3);

    // timm's own network input (PIL decoding + timm's transform) through the library: top-5
    // probabilities within 1e-3 of timm's.
    Classifier c = Classifier::load(o.output);
    NpyArray x = read_npy(folder + "/reference/input.npy");
    REQUIRE(x.data.size() == size_t(8) * 3 * 224 * 224);
    double worst_pil = 0;
    for (size_t i = 0; i < 8; ++i) {
        Tensor t;
        t.channels = 3, t.height = 224, t.width = 224;
        t.data.assign(x.data.begin() + long(i) * 3 * 224 * 224, x.data.begin() + long(i + 1) * 3 * 224 * 224);
        Result res = c.run(t);
        CHECK(res.top[0].index == timm_top1[i]);
        const float* z = ref.data.data() + i * 1000;
        double mx = *std::max_element(z, z + 1000), sum = 0;
        for (int k = 0; k < 1000; ++k) sum += std::exp(double(z[k]) - mx);
        for (const Prediction& p : res.top)
            worst_pil = std::max(worst_pil, std::fabs(p.prob - std::exp(double(z[p.index]) - mx) / sum));
    }
    MESSAGE("real ViT-Tiny from timm's input tensors: max |prob - timm prob| over the top-5 = " << worst_pil);
    CHECK(worst_pil <= 1e-3);
}
