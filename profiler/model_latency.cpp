#include "profiler/model_latency.h"
#include "profiler/workloads.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "profiler/measure.h"
#include "pomt/error.h"
#include "vit/forward.h"

namespace pomt {
namespace profiler {

LatencyStats latency_stats(std::vector<double> ms, const InterferenceRule& rule) {
    LatencyStats s;
    if (ms.empty()) return s;
    std::sort(ms.begin(), ms.end());
    s.median_ms = quantile_sorted(ms, 0.5);
    s.p10_ms = quantile_sorted(ms, 0.1);
    s.p90_ms = quantile_sorted(ms, 0.9);
    s.min_ms = ms.front();
    s.runs = int(ms.size());
    s.slow_runs = count_slow_runs(ms, rule.slow_excess);
    s.median_slow = median_is_slow(ms, rule.slow_excess);
    return s;
}

Disturbance disturbance_of(const std::vector<LatencyStats>& stats, const InterferenceRule& rule) {
    Disturbance d;
    d.rule = rule;
    for (const LatencyStats& s : stats) d.add(s.runs, s.slow_runs, s.median_slow);
    return d;
}

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
    return latency_stats(std::move(ms));
}

CheckedLatency measure_model_latency_checked(std::shared_ptr<const Model> model, const PruneSchedule& schedule,
                                             int threads, int batch, int runs, int warmup, bool last_block_all_rows) {
    HostLoadMeter load;
    CheckedLatency c;
    c.stats = measure_model_latency(model, schedule, threads, batch, runs, warmup, {}, last_block_all_rows);
    c.disturbance = disturbance_of({c.stats});
    c.disturbance.load = load.read();
    return c;
}

std::vector<LatencyStats> measure_schedules_interleaved(std::shared_ptr<const Model> model,
                                                        const std::vector<PruneSchedule>& schedules, int threads,
                                                        int batch, int runs, int warmup,
                                                        bool last_block_all_rows) {
    return measure_plans_interleaved(std::vector<std::shared_ptr<const Model>>(schedules.size(), model), schedules, threads,
                                     batch, runs, warmup, last_block_all_rows);
}

std::vector<LatencyStats> measure_plans_interleaved(const std::vector<std::shared_ptr<const Model>>& models,
                                                    const std::vector<PruneSchedule>& schedules, int threads, int batch,
                                                    int runs, int warmup, bool last_block_all_rows) {
    if (models.size() != schedules.size() || models.empty()) fail("one model per schedule is needed");
    const ModelConfig& c = models[0]->config();
    if (runs < 1) fail("at least one timed run is needed");
    std::vector<float> images(size_t(batch) * c.in_chans * c.img_size * c.img_size);
    fill_pseudo_random(images, 12345);
    std::vector<std::unique_ptr<TokenPruner>> pruners;
    for (const PruneSchedule& s : schedules) pruners.push_back(make_pruner(resolve_schedule(s, c), c));
    // One session (one thread pool) per distinct model: plans of one model differ only in the pruner.
    std::vector<std::unique_ptr<Session>> sessions;
    std::vector<Session*> session_of;
    for (size_t i = 0; i < models.size(); ++i) {
        size_t j = 0;
        while (j < i && models[j] != models[i]) ++j;
        if (j == i) {
            sessions.push_back(std::make_unique<Session>(models[i], threads));
            session_of.push_back(sessions.back().get());
        } else {
            session_of.push_back(session_of[j]);
        }
    }
    const size_t k = schedules.size();
    std::vector<std::vector<double>> ms(k);
    for (int it = -warmup; it < runs; ++it)
        for (size_t v = 0; v < k; ++v) {
            const size_t i = (v + size_t(std::max(0, it))) % k;  // rotate who goes first
            RunOptions o;
            o.pruner = pruners[i].get();
            o.last_block_all_rows = last_block_all_rows;
            auto t0 = std::chrono::steady_clock::now();
            session_of[i]->run(images.data(), batch, o);
            double t = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
            if (it >= 0) ms[i].push_back(t);
        }
    std::vector<LatencyStats> out;
    for (std::vector<double>& m : ms) out.push_back(latency_stats(std::move(m)));
    return out;
}

ThreadScaling measure_thread_scaling(const RunOnce& run, int threads, int runs, int warmup,
                                     const InterferenceRule& rule) {
    if (!run) fail("measure_thread_scaling: no workload");
    if (threads < 1) fail("threads must be at least 1, got " + std::to_string(threads));
    if (runs < 1) fail("at least one timed run is needed");
    auto back_to_back = [&](int t) {
        for (int i = 0; i < warmup; ++i) run(t);
        std::vector<double> ms;
        for (int i = 0; i < runs; ++i) {
            double secs = run(t);
            if (!(secs >= 0) || !std::isfinite(secs)) fail("the workload reported an invalid time");
            ms.push_back(1e3 * secs);
        }
        return latency_stats(std::move(ms), rule);
    };
    ThreadScaling r;
    r.threads = threads;
    r.one = back_to_back(1);
    r.many = threads > 1 ? back_to_back(threads) : r.one;
    r.first_speedup = r.speedup();
    r.disturbance = disturbance_of(threads > 1 ? std::vector<LatencyStats>{r.one, r.many}
                                               : std::vector<LatencyStats>{r.one},
                                   rule);
    // A burst of other load during one side's runs makes that side slow: T threads "slower" than 1,
    // or more than T times faster. Measured side by side, a burst lands on both.
    if (threads > 1 && (r.speedup() < 1 || r.speedup() > threads)) {
        for (int i = 0; i < warmup; ++i) {
            run(1);
            run(threads);
        }
        PairedOptions po;
        po.min_pairs = po.max_pairs = runs;
        po.max_seconds = 0;
        PairedResult p = measure_paired(1, threads, run, po, nullptr, rule);
        r.one = latency_stats(p.a_ms, rule);
        r.many = latency_stats(p.b_ms, rule);
        r.remeasured = true;
        r.disturbance.merge(disturbance_of({r.one, r.many}, rule));
    }
    return r;
}

ThreadScaling measure_thread_scaling(std::shared_ptr<const Model> model, int threads, int runs, int warmup) {
    const ModelConfig& c = model->config();
    std::vector<float> images(size_t(c.in_chans) * c.img_size * c.img_size);
    fill_pseudo_random(images, 12345);
    // Both sessions live throughout; the idle one's workers sleep (kernels/threads.h) while the
    // other runs.
    Session one(model, 1), many(model, threads);
    HostLoadMeter load;
    ThreadScaling r = measure_thread_scaling(
        [&](int t) {
            Session& s = t == 1 ? one : many;
            auto t0 = std::chrono::steady_clock::now();
            s.run(images.data(), 1, RunOptions());
            return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        },
        threads, runs, warmup);
    r.disturbance.load = load.read();
    return r;
}

std::string thread_scaling_warning(const std::vector<std::pair<std::string, ThreadScaling>>& results) {
    Disturbance all;
    std::string slower;
    char buf[160];
    for (const auto& nr : results) {
        const ThreadScaling& r = nr.second;
        all.merge(r.disturbance);
        all.rule = r.disturbance.rule;
        if (!r.slower()) continue;
        std::snprintf(buf, sizeof buf, "%s%s %.2f×", slower.empty() ? "" : ", ", nr.first.c_str(), r.speedup());
        slower += buf;
    }
    if (results.empty()) return "";
    const int threads = results.front().second.threads;
    if (!slower.empty()) {
        const bool again =
            std::any_of(results.begin(), results.end(), [](const auto& nr) { return nr.second.remeasured; });
        std::string s = "warning: " + std::to_string(threads) + " threads were slower than 1 (" + slower + ")" +
                        (again ? " even measured again interleaved" : "");
        if (all.disturbed())
            return s + ", but the machine looked busy (" + all.describe("configuration") +
                   "): the ratio says more about the other load than about pomt; rerun on a quiet machine";
        return s + ", and the machine looked quiet: at this size the threads cost more than they save";
    }
    return all.warning("the benchmark", "configuration");
}

}  // namespace profiler
}  // namespace pomt
