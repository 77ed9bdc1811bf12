// pomt bench: how fast this machine runs ViTs with pomt's kernels.
//   pomt bench (-m model.pomt | --arch NAME) [--threads T] [--runs N] [--batch B] [--json]
//              [--full-last-block]
//       whole-model latency of one model: warm-up, then the median and p10/p90 of N runs;
//       --full-last-block computes every row of the last block (RunOptions::last_block_all_rows),
//       as an engine that does not skip the unread rows would;
//   pomt bench (-m model.pomt | --arch NAME) --compare 'SPEC|@schedule.json|…' [...]
//       the unpruned model and each schedule timed interleaved (each run visits all of them, in a
//       rotating order), with each one's latency as a ratio of the unpruned model's;
//   pomt bench [--runs N]
//       the full report, side by side in one run: measured FMA peak, GEMM GFLOP/s on the ViT
//       Linear shapes, the same for int8 (peak and GEMMs at M = 197), and DeiT-Tiny / DeiT-Small /
//       ViT-Base latency at 1 thread and all cores;
//   pomt bench --int8 [--runs N]
//       only the int8 part of that report: the measured int8 peak of the int8 variant in use
//       (POMT_INT8 forces one) and int8 GEMM GMAC/s on the ViT Linear shapes at M = 197;
//   pomt bench --attention [--runs N]
//       the fused attention of one head at 197, 257, 577 and 1370 tokens (head_dim 64, 32, 48),
//       timed alternately with the same two products as plain GEMMs and with bf16 attention
//       (POMT_ISA picks the level, POMT_BF16 the bf16 kernels).
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "kernels/gemm_bf16_kernels.h"
#include "kernels/gemm_int8_kernels.h"
#include "kernels/isa.h"
#include "kernels/threads.h"
#include "profiler/device.h"
#include "profiler/kernel_bench.h"
#include "profiler/model_latency.h"
#include "prune/pruning.h"
#include "pomt/error.h"
#include "quantize/quantize_model.h"
#include "vit/forward.h"
#include "core/json.h"

namespace pomt {

namespace {

// Table cells as strings, so printf pads them by bytes that are all one column wide (an en dash in
// a cell is three bytes for one column and shifts everything after it).
std::string cell_ms(double ms, int decimals) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f ms", decimals, ms);
    return buf;
}

std::string cell_spread(double p10, double p90, int decimals) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%.*f-%.*f ms", decimals, p10, decimals, p90);
    return buf;
}

// A disturbance warning (one line, or nothing), on stderr after the report already printed.
void warn(const std::string& warning) {
    if (warning.empty()) return;
    std::fflush(stdout);
    std::fprintf(stderr, "%s\n", warning.c_str());
}

void bench_int8(int runs) {
    const double peak = measure_int8_peak_gmacs();
    std::printf("int8 peak, 1 core, measured: %.1f GMAC/s (%s)\n\n", peak, int8_variant_name());
    std::printf("int8 GEMM, 1 thread (median of %d runs; %% of the measured 1-core int8 peak)\n", runs);
    std::printf("%s\n", format_int8_gemm_bench(bench_int8_gemm_shapes(vit_linear_shapes({197}), nullptr, runs, peak), peak, 1)
                            .c_str());
}

int bench_suite(int runs, int warmup) {
    const int all = ThreadPool::hardware_threads();
    const Isa isa = active_isa();
    std::printf("pomt bench: %s, %d hardware threads, kernels %s\n\n", profiler::cpu_model_name().c_str(), all, isa_name(isa));
    const double peak = measure_fma_peak_gflops(isa);
    std::printf("FMA peak, 1 core, measured: %.1f GFLOP/s (fp32, %s)\n\n", peak, isa_name(isa));

    std::printf("GEMM, 1 thread (median of %d runs; %% of the measured 1-core peak)\n", runs);
    std::vector<GemmBenchResult> gemm = bench_gemm_shapes(vit_linear_shapes({197, 99, 50}), nullptr, runs, peak);
    std::printf("%s\n", format_gemm_bench(gemm, peak, 1).c_str());
    bench_int8(runs);

    std::printf("Whole model, batch 1 (median, p10-p90 of %d runs after %d warm-up)\n", runs, warmup);
    // Wide enough for 9999.99 ms (ViT-Base on a slow core) and its spread.
    std::printf("  %-24s %11s %19s %11s %19s %9s\n", "model", "1 thread", "p10-p90",
                std::to_string(all).append(all == 1 ? " thread" : " threads").c_str(), "p10-p90", "speed-up");
    // T threads slower than 1 (or faster than T×) is re-measured interleaved: thread_scaling_warning
    // then says whether it persisted and whether the machine looked busy.
    std::vector<std::pair<std::string, profiler::ThreadScaling>> scaling;
    for (const char* arch : {"deit_tiny_patch16_224", "deit_small_patch16_224", "vit_base_patch16_224"}) {
        auto r = profiler::measure_thread_scaling(Model::random(arch, 0), all, runs, warmup);
        std::printf("  %-24s %11s %19s %11s %19s %8.2fx%s\n", arch, cell_ms(r.one.median_ms, 2).c_str(),
                    cell_spread(r.one.p10_ms, r.one.p90_ms, 2).c_str(), cell_ms(r.many.median_ms, 2).c_str(),
                    cell_spread(r.many.p10_ms, r.many.p90_ms, 2).c_str(), r.speedup(), r.remeasured ? "*" : "");
        scaling.emplace_back(arch, r);
    }
    for (const auto& nr : scaling)
        if (nr.second.remeasured)
            std::printf("  * %s: %.2fx measured back to back, so both were measured again interleaved\n",
                        nr.first.c_str(), nr.second.first_speedup);
    warn(profiler::thread_scaling_warning(scaling));
    return 0;
}

