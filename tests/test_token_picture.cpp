// `--show-tokens`: the pruning steps' moved_to records follow the rows they really move; recording
// leaves the logits bit-identical; the picture's pixels follow the documented drawing rules (dimmed,
// hatched, ToMe group mean) on a synthetic image; steps compose; the PNG decodes back to the same
// pixels; the CLI writes one file or a folder of files and refuses bad paths with nothing written.
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "api/internal.h"
#include "doctest/doctest.h"
#include "image/bitmap_font.h"
#include "image/image.h"
#include "image/png_writer.h"
#include "image/preprocess.h"
#include "image/token_picture.h"
#include "pomt/pomt.h"
#include "prune/prune_pomt.h"
#include "prune/prune_random.h"
#include "prune/prune_tome.h"
#include "prune/prune_topk.h"
#include "prune/pruning.h"
#include "prune/token_provenance.h"
#include "tests/test_util.h"
#include "vit/forward.h"
#include "vit/model.h"

using namespace pomt;

namespace {

// A synthetic picture: smooth gradients with a few sharp squares, so neighbouring patches differ.
Image synthetic_image(int w, int h) {
    Image img;
    img.width = w, img.height = h;
    img.rgb.resize(size_t(w) * h * 3);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            uint8_t* p = img.row(y) + size_t(x) * 3;
            const bool square = (x / 13 + y / 11) % 3 == 0;
            p[0] = uint8_t((x * 255) / std::max(1, w - 1));
            p[1] = uint8_t(square ? 240 : (y * 200) / std::max(1, h - 1));
            p[2] = uint8_t((x * 7 + y * 3) % 256);
        }
    return img;
}

// A token matrix whose row t starts with the value t (the rest random), for following rows.
struct FakeBlock {
    std::vector<float> x, qkv, attn, sizes;
    BlockInternals b;
    FakeBlock(int batch, int tokens, int dim, int heads, int prefix, unsigned seed) {
        x = pomt_test::random_floats(size_t(batch) * tokens * dim, seed);
        for (int i = 0; i < batch; ++i)
            for (int t = 0; t < tokens; ++t) x[(size_t(i) * tokens + t) * dim] = float(t);
        qkv = pomt_test::random_floats(size_t(batch) * tokens * 3 * dim, seed + 1);
        attn = pomt_test::random_floats(size_t(batch) * heads * tokens * tokens, seed + 2, 0.0f, 1.0f);
        sizes.assign(size_t(batch) * tokens, 1.0f);
        b.layer = 0, b.batch = batch, b.tokens = tokens, b.dim = dim, b.heads = heads, b.prefix_tokens = prefix;
        b.x = x.data(), b.qkv = qkv.data(), b.attn = attn.data(), b.token_sizes = sizes.data();
    }
};

// After a step of `batch` images that turned `tokens` rows into `out`: each new row's first value
// is the mean of the first values (the old row indices) of the old rows moved_to sends there.
void check_moves_follow_rows(const FakeBlock& f, const std::vector<int>& moved_to, int tokens, int out, int dim) {
    for (int i = 0; i < f.b.batch; ++i) {
        std::map<int, std::vector<int>> into;
        for (int t = 0; t < tokens; ++t) {
            const int r = moved_to[size_t(i) * tokens + t];
            REQUIRE(r >= -1);
            REQUIRE(r < out);
            if (r >= 0) into[r].push_back(t);
        }
        CHECK(int(into.size()) == out);  // every new row comes from some old row
        for (const auto& kv : into) {
            double mean = 0;
            for (int t : kv.second) mean += t;
            mean /= double(kv.second.size());
            CHECK(f.x[(size_t(i) * out + kv.first) * dim] == doctest::Approx(mean).epsilon(1e-6));
        }
    }
}

// The provenance a real forward pass of `c`'s model records for `input` under `spec`.
TokenProvenance record_run(const std::shared_ptr<const Model>& model, const Tensor& input, const std::string& spec) {
    const ModelConfig& c = model->config();
    TokenProvenance record;
    record.start(1, c.num_tokens(), c.num_prefix_tokens());
    auto pruner = make_pruner(resolve_schedule(parse_prune_spec(spec), c), c, &record);
    Session session(model, 1);
    RunOptions ro;
    ro.pruner = pruner.get();
    session.run(input.data.data(), 1, ro);
    return record;
}

const uint8_t* pixel(const TokenPicture& p, int x, int y) { return p.rgb.data() + (size_t(y) * p.width + x) * 3; }

ModelConfig picture_config(int depth) { return pomt_test::small_config(depth, 4); }  // 64 px, 16 patches

}  // namespace

