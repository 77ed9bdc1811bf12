#include "search/pareto_select.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include "core/json.h"
#include "pomt/error.h"
#include "pomt/search.h"

namespace pomt {

namespace search {

PairedInterval paired_difference(const Correctness& a, const Correctness& b, int n, double z) {
    if (n < 1 || size_t(n) > a.size() || size_t(n) > b.size()) fail("paired difference over " + std::to_string(n) + " images of too few");
    double sum = 0, sq = 0;
    for (int i = 0; i < n; ++i) {
        const double d = double(a[size_t(i)]) - double(b[size_t(i)]);
        sum += d;
        sq += d * d;
    }
    PairedInterval r;
    r.mean = sum / n;
    const double var = n > 1 ? std::max(0.0, (sq - n * r.mean * r.mean) / (n - 1)) : 0.0;
    const double half = z * std::sqrt(var / n);
    r.low = 100 * (r.mean - half);
    r.high = 100 * (r.mean + half);
    r.mean *= 100;
    return r;
}

namespace {

double top1_of(const Correctness& c, int n) {
    double s = 0;
    for (int i = 0; i < n; ++i) s += c[size_t(i)];
    return 100.0 * s / n;
}

}  // namespace

std::vector<int> halving_survivors(const std::vector<double>& latency, const std::vector<Correctness>& correct,
                                   const std::vector<int>& alive, int n, double z, int keep_max,
                                   const std::vector<int>& always) {
    auto is_always = [&](int c) { return std::count(always.begin(), always.end(), c) != 0; };
    std::vector<int> left;
    for (int c : alive) {
        bool beaten = false;
        for (int d : alive) {
            if (d == c || latency[size_t(d)] > latency[size_t(c)]) continue;
            if (paired_difference(correct[size_t(d)], correct[size_t(c)], n, z).low > 0) {
                beaten = true;
                break;
            }
        }
        if (!beaten || is_always(c)) left.push_back(c);
    }
    if (int(left.size()) <= keep_max) return left;
    // Non-dominated sorting on the point estimates: peel fronts until keep_max is reached.
    std::vector<double> top1(latency.size(), 0);
    for (int c : left) top1[size_t(c)] = top1_of(correct[size_t(c)], n);
    std::vector<int> kept, rest = left;
    for (int c : left)
        if (is_always(c)) kept.push_back(c);
    rest.erase(std::remove_if(rest.begin(), rest.end(), is_always), rest.end());
    while (int(kept.size()) < keep_max && !rest.empty()) {
        std::vector<int> layer = pareto_front(latency, top1, rest);
        if (int(kept.size() + layer.size()) > keep_max) {
            std::stable_sort(layer.begin(), layer.end(), [&](int a, int b) { return top1[size_t(a)] > top1[size_t(b)]; });
            layer.resize(size_t(keep_max) - kept.size());
        }
        for (int c : layer) {
            kept.push_back(c);
            rest.erase(std::find(rest.begin(), rest.end(), c));
        }
    }
    std::sort(kept.begin(), kept.end());
    return kept;
}

}  // namespace search

std::vector<int> pareto_front(const std::vector<double>& latency, const std::vector<double>& top1,
                              const std::vector<int>& candidates) {
    std::vector<int> order = candidates;
    // Fastest first; equal latency: more accurate first; then the earlier plan.
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
        if (latency[size_t(a)] != latency[size_t(b)]) return latency[size_t(a)] < latency[size_t(b)];
        if (top1[size_t(a)] != top1[size_t(b)]) return top1[size_t(a)] > top1[size_t(b)];
        return a < b;
    });
    std::vector<int> front;
    for (int c : order)  // a plan stands when it is more accurate than every faster (or equal) one
        if (front.empty() || top1[size_t(c)] > top1[size_t(front.back())]) front.push_back(c);
    return front;
}

const char* loss_rule_name(LossRule r) {
    switch (r) {
        case LossRule::Confirmed: return "confirmed";
        case LossRule::Estimate: return "estimate";
        case LossRule::EstimateBound: return "bound";
    }
    return "?";
}

double normal_quantile(double p) {
    if (!(p > 0 && p < 1)) fail("a normal quantile needs a probability in (0, 1), got " + std::to_string(p));
    // Bisection on Φ(z) = erfc(−z/√2)/2: 200 halvings of [−40, 40] reach double precision.
    double lo = -40, hi = 40;
    for (int i = 0; i < 200 && hi - lo > 1e-15; ++i) {
        const double mid = 0.5 * (lo + hi);
        (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p ? lo : hi) = mid;
    }
    return 0.5 * (lo + hi);
}

