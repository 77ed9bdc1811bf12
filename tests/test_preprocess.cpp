// timm's eval transform: PIL-exact resampling, torchvision's size and crop rules, float32 Normalize.
// The reference tensors (fixtures' image_pre.npy, the ViT-Tiny reference input.npy) were made by
// timm + PIL; from PNG input pomt reproduces them bit for bit, from JPEG input the decoders differ.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "tests/test_util.h"
#include "vit/config.h"
#include "pomt/error.h"
#include "image/image.h"
#include "core/json.h"
#include "core/npy.h"
#include "image/preprocess.h"

using pomt::Image;
using pomt::PreprocessConfig;
using pomt::Resample;

namespace {

Image pattern_image(int w, int h) {
    Image im;
    im.width = w;
    im.height = h;
    im.rgb.resize(size_t(w) * size_t(h) * 3);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int c = 0; c < 3; ++c) im.rgb[(size_t(y) * w + x) * 3 + c] = uint8_t((x * 37 + y * 91 + c * 53 + (x * y) % 17 * 11) & 255);
    return im;
}

uint64_t fnv1a(const std::vector<uint8_t>& b) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint8_t v : b) h = (h ^ v) * 0x100000001b3ull;
    return h;
}

PreprocessConfig imagenet_cfg() {
    PreprocessConfig c;  // timm defaults for DeiT: 224, bicubic, 0.875, ImageNet mean/std
    c.crop_pct = 0.9;
    return c;
}

PreprocessConfig config_from_fixture(const std::string& path) {
    pomt::json::Value hub = pomt::json::parse(pomt_test::read_bytes(path), path);
    const pomt::json::Value* pre = hub.find("pretrained_cfg");
    REQUIRE(pre != nullptr);
    return PreprocessConfig::from_json(*pre, path);
}

struct Diff {
    double max = 0, mean = 0;
};
Diff compare(const std::vector<float>& a, const float* b, size_t n) {
    Diff d;
    for (size_t i = 0; i < n; ++i) {
        double e = std::fabs(double(a[i]) - double(b[i]));
        d.max = std::max(d.max, e);
        d.mean += e;
    }
    d.mean /= double(n);
    return d;
}

}  // namespace

TEST_CASE("preprocess: resampling matches Pillow bit for bit (hashes from Pillow 13)") {
    // Expected FNV-1a hashes of Image.resize outputs of the same pattern, computed with Pillow
    // 13.0: downscale and upscale for every filter, the vertical-first order (30x120 -> 25x20),
    // single-axis resizes.
    struct Case {
        int w, h, W, H;
        Resample f;
        uint64_t hash;
    } cases[] = {
        {64, 48, 23, 17, Resample::Nearest, 0x080853e74a9de51bull},
        {64, 48, 23, 17, Resample::Box, 0x7b087634630cb317ull},
        {64, 48, 23, 17, Resample::Bilinear, 0x81a601670d2d3b74ull},
        {64, 48, 23, 17, Resample::Hamming, 0xeaccff9a38b61eebull},
        {64, 48, 23, 17, Resample::Bicubic, 0xe8247052021caf85ull},
        {64, 48, 23, 17, Resample::Lanczos, 0x5f6eadd7a3f1f8edull},
        {13, 9, 40, 31, Resample::Nearest, 0xc825b46261a53c80ull},
        {13, 9, 40, 31, Resample::Bilinear, 0xf6ad7acfb9817bbcull},
        {13, 9, 40, 31, Resample::Bicubic, 0xb1521a9d3f3f9e43ull},
        {13, 9, 40, 31, Resample::Lanczos, 0x7cffe2973f1baaf7ull},
        {30, 120, 25, 20, Resample::Bicubic, 0xa4c4335dcaaab530ull},
        {30, 120, 25, 20, Resample::Bilinear, 0x73869454d4f984e6ull},
        {50, 40, 50, 25, Resample::Bicubic, 0xa6bc69ff5f35d0e8ull},
        {50, 40, 20, 40, Resample::Hamming, 0x185adda3e9923aa4ull},
        {7, 200, 5, 11, Resample::Lanczos, 0xf3cd574f6fa92d02ull},
    };
    for (const Case& c : cases) {
        INFO(c.w << "x" << c.h << " -> " << c.W << "x" << c.H << " filter " << int(c.f));
        Image out = pomt::resize_like_pil(pattern_image(c.w, c.h), c.W, c.H, c.f);
        CHECK(out.width == c.W);
        CHECK(out.height == c.H);
        CHECK(fnv1a(out.rgb) == c.hash);
    }
    // Same size: a copy.
    Image src = pattern_image(9, 7);
    CHECK(pomt::resize_like_pil(src, 9, 7, Resample::Bicubic).rgb == src.rgb);
}

