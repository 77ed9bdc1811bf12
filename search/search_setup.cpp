#include "search/search_setup.h"

#include <algorithm>

#include "api/internal.h"
#include "eval/dataset.h"
#include "kernels/threads.h"
#include "pomt/error.h"
#include "profiler/model_latency.h"
#include "prune/prune_pomt.h"

namespace pomt {
namespace search {

void ProgressReporter::operator()(const std::string& phase, int done, int total) const {
    if (!fn_) return;
    SearchProgress p;
    p.phase = phase;
    p.done = done;
    p.total = total;
    if (!fn_(p)) fail("schedule search cancelled (during " + phase + ")");
}

}  // namespace search

TokenBounds search_token_bounds(const Classifier& model) {
    const ModelConfig& c = model_of(model)->config();
    const int n = c.num_tokens(), prefix = c.num_prefix_tokens();
    // Counts POMT can reach at one block: it keeps at least one patch token plus the merged one.
    const int lowest = pomt_tokens_after(n, prefix, n - prefix - 2);
    return {std::max(lowest, prefix + 1), n};
}

namespace search {

SearchSetup check_search_options(const Classifier& model, const ScheduleSearchOptions& o) {
    SearchSetup s;
    s.model = model_of(model);
    const ModelConfig& c = s.model->config();
    if (o.data.empty()) fail("no estimation images given (ScheduleSearchOptions::data: a labelled list or class folders)");
    if (!(o.alpha >= 0 && o.alpha <= 1)) fail("alpha must be between 0 and 1, got " + std::to_string(o.alpha));
    if (o.layer < -1 || o.layer >= c.depth)
        fail("layer " + std::to_string(o.layer) + " is outside the model's blocks 0.." + std::to_string(c.depth - 1));
    s.layer = o.layer < 0 ? std::min(3, c.depth - 1) : o.layer;
    if (o.threads < 0) fail("threads must be >= 0 (0: every core), got " + std::to_string(o.threads));
    if (o.max_images < 0) fail("max_images must be >= 0 (0: all), got " + std::to_string(o.max_images));
    if (o.batch < 1) fail("batch must be at least 1, got " + std::to_string(o.batch));
    if (o.verify_runs < 1) fail("verify_runs must be at least 1, got " + std::to_string(o.verify_runs));
    if (o.coarse_step < 1) fail("coarse_step must be at least 1, got " + std::to_string(o.coarse_step));
    s.threads = o.threads > 0 ? o.threads : ThreadPool::hardware_threads();
    s.threads_filter = o.threads;
    s.batch = o.batch;
    s.full_tokens = c.num_tokens();
    s.prefix = c.num_prefix_tokens();
    s.measure = o.fast ? profiler::MeasureOptions::fast() : profiler::MeasureOptions();

    const TokenBounds bounds = search_token_bounds(model);
    const int first = o.min_tokens > 0 ? o.min_tokens : bounds.lowest;
    const int last = o.max_tokens > 0 ? o.max_tokens : bounds.highest;
    if (o.min_tokens < 0 || o.max_tokens < 0 || o.token_step < 1)
        fail("min_tokens and max_tokens must be >= 0 (0: the model's bound) and token_step >= 1");
    if (first > last)
        fail("token range " + std::to_string(first) + ".." + std::to_string(last) + " is empty (min_tokens > max_tokens)");
    if (first < bounds.lowest)
        fail("min_tokens " + std::to_string(first) + " is below " + std::to_string(bounds.lowest) +
             ", the fewest tokens one POMT prune leaves on this model");
    if (last > bounds.highest)
        fail("max_tokens " + std::to_string(last) + " is above the model's " + std::to_string(bounds.highest) + " tokens");
    for (int n = first; n <= last; n += o.token_step) s.counts.push_back(n);
    return s;
}

void load_estimation_images(SearchSetup& s, const ScheduleSearchOptions& o, const ProgressReporter& progress) {
    std::vector<LabelledImage> list = load_dataset(o.data, o.root, s.model->config().num_classes);
    EvalOptions eo;
    eo.threads = s.threads;
    eo.limit = o.max_images;
    eo.skip_bad = o.skip_bad;
    eo.progress = [&](int done, int total) { progress("images", done, total); };
    s.images = prepare_images(*s.model, list, eo);
    if (s.images.crops.empty()) fail("no readable estimation images");
}

VerifiedLatency verify_latency(const SearchSetup& s, const std::vector<PruneSchedule>& schedules,
                               const ScheduleSearchOptions& o, const ProgressReporter& progress) {
    return verify_latency(s, std::vector<std::shared_ptr<const Model>>(schedules.size(), s.model), schedules, o, progress);
}

VerifiedLatency verify_latency(const SearchSetup& s, const std::vector<std::shared_ptr<const Model>>& models,
                               const std::vector<PruneSchedule>& schedules, const ScheduleSearchOptions& o,
                               const ProgressReporter& progress) {
    VerifiedLatency out;
    auto measure = [&](profiler::Disturbance* d) {
        profiler::HostLoadMeter load;
        auto m = profiler::measure_plans_interleaved(models, schedules, s.threads, s.batch, o.verify_runs, 3);
        *d = profiler::disturbance_of(m);
        d->load = load.read();
        return m;
    };
    progress("verify", 0, 1);
    profiler::Disturbance disturbance;
    std::vector<profiler::LatencyStats> measured = measure(&disturbance);
    if (disturbance.disturbed()) {
        // Once more, at another time; the second measurement is the one reported.
        out.remeasured = true;
        progress("verify", 1, 2);
        measured = measure(&disturbance);
        out.warning = disturbance.warning("the verification (measured twice)", "schedule");
        progress("verify", 2, 2);
    } else {
        progress("verify", 1, 1);
    }
    for (const auto& m : measured) out.ms.push_back(m.median_ms);
    return out;
}

std::vector<profiler::CurvePoint> curve_at_counts(const std::vector<profiler::CurvePoint>& curve,
                                                  const std::vector<int>& counts) {
    std::vector<profiler::CurvePoint> picked;
    for (int n : counts) {
        auto it = std::find_if(curve.begin(), curve.end(), [&](const profiler::CurvePoint& p) { return p.tokens == n; });
        if (it != curve.end()) picked.push_back(*it);
    }
    return picked;
}

std::vector<profiler::CurvePoint> measure_curve(const std::vector<int>& counts, const profiler::RunOnce& run,
                                                const profiler::MeasureOptions& options, const std::string& phase,
                                                const ProgressReporter& progress) {
    auto stats = profiler::measure_points(counts, run, options, [&](const profiler::Progress& p) {
        progress(phase, p.points_done, p.points_total);
    });
    std::vector<profiler::CurvePoint> curve;
    for (const auto& s : stats) curve.push_back({s.point, s.median_ms, s.p10_ms, s.p90_ms, s.runs});
    std::sort(curve.begin(), curve.end(), [](const auto& a, const auto& b) { return a.tokens < b.tokens; });
    return curve;
}

std::vector<LatencyPoint> latency_points(const std::vector<profiler::CurvePoint>& curve) {
    std::vector<LatencyPoint> out;
    for (const auto& p : curve) out.push_back({p.tokens, p.median_ms, p.p10_ms, p.p90_ms, p.runs});
    return out;
}

std::vector<profiler::CurvePoint> curve_points(const std::vector<LatencyPoint>& points) {
    std::vector<profiler::CurvePoint> out;
    for (const auto& p : points) out.push_back({p.tokens, p.median_ms, p.p10_ms, p.p90_ms, p.runs});
    return out;
}

}  // namespace search
}  // namespace pomt