TEST_CASE("token provenance: each step's moved_to follows the rows it really moves") {
    const int batch = 2, tokens = 17, dim = 8, heads = 2, prefix = 1;
    std::vector<int> moved_to(size_t(batch) * tokens, -7);
    SUBCASE("pomt") {
        FakeBlock f(batch, tokens, dim, heads, prefix, 3);
        PomtScratch st;
        const int out = pomt_prune(f.b, 4, st, moved_to.data());
        REQUIRE(out == pomt_tokens_after(tokens, prefix, 4));
        check_moves_follow_rows(f, moved_to, tokens, out, dim);
        CHECK(std::count(moved_to.begin(), moved_to.begin() + tokens, out - 1) == tokens - prefix - (tokens - 4 - 2));
    }
    SUBCASE("topk") {
        FakeBlock f(batch, tokens, dim, heads, prefix, 5);
        TopkScratch st;
        const int out = topk_prune(f.b, 5, st, moved_to.data());
        REQUIRE(out == tokens - 5);
        check_moves_follow_rows(f, moved_to, tokens, out, dim);
        CHECK(std::count(moved_to.begin(), moved_to.begin() + tokens, -1) == 5);
    }
    SUBCASE("tome, with and without a prefix token") {
        for (int p : {1, 0}) {
            FakeBlock f(batch, tokens, dim, heads, p, 7);
            TomeScratch st;
            const int out = tome_merge(f.b, 6, st, moved_to.data());
            REQUIRE(out == tokens - 6);
            check_moves_follow_rows(f, moved_to, tokens, out, dim);
            CHECK(std::count(moved_to.begin(), moved_to.begin() + tokens, -1) == 0);
        }
    }
    SUBCASE("random") {
        FakeBlock f(batch, tokens, dim, heads, prefix, 9);
        const int out = random_prune(f.x.data(), batch, tokens, dim, prefix, 10, 42, moved_to.data());
        REQUIRE(out == 10);
        check_moves_follow_rows(f, moved_to, tokens, out, dim);
        CHECK(moved_to[0] == 0);  // the class token is kept
    }
}

TEST_CASE("token provenance: recording leaves the logits bit-identical") {
    auto model = Model::random(picture_config(3), 21);
    Classifier c = classifier_from_model(model);
    const Image img = synthetic_image(80, 70);
    const Tensor input = c.preprocess_rgb(img.rgb.data(), img.width, img.height);
    for (const char* spec : {"pomt:R=4,layer=1", "topk:r=2", "tome:r=3", "random:keep=12,seed=3;tome:r=2,layer=1"}) {
        CAPTURE(spec);
        InferenceOptions plain, recorded;
        plain.schedule = recorded.schedule = Schedule::parse(spec);
        recorded.show_tokens = true;
        const Result a = c.run(input, plain), b = c.run(input, recorded);
        CHECK(a.logits == b.logits);
        CHECK(a.tokens_after_block == b.tokens_after_block);
        CHECK(a.token_picture.rgb.empty());
        CHECK(b.token_picture.tokens_after == b.tokens_after_block[1]);  // the last block's step never runs
    }
}

