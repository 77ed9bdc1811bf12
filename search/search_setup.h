// What both schedule searches (include/pomt/search.h) start from: the options checked against the
// model with their defaults resolved, the estimation images decoded once, and the progress
// reporter that turns the caller's `false` into cancellation.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "eval/evaluate.h"
#include "pomt/search.h"
#include "profiler/latency_curve.h"
#include "profiler/measure.h"
#include "prune/pruning.h"
#include "vit/model.h"

namespace pomt {
namespace search {

// Forwards progress to the caller's callback; throws pomt::Error when it asks to stop.
class ProgressReporter {
public:
    explicit ProgressReporter(SearchProgressFn fn) : fn_(std::move(fn)) {}
    void operator()(const std::string& phase, int done, int total) const;

private:
    SearchProgressFn fn_;
};

struct SearchSetup {
    std::shared_ptr<const Model> model;
    int threads = 1;         // resolved (never 0)
    int threads_filter = 0;  // the thread count a CSV's rows must match; 0: any (options.threads was 0)
    int batch = 1, layer = 0, full_tokens = 0, prefix = 0;
    std::vector<int> counts;  // the token counts of L(n) and A(n), ascending
    profiler::MeasureOptions measure;
    PreparedImages images;
};

// Checks the options shared by both searches against the model (nothing measured or read yet).
SearchSetup check_search_options(const Classifier& model, const ScheduleSearchOptions& options);
// Reads and decodes the estimation images into setup.images.
void load_estimation_images(SearchSetup& setup, const ScheduleSearchOptions& options, const ProgressReporter& progress);

// What every result records about the search: the model, threads, batch, images, tokens, alpha.
template <class Result>
void describe_setup(const SearchSetup& s, const ScheduleSearchOptions& o, Result* out) {
    out->architecture = s.model->config().architecture;
    out->threads = s.threads;
    out->batch = s.batch;
    out->images = int(s.images.crops.size());
    out->tokens_full = s.full_tokens;
    out->alpha = o.alpha;
}

// Median latencies of `schedules` measured side by side (options.verify_runs interleaved runs, so
// load and clock drift land on all alike), reported as the "verify" phase. When the runs look
// disturbed (profiler/measure.h, Disturbance: slow runs, a slow median, a busy host) they are
// measured once more and the second measurement is reported; `warning` is set ("warning: ...")
// when that one looks disturbed too.
struct VerifiedLatency {
    std::vector<double> ms;
    bool remeasured = false;
    std::string warning;
};
VerifiedLatency verify_latency(const SearchSetup& setup, const std::vector<PruneSchedule>& schedules,
                               const ScheduleSearchOptions& options, const ProgressReporter& progress);
// The same with a model per schedule (plans in several precisions); `models` parallels `schedules`.
VerifiedLatency verify_latency(const SearchSetup& setup, const std::vector<std::shared_ptr<const Model>>& models,
                               const std::vector<PruneSchedule>& schedules, const ScheduleSearchOptions& options,
                               const ProgressReporter& progress);

// The points of `curve` at `counts` (those it has), in the order of `counts`.
std::vector<profiler::CurvePoint> curve_at_counts(const std::vector<profiler::CurvePoint>& curve,
                                                  const std::vector<int>& counts);
// Median latencies of `run` at each count, progress reported under `phase`, ascending by tokens.
std::vector<profiler::CurvePoint> measure_curve(const std::vector<int>& counts, const profiler::RunOnce& run,
                                                const profiler::MeasureOptions& options, const std::string& phase,
                                                const ProgressReporter& progress);

// Between the public structs and the profiler's curve points.
std::vector<LatencyPoint> latency_points(const std::vector<profiler::CurvePoint>& curve);
std::vector<profiler::CurvePoint> curve_points(const std::vector<LatencyPoint>& points);

}  // namespace search
}  // namespace pomt
