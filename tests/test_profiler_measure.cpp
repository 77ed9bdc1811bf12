// The measurement engine with synthetic workloads: the callback reports its own "seconds", so the
// statistics and stop rules are checked exactly and no assertion depends on real timing.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "profiler/measure.h"
#include "tests/test_util.h"
#include "pomt/error.h"

using namespace pomt::profiler;

namespace {
MeasureOptions quick() {
    MeasureOptions o;
    o.warmup_seconds = 0;
    return o;
}
}  // namespace

TEST_CASE("measure: constant workloads converge at min_runs with exact statistics") {
    std::map<int, int> calls;
    RunOnce run = [&](int p) {
        ++calls[p];
        return 1e-3 * p;  // p milliseconds
    };
    MeasureOptions o = quick();
    std::vector<int> pts = {5, 1, 9, 3};
    auto res = measure_points(pts, run, o);
    REQUIRE(res.size() == 4);
    for (size_t i = 0; i < pts.size(); ++i) {
        CHECK(res[i].point == pts[i]);  // input order kept
        CHECK(res[i].runs == o.min_runs);
        CHECK(res[i].converged);
        CHECK(res[i].median_ms == doctest::Approx(pts[i]));
        CHECK(res[i].p10_ms == doctest::Approx(pts[i]));
        CHECK(res[i].p90_ms == doctest::Approx(pts[i]));
        CHECK(res[i].ci_rel == doctest::Approx(0));
    }
    // One warm-up run on the largest point, one discarded first run per point.
    CHECK(calls[9] == o.min_runs + 1 + 1);
    CHECK(calls[1] == o.min_runs + 1);
}

TEST_CASE("measure: noisy points need more runs, capped by max_runs") {
    // Alternating 1 ms / 2 ms: the median's CI spans both values and never gets within ±1%.
    std::map<int, int> n;
    RunOnce run = [&](int p) { return (n[p]++ % 2 ? 2e-3 : 1e-3); };
    MeasureOptions o = quick();
    o.max_runs = 40;
    o.max_seconds_per_point = 0;  // no time cap: the run cap must end it
    auto res = measure_points({1, 2}, run, o);
    for (const PointStats& r : res) {
        CHECK(r.runs == 40);
        CHECK(!r.converged);
        CHECK(r.p10_ms == doctest::Approx(1.0));
        CHECK(r.p90_ms == doctest::Approx(2.0));
    }
}

TEST_CASE("measure: shuffled sweeps, seeded and reproducible") {
    std::vector<int> pts;
    for (int i = 2; i <= 41; ++i) pts.push_back(i);
    auto record = [&](uint64_t seed) {
        std::vector<int> order;
        MeasureOptions o = quick();
        o.seed = seed;
        measure_points(pts, [&](int p) { order.push_back(p); return 1e-3; }, o);
        return order;
    };
    std::vector<int> a = record(1), b = record(1), c = record(2);
    CHECK(a == b);
    CHECK(a != c);
    // Skip the warm-up call; the first sweep (2 calls per point) is not in ascending order.
    std::vector<int> first;
    for (size_t i = 1; i < a.size() && first.size() < pts.size(); i += 2) first.push_back(a[i]);
    CHECK(first != pts);
    CHECK(std::set<int>(first.begin(), first.end()).size() == pts.size());
}

TEST_CASE("measure: progress reports every run and ends complete") {
    std::vector<Progress> seen;
    MeasureOptions o = quick();
    measure_points({1, 2, 3}, [](int) { return 1e-3; }, o, [&](const Progress& p) { seen.push_back(p); });
    REQUIRE(!seen.empty());
    CHECK(seen.size() == size_t(3 * o.min_runs));
    CHECK(seen.back().points_done == 3);
    CHECK(seen.back().points_total == 3);
    CHECK(seen.back().remaining_seconds == doctest::Approx(0));
    for (size_t i = 1; i < seen.size(); ++i) CHECK(seen[i].points_done >= seen[i - 1].points_done);
    std::string line = progress_line(seen.back(), 10);
    CHECK(line.find("[##########]") == 0);
    CHECK(line.find("3/3 points") != std::string::npos);
}

TEST_CASE("measure: median CI from order statistics") {
    double lo, hi;
    std::vector<double> v5 = {1, 2, 3, 4, 5};
    CHECK(!median_ci(v5, 0.95, &lo, &hi));  // 5 runs cannot give 95%: coverage of [min,max] is 93.75%
    REQUIRE(median_ci(v5, 0.90, &lo, &hi));
    CHECK(lo == 1);
    CHECK(hi == 5);
    std::vector<double> v(100);
    for (int i = 0; i < 100; ++i) v[i] = i;
    REQUIRE(median_ci(v, 0.95, &lo, &hi));
    // Binomial(100, ½): the 95% interval is x(40)..x(61), i.e. 0-based 39..60.
    CHECK(lo == 39);
    CHECK(hi == 60);
    CHECK(quantile_sorted(v, 0.5) == doctest::Approx(49.5));
    CHECK(quantile_sorted(v, 0.1) == doctest::Approx(9.9));
    std::vector<double> big(3000, 1.0);  // 0.5^3000 underflows without log-space terms
    CHECK(median_ci(big, 0.95, &lo, &hi));
}

