#include "profiler/kernel_bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>

#include "kernels/attention.h"
#include "kernels/attention_bf16.h"
#include "kernels/dispatch.h"
#include "kernels/gemm.h"
#include "kernels/gemm_bf16_kernels.h"
#include "kernels/gemm_int8.h"
#include "kernels/gemm_int8_kernels.h"
#include "kernels/threads.h"
#include "pomt/quantize.h"

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

// Warm-up: at least 3 calls and ~20 ms; returns the repetitions that make a timed run last ~2 ms.
int warm_up_reps(const std::function<void()>& fn) {
    int calls = 0;
    double t0 = now_seconds(), t = t0;
    while (calls < 3 || t - t0 < 0.02) {
        fn();
        ++calls;
        t = now_seconds();
    }
    double per_call = (t - t0) / calls;
    return std::max(1, int(0.002 / std::max(per_call, 1e-9)));
}

// GFLOP/s of one timed run: `reps` calls of fn, which does `flops` per call.
double timed_run(const std::function<void()>& fn, double flops, int reps) {
    double s = now_seconds();
    for (int i = 0; i < reps; ++i) fn();
    return flops * reps / (now_seconds() - s) / 1e9;
}

// GFLOP/s of each of `runs` timed runs of fn, after warming up.
std::vector<double> time_runs(const std::function<void()>& fn, double flops, int runs) {
    const int reps = warm_up_reps(fn);
    std::vector<double> out;
    for (int r = 0; r < runs; ++r) out.push_back(timed_run(fn, flops, reps));
    return out;
}

}  // namespace

namespace {

// Ops per second of the best of 20 windows of probe(iters), each ~`seconds`/4: the peak is the
// least disturbed window, and short windows are more likely to escape other processes' time slices.
// The probe runs for 0.2 s first: a core that was idle raises its clock over tens of milliseconds,
// and a peak timed before that would read below what the GEMMs reach afterwards.
double best_probe_rate(const std::function<void(long)>& probe, double ops_per_iter, double seconds) {
    long iters = 1 << 14;
    const double start = now_seconds();
    for (;;) {
        double s = now_seconds();
        probe(iters);
        const double t = now_seconds();
        if ((t - s > seconds / 8 && t - start > 0.2) || iters > (1L << 40)) break;
        if (t - s <= seconds / 8) iters *= 2;
    }
    iters *= 2;
    double best = 0;
    for (int w = 0; w < 20; ++w) {
        double s = now_seconds();
        probe(iters);
        best = std::max(best, ops_per_iter * double(iters) / (now_seconds() - s));
    }
    return best;
}

volatile int32_t g_int_sink;

}  // namespace

const char* int8_variant_name() { return active_int8_variant(); }

double measure_int8_peak_gmacs(double seconds) {
    const Int8Kernels& k = active_int8_kernels();
    return best_probe_rate([&](long iters) { g_int_sink = k.dot_loop(iters); }, k.macs_per_step, seconds) / 1e9;
}

// The threshold: below twice fp32's multiply-add rate the int8 Linear layers cannot halve their
// time, and the fp32 rest of a block does not shrink at all.
constexpr double kInt8PaysRatio = 2.0;

Int8Outlook int8_outlook_from(const std::string& int8_variant, double int8_gmacs, const std::string& fp32_level,
                              double fp32_gmacs) {
    Int8Outlook o;
    o.int8_variant = int8_variant;
    o.fp32_level = fp32_level;
    o.int8_gmacs = int8_gmacs;
    o.fp32_gmacs = fp32_gmacs;
    o.ratio = fp32_gmacs > 0 ? int8_gmacs / fp32_gmacs : 0;
    if (o.ratio >= kInt8PaysRatio) return o;
    char line[512];
    if (o.ratio <= 1.0)
        std::snprintf(line, sizeof line,
                      "on this CPU int8 cannot be faster than fp32: its %s int8 kernels multiply-add at %.2fx "
                      "the %s fp32 rate (%.1f vs %.1f GMAC/s, 1 core); keep the fp32 model here",
                      int8_variant.c_str(), o.ratio, fp32_level.c_str(), int8_gmacs, fp32_gmacs);
    else
        std::snprintf(line, sizeof line,
                      "on this CPU int8 gains little: its %s int8 kernels multiply-add at only %.2fx the %s fp32 "
                      "rate (%.1f vs %.1f GMAC/s, 1 core), so the Linear layers gain at most that and a small "
                      "model less; time both with pomt bench -m before choosing int8",
                      int8_variant.c_str(), o.ratio, fp32_level.c_str(), int8_gmacs, fp32_gmacs);
    o.note = line;
    return o;
}

