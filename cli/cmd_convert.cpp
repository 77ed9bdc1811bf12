// pomt convert: timm hub folder or .safetensors → .pomt, no Python needed.
// `pomt convert --arch NAME --random [--seed S] -o x.pomt` writes seeded random weights instead
// (benchmarks and comparisons with other engines need a file, not a download).
// `--image-size S` converts for S×S inputs as timm's create_model(..., img_size=S) does (the
// position embedding resampled; with --random, the random model is made at that size).
// `--quantize int8 [--data LIST ...]` writes the int8 model instead (as `pomt quantize` would from
// the fp32 file; .pomt format version 3), `--quantize bf16` the bf16 one (version 4).
#include <cstdio>

#include "cli/commands.h"
#include "pomt/error.h"
#include "quantize/quantize_model.h"
#include "vit/model.h"
#include "weights_tools/convert.h"

namespace pomt {

int cmd_convert(const Args& args) {
    const std::string output = args.get("-o");
    const int image_size = args.get_int("--image-size", 0, 1, 4096);
    const bool quantize = args.has("--quantize");
    if (quantize && args.get("--quantize") != "int8" && args.get("--quantize") != "bf16")
        fail("--quantize '" + args.get("--quantize") + "' is not supported (int8 or bf16)");
    QuantizeOptions qopts = quantize_options_from_args(args);
    if (quantize) qopts.precision = args.get("--quantize");
    if (!quantize && (args.has("--data") || args.has("--threads")))
        fail("--data and --threads apply to --quantize int8 only");
    if (args.has("--random")) {
        if (!args.positional().empty() || !args.has("--arch") || args.has("--config"))
            fail("--random takes only --arch NAME [--seed S] [--image-size S] -o model.pomt");
        if (output.empty()) fail("no output file given (-o model.pomt)");
        ModelConfig cfg = config_for_architecture(args.get("--arch"));
        if (image_size) {
            PreprocessConfig unused;
            set_image_size(image_size, &cfg, &unused);
        }
        std::shared_ptr<const Model> model = Model::random(cfg, uint64_t(args.get_int("--seed", 0, 0, 1 << 30)));
        if (quantize) save_model(*quantize_model(*model, qopts), output);
        else write_weights_file(output, model->meta(), [&](const TensorSpec& s) { return model->tensor_values(s); });
        if (!args.has("--quiet"))
            std::printf("wrote %s: %s with seeded random weights%s\n", output.c_str(), model->config().architecture.c_str(),
                        quantize ? (", " + qopts.precision).c_str() : "");
        return 0;
    }
    if (args.positional().size() != 1) fail("give one input: pomt convert HUB_DIR|model.safetensors -o model.pomt");
    ConvertOptions o;
    o.input = args.positional()[0];
    o.output = output;
    o.config_path = args.get("--config");
    o.arch = args.get("--arch");
    o.image_size = image_size;
    ConvertReport r = quantize ? convert_and_quantize(o, qopts) : convert_timm_weights(o);
    if (!args.has("--quiet"))
        std::printf("wrote %s: %s, %d tensors, %.2f M parameters, %zu class names%s\n", o.output.c_str(),
                    r.meta.model.architecture.c_str(), r.tensors, r.parameters / 1e6, r.meta.class_names.size(),
                    quantize ? (", " + qopts.precision).c_str() : "");
    if (quantize && !args.has("--quiet")) {
        const std::string note = qopts.precision == "bf16" ? bf16_note() : measure_int8_outlook().note;
        if (!note.empty()) std::printf("note: %s\n", note.c_str());
    }
    return 0;
}

}  // namespace pomt
