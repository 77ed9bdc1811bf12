// The forward pass (vit/forward: Session) across runs and threads: bit-identical results run after
// run, the same bits at every thread count and batch composition, one model shared by threads.
// Runs under ASan + UBSan and (the concurrency cases) under TSan too (.ci/reliability.sh).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "doctest/doctest.h"
#include "kernels/gemm.h"
#include "prune/pruning.h"
#include "tests/test_util.h"
#include "vit/forward.h"
#include "vit/model.h"

using namespace pomt;

namespace {

// Deterministic pseudo-random images in the range a normalised image has (about -2..2).
std::vector<float> images(const ModelConfig& c, int batch, uint64_t seed) {
    std::vector<float> x(size_t(batch) * 3 * c.img_size * c.img_size);
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (float& v : x) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        v = float(double(s >> 11) * (4.0 / 9007199254740992.0) - 2.0);
    }
    return x;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// max |a - b| / max |a|.
double rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
    double d = 0, m = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        d = std::max(d, std::fabs(double(a[i]) - double(b[i])));
        m = std::max(m, std::fabs(double(a[i])));
    }
    return m > 0 ? d / m : d;
}

std::vector<float> run(const std::shared_ptr<const Model>& m, int threads, const std::vector<float>& x, int batch,
                       TokenPruner* pruner = nullptr) {
    Session s(m, threads);
    RunOptions o;
    o.pruner = pruner;
    return s.run(x.data(), batch, o);
}

// DeiT-Tiny; in a sanitizer build its first 5 blocks (the same shapes, every prune below still
// changes later blocks), since the sanitizers check each block's code, not how many blocks run.
const std::shared_ptr<const Model>& deit_tiny() {
    static const std::shared_ptr<const Model> m = [] {
        ModelConfig c = config_for_architecture("deit_tiny_patch16_224");
        if (pomt_test::sanitized()) c.depth = 5;
        return Model::random(c, 3);
    }();
    return m;
}

using Bytes = std::string;


}  // namespace

TEST_CASE("forward: identical output bits across runs at a fixed thread count") {
    const auto& m = deit_tiny();
    const std::vector<float> x = images(m->config(), 2, 1);
    for (int threads : {1, 2, 4}) {
        CAPTURE(threads);
        Session s(m, threads);
        const std::vector<float> a = s.run(x.data(), 2);
        const std::vector<float> b = s.run(x.data(), 2);  // same workspace, reused
        const std::vector<float> c = run(m, threads, x, 2);  // a fresh session
        CHECK(same_bits(a, b));
        CHECK(same_bits(a, c));
    }
    // Pruned runs too (POMT keeps attention, ToMe tracks sizes): same bits every time.
    for (const char* spec : {"pomt:R=50,layer=3", "tome:r=8", "topk:r=5", "random:keep=120,seed=4"}) {
        CAPTURE(spec);
        const ResolvedSchedule plan = resolve_schedule(parse_prune_spec(spec), m->config());
        for (int threads : {1, 3}) {
            std::unique_ptr<TokenPruner> p1 = make_pruner(plan, m->config()), p2 = make_pruner(plan, m->config());
            CHECK(same_bits(run(m, threads, x, 2, p1.get()), run(m, threads, x, 2, p2.get())));
        }
    }
}

// Whether the thread count changes the result, and by how much. Every parallel region in pomt
// splits independent rows / columns / heads (no reduction is split across threads), so the
// answer is expected to be "not at all": the same bits at every thread count. The test prints
// the measured difference; docs/RELIABILITY.md records it.
TEST_CASE("forward: results do not depend on the thread count") {
    const auto& m = deit_tiny();
    const std::vector<float> x = images(m->config(), 3, 2);
    const std::vector<float> ref = run(m, 1, x, 3);
    double worst = 0;
    int differing = 0;
    for (int threads : {2, 3, 4, 7}) {
        const std::vector<float> out = run(m, threads, x, 3);
        const double d = rel_diff(ref, out);
        worst = std::max(worst, d);
        differing += same_bits(ref, out) ? 0 : 1;
        CHECK(d <= 1e-6);
    }
    MESSAGE("thread counts 2, 3, 4, 7 vs 1: " << differing << " differ in bits; max relative difference " << worst);
    CHECK(differing == 0);
    // The batch composition must not matter either: image i alone gives the bits it gives in a batch.
    // Not in the OpenBLAS build: cblas_sgemm picks its blocking (and summation order) from the row
    // count, so there only the values agree (docs/RELIABILITY.md).
    const int per = 3 * 224 * 224;
    for (int i = 0; i < 3; ++i) {
        std::vector<float> one(x.begin() + i * per, x.begin() + (i + 1) * per);
        const std::vector<float> alone = run(m, 2, one, 1);
        const int k = int(alone.size());
        const std::vector<float> in_batch(ref.begin() + i * k, ref.begin() + (i + 1) * k);
        if (gemm_uses_row_major_weights())
            CHECK(rel_diff(alone, in_batch) <= 1e-6);
        else
            CHECK(same_bits(alone, in_batch));
    }
}

TEST_CASE("forward: one model shared by 4 threads x 25 inferences equals the serial results") {
    const auto& m = deit_tiny();
    // Under the sanitizers 10 inferences a thread: the races are the same, at a fifth of the cost.
    const int kThreads = 4, kRuns = pomt_test::sanitized() ? 10 : 25;
    // Inputs: one different image a run; half the runs are pruned (each thread its own pruner).
    std::vector<std::vector<float>> inputs;
    for (int i = 0; i < kRuns; ++i) inputs.push_back(images(m->config(), 1, 100 + uint64_t(i)));
    const ResolvedSchedule plan = resolve_schedule(parse_prune_spec("pomt:R=40,layer=2"), m->config());
    auto one = [&](Session& s, int i, TokenPruner* pruner) {
        RunOptions o;
        o.pruner = (i % 2) ? pruner : nullptr;
        return s.run(inputs[size_t(i)].data(), 1, o);
    };
    std::vector<std::vector<float>> serial(kRuns);
    {
        Session s(m, 1);
        std::unique_ptr<TokenPruner> p = make_pruner(plan, m->config());
        for (int i = 0; i < kRuns; ++i) serial[size_t(i)] = one(s, i, p.get());
    }
    std::vector<std::vector<std::vector<float>>> got(kThreads, std::vector<std::vector<float>>(kRuns));
    std::vector<std::thread> workers;
    for (int t = 0; t < kThreads; ++t)
        workers.emplace_back([&, t] {
            Session s(m, t == 3 ? 2 : 1);  // one of them with its own 2-thread pool
            std::unique_ptr<TokenPruner> p = make_pruner(plan, m->config());
            for (int k = 0; k < kRuns; ++k) {
                const int i = (k + 7 * t) % kRuns;  // different orders in different threads
                got[size_t(t)][size_t(i)] = one(s, i, p.get());
            }
        });
    for (auto& w : workers) w.join();
    int mismatches = 0;
    for (int t = 0; t < kThreads; ++t)
        for (int i = 0; i < kRuns; ++i) mismatches += same_bits(serial[size_t(i)], got[size_t(t)][size_t(i)]) ? 0 : 1;
    CHECK(mismatches == 0);
}