TEST_CASE("token picture: dropped patches dimmed, POMT-merged hatched, ToMe groups their mean colour") {
    auto model = Model::random(picture_config(2), 5);
    const ModelConfig& cfg = model->config();
    Classifier c = classifier_from_model(model);
    const Image img = synthetic_image(90, 75);
    const Tensor input = c.preprocess_rgb(img.rgb.data(), img.width, img.height);
    const Image crop = eval_crop_rgb(img, model->preprocess());  // what de-normalising must give back
    const int ps = cfg.patch_size, grid = cfg.grid(), W = cfg.img_size, prefix = cfg.num_prefix_tokens();
    REQUIRE(denormalize_input(input.data.data(), W, W, model->preprocess()).rgb == crop.rgb);
    auto crop_px = [&](int x, int y) { return crop.row(y) + size_t(x) * 3; };

    SUBCASE("no pruning: the picture is the crop") {
        const TokenPicture p = c.show_tokens(input, Schedule());
        REQUIRE(p.width == W);
        REQUIRE(p.input_height == W);
        CHECK(p.height > W);  // the legend strip
        CHECK(std::equal(crop.rgb.begin(), crop.rgb.end(), p.rgb.begin()));
        CHECK(p.kept == 16);
        CHECK(p.legend.find("prefix: class kept") != std::string::npos);
    }
    SUBCASE("top-k: dropped patches are dim(v), kept ones the crop") {
        const TokenPicture p = c.show_tokens(input, Schedule::parse("topk:r=5,layer=0"));
        const TokenProvenance prov = record_run(model, input, "topk:r=5,layer=0");
        CHECK(p.dropped == 5);
        CHECK(p.kept == 11);
        for (int patch = 0; patch < grid * grid; ++patch) {
            const bool dropped = prov.row[size_t(prefix + patch)] < 0;
            for (int y = (patch / grid) * ps; y < (patch / grid + 1) * ps; ++y)
                for (int x = (patch % grid) * ps; x < (patch % grid + 1) * ps; ++x)
                    for (int ch = 0; ch < 3; ++ch) {
                        const uint8_t v = crop_px(x, y)[ch];
                        REQUIRE(pixel(p, x, y)[ch] == (dropped ? uint8_t((3 * v + 5) / 10) : v));
                    }
        }
    }
    SUBCASE("pomt: merged patches dimmed with the hatch") {
        const TokenPicture p = c.show_tokens(input, Schedule::parse("pomt:R=4,layer=0"));
        const TokenProvenance prov = record_run(model, input, "pomt:R=4,layer=0");
        const int merged = 16 - pomt_kept_patches(17, 4);
        CHECK(p.pomt_merged == merged);
        CHECK(p.tokens_after == 17 - 4);
        int hatched = 0;
        for (int patch = 0; patch < grid * grid; ++patch) {
            const bool m = prov.pomt_merged[size_t(prefix + patch)] != 0;
            for (int y = (patch / grid) * ps; y < (patch / grid + 1) * ps; ++y)
                for (int x = (patch % grid) * ps; x < (patch % grid + 1) * ps; ++x)
                    for (int ch = 0; ch < 3; ++ch) {
                        const uint8_t v = crop_px(x, y)[ch];
                        const uint8_t want = !m ? v : (x + y) % 4 == 0 ? kPomtHatch[ch] : uint8_t((3 * v + 5) / 10);
                        hatched += m && (x + y) % 4 == 0 && ch == 0;
                        REQUIRE(pixel(p, x, y)[ch] == want);
                    }
        }
        CHECK(hatched == merged * ps * ps / 4);
    }
    SUBCASE("tome: each group filled with the mean colour of its patches, its boundary at half") {
        const TokenPicture p = c.show_tokens(input, Schedule::parse("tome:r=6,layer=0"));
        const TokenProvenance prov = record_run(model, input, "tome:r=6,layer=0");
        std::map<int, std::vector<int>> groups;  // final row → patches
        for (int patch = 0; patch < grid * grid; ++patch) groups[prov.row[size_t(prefix + patch)]].push_back(patch);
        int grouped = 0, count = 0;
        for (const auto& kv : groups) {
            if (kv.second.size() < 2) continue;
            ++count, grouped += int(kv.second.size());
            double sum[3] = {0, 0, 0};
            for (int patch : kv.second)
                for (int y = (patch / grid) * ps; y < (patch / grid + 1) * ps; ++y)
                    for (int x = (patch % grid) * ps; x < (patch % grid + 1) * ps; ++x)
                        for (int ch = 0; ch < 3; ++ch) sum[ch] += crop_px(x, y)[ch];
            for (int patch : kv.second) {
                // A pixel in the patch's interior is the mean; one on the picture's border is an edge.
                const int x0 = (patch % grid) * ps, y0 = (patch / grid) * ps;
                const int xi = x0 + ps / 2, yi = y0 + ps / 2;
                for (int ch = 0; ch < 3; ++ch) {
                    const uint8_t mean = uint8_t(std::lround(sum[ch] / (double(kv.second.size()) * ps * ps)));
                    CHECK(pixel(p, xi, yi)[ch] == mean);
                    if (y0 == 0) CHECK(pixel(p, xi, 0)[ch] == mean / 2);
                }
            }
        }
        CHECK(count >= 1);
        CHECK(p.tome_groups == count);
        CHECK(p.tome_grouped == grouped);
        CHECK(grouped - count == 6);  // r merges remove r tokens
    }
}

TEST_CASE("token picture: steps compose across blocks, and different schedules give different pictures") {
    auto model = Model::random(picture_config(4), 8);
    Classifier c = classifier_from_model(model);
    const Image img = synthetic_image(64, 64);
    const Tensor input = c.preprocess_rgb(img.rgb.data(), img.width, img.height);
    const char* spec = "topk:r=2,layer=0;pomt:R=2,layer=1;tome:r=2,layer=2";
    const TokenPicture composed = c.show_tokens(input, Schedule::parse(spec));
    CHECK(composed.dropped >= 2);
    CHECK(composed.pomt_merged >= 1);
    CHECK(composed.tokens_after == 17 - 2 - 2 - 2);
    CHECK(composed.dropped + composed.pomt_merged + composed.kept + composed.tome_grouped == 16);
    // Tracked through every step: the provenance's rows end inside the final sequence.
    const TokenProvenance prov = record_run(model, input, spec);
    CHECK(prov.current_tokens == composed.tokens_after);
    for (int r : prov.row) CHECK(r < prov.current_tokens);
    std::vector<std::vector<uint8_t>> pictures;
    for (const char* spec : {"pomt:R=4,layer=0", "topk:r=4,layer=0", "tome:r=4,layer=0", "random:keep=9,seed=1"})
        pictures.push_back(c.show_tokens(input, Schedule::parse(spec)).rgb);
    for (size_t i = 0; i < pictures.size(); ++i)
        for (size_t j = i + 1; j < pictures.size(); ++j) CHECK(pictures[i] != pictures[j]);
}

