// pomt schedule: the paper's offline computation on this device — L(n) (measured here, or a
// profile CSV from the target), A(n) (random pruning to n tokens on estimation images),
// n* = argmax α(1 − L/max L) + (1 − α)·A/max A, and POMT at one block pruning to n*; then the
// deployed schedule's real latency is measured (the model-mode curve runs every block at n, the
// deployed schedule only the blocks after the prune layer).
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "cli/commands.h"
#include "cli/progress.h"
#include "cli/token_range.h"
#include "kernels/isa.h"
#include "profiler/device.h"
#include "profiler/measure.h"
#include "profiler/model_latency.h"
#include "profiler/schedule_search.h"
#include "profiler/steps.h"
#include "profiler/svg_plot.h"
#include "profiler/workloads.h"
#include "vit/error.h"
#include "vit/evaluate.h"
#include "vit/file_util.h"

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

std::vector<profiler::CurvePoint> read_latency_profile(const std::string& path, int batch, int threads, bool threads_given,
                                                       const std::vector<int>& counts) {
    std::vector<profiler::LatencyRow> rows = profiler::read_latency_csv(path);
    std::vector<profiler::CurvePoint> curve = profiler::select_curve(rows, "model", batch, threads_given ? threads : 0);
    if (curve.empty()) curve = profiler::select_curve(rows, "", batch, threads_given ? threads : 0);
    if (curve.empty())
        fail("'" + path + "' has no model-mode latency for batch " + std::to_string(batch) +
             (threads_given ? " and " + std::to_string(threads) + " threads" : ""));
    std::vector<profiler::CurvePoint> picked;
    for (int n : counts) {
        auto it = std::find_if(curve.begin(), curve.end(), [&](const profiler::CurvePoint& p) { return p.tokens == n; });
        if (it != curve.end()) picked.push_back(*it);
    }
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

}  // namespace

