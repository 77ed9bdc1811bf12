// Where the joint search's latency model comes from: B(n) and the model's latency at N tokens from
// a `pomt profile --mode block` CSV or measured here, and the shares of a block that a pruning
// block and the last block run (measured here in op mode: shares carry over to another device's
// CSV well enough for a prediction).
#pragma once
#include <string>
#include <vector>

#include "profiler/latency_curve.h"
#include "search/layer_search.h"
#include "search/search_setup.h"

namespace pomt {
namespace search {

// The CSV's block-mode curve for the setup's batch (and thread filter); throws pomt::Error naming
// the file when it has none.
std::vector<profiler::CurvePoint> block_curve_from_csv(const std::vector<profiler::LatencyRow>& rows,
                                                       const std::string& path, const SearchSetup& setup);

// B(n) at the setup's counts (and N), the overhead, the shares. `source` says where each came from.
search::BlockLatencyTable block_latency_table(const SearchSetup& setup, const JointSearchOptions& options,
                                                const ProgressReporter& progress, std::string* source);

}  // namespace search
}  // namespace pomt