TEST_CASE("measure: bad input") {
    CHECK_THROWS_AS(measure_points({}, [](int) { return 1.0; }), pomt::Error);
    CHECK_THROWS_AS(measure_points({3, 3}, [](int) { return 1.0; }), pomt::Error);
    MeasureOptions o = quick();
    CHECK_THROWS_AS(measure_points({1}, [](int) { return -1.0; }, o), pomt::Error);
    CHECK_THROWS_AS(measure_points({1}, [](int) { return std::nan(""); }, o), pomt::Error);
}

TEST_CASE("measure: CPU lists and pinning") {
    CHECK(parse_cpu_list("3") == std::vector<int>{3});
    CHECK(parse_cpu_list("0,2") == std::vector<int>{0, 2});
    CHECK(parse_cpu_list("4-6,1") == std::vector<int>{1, 4, 5, 6});
    for (const char* bad : {"", "a", "1,", "3-1", "-2", "1.5"}) CHECK_THROWS_AS(parse_cpu_list(bad), pomt::Error);
    CHECK_THROWS_AS(pin_to_cpus({100000}), pomt::Error);
    CHECK_THROWS_AS(pin_to_cpus({}), pomt::Error);
}

// ---- Interference: synthetic bursts of inflated runs (no real timing anywhere) -----------------

namespace {

// A deterministic ±`amp` jitter from a counter, so medians and CIs behave like measured ones.
double jitter(uint64_t k, double amp) {
    uint64_t z = (k + 1) * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 31)) * 0xbf58476d1ce4e5b9ULL;
    return 1 + amp * (2 * double((z >> 11) % 10000) / 10000.0 - 1);
}

}  // namespace

TEST_CASE("measure: slow runs are counted against the point's fast runs") {
    const double excess = InterferenceRule().slow_excess;  // 1.5× the p10
    std::vector<double> quiet = {1.00, 1.01, 1.02, 1.05, 1.12, 1.25, 1.40};
    CHECK(count_slow_runs(quiet, excess) == 0);
    CHECK_FALSE(median_is_slow(quiet, excess));
    std::vector<double> tail = {1.00, 1.00, 1.01, 1.02, 1.02, 1.60, 2.5};  // two runs over 1.5×
    CHECK(count_slow_runs(tail, excess) == 2);
    CHECK_FALSE(median_is_slow(tail, excess));
    std::vector<double> burst = {1.00, 1.01, 2.9, 3.0, 3.0, 3.1, 3.2};  // most runs slow: the median too
    CHECK(count_slow_runs(burst, excess) == 5);
    CHECK(median_is_slow(burst, excess));
    CHECK(count_slow_runs({}, excess) == 0);
}

TEST_CASE("measure: a burst that makes one count look slow is measured again") {
    // Count 20 runs 3× slower for most of its first measurement (a burst while it was measured),
    // then normally. Jitter of ±3% keeps it from converging at ±1%, so it runs to max_runs = 20.
    std::map<int, int> calls;
    RunOnce run = [&](int p) {
        const int k = calls[p]++;
        double ms = (1.0 + 0.01 * p) * (p == 20 ? (k % 2 ? 1.03 : 0.97) : 1.0);
        if (p == 20 && k >= 8 && k <= 20) ms *= 3;  // calls 8..20: 13 of the 20 timed runs
        return 1e-3 * ms;
    };
    MeasureOptions o = quick();
    o.max_runs = 20;
    o.max_seconds_per_point = 0;
    std::vector<int> pts;
    for (int n = 2; n <= 41; ++n) pts.push_back(n);
    auto res = measure_points(pts, run, o);
    const PointStats& p20 = res[20 - 2];
    CHECK(p20.remeasured == 1);
    CHECK_FALSE(p20.disturbed);
    CHECK(p20.slow_runs == 0);
    CHECK(p20.median_ms == doctest::Approx(1.2).epsilon(0.04));
    for (const PointStats& p : res)
        if (p.point != 20) CHECK(p.remeasured == 0);
    Disturbance d = disturbance_of(res, o.interference);
    CHECK(d.remeasured == 1);
    CHECK(d.disturbed_points == 0);
    CHECK_FALSE(d.disturbed());  // re-measured clean: nothing to warn about
    CHECK(d.warning("the profile").empty());
}