TEST_CASE("token picture: the PNG decodes back to the same pixels; the font draws its glyphs") {
    auto model = Model::random(picture_config(2), 2);
    Classifier c = classifier_from_model(model);
    const Image img = synthetic_image(70, 64);
    const Tensor input = c.preprocess_rgb(img.rgb.data(), img.width, img.height);
    const TokenPicture p = c.show_tokens(input, Schedule::parse("tome:r=5,layer=0"));
    const std::vector<uint8_t> png = p.png();
    const Image back = decode_image(png.data(), png.size(), "picture.png");
    CHECK(back.width == p.width);
    CHECK(back.height == p.height);
    CHECK(back.rgb == p.rgb);
    pomt_test::expect_error([] { encode_png(nullptr, 0, 0); }, "cannot encode a 0x0 image");
    // 'T': a full top row, a centre column; blank and unknown characters draw nothing.
    for (int x = 0; x < kGlyphWidth; ++x) CHECK(glyph_pixel('T', x, 0));
    for (int y = 0; y < kGlyphHeight; ++y) CHECK(glyph_pixel('t', 2, y));
    CHECK_FALSE(glyph_pixel('T', 0, 3));
    for (int y = 0; y < kGlyphHeight; ++y)
        for (int x = 0; x < kGlyphWidth; ++x) {
            CHECK_FALSE(glyph_pixel(' ', x, y));
            CHECK_FALSE(glyph_pixel('~', x, y));
        }
}

TEST_CASE("classify --show-tokens: one file, a folder for several images, bad paths refused with nothing written") {
    const pomt_test::ModelAndImages f = pomt_test::model_and_images(2, 4, 3);
    const std::string a = f.dir + "/img0.bmp", b = f.dir + "/img1.bmp";
    SUBCASE("one image: PATH is the PNG") {
        const std::string out = f.dir + "/one.png";
        auto r =
            pomt_test::run_pomt({"classify", "-m", f.model, a, "--prune", "pomt:R=3,layer=0", "--show-tokens", out});
        CHECK(r.exit_code == 0);
        CHECK(r.out.find("tokens picture " + out + ": prefix: class kept") != std::string::npos);
        const std::string png = pomt_test::read_bytes(out);
        const Image back = decode_image(reinterpret_cast<const unsigned char*>(png.data()), png.size(), out);
        CHECK(back.width == 64);
        CHECK(back.height > 64);
    }
    SUBCASE("several images: PATH is a folder receiving <stem>.tokens.png") {
        const std::string dir = pomt_test::temp_dir();
        auto r = pomt_test::run_pomt(
            {"classify", "-m", f.model, a, b, "--prune", "tome:r=2", "--json", "--show-tokens", dir});
        CHECK(r.exit_code == 0);
        CHECK(pomt_test::file_exists(dir + "/img0.tokens.png"));
        CHECK(pomt_test::file_exists(dir + "/img1.tokens.png"));
        CHECK(r.out.find("\"tokens_picture\":\"" + dir + "/img0.tokens.png\"") != std::string::npos);
    }
    SUBCASE("bad paths: one line, exit 2, nothing written") {
        const std::string file = f.dir + "/exists.png";
        pomt_test::write_bytes(file, "old");
        struct Case {
            std::vector<std::string> images;
            std::string path, needle;
        };
        const Case cases[] = {
            {{a}, f.dir + "/no/such/folder/x.png", "is not writable or does not exist"},
            {{a, b}, file, "it is a file, not a folder"},
            {{a, b}, file + "/sub", "'" + file + "' is a file, not a folder"},  // a missing folder is made
            {{a, f.dir + "/sub/img0.bmp"}, f.dir, "two images would both write"},
            {{a}, "", "--show-tokens needs a path"},
        };
        for (const Case& k : cases) {
            std::vector<std::string> args = {"classify", "-m", f.model};
            args.insert(args.end(), k.images.begin(), k.images.end());
            args.insert(args.end(), {"--prune", "topk:r=2", "--show-tokens", k.path});
            auto r = pomt_test::run_pomt(args);
            CAPTURE(k.path);
            CHECK(r.exit_code == 2);
            CHECK(r.err.find(k.needle) != std::string::npos);
            CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
            CHECK(r.out.empty());  // refused before any image
        }
        CHECK(pomt_test::read_bytes(file) == "old");
        CHECK_FALSE(pomt_test::file_exists(f.dir + "/img0.tokens.png"));
    }
}