// --compare's list: alternatives separated by '|' (a character no spec uses); `@FILE` is a
// schedule file, anything else a --prune spec.
std::vector<std::pair<std::string, PruneSchedule>> parse_compare_list(const std::string& list) {
    std::vector<std::pair<std::string, PruneSchedule>> out;
    size_t start = 0;
    while (true) {
        const size_t bar = list.find('|', start);
        const std::string item = list.substr(start, bar == std::string::npos ? std::string::npos : bar - start);
        if (item.empty()) fail("--compare: empty entry in '" + list + "'");
        out.emplace_back(item, item[0] == '@' ? load_schedule_file(item.substr(1)) : parse_prune_spec(item));
        if (bar == std::string::npos) break;
        start = bar + 1;
    }
    return out;
}

int bench_compare(const Args& args, std::shared_ptr<const Model> model, const std::string& list, int threads, int batch,
                  int runs, int warmup, bool json_out, bool full_last_block) {
    auto entries = parse_compare_list(list);
    for (const auto& e : entries)
        print_prune_warnings(args, e.second, model->config(), full_last_block, entries.size() > 1 ? e.first : "");
    std::vector<PruneSchedule> schedules = {PruneSchedule()};
    std::vector<std::string> names = {"none"};
    // A plan chosen in int8 (a schedule file's "precision") runs on the int8 version of the model,
    // made once, against the model as given.
    std::vector<std::shared_ptr<const Model>> models = {model};
    std::shared_ptr<const Model> other;
    for (auto& e : entries) {
        schedules.push_back(e.second);
        const bool own = e.second.precision.empty() || e.second.precision == model->precision();
        if (!own && !other) other = model_in_precision(model, e.second.precision);
        models.push_back(own ? model : other);
        names.push_back(e.second.precision.empty() ? e.first : e.first + " (" + e.second.precision + ")");
    }
    profiler::HostLoadMeter load;
    auto stats = profiler::measure_plans_interleaved(models, schedules, threads, batch, runs, warmup, full_last_block);
    profiler::Disturbance disturbance = profiler::disturbance_of(stats);
    disturbance.load = load.read();
    const std::string warning = disturbance.warning("the measurement", "schedule");
    const ModelConfig& c = model->config();
    const char* isa = isa_name(active_isa());
    if (json_out) {
        std::printf("{\"model\":\"%s\",\"batch\":%d,\"threads\":%d,\"isa\":\"%s\",\"runs\":%d,\"warmup\":%d,"
                    "\"interleaved\":true,\"results\":[",
                    c.architecture.c_str(), batch, threads, isa, runs, warmup);
        for (size_t i = 0; i < stats.size(); ++i)
            std::printf("%s{\"schedule\":%s,\"median_ms\":%.4f,\"p10_ms\":%.4f,\"p90_ms\":%.4f,\"min_ms\":%.4f,"
                        "\"ratio\":%.4f,\"slow_runs\":%d}",
                        i ? "," : "", json::Value::string(names[i]).dump().c_str(), stats[i].median_ms, stats[i].p10_ms,
                        stats[i].p90_ms, stats[i].min_ms, stats[i].median_ms / stats[0].median_ms, stats[i].slow_runs);
        std::printf("],\"disturbed\":%s,\"warning\":%s}\n", disturbance.disturbed() ? "true" : "false",
                    json::Value::string(warning).dump().c_str());
        warn(warning);
        return 0;
    }
    std::printf("%s  batch %d  threads %d  isa %s  (%d interleaved runs after %d warm-up)\n", c.architecture.c_str(),
                batch, threads, isa, runs, warmup);
    int name_width = 8;  // "schedule"
    for (const std::string& name : names) name_width = std::max(name_width, int(name.size()));
    std::printf("  %-*s %12s %21s %7s\n", name_width, "schedule", "median", "p10-p90", "ratio");
    for (size_t i = 0; i < stats.size(); ++i)
        std::printf("  %-*s %12s %21s %7.3f\n", name_width, names[i].c_str(), cell_ms(stats[i].median_ms, 3).c_str(),
                    cell_spread(stats[i].p10_ms, stats[i].p90_ms, 3).c_str(), stats[i].median_ms / stats[0].median_ms);
    warn(warning);
    return 0;
}

}  // namespace

