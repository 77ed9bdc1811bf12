// Whole-model latency of one configuration: warm-up, then repeated timed runs of one Session on a
// fixed input; median and spread. Used by `pomt bench`, `pomt eval` and `pomt schedule`;
// several configurations are compared by timing them interleaved.
#pragma once
#include <memory>
#include <vector>

#include "vit/model.h"
#include "prune/pruning.h"

namespace pomt {
namespace profiler {

struct LatencyStats {
    double median_ms = 0, p10_ms = 0, p90_ms = 0, min_ms = 0;
    int runs = 0;
};

// `images`: batch × 3 × H × W; empty means a fixed pseudo-random batch (latency does not depend
// on the pixel values). `last_block_all_rows`: see RunOptions. Throws pomt::Error when the
// schedule cannot apply to the model.
LatencyStats measure_model_latency(std::shared_ptr<const Model> model, const PruneSchedule& schedule, int threads,
                                   int batch, int runs, int warmup, std::vector<float> images = {},
                                   bool last_block_all_rows = false);

// Median latencies of several schedules measured side by side: each run visits every schedule
// once (in a rotating order), so drift and background load land on all of them alike.
std::vector<LatencyStats> measure_schedules_interleaved(std::shared_ptr<const Model> model,
                                                        const std::vector<PruneSchedule>& schedules, int threads,
                                                        int batch, int runs, int warmup,
                                                        bool last_block_all_rows = false);

}  // namespace profiler
}  // namespace pomt
