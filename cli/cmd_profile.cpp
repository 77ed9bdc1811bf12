// pomt profile: the latency-vs-tokens curve of this device, its steps, and the counts worth
// pruning to (the paper's measurement).
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "cli/commands.h"
#include "cli/prune_args.h"
#include "cli/token_range.h"
#include "kernels/isa.h"
#include "profiler/block_ops.h"
#include "profiler/latency_curve.h"
#include "profiler/measure.h"
#include "profiler/steps.h"
#include "profiler/svg_plot.h"
#include "profiler/workloads.h"
#include "pomt/error.h"
#include "core/file_util.h"

namespace pomt {

namespace {

// A disturbance warning (one line, or nothing), on stderr after the report already printed.
void warn(const std::string& warning) {
    if (warning.empty()) return;
    std::fflush(stdout);
    std::fprintf(stderr, "%s\n", warning.c_str());
}

// The deployed schedule against the plain model, side by side: both are measurement points of
// one run (visited in shuffled order), so drift hits them alike.
int profile_schedule(const Args& args, std::shared_ptr<const Model> model, const PruneSchedule& schedule, int threads,
                     int batch) {
    const ModelConfig& c = model->config();
    const ResolvedSchedule plan = resolve_schedule(schedule, c);
    const std::string csv_path =
        args.get("--csv", "profile-" + c.architecture.substr(0, c.architecture.find('.')) + "-schedule-b" +
                              std::to_string(batch) + "-t" + std::to_string(threads) + ".csv");
    require_writable_path(csv_path);
    if (args.has("--pin")) profiler::pin_to_cpus(profiler::parse_cpu_list(args.get("--pin")));
    std::unique_ptr<TokenPruner> pruner = make_pruner(plan, c);
    Session session(model, threads);
    std::vector<float> images(size_t(batch) * c.in_chans * c.img_size * c.img_size);
    profiler::fill_pseudo_random(images, 12345);
    profiler::MeasureOptions mo = args.has("--fast") ? profiler::MeasureOptions::fast() : profiler::MeasureOptions();
    profiler::HostLoadMeter load;
    auto stats = profiler::measure_points({0, 1}, [&](int which) {
        RunOptions ro;
        ro.pruner = which ? pruner.get() : nullptr;
        auto t0 = std::chrono::steady_clock::now();
        session.run(images.data(), batch, ro);
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }, mo);
    std::vector<profiler::LatencyRow> rows;
    for (const auto& s : stats) {
        profiler::LatencyRow r;
        r.mode = s.point ? "schedule" : "baseline";
        r.tokens = c.num_tokens();
        r.batch = batch;
        r.threads = threads;
        r.median_ms = s.median_ms;
        r.p10_ms = s.p10_ms;
        r.p90_ms = s.p90_ms;
        r.runs = s.runs;
        r.slow_runs = s.slow_runs;
        rows.push_back(r);
    }
    profiler::Disturbance disturbance = profiler::disturbance_of(stats, mo.interference);
    disturbance.load = load.read();
    profiler::write_latency_csv(csv_path, rows);
    std::printf("%s, batch %d, %d thread%s, %s\n", c.architecture.c_str(), batch, threads, threads == 1 ? "" : "s",
                isa_name(active_isa()));
    std::printf("baseline  %8.3f ms  (p10 %.3f, p90 %.3f, %d runs)\n", stats[0].median_ms, stats[0].p10_ms, stats[0].p90_ms,
                stats[0].runs);
    std::printf("schedule  %8.3f ms  (p10 %.3f, p90 %.3f, %d runs)  %+.1f%%  %s\n", stats[1].median_ms, stats[1].p10_ms,
                stats[1].p90_ms, stats[1].runs, 100.0 * (stats[1].median_ms / stats[0].median_ms - 1), plan.describe().c_str());
    std::printf("tokens after each block:");
    for (int t : plan.tokens_after_block) std::printf(" %d", t);
    std::printf("\nwrote %s\n", csv_path.c_str());
    warn(disturbance.warning("the measurement", "side"));
    return 0;
}

// The cost of pruning where it happens: the first block with a pruning action, at the full token
// count, run with and without its pruner (two points of one shuffled measurement), per operation.
int profile_pruning_block(const Args& args, std::shared_ptr<const Model> model, const PruneSchedule& schedule, int threads,
                          int batch) {
    const ModelConfig& c = model->config();
    const ResolvedSchedule plan = resolve_schedule(schedule, c);
    int layer = -1;
    for (int i = 0; i < int(plan.layers.size()) && layer < 0; ++i)
        if (plan.layers[size_t(i)].method != PruneMethod::None) layer = i;
    if (layer < 0) fail("--mode op with a schedule needs a pruning action in some block (random pruning has none)");
    if (plan.keep) fail("--mode op times one block at the full token count: leave out random pruning");
    std::unique_ptr<TokenPruner> pruner = make_pruner(plan, c);
    if (args.has("--pin")) profiler::pin_to_cpus(profiler::parse_cpu_list(args.get("--pin")));
    Session session(model, threads);
    OpTimedBlock block(session);
    const int n = c.num_tokens(), D = c.embed_dim;
    std::vector<float> input(size_t(batch) * n * D), work(input.size());
    profiler::fill_pseudo_random(input, 777);
    std::vector<std::vector<OpTimes>> samples(2);
    profiler::MeasureOptions mo = args.has("--fast") ? profiler::MeasureOptions::fast() : profiler::MeasureOptions();
    profiler::HostLoadMeter load;
    auto stats = profiler::measure_points({0, 1}, [&](int pruned) {
        std::copy(input.begin(), input.end(), work.begin());
        OpTimes t;
        auto t0 = std::chrono::steady_clock::now();
        block.run(layer, work.data(), batch, n, pruned ? pruner.get() : nullptr, t);
        double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        samples[size_t(pruned)].push_back(t);
        return sec;
    }, mo);
    auto op_median = [&](int which, int op) {
        std::vector<double> ms;
        for (size_t i = 1; i < samples[size_t(which)].size(); ++i) ms.push_back(samples[size_t(which)][i].seconds[op] * 1e3);
        std::sort(ms.begin(), ms.end());
        return ms.empty() ? 0.0 : profiler::quantile_sorted(ms, 0.5);
    };
    std::printf("%s, block %d at %d tokens, batch %d, %d thread%s, %s; pruning: %s\n", c.architecture.c_str(), layer, n, batch,
                threads, threads == 1 ? "" : "s", isa_name(active_isa()), plan.describe().c_str());
    std::printf("  %-10s %10s %10s\n", "op (ms)", "plain", "pruning");
    for (int op = 0; op < int(BlockOp::Count); ++op)
        std::printf("  %-10s %10.4f %10.4f\n", block_op_name(BlockOp(op)), op_median(0, op), op_median(1, op));
    std::printf("  %-10s %10.4f %10.4f  (median of whole-block runs: %d and %d)\n", "block", stats[0].median_ms,
                stats[1].median_ms, stats[0].runs, stats[1].runs);
    // What pruning adds: the step itself (the unfused attention writes its matrix in both runs).
    double plain_block = 0;
    for (int op = 0; op < int(BlockOp::Count); ++op) plain_block += op_median(0, op);
    const double step = op_median(1, int(BlockOp::Prune));
    std::printf("pruning step at block %d: %.4f ms = %.1f%% of the plain block's %.4f ms (sum of its operations)\n", layer,
                step, 100.0 * step / plain_block, plain_block);
    profiler::Disturbance disturbance = profiler::disturbance_of(stats, mo.interference);
    disturbance.load = load.read();
    warn(disturbance.warning("the measurement", "side"));
    return 0;
}

}  // namespace

int cmd_profile(const Args& args) {
    if (!args.positional().empty()) fail("unexpected argument '" + args.positional()[0] + "'");
    const int threads = threads_from_args(args);
    const int batch = args.get_int("--batch", 1, 1, 1024);
    const profiler::ProfileMode mode = profiler::parse_mode(args.get("--mode", "model"));
    const bool quiet = args.has("--quiet");
    const PruneSchedule schedule = schedule_from_args(args);
    std::shared_ptr<const Model> model = load_model_from_args(args);
    const ModelConfig& c = model->config();
    if (!schedule.empty()) {
        print_prune_warnings(args, schedule, c);
        if (args.has("--tokens") || args.has("--svg") || (args.has("--mode") && mode == profiler::ProfileMode::Block))
            fail("with --prune/--schedule, profile compares the schedule with the full model (or, with --mode op, "
                 "the pruning block's operations): --tokens, --svg and --mode block do not apply");
        if (mode == profiler::ProfileMode::Op) return profile_pruning_block(args, model, schedule, threads, batch);
        return profile_schedule(args, model, schedule, threads, batch);
    }
    const TokenRange range = parse_token_range(args.get("--tokens"), c.num_prefix_tokens() + 1, c.num_tokens());

    std::string base = c.architecture.substr(0, c.architecture.find('.')) + "-" + profiler::mode_name(mode) + "-b" +
                       std::to_string(batch) + "-t" + std::to_string(threads);
    const std::string csv_path = args.get("--csv", "profile-" + base + ".csv");
    const std::string svg_path = args.has("--no-svg") ? "" : args.get("--svg", "profile-" + base + ".svg");
    require_writable_path(csv_path);
    if (!svg_path.empty()) require_writable_path(svg_path);

    // Pin before the Session creates its threads, so they inherit the mask.
    if (args.has("--pin")) profiler::pin_to_cpus(profiler::parse_cpu_list(args.get("--pin")));
    profiler::TokenWorkload workload(model, threads, batch, mode);

    const std::vector<int> points = range.counts();
    profiler::MeasureOptions mo = args.has("--fast") ? profiler::MeasureOptions::fast() : profiler::MeasureOptions();
    if (args.has("--budget")) mo.budget_seconds = args.get_int("--budget", 0, 1, 1 << 24);
    const bool show_progress = !quiet && profiler::stderr_is_terminal();
    profiler::ProgressFn progress = nullptr;
    if (show_progress)
        progress = [](const profiler::Progress& p) { std::fprintf(stderr, "\r%s", profiler::progress_line(p).c_str()); };
    if (!quiet)
        std::fprintf(stderr, "profiling %s, %s mode, tokens %d..%d step %d, batch %d, %d thread%s, isa %s%s\n",
                     c.architecture.c_str(), profiler::mode_name(mode), range.start, range.end, range.step, batch,
                     threads, threads == 1 ? "" : "s", isa_name(active_isa()), args.has("--fast") ? " (fast)" : "");
    profiler::HostLoadMeter load;
    std::vector<profiler::PointStats> stats =
        profiler::measure_points(points, [&](int n) { return workload.run(n); }, mo, progress);
    if (show_progress) std::fprintf(stderr, "\n");

    std::vector<profiler::LatencyRow> rows;
    for (const profiler::PointStats& s : stats) {
        profiler::LatencyRow r;
        r.mode = profiler::mode_name(mode);
        r.tokens = s.point;
        r.batch = batch;
        r.threads = threads;
        r.median_ms = s.median_ms;
        r.p10_ms = s.p10_ms;
        r.p90_ms = s.p90_ms;
        r.runs = s.runs;
        r.slow_runs = s.slow_runs;
        if (mode == profiler::ProfileMode::Op) r.op = "block";
        rows.push_back(r);
    }
    if (mode == profiler::ProfileMode::Op) {
        // Per-operation medians from every recorded run at that count (the first one dropped: it
        // pays the first-touch costs the engine also discards).
        for (const auto& kv : workload.op_samples()) {
            for (int op = 0; op < int(BlockOp::Count); ++op) {
                if (BlockOp(op) == BlockOp::Prune) continue;
                std::vector<double> ms;
                for (size_t i = kv.second.size() > 1 ? 1 : 0; i < kv.second.size(); ++i)
                    ms.push_back(kv.second[i].seconds[op] * 1e3);
                std::sort(ms.begin(), ms.end());
                profiler::LatencyRow r;
                r.mode = "op";
                r.op = block_op_name(BlockOp(op));
                r.tokens = kv.first;
                r.batch = batch;
                r.threads = threads;
                r.median_ms = profiler::quantile_sorted(ms, 0.5);
                r.p10_ms = profiler::quantile_sorted(ms, 0.1);
                r.p90_ms = profiler::quantile_sorted(ms, 0.9);
                r.runs = int(ms.size());
                r.slow_runs = profiler::count_slow_runs(ms, mo.interference.slow_excess);
                rows.push_back(r);
            }
        }
    }
    profiler::write_latency_csv(csv_path, rows);

    std::vector<profiler::CurvePoint> curve =
        profiler::select_curve(rows, profiler::mode_name(mode), batch, threads, mode == profiler::ProfileMode::Op ? "block" : "");
    profiler::StepAnalysis analysis = profiler::detect_steps(curve);
    // Every step found is measured again, its two sides side by side; one that does not reproduce
    // is not reported (docs/PROFILING.md, "Interference").
    profiler::Disturbance disturbance = profiler::disturbance_of(stats, mo.interference);
    profiler::confirm_steps(curve, analysis, [&](int n) { return workload.run(n); },
                            args.has("--fast") ? profiler::ConfirmOptions::fast() : profiler::ConfirmOptions(),
                            &disturbance);
    disturbance.load = load.read();
    std::string title = c.architecture + ", " + profiler::mode_name(mode) + " mode, batch " + std::to_string(batch) +
                        ", " + std::to_string(threads) + " thread" + (threads == 1 ? "" : "s") + ", " +
                        isa_name(active_isa());
    if (!svg_path.empty()) {
        profiler::PlotSeries series;
        series.label = std::to_string(threads) + (threads == 1 ? " thread" : " threads");
        series.curve = curve;
        series.steps = analysis.steps;
        profiler::PlotOptions po;
        po.title = "pomt latency vs tokens — " + title;
        po.y_label = mode == profiler::ProfileMode::Model ? "model latency (ms)" : "block latency (ms)";
        profiler::write_latency_svg(svg_path, {series}, po);
    }
    std::printf("%s", profiler::format_step_summary(curve, analysis, title).c_str());
    if (mode == profiler::ProfileMode::Op && !curve.empty()) {
        // The breakdown at the largest count measured: where a block's time goes.
        int n = curve.back().tokens;
        std::printf("\noperations of one block at %d tokens (median ms):\n", n);
        for (const profiler::LatencyRow& r : rows)
            if (r.mode == "op" && r.op != "block" && r.tokens == n) std::printf("  %-10s %8.4f\n", r.op.c_str(), r.median_ms);
    }
    std::printf("\nwrote %s%s%s\n", csv_path.c_str(), svg_path.empty() ? "" : " and ", svg_path.c_str());
    warn(disturbance.warning("the profile"));
    return 0;
}

}  // namespace pomt