TEST_CASE("measure: a burst that outlasts the re-measurement leaves the count flagged") {
    std::map<int, int> calls;
    RunOnce run = [&](int p) {
        const int k = calls[p]++;
        double ms = (1.0 + 0.01 * p) * (k % 2 ? 1.03 : 0.97);
        if (p == 7 && k % 3 != 0) ms *= 2.5;  // two runs in three slow, throughout
        return 1e-3 * ms;
    };
    MeasureOptions o = quick();
    o.max_runs = 30;
    o.max_seconds_per_point = 0;
    auto res = measure_points({5, 6, 7, 8}, run, o);
    CHECK(res[2].remeasured == o.interference.remeasures);
    CHECK(res[2].disturbed);
    CHECK(res[2].slow_runs > res[2].runs / 2);
    Disturbance d = disturbance_of(res, o.interference);
    CHECK(d.disturbed_points == 1);
    CHECK(d.disturbed());
    const std::string w = d.warning("the profile");
    CHECK(w.rfind("warning: the profile looks disturbed by other load: ", 0) == 0);
    CHECK(w.find("1 count re-measured for a slow median, 1 still slow") != std::string::npos);
    CHECK(w.find('\n') == std::string::npos);
}

TEST_CASE("measure: quiet jitter is not interference, a uniformly noisy machine is") {
    std::vector<int> pts;
    for (int n = 2; n <= 61; ++n) pts.push_back(n);
    uint64_t k = 0;
    MeasureOptions o = quick();
    o.max_seconds_per_point = 0;
    o.max_runs = 60;
    // ±4% everywhere: far below the 1.5× rule.
    auto quiet = measure_points(pts, [&](int p) { return 1e-3 * (1 + 0.02 * p) * jitter(k++, 0.04); }, o);
    Disturbance dq = disturbance_of(quiet, o.interference);
    CHECK(dq.slow_runs == 0);
    CHECK(dq.remeasured == 0);
    CHECK_FALSE(dq.disturbed());
    // Every fourth run (by a pseudo-random draw) 1.5–3× slower, at every count alike: the medians hold,
    // but a quarter of the runs are slow.
    auto noisy = measure_points(pts, [&](int p) {
        double ms = (1 + 0.02 * p) * jitter(k++, 0.02);
        if (jitter(k++, 1.0) > 1.5) ms *= 1.5 + 1.5 * (jitter(k++, 1.0) / 2);
        return 1e-3 * ms;
    }, o);
    Disturbance dn = disturbance_of(noisy, o.interference);
    CHECK(dn.slow_share() > 0.1);
    CHECK(dn.disturbed());
    CHECK(dn.describe().find("of " + std::to_string(dn.runs) + " timed runs took over 1.50×") != std::string::npos);
    for (const PointStats& p : noisy) CHECK(p.median_ms < 1.5 * p.p10_ms);
}

TEST_CASE("measure: paired runs alternate, drop the first of each side, and stop when decided") {
    std::vector<int> order;
    RunOnce run = [&](int p) {
        order.push_back(p);
        return 1e-3 * (p == 1 ? 10.0 : 12.0) * jitter(order.size(), 0.01);
    };
    PairedOptions po;
    auto r = measure_paired(1, 2, run, po, [](const PairedResult&) { return true; });
    CHECK(r.pairs() == po.min_pairs);  // decided at the first check
    REQUIRE(order.size() == size_t(2 + 2 * po.min_pairs));
    CHECK(order[0] == 1);  // the discarded first runs
    CHECK(order[1] == 2);
    CHECK(order[2] == 1);  // a b
    CHECK(order[3] == 2);
    CHECK(order[4] == 2);  // b a
    CHECK(order[5] == 1);
    CHECK(r.diff_median_ms == doctest::Approx(2.0).epsilon(0.1));
    CHECK(r.diff_lo_ms > 1.5);
    CHECK(r.diff_hi_ms < 2.5);
    CHECK(r.a_stats.median_ms == doctest::Approx(10.0).epsilon(0.02));
    order.clear();
    auto all = measure_paired(1, 2, run, po);  // never decided: checks at 8, 16, 32
    CHECK(all.pairs() == po.max_pairs);
    CHECK_THROWS_AS(measure_paired(3, 3, run, po), pomt::Error);
}

TEST_CASE("measure: the host load reads as unknown or plausible, and its verdict text") {
    HostLoad l;
    CHECK_FALSE(l.busy());  // unknown: no verdict
    l.known = true;
    l.other_cpus = 1.2;
    CHECK(l.busy());
    Disturbance d;
    d.load = l;
    d.runs = 100;
    CHECK(d.disturbed());
    CHECK(d.describe().find("other processes kept 1.2 CPUs busy") != std::string::npos);
    HostLoad now = HostLoadMeter().read();  // right away: too short to say anything
    CHECK_FALSE(now.known);
}
