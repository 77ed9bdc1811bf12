// Accuracy of a model's int8 version (Model::quantized: int8 weights per output column, int8
// activations per token at every Linear input) against the fp32 model on a labelled image set:
// top-1/top-5 of both and the per-image top-1 agreement, for each pruning spec given.
//   make build/eval_int8
//   build/eval_int8 vit_tiny.pomt ../shared/data/imagenet-val-1300/labels.txt none pomt:R=56,layer=3 tome:r=13
// A benchmark helper until `pomt quantize` writes int8 files (then `pomt eval` does the same).
#include <cstdio>
#include <string>
#include <vector>

#include "eval/evaluate.h"
#include "pomt/error.h"
#include "vit/model.h"

int main(int argc, char** argv) {
    using namespace pomt;
    if (argc < 4) {
        std::fprintf(stderr, "usage: eval_int8 MODEL.pomt LABELS.txt SPEC... (SPEC: none or a --prune spec)\n");
        return 2;
    }
    try {
        std::shared_ptr<const Model> fp32 = Model::load(argv[1]);
        WeightsMeta meta = fp32->meta();
        meta.quantization.precision = "int8";
        std::shared_ptr<const Model> int8 = Model::quantized(meta, [&](const TensorSpec& s) {
            return fp32->tensor_values(s);
        });
        const std::vector<LabelledImage> images = load_dataset(argv[2], "", fp32->config().num_classes);
        EvalOptions opt;
        for (int a = 3; a < argc; ++a) {
            const std::string spec = argv[a];
            const PruneSchedule schedule = parse_prune_spec(spec);
            const EvalResult r32 = evaluate_images(fp32, images, schedule, opt);
            const EvalResult r8 = evaluate_images(int8, images, schedule, opt);
            int agree = 0;
            for (size_t i = 0; i < r32.per_image.size(); ++i) agree += r32.per_image[i].top1 == r8.per_image[i].top1;
            std::printf("%-20s fp32 top-1 %.2f top-5 %.2f | int8 top-1 %.2f top-5 %.2f | agreement %.2f %% (%d/%d)\n",
                        spec.c_str(), r32.top1(), r32.top5(), r8.top1(), r8.top5(),
                        100.0 * agree / double(r32.evaluated), agree, r32.evaluated);
            std::fflush(stdout);
        }
    } catch (const Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 2;
    }
    return 0;
}