Int8Outlook measure_int8_outlook() {
    // int8 before and after fp32, the better of the two: on a shared host one short probe now and
    // then reads a third low (the avx2 int8 probe on a Zen 3 VM: 1 run in 6 at 52 GMAC/s, else 80).
    const Isa isa = active_isa();
    double int8_gmacs = measure_int8_peak_gmacs(0.02);
    const double fp32_gmacs = measure_fma_peak_gflops(isa, 0.02) / 2;  // an FMA is 2 flops, 1 multiply-add
    int8_gmacs = std::max(int8_gmacs, measure_int8_peak_gmacs(0.02));
    return int8_outlook_from(active_int8_variant(), int8_gmacs, isa_name(isa), fp32_gmacs);
}

std::vector<Int8GemmBenchResult> bench_int8_gemm_shapes(const std::vector<GemmShape>& shapes, ThreadPool* pool,
                                                        int runs, double peak_gmacs) {
    std::vector<Int8GemmBenchResult> results;
    const int threads = pool ? pool->size() : 1;
    std::mt19937 rng(42);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (const GemmShape& sh : shapes) {
        std::vector<float> a(size_t(sh.m) * sh.k), w(size_t(sh.n) * sh.k), bias(sh.n), c(size_t(sh.m) * sh.n);
        for (float& x : a) x = dist(rng);
        for (float& x : w) x = dist(rng) * 0.05f;
        for (float& x : bias) x = dist(rng);
        for (float& x : c) x = dist(rng);
        std::vector<int8_t> q(size_t(sh.m) * quantized_row_bytes(sh.k));
        std::vector<float> a_scale(sh.m), a_offset(sh.m);
        QuantizedRows aq{sh.m, sh.k, quantized_row_bytes(sh.k), q.data(), a_scale.data(), a_offset.data()};
        quantize_rows(a.data(), sh.k, sh.m, sh.k, aq);
        const Int8Weights wq = quantize_weights(w.data(), sh.n, sh.k);
        Epilogue ep;
        ep.bias = bias.data();
        // fc1's GELU as an int8 model runs it between two int8 Linears (vit/layers.h hidden_activation).
        const bool gelu = sh.epilogue == "bias+gelu";
        ep.act = gelu ? Activation::GeluFast : Activation::None;
        if (sh.epilogue == "bias+residual") {
            ep.residual = c.data();
            ep.ld_residual = sh.n;
        }
        Int8GemmBenchResult r;
        r.shape = sh;
        if (gelu) r.shape.epilogue = "bias+gelu_fast";
        // time_runs reports 1e-9·ops/s: with MACs as the ops, GMAC/s.
        const double macs = double(sh.m) * sh.n * sh.k;
        r.gmacs = stats_of(time_runs([&] { gemm_int8(sh.m, aq, wq, c.data(), sh.n, ep, pool); }, macs, runs));
        if (peak_gmacs > 0) r.pct_of_peak = 100.0 * r.gmacs.median / (peak_gmacs * threads);
        results.push_back(r);
    }
    return results;
}

std::string format_int8_gemm_bench(const std::vector<Int8GemmBenchResult>& results, double peak_gmacs,
                                   int threads) {
    std::string out;
    char line[256];
    std::snprintf(line, sizeof line, "int8 GEMM at %s, %d thread(s); measured int8 peak %.1f GMAC/s per core\n",
                  active_int8_variant(), threads, peak_gmacs);
    out += line;
    std::snprintf(line, sizeof line, "%-18s %-14s %5s %5s %5s  %8s %8s %8s %7s\n", "layer", "epilogue", "M", "N", "K",
                  "GMAC/s", "p10", "p90", "%peak");
    out += line;
    for (const Int8GemmBenchResult& r : results) {
        std::snprintf(line, sizeof line, "%-18s %-14s %5d %5d %5d  %8.1f %8.1f %8.1f %6.1f%%\n",
                      r.shape.label.c_str(), r.shape.epilogue.c_str(), r.shape.m, r.shape.n, r.shape.k,
                      r.gmacs.median, r.gmacs.p10, r.gmacs.p90, r.pct_of_peak);
        out += line;
    }
    return out;
}

