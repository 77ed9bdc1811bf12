// pomt bench: how fast this machine runs ViTs with pomt's kernels.
//   pomt bench (-m model.pomt | --arch NAME) [--threads T] [--runs N] [--batch B] [--json]
//       whole-model latency of one model: warm-up, then the median and p10/p90 of N runs;
//   pomt bench [--runs N]
//       the full report, side by side in one run: measured FMA peak, GEMM GFLOP/s on the ViT
//       Linear shapes, and DeiT-Tiny / DeiT-Small / ViT-Base latency at 1 thread and all cores.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <vector>

#include "cli/commands.h"
#include "kernels/isa.h"
#include "kernels/threads.h"
#include "profiler/kernel_bench.h"
#include "profiler/measure.h"
#include "vit/error.h"
#include "vit/forward.h"

namespace pomt {

namespace {

struct Latency {
    double median = 0, p10 = 0, p90 = 0, min = 0;
    int runs = 0;
};

Latency model_latency(std::shared_ptr<const Model> model, int threads, int batch, int runs, int warmup) {
    const ModelConfig& c = model->config();
    Session session(model, threads);
    // A fixed pseudo-random batch: latency does not depend on the pixel values.
    std::vector<float> images(size_t(batch) * c.in_chans * c.img_size * c.img_size);
    uint32_t state = 12345;
    for (float& v : images) {
        state = state * 1664525u + 1013904223u;
        v = float(state >> 8) / float(1 << 24) * 2.0f - 1.0f;
    }
    for (int i = 0; i < warmup; ++i) session.run(images.data(), batch);
    std::vector<double> ms;
    for (int i = 0; i < runs; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        session.run(images.data(), batch);
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    Latency l;
    l.median = profiler::quantile_sorted(ms, 0.5);
    l.p10 = profiler::quantile_sorted(ms, 0.1);
    l.p90 = profiler::quantile_sorted(ms, 0.9);
    l.min = ms.front();
    l.runs = runs;
    return l;
}

std::string cpu_model_name() {
    std::ifstream f("/proc/cpuinfo");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("model name", 0) == 0 || line.rfind("Model", 0) == 0) {
            size_t colon = line.find(':');
            if (colon != std::string::npos) return line.substr(colon + 2);
        }
    return "unknown CPU";
}

int bench_suite(int runs, int warmup) {
    const int all = ThreadPool::hardware_threads();
    const Isa isa = active_isa();
    std::printf("pomt bench: %s, %d hardware threads, kernels %s\n\n", cpu_model_name().c_str(), all, isa_name(isa));
    const double peak = measure_fma_peak_gflops(isa);
    std::printf("FMA peak, 1 core, measured: %.1f GFLOP/s (fp32, %s)\n\n", peak, isa_name(isa));

    std::printf("GEMM, 1 thread (median of %d runs; %% of the measured 1-core peak)\n", runs);
    std::vector<GemmBenchResult> gemm = bench_gemm_shapes(vit_linear_shapes({197, 99, 50}), nullptr, runs, peak);
    std::printf("%s\n", format_gemm_bench(gemm, peak, 1).c_str());

    std::printf("Whole model, batch 1 (median, p10–p90 of %d runs after %d warm-up)\n", runs, warmup);
    std::printf("  %-26s %8s %18s %8s %18s %9s\n", "model", "1 thread", "p10–p90", std::to_string(all).append(" thr").c_str(),
                "p10–p90", "speed-up");
    for (const char* arch : {"deit_tiny_patch16_224", "deit_small_patch16_224", "vit_base_patch16_224"}) {
        auto model = Model::random(arch, 0);
        Latency one = model_latency(model, 1, 1, runs, warmup);
        Latency many = model_latency(model, all, 1, runs, warmup);
        std::printf("  %-26s %6.2f ms %7.2f–%-7.2f ms %6.2f ms %7.2f–%-7.2f ms %8.2fx\n", arch, one.median, one.p10, one.p90,
                    many.median, many.p10, many.p90, one.median / many.median);
    }
    return 0;
}

}  // namespace

int cmd_bench(int argc, char** argv) {
    Args args(argc, argv, 2, {"-m", "--arch", "--seed", "--threads", "--runs", "--warmup", "--batch"}, {"--json"});
    if (!args.positional().empty()) fail("unexpected argument '" + args.positional()[0] + "'");
    const int runs = args.get_int("--runs", 30, 1, 100000);
    const int warmup = args.get_int("--warmup", 5, 0, 100000);
    if (!args.has("-m") && !args.has("--arch")) {
        if (args.has("--json") || args.has("--threads") || args.has("--batch"))
            fail("--json, --threads and --batch need a model: give -m model.pomt or --arch NAME");
        return bench_suite(runs, warmup);
    }
    const int threads = threads_from_args(args);
    const int batch = args.get_int("--batch", 1, 1, 1024);
    std::shared_ptr<const Model> model = load_model_from_args(args);
    const ModelConfig& c = model->config();
    Latency l = model_latency(model, threads, batch, runs, warmup);
    const char* isa = isa_name(active_isa());
    if (args.has("--json")) {
        std::printf("{\"model\":\"%s\",\"batch\":%d,\"threads\":%d,\"isa\":\"%s\",\"runs\":%d,\"warmup\":%d,"
                    "\"median_ms\":%.4f,\"p10_ms\":%.4f,\"p90_ms\":%.4f,\"min_ms\":%.4f}\n",
                    c.architecture.c_str(), batch, threads, isa, runs, warmup, l.median, l.p10, l.p90, l.min);
    } else {
        std::printf("%s  batch %d  threads %d  isa %s\n", c.architecture.c_str(), batch, threads, isa);
        std::printf("forward: median %.3f ms  (p10 %.3f, p90 %.3f, min %.3f) over %d runs after %d warm-up\n", l.median,
                    l.p10, l.p90, l.min, runs, warmup);
    }
    return 0;
}

}  // namespace pomt