TEST_CASE("preprocess: torchvision resize and centre-crop geometry") {
    PreprocessConfig c = imagenet_cfg();
    // Short side to floor(224 / 0.9) = 248, long side int(248 * 320 / 260) = 305; left offset
    // round(81 / 2) = 40 (Python rounds half to even), top 12.
    pomt::EvalGeometry g = pomt::eval_geometry(320, 260, c);
    CHECK(g.resize_w == 305);
    CHECK(g.resize_h == 248);
    CHECK(g.crop_left == 40);
    CHECK(g.crop_top == 12);
    CHECK(g.filter == Resample::Bicubic);
    g = pomt::eval_geometry(260, 320, c);
    CHECK(g.resize_w == 248);
    CHECK(g.resize_h == 305);
    CHECK(g.crop_top == 40);
    // 227 x 227 (the ImageNet set here) is upsampled to 248 x 248.
    g = pomt::eval_geometry(227, 227, c);
    CHECK(g.resize_w == 248);
    CHECK(g.crop_left == 12);
    // crop_pct 0.875: 256; crop_pct 1: no margin.
    c.crop_pct = 0.875;
    CHECK(pomt::eval_geometry(500, 375, c).resize_h == 256);
    CHECK(pomt::eval_geometry(500, 375, c).resize_w == 341);
    c.crop_pct = 1.0;
    CHECK(pomt::eval_geometry(224, 224, c).crop_left == 0);
    // crop_pct > 1: the crop is larger than the resized image; torchvision pads (left = 12 // 2).
    c.crop_pct = 1.06;
    g = pomt::eval_geometry(300, 211, c);
    CHECK(g.resize_h == 211);
    CHECK(g.crop_top == -6);

    c = imagenet_cfg();
    c.interpolation = "spline";
    CHECK_THROWS_AS(pomt::eval_geometry(10, 10, c), pomt::Error);
    c = imagenet_cfg();
    c.crop_mode = "diagonal";
    CHECK_THROWS_AS(pomt::eval_geometry(10, 10, c), pomt::Error);
}

TEST_CASE("preprocess: images smaller than the crop are upsampled first, as timm does") {
    // Decision: an image smaller than the crop is not an error (timm resizes the short side up to
    // 248 before cropping 224, so it classifies any non-empty image). A 1x1 image becomes a
    // constant tensor; a 1x5000 strip needs no more memory than the crop (only the cropped window
    // of the 248 x 1240000 resize is computed).
    PreprocessConfig c = imagenet_cfg();
    Image one;
    one.width = one.height = 1;
    one.rgb = {10, 128, 250};
    std::vector<float> t = pomt::preprocess_image(one, c);
    REQUIRE(t.size() == size_t(3 * 224 * 224));
    for (int ch = 0; ch < 3; ++ch) {
        float expect = (float(one.rgb[size_t(ch)]) / 255.0f - float(c.mean[ch])) / float(c.std[ch]);
        for (size_t i = 0; i < 224 * 224; ++i) REQUIRE(t[size_t(ch) * 224 * 224 + i] == expect);
    }
    Image strip = pattern_image(1, 5000);
    pomt::EvalGeometry g = pomt::eval_geometry(1, 5000, c);
    CHECK(g.resize_h == 1240000);
    t = pomt::preprocess_image(strip, c);
    for (float v : t) REQUIRE(std::isfinite(v));
    // An empty image is an error, not a crash.
    Image empty;
    CHECK_THROWS_AS(pomt::preprocess_image(empty, c), pomt::Error);
}