namespace {

void check_budget(const ParetoBudget& b) {
    const int kinds = (b.max_loss >= 0) + (b.max_ms > 0) + (b.max_ratio > 0) + (b.alpha >= 0);
    if (kinds > 1) fail("give one budget: --max-loss, --max-ms, --max-ratio or --alpha");
    if (b.max_loss < -1 || b.max_ms < 0 || b.max_ratio < 0 || (b.alpha >= 0 && b.alpha > 1) ||
        !std::isfinite(b.max_loss) || !std::isfinite(b.max_ms) || !std::isfinite(b.max_ratio))
        fail("a budget is out of range (loss >= 0 points, ms > 0, ratio > 0, alpha in [0, 1])");
    if (!(b.confidence >= 0.5 && b.confidence < 1)) fail("the confidence must be in [0.5, 1), got " + std::to_string(b.confidence));
}

std::string fmt3(double v) { return json::format_number(std::round(v * 1000) / 1000); }

std::string estimate_text(const ParetoPlan& p) {
    return "top-1 " + fmt3(p.top1) + " %, loss " + fmt3(p.loss) + " points [" + fmt3(p.loss_low) + ", " + fmt3(p.loss_high) +
           "] on " + std::to_string(p.images) + " images, measured " + fmt3(p.measured_ms) + " ms (ratio " +
           fmt3(p.measured_ratio) + ")";
}

}  // namespace

int choose_confirmed_plan(std::vector<ParetoPlan>& plans, const ParetoBudget& b, const std::function<void(int)>& confirm,
                          std::string* why) {
    check_budget(b);
    if (b.max_loss < 0 || b.loss_rule != LossRule::Confirmed) fail("the confirmed rule needs a loss budget (--max-loss)");
    if (plans.empty() || !plans[0].measured) fail("the confirmed rule needs the unpruned model measured first");
    // The sequence, fixed before any confirmation: first each other precision's unpruned model within
    // the budget by its estimate (a change of precision alone is the natural first step, and it may sit
    // off the estimated front: a pruned plan a few microseconds slower and a little more accurate by
    // estimate hides it), slowest first; then the front's pruned plans within the budget that are faster
    // than the last of those, slowest (most accurate) first. Each plan is faster than the one before,
    // so the last accepted is the fastest.
    std::vector<int> order, pruned;
    for (int i = 1; i < int(plans.size()); ++i) {
        const ParetoPlan& p = plans[size_t(i)];
        if (!p.measured || p.loss > b.max_loss || !(p.measured_ms < plans[0].measured_ms)) continue;
        if (p.method == "none") order.push_back(i);
        else if (p.on_front) pruned.push_back(i);
    }
    auto slowest_first = [&](int x, int y) {
        const ParetoPlan &p = plans[size_t(x)], &q = plans[size_t(y)];
        if (p.measured_ms != q.measured_ms) return p.measured_ms > q.measured_ms;
        return p.top1 > q.top1;
    };
    std::stable_sort(order.begin(), order.end(), slowest_first);
    std::stable_sort(pruned.begin(), pruned.end(), slowest_first);
    const double faster_than = order.empty() ? plans[0].measured_ms : plans[size_t(order.back())].measured_ms;
    for (int i : pruned)
        if (plans[size_t(i)].measured_ms < faster_than) order.push_back(i);
    int chosen = 0, tested = 0;
    std::string stop;
    for (int i : order) {
        confirm(i);
        ++tested;
        const ParetoPlan& p = plans[size_t(i)];
        if (!p.confirmed) fail("plan " + p.spec + " was not confirmed");
        if (p.confirm_high > b.max_loss) {
            stop = "; the next, " + std::string(plan_precision_name(p.precision)) + " " + p.spec + ", confirmed " + fmt3(p.confirm_loss) + " with upper bound " + fmt3(p.confirm_high) +
                   ", ended the walk";
            break;
        }
        chosen = i;
    }
    const ParetoPlan& p = plans[size_t(chosen)];
    const std::string conf = fmt3(100 * b.confidence) + " %";
    *why = "the fastest plan of a fixed sequence (" + std::to_string(order.size()) +
           " plans within the budget by their estimate: each precision's unpruned model, then the front's faster "
           "plans, slowest first; " + std::to_string(tested) +
           " confirmed) accepted while its confirmed loss's " + conf + " upper bound is within " + fmt3(b.max_loss) +
           " points" + stop + ": ";
    if (chosen == 0)
        *why += "none was, so the unpruned model (" + estimate_text(p) + ")";
    else
        *why += estimate_text(p) + "; confirmed loss " + fmt3(p.confirm_loss) + " points (upper bound " + fmt3(p.confirm_high) +
                ") on " + std::to_string(p.confirm_images) + " confirmation images";
    return chosen;
}

