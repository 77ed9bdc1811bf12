#include "cli/prune_args.h"

#include "pomt/error.h"

namespace pomt {

PruneSchedule schedule_from_args(const Args& args) {
    // `--prune ""` would otherwise silently mean "no pruning".
    if (args.has("--prune") && args.get("--prune").empty()) fail("--prune needs a spec, e.g. pomt:R=56,layer=3");
    return schedule_from_options(args.get("--prune"), args.get("--schedule"));
}

}  // namespace pomt
