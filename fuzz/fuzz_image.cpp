// libFuzzer target: image decoding (image/image.h, stb_image inside) and timm's eval transform
// (image/preprocess.h), the path `pomt classify` takes. Input: 4 control bytes, then an image file.
//   byte 0 % 4 in 0..2: Classifier::preprocess_bytes (what classify calls) for one of three small
//                       models (ViT, DeiT and 384-style preprocessing), then one forward pass
//                       and top-k on the tensor;
//          % 4 == 3:    decode_image + preprocess_image with a preprocessing config taken from
//                       bytes 1..3 (interpolation, crop mode, crop_pct, input size).
// The pixel limit is 4 megapixels here (the product default is 100) so runs stay fast; a header
// above it must be refused before decoding, which the limit check covers either way.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "api/internal.h"
#include "fuzz/fuzz_common.h"
#include "pomt/pomt.h"
#include "image/image.h"
#include "vit/model.h"
#include "image/preprocess.h"

using namespace pomt;

namespace {

constexpr uint64_t kMaxPixels = 4u << 20;

ModelConfig small(const char* arch, int img, int patch) {
    ModelConfig c = config_for_architecture(arch);
    c.embed_dim = 8;
    c.num_heads = 2;
    c.mlp_hidden = 16;
    c.depth = 1;
    c.num_classes = 4;
    c.img_size = img;
    c.patch_size = patch;
    return c;
}

const Classifier& classifier(int which) {
    static const Classifier models[3] = {
        classifier_from_model(Model::random(small("vit_tiny_patch16_224", 32, 8), 1)),
        classifier_from_model(Model::random(small("deit_tiny_patch16_224", 48, 16), 2)),
        classifier_from_model(Model::random(small("vit_tiny_patch16_384", 384, 32), 3)),
    };
    return models[which];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 4) return 0;
    const uint8_t c0 = data[0], c1 = data[1], c2 = data[2], c3 = data[3];
    const unsigned char* img = data + 4;
    const size_t n = size - 4;

    if (c0 % 4 < 3) {
        const Classifier& cls = classifier(c0 % 4);
        ImageOptions opt;
        opt.max_pixels = kMaxPixels;
        Tensor t;
        if (!pomt_fuzz::expect_clean([&] { t = cls.preprocess_bytes(img, n, "fuzz", opt); })) return 0;
        if (t.channels != 3 || t.height != cls.input_height() || t.width != cls.input_width() ||
            t.data.size() != size_t(3) * t.height * t.width)
            std::abort();
        for (float v : t.data)
            if (!std::isfinite(v)) std::abort();
        pomt_fuzz::expect_clean([&] {
            Result r = cls.run(t);
            if (int(r.logits.size()) != cls.num_classes()) std::abort();
        });
        return 0;
    }

    ImageLimits limits;
    limits.max_pixels = kMaxPixels;
    Image im;
    if (!pomt_fuzz::expect_clean([&] { im = decode_image(img, n, "fuzz", limits); })) return 0;
    if (im.width <= 0 || im.height <= 0 || uint64_t(im.width) * uint64_t(im.height) > kMaxPixels ||
        im.rgb.size() != size_t(im.width) * size_t(im.height) * 3)
        std::abort();
    static const char* const kInterp[] = {"nearest", "box", "bilinear", "hamming", "bicubic", "lanczos", "bicubic", "bilinear"};
    static const char* const kMode[] = {"center", "squash", "border", "center"};
    PreprocessConfig cfg;
    cfg.interpolation = kInterp[c1 & 7];
    cfg.crop_mode = kMode[(c1 >> 3) & 3];
    cfg.crop_pct = 0.05 + (c2 / 255.0) * 1.95;  // (0.05 .. 2]
    cfg.input_size[1] = 1 + (c3 & 63);
    cfg.input_size[2] = (c1 & 0x20) ? cfg.input_size[1] : 1 + ((c3 >> 2) & 63);
    cfg.mean[1] = (c2 & 1) ? 0.5 : 0.456;
    std::vector<float> out;
    if (!pomt_fuzz::expect_clean([&] { out = preprocess_image(im, cfg); })) return 0;
    if (out.size() != size_t(3) * cfg.input_size[1] * cfg.input_size[2]) std::abort();
    return 0;
}
