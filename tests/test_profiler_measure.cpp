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
