// The schedule files the searches produce (docs/SCHEDULES.md): the schedule in its per-layer form
// with everything the search saw recorded under "search", so a file says how it was made.
#include <string>
#include <utility>
#include <vector>

#include "api/internal.h"
#include "core/json.h"
#include "pomt/error.h"
#include "profiler/device.h"
#include "search/layer_search.h"
#include "search/paper_search.h"

namespace pomt {

namespace {

template <class T>
json::Value numbers(const std::vector<T>& v) {
    json::Value a = json::Value::array();
    for (T x : v) a.push_back(json::Value::number(double(x)));
    return a;
}

// {"name": [numbers], ...}: a curve as named columns.
json::Value columns(const std::vector<std::pair<const char*, std::vector<double>>>& named) {
    json::Value v = json::Value::object();
    for (const auto& c : named) v.set(c.first, numbers(c.second));
    return v;
}

// The record's first keys, alike for both searches.
template <class Result>
json::Value search_record(const std::string& method, const Result& r) {
    json::Value sj = json::Value::object();
    sj.set("method", json::Value::string(method));
    sj.set("model", json::Value::string(r.architecture));
    sj.set("device", profiler::device_json(r.threads));
    sj.set("batch", json::Value::number(r.batch));
    sj.set("alpha", json::Value::number(r.alpha));
    return sj;
}

// The interleaved medians as {"baseline_ms": …, <name>: …, "runs": N, "interleaved": true,
// "remeasured": bool, "disturbed": bool[, "warning": "..."]}: remeasured when the first measurement
// looked disturbed, disturbed when the second did too.
template <class Result>
json::Value verified_json(const std::vector<std::pair<const char*, double>>& medians, const Result& r) {
    json::Value v = json::Value::object();
    for (const auto& m : medians) v.set(m.first, json::Value::number(m.second));
    v.set("runs", json::Value::number(r.verify_runs));
    v.set("interleaved", json::Value::boolean(true));
    v.set("remeasured", json::Value::boolean(r.verify_remeasured));
    v.set("disturbed", json::Value::boolean(!r.verify_warning.empty()));
    if (!r.verify_warning.empty()) v.set("warning", json::Value::string(r.verify_warning));
    return v;
}

json::Value paper_search_json(const ScheduleSearchResult& r) {
    json::Value sj = search_record("paper: argmax U(n), POMT at one block", r);
    sj.set("layer", json::Value::number(r.layer));
    sj.set("tokens_full", json::Value::number(r.tokens_full));
    sj.set("n_star", json::Value::number(r.n_star));
    sj.set("R", json::Value::number(r.r));
    sj.set("reference_R", json::Value::number(r.reference_r));
    sj.set("images", json::Value::number(r.images));
    sj.set("random_seed", json::Value::number(double(r.random_seed)));
    sj.set("latency_source", json::Value::string(r.latency_source));
    sj.set("accuracy_evaluations", json::Value::number(r.accuracy_evaluations));
    std::vector<double> tok, lat, acc, meas, util;
    for (const auto& p : r.points) {
        tok.push_back(p.tokens);
        lat.push_back(p.latency_ms);
        acc.push_back(p.accuracy);
        meas.push_back(p.accuracy_measured ? 1 : 0);
        util.push_back(p.utility);
    }
    sj.set("curves", columns({{"tokens", tok}, {"latency_ms", lat}, {"accuracy_top1", acc}, {"accuracy_measured", meas},
                              {"utility", util}}));
    if (r.verified)
        sj.set("verified_latency", verified_json({{"baseline_ms", r.baseline_ms}, {"schedule_ms", r.schedule_ms},
                                                  {"reference_R_ms", r.reference_ms}},
                                                 r));
    return sj;
}

json::Value plan_json(const PlanOutcome& p) {
    json::Value v = json::Value::object();
    json::Value prunes = json::Value::array();
    for (const PlanPrune& q : p.prunes) {
        json::Value e = json::Value::object();
        e.set("layer", json::Value::number(q.layer));
        e.set("tokens", json::Value::number(q.tokens));
        e.set("R", json::Value::number(q.r));
        prunes.push_back(e);
    }
    v.set("prunes", prunes);
    v.set("predicted_ms", json::Value::number(p.predicted_ms));
    v.set("top1", json::Value::number(p.top1));
    v.set("utility", json::Value::number(p.utility));
    return v;
}

json::Value joint_search_json(const JointSearchResult& r) {
    json::Value sj = search_record("joint layer search: POMT at up to " + std::to_string(r.max_prunes) +
                                       " blocks, latency predicted from per-block tables",
                                   r);
    sj.set("tokens_full", json::Value::number(r.tokens_full));
    sj.set("images", json::Value::number(r.images));
    sj.set("block_latency_source", json::Value::string(r.block_latency_source));
    sj.set("overhead_ms", json::Value::number(r.overhead_ms));
    sj.set("after_prune_share", json::Value::number(r.after_prune_share));
    sj.set("last_block_share", json::Value::number(r.last_block_share));
    sj.set("latency_max_ms", json::Value::number(r.latency_max_ms));
    sj.set("accuracy_max", json::Value::number(r.accuracy_max));
    sj.set("utility", json::Value::string("alpha*(1 - L/L_max) + (1 - alpha)*A/A_max; L predicted, L_max = unpruned "
                                          "prediction, A_max = best top-1 measured in the search"));
    sj.set("candidate_layers", numbers(r.candidate_layers));
    sj.set("candidate_tokens", numbers(r.candidate_tokens));
    sj.set("block_steps_to", numbers(r.block_steps_to));
    sj.set("accuracy_evaluations", json::Value::number(r.accuracy_evaluations));
    json::Value evals = json::Value::array();
    for (const auto& m : r.evaluations) evals.push_back(plan_json(m));
    sj.set("evaluations", evals);
    sj.set("baseline", plan_json(r.baseline));
    sj.set("chosen", plan_json(r.chosen));
    sj.set("best_single", plan_json(r.best_single));
    json::Value pj = plan_json(r.paper);
    pj.set("source", json::Value::string(r.paper_source));
    if (r.paper_computed) pj.set("paper_search", paper_search_json(r.paper_search));
    sj.set("paper", pj);
    std::vector<double> bt, bl;
    for (const auto& p : r.block_latency) {
        bt.push_back(p.tokens);
        bl.push_back(p.median_ms);
    }
    sj.set("block_curve", columns({{"tokens", bt}, {"block_ms", bl}}));
    if (r.verified)
        sj.set("verified_latency", verified_json({{"baseline_ms", r.baseline_ms}, {"paper_ms", r.paper_ms},
                                                  {"schedule_ms", r.schedule_ms}},
                                                 r));
    return sj;
}

json::Value pareto_plan_json(const ParetoPlan& p) {
    json::Value v = json::Value::object();
    v.set("method", json::Value::string(p.method));
    v.set("family", json::Value::string(p.family));
    v.set("spec", json::Value::string(p.spec));
    v.set("precision", json::Value::string(plan_precision_name(p.precision)));
    v.set("predicted_ms", json::Value::number(p.predicted_ms));
    v.set("predicted_ratio", json::Value::number(p.predicted_ratio));
    v.set("images", json::Value::number(p.images));
    v.set("top1", json::Value::number(p.top1));
    v.set("top5", json::Value::number(p.top5));
    v.set("loss", json::Value::number(p.loss));
    v.set("loss_interval", numbers(std::vector<double>{p.loss_low, p.loss_high}));
    v.set("dropped_round", json::Value::number(p.dropped_round));
    if (p.measured) {
        v.set("measured_ms", json::Value::number(p.measured_ms));
        v.set("measured_ratio", json::Value::number(p.measured_ratio));
        v.set("on_front", json::Value::boolean(p.on_front));
    }
    if (p.confirmed) {
        json::Value c = json::Value::object();
        c.set("images", json::Value::number(p.confirm_images));
        c.set("top1", json::Value::number(p.confirm_top1));
        c.set("loss", json::Value::number(p.confirm_loss));
        c.set("loss_upper_bound", json::Value::number(p.confirm_high));
        v.set("confirmed", c);
    }
    return v;
}

json::Value pareto_search_json(const ParetoSearchResult& r) {
    json::Value sj = json::Value::object();
    sj.set("method", json::Value::string("pareto: candidates of every method, successive halving on the estimation images, "
                                         "the front measured interleaved, a budget's choice"));
    sj.set("model", json::Value::string(r.architecture));
    sj.set("device", profiler::device_json(r.threads));
    sj.set("batch", json::Value::number(r.batch));
    sj.set("images", json::Value::number(r.images));
    sj.set("estimation_images", json::Value::string(r.data_note));
    json::Value conf = json::Value::object();
    conf.set("images", json::Value::number(r.confirm_images));
    conf.set("source", json::Value::string(r.confirm_source));
    conf.set("rule", json::Value::string(loss_rule_name(r.loss_rule)));
    conf.set("confidence", json::Value::number(r.confidence));
    conf.set("upper_bound", json::Value::string("one-sided: loss mean + z*sd/sqrt(n) of the paired per-image differences on "
                                                "the confirmation images, z = the normal quantile of the confidence"));
    sj.set("confirmation", conf);
    sj.set("interval", json::Value::string("loss = top-1 points lost against the unpruned model on the same images; interval "
                                           "mean +- z*sd/sqrt(n) of the paired per-image differences, z = " +
                                           json::format_number(r.z)));
    sj.set("block_latency_source", json::Value::string(r.block_latency_source));
    json::Value precisions = json::Value::array();
    for (size_t i = 0; i < r.precisions.size(); ++i) {
        json::Value pj = json::Value::object();
        pj.set("precision", json::Value::string(plan_precision_name(r.precisions[i])));
        pj.set("block_latency_source", json::Value::string(r.precision_sources[i]));
        precisions.push_back(pj);
    }
    sj.set("precisions", precisions);
    sj.set("overhead_ms", json::Value::number(r.overhead_ms));
    sj.set("round_images", numbers(r.round_images));
    sj.set("round_candidates", numbers(r.round_candidates));
    sj.set("image_evaluations", json::Value::number(r.image_evaluations));
    sj.set("verified_latency", verified_json({{"baseline_ms", r.baseline_ms}}, r));
    json::Value front = json::Value::array(), others = json::Value::array();
    for (const ParetoPlan& p : r.plans) (p.measured ? front : others).push_back(pareto_plan_json(p));
    sj.set("measured", front);
    sj.set("chosen", r.chosen >= 0 ? pareto_plan_json(r.plans[size_t(r.chosen)]) : json::Value());
    sj.set("choice", json::Value::string(r.choice));
    if (r.compare_index >= 0) sj.set("paper", pareto_plan_json(r.plans[size_t(r.compare_index)]));
    sj.set("not_measured", others);
    return sj;
}

std::string schedule_file(const ResolvedSchedule& plan, const std::string& made_by, json::Value search) {
    json::Value out = plan.to_json();
    out.set("comment", json::Value::string("computed by " + made_by + ": " + plan.describe()));
    out.set("search", std::move(search));
    return out.dump() + "\n";
}

}  // namespace

std::string schedule_file_json(const Classifier& model, const ScheduleSearchResult& r) {
    const ModelConfig& c = model_of(model)->config();
    return schedule_file(resolve_schedule(search::pomt_at_layer(r.r, r.layer), c), "pomt schedule",
                         paper_search_json(r));
}

std::string schedule_file_json(const Classifier& model, const JointSearchResult& r) {
    const ModelConfig& c = model_of(model)->config();
    search::PrunePlan plan;
    for (const PlanPrune& p : r.chosen.prunes) plan.push_back({p.layer, p.tokens});
    return schedule_file(resolve_schedule(search::plan_schedule(plan, c), c), "pomt schedule --search layer",
                         joint_search_json(r));
}

std::string schedule_file_json(const Classifier& model, const ParetoSearchResult& r) {
    if (r.chosen < 0) fail(r.choice);
    const ModelConfig& c = model_of(model)->config();
    const std::string& spec = r.plans[size_t(r.chosen)].spec;  // a --prune spec, or @FILE for the --compare plan
    const PruneSchedule steps = spec[0] == '@' ? load_schedule_file(spec.substr(1)) : parse_prune_spec(spec);
    const ParetoPlan& p = r.plans[size_t(r.chosen)];
    json::Value search = pareto_search_json(r);
    std::string text = schedule_file(resolve_schedule(steps, c), "pomt schedule --search pareto", search);
    // The precision the plan was chosen in: eval, classify, run and bench run it so from the fp32 file.
    json::Value root = json::parse(text, "schedule");
    root.set("precision", json::Value::string(plan_precision_name(p.precision)));
    root.set("comment", json::Value::string("computed by pomt schedule --search pareto: " + resolve_schedule(steps, c).describe() +
                                            ", " + plan_precision_name(p.precision)));
    return root.dump() + "\n";
}

}  // namespace pomt