double measure_fma_peak_gflops(Isa isa, double seconds) {
    if (!isa_supported(isa)) return 0;
    const IsaKernels& k = kernels_for(isa);
    if (k.isa != isa) return 0;
    return best_probe_rate([&](long iters) { g_sink = k.fma_loop(iters); }, 2.0 * k.fma_per_step, seconds) / 1e9;
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

std::vector<AttentionShape> vit_attention_shapes(const std::vector<int>& head_dims) {
    std::vector<AttentionShape> out;
    for (int d : head_dims)
        for (int n : {197, 257, 577, 1370}) out.push_back({n, d});
    return out;
}

std::vector<AttentionBenchResult> bench_attention_shapes(const std::vector<AttentionShape>& shapes, int runs,
                                                         double peak_gflops) {
    std::vector<AttentionBenchResult> results;
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (const AttentionShape& sh : shapes) {
        const int n = sh.tokens, d = sh.head_dim;
        // One head inside a qkv row of 3·d values, as the model lays it out.
        std::vector<float> qkv(size_t(n) * 3 * d), out(size_t(n) * d), scores(size_t(n) * n);
        for (float& x : qkv) x = dist(rng);
        AttentionHead a;
        a.tokens = n;
        a.head_dim = d;
        a.scale = 1.0f / std::sqrt(float(d));
        a.q = qkv.data();
        a.k = qkv.data() + d;
        a.v = qkv.data() + 2 * d;
        a.ld_qkv = 3 * d;
        a.out = out.data();
        a.ld_out = d;
        std::vector<float> k(size_t(n) * d), vt(size_t(d) * n);
        for (int j = 0; j < n; ++j)
            for (int c = 0; c < d; ++c) {
                k[size_t(j) * d + c] = a.k[size_t(j) * a.ld_qkv + c];
                vt[size_t(c) * n + j] = a.v[size_t(j) * a.ld_qkv + c];
            }
        PackedWeights kp = pack_weights(k.data(), n, d), vp = pack_weights(vt.data(), d, n);
        kp.original = vp.original = nullptr;  // pomt's kernels even in a BLAS build
        const Epilogue none{};
        auto fused = [&] { attention_head(a); };
        auto bf16 = [&] { attention_head_bf16(a); };
        auto gemms = [&] {
            gemm(n, a.q, a.ld_qkv, kp, scores.data(), n, none, nullptr);
            gemm(n, scores.data(), n, vp, out.data(), d, none, nullptr);
        };
        const double flops = 4.0 * n * double(n) * d;
        const int reps_fused = warm_up_reps(fused), reps_gemms = warm_up_reps(gemms), reps_bf16 = warm_up_reps(bf16);
        std::vector<double> f, g, b;
        for (int r = 0; r < runs; ++r) {  // alternated, so a slow host window hits all three
            f.push_back(timed_run(fused, flops, reps_fused));
            g.push_back(timed_run(gemms, flops, reps_gemms));
            b.push_back(timed_run(bf16, flops, reps_bf16));
        }
        AttentionBenchResult res;
        res.shape = sh;
        res.fused = stats_of(f);
        res.gemms = stats_of(g);
        res.bf16 = stats_of(b);
        if (peak_gflops > 0) {
            res.pct_of_peak = 100.0 * res.fused.median / peak_gflops;
            res.gemm_pct_of_peak = 100.0 * res.gemms.median / peak_gflops;
        }
        results.push_back(res);
    }
    return results;
}

std::string format_attention_bench(const std::vector<AttentionBenchResult>& results, double peak_gflops) {
    std::string out;
    char line[256];
    std::snprintf(line, sizeof line,
                  "Attention per (image, head) at %s, 1 thread; GFLOP/s = 4·N²·d / time; measured FMA peak %.1f; "
                  "bf16: attention_head_bf16 on the %s kernels, bf16/fp32 its time over fused's\n",
                  isa_name(active_isa()), peak_gflops, active_bf16_variant());
    out += line;
    std::snprintf(line, sizeof line, "%6s %4s  %8s %8s %8s %7s  %10s %7s  %7s  %8s %9s\n", "tokens", "d", "fused", "p10",
                  "p90", "%peak", "2 GEMMs", "%peak", "ratio", "bf16", "bf16/fp32");
    out += line;
    for (const AttentionBenchResult& r : results) {
        std::snprintf(line, sizeof line, "%6d %4d  %8.1f %8.1f %8.1f %6.1f%%  %10.1f %6.1f%%  %7.2f  %8.1f %9.2f\n",
                      r.shape.tokens, r.shape.head_dim, r.fused.median, r.fused.p10, r.fused.p90, r.pct_of_peak,
                      r.gemms.median, r.gemm_pct_of_peak, r.fused.median / r.gemms.median, r.bf16.median,
                      r.fused.median / r.bf16.median);
        out += line;
    }
    return out;
}

}  // namespace pomt
