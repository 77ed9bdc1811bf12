// The Pareto search's statistics and selection, free of models and timing (tests feed them
// synthetic tables): paired intervals on per-image correctness, the successive-halving cut, and
// (in include/pomt/search.h) the front and the budget's choice.
#pragma once
#include <vector>

namespace pomt {
namespace search {

// Per-image top-1 correctness (1 / 0) of one plan, in image order.
using Correctness = std::vector<unsigned char>;

// The mean of a[i] − b[i] over the first n images, in points (×100), and mean ± z·sd/√n with sd the
// sample standard deviation of the paired differences (the normal approximation; with no discordant
// image the interval is the point).
struct PairedInterval {
    double mean = 0, low = 0, high = 0;
};
PairedInterval paired_difference(const Correctness& a, const Correctness& b, int n, double z);

// One halving round's cut. `latency`: predicted ms per candidate; `correct`: per candidate, its
// correctness on (at least) the first n images; `alive`: the candidates of this round. Drops every
// candidate that another at most as slow beats with an interval clear of zero (paired difference's
// low end > 0), then, while more than keep_max remain, keeps whole layers of non-dominated sorting
// (point estimates) and cuts the last layer by top-1. `always` (e.g. the unpruned model) stays.
std::vector<int> halving_survivors(const std::vector<double>& latency, const std::vector<Correctness>& correct,
                                   const std::vector<int>& alive, int n, double z, int keep_max,
                                   const std::vector<int>& always);

}  // namespace search
}  // namespace pomt