int choose_pareto_plan(const std::vector<ParetoPlan>& plans, const ParetoBudget& b, std::string* why) {
    check_budget(b);
    const int kinds = (b.max_loss >= 0) + (b.max_ms > 0) + (b.max_ratio > 0) + (b.alpha >= 0);
    if (b.max_loss >= 0 && b.loss_rule == LossRule::Confirmed)
        fail("a loss budget judged on confirmation images needs choose_confirmed_plan");
    const bool by_bound = b.loss_rule == LossRule::EstimateBound;
    const double alpha = kinds == 0 ? 0.5 : b.alpha;
    auto fmt = [](double v) { return json::format_number(std::round(v * 1000) / 1000); };
    std::vector<int> feasible;
    double l_max = 0, a_max = 0;
    for (int i = 0; i < int(plans.size()); ++i) {
        const ParetoPlan& p = plans[size_t(i)];
        if (!p.measured) continue;
        l_max = std::max(l_max, p.measured_ms);
        a_max = std::max(a_max, p.top1);
        if (b.max_loss >= 0 && (by_bound ? p.loss_high : p.loss) > b.max_loss) continue;
        if (b.max_ms > 0 && p.measured_ms > b.max_ms) continue;
        if (b.max_ratio > 0 && p.measured_ratio > b.max_ratio) continue;
        feasible.push_back(i);
    }
    auto faster = [&](int x, int y) {  // x better than y for a loss budget
        const ParetoPlan &p = plans[size_t(x)], &q = plans[size_t(y)];
        if (p.measured_ms != q.measured_ms) return p.measured_ms < q.measured_ms;
        if (p.top1 != q.top1) return p.top1 > q.top1;
        return x < y;
    };
    auto more_accurate = [&](int x, int y) {
        const ParetoPlan &p = plans[size_t(x)], &q = plans[size_t(y)];
        if (p.top1 != q.top1) return p.top1 > q.top1;
        if (p.measured_ms != q.measured_ms) return p.measured_ms < q.measured_ms;
        return x < y;
    };
    auto utility = [&](int x) {
        const ParetoPlan& p = plans[size_t(x)];
        return alpha * (1 - p.measured_ms / l_max) + (1 - alpha) * p.top1 / a_max;
    };
    if (feasible.empty()) {
        if (b.max_loss >= 0) *why = "no measured plan loses at most " + fmt(b.max_loss) + " points";
        else if (b.max_ms > 0) *why = "no measured plan runs within " + fmt(b.max_ms) + " ms";
        else if (b.max_ratio > 0) *why = "no measured plan runs within " + fmt(b.max_ratio) + " of the unpruned latency";
        else *why = "no plan was measured";
        double fastest = 0, lowest_ratio = 0;
        for (const ParetoPlan& p : plans)
            if (p.measured && (fastest == 0 || p.measured_ms < fastest)) fastest = p.measured_ms, lowest_ratio = p.measured_ratio;
        if (fastest > 0 && b.max_loss < 0) *why += " (the fastest: " + fmt(fastest) + " ms, ratio " + fmt(lowest_ratio) + ")";
        return -1;
    }
    const bool by_utility = kinds == 0 || b.alpha >= 0;
    auto better = [&](int x, int y) {
        if (b.max_loss >= 0) return faster(x, y);
        if (!by_utility) return more_accurate(x, y);
        const double ux = utility(x), uy = utility(y);
        return ux != uy ? ux > uy : faster(x, y);
    };
    int best = feasible[0];
    for (int c : feasible)
        if (better(c, best)) best = c;
    const ParetoPlan& p = plans[size_t(best)];
    const std::string est = estimate_text(p);
    if (b.max_loss >= 0)
        *why = "the fastest measured plan whose " + std::string(by_bound ? "loss interval's upper end" : "estimated loss") +
               " is within " + fmt(b.max_loss) + " points: " + est;
    else if (b.max_ms > 0)
        *why = "the most accurate measured plan within " + fmt(b.max_ms) + " ms: " + est;
    else if (b.max_ratio > 0)
        *why = "the most accurate measured plan within " + fmt(b.max_ratio) + " of the unpruned latency: " + est;
    else
        *why = "the highest utility with alpha " + fmt(alpha) + " (measured latency, estimated top-1): U " + fmt(utility(best)) +
               ", " + est;
    return best;
}

}  // namespace pomt