TEST_CASE("preprocess: fixtures' image_pre.npy (timm eval transform of image.png)") {
    POMT_REQUIRE_SHARED("fixtures", fixtures);
    int checked = 0;
    for (const char* name : {"micro", "deit_tiny", "deit_tiny_distilled_d2", "deit3_micro"}) {
        std::string dir = fixtures + "/" + name;
        if (!pomt_test::file_exists(dir + "/image_pre.npy")) continue;
        INFO("fixture " << std::string(name));
        PreprocessConfig cfg = config_from_fixture(dir + "/config.json");
        pomt::NpyArray ref = pomt::read_npy(dir + "/image_pre.npy");
        REQUIRE(ref.shape == std::vector<int64_t>{1, 3, cfg.input_size[1], cfg.input_size[2]});
        std::vector<float> ours = pomt::preprocess_image(pomt::load_image(dir + "/image.png"), cfg);
        REQUIRE(ours.size() == ref.data.size());
        // Required: within one 8-bit level per pixel. Achieved: bit-identical.
        const size_t plane = ours.size() / 3;
        for (size_t i = 0; i < ours.size(); ++i) {
            double tol = 1.0 / (255.0 * cfg.std[i / plane]) + 1e-6;
            if (std::fabs(double(ours[i]) - double(ref.data[i])) > tol) {
                FAIL_CHECK("element " << i << ": " << ours[i] << " vs " << ref.data[i]);
                break;
            }
        }
        Diff d = compare(ours, ref.data.data(), ours.size());
        MESSAGE(std::string(name) << ": max |diff| " << d.max);
        CHECK(d.max == 0.0);
        ++checked;
    }
    CHECK(checked == 4);
}

TEST_CASE("preprocess: real ImageNet JPEGs vs timm + PIL (ViT-Tiny reference input)") {
    const std::string model = "models/vit_tiny_patch16_224.augreg_in21k_ft_in1k";
    POMT_REQUIRE_SHARED(model + "/reference/input.npy", input_path);
    POMT_REQUIRE_SHARED("data/imagenet-val-1300/images", images);
    std::string base = input_path.substr(0, input_path.rfind("/reference/"));
    PreprocessConfig cfg = config_from_fixture(base + "/config.json");
    pomt::NpyArray ref = pomt::read_npy(input_path);
    std::string list = pomt_test::read_bytes(base + "/reference/images.txt");
    std::vector<std::string> names;
    for (size_t p = 0; p < list.size();) {
        size_t e = list.find('\n', p);
        if (e == std::string::npos) e = list.size();
        std::string line = list.substr(p, e - p);
        if (!line.empty()) names.push_back(line.substr(0, line.find(' ')));
        p = e + 1;
    }
    REQUIRE(int64_t(names.size()) == ref.dim(0));
    const size_t n = size_t(3 * 224 * 224);
    double worst = 0, mean_sum = 0;
    for (size_t i = 0; i < names.size(); ++i) {
        INFO(names[i]);
        std::string dir = images.substr(0, images.rfind('/'));
        std::vector<float> ours = pomt::preprocess_image(pomt::load_image(dir + "/" + names[i]), cfg);
        REQUIRE(ours.size() == n);
        Diff d = compare(ours, ref.data.data() + i * n, n);
        worst = std::max(worst, d.max);
        mean_sum += d.mean;
    }
    // JPEG decoding is Pillow's, byte for byte, in every build (image/jpeg_exact.h, or libjpeg
    // itself), so only float rounding may differ from timm's tensor.
    MESSAGE("8 reference JPEGs: max |diff| " << worst << ", mean " << mean_sum / double(names.size()));
    CHECK(worst <= 1e-6);
}
