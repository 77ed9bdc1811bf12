// pomt's int8 quantization as a library call: what `pomt quantize` and `pomt convert --quantize
// int8` do. The result is a .pomt format version 3 file (docs/FORMAT.md): every Linear weight int8
// per output channel (symmetric), activations quantized per token at run time.
//
//   pomt::quantize_file("vit_tiny.pomt", "vit_tiny_int8.pomt");
//   pomt::Classifier model = pomt::Classifier::load("vit_tiny_int8.pomt");  // runs the int8 kernels
//
// Every failure (unreadable model, an already-int8 model, a bad calibration list) is a pomt::Error
// with a one-line message, and nothing is written.
#pragma once
#include <string>

#include "pomt/error.h"

namespace pomt {

struct QuantizeOptions {
    std::string precision = "int8";  // the only one so far
    // The attention's two products, Q·Kᵀ and P·V: "int8" (Q, K, V quantized per token and head, the
    // probabilities per row; softmax in fp32) or "fp32" (the default until int8 attention is
    // measured faster on the VNNI hosts; docs/RESULTS.md). Recorded in the file.
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

// Reads an fp32 .pomt and writes its int8 version to `output` (atomically).
void quantize_file(const std::string& input, const std::string& output, const QuantizeOptions& options = {});

}  // namespace pomt
