#include "profiler/model_latency.h"
#include "profiler/workloads.h"

#include <algorithm>
#include <chrono>

#include "profiler/measure.h"
#include "pomt/error.h"
#include "vit/forward.h"

namespace pomt {
namespace profiler {

namespace {

LatencyStats stats_of(std::vector<double>& ms) {
    std::sort(ms.begin(), ms.end());
    LatencyStats s;
    s.median_ms = quantile_sorted(ms, 0.5);
    s.p10_ms = quantile_sorted(ms, 0.1);
    s.p90_ms = quantile_sorted(ms, 0.9);
    s.min_ms = ms.front();
    s.runs = int(ms.size());
    return s;
}

}  // namespace

LatencyStats measure_model_latency(std::shared_ptr<const Model> model, const PruneSchedule& schedule, int threads,
                                   int batch, int runs, int warmup, std::vector<float> images,
                                   bool last_block_all_rows) {
    const ModelConfig& c = model->config();
    if (runs < 1) fail("at least one timed run is needed");
    const size_t floats = size_t(batch) * c.in_chans * c.img_size * c.img_size;
    if (images.empty()) {
        images.resize(floats);
        fill_pseudo_random(images, 12345);
    }
    if (images.size() != floats) fail("latency input has the wrong size for the model and batch");
    const ResolvedSchedule plan = resolve_schedule(schedule, c);
    std::unique_ptr<TokenPruner> pruner = make_pruner(plan, c);
    Session session(model, threads);
    RunOptions options;
    options.pruner = pruner.get();
    options.last_block_all_rows = last_block_all_rows;
    for (int i = 0; i < warmup; ++i) session.run(images.data(), batch, options);
    std::vector<double> ms;
    for (int i = 0; i < runs; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        session.run(images.data(), batch, options);
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    return stats_of(ms);
}

std::vector<LatencyStats> measure_schedules_interleaved(std::shared_ptr<const Model> model,
                                                        const std::vector<PruneSchedule>& schedules, int threads,
                                                        int batch, int runs, int warmup,
                                                        bool last_block_all_rows) {
    const ModelConfig& c = model->config();
    if (runs < 1) fail("at least one timed run is needed");
    std::vector<float> images(size_t(batch) * c.in_chans * c.img_size * c.img_size);
    fill_pseudo_random(images, 12345);
    std::vector<std::unique_ptr<TokenPruner>> pruners;
    for (const PruneSchedule& s : schedules) pruners.push_back(make_pruner(resolve_schedule(s, c), c));
    Session session(model, threads);  // one session, one thread pool: the schedules differ only in the pruner
    const size_t k = schedules.size();
    std::vector<std::vector<double>> ms(k);
    for (int it = -warmup; it < runs; ++it)
        for (size_t v = 0; v < k; ++v) {
            const size_t i = (v + size_t(std::max(0, it))) % k;  // rotate who goes first
            RunOptions o;
            o.pruner = pruners[i].get();
            o.last_block_all_rows = last_block_all_rows;
            auto t0 = std::chrono::steady_clock::now();
            session.run(images.data(), batch, o);
            double t = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
            if (it >= 0) ms[i].push_back(t);
        }
    std::vector<LatencyStats> out;
    for (std::vector<double>& m : ms) out.push_back(stats_of(m));
    return out;
}

}  // namespace profiler
}  // namespace pomt
