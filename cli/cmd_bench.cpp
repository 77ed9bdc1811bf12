// pomt bench: whole-model latency — warm-up, then repeated timed runs; median and spread.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "cli/commands.h"
#include "kernels/isa.h"
#include "vit/error.h"
#include "vit/forward.h"

namespace pomt {

namespace {

double percentile(std::vector<double> v, double q) {
    std::sort(v.begin(), v.end());
    double pos = q * (v.size() - 1);
    size_t lo = size_t(pos);
    size_t hi = std::min(lo + 1, v.size() - 1);
    return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

}  // namespace

int cmd_bench(int argc, char** argv) {
    Args args(argc, argv, 2, {"-m", "--arch", "--seed", "--threads", "--runs", "--warmup", "--batch"}, {"--json"});
    if (!args.positional().empty()) fail("unexpected argument '" + args.positional()[0] + "'");
    const int threads = threads_from_args(args);
    const int runs = args.get_int("--runs", 30, 1, 100000);
    const int warmup = args.get_int("--warmup", 5, 0, 100000);
    const int batch = args.get_int("--batch", 1, 1, 1024);
    std::shared_ptr<const Model> model = load_model_from_args(args);
    const ModelConfig& c = model->config();
    Session session(model, threads);

    // A fixed pseudo-random image batch: latency does not depend on the pixel values.
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
        auto t1 = std::chrono::steady_clock::now();
        ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    const double med = percentile(ms, 0.5), p10 = percentile(ms, 0.1), p90 = percentile(ms, 0.9);
    const char* isa = isa_name(active_isa());
    if (args.has("--json")) {
        std::printf("{\"model\":\"%s\",\"batch\":%d,\"threads\":%d,\"isa\":\"%s\",\"runs\":%d,\"warmup\":%d,"
                    "\"median_ms\":%.4f,\"p10_ms\":%.4f,\"p90_ms\":%.4f,\"min_ms\":%.4f}\n",
                    c.architecture.c_str(), batch, threads, isa, runs, warmup, med, p10, p90,
                    *std::min_element(ms.begin(), ms.end()));
    } else {
        std::printf("%s  batch %d  threads %d  isa %s\n", c.architecture.c_str(), batch, threads, isa);
        std::printf("forward: median %.3f ms  (p10 %.3f, p90 %.3f, min %.3f) over %d runs after %d warm-up\n", med, p10,
                    p90, *std::min_element(ms.begin(), ms.end()), runs, warmup);
    }
    return 0;
}

}  // namespace pomt
