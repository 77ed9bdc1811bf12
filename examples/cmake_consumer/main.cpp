// Built against an installed pomt (find_package(pomt)): prints the top-3 classes of an image.
// With `--arch NAME` instead of a model file it uses seeded random weights (no file needed).
#include <cstdio>
#include <cstring>

#include "pomt/pomt.h"

int main(int argc, char** argv) {
    if (argc != 3 && argc != 4) {
        std::fprintf(stderr, "usage: %s (model.pomt | --arch NAME) IMAGE\n", argv[0]);
        return 2;
    }
    try {
        const bool random = std::strcmp(argv[1], "--arch") == 0;
        if (random != (argc == 4)) {
            std::fprintf(stderr, "usage: %s (model.pomt | --arch NAME) IMAGE\n", argv[0]);
            return 2;
        }
        pomt::Classifier model = random ? pomt::Classifier::random(argv[2]) : pomt::Classifier::load(argv[1]);
        pomt::InferenceOptions options;
        options.top = 3;
        pomt::Result result = model.run(model.preprocess_file(argv[argc - 1]), options);
        for (const pomt::Prediction& p : result.top) std::printf("%d %.6f %s\n", p.index, p.prob, p.name.c_str());
        return 0;
    } catch (const pomt::Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 2;
    }
}