int cmd_schedule(int argc, char** argv) {
    Args args(argc, argv, 2,
              {"-m", "--arch", "--seed", "--data", "--root", "--images", "--alpha", "--batch", "--layer", "--latency",
               "--tokens", "--threads", "--coarse-step", "-o", "--output", "--svg-prefix", "--verify-runs"},
              {"--fast", "--full-grid", "--no-verify", "--skip-bad", "--quiet"});
    if (!args.positional().empty()) fail("unexpected argument '" + args.positional()[0] + "'");
    const std::string output = args.get("-o", args.get("--output"));
    if (output.empty()) fail("no output file given (-o schedule.json)");
    if (!args.has("--data")) fail("missing --data LIST (the accuracy-estimation images)");
    require_writable_path(output);
    const std::string svg_prefix = args.get("--svg-prefix");
    if (!svg_prefix.empty()) require_writable_path(svg_prefix + "-latency.svg");
    const int threads = threads_from_args(args);
    const int batch = args.get_int("--batch", 1, 1, 1024);
    const int images_wanted = args.get_int("--images", 1024, 1, 1 << 24);
    const int verify_runs = args.get_int("--verify-runs", 30, 1, 100000);
    double alpha = 0.5;
    if (args.has("--alpha")) {
        char* end = nullptr;
        std::string a = args.get("--alpha");
        alpha = std::strtod(a.c_str(), &end);
        if (a.empty() || *end || !(alpha >= 0 && alpha <= 1)) fail("--alpha must be a number between 0 and 1, got '" + a + "'");
    }
    const bool quiet = args.has("--quiet");
    std::shared_ptr<const Model> model = load_model_from_args(args);
    const ModelConfig& c = model->config();
    const int layer = args.get_int("--layer", std::min(3, c.depth - 1), 0, 1 << 20);
    if (layer >= c.depth) fail("--layer " + std::to_string(layer) + " is outside the model's blocks 0.." + std::to_string(c.depth - 1));
    const int N = c.num_tokens(), prefix = c.num_prefix_tokens();
    // Counts POMT can reach at one block: it keeps at least one patch token plus the merged one.
    const int lowest = pomt_tokens_after(N, prefix, N - prefix - 2);
    TokenRange range = parse_token_range(args.get("--tokens"), std::max(lowest, prefix + 1), N);
    const std::vector<int> counts = range.counts();
    std::vector<LabelledImage> list = load_dataset(args.get("--data"), args.get("--root"), c.num_classes);

    // L(n).
    std::vector<profiler::CurvePoint> latency;
    std::string latency_source;
    if (args.has("--latency")) {
        latency = read_latency_profile(args.get("--latency"), batch, threads, args.has("--threads"), counts);
        latency_source = args.get("--latency");
    } else {
        profiler::TokenWorkload workload(model, threads, batch, profiler::ProfileMode::Model);
        profiler::MeasureOptions mo = args.has("--fast") ? profiler::MeasureOptions::fast() : profiler::MeasureOptions();
        ProgressBar bar("L(n)", !quiet);
        auto stats = profiler::measure_points(counts, [&](int n) { return workload.run(n); }, mo,
                                              [&](const profiler::Progress& p) { bar.update(p.points_done, p.points_total); });
        for (const auto& s : stats) latency.push_back({s.point, s.median_ms, s.p10_ms, s.p90_ms, s.runs});
        latency_source = "measured here (model mode)";
    }

    // A(n) on the estimation images, decoded once.
    EvalOptions eo;
    eo.threads = threads;
    eo.limit = images_wanted;
    eo.skip_bad = args.has("--skip-bad");
    PreparedImages prepared;
    {
        ProgressBar bar("images", !quiet);
        eo.progress = [&](int d, int t) { bar.update(d, t); };
        prepared = prepare_images(*model, list, eo);
    }
    if (prepared.crops.empty()) fail("no readable estimation images");
    const uint64_t seed = uint64_t(args.get_int("--seed", 0, 0, 1 << 30));
    ProgressBar abar("A(n)", !quiet);
    int evaluated = 0;
    const int coarse_step = args.has("--full-grid") ? 1 : args.get_int("--coarse-step", 8, 1, 1 << 20);
    const int expected_evaluations = int(counts.size()) / coarse_step + 9;  // coarse grid + typical refinement
    auto accuracy_at = [&](int n) {
        PruneSchedule s;
        PruneStep step;
        step.kind = PruneStep::Random;
        step.keep = n;
        step.seed = seed;
        s.steps.push_back(step);
        EvalOptions o;
        o.threads = threads;
        double top1 = evaluate_prepared(model, prepared, s, o).top1();
        ++evaluated;
        abar.update(evaluated, std::max(evaluated + 1, expected_evaluations));
        return top1;
    };
    profiler::UtilitySearchOptions so;
    so.alpha = alpha;
    so.coarse_step = coarse_step;
    profiler::UtilitySearchResult search = profiler::search_utility(latency, accuracy_at, so);
    abar.update(1, 1);

    const int n_star = search.best_tokens;
    // pomt prunes to exactly n* tokens after the layer. The reference code measures L(n) with every
    // block at n but deploys R such that n* + 2 tokens remain; both are reported and measured.
    const int r = N + prefix - 1 - n_star;
    const int reference_r = std::max(0, r - 2);
    const PruneSchedule chosen = pomt_schedule(r, layer);
    const ResolvedSchedule plan = resolve_schedule(chosen, c);

    json::Value search_json = json::Value::object();
    search_json.set("method", json::Value::string("paper: argmax U(n), POMT at one block"));
    search_json.set("model", json::Value::string(c.architecture));
    search_json.set("device", profiler::device_json(threads));
    search_json.set("batch", json::Value::number(batch));
    search_json.set("alpha", json::Value::number(alpha));
    search_json.set("layer", json::Value::number(layer));
    search_json.set("tokens_full", json::Value::number(N));
    search_json.set("n_star", json::Value::number(n_star));
    search_json.set("R", json::Value::number(r));
    search_json.set("reference_R", json::Value::number(reference_r));
    search_json.set("images", json::Value::number(double(prepared.crops.size())));
    search_json.set("random_seed", json::Value::number(double(seed)));
    search_json.set("latency_source", json::Value::string(latency_source));
    search_json.set("accuracy_evaluations", json::Value::number(search.accuracy_evaluations));
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
    search_json.set("curves", curves);

    const profiler::UtilityPoint& best =
        *std::find_if(search.points.begin(), search.points.end(), [&](const auto& p) { return p.tokens == n_star; });
    std::printf("%s: n* = %d tokens (U = %.4f, L = %.3f ms, A = %.2f%% on %zu images, alpha %.2f)\n",
                c.architecture.c_str(), n_star, best.utility, best.latency_ms, best.accuracy, prepared.crops.size(), alpha);
    std::printf("schedule: %s, %d tokens after block %d (the reference code would use R=%d, leaving %d)\n",
                plan.describe().c_str(), n_star, layer, reference_r, pomt_tokens_after(N, prefix, reference_r));

    if (!args.has("--no-verify")) {
        // The deployed schedule runs blocks 0..layer at N tokens: measure it instead of trusting L(n*).
        auto base = profiler::measure_model_latency(model, PruneSchedule(), threads, batch, verify_runs, 3);
        auto ours = profiler::measure_model_latency(model, chosen, threads, batch, verify_runs, 3);
        auto ref = profiler::measure_model_latency(model, pomt_schedule(reference_r, layer), threads, batch, verify_runs, 3);
        json::Value v = json::Value::object();
        v.set("baseline_ms", json::Value::number(base.median_ms));
        v.set("schedule_ms", json::Value::number(ours.median_ms));
        v.set("reference_R_ms", json::Value::number(ref.median_ms));
        v.set("runs", json::Value::number(verify_runs));
        search_json.set("verified_latency", v);
        std::printf("verified (median of %d runs, batch %d, %d threads): baseline %.3f ms, this schedule %.3f ms (%+.1f%%), "
                    "reference R=%d %.3f ms (%+.1f%%)\n",
                    verify_runs, batch, threads, base.median_ms, ours.median_ms,
                    100.0 * (ours.median_ms / base.median_ms - 1), reference_r, ref.median_ms,
                    100.0 * (ref.median_ms / base.median_ms - 1));
        std::printf("note: L(n*) assumes every block runs at n*; pruning at block %d keeps blocks 0..%d at %d tokens\n",
                    layer, layer, N);
    }

    json::Value out = plan.to_json();
    out.set("comment", json::Value::string("computed by pomt schedule: " + plan.describe()));
    out.set("search", search_json);
    std::string text = out.dump() + "\n";
    write_file_atomic(output, text.data(), text.size());
    if (!svg_prefix.empty()) {
        std::vector<profiler::CurvePoint> a, u;
        for (const auto& p : search.points) {
            a.push_back({p.tokens, p.accuracy, p.accuracy, p.accuracy, 0});
            u.push_back({p.tokens, p.utility, p.utility, p.utility, 0});
        }
        write_curve_svg(svg_prefix + "-latency.svg", c.architecture + " L(n), model mode", "latency (ms)", latency,
                        profiler::detect_steps(latency).steps);
        write_curve_svg(svg_prefix + "-accuracy.svg", c.architecture + " A(n), random pruning", "top-1 (%)", a, {});
        write_curve_svg(svg_prefix + "-utility.svg", c.architecture + " U(n), alpha " + json::format_number(alpha), "U(n)", u, {});
    }
    std::printf("wrote %s\n", output.c_str());
    return 0;
}

}  // namespace pomt
