#include "search/utility.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "pomt/error.h"

namespace pomt {
namespace search {

void compute_utility(std::vector<UtilityPoint>& points, double alpha) {
    double max_l = 0, max_a = 0;
    for (const UtilityPoint& p : points) {
        max_l = std::max(max_l, p.latency_ms);
        max_a = std::max(max_a, p.accuracy);
    }
    for (UtilityPoint& p : points) {
        double l = max_l > 0 ? 1.0 - p.latency_ms / max_l : 0.0;
        double a = max_a > 0 ? p.accuracy / max_a : 0.0;
        p.utility = alpha * l + (1.0 - alpha) * a;
    }
}

namespace {

// Fills unmeasured accuracies by linear interpolation between the nearest measured neighbours.
void interpolate_accuracy(std::vector<UtilityPoint>& points) {
    int prev = -1;
    for (int i = 0; i < int(points.size()); ++i) {
        if (!points[size_t(i)].accuracy_measured) continue;
        if (prev >= 0)
            for (int j = prev + 1; j < i; ++j) {
                const UtilityPoint &a = points[size_t(prev)], &b = points[size_t(i)];
                double t = double(points[size_t(j)].tokens - a.tokens) / double(b.tokens - a.tokens);
                points[size_t(j)].accuracy = a.accuracy + t * (b.accuracy - a.accuracy);
            }
        prev = i;
    }
}

}  // namespace

UtilitySearchResult search_utility(const std::vector<profiler::CurvePoint>& latency, const std::function<double(int)>& accuracy_at,
                                   const UtilitySearchOptions& options) {
    if (latency.empty()) fail("the latency curve is empty");
    if (!(options.alpha >= 0 && options.alpha <= 1)) fail("--alpha must be between 0 and 1");
    UtilitySearchResult r;
    r.points.resize(latency.size());
    for (size_t i = 0; i < latency.size(); ++i) {
        r.points[i].tokens = latency[i].tokens;
        r.points[i].latency_ms = latency[i].median_ms;
        if (i && latency[i].tokens <= latency[i - 1].tokens) fail("the latency curve must be ascending in tokens");
    }
    auto measure = [&](size_t i) {
        if (r.points[i].accuracy_measured) return;
        r.points[i].accuracy = accuracy_at(r.points[i].tokens);
        r.points[i].accuracy_measured = true;
        ++r.accuracy_evaluations;
    };
    const size_t n = r.points.size();
    const size_t step = size_t(std::max(1, options.coarse_step));
    for (size_t i = 0; i < n; i += step) measure(i);
    measure(n - 1);
    for (;;) {
        interpolate_accuracy(r.points);
        compute_utility(r.points, options.alpha);
        // The best measured count, and the unmeasured counts whose estimate beats it.
        size_t best = n;
        for (size_t i = 0; i < n; ++i)
            if (r.points[i].accuracy_measured && (best == n || r.points[i].utility > r.points[best].utility)) best = i;
        std::vector<size_t> rivals;
        for (size_t i = 0; i < n; ++i)
            if (!r.points[i].accuracy_measured && r.points[i].utility >= r.points[best].utility) rivals.push_back(i);
        if (rivals.empty()) {
            // Interpolation cannot see a local wiggle between coarse points: measure the whole
            // neighbourhood of the winner; if that changes the winner, search again.
            bool added = false;
            const size_t lo = best >= step ? best - step : 0, hi = std::min(n - 1, best + step);
            for (size_t i = lo; i <= hi; ++i)
                if (!r.points[i].accuracy_measured) {
                    measure(i);
                    added = true;
                }
            if (!added) {
                r.best_tokens = r.points[best].tokens;
                return r;
            }
            continue;
        }
        std::sort(rivals.begin(), rivals.end(),
                  [&](size_t a, size_t b) { return r.points[a].utility > r.points[b].utility; });
        for (size_t k = 0; k < rivals.size() && k < size_t(std::max(1, options.refine_batch)); ++k) measure(rivals[k]);
    }
}

}  // namespace search
}  // namespace pomt
