#include "search/layer_search.h"
#include "profiler/workloads.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <set>

#include "profiler/measure.h"
#include "pomt/error.h"
#include "vit/forward.h"

namespace pomt {
namespace search {

double BlockLatencyTable::block_ms(int tokens) const {
    if (block.empty() || tokens < block.front().tokens || tokens > block.back().tokens)
        fail("no block latency at " + std::to_string(tokens) + " tokens (the table covers " +
             (block.empty() ? std::string("nothing") :
                              std::to_string(block.front().tokens) + ".." + std::to_string(block.back().tokens)) + ")");
    auto it = std::lower_bound(block.begin(), block.end(), tokens,
                               [](const profiler::CurvePoint& p, int n) { return p.tokens < n; });
    if (it->tokens == tokens) return it->median_ms;
    const profiler::CurvePoint& hi = *it;
    const profiler::CurvePoint& lo = *(it - 1);
    double t = double(tokens - lo.tokens) / double(hi.tokens - lo.tokens);
    return lo.median_ms + t * (hi.median_ms - lo.median_ms);
}

BlockLatencyTable make_block_table(std::vector<profiler::CurvePoint> block, double model_full_ms, int depth, int full_tokens,
                                   const std::string& what, double last_block_share) {
    if (block.size() < 2) fail(what + " has fewer than 2 block-latency points");
    for (size_t i = 1; i < block.size(); ++i)
        if (block[i].tokens <= block[i - 1].tokens) fail(what + ": block latencies must be ascending in tokens");
    for (const profiler::CurvePoint& p : block)
        if (!(p.median_ms > 0) || !std::isfinite(p.median_ms))
            fail(what + ": block latency at " + std::to_string(p.tokens) + " tokens is not a positive number");
    if (block.back().tokens != full_tokens)
        fail(what + " has no block latency at the model's " + std::to_string(full_tokens) + " tokens (its last count is " +
             std::to_string(block.back().tokens) + ")");
    if (!(model_full_ms > 0) || !std::isfinite(model_full_ms)) fail("the model latency at full tokens must be positive");
    if (!(last_block_share > 0 && last_block_share <= 1)) fail("the last block's share must be in (0, 1]");
    BlockLatencyTable t;
    t.depth = depth;
    t.full_tokens = full_tokens;
    t.block = std::move(block);
    t.last_block_share = last_block_share;
    t.overhead_ms = std::max(0.0, model_full_ms - (depth - 1 + last_block_share) * t.block.back().median_ms);
    return t;
}

std::vector<int> plan_block_tokens(const PrunePlan& plan, int depth, int full_tokens) {
    std::vector<int> in(size_t(depth), full_tokens);
    int n = full_tokens;
    size_t k = 0;
    for (int b = 0; b < depth; ++b) {
        in[size_t(b)] = n;
        if (k < plan.size() && plan[k].layer == b) n = plan[k++].tokens;
    }
    return in;
}

double BlockLatencyTable::pruning_block_ms(int tokens_in, int tokens_out) const {
    const double in = block_ms(tokens_in);
    return in - after_prune_share * (in - block_ms(tokens_out));
}

double predict_plan_ms(const BlockLatencyTable& table, const PrunePlan& plan) {
    double ms = table.overhead_ms;
    const std::vector<int> in = plan_block_tokens(plan, table.depth, table.full_tokens);
    size_t k = 0;
    for (int b = 0; b < table.depth; ++b) {
        if (b == table.depth - 1 && table.last_block_pooled())
            ms += table.last_block_share * table.block_ms(in[size_t(b)]);  // its prune, if any, changes nothing
        else if (k < plan.size() && plan[k].layer == b)
            ms += table.pruning_block_ms(in[size_t(b)], plan[k++].tokens);
        else
            ms += table.block_ms(in[size_t(b)]);
    }
    return ms;
}

int pomt_r_for(int tokens_in, int tokens_out, int prefix) { return tokens_in + prefix - 1 - tokens_out; }

PruneSchedule plan_schedule(const PrunePlan& plan, const ModelConfig& config) {
    PruneSchedule s;
    int n = config.num_tokens(), last_layer = -1;
    for (const PrunePoint& p : plan) {
        if (p.layer <= last_layer || p.layer >= config.depth)
            fail("a pruning plan needs ascending blocks inside 0.." + std::to_string(config.depth - 1));
        const int r = pomt_r_for(n, p.tokens, config.num_prefix_tokens());
        if (p.tokens >= n || r < 1)
            fail("a pruning plan must leave fewer tokens at every prune (" + std::to_string(p.tokens) + " after " +
                 std::to_string(n) + ")");
        PruneStep step;
        step.kind = PruneStep::Pomt;
        step.r = {r};
        step.layer = p.layer;
        s.steps.push_back(step);
        n = p.tokens;
        last_layer = p.layer;
    }
    return s;
}

std::string describe_plan(const PrunePlan& plan) {
    if (plan.empty()) return "none";
    std::string s;
    for (const PrunePoint& p : plan)
        s += (s.empty() ? "" : ", ") + std::string("block ") + std::to_string(p.layer) + " -> " + std::to_string(p.tokens);
    return s;
}

std::vector<int> default_candidate_layers(int depth, bool last_block_pooled) {
    std::vector<int> layers;
    const int last = last_block_pooled && depth > 1 ? depth - 2 : depth - 1;
    const int stride = depth <= 12 ? 1 : (depth + 11) / 12;
    for (int b = 0; b <= last; b += stride) layers.push_back(b);
    if (layers.back() != last) layers.push_back(last);
    return layers;
}

std::vector<int> candidate_token_counts(const std::vector<profiler::Step>& steps, int lowest, int full_tokens, int grid_step,
                                        const std::vector<int>& extra) {
    if (grid_step < 1) fail("the token grid step must be at least 1");
    std::set<int> c;
    for (const profiler::Step& s : steps) c.insert(s.to_tokens);
    for (int n = full_tokens - grid_step; n >= lowest; n -= grid_step) c.insert(n);
    c.insert(lowest);
    for (int n : extra) c.insert(n);
    std::vector<int> out;
    for (int n : c)
        if (n >= lowest && n < full_tokens) out.push_back(n);
    return out;
}

PlanResult LayerSearchResult::result_for(const PrunePlan& plan) const {
    if (plan.empty()) return baseline;
    for (const PlanResult& r : measured)
        if (r.plan == plan) return r;
    fail("plan " + describe_plan(plan) + " was not measured");
}

namespace {

std::string plan_key(const PrunePlan& plan) {
    std::string k;
    for (const PrunePoint& p : plan) k += std::to_string(p.layer) + ":" + std::to_string(p.tokens) + ";";
    return k;
}

std::vector<int> spread(int count, int wanted) {
    std::vector<int> idx;
    if (count <= 0) return idx;
    wanted = std::max(1, std::min(wanted, count));
    if (wanted == 1) return {count - 1};
    for (int t = 0; t < wanted; ++t) idx.push_back(int(std::lround(double(t) * (count - 1) / (wanted - 1))));
    idx.erase(std::unique(idx.begin(), idx.end()), idx.end());
    return idx;
}

class Searcher {
public:
    Searcher(const BlockLatencyTable& table, const PlanAccuracy& accuracy, const LayerSearchOptions& options)
        : table_(table), accuracy_(accuracy), o_(options) {
        latency_max_ = table.unpruned_ms();
    }

