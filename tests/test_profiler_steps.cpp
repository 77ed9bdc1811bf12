// Step detection on synthetic curves (exact answers known) and on the measured curves of other
// engines in ../shared/data/latency-curves.
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <set>
#include <string>

#include "profiler/latency_curve.h"
#include "profiler/measure.h"
#include "profiler/steps.h"
#include "tests/test_util.h"
#include "pomt/error.h"

using namespace pomt::profiler;

namespace {

// p10/p90 at ±spread around the median, runs as the measurement engine would report.
std::vector<CurvePoint> make_curve(int first, int last, double (*f)(int), double spread = 0.02, int runs = 30) {
    std::vector<CurvePoint> c;
    for (int n = first; n <= last; ++n) {
        double m = f(n);
        c.push_back({n, m, m - spread, m + spread, runs});
    }
    return c;
}

std::set<int> step_targets(const StepAnalysis& a) {
    std::set<int> s;
    for (const Step& st : a.steps) s.insert(st.to_tokens);
    return s;
}

double linear(int n) { return 1.1 + 0.083 * n; }
// Flat plateaus with a 10% jump after every multiple of 16, plus a small slope.
double staircase(int n) { return 5.0 + 0.5 * ((n - 1) / 16) + 0.01 * n; }

}  // namespace

TEST_CASE("steps: a straight line has no steps") {
    auto c = make_curve(2, 197, linear);
    StepAnalysis a = detect_steps(c);
    CHECK(a.steps.empty());
    CHECK(a.periods.empty());
    REQUIRE(a.segments.size() == 1);
    CHECK(a.segments[0].first_tokens == 2);
    CHECK(a.segments[0].last_tokens == 197);
    CHECK(a.segments[0].ms_per_token == doctest::Approx(0.083).epsilon(1e-9));
    CHECK(format_step_summary(c, a).find("No steps") != std::string::npos);
}

TEST_CASE("steps: a noisy straight line has no steps") {
    std::mt19937 rng(7);
    std::normal_distribution<double> noise(0.0, 0.05);
    std::vector<CurvePoint> c;
    for (int n = 2; n <= 197; ++n) {
        double m = linear(n) + noise(rng);
        c.push_back({n, m, m - 0.15, m + 0.3, 15});
    }
    CHECK(detect_steps(c).steps.empty());
}

TEST_CASE("steps: an exact staircase gives steps exactly at the edges") {
    auto c = make_curve(2, 197, staircase);
    StepAnalysis a = detect_steps(c);
    std::set<int> want;
    // 197 → 196 cannot be confirmed (no point above it); the rest are 17→16, 33→32, ..., 193→192.
    for (int k = 16; k <= 192; k += 16) want.insert(k);
    CHECK(step_targets(a) == want);
    for (const Step& s : a.steps) {
        CHECK(s.from_tokens == s.to_tokens + 1);
        CHECK(s.prune_to() == s.to_tokens);
        CHECK(s.drop_ms == doctest::Approx(0.5 + 0.01).epsilon(1e-9));
    }
    // Between steps the cost is the small slope; the segments tile the range.
    REQUIRE(a.segments.size() == want.size() + 1);
    CHECK(a.segments.front().first_tokens == 2);
    CHECK(a.segments.front().last_tokens == 16);
    CHECK(a.segments[1].first_tokens == 17);
    CHECK(a.segments.back().last_tokens == 197);
    for (const Segment& g : a.segments) CHECK(g.ms_per_token == doctest::Approx(0.01).epsilon(1e-6));
    std::string text = format_step_summary(c, a);
    CHECK(text.find("193 → 192 tokens: −") != std::string::npos);
    CHECK(text.find("Token counts worth pruning to: 192, 176,") != std::string::npos);
}

TEST_CASE("steps: staircase plus noise") {
    std::mt19937 rng(11);
    std::normal_distribution<double> noise(0.0, 0.03);
    std::vector<CurvePoint> c;
    for (int n = 2; n <= 197; ++n) {
        double m = staircase(n) + noise(rng);
        c.push_back({n, m, m - 0.06, m + 0.12, 20});
    }
    StepAnalysis a = detect_steps(c);
    std::set<int> want;
    for (int k = 16; k <= 192; k += 16) want.insert(k);
    CHECK(step_targets(a) == want);
    REQUIRE(!a.periods.empty());
    CHECK(a.periods[0].period == 16);
    CHECK(a.periods[0].phase == 0);
}

