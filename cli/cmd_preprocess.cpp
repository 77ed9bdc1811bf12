// pomt preprocess: images in, the (N,3,H,W) float32 tensor timm's eval transform gives for them
// out (NPY), with the model's preprocessing configuration: what `pomt run --input` takes, and what
// a Python pipeline can compare with timm's transform directly.
#include <climits>
#include <cstdio>
#include <vector>

#include "cli/commands.h"
#include "core/npy.h"
#include "image/image.h"
#include "image/preprocess.h"
#include "pomt/error.h"
#include "vit/config.h"
#include "vit/model.h"

namespace pomt {

int cmd_preprocess(const Args& args) {
    const std::vector<std::string>& images = args.positional();
    if (images.empty()) fail("give at least one image file");
    if (!args.has("-o")) fail("give the output file: -o x.npy");
    const std::string output = args.get("-o");
    if (output.empty()) fail("-o needs a file name, e.g. -o x.npy");
    if (args.has("-m") == args.has("--arch")) fail("give exactly one of -m model.pomt or --arch NAME");
    apply_max_memory(args);
    ImageLimits limits;
    limits.max_pixels = uint64_t(args.get_int("--max-pixels", int(limits.max_pixels), 1, INT_MAX));
    // Only the preprocessing configuration is needed: --arch gives timm's defaults for the
    // architecture (what Model::random uses) without making any weights.
    const PreprocessConfig cfg = args.has("-m") ? PreprocessConfig(Model::load(args.get("-m"))->preprocess())
                                                : default_preprocess_for(config_for_architecture(args.get("--arch")));
    if (cfg.input_size[0] != 3) fail("the model's preprocessing has " + std::to_string(cfg.input_size[0]) + " channels; pomt writes 3");
    const int h = cfg.input_size[1], w = cfg.input_size[2];
    const size_t per_image = size_t(3) * size_t(h) * size_t(w);
    std::vector<float> tensor(images.size() * per_image);
    // Any bad image stops the command before anything is written (the error names it).
    for (size_t i = 0; i < images.size(); ++i)
        preprocess_image(load_image(images[i], limits), cfg, tensor.data() + i * per_image);
    write_npy(output, tensor.data(), {int64_t(images.size()), 3, h, w});
    if (!args.has("--quiet"))
        std::printf("wrote %s: (%zu, 3, %d, %d) float32\n", output.c_str(), images.size(), h, w);
    return 0;
}

}  // namespace pomt
