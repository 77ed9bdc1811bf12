// pomt convert: timm hub folder or .safetensors → .pomt, no Python needed.
#include <cstdio>

#include "cli/commands.h"
#include "vit/error.h"
#include "weights_tools/convert.h"

namespace pomt {

int cmd_convert(int argc, char** argv) {
    Args args(argc, argv, 2, {"-o", "--output", "--config", "--arch"}, {"--quiet"});
    if (args.positional().size() != 1) fail("give one input: pomt convert HUB_DIR|model.safetensors -o model.pomt");
    ConvertOptions o;
    o.input = args.positional()[0];
    o.output = args.get("-o", args.get("--output"));
    o.config_path = args.get("--config");
    o.arch = args.get("--arch");
    ConvertReport r = convert_timm_weights(o);
    if (!args.has("--quiet"))
        std::printf("wrote %s: %s, %d tensors, %.2f M parameters, %zu class names\n", o.output.c_str(),
                    r.meta.model.architecture.c_str(), r.tensors, r.parameters / 1e6, r.meta.class_names.size());
    return 0;
}

}  // namespace pomt
