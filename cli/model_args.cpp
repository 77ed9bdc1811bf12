#include "cli/commands.h"
#include "kernels/threads.h"
#include "pomt/error.h"
#include "vit/forward.h"
#include "core/memory_limit.h"

namespace pomt {

std::shared_ptr<const Model> load_model_from_args(const Args& args) {
    bool file = args.has("-m"), arch = args.has("--arch");
    if (file == arch) fail("give exactly one of -m model.pomt or --arch NAME");
    // Process-wide: the Sessions the command creates, and reading a file that cannot be mapped.
    if (args.has("--max-memory")) set_default_memory_limit(parse_memory_size(args.get("--max-memory"), "--max-memory"));
    std::shared_ptr<const Model> model;
    if (file) {
        model = Model::load(args.get("-m"));
    } else {
        int seed = args.get_int("--seed", 0, 0, 1 << 30);
        model = Model::random(args.get("--arch"), uint64_t(seed));
    }
    check_model_memory(model->config(), default_memory_limit());
    return model;
}

int threads_from_args(const Args& args) {
    return args.get_int("--threads", ThreadPool::hardware_threads(), 1, 1024);
}

}  // namespace pomt