int cmd_bench(const Args& args) {
    if (!args.positional().empty()) fail("unexpected argument '" + args.positional()[0] + "'");
    const int runs = args.get_int("--runs", 30, 1, 100000);
    const int warmup = args.get_int("--warmup", 5, 0, 100000);
    if (args.has("--int8")) {
        if (args.has("-m") || args.has("--arch") || args.has("--json") || args.has("--threads") || args.has("--batch") ||
            args.has("--compare") || args.has("--full-last-block") || args.has("--attention"))
            fail("--int8 takes only --runs N (the int8 kernels, 1 thread, no model)");
        bench_int8(runs);
        return 0;
    }
    if (args.has("--attention")) {
        if (args.has("-m") || args.has("--arch") || args.has("--json") || args.has("--threads") || args.has("--batch") ||
            args.has("--compare") || args.has("--full-last-block"))
            fail("--attention takes only --runs N (one head, 1 thread, no model)");
        const double peak = measure_fma_peak_gflops(active_isa());
        std::printf("%s", format_attention_bench(bench_attention_shapes(vit_attention_shapes(), runs, peak), peak).c_str());
        return 0;
    }
    if (!args.has("-m") && !args.has("--arch")) {
        if (args.has("--json") || args.has("--threads") || args.has("--batch") || args.has("--compare") ||
            args.has("--full-last-block"))
            fail("--json, --threads, --batch, --compare and --full-last-block need a model: give -m model.pomt or "
                 "--arch NAME");
        return bench_suite(runs, warmup);
    }
    const int threads = threads_from_args(args);
    const int batch = args.get_int("--batch", 1, 1, 1024);
    std::shared_ptr<const Model> model = load_model_from_args(args);
    const bool full_last_block = args.has("--full-last-block");
    if (args.has("--compare"))
        return bench_compare(args, model, args.get("--compare"), threads, batch, runs, warmup, args.has("--json"),
                             full_last_block);
    const ModelConfig& c = model->config();
    const profiler::CheckedLatency checked =
        profiler::measure_model_latency_checked(model, PruneSchedule(), threads, batch, runs, warmup, full_last_block);
    const profiler::LatencyStats& l = checked.stats;
    const profiler::Disturbance& disturbance = checked.disturbance;
    const std::string warning = disturbance.warning("the measurement", "configuration");
    const char* isa = isa_name(active_isa());
    // What the last block computes: every row, or the pooled (class, distillation) rows only.
    const char* last_block = !full_last_block && c.global_pool == "token" ? "pooled rows" : "all rows";
    // The kernels of the model's Linear layers: the fp32 level, or the int8 / bf16 variant.
    const char* kernels =
        model->is_int8() ? active_int8_variant() : model->is_bf16() ? active_bf16_variant() : isa;
    if (args.has("--json")) {
        std::printf("{\"model\":\"%s\",\"batch\":%d,\"threads\":%d,\"isa\":\"%s\",\"kernels\":\"%s\",\"runs\":%d,"
                    "\"warmup\":%d,\"last_block\":\"%s\",\"median_ms\":%.4f,\"p10_ms\":%.4f,\"p90_ms\":%.4f,\"min_ms\":%.4f,"
                    "\"slow_runs\":%d,\"disturbed\":%s,\"warning\":%s}\n",
                    c.architecture.c_str(), batch, threads, isa, kernels, runs, warmup, last_block,
                    l.median_ms, l.p10_ms, l.p90_ms, l.min_ms, l.slow_runs, disturbance.disturbed() ? "true" : "false",
                    json::Value::string(warning).dump().c_str());
    } else {
        std::printf("%s  batch %d  threads %d  isa %s  last block: %s\n", c.architecture.c_str(), batch, threads, isa,
                    last_block);
        std::printf("forward: median %.3f ms  (p10 %.3f, p90 %.3f, min %.3f) over %d runs after %d warm-up\n", l.median_ms,
                    l.p10_ms, l.p90_ms, l.min_ms, runs, warmup);
    }
    warn(warning);
    return 0;
}

}  // namespace pomt
