// pomt schedule: the paper's offline computation on this device — L(n) (measured here, or a
// profile CSV from the target), A(n) (random pruning to n tokens on estimation images),
// n* = argmax α(1 − L/max L) + (1 − α)·A/max A, and POMT at one block pruning to n*; then the
// deployed schedule's real latency is measured (the model-mode curve runs every block at n, the
// deployed schedule only the blocks after the prune layer).
//
// --search layer (beyond the paper): the prune block and the tokens left chosen jointly (and
// optionally a second prune), latency predicted from per-block tables, accuracy from POMT at those
// blocks (search/layer_search.h); compared with the paper's choice, both verified side by side.
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "cli/commands.h"
#include "cli/progress.h"
#include "cli/token_range.h"
#include "kernels/isa.h"
#include "profiler/device.h"
#include "search/layer_search.h"
#include "profiler/measure.h"
#include "profiler/model_latency.h"
#include "search/schedule_search.h"
#include "profiler/steps.h"
#include "profiler/svg_plot.h"
#include "profiler/workloads.h"
#include "pomt/error.h"
#include "eval/evaluate.h"
#include "core/file_util.h"

namespace pomt {

namespace {

// Tokens left after POMT with R at a block entered by `tokens` tokens (docs/SCHEDULES.md).
int pomt_tokens_after(int tokens, int prefix, int r) { return prefix + (tokens - r - 2) + 1; }

PruneSchedule pomt_schedule(int r, int layer) {
    PruneStep step;
    step.kind = PruneStep::Pomt;
    step.r = {r};
    step.layer = layer;
    PruneSchedule s;
    if (r > 0) s.steps.push_back(step);
    return s;
}

json::Value numbers(const std::vector<double>& v) {
    json::Value a = json::Value::array();
    for (double x : v) a.push_back(json::Value::number(x));
    return a;
}

json::Value int_numbers(const std::vector<int>& v) {
    json::Value a = json::Value::array();
    for (int x : v) a.push_back(json::Value::number(x));
    return a;
}

std::vector<profiler::CurvePoint> pick_counts(const std::vector<profiler::CurvePoint>& curve, const std::vector<int>& counts) {
    std::vector<profiler::CurvePoint> picked;
    for (int n : counts) {
        auto it = std::find_if(curve.begin(), curve.end(), [&](const profiler::CurvePoint& p) { return p.tokens == n; });
        if (it != curve.end()) picked.push_back(*it);
    }
    return picked;
}

std::vector<profiler::CurvePoint> read_latency_profile(const std::string& path, int batch, int threads, bool threads_given,
                                                       const std::vector<int>& counts) {
    std::vector<profiler::LatencyRow> rows = profiler::read_latency_csv(path);
    std::vector<profiler::CurvePoint> curve = profiler::select_curve(rows, "model", batch, threads_given ? threads : 0);
    if (curve.empty()) curve = profiler::select_curve(rows, "", batch, threads_given ? threads : 0);
    if (curve.empty())
        fail("'" + path + "' has no model-mode latency for batch " + std::to_string(batch) +
             (threads_given ? " and " + std::to_string(threads) + " threads" : ""));
    std::vector<profiler::CurvePoint> picked = pick_counts(curve, counts);
    if (picked.size() < 2) fail("'" + path + "' covers fewer than 2 of the requested token counts");
    return picked;
}

void write_curve_svg(const std::string& path, const std::string& title, const std::string& y_label,
                     const std::vector<profiler::CurvePoint>& curve, const std::vector<profiler::Step>& steps) {
    profiler::PlotSeries s;
    s.label = y_label;
    s.curve = curve;
    s.steps = steps;
    profiler::PlotOptions po;
    po.title = title;
    po.y_label = y_label;
    profiler::write_latency_svg(path, {s}, po);
}

// Everything both searches share: the parsed flags, the model, the estimation images.
struct Context {
    const Args* args = nullptr;
    std::shared_ptr<const Model> model;
    int threads = 1, batch = 1, verify_runs = 30, N = 0, prefix = 0, layer = 0;
    double alpha = 0.5;
    bool quiet = false;
    uint64_t seed = 0;
    std::vector<int> counts;  // --tokens
    std::string svg_prefix;
    PreparedImages prepared;
};

profiler::MeasureOptions measure_options(const Context& x) {
    return x.args->has("--fast") ? profiler::MeasureOptions::fast() : profiler::MeasureOptions();
}

// The paper's computation: n* = argmax U(n) with L(n) in model mode and A(n) by random pruning.
struct PaperChoice {
    int n_star = 0, r = 0, reference_r = 0;
    PruneSchedule schedule;
    ResolvedSchedule plan;
    json::Value search_json;
};

PaperChoice paper_search(Context& x, bool verify, bool write_svgs) {
    const Args& args = *x.args;
    const ModelConfig& c = x.model->config();
    // L(n).
    std::vector<profiler::CurvePoint> latency;
    std::string latency_source;
    if (args.has("--latency")) {
        latency = read_latency_profile(args.get("--latency"), x.batch, x.threads, args.has("--threads"), x.counts);
        latency_source = args.get("--latency");
    } else {
        profiler::TokenWorkload workload(x.model, x.threads, x.batch, profiler::ProfileMode::Model);
        ProgressBar bar("L(n)", !x.quiet);
        auto stats = profiler::measure_points(x.counts, [&](int n) { return workload.run(n); }, measure_options(x),
                                              [&](const profiler::Progress& p) { bar.update(p.points_done, p.points_total); });
        for (const auto& s : stats) latency.push_back({s.point, s.median_ms, s.p10_ms, s.p90_ms, s.runs});
        latency_source = "measured here (model mode)";
    }

    // A(n) on the estimation images, decoded once.
    ProgressBar abar("A(n)", !x.quiet);
    int evaluated = 0;
    const int coarse_step = args.has("--full-grid") ? 1 : args.get_int("--coarse-step", 8, 1, 1 << 20);
    const int expected_evaluations = int(x.counts.size()) / coarse_step + 9;  // coarse grid + typical refinement
    auto accuracy_at = [&](int n) {
        PruneSchedule s;
        PruneStep step;
        step.kind = PruneStep::Random;
        step.keep = n;
        step.seed = x.seed;
        s.steps.push_back(step);
        EvalOptions o;
        o.threads = x.threads;
        double top1 = evaluate_prepared(x.model, x.prepared, s, o).top1();
        ++evaluated;
        abar.update(evaluated, std::max(evaluated + 1, expected_evaluations));
        return top1;
    };
    profiler::UtilitySearchOptions so;
    so.alpha = x.alpha;
    so.coarse_step = coarse_step;
    profiler::UtilitySearchResult search = profiler::search_utility(latency, accuracy_at, so);
    abar.update(1, 1);

    PaperChoice pc;
    pc.n_star = search.best_tokens;
    // pomt prunes to exactly n* tokens after the layer. The reference code measures L(n) with every
    // block at n but deploys R such that n* + 2 tokens remain; both are reported and measured.
    pc.r = x.N + x.prefix - 1 - pc.n_star;
    pc.reference_r = std::max(0, pc.r - 2);
    pc.schedule = pomt_schedule(pc.r, x.layer);
    pc.plan = resolve_schedule(pc.schedule, c);

    json::Value& sj = pc.search_json = json::Value::object();
    sj.set("method", json::Value::string("paper: argmax U(n), POMT at one block"));
    sj.set("model", json::Value::string(c.architecture));
    sj.set("device", profiler::device_json(x.threads));
    sj.set("batch", json::Value::number(x.batch));
    sj.set("alpha", json::Value::number(x.alpha));
    sj.set("layer", json::Value::number(x.layer));
    sj.set("tokens_full", json::Value::number(x.N));
    sj.set("n_star", json::Value::number(pc.n_star));
    sj.set("R", json::Value::number(pc.r));
    sj.set("reference_R", json::Value::number(pc.reference_r));
    sj.set("images", json::Value::number(double(x.prepared.crops.size())));
    sj.set("random_seed", json::Value::number(double(x.seed)));
    sj.set("latency_source", json::Value::string(latency_source));
    sj.set("accuracy_evaluations", json::Value::number(search.accuracy_evaluations));
    std::vector<double> tok, lat, acc, meas, util;
    for (const auto& p : search.points) {
        tok.push_back(p.tokens);
        lat.push_back(p.latency_ms);
        acc.push_back(p.accuracy);
        meas.push_back(p.accuracy_measured ? 1 : 0);
        util.push_back(p.utility);
    }
    json::Value curves = json::Value::object();
    curves.set("tokens", numbers(tok));
    curves.set("latency_ms", numbers(lat));
    curves.set("accuracy_top1", numbers(acc));
    curves.set("accuracy_measured", numbers(meas));
    curves.set("utility", numbers(util));
    sj.set("curves", curves);

    const profiler::UtilityPoint& best =
        *std::find_if(search.points.begin(), search.points.end(), [&](const auto& p) { return p.tokens == pc.n_star; });
    std::printf("%s: n* = %d tokens (U = %.4f, L = %.3f ms, A = %.2f%% on %zu images, alpha %.2f)\n",
                c.architecture.c_str(), pc.n_star, best.utility, best.latency_ms, best.accuracy, x.prepared.crops.size(),
                x.alpha);
    std::printf("schedule: %s, %d tokens after block %d (the reference code would use R=%d, leaving %d)\n",
                pc.plan.describe().c_str(), pc.n_star, x.layer, pc.reference_r,
                pomt_tokens_after(x.N, x.prefix, pc.reference_r));

    if (verify) {
        // The deployed schedule runs blocks 0..layer at N tokens: measure it instead of trusting L(n*).
        // Interleaved, so load and clock drift land on all three alike.
        auto measured = profiler::measure_schedules_interleaved(
            x.model, {PruneSchedule(), pc.schedule, pomt_schedule(pc.reference_r, x.layer)}, x.threads, x.batch,
            x.verify_runs, 3);
        const auto &base = measured[0], &ours = measured[1], &ref = measured[2];
        json::Value v = json::Value::object();
        v.set("baseline_ms", json::Value::number(base.median_ms));
        v.set("schedule_ms", json::Value::number(ours.median_ms));
        v.set("reference_R_ms", json::Value::number(ref.median_ms));
        v.set("runs", json::Value::number(x.verify_runs));
        v.set("interleaved", json::Value::boolean(true));
        sj.set("verified_latency", v);
        std::printf("verified (median of %d interleaved runs, batch %d, %d threads): baseline %.3f ms, this schedule %.3f ms (%+.1f%%), "
                    "reference R=%d %.3f ms (%+.1f%%)\n",
                    x.verify_runs, x.batch, x.threads, base.median_ms, ours.median_ms,
                    100.0 * (ours.median_ms / base.median_ms - 1), pc.reference_r, ref.median_ms,
                    100.0 * (ref.median_ms / base.median_ms - 1));
        std::printf("note: L(n*) assumes every block runs at n*; pruning at block %d keeps blocks 0..%d at %d tokens\n",
                    x.layer, x.layer, x.N);
    }
    if (write_svgs && !x.svg_prefix.empty()) {
        std::vector<profiler::CurvePoint> a, u;
        for (const auto& p : search.points) {
            a.push_back({p.tokens, p.accuracy, p.accuracy, p.accuracy, 0});
            u.push_back({p.tokens, p.utility, p.utility, p.utility, 0});
        }
        write_curve_svg(x.svg_prefix + "-latency.svg", c.architecture + " L(n), model mode", "latency (ms)", latency,
                        profiler::detect_steps(latency).steps);
        write_curve_svg(x.svg_prefix + "-accuracy.svg", c.architecture + " A(n), random pruning", "top-1 (%)", a, {});
        write_curve_svg(x.svg_prefix + "-utility.svg", c.architecture + " U(n), alpha " + json::format_number(x.alpha), "U(n)",
                        u, {});
    }
    return pc;
}

// A POMT-only schedule file as a plan: each POMT block and the tokens it leaves.
profiler::PrunePlan plan_from_schedule_file(const std::string& path, const ModelConfig& c) {
    ResolvedSchedule r = resolve_schedule(load_schedule_file(path), c);
    if (r.keep) fail("'" + path + "': --compare needs a POMT-only schedule (it has random pruning)");
    profiler::PrunePlan plan;
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

json::Value plan_json(const profiler::PlanResult& p, const ModelConfig& c) {
    json::Value v = json::Value::object();
    json::Value prunes = json::Value::array();
    int n = c.num_tokens();
    for (const profiler::PrunePoint& q : p.plan) {
        json::Value e = json::Value::object();
        e.set("layer", json::Value::number(q.layer));
        e.set("tokens", json::Value::number(q.tokens));
        e.set("R", json::Value::number(profiler::pomt_r_for(n, q.tokens, c.num_prefix_tokens())));
        prunes.push_back(e);
        n = q.tokens;
    }
    v.set("prunes", prunes);
    v.set("predicted_ms", json::Value::number(p.latency_ms));
    v.set("top1", json::Value::number(p.accuracy));
    v.set("utility", json::Value::number(p.utility));
    return v;
}

std::vector<profiler::CurvePoint> block_curve_from_csv(const std::vector<profiler::LatencyRow>& rows, const std::string& path,
                                                       int batch, int threads_filter, int threads) {
    std::vector<profiler::CurvePoint> curve = profiler::select_curve(rows, "block", batch, threads_filter);
    if (curve.empty())
        fail("'" + path + "' has no block-mode latency for batch " + std::to_string(batch) +
             (threads_filter ? " and " + std::to_string(threads) + " threads" : "") +
             " (write one with pomt profile --mode block --csv FILE)");
    return curve;
}

// Shares of a block's time at N tokens, from op-mode runs here. A share carries over to a
// --block-latency CSV measured on another device well enough for a prediction.
struct BlockShares {
    double after_prune = 0;  // norm2 and the MLP: a pruning block runs them at the tokens it leaves
    double last_block = 1;   // what the last block computes when only the pooled rows are needed
};

BlockShares block_shares(Context& x) {
    profiler::TokenWorkload workload(x.model, x.threads, x.batch, profiler::ProfileMode::Op);
    for (int i = 0; i < 33; ++i) workload.run(x.N);
    double t[int(BlockOp::Count)] = {}, total = 0;
    const auto& samples = workload.op_samples().at(x.N);
    for (size_t i = 3; i < samples.size(); ++i)  // the first three are warm-up
        for (int op = 0; op < int(BlockOp::Count); ++op) {
            t[op] += samples[i].seconds[op];
            total += samples[i].seconds[op];
        }
    BlockShares s;
    if (!(total > 0)) return s;
    double after = 0;
    for (int op = int(BlockOp::Norm2); op < int(BlockOp::Count); ++op) after += t[op];
    s.after_prune = std::min(0.95, after / total);
    const ModelConfig& c = x.model->config();
    if (c.global_pool == "token") {
        // Every token's norm1 and K/V (2/3 of the qkv columns); the rest for the pooled rows only.
        const double all_rows = (t[int(BlockOp::Norm1)] + t[int(BlockOp::Qkv)] * 2.0 / 3.0) / total;
        const int pooled = c.distilled ? 2 : 1;
        s.last_block = std::clamp(all_rows + (1 - all_rows) * pooled / double(x.N), 0.01, 1.0);
    }
    return s;
}

// Block latency B(n) and the model latency at N: from --block-latency CSV or measured here.
profiler::BlockLatencyTable block_table(Context& x, std::string* source) {
    const Args& args = *x.args;
    const ModelConfig& c = x.model->config();
    const int threads_filter = args.has("--threads") ? x.threads : 0;
    std::vector<profiler::CurvePoint> block;
    double model_full = 0;
    std::vector<int> counts = x.counts;
    if (counts.back() != x.N) counts.push_back(x.N);
    if (args.has("--block-latency")) {
        const std::string path = args.get("--block-latency");
        std::vector<profiler::LatencyRow> rows = profiler::read_latency_csv(path);
        block = pick_counts(block_curve_from_csv(rows, path, x.batch, threads_filter, x.threads), counts);
        if (block.size() < 2 || block.back().tokens != x.N)
            fail("'" + path + "' needs block latencies at " + std::to_string(x.N) + " tokens and at least one lower count in --tokens");
        *source = path;
        // The overhead needs the whole model at N: this CSV's model rows, --latency's, or measured here.
        for (const std::string& p : {path, args.get("--latency")}) {
            if (p.empty()) continue;
            auto m = p == path ? profiler::select_curve(rows, "model", x.batch, threads_filter)
                               : profiler::select_curve(profiler::read_latency_csv(p), "model", x.batch, threads_filter);
            for (const auto& q : m)
                if (q.tokens == x.N) model_full = q.median_ms;
            if (model_full > 0) {
                *source += "; model latency at " + std::to_string(x.N) + " tokens from " + p;
                break;
            }
        }
    } else {
        profiler::TokenWorkload workload(x.model, x.threads, x.batch, profiler::ProfileMode::Block);
        ProgressBar bar("B(n)", !x.quiet);
        auto stats = profiler::measure_points(counts, [&](int n) { return workload.run(n); }, measure_options(x),
                                              [&](const profiler::Progress& p) { bar.update(p.points_done, p.points_total); });
        for (const auto& s : stats) block.push_back({s.point, s.median_ms, s.p10_ms, s.p90_ms, s.runs});
        std::sort(block.begin(), block.end(), [](const auto& a, const auto& b) { return a.tokens < b.tokens; });
        *source = "measured here (block mode)";
    }
    if (!(model_full > 0)) {
        // One point carries the whole overhead: never the --fast rule here (a 0.05 s cap can leave a
        // single run, and one stalled run then becomes the overhead).
        profiler::TokenWorkload workload(x.model, x.threads, x.batch, profiler::ProfileMode::Model);
        profiler::MeasureOptions mo;
        mo.max_seconds_per_point = 2.0;
        auto stats = profiler::measure_points({x.N}, [&](int n) { return workload.run(n); }, mo);
        model_full = stats[0].median_ms;
        if (args.has("--block-latency")) *source += "; model latency at " + std::to_string(x.N) + " tokens measured here";
    }
    const BlockShares shares = block_shares(x);
    profiler::BlockLatencyTable table =
        profiler::make_block_table(block, model_full, c.depth, x.N, *source, shares.last_block);
    table.after_prune_share = shares.after_prune;
    return table;
}

int layer_search(Context& x) {
    const Args& args = *x.args;
    const ModelConfig& c = x.model->config();
    const bool verify = !args.has("--no-verify");
    const int grid_step = args.get_int("--grid", 8, 1, 1 << 20);
    const int max_prunes = args.get_int("--max-prunes", 2, 1, 2);

    // The paper's choice, to compare with: from a schedule file, or computed here.
    profiler::PrunePlan paper_plan;
    std::string paper_source;
    json::Value paper_json;
    if (args.has("--compare")) {
        paper_plan = plan_from_schedule_file(args.get("--compare"), c);
        paper_source = args.get("--compare");
    } else {
        PaperChoice pc = paper_search(x, false, true);
        paper_plan = profiler::PrunePlan{{x.layer, pc.n_star}};
        if (pc.r <= 0) paper_plan.clear();
        paper_source = "computed here (paper method, layer " + std::to_string(x.layer) + ")";
        paper_json = pc.search_json;
    }

    std::string block_source;
    const profiler::BlockLatencyTable table = block_table(x, &block_source);
    const profiler::StepAnalysis steps = profiler::detect_steps(table.block);
    const int lowest = std::max(x.prefix + 2, table.block.front().tokens);
    const int highest = std::min(x.N - 1, x.N + x.prefix - 2);  // R >= 1
    std::vector<int> extra;
    for (const auto& p : paper_plan) extra.push_back(p.tokens);
    profiler::LayerSearchOptions so;
    so.alpha = x.alpha;
    so.max_prunes = max_prunes;
    so.layers = profiler::default_candidate_layers(c.depth, table.last_block_pooled());
    for (const auto& p : paper_plan)
        if (!std::count(so.layers.begin(), so.layers.end(), p.layer)) so.layers.push_back(p.layer);
    std::sort(so.layers.begin(), so.layers.end());
    so.tokens = profiler::candidate_token_counts(steps.steps, lowest, highest + 1, grid_step, extra);
    if (!paper_plan.empty()) so.also_measure.push_back(paper_plan);

    ProgressBar bar("search", !x.quiet);
    int evaluated = 0;
    const int expected = so.seed_layers * so.seed_tokens + (max_prunes > 1 ? (so.seed_layers - 1) * (so.seed_tokens - 1) : 0) + 16;
    auto accuracy = [&](const profiler::PrunePlan& plan) {
        EvalOptions o;
        o.threads = x.threads;
        double top1 = evaluate_prepared(x.model, x.prepared, profiler::plan_schedule(plan, c), o).top1();
        ++evaluated;
        bar.update(evaluated, std::max(evaluated + 1, expected));
        return top1;
    };
    profiler::LayerSearchResult r = profiler::search_layers(table, accuracy, so);
    bar.update(1, 1);

    const profiler::PlanResult& best = r.best;
    const PruneSchedule chosen = profiler::plan_schedule(best.plan, c);
    const ResolvedSchedule plan = resolve_schedule(chosen, c);
    const profiler::PlanResult paper = r.result_for(paper_plan);

    json::Value sj = json::Value::object();
    sj.set("method", json::Value::string("joint layer search: POMT at up to " + std::to_string(max_prunes) +
                                         " blocks, latency predicted from per-block tables"));
    sj.set("model", json::Value::string(c.architecture));
    sj.set("device", profiler::device_json(x.threads));
    sj.set("batch", json::Value::number(x.batch));
    sj.set("alpha", json::Value::number(x.alpha));
    sj.set("tokens_full", json::Value::number(x.N));
    sj.set("images", json::Value::number(double(x.prepared.crops.size())));
    sj.set("block_latency_source", json::Value::string(block_source));
    sj.set("overhead_ms", json::Value::number(table.overhead_ms));
    sj.set("after_prune_share", json::Value::number(table.after_prune_share));
    sj.set("last_block_share", json::Value::number(table.last_block_share));
    sj.set("latency_max_ms", json::Value::number(r.latency_max_ms));
    sj.set("accuracy_max", json::Value::number(r.accuracy_max));
    sj.set("utility", json::Value::string("alpha*(1 - L/L_max) + (1 - alpha)*A/A_max; L predicted, L_max = unpruned "
                                          "prediction, A_max = best top-1 measured in the search"));
    sj.set("candidate_layers", int_numbers(so.layers));
    sj.set("candidate_tokens", int_numbers(so.tokens));
    std::vector<int> step_to;
    for (const auto& s : steps.steps) step_to.push_back(s.to_tokens);
    sj.set("block_steps_to", int_numbers(step_to));
    sj.set("accuracy_evaluations", json::Value::number(r.accuracy_evaluations));
    json::Value evals = json::Value::array();
    for (const auto& m : r.measured) evals.push_back(plan_json(m, c));
    sj.set("evaluations", evals);
    sj.set("baseline", plan_json(r.baseline, c));
    sj.set("chosen", plan_json(best, c));
    sj.set("best_single", plan_json(r.best_single, c));
    json::Value pj = plan_json(paper, c);
    pj.set("source", json::Value::string(paper_source));
    if (paper_json.find("n_star")) pj.set("paper_search", paper_json);
    sj.set("paper", pj);
    std::vector<double> bt, bl;
    for (const auto& p : table.block) {
        bt.push_back(p.tokens);
        bl.push_back(p.median_ms);
    }
    json::Value bc = json::Value::object();
    bc.set("tokens", numbers(bt));
    bc.set("block_ms", numbers(bl));
    sj.set("block_curve", bc);

    auto line = [&](const char* name, const profiler::PlanResult& p) {
        std::printf("  %-12s %-34s predicted %8.3f ms (%+6.1f%%)  top-1 %6.2f%%  U %.4f\n", name,
                    resolve_schedule(profiler::plan_schedule(p.plan, c), c).describe().c_str(), p.latency_ms,
                    100.0 * (p.latency_ms / r.latency_max_ms - 1), p.accuracy, p.utility);
    };
    std::printf("%s: joint search over blocks and tokens, %d accuracy evaluations on %zu images, alpha %.2f\n",
                c.architecture.c_str(), r.accuracy_evaluations, x.prepared.crops.size(), x.alpha);
    std::printf("  latency model: overhead %.3f ms + per-block B(n) (%s), a pruning block's MLP share %.2f at the tokens "
                "left, the last block %.2f of a block; %zu candidate blocks, %zu candidate token counts\n",
                table.overhead_ms, block_source.c_str(), table.after_prune_share, table.last_block_share,
                so.layers.size(), so.tokens.size());
    line("baseline", r.baseline);
    line("paper", paper);
    if (!(r.best_single.plan == best.plan)) line("best single", r.best_single);
    line("joint", best);

    if (verify) {
        std::vector<PruneSchedule> s = {PruneSchedule(), profiler::plan_schedule(paper_plan, c), chosen};
        auto v = profiler::measure_schedules_interleaved(x.model, s, x.threads, x.batch, x.verify_runs, 3);
        json::Value vj = json::Value::object();
        vj.set("baseline_ms", json::Value::number(v[0].median_ms));
        vj.set("paper_ms", json::Value::number(v[1].median_ms));
        vj.set("schedule_ms", json::Value::number(v[2].median_ms));
        vj.set("runs", json::Value::number(x.verify_runs));
        vj.set("interleaved", json::Value::boolean(true));
        sj.set("verified_latency", vj);
        std::printf("verified (median of %d interleaved runs, batch %d, %d threads): baseline %.3f ms, paper %.3f ms (%+.1f%%), "
                    "joint %.3f ms (%+.1f%%)\n",
                    x.verify_runs, x.batch, x.threads, v[0].median_ms, v[1].median_ms,
                    100.0 * (v[1].median_ms / v[0].median_ms - 1), v[2].median_ms,
                    100.0 * (v[2].median_ms / v[0].median_ms - 1));
        const bool dominates = best.accuracy >= paper.accuracy && v[2].median_ms <= v[1].median_ms;
        std::printf("joint vs paper: %+.2f points top-1 (estimation images), %+.1f%% measured latency: %s\n",
                    best.accuracy - paper.accuracy, 100.0 * (v[2].median_ms / v[1].median_ms - 1),
                    dominates ? "at least as accurate and no slower" : "a different trade-off (not better on both)");
    }

    json::Value out = plan.to_json();
    out.set("comment", json::Value::string("computed by pomt schedule --search layer: " + plan.describe()));
    out.set("search", sj);
    const std::string output = args.get("-o", args.get("--output"));
    std::string text = out.dump() + "\n";
    write_file_atomic(output, text.data(), text.size());
    if (!x.svg_prefix.empty())
        write_curve_svg(x.svg_prefix + "-block-latency.svg", c.architecture + " B(n), one block", "block latency (ms)",
                        table.block, steps.steps);
    std::printf("wrote %s\n", output.c_str());
    return 0;
}

}  // namespace

int cmd_schedule(int argc, char** argv) {
    Args args(argc, argv, 2,
              {"-m", "--arch", "--seed", "--data", "--root", "--images", "--alpha", "--batch", "--layer", "--latency",
               "--tokens", "--threads", "--coarse-step", "-o", "--output", "--svg-prefix", "--verify-runs", "--search",
               "--block-latency", "--grid", "--max-prunes", "--compare"},
              {"--fast", "--full-grid", "--no-verify", "--skip-bad", "--quiet"});
    if (!args.positional().empty()) fail("unexpected argument '" + args.positional()[0] + "'");
    const std::string search = args.get("--search", "paper");
    if (search != "paper" && search != "layer") fail("--search must be paper or layer, not '" + search + "'");
    if (search == "paper")
        for (const char* f : {"--block-latency", "--grid", "--max-prunes", "--compare"})
            if (args.has(f)) fail(std::string(f) + " applies only to --search layer");
    const std::string output = args.get("-o", args.get("--output"));
    if (output.empty()) fail("no output file given (-o schedule.json)");
    if (!args.has("--data")) fail("missing --data LIST (the accuracy-estimation images)");
    require_writable_path(output);
    Context x;
    x.args = &args;
    x.svg_prefix = args.get("--svg-prefix");
    if (!x.svg_prefix.empty()) require_writable_path(x.svg_prefix + "-latency.svg");
    x.threads = threads_from_args(args);
    x.batch = args.get_int("--batch", 1, 1, 1024);
    const int images_wanted = args.get_int("--images", 1024, 1, 1 << 24);
    x.verify_runs = args.get_int("--verify-runs", 30, 1, 100000);
    if (args.has("--alpha")) {
        char* end = nullptr;
        std::string a = args.get("--alpha");
        x.alpha = std::strtod(a.c_str(), &end);
        if (a.empty() || *end || !(x.alpha >= 0 && x.alpha <= 1)) fail("--alpha must be a number between 0 and 1, got '" + a + "'");
    }
    if (search == "layer") {
        args.get_int("--grid", 8, 1, 1 << 20);
        args.get_int("--max-prunes", 2, 1, 2);
    }
    x.quiet = args.has("--quiet");
    x.model = load_model_from_args(args);
    const ModelConfig& c = x.model->config();
    x.layer = args.get_int("--layer", std::min(3, c.depth - 1), 0, 1 << 20);
    if (x.layer >= c.depth) fail("--layer " + std::to_string(x.layer) + " is outside the model's blocks 0.." + std::to_string(c.depth - 1));
    x.N = c.num_tokens();
    x.prefix = c.num_prefix_tokens();
    // Counts POMT can reach at one block: it keeps at least one patch token plus the merged one.
    const int lowest = pomt_tokens_after(x.N, x.prefix, x.N - x.prefix - 2);
    TokenRange range = parse_token_range(args.get("--tokens"), std::max(lowest, x.prefix + 1), x.N);
    x.counts = range.counts();
    if (search == "layer") {
        if (args.has("--compare")) plan_from_schedule_file(args.get("--compare"), c);  // fail before any work
        if (args.has("--block-latency"))
            block_curve_from_csv(profiler::read_latency_csv(args.get("--block-latency")), args.get("--block-latency"), x.batch,
                                 args.has("--threads") ? x.threads : 0, x.threads);
    }
    std::vector<LabelledImage> list = load_dataset(args.get("--data"), args.get("--root"), c.num_classes);

    EvalOptions eo;
    eo.threads = x.threads;
    eo.limit = images_wanted;
    eo.skip_bad = args.has("--skip-bad");
    {
        ProgressBar bar("images", !x.quiet);
        eo.progress = [&](int d, int t) { bar.update(d, t); };
        x.prepared = prepare_images(*x.model, list, eo);
    }
    if (x.prepared.crops.empty()) fail("no readable estimation images");
    x.seed = uint64_t(args.get_int("--seed", 0, 0, 1 << 30));

    if (search == "layer") return layer_search(x);

    PaperChoice pc = paper_search(x, !args.has("--no-verify"), true);
    json::Value out = pc.plan.to_json();
    out.set("comment", json::Value::string("computed by pomt schedule: " + pc.plan.describe()));
    out.set("search", pc.search_json);
    std::string text = out.dump() + "\n";
    write_file_atomic(output, text.data(), text.size());
    std::printf("wrote %s\n", output.c_str());
    return 0;
}

}  // namespace pomt