TEST_CASE("steps: irregular steps without a period are found on their own") {
    // Steps at 50 and 131 only: no lattice can pool them, each must stand by itself.
    auto f = [](int n) { return 3.0 + 0.05 * n + (n > 50 ? 0.8 : 0.0) + (n > 131 ? 1.2 : 0.0); };
    std::vector<CurvePoint> c;
    std::mt19937 rng(3);
    std::normal_distribution<double> noise(0.0, 0.02);
    for (int n = 2; n <= 197; ++n) {
        double m = f(n) + noise(rng);
        c.push_back({n, m, m - 0.05, m + 0.1, 20});
    }
    StepAnalysis a = detect_steps(c);
    CHECK(step_targets(a) == std::set<int>{50, 131});
    for (const Step& s : a.steps) CHECK(!s.periodic);
}

TEST_CASE("steps: a single high outlier is not a step, a single low point is") {
    auto c = make_curve(2, 197, linear, 0.05, 20);
    c[100 - 2].median_ms += 1.5;  // 100 tokens: high, and back at 101
    c[100 - 2].p90_ms += 1.5;
    StepAnalysis a = detect_steps(c);
    CHECK(a.steps.empty());

    // A count that is markedly faster than both neighbours (a tile multiple) is worth pruning to.
    auto d = make_curve(2, 197, linear, 0.05, 20);
    d[96 - 2].median_ms -= 1.0;
    d[96 - 2].p10_ms -= 1.0;
    StepAnalysis b = detect_steps(d);
    CHECK(step_targets(b) == std::set<int>{96});
}

TEST_CASE("steps: coarse token grids and short curves") {
    std::vector<CurvePoint> c;
    for (int n = 4; n <= 196; n += 4) c.push_back({n, staircase(n), staircase(n) - 0.01, staircase(n) + 0.01, 20});
    StepAnalysis a = detect_steps(c);
    for (const Step& s : a.steps) {
        CHECK(s.from_tokens == s.to_tokens + 4);
        CHECK(s.to_tokens % 16 == 0);  // the step lies in (to, from]; `to` is the measured count below
    }
    CHECK(a.steps.size() >= 10);

    CHECK(detect_steps({}).steps.empty());
    CHECK(detect_steps({{5, 1, 1, 1, 1}}).steps.empty());
    std::vector<CurvePoint> three = {{5, 1, 1, 1, 1}, {6, 9, 9, 9, 1}, {7, 9, 9, 9, 1}};
    CHECK(detect_steps(three).steps.empty());  // too few neighbours to know the slope or noise
    std::vector<CurvePoint> unsorted = {{6, 1, 1, 1, 1}, {5, 1, 1, 1, 1}};
    CHECK_THROWS_AS(detect_steps(unsorted), pomt::Error);
}

// ---- confirmation under synthetic interference (the workload callback reports its own times) ----

namespace {

// ±amp from a counter: deterministic run-to-run jitter.
double jitter(uint64_t k, double amp) {
    uint64_t z = (k + 1) * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 31)) * 0xbf58476d1ce4e5b9ULL;
    return 1 + amp * (2 * double((z >> 11) % 10000) / 10000.0 - 1);
}

// A machine running `f` (ms at n tokens) with ±1% jitter; `burst(n, call)` says which runs some
// other load slows down, and by how much.
struct SyntheticMachine {
    double (*f)(int);
    std::function<double(int, uint64_t)> burst = [](int, uint64_t) { return 1.0; };
    uint64_t calls = 0;
    double run(int n) {
        const uint64_t k = calls++;
        return 1e-3 * f(n) * jitter(k, 0.01) * burst(n, k);
    }
};

MeasureOptions synthetic_options() {
    MeasureOptions o;
    o.warmup_seconds = 0;
    o.max_seconds_per_point = 0;  // no wall-clock caps: the callbacks return at once
    o.max_runs = 60;
    return o;
}

std::vector<CurvePoint> curve_of(const std::vector<PointStats>& stats) {
    std::vector<CurvePoint> c;
    for (const PointStats& s : stats) c.push_back({s.point, s.median_ms, s.p10_ms, s.p90_ms, s.runs});
    return c;
}

std::vector<int> counts(int first, int last) {
    std::vector<int> v;
    for (int n = first; n <= last; ++n) v.push_back(n);
    return v;
}

std::set<int> unconfirmed_targets(const StepAnalysis& a) {
    std::set<int> s;
    for (const Step& st : a.unconfirmed) s.insert(st.to_tokens);
    return s;
}

}  // namespace

