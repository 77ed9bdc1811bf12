#include "cli/commands.h"
#include "kernels/threads.h"
#include "vit/error.h"

namespace pomt {

std::shared_ptr<const Model> load_model_from_args(const Args& args) {
    bool file = args.has("-m"), arch = args.has("--arch");
    if (file == arch) fail("give exactly one of -m model.pomt or --arch NAME");
    if (file) return Model::load(args.get("-m"));
    int seed = args.get_int("--seed", 0, 0, 1 << 30);
    return Model::random(args.get("--arch"), uint64_t(seed));
}

int threads_from_args(const Args& args) {
    return args.get_int("--threads", ThreadPool::hardware_threads(), 1, 1024);
}

}  // namespace pomt
