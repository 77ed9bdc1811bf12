// The paper's computation behind search_schedule (include/pomt/search.h), also the joint
// search's point of comparison.
#pragma once
#include "pomt/search.h"
#include "prune/pruning.h"
#include "search/search_setup.h"

namespace pomt {
namespace search {

// POMT with `r` at `layer` (no step when r is 0).
PruneSchedule pomt_at_layer(int r, int layer);

// L(n), A(n), n* and the schedule on the prepared setup; the interleaved verification when `verify`.
ScheduleSearchResult run_paper_search(const SearchSetup& setup, const ScheduleSearchOptions& options,
                                      const ProgressReporter& progress, bool verify);

}  // namespace search
}  // namespace pomt