TEST_CASE("steps: a burst that spans the measurement of two counts makes a false step, dropped") {
    // Counts 129 and 130 measured entirely inside a burst (every run 3.8× slower, so their own
    // runs look consistent): the sweep shows a 129 → 128 "step" of −74%, as on the busy VM.
    SyntheticMachine m{linear};
    bool busy = true;
    m.burst = [&](int n, uint64_t) { return busy && (n == 129 || n == 130) ? 3.8 : 1.0; };
    MeasureOptions o = synthetic_options();
    auto stats = measure_points(counts(2, 197), [&](int n) { return m.run(n); }, o);
    std::vector<CurvePoint> c = curve_of(stats);
    StepAnalysis a = detect_steps(c);
    REQUIRE(step_targets(a) == std::set<int>{128});  // the detector alone reports it
    CHECK(a.steps[0].drop_fraction > 0.7);

    busy = false;  // the burst is over when the step is re-measured
    Disturbance d = disturbance_of(stats, o.interference);
    CHECK_FALSE(d.disturbed());  // nothing in the sweep's own runs gives it away
    confirm_steps(c, a, [&](int n) { return m.run(n); }, ConfirmOptions(), &d);
    CHECK(a.confirmation_run);
    CHECK(a.steps.empty());
    CHECK(unconfirmed_targets(a) == std::set<int>{128});
    CHECK(a.unconfirmed[0].pairs >= 8);
    CHECK(std::fabs(a.unconfirmed[0].paired_drop_fraction) < 0.02);
    CHECK(a.segments.size() == 1);
    std::string text = format_step_summary(c, a);
    CHECK(text.find("No steps") != std::string::npos);
    CHECK(text.find("1 candidate step does not reproduce when the two counts are re-measured side by side") !=
          std::string::npos);
    CHECK(text.find("129 → 128 (−7") != std::string::npos);
    CHECK(text.find("Token counts worth pruning to") == std::string::npos);
    CHECK(d.candidate_steps == 1);
    CHECK(d.unconfirmed_steps == 1);
    CHECK(d.disturbed());
    CHECK(d.warning("the profile").find("1 of 1 candidate steps did not reproduce side by side") != std::string::npos);
}

TEST_CASE("steps: real periodic steps survive confirmation under bursts, a false one does not") {
    // The 16-token staircase (a real −9% step after every multiple of 16); counts 100 and 101 fall
    // in a burst during the sweep; while the steps are re-measured, one run in seven, at random,
    // is slowed 2× by other load.
    SyntheticMachine m{staircase};
    bool sweeping = true;
    m.burst = [&](int n, uint64_t k) {
        if (sweeping) return n == 100 || n == 101 ? 2.0 : 1.0;
        return jitter(k * 7 + 3, 1.0) > 1.72 ? 2.0 : 1.0;
    };
    MeasureOptions o = synthetic_options();
    auto stats = measure_points(counts(2, 197), [&](int n) { return m.run(n); }, o);
    std::vector<CurvePoint> c = curve_of(stats);
    StepAnalysis a = detect_steps(c);
    std::set<int> real;
    for (int k = 16; k <= 192; k += 16) real.insert(k);
    std::set<int> found = real;
    found.insert(99);
    REQUIRE(step_targets(a) == found);

    sweeping = false;
    Disturbance d = disturbance_of(stats, o.interference);
    confirm_steps(c, a, [&](int n) { return m.run(n); }, ConfirmOptions(), &d);
    CHECK(step_targets(a) == real);
    CHECK(unconfirmed_targets(a) == std::set<int>{99});
    for (const Step& st : a.steps) {
        CHECK(st.confirmed);
        CHECK(st.paired_drop_fraction == doctest::Approx(st.drop_fraction).epsilon(0.2));
    }
    REQUIRE(!a.periods.empty());
    CHECK(a.periods[0].period == 16);
    CHECK(a.segments.size() == real.size() + 1);
    std::string text = format_step_summary(c, a);
    CHECK(text.find("193 → 192 tokens: −") != std::string::npos);
    CHECK(text.find("side by side −") != std::string::npos);
    CHECK(text.find("Token counts worth pruning to: 192, 176,") != std::string::npos);
    CHECK(text.find("worth pruning to: 192, 176, 160, 144, 128, 112, 96, 80,") != std::string::npos);  // no 99
    CHECK(text.find("1 candidate step does not reproduce") != std::string::npos);
    CHECK(d.candidate_steps == 13);
    CHECK(d.unconfirmed_steps == 1);
}

TEST_CASE("steps: a uniformly noisy machine reports no steps and says it was disturbed") {
    // One run in four, anywhere, 1.5–3× slower: interference with no structure in tokens.
    SyntheticMachine m{linear};
    m.burst = [](int, uint64_t k) {
        double u = jitter(k * 3 + 1, 1.0);
        return u > 1.5 ? 1.5 + 0.75 * jitter(k * 5 + 2, 1.0) : 1.0;
    };
    MeasureOptions o = synthetic_options();
    auto stats = measure_points(counts(2, 197), [&](int n) { return m.run(n); }, o);
    std::vector<CurvePoint> c = curve_of(stats);
    StepAnalysis a = detect_steps(c);
    Disturbance d = disturbance_of(stats, o.interference);
    confirm_steps(c, a, [&](int n) { return m.run(n); }, ConfirmOptions(), &d);
    CHECK(a.steps.empty());
    CHECK(d.slow_share() > 0.1);
    CHECK(d.disturbed());
    CHECK(d.warning("the profile").find("timed runs took over 1.50× their count's fast runs") != std::string::npos);
}

