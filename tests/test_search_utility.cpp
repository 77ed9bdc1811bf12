// search/utility: the paper's U(n) and its coarse-to-fine argmax against the full grid.
#include <cmath>

#include "doctest/doctest.h"
#include "pomt/error.h"
#include "profiler/latency_curve.h"
#include "search/utility.h"
#include "tests/test_util.h"

using namespace pomt;

TEST_CASE("utility search: coarse-to-fine picks the full grid's n* on measured latency curves") {
    POMT_REQUIRE_SHARED("data/latency-curves/pytorch113_openblas_deit_tiny_1thread.csv", p);
    for (const char* file : {"pytorch113_openblas_deit_tiny_1thread.csv", "onnxruntime130_deit_tiny_1thread.csv"}) {
        CAPTURE(file);
        auto latency = profiler::select_curve(profiler::read_latency_csv(pomt_test::shared_dir() + "/data/latency-curves/" + file));
        for (double alpha : {0.3, 0.5, 0.7}) {
            CAPTURE(alpha);
            // A plausible accuracy curve: saturating in n, with a deterministic wiggle of ±0.3 %.
            auto accuracy = [](int n) { return 82.0 - 30.0 * std::exp(-n / 40.0) + 0.3 * std::sin(n * 1.7); };
            search::UtilitySearchOptions full, coarse;
            full.alpha = coarse.alpha = alpha;
            full.coarse_step = 1;
            coarse.coarse_step = 8;
            auto a = search::search_utility(latency, accuracy, full);
            auto b = search::search_utility(latency, accuracy, coarse);
            CHECK(a.best_tokens == b.best_tokens);
            CHECK(b.accuracy_evaluations < a.accuracy_evaluations / 2);
        }
    }
}

TEST_CASE("utility search: U(n) and bad options") {
    std::vector<search::UtilityPoint> pts(3);
    pts[0] = {10, 5.0, 50.0, true, 0};
    pts[1] = {20, 8.0, 80.0, true, 0};
    pts[2] = {30, 10.0, 100.0, true, 0};
    search::compute_utility(pts, 0.5);
    CHECK(pts[0].utility == doctest::Approx(0.5 * 0.5 + 0.5 * 0.5));
    CHECK(pts[2].utility == doctest::Approx(0.5));
    CHECK(pts[1].utility == doctest::Approx(0.5 * 0.2 + 0.5 * 0.8));
    search::UtilitySearchOptions o;
    o.alpha = 1.5;
    CHECK_THROWS_AS(search::search_utility({{1, 1, 1, 1, 1}}, [](int) { return 1.0; }, o), Error);
    o.alpha = 0.5;
    CHECK_THROWS_AS(search::search_utility({}, [](int) { return 1.0; }, o), Error);
}
