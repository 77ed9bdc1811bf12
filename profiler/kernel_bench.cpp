#include "profiler/kernel_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <random>

#include "kernels/dispatch.h"
#include "kernels/gemm.h"
#include "kernels/threads.h"

namespace pomt {

namespace {

double now_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

volatile float g_sink;  // keeps the probe loops' results alive

BenchStats stats_of(std::vector<double> v) {
    BenchStats s;
    s.runs = int(v.size());
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    auto at = [&](double q) { return v[std::min(v.size() - 1, size_t(q * double(v.size() - 1) + 0.5))]; };
    s.median = at(0.5);
    s.p10 = at(0.1);
    s.p90 = at(0.9);
    return s;
}

// GFLOP/s of each of `runs` timed runs of fn (which does `flops` per call), after warming up.
std::vector<double> time_runs(const std::function<void()>& fn, double flops, int runs) {
    // Warm-up: at least 3 calls and ~20 ms, which also sizes the repetitions per run.
    int calls = 0;
    double t0 = now_seconds(), t = t0;
    while (calls < 3 || t - t0 < 0.02) {
        fn();
        ++calls;
        t = now_seconds();
    }
    double per_call = (t - t0) / calls;
    int reps = std::max(1, int(0.002 / std::max(per_call, 1e-9)));
    std::vector<double> out;
    for (int r = 0; r < runs; ++r) {
        double s = now_seconds();
        for (int i = 0; i < reps; ++i) fn();
        double e = now_seconds() - s;
        out.push_back(flops * reps / e / 1e9);
    }
    return out;
}

}  // namespace

double measure_fma_peak_gflops(Isa isa, double seconds) {
    if (!isa_supported(isa)) return 0;
    const IsaKernels& k = kernels_for(isa);
    if (k.isa != isa) return 0;
    // Size one window to ~`seconds`/4, then keep the best of 20 windows: the peak is the least
    // disturbed window, and short windows are more likely to escape other processes' time slices.
    long iters = 1 << 14;
    for (;;) {
        double s = now_seconds();
        g_sink = k.fma_loop(iters);
        if (now_seconds() - s > seconds / 8 || iters > (1L << 40)) break;
        iters *= 2;
    }
    iters *= 2;
    double best = 0;
    for (int w = 0; w < 20; ++w) {
        double s = now_seconds();
        g_sink = k.fma_loop(iters);
        double e = now_seconds() - s;
        best = std::max(best, 2.0 * k.fma_per_step * double(iters) / e / 1e9);
    }
    return best;
}

std::vector<GemmShape> vit_linear_shapes(const std::vector<int>& ms) {
    std::vector<GemmShape> out;
    const struct {
        const char* name;
        int d;
    } models[] = {{"deit_tiny", 192}, {"deit_small", 384}, {"vit_base", 768}};
    for (int m : ms)
        for (const auto& md : models) {
            int d = md.d;
            std::string p = std::string(md.name) + " ";
            out.push_back({m, 3 * d, d, p + "qkv", "bias"});
            out.push_back({m, d, d, p + "proj", "bias+residual"});
            out.push_back({m, 4 * d, d, p + "fc1", "bias+gelu"});
            out.push_back({m, d, 4 * d, p + "fc2", "bias+residual"});
        }
    return out;
}

std::vector<GemmBenchResult> bench_gemm_shapes(const std::vector<GemmShape>& shapes, ThreadPool* pool, int runs,
                                               double peak_gflops) {
    std::vector<GemmBenchResult> results;
    const int threads = pool ? pool->size() : 1;
    std::mt19937 rng(42);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (const GemmShape& sh : shapes) {
        std::vector<float> a(size_t(sh.m) * sh.k), w(size_t(sh.n) * sh.k), bias(sh.n), c(size_t(sh.m) * sh.n);
        for (float& x : a) x = dist(rng);
        for (float& x : w) x = dist(rng) * 0.05f;
        for (float& x : bias) x = dist(rng);
        for (float& x : c) x = dist(rng);
        Epilogue ep;
        ep.bias = bias.data();
        ep.act = sh.epilogue == "bias+gelu" ? Activation::Gelu : Activation::None;
        if (sh.epilogue == "bias+residual") {  // in place, as the model's residual adds are
            ep.residual = c.data();
            ep.ld_residual = sh.n;
        }
        const double flops = 2.0 * sh.m * sh.n * sh.k;
        GemmBenchResult r;
        r.shape = sh;
        // pomt's own kernels even in a BLAS=openblas build: without `original`, gemm() takes the packed path.
        PackedWeights own = pack_weights(w.data(), sh.n, sh.k);
        own.original = nullptr;
        r.gflops = stats_of(time_runs([&] { gemm(sh.m, a.data(), sh.k, own, c.data(), sh.n, ep, pool); }, flops, runs));
#ifdef POMT_USE_OPENBLAS
        PackedWeights blas = pack_weights(w.data(), sh.n, sh.k);
        r.blas = stats_of(time_runs([&] { gemm(sh.m, a.data(), sh.k, blas, c.data(), sh.n, ep, pool); }, flops, runs));
#endif
        if (peak_gflops > 0) {
            r.pct_of_peak = 100.0 * r.gflops.median / (peak_gflops * threads);
            r.blas_pct_of_peak = 100.0 * r.blas.median / (peak_gflops * threads);
        }
        results.push_back(r);
    }
    return results;
}

std::string format_gemm_bench(const std::vector<GemmBenchResult>& results, double peak_gflops, int threads) {
    std::string out;
    char line[256];
    std::snprintf(line, sizeof line, "GEMM at %s, %d thread(s); measured FMA peak %.1f GFLOP/s per core\n",
                  isa_name(active_isa()), threads, peak_gflops);
    out += line;
    std::snprintf(line, sizeof line, "%-18s %-13s %5s %5s %5s  %8s %8s %8s %7s", "layer", "epilogue", "M", "N", "K",
                  "median", "p10", "p90", "%peak");
    out += line;
    bool blas = !results.empty() && results[0].blas.runs > 0;
    if (blas) out += "  openblas  %peak";
    out += "\n";
    for (const GemmBenchResult& r : results) {
        std::snprintf(line, sizeof line, "%-18s %-13s %5d %5d %5d  %8.1f %8.1f %8.1f %6.1f%%", r.shape.label.c_str(),
                      r.shape.epilogue.c_str(), r.shape.m, r.shape.n, r.shape.k, r.gflops.median, r.gflops.p10,
                      r.gflops.p90, r.pct_of_peak);
        out += line;
        if (blas) {
            std::snprintf(line, sizeof line, "  %8.1f %5.1f%%", r.blas.median, r.blas_pct_of_peak);
            out += line;
        }
        out += "\n";
    }
    return out;
}

}  // namespace pomt