TEST_CASE("steps: confirmation leaves a clean curve's steps as they are") {
    SyntheticMachine m{staircase};
    auto stats = measure_points(counts(2, 197), [&](int n) { return m.run(n); }, synthetic_options());
    std::vector<CurvePoint> c = curve_of(stats);
    StepAnalysis a = detect_steps(c);
    const std::set<int> before = step_targets(a);
    const size_t segments = a.segments.size();
    Disturbance d;
    confirm_steps(c, a, [&](int n) { return m.run(n); }, ConfirmOptions::fast(), &d);
    CHECK(step_targets(a) == before);
    CHECK(a.unconfirmed.empty());
    CHECK(a.segments.size() == segments);
    for (const Step& st : a.steps) CHECK(st.pairs == 8);  // all confirmed at the first check
    CHECK_FALSE(d.disturbed());
    CHECK(format_step_summary(c, a).find("does not reproduce") == std::string::npos);
}

// ---- measured curves of other engines (README of ../shared: deit_tiny, 15 shuffled sweeps) ----

namespace {
StepAnalysis analyse_shared(const std::string& path, std::vector<CurvePoint>* curve_out = nullptr) {
    std::vector<CurvePoint> c = select_curve(read_latency_csv(path));
    StepOptions o;
    o.runs_if_unknown = 15;  // the paper's measurement: median of 15 sweeps per count
    StepAnalysis a = detect_steps(c, o);
    MESSAGE(format_step_summary(c, a, path));
    if (curve_out) *curve_out = c;
    return a;
}
}  // namespace

TEST_CASE("steps: PyTorch 1 thread, the 16-token sawtooth") {
    POMT_REQUIRE_SHARED("data/latency-curves/pytorch113_openblas_deit_tiny_1thread.csv", path);
    std::vector<CurvePoint> c;
    StepAnalysis a = analyse_shared(path, &c);
    REQUIRE(c.size() == 196);
    std::set<int> found = step_targets(a);
    // The named example: 193 → 192 tokens, 25.08 → 23.54 ms.
    REQUIRE(found.count(192));
    for (const Step& s : a.steps)
        if (s.to_tokens == 192) {
            CHECK(s.from_ms == doctest::Approx(25.0797));
            CHECK(s.to_ms == doctest::Approx(23.5440));
        }
    // Most multiples of 16 are found. (48 → 49 rises only 3.7%, within this curve's noise.)
    int at16 = 0;
    for (int k = 16; k <= 192; k += 16) at16 += int(found.count(k));
    CHECK(at16 >= 10);
    // Every step sits on the GEMM's blocking: multiples of 16, or of 8 where the 8-row remainder
    // kernel makes a smaller drop (visible in the data, e.g. 169 → 168: 23.56 → 22.29 ms).
    for (int t : found) CHECK_MESSAGE(t % 8 == 0, "step at " << t);
    REQUIRE(!a.periods.empty());
    CHECK((a.periods[0].period == 8 || a.periods[0].period == 16));
    CHECK(a.periods[0].phase == 0);
}

TEST_CASE("steps: ONNX Runtime's straight lines have no steps") {
    POMT_REQUIRE_SHARED("data/latency-curves/onnxruntime130_deit_tiny_1thread.csv", one);
    POMT_REQUIRE_SHARED("data/latency-curves/onnxruntime130_deit_tiny_2threads.csv", two);
    StepAnalysis a = analyse_shared(one), b = analyse_shared(two);
    CHECK(a.steps.empty());
    CHECK(b.steps.empty());
    CHECK(a.periods.empty());
    CHECK(b.periods.empty());
}

TEST_CASE("steps: PyTorch 2 threads, erratic spikes, no flood of false steps") {
    POMT_REQUIRE_SHARED("data/latency-curves/pytorch113_openblas_deit_tiny_2threads.csv", path);
    StepAnalysis a = analyse_shared(path);
    // Medians jump by up to 10× from one count to the next (thread scheduling); p90 reaches
    // 200–600 ms. Whatever the 16-row blocking does underneath is buried in that noise, so an
    // honest detector reports (almost) nothing: at most 3, a quarter of the 12 multiples of 16
    // the 1-thread curve shows — a flood would be dozens.
    CHECK(a.steps.size() <= 3);
}
