// search_joint_schedule: the prune block and the tokens left chosen jointly (search/layer_search.h
// does the coarse-to-fine search), compared with the paper's choice, both verified side by side.
#include <algorithm>

#include "api/internal.h"
#include "eval/evaluate.h"
#include "profiler/steps.h"
#include "search/block_table_source.h"
#include "search/layer_search.h"
#include "search/paper_search.h"

namespace pomt {
namespace search {

namespace {

// A POMT-only schedule file as a plan: each POMT block and the tokens it leaves.
search::PrunePlan plan_from_schedule_file(const std::string& path, const ModelConfig& c) {
    ResolvedSchedule r = resolve_schedule(load_schedule_file(path), c);
    if (r.keep) fail("'" + path + "': --compare needs a POMT-only schedule (it has random pruning)");
    search::PrunePlan plan;
    for (int b = 0; b < c.depth; ++b) {
        const LayerAction& a = r.layers[size_t(b)];
        if (a.method == PruneMethod::None || a.r == 0) continue;
        if (a.method != PruneMethod::Pomt)
            fail("'" + path + "': --compare needs a POMT-only schedule (block " + std::to_string(b) + " uses " +
                 prune_method_name(a.method) + ")");
        plan.push_back({b, r.tokens_after_block[size_t(b)]});
    }
    return plan;
}

PlanOutcome outcome(const search::PlanResult& p, const ModelConfig& c) {
    PlanOutcome o;
    int n = c.num_tokens();
    for (const search::PrunePoint& q : p.plan) {
        o.prunes.push_back({q.layer, q.tokens, search::pomt_r_for(n, q.tokens, c.num_prefix_tokens())});
        n = q.tokens;
    }
    o.description = resolve_schedule(search::plan_schedule(p.plan, c), c).describe();
    o.predicted_ms = p.latency_ms;
    o.top1 = p.accuracy;
    o.utility = p.utility;
    return o;
}

}  // namespace

}  // namespace search

JointSearchResult search_joint_schedule(const Classifier& model, const JointSearchOptions& o) {
    using namespace search;
    SearchSetup s = check_search_options(model, o);
    if (o.grid_step < 1) fail("grid_step must be at least 1, got " + std::to_string(o.grid_step));
    if (o.max_prunes < 1 || o.max_prunes > 2) fail("max_prunes must be 1 or 2, got " + std::to_string(o.max_prunes));
    const ModelConfig& c = s.model->config();
    // Files the search depends on are checked before any work.
    search::PrunePlan paper_plan;
    if (!o.compare_schedule.empty()) paper_plan = plan_from_schedule_file(o.compare_schedule, c);
    if (!o.block_latency_csv.empty())
        block_curve_from_csv(profiler::read_latency_csv(o.block_latency_csv), o.block_latency_csv, s);
    const ProgressReporter progress(o.progress);
    load_estimation_images(s, o, progress);

    JointSearchResult out;
    describe_setup(s, o, &out);
    out.max_prunes = o.max_prunes;

    // The paper's choice, to compare with: from a schedule file, or computed here.
    if (!o.compare_schedule.empty()) {
        out.paper_source = o.compare_schedule;
    } else {
        out.paper_search = run_paper_search(s, o, progress, false);
        out.paper_computed = true;
        if (out.paper_search.r > 0) paper_plan = {{s.layer, out.paper_search.n_star}};
        out.paper_source = "computed here (paper method, layer " + std::to_string(s.layer) + ")";
    }

    const search::BlockLatencyTable table = block_latency_table(s, o, progress, &out.block_latency_source);
    const profiler::StepAnalysis steps = profiler::detect_steps(table.block);
    const int lowest = std::max(s.prefix + 2, table.block.front().tokens);
    const int highest = std::min(s.full_tokens - 1, s.full_tokens + s.prefix - 2);  // R >= 1
    std::vector<int> extra;
    for (const auto& p : paper_plan) extra.push_back(p.tokens);
    search::LayerSearchOptions so;
    so.alpha = o.alpha;
    so.max_prunes = o.max_prunes;
    so.layers = search::default_candidate_layers(c.depth, table.last_block_pooled());
    for (const auto& p : paper_plan)
        if (!std::count(so.layers.begin(), so.layers.end(), p.layer)) so.layers.push_back(p.layer);
    std::sort(so.layers.begin(), so.layers.end());
    so.tokens = search::candidate_token_counts(steps.steps, lowest, highest + 1, o.grid_step, extra);
    if (!paper_plan.empty()) so.also_measure.push_back(paper_plan);

    int evaluated = 0;
    const int expected =
        so.seed_layers * so.seed_tokens + (o.max_prunes > 1 ? (so.seed_layers - 1) * (so.seed_tokens - 1) : 0) + 16;
    auto accuracy = [&](const search::PrunePlan& plan) {
        EvalOptions eo;
        eo.threads = s.threads;
        double top1 = evaluate_prepared(s.model, s.images, search::plan_schedule(plan, c), eo).top1();
        ++evaluated;
        progress("search", evaluated, std::max(evaluated + 1, expected));
        return top1;
    };
    search::LayerSearchResult r = search::search_layers(table, accuracy, so);
    progress("search", 1, 1);

    out.block_latency = latency_points(table.block);
    for (const auto& st : steps.steps) out.block_steps_to.push_back(st.to_tokens);
    out.overhead_ms = table.overhead_ms;
    out.after_prune_share = table.after_prune_share;
    out.last_block_share = table.last_block_share;
    out.latency_max_ms = r.latency_max_ms;
    out.accuracy_max = r.accuracy_max;
    out.candidate_layers = so.layers;
    out.candidate_tokens = so.tokens;
    out.accuracy_evaluations = r.accuracy_evaluations;
    for (const auto& m : r.measured) out.evaluations.push_back(outcome(m, c));
    out.baseline = outcome(r.baseline, c);
    out.paper = outcome(r.result_for(paper_plan), c);
    out.best_single = outcome(r.best_single, c);
    out.chosen = outcome(r.best, c);
    const PruneSchedule chosen = search::plan_schedule(r.best.plan, c);
    out.schedule = schedule_from_steps(chosen);
    out.description = out.chosen.description;

    if (o.verify) {
        const VerifiedLatency v =
            verify_latency(s, {PruneSchedule(), search::plan_schedule(paper_plan, c), chosen}, o, progress);
        const std::vector<double>& ms = v.ms;
        out.verified = true;
        out.verify_runs = o.verify_runs;
        out.verify_remeasured = v.remeasured;
        out.verify_warning = v.warning;
        out.baseline_ms = ms[0];
        out.paper_ms = ms[1];
        out.schedule_ms = ms[2];
    }
    return out;
}

}  // namespace pomt
