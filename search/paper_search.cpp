// search_schedule: n* = argmax U(n) with L(n) in model mode and A(n) by random pruning, POMT at one
// block pruning to n*, then the deployed schedule measured (search/utility.h does the
// coarse-to-fine arg max).
#include "api/internal.h"
#include "search/paper_search.h"

#include <algorithm>

#include "eval/evaluate.h"
#include "prune/prune_pomt.h"
#include "profiler/workloads.h"
#include "search/layer_search.h"
#include "search/utility.h"

namespace pomt {
namespace search {

namespace {

// L(n) at the requested counts from a profile CSV: its model-mode rows (or a mode-less file's).
std::vector<profiler::CurvePoint> read_latency_profile(const std::string& path, const SearchSetup& s) {
    std::vector<profiler::LatencyRow> rows = profiler::read_latency_csv(path);
    std::vector<profiler::CurvePoint> curve = profiler::select_curve(rows, "model", s.batch, s.threads_filter);
    if (curve.empty()) curve = profiler::select_curve(rows, "", s.batch, s.threads_filter);
    if (curve.empty())
        fail("'" + path + "' has no model-mode latency for batch " + std::to_string(s.batch) +
             (s.threads_filter ? " and " + std::to_string(s.threads) + " threads" : ""));
    std::vector<profiler::CurvePoint> picked = curve_at_counts(curve, s.counts);
    if (picked.size() < 2) fail("'" + path + "' covers fewer than 2 of the requested token counts");
    return picked;
}

}  // namespace

PruneSchedule pomt_at_layer(int r, int layer) {
    PruneStep step;
    step.kind = PruneStep::Pomt;
    step.r = {r};
    step.layer = layer;
    PruneSchedule s;
    if (r > 0) s.steps.push_back(step);
    return s;
}

ScheduleSearchResult run_paper_search(const SearchSetup& s, const ScheduleSearchOptions& o,
                                      const ProgressReporter& progress, bool verify) {
    const ModelConfig& c = s.model->config();
    ScheduleSearchResult out;
    describe_setup(s, o, &out);
    out.random_seed = o.random_seed;
    out.layer = s.layer;

    std::vector<profiler::CurvePoint> latency;
    if (!o.latency_csv.empty()) {
        latency = read_latency_profile(o.latency_csv, s);
        out.latency_source = o.latency_csv;
    } else {
        profiler::TokenWorkload workload(s.model, s.threads, s.batch, profiler::ProfileMode::Model);
        latency = measure_curve(s.counts, [&](int n) { return workload.run(n); }, s.measure, "L(n)", progress);
        out.latency_source = "measured here (model mode)";
    }
    out.latency = latency_points(latency);

    // A(n) on the estimation images, decoded once.
    int evaluated = 0;
    const int expected_evaluations = int(s.counts.size()) / o.coarse_step + 9;  // coarse grid + typical refinement
    auto accuracy_at = [&](int n) {
        PruneSchedule random;
        PruneStep step;
        step.kind = PruneStep::Random;
        step.keep = n;
        step.seed = o.random_seed;
        random.steps.push_back(step);
        EvalOptions eo;
        eo.threads = s.threads;
        double top1 = evaluate_prepared(s.model, s.images, random, eo).top1();
        ++evaluated;
        progress("A(n)", evaluated, std::max(evaluated + 1, expected_evaluations));
        return top1;
    };
    search::UtilitySearchOptions so;
    so.alpha = o.alpha;
    so.coarse_step = o.coarse_step;
    search::UtilitySearchResult search = search::search_utility(latency, accuracy_at, so);
    progress("A(n)", 1, 1);
    out.accuracy_evaluations = search.accuracy_evaluations;
    out.points = search.points;

    out.n_star = search.best_tokens;
    out.best = *std::find_if(out.points.begin(), out.points.end(), [&](const auto& p) { return p.tokens == out.n_star; });
    // POMT prunes to exactly n* tokens after the layer. The reference code measures L(n) with every
    // block at n but deploys R such that n* + 2 tokens remain; both are reported and measured.
    out.r = search::pomt_r_for(s.full_tokens, out.n_star, s.prefix);
    out.reference_r = std::max(0, out.r - 2);
    out.reference_tokens = pomt_tokens_after(s.full_tokens, s.prefix, out.reference_r);
    const PruneSchedule schedule = pomt_at_layer(out.r, s.layer);
    out.schedule = schedule_from_steps(schedule);
    out.description = resolve_schedule(schedule, c).describe();

    if (verify) {
        // The deployed schedule runs blocks 0..layer at N tokens: measure it instead of trusting L(n*).
        const VerifiedLatency v =
            verify_latency(s, {PruneSchedule(), schedule, pomt_at_layer(out.reference_r, s.layer)}, o, progress);
        const std::vector<double>& ms = v.ms;
        out.verified = true;
        out.verify_runs = o.verify_runs;
        out.verify_remeasured = v.remeasured;
        out.verify_warning = v.warning;
        out.baseline_ms = ms[0];
        out.schedule_ms = ms[1];
        out.reference_ms = ms[2];
    }
    return out;
}

}  // namespace search

ScheduleSearchResult search_schedule(const Classifier& model, const ScheduleSearchOptions& options) {
    search::SearchSetup setup = search::check_search_options(model, options);
    const search::ProgressReporter progress(options.progress);
    search::load_estimation_images(setup, options, progress);
    return search::run_paper_search(setup, options, progress, options.verify);
}

}  // namespace pomt
