// The smallest useful pomt program: load a model, classify one image, print the top 5.
//   make examples && ./build/examples/classify_minimal vit_tiny.pomt cat.jpg
#include <cstdio>

#include "pomt/pomt.h"

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s model.pomt IMAGE\n", argv[0]);
        return 2;
    }
    try {
        // The weights are memory-mapped; the Classifier can be shared by any number of threads.
        pomt::Classifier model = pomt::Classifier::load(argv[1]);
        // Decode + timm's eval transform (resize, centre crop, normalise) from the model's config.
        pomt::Tensor input = model.preprocess_file(argv[2]);
        pomt::Result result = model.run(input);
        for (const pomt::Prediction& p : result.top)
            std::printf("%.4f  %4d  %s\n", p.prob, p.index, p.name.c_str());
        return 0;
    } catch (const pomt::Error& e) {  // every failure: one line naming the file
        std::fprintf(stderr, "error: %s\n", e.what());
        return 2;
    }
}
