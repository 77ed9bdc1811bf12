// pomt run: preprocessed images in (NPY float32 N×3×H×W), logits out (NPY float32 N×classes).
#include <algorithm>
#include <cstdio>

#include "cli/commands.h"
#include "cli/prune_args.h"
#include "pomt/error.h"
#include "vit/forward.h"
#include "core/npy.h"
#include "prune/pruning.h"

namespace pomt {

int cmd_run(const Args& args) {
    if (!args.positional().empty()) fail("unexpected argument '" + args.positional()[0] + "'");
    if (!args.has("--input")) fail("missing --input x.npy");
    if (!args.has("--output")) fail("missing --output logits.npy");
    const int threads = threads_from_args(args);
    const int chunk = args.get_int("--chunk", 16, 1, 4096);
    // Parse the schedule before the (slower) model load so a bad spec fails fast.
    const PruneSchedule schedule = schedule_from_args(args);
    NpyArray input = read_npy(args.get("--input"));
    std::shared_ptr<const Model> model = load_model_from_args(args);
    const ModelConfig& c = model->config();
    auto& s = input.shape;
    if (s.size() != 4 || s[0] < 1 || s[1] != c.in_chans || s[2] != c.img_size || s[3] != c.img_size)
        fail("input '" + args.get("--input") + "' must have shape (N, " + std::to_string(c.in_chans) + ", " +
             std::to_string(c.img_size) + ", " + std::to_string(c.img_size) + ") for this model");

    const ResolvedSchedule plan = resolve_schedule(schedule, c);
    print_prune_warnings(args, schedule, c);
    std::unique_ptr<TokenPruner> pruner = make_pruner(plan, c);

    Session session(model, threads);
    const int n = int(s[0]), outs = session.outputs();
    const size_t image_floats = size_t(s[1]) * s[2] * s[3];
    std::vector<float> logits(size_t(n) * outs);
    std::vector<int> tokens;
    RunOptions options;
    options.pruner = pruner.get();
    if (args.has("--verbose")) {
        options.tokens_after_block = &tokens;
        std::fprintf(stderr, "pruning: %s\n", plan.describe().c_str());
    }
    // Chunks bound the activation memory for long inputs; results do not depend on the chunking.
    for (int b = 0; b < n; b += chunk) {
        int count = std::min(chunk, n - b);
        std::vector<float> out = session.run(input.data.data() + size_t(b) * image_floats, count, options);
        std::copy(out.begin(), out.end(), logits.begin() + size_t(b) * outs);
        if (args.has("--verbose") && b == 0) {
            std::fprintf(stderr, "tokens after each block:");
            for (int t : tokens) std::fprintf(stderr, " %d", t);
            std::fprintf(stderr, "\n");
        }
    }
    write_npy(args.get("--output"), logits.data(), {n, outs});
    if (!args.has("--quiet"))
        std::printf("wrote %s: (%d, %d) float32 %s\n", args.get("--output").c_str(), n, outs,
                    c.num_classes > 0 ? "logits" : "pooled features");
    return 0;
}

}  // namespace pomt
