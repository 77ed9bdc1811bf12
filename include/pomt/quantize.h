// pomt's quantization as a library call: what `pomt quantize` and `pomt convert --quantize int8|bf16`
// do. int8 (the default) gives a .pomt format version 3 file (docs/FORMAT.md): every Linear weight
// int8 per output channel (symmetric), activations quantized per token at run time. bf16 gives a
// version 4 file: every Linear weight rounded to bf16, each Linear's input rounded to bf16 as it is
// read, sums in fp32; LayerNorm, softmax, GELU and residuals stay fp32, attention too unless
// QuantizeOptions::attention asks for int8 or bf16 products. bf16 needs no
// calibration; it is fast where the CPU multiplies bf16 (AVX512_BF16, Arm BF16) and elsewhere runs
// at fp32's speed with half the weight memory.
//
//   pomt::quantize_file("vit_tiny.pomt", "vit_tiny_int8.pomt");
//   pomt::Classifier model = pomt::Classifier::load("vit_tiny_int8.pomt");  // runs the int8 kernels
//
// Every failure (unreadable model, an already-quantized model, a bad calibration list) is a
// pomt::Error with a one-line message, and nothing is written.
#pragma once
#include <string>

#include "pomt/error.h"

namespace pomt {

struct QuantizeOptions {
    std::string precision = "int8";  // or "bf16" (no calibration)
    // The attention's two products, Q·Kᵀ and P·V: "int8" (int8 models: Q, K, V quantized per token
    // and head, the probabilities per row), "bf16" (Q, K, V and the probabilities rounded to bf16,
    // sums fp32: fast where the bf16 GEMM has AMX or vdpbf16ps) or "fp32" (the default). Softmax
    // in fp32 always. Recorded in the file.
    std::string attention = "fp32";
    // Calibration images (SmoothQuant-style smoothing measured on them): a "relative/path label"
    // list or a folder of class folders, as ScheduleSearchOptions::data; `root` is the folder a
    // list's paths are relative to (default: the list's folder). Empty `data`: no calibration
    // (weights-only quantization; activations are quantized dynamically at run time).
    struct Calibration {
        std::string data, root;
        int images = 256;  // the first `images` of the set (0: all)
    } calibration;
    int threads = 0;  // for calibration runs; <= 0: every core
};

// Reads an fp32 .pomt and writes its int8 (or bf16) version to `output` (atomically).
void quantize_file(const std::string& input, const std::string& output, const QuantizeOptions& options = {});

// What int8 can buy on this CPU, measured in about a second: the single-core multiply-add peaks of
// the int8 variant and the fp32 level in use (the probes of `pomt bench`). int8 runs the Linear
// layers only; attention (unless int8), softmax, LayerNorm and GELU cost what they cost in fp32.
// So below 2x the Linear layers gain at most `ratio` and a whole model less (Zen 3 at the avx2
// level: 1.58x, and DeiT-Tiny int8 at 0.72 of fp32's latency; VNNI cores read 3-4x), and `note`
// says so; `pomt quantize` and `pomt info` print it.
struct Int8Outlook {
    std::string int8_variant;  // e.g. "avx2", "avx512-vnni", "neon-dot" (POMT_INT8 forces one)
    std::string fp32_level;    // e.g. "avx2", "avx512", "neon" (POMT_ISA forces one)
    double int8_gmacs = 0, fp32_gmacs = 0;  // 1 core, multiply-adds per second / 1e9
    double ratio = 0;                       // int8_gmacs / fp32_gmacs
    std::string note;                       // one line when ratio < 2, else empty
};
Int8Outlook measure_int8_outlook();
// The same from given peaks (what measure_int8_outlook concludes from its measurement).
Int8Outlook int8_outlook_from(const std::string& int8_variant, double int8_gmacs, const std::string& fp32_level,
                              double fp32_gmacs);

}  // namespace pomt
