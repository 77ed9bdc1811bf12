// pomt quantize IN.pomt -o OUT.pomt [--precision int8|bf16] [--data LIST [--root DIR] [--images N]]
// [--threads T]: an fp32 .pomt → its int8 version (.pomt format version 3) or bf16 one (version 4).
// The work is quantize_file (include/pomt/quantize.h); this parses the flags and prints what was
// written.
#include <cstdio>

#include "cli/commands.h"
#include "kernels/gemm_bf16_kernels.h"
#include "pomt/error.h"
#include "pomt/quantize.h"
#include "vit/weights_file.h"

namespace pomt {

// --data / --root / --images / --threads, shared with `pomt convert --quantize int8`.
QuantizeOptions quantize_options_from_args(const Args& args) {
    QuantizeOptions o;
    o.calibration.data = args.get("--data");
    o.calibration.root = args.get("--root");
    o.calibration.images = args.get_int("--images", o.calibration.images, 0, 1 << 30);
    if (!args.has("--data") && (args.has("--root") || args.has("--images")))
        fail("--root and --images need --data (the calibration image list)");
    if (args.has("--data") && o.calibration.data.empty()) fail("--data needs an image list or folder");
    o.threads = args.get_int("--threads", 0, 1, 1024);
    o.attention = args.get("--attention", o.attention);
    if (args.declares("--precision")) o.precision = args.get("--precision", o.precision);
    if (o.precision != "int8" && o.precision != "bf16")
        fail("--precision must be int8 or bf16, got '" + o.precision + "'");
    if (o.attention != "int8" && o.attention != "fp32" && o.attention != "bf16")
        fail("--attention must be int8, bf16 or fp32, got '" + o.attention + "'");
    return o;
}

std::string bf16_note() {
    if (active_bf16_kernels().tile) return "";
    return std::string("bf16 kernels here: ") + active_bf16_variant() +
           " (no bf16 dot products that beat fp32's on this CPU): bf16 runs at fp32's speed with half the weight "
           "memory; AMX, AMD's AVX512_BF16 and Arm BF16 multiply it at twice fp32's rate or more";
}

std::string bf16_attention_note() {
    if (active_bf16_kernels().tile) return "";
    return std::string("bf16 attention here runs on the ") + active_bf16_variant() +
           " kernels (no bf16 dot products): slower than fp32 attention on this CPU (--attention fp32); it pays "
           "on AMX tiles";
}

int cmd_quantize(const Args& args) {
    if (args.positional().size() != 1) fail("give one input: pomt quantize model.pomt -o model_int8.pomt");
    const std::string input = args.positional()[0];
    const std::string output = args.get("-o");
    if (output.empty()) fail("no output file given (-o model_int8.pomt)");
    if (output == input) fail("the output would overwrite the input '" + input + "': give another -o");
    quantize_file(input, output, quantize_options_from_args(args));
    if (!args.has("--quiet")) {
        WeightsFile f(output);
        const QuantizationInfo& q = f.meta().quantization;
        const std::string attention_note = q.attention == "bf16" ? bf16_attention_note() : "";
        if (q.precision == "bf16") {
            std::printf("wrote %s: %s, bf16 (format v%u), attention %s\n", output.c_str(),
                        f.meta().model.architecture.c_str(), f.version(), q.attention.c_str());
            if (!attention_note.empty()) std::printf("note: %s\n", attention_note.c_str());
            const std::string note = bf16_note();
            if (!note.empty()) std::printf("note: %s\n", note.c_str());
            return 0;
        }
        std::printf("wrote %s: %s, int8 (format v%u), attention %s, calibration %s\n", output.c_str(),
                    f.meta().model.architecture.c_str(), f.version(), q.attention.c_str(),
                    q.calibration_text().c_str());
        if (!attention_note.empty()) std::printf("note: %s\n", attention_note.c_str());
        const Int8Outlook outlook = measure_int8_outlook();
        if (!outlook.note.empty()) std::printf("note: %s\n", outlook.note.c_str());
    }
    return 0;
}

}  // namespace pomt
