// The Pareto search's candidate plans: every method pomt runs over a spread of strengths, as
// --prune specs, and the latency the block tables predict for any resolved schedule.
#pragma once
#include <string>
#include <vector>

#include "prune/pruning.h"
#include "search/layer_search.h"
#include "vit/config.h"

namespace pomt {
namespace search {

struct CandidateSpec {
    std::string method, family, spec;
};

// For a model of this shape. POMT: one prune at ~6 blocks × 8 R (R from 5 % to 70 % of the tokens)
// and 4 two-prune plans; Top-K and ToMe: constant r (8 values up to what leaves a patch token) and
// per-block lists with the same total at 3 strengths: decreasing, increasing, from block depth/4 and
// depth/2; random: 4 keep counts. `fast`: about half of each. Invalid ones (for tiny models) are
// left out. No prune is placed at a pooled last block (it changes nothing there).
std::vector<CandidateSpec> pareto_candidates(const ModelConfig& config, bool fast, bool last_block_pooled);

// overhead + Σ blocks (the pruning-block rule and the pooled last block of layer_search.h) for
// the tokens entering and leaving each block. Top-K's scoring and ToMe's matching are not in B(n):
// the prediction ranks candidates; the front is measured for real.
double predict_schedule_ms(const search::BlockLatencyTable& table, const ResolvedSchedule& schedule);

}  // namespace search
}  // namespace pomt