    double latency(const PrunePlan& p) const { return predict_plan_ms(table_, p); }

    // The accuracy of a plan, measuring it on first use.
    double measure(const PrunePlan& p) {
        auto it = cache_.find(plan_key(p));
        if (it != cache_.end()) return it->second;
        double a = accuracy_(p);
        cache_[plan_key(p)] = a;
        order_.push_back(p);
        accuracy_max_ = std::max(accuracy_max_, a);
        return a;
    }
    bool measured(const PrunePlan& p) const { return cache_.count(plan_key(p)) != 0; }
    double cached(const PrunePlan& p) const { return cache_.at(plan_key(p)); }

    double utility(double latency_ms, double accuracy) const {
        double l = latency_max_ > 0 ? 1.0 - latency_ms / latency_max_ : 0.0;
        double a = accuracy_max_ > 0 ? accuracy / accuracy_max_ : 0.0;
        return o_.alpha * l + (1.0 - o_.alpha) * a;
    }

    // Coarse-to-fine search of one more prune below `prefix`: blocks `layers`, tokens `tokens`
    // (ascending, all below the tokens `prefix` leaves). The prefix plan itself is the grid's
    // virtual top column (prune nothing more).
    void grid(const PrunePlan& prefix, const std::vector<int>& layers, const std::vector<int>& tokens, int seed_layers,
              int seed_tokens) {
        const int L = int(layers.size()), T = int(tokens.size());
        if (!L || !T) return;
        const double top_accuracy = measure(prefix);
        const int top_tokens = prefix.empty() ? table_.full_tokens : prefix.back().tokens;
        auto plan = [&](int i, int j) {
            PrunePlan p = prefix;
            p.push_back({layers[size_t(i)], tokens[size_t(j)]});
            return p;
        };
        for (int i : spread(L, seed_layers))
            for (int j : spread(T, seed_tokens)) measure(plan(i, j));
        // Accuracy estimate of a cell: measured; else interpolated along its block's row between
        // measured counts (the top column counts as measured); else interpolated between the
        // nearest blocks that have such an estimate at that count; else the top accuracy.
        auto row_estimate = [&](int i, int j, double* out) {
            PrunePlan p = plan(i, j);
            if (measured(p)) {
                *out = cached(p);
                return true;
            }
            int lo = -1, hi = T;  // T = the top column
            for (int k = j - 1; k >= 0; --k)
                if (measured(plan(i, k))) {
                    lo = k;
                    break;
                }
            for (int k = j + 1; k < T; ++k)
                if (measured(plan(i, k))) {
                    hi = k;
                    break;
                }
            if (lo < 0) return false;
            const double a_lo = cached(plan(i, lo)), a_hi = hi == T ? top_accuracy : cached(plan(i, hi));
            const int n_lo = tokens[size_t(lo)], n_hi = hi == T ? top_tokens : tokens[size_t(hi)];
            *out = a_lo + (a_hi - a_lo) * double(tokens[size_t(j)] - n_lo) / double(n_hi - n_lo);
            return true;
        };
        auto estimate = [&](int i, int j) {
            double v;
            if (row_estimate(i, j, &v)) return v;
            int a = -1, b = -1;
            double va = 0, vb = 0;
            for (int k = i - 1; k >= 0 && a < 0; --k)
                if (row_estimate(k, j, &va)) a = k;
            for (int k = i + 1; k < L && b < 0; ++k)
                if (row_estimate(k, j, &vb)) b = k;
            if (a >= 0 && b >= 0)
                return va + (vb - va) * double(layers[size_t(i)] - layers[size_t(a)]) /
                                double(layers[size_t(b)] - layers[size_t(a)]);
            if (a >= 0) return va;
            if (b >= 0) return vb;
            return top_accuracy;
        };
        for (;;) {
            // The best measured cell (or the prefix itself).
            int bi = -1, bj = -1;
            double best_u = utility(latency(prefix), top_accuracy);
            for (int i = 0; i < L; ++i)
                for (int j = 0; j < T; ++j) {
                    PrunePlan p = plan(i, j);
                    if (!measured(p)) continue;
                    double u = utility(latency(p), cached(p));
                    if (u > best_u) best_u = u, bi = i, bj = j;
                }
            std::vector<std::pair<double, std::pair<int, int>>> rivals;
            for (int i = 0; i < L; ++i)
                for (int j = 0; j < T; ++j) {
                    PrunePlan p = plan(i, j);
                    if (measured(p)) continue;
                    double u = utility(latency(p), estimate(i, j));
                    if (u >= best_u) rivals.push_back({u, {i, j}});
                }
            if (!rivals.empty()) {
                std::sort(rivals.begin(), rivals.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
                for (size_t k = 0; k < rivals.size() && k < size_t(std::max(1, o_.refine_batch)); ++k)
                    measure(plan(rivals[k].second.first, rivals[k].second.second));
                continue;
            }
            // Interpolation cannot see a local wiggle: measure the winner's grid neighbours; if
            // that moves the winner, search again.
            bool added = false;
            if (bi >= 0)
                for (int i = std::max(0, bi - 1); i <= std::min(L - 1, bi + 1); ++i)
                    for (int j = std::max(0, bj - 1); j <= std::min(T - 1, bj + 1); ++j)
                        if (!measured(plan(i, j))) {
                            measure(plan(i, j));
                            added = true;
                        }
            if (!added) return;
        }
    }

    LayerSearchResult finish() const {
        LayerSearchResult r;
        r.latency_max_ms = latency_max_;
        r.accuracy_max = accuracy_max_;
        auto result = [&](const PrunePlan& p) {
            PlanResult x;
            x.plan = p;
            x.latency_ms = latency(p);
            x.accuracy = cached(p);
            x.utility = utility(x.latency_ms, x.accuracy);
            return x;
        };
        r.baseline = result({});
        r.best = r.best_single = r.baseline;
        for (const PrunePlan& p : order_) {
            if (p.empty()) continue;
            PlanResult x = result(p);
            r.measured.push_back(x);
            r.accuracy_evaluations++;
            if (x.utility > r.best.utility) r.best = x;
            if (p.size() == 1 && x.utility > r.best_single.utility) r.best_single = x;
        }
        r.accuracy_evaluations++;  // the baseline
        return r;
    }

    PrunePlan best_with(size_t prunes) const {
        PrunePlan best;
        double best_u = utility(latency({}), cached({}));
        for (const PrunePlan& p : order_)
            if (p.size() == prunes) {
                double u = utility(latency(p), cached(p));
                if (u > best_u) best_u = u, best = p;
            }
        return best;
    }

private:
    const BlockLatencyTable& table_;
    const PlanAccuracy& accuracy_;
    const LayerSearchOptions& o_;
    std::map<std::string, double> cache_;
    std::vector<PrunePlan> order_;
    double latency_max_ = 0, accuracy_max_ = 0;
};

}  // namespace

LayerSearchResult search_layers(const BlockLatencyTable& table, const PlanAccuracy& accuracy,
                                const LayerSearchOptions& options) {
    if (!(options.alpha >= 0 && options.alpha <= 1)) fail("--alpha must be between 0 and 1");
    if (options.max_prunes < 1 || options.max_prunes > 2) fail("at most two prunes are searched (got " + std::to_string(options.max_prunes) + ")");
    if (options.layers.empty()) fail("no candidate blocks to prune at");
    if (options.tokens.empty()) fail("no candidate token counts to prune to");
    for (size_t i = 0; i < options.layers.size(); ++i)
        if (options.layers[i] < 0 || options.layers[i] >= table.depth || (i && options.layers[i] <= options.layers[i - 1]))
            fail("candidate blocks must be ascending inside 0.." + std::to_string(table.depth - 1));
    for (size_t i = 0; i < options.tokens.size(); ++i)
        if (options.tokens[i] < 1 || options.tokens[i] >= table.full_tokens || (i && options.tokens[i] <= options.tokens[i - 1]))
            fail("candidate token counts must be ascending and below " + std::to_string(table.full_tokens));
    Searcher s(table, accuracy, options);
    s.measure({});
    for (const PrunePlan& p : options.also_measure) {
        int last_layer = -1, last_tokens = table.full_tokens;
        for (const PrunePoint& q : p) {
            if (q.layer <= last_layer || q.layer >= table.depth || q.tokens >= last_tokens || q.tokens < 1)
                fail("plan " + describe_plan(p) + " needs ascending blocks inside 0.." + std::to_string(table.depth - 1) +
                     " and fewer tokens at every prune");
            last_layer = q.layer;
            last_tokens = q.tokens;
        }
        predict_plan_ms(table, p);  // throws for a plan outside the table
        s.measure(p);
    }
    s.grid({}, options.layers, options.tokens, options.seed_layers, options.seed_tokens);
    const PrunePlan single = s.best_with(1);
    if (options.max_prunes >= 2 && !single.empty()) {
        std::vector<int> layers, tokens;
        for (int l : options.layers)
            if (l > single[0].layer) layers.push_back(l);
        for (int n : options.tokens)
            if (n < single[0].tokens) tokens.push_back(n);
        s.grid(single, layers, tokens, std::max(1, options.seed_layers - 1), std::max(1, options.seed_tokens - 1));
    }
    return s.finish();
}

}  // namespace search
}  // namespace pomt
