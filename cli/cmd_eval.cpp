// pomt eval: top-1 / top-5 accuracy on a labelled image set, with or without a pruning schedule,
// and the single-image latency of the same configuration measured in the same run.
#include <cstdio>

#include "cli/commands.h"
#include "kernels/gemm_bf16_kernels.h"
#include "cli/progress.h"
#include "cli/prune_args.h"
#include "kernels/gemm_int8_kernels.h"
#include "kernels/isa.h"
#include "kernels/threads.h"
#include "profiler/model_latency.h"
#include "pomt/error.h"
#include "eval/evaluate.h"
#include "core/file_util.h"

namespace pomt {

int cmd_eval(const Args& args) {
    if (!args.positional().empty()) fail("unexpected argument '" + args.positional()[0] + "'");
    if (!args.has("--data")) fail("missing --data LIST (a 'path label' list) or --data DIR (one folder per class)");
    const PruneSchedule schedule = schedule_from_args(args);
    const int threads = threads_from_args(args);
    const int latency_runs = args.get_int("--latency-runs", 30, 0, 100000);
    EvalOptions options;
    options.threads = threads;
    options.limit = args.get_int("--limit", 0, 1, 1 << 30);
    options.skip_bad = args.has("--skip-bad");
    if (args.has("--max-pixels")) options.image_limits.max_pixels = uint64_t(args.get_int("--max-pixels", 0, 1, 1 << 30));
    std::shared_ptr<const Model> model = load_model_from_args(args);
    const ModelConfig& c = model->config();
    const ResolvedSchedule plan = resolve_schedule(schedule, c);  // fail before decoding anything
    print_prune_warnings(args, schedule, c);
    std::vector<LabelledImage> images = load_dataset(args.get("--data"), args.get("--root"), c.num_classes);
    // Refuse an unwritable path now, not after minutes of work.
    if (args.has("--predictions")) require_writable_path(args.get("--predictions"));

    ProgressBar bar("eval", !args.has("--quiet"));
    options.progress = [&](int done, int total) { bar.update(done, total); };
    EvalResult r = evaluate_images(model, images, schedule, options);
    profiler::LatencyStats lat;
    if (latency_runs > 0) lat = profiler::measure_model_latency(model, schedule, threads, 1, latency_runs, 3);

    if (args.has("--predictions")) {
        std::string text = "image\tlabel\ttop1\n";
        for (int i = 0; i < r.images; ++i) {
            const ImageOutcome& o = r.per_image[size_t(i)];
            text += images[size_t(i)].path + "\t" + std::to_string(images[size_t(i)].label) + "\t" +
                    (o.top1 >= 0 ? std::to_string(o.top1) : "skipped") + "\n";
        }
        write_file_atomic(args.get("--predictions"), text.data(), text.size());
    }
    if (args.has("--json")) {
        json::Value v = json::Value::object();
        v.set("model", json::Value::string(c.architecture));
        v.set("precision", json::Value::string(model->meta().quantization.precision));
        if (model->is_int8()) v.set("int8_kernels", json::Value::string(active_int8_variant()));
        if (model->is_bf16()) v.set("bf16_kernels", json::Value::string(active_bf16_variant()));
        v.set("schedule", json::Value::string(plan.describe()));
        v.set("images", json::Value::number(r.images));
        v.set("evaluated", json::Value::number(r.evaluated));
        v.set("skipped", json::Value::number(r.skipped));
        v.set("top1", json::Value::number(r.top1()));
        v.set("top5", json::Value::number(r.top5()));
        v.set("threads", json::Value::number(threads));
        v.set("isa", json::Value::string(isa_name(active_isa())));
        v.set("median_ms", json::Value::number(lat.median_ms));
        v.set("p10_ms", json::Value::number(lat.p10_ms));
        v.set("p90_ms", json::Value::number(lat.p90_ms));
        v.set("latency_runs", json::Value::number(lat.runs));
        std::printf("%s\n", v.dump().c_str());
    } else {
        std::printf("%s, %s, pruning: %s\n", c.architecture.c_str(), precision_text(*model).c_str(),
                    plan.describe().c_str());
        std::printf("images   %d evaluated%s\n", r.evaluated,
                    r.skipped ? (", " + std::to_string(r.skipped) + " skipped (unreadable)").c_str() : "");
        std::printf("top-1    %.2f%%\ntop-5    %.2f%%\n", r.top1(), r.top5());
        if (lat.runs)
            std::printf("latency  median %.3f ms (p10 %.3f, p90 %.3f) per image, batch 1, %d thread%s, %s\n", lat.median_ms,
                        lat.p10_ms, lat.p90_ms, threads, threads == 1 ? "" : "s", isa_name(active_isa()));
    }
    return 0;
}

}  // namespace pomt
