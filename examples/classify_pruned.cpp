// Classify images with and without a token-pruning schedule, one Workspace per run (buffers and
// threads reused across images), and show what the schedule changes: tokens, time, prediction.
//   ./build/examples/classify_pruned vit_tiny.pomt "pomt:R=56,layer=3" a.jpg b.png ...
//   ./build/examples/classify_pruned vit_tiny.pomt schedule.json a.jpg      (a schedule file)
#include <chrono>
#include <cstdio>
#include <string>

#include "pomt/pomt.h"

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: %s model.pomt SPEC|schedule.json IMAGE...\n", argv[0]);
        return 2;
    }
    try {
        pomt::Classifier model = pomt::Classifier::load(argv[1]);
        if (model.num_classes() <= 0) throw pomt::Error("the model has no classifier head");
        pomt::InferenceOptions pruned;
        pruned.top = 1;
        pruned.schedule = ends_with(argv[2], ".json") ? pomt::Schedule::load(argv[2]) : pomt::Schedule::parse(argv[2]);
        pomt::InferenceOptions baseline = pruned;
        baseline.schedule = pomt::Schedule();
        // Checked against the model once, before any image.
        std::printf("schedule: %s\n", model.describe(pruned.schedule).c_str());

        pomt::Workspace workspace(model, 1);
        int failed = 0;
        for (int i = 3; i < argc; ++i) {
            try {
                pomt::Tensor input = model.preprocess_file(argv[i]);
                workspace.run(input, baseline);  // warm-up: the first run allocates the buffers
                auto t0 = std::chrono::steady_clock::now();
                pomt::Result full = workspace.run(input, baseline);
                double full_ms = ms_since(t0);
                t0 = std::chrono::steady_clock::now();
                pomt::Result cut = workspace.run(input, pruned);
                double cut_ms = ms_since(t0);
                std::printf("%s\n  full:   %3d tokens  %7.2f ms  %.4f %s\n  pruned: %3d tokens  %7.2f ms  %.4f %s\n",
                            argv[i], full.tokens_after_block.back(), full_ms, full.top[0].prob,
                            full.top[0].name.c_str(), cut.tokens_after_block.back(), cut_ms, cut.top[0].prob,
                            cut.top[0].name.c_str());
            } catch (const pomt::Error& e) {  // a bad image: report it, go on with the others
                std::fprintf(stderr, "error: %s\n", e.what());
                ++failed;
            }
        }
        return failed ? 2 : 0;
    } catch (const pomt::Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 2;
    }
}
