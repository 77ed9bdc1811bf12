// Thread scaling (profiler/model_latency.h) with synthetic workloads: the callback reports its own
// "seconds", bursts of other load are injected by call, and no assertion depends on real timing.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "profiler/model_latency.h"
#include "tests/test_util.h"
#include "pomt/error.h"

using namespace pomt::profiler;

namespace {

double jitter(uint64_t k, double amp) {
    uint64_t z = (k + 1) * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 31)) * 0xbf58476d1ce4e5b9ULL;
    return 1 + amp * (2 * double((z >> 11) % 10000) / 10000.0 - 1);
}

// 1 thread: ms1, 2 threads: ms2, ±1% jitter; burst(threads, call) slows some runs down.
struct TwoCores {
    double ms1, ms2;
    std::function<double(int, uint64_t)> burst = [](int, uint64_t) { return 1.0; };
    uint64_t calls = 0;
    RunOnce runner() {
        return [this](int t) {
            const uint64_t k = calls++;
            return 1e-3 * (t == 1 ? ms1 : ms2) * jitter(k, 0.01) * burst(t, k);
        };
    }
};

}  // namespace

TEST_CASE("measure: thread scaling, quiet and faster on 2 threads: measured once") {
    TwoCores m{10.0, 5.6};
    ThreadScaling r = measure_thread_scaling(m.runner(), 2, 30, 3);
    CHECK_FALSE(r.remeasured);
    CHECK_FALSE(r.slower());
    CHECK(r.speedup() == doctest::Approx(10.0 / 5.6).epsilon(0.03));
    CHECK(m.calls == 2 * (30 + 3));
    CHECK(thread_scaling_warning({{"m", r}}).empty());
}

TEST_CASE("measure: 2 threads that look slower because of a burst are measured again interleaved") {
    // A burst lands on most of the back-to-back 2-thread runs (calls 33..65): 2 threads "0.6×".
    // Interleaved, the burst pattern hits either side alike and 2 threads come out faster.
    TwoCores m{10.0, 5.6};
    m.burst = [](int t, uint64_t k) {
        if (k < 66) return t == 2 && k >= 43 ? 3.0 : 1.0;
        return jitter(k * 11, 1.0) > 1.8 ? 3.0 : 1.0;  // one run in ten, either side
    };
    ThreadScaling r = measure_thread_scaling(m.runner(), 2, 30, 3);
    CHECK(r.first_speedup < 1);
    CHECK(r.remeasured);
    CHECK_FALSE(r.slower());
    CHECK(r.speedup() == doctest::Approx(10.0 / 5.6).epsilon(0.05));
    CHECK(r.one.runs == 30);
    CHECK(r.many.runs == 30);
    // The back-to-back 2-thread runs were mostly slow: the benchmark says it was disturbed.
    CHECK(r.disturbance.disturbed());
    const std::string w = thread_scaling_warning({{"deit_tiny", r}});
    CHECK(w.rfind("warning: the benchmark looks disturbed by other load: ", 0) == 0);
    CHECK(w.find('\n') == std::string::npos);
}

TEST_CASE("measure: 2 threads really slower on a quiet machine: said so, as the runtime's own") {
    TwoCores m{10.0, 11.0};
    ThreadScaling r = measure_thread_scaling(m.runner(), 2, 30, 3);
    CHECK(r.remeasured);
    CHECK(r.slower());
    CHECK_FALSE(r.disturbance.disturbed());
    const std::string w = thread_scaling_warning({{"tiny", r}});
    CHECK(w.rfind("warning: 2 threads were slower than 1 (tiny 0.91×) even measured again interleaved, and the "
                  "machine looked quiet",
                  0) == 0);
}

TEST_CASE("measure: 2 threads slower under steady bursts: the warning says the machine looked busy") {
    // Other load slows a third of all runs 2–4× on either side; 2 threads are slightly slower.
    TwoCores m{10.0, 10.5};
    m.burst = [](int, uint64_t k) {
        double u = jitter(k * 13 + 5, 1.0);
        return u > 1.33 ? 2.0 + jitter(k * 17, 1.0) : 1.0;
    };
    ThreadScaling r = measure_thread_scaling(m.runner(), 2, 30, 3);
    CHECK(r.remeasured);
    CHECK(r.slower());
    CHECK(r.disturbance.disturbed());
    const std::string w = thread_scaling_warning({{"a", r}, {"b", r}});
    CHECK(w.rfind("warning: 2 threads were slower than 1 (a ", 0) == 0);
    CHECK(w.find(", b ") != std::string::npos);
    CHECK(w.find("but the machine looked busy (") != std::string::npos);
    CHECK(w.find("the ratio says more about the other load than about pomt") != std::string::npos);
}

TEST_CASE("measure: thread scaling, bad input and one core") {
    TwoCores m{10.0, 5.0};
    CHECK_THROWS_AS(measure_thread_scaling(m.runner(), 0, 30, 3), pomt::Error);
    CHECK_THROWS_AS(measure_thread_scaling(m.runner(), 2, 0, 3), pomt::Error);
    CHECK_THROWS_AS(measure_thread_scaling(RunOnce(), 2, 5, 0), pomt::Error);
    ThreadScaling one = measure_thread_scaling(m.runner(), 1, 5, 0);  // a 1-core machine: nothing to compare
    CHECK_FALSE(one.remeasured);
    CHECK(one.speedup() == doctest::Approx(1.0));
}
