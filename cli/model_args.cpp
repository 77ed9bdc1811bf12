#include <cstdio>

#include "cli/commands.h"
#include "kernels/gemm_bf16_kernels.h"
#include "core/memory_limit.h"
#include "kernels/gemm_int8_kernels.h"
#include "kernels/threads.h"
#include "pomt/error.h"
#include "prune/pruning.h"
#include "quantize/quantize_model.h"
#include "vit/forward.h"

namespace pomt {

void apply_max_memory(const Args& args) {
    // Process-wide: the Sessions the command creates, and reading a file that cannot be mapped.
    if (args.has("--max-memory")) set_default_memory_limit(parse_memory_size(args.get("--max-memory"), "--max-memory"));
}

std::shared_ptr<const Model> load_model_from_args(const Args& args) {
    bool file = args.has("-m"), arch = args.has("--arch");
    if (file == arch) fail("give exactly one of -m model.pomt or --arch NAME");
    apply_max_memory(args);
    std::shared_ptr<const Model> model;
    if (file) {
        model = Model::load(args.get("-m"));
    } else {
        int seed = args.get_int("--seed", 0, 0, 1 << 30);
        model = Model::random(args.get("--arch"), uint64_t(seed));
    }
    // A schedule file chosen in another precision (the Pareto search's "precision") runs in it.
    if (args.declares("--schedule") && args.has("--schedule"))
        model = model_in_precision(model, load_schedule_file(args.get("--schedule")).precision);
    check_model_memory(*model, default_memory_limit());
    return model;
}

int threads_from_args(const Args& args) {
    return args.get_int("--threads", ThreadPool::hardware_threads(), 1, 1024);
}

std::string precision_text(const Model& model) {
    if (model.is_int8()) return "int8 (" + std::string(active_int8_variant()) + " kernels)";
    if (model.is_bf16()) return "bf16 (" + std::string(active_bf16_variant()) + " kernels)";
    return model.precision();
}

void print_prune_warnings(const Args& args, const PruneSchedule& schedule, const ModelConfig& config,
                          bool last_block_all_rows, const std::string& which) {
    for (const std::string& w : schedule_warnings(schedule, config, last_block_all_rows))
        std::fprintf(stderr, "pomt %s: warning: %s%s\n", args.command().name,
                     which.empty() ? "" : one_line(which + ": ").c_str(), one_line(w).c_str());
}

}  // namespace pomt
