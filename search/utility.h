// The paper's offline schedule computation: from a latency-vs-tokens curve L(n) (this device, or
// a profile measured on the target) and an accuracy curve A(n) (random pruning to n tokens on
// estimation images), pick n* = argmax U(n), U(n) = α(1 − L(n)/max L) + (1 − α)·A(n)/max A, and
// prune to it with POMT at one block.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "pomt/search.h"
#include "profiler/latency_curve.h"

namespace pomt {
namespace search {

// One token count: L(n), A(n) (measured or interpolated), U(n); the public API's struct as it is.
using UtilityPoint = TokenUtility;

struct UtilitySearchOptions {
    double alpha = 0.5;
    // Coarse-to-fine: measure A(n) every `coarse_step` counts (and at both ends), interpolate in
    // between, measure the most promising counts exactly until the best measured count beats every
    // interpolated one, then measure every count within coarse_step of it (repeating if the winner
    // moves). coarse_step <= 1 measures every count (the full grid).
    int coarse_step = 8;
    int refine_batch = 4;  // counts measured per refinement round
};

struct UtilitySearchResult {
    std::vector<UtilityPoint> points;  // ascending tokens, one per point of the latency curve
    int best_tokens = 0;               // n*
    int accuracy_evaluations = 0;
};

// `latency`: L(n) ascending by tokens; `accuracy_at(n)`: top-1 % with n tokens (the expensive
// part, called once per count it needs). Throws pomt::Error for an empty curve or alpha outside [0, 1].
UtilitySearchResult search_utility(const std::vector<profiler::CurvePoint>& latency, const std::function<double(int)>& accuracy_at,
                                   const UtilitySearchOptions& options);

// U(n) of every point from its latency and accuracy (used by search_utility; exposed for tests).
void compute_utility(std::vector<UtilityPoint>& points, double alpha);

}  // namespace search
}  // namespace pomt
