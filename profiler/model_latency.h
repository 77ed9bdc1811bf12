// Whole-model latency of one configuration: warm-up, then repeated timed runs of one Session on a
// fixed input; median and spread. Used by `pomt bench`, `pomt eval` and `pomt schedule`;
// several configurations are compared by timing them interleaved. Every result counts its slow
// runs (profiler/measure.h, InterferenceRule) so a caller can tell a disturbed measurement.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "profiler/measure.h"
#include "vit/model.h"
#include "prune/pruning.h"

namespace pomt {
namespace profiler {

struct LatencyStats {
    double median_ms = 0, p10_ms = 0, p90_ms = 0, min_ms = 0;
    int runs = 0;
    int slow_runs = 0;         // runs over (1 + slow_excess) × p10
    bool median_slow = false;  // the median is one of them: most runs were slowed down
};

// Statistics of raw milliseconds (any order); slow runs by `rule`.
LatencyStats latency_stats(std::vector<double> ms, const InterferenceRule& rule = InterferenceRule());
// The counts of several measured configurations (none re-measured), for a verdict and a warning.
Disturbance disturbance_of(const std::vector<LatencyStats>& stats, const InterferenceRule& rule = InterferenceRule());

// `images`: batch × 3 × H × W; empty means a fixed pseudo-random batch (latency does not depend
// on the pixel values). `last_block_all_rows`: see RunOptions. Throws pomt::Error when the
// schedule cannot apply to the model.
LatencyStats measure_model_latency(std::shared_ptr<const Model> model, const PruneSchedule& schedule, int threads,
                                   int batch, int runs, int warmup, std::vector<float> images = {},
                                   bool last_block_all_rows = false);

// measure_model_latency with its verdict: the runs' Disturbance, the host load included
// (`pomt bench -m`, Python's Model.profile).
struct CheckedLatency {
    LatencyStats stats;
    Disturbance disturbance;
};
CheckedLatency measure_model_latency_checked(std::shared_ptr<const Model> model, const PruneSchedule& schedule,
                                             int threads, int batch, int runs, int warmup,
                                             bool last_block_all_rows = false);

// Median latencies of several schedules measured side by side: each run visits every schedule
// once (in a rotating order), so drift and background load land on all of them alike.
std::vector<LatencyStats> measure_schedules_interleaved(std::shared_ptr<const Model> model,
                                                        const std::vector<PruneSchedule>& schedules, int threads,
                                                        int batch, int runs, int warmup,
                                                        bool last_block_all_rows = false);
// The same with a model per schedule (one architecture; e.g. fp32 and int8 plans side by side).
std::vector<LatencyStats> measure_plans_interleaved(const std::vector<std::shared_ptr<const Model>>& models,
                                                    const std::vector<PruneSchedule>& schedules, int threads, int batch,
                                                    int runs, int warmup, bool last_block_all_rows = false);

// Whole-model latency at 1 thread and at `threads` (pomt bench's report). Measured back to back
// first (all 1-thread runs, then all T-thread runs); when T threads come out slower than 1, or
// faster than T times, a burst of other load may have hit one side only, so both are measured
// again interleaved in pairs (1, T, T, 1, ...) and that measurement is reported.
struct ThreadScaling {
    int threads = 0;
    LatencyStats one, many;     // reported: the interleaved re-measurement when there was one
    double first_speedup = 0;   // one / many of the back-to-back measurement
    bool remeasured = false;
    Disturbance disturbance;    // every run of both measurements (and the host load, when measured)
    double speedup() const { return many.median_ms > 0 ? one.median_ms / many.median_ms : 0; }
    bool slower() const { return many.median_ms > one.median_ms; }  // T threads slower than 1, as reported
};

// `run(t)` runs the workload once on t threads (t = 1 or `threads`) and returns its seconds.
ThreadScaling measure_thread_scaling(const RunOnce& run, int threads, int runs, int warmup,
                                     const InterferenceRule& rule = InterferenceRule());
// The model at batch 1 on a 1-thread and a `threads`-thread Session, with the host load measured.
ThreadScaling measure_thread_scaling(std::shared_ptr<const Model> model, int threads, int runs, int warmup);

// One line for configurations (name, scaling) measured together, "" when nothing is wrong: T threads
// still slower than 1 after the interleaved re-measurement — saying whether the machine looked busy
// (then the ratio says more about the other load than about the runtime) or quiet (then it is the
// runtime's own) — or, without that, a disturbed measurement.
std::string thread_scaling_warning(const std::vector<std::pair<std::string, ThreadScaling>>& results);

}  // namespace profiler
}  // namespace pomt
