#include "profiler/steps.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "pomt/error.h"

namespace pomt {
namespace profiler {

namespace {

double median_of(std::vector<double> v) {
    if (v.empty()) return 0;
    size_t h = v.size() / 2;
    std::nth_element(v.begin(), v.begin() + h, v.end());
    double hi = v[h];
    if (v.size() % 2) return hi;
    double lo = *std::max_element(v.begin(), v.begin() + h);
    return 0.5 * (lo + hi);
}

// Robust standard deviation: 1.4826 × MAD is σ for Gaussian data and ignores a minority of outliers
// (here: residuals touched by other steps or by the curve's bends).
double robust_sd(const std::vector<double>& v) {
    double m = median_of(v);
    std::vector<double> dev;
    dev.reserve(v.size());
    for (double x : v) dev.push_back(std::fabs(x - m));
    return 1.4826 * median_of(dev);
}

// Standard error of one point's median from its own run distribution. The scale comes from the
// narrower side of the p10–p90 range: interference only ever adds time, so a long upper tail says
// little about the density at the median, which is what the median's error depends on.
// p10 and p90 of a Gaussian lie 1.2816 σ from the centre; the median of n runs has SE 1.2533 σ/√n.
double median_se(const CurvePoint& p, int runs_if_unknown) {
    double half = std::min(p.median_ms - p.p10_ms, p.p90_ms - p.median_ms);
    if (!(half > 0)) half = 0;
    int runs = p.runs > 0 ? p.runs : std::max(1, runs_if_unknown);
    return 1.2533 * (half / 1.2816) / std::sqrt(double(runs));
}

// The stretches between steps: from the count above one step to the count below the next.
std::vector<Segment> segments_between(const std::vector<CurvePoint>& c, const std::vector<Step>& steps) {
    std::vector<Segment> out;
    if (c.empty()) return out;
    size_t start = 0;
    for (size_t i = 0; i < c.size(); ++i) {
        const bool boundary = i + 1 == c.size() || std::any_of(steps.begin(), steps.end(), [&](const Step& s) {
                                  return s.to_tokens == c[i].tokens;
                              });
        if (!boundary) continue;
        out.push_back({c[start].tokens, c[i].tokens, robust_slope(c, start, i)});
        start = i + 1;
    }
    return out;
}

}  // namespace

double robust_slope(const std::vector<CurvePoint>& c, size_t first, size_t last) {
    std::vector<double> s;
    for (size_t a = first; a <= last && a < c.size(); ++a)
        for (size_t b = a + 1; b <= last && b < c.size(); ++b)
            s.push_back((c[b].median_ms - c[a].median_ms) / double(c[b].tokens - c[a].tokens));
    return median_of(s);
}

StepAnalysis detect_steps(const std::vector<CurvePoint>& c, const StepOptions& o) {
    for (size_t i = 1; i < c.size(); ++i)
        if (c[i].tokens <= c[i - 1].tokens) fail("latency curve must be ascending in tokens with distinct counts");
    StepAnalysis out;
    const int n = int(c.size());
    if (n < 2) return out;
    const int W = std::max(2, o.window);
    const int WN = std::max(2, o.noise_window);

    std::vector<double> inc(n - 1);  // ms per token between neighbours
    for (int j = 0; j + 1 < n; ++j)
        inc[j] = (c[j + 1].median_ms - c[j].median_ms) / double(c[j + 1].tokens - c[j].tokens);
    // Residual of each inner point from the straight line through its two neighbours, scaled so
    // white noise of σ per point gives residuals of σ (the 3-point fit adds (1−t)²+t² of variance).
    std::vector<double> resid(n, std::numeric_limits<double>::quiet_NaN());
    for (int j = 1; j + 1 < n; ++j) {
        double t = double(c[j].tokens - c[j - 1].tokens) / double(c[j + 1].tokens - c[j - 1].tokens);
        double line = (1 - t) * c[j - 1].median_ms + t * c[j + 1].median_ms;
        resid[j] = (c[j].median_ms - line) / std::sqrt(1 + (1 - t) * (1 - t) + t * t);
    }

    // Steps found in one pass make their two residuals large; a second (and third) pass leaves
    // those out of the noise, which matters when steps are dense in measured points (coarse
    // grids, short periods) and would otherwise make up half the residuals.
    std::vector<char> touched(n, 0), accepted, periodic;
    for (int pass = 0; pass < o.passes; ++pass) {
        out.candidates.clear();
        out.periods.clear();
        for (int i = 0; i + 1 < n; ++i) {
            StepCandidate k;
            k.to_tokens = c[i].tokens;
            k.from_tokens = c[i + 1].tokens;
            k.drop_ms = c[i + 1].median_ms - c[i].median_ms;
            const double gap = double(c[i + 1].tokens - c[i].tokens);

            // Local slope: median increment around the candidate, the candidate itself excluded so a
            // step cannot raise its own baseline. Negative medians (inside a sawtooth's falling edge)
            // are clamped to 0: more tokens never cost less on average, and a negative baseline would
            // inflate every drop measured against it.
            std::vector<double> g;
            for (int j = std::max(0, i - W); j <= std::min(n - 2, i + W); ++j)
                if (j != i) g.push_back(inc[j]);
            // Point-to-point noise from the local-fit residuals, again without the two points the
            // candidate touches (a step makes exactly those two residuals large).
            std::vector<double> r;
            for (int j = std::max(1, i - WN); j <= std::min(n - 2, i + 1 + WN); ++j)
                if (j != i && j != i + 1 && !touched[j]) r.push_back(resid[j]);
            if (g.size() < 4 || r.size() < 4 || i + 2 >= n) {
                out.candidates.push_back(k);  // an end of the curve: the upper level cannot be confirmed
                continue;
            }
            k.testable = true;
            k.slope_ms_per_token = std::max(0.0, median_of(g));
            // The upper level must persist: the lower of the two points above the boundary (the second
            // brought back by the slope). A single high point — a burst of interference — then does not
            // count, while a single low point does: noise cannot make a median fast, only slow.
            double upper = std::min(c[i + 1].median_ms,
                                    c[i + 2].median_ms - k.slope_ms_per_token * double(c[i + 2].tokens - c[i + 1].tokens));
            k.level_drop_ms = upper - c[i].median_ms;
            double meas = std::hypot(median_se(c[i], o.runs_if_unknown), median_se(c[i + 1], o.runs_if_unknown));
            double fit = std::sqrt(2.0) * robust_sd(r);
            // Floor: 0.01% of the latency, so exact synthetic curves do not divide by zero.
            k.noise_ms = std::max({meas, fit, 1e-4 * c[i + 1].median_ms, 1e-12});
            k.z = (k.level_drop_ms - k.slope_ms_per_token * gap) / k.noise_ms;
            out.candidates.push_back(k);
        }

        auto big_enough = [&](size_t i) {
            const StepCandidate& k = out.candidates[i];
            return k.level_drop_ms > 0 && k.level_drop_ms >= o.min_drop_fraction * c[i + 1].median_ms;
        };
        accepted.assign(out.candidates.size(), 0);
        periodic.assign(out.candidates.size(), 0);
        for (size_t i = 0; i < out.candidates.size(); ++i) {
            const StepCandidate& k = out.candidates[i];
            if (k.testable && k.z >= o.step_z && big_enough(i)) accepted[i] = 1;
        }

        // Periodic structure: a period P with phase r pools the z of every unit-gap candidate whose
        // lower count ≡ r (mod P). z is clipped to ±3 so one big step cannot carry a whole lattice, and
        // the median z must reach 1 so the drops recur at most of its points. Greedy: the strongest
        // lattice is taken, its points removed, and the rest scored again — so a period of 8 that only
        // scores through its multiples of 16 is not accepted after the period of 16 is.
        std::vector<char> used(out.candidates.size(), 0);
        for (int round = 0; round < o.max_lattices; ++round) {
            Period best;
            std::vector<size_t> best_members;
            for (int P = std::max(2, o.min_period); P <= o.max_period; ++P) {
                for (int r = 0; r < P; ++r) {
                    std::vector<size_t> members;
                    std::vector<double> zs;
                    double sum = 0;
                    for (size_t i = 0; i < out.candidates.size(); ++i) {
                        const StepCandidate& k = out.candidates[i];
                        if (!k.testable || used[i] || k.from_tokens != k.to_tokens + 1) continue;
                        if (((k.to_tokens % P) + P) % P != r) continue;
                        members.push_back(i);
                        zs.push_back(k.z);
                        sum += std::max(-3.0, std::min(3.0, k.z));
                    }
                    if (int(members.size()) < o.min_lattice_points || median_of(zs) < 1.0) continue;
                    double score = sum / std::sqrt(double(members.size()));
                    if (score > best.score) {
                        best = {P, r, score, int(members.size())};
                        best_members = members;
                    }
                }
            }
            if (best.score < o.lattice_z) break;
            out.periods.push_back(best);
            for (size_t i : best_members) {
                used[i] = 1;
                const StepCandidate& k = out.candidates[i];
                if (k.z >= o.lattice_step_z && big_enough(i) && !accepted[i]) accepted[i] = periodic[i] = 1;
            }
        }

        std::vector<char> now(n, 0);
        for (size_t i = 0; i < accepted.size(); ++i)
            if (accepted[i]) now[i] = now[i + 1] = 1;
        if (now == touched) break;
        touched = now;
    }

    for (size_t i = 0; i < out.candidates.size(); ++i) {
        if (!accepted[i]) continue;
        const StepCandidate& k = out.candidates[i];
        Step s;
        s.from_tokens = k.from_tokens;
        s.to_tokens = k.to_tokens;
        s.from_ms = c[i + 1].median_ms;
        s.to_ms = c[i].median_ms;
        s.drop_ms = s.from_ms - s.to_ms;
        s.drop_fraction = s.from_ms > 0 ? s.drop_ms / s.from_ms : 0;
        s.z = k.z;
        s.periodic = periodic[i];
        s.slope_ms_per_token = k.slope_ms_per_token;
        out.steps.push_back(s);
    }

    out.segments = segments_between(c, out.steps);
    return out;
}

ConfirmOptions ConfirmOptions::fast() {
    ConfirmOptions o;
    o.paired.max_seconds = 0.5;
    return o;
}

void confirm_steps(const std::vector<CurvePoint>& curve, StepAnalysis& a, const RunOnce& run, const ConfirmOptions& o,
                   Disturbance* disturbance) {
    if (!run) fail("confirm_steps: no workload");
    std::vector<Step> kept;
    for (Step st : a.steps) {
        // What the tokens between the two sides cost at the local slope: not part of a step.
        const double token_cost = st.slope_ms_per_token * double(st.from_tokens - st.to_tokens);
        auto confirmed = [&](const PairedResult& r) {
            return r.diff_lo_ms > token_cost && r.diff_median_ms >= o.min_drop_fraction * r.b_stats.median_ms;
        };
        auto ruled_out = [&](const PairedResult& r) {
            return r.diff_hi_ms < std::max(token_cost, o.min_drop_fraction * r.b_stats.median_ms);
        };
        PairedResult r = measure_paired(
            st.to_tokens, st.from_tokens, run, o.paired,
            [&](const PairedResult& p) { return confirmed(p) || ruled_out(p); }, o.interference);
        st.pairs = r.pairs();
        st.confirmed = confirmed(r);
        st.paired_drop_ms = r.diff_median_ms;
        st.paired_drop_fraction = r.b_stats.median_ms > 0 ? r.diff_median_ms / r.b_stats.median_ms : 0;
        if (disturbance) {
            disturbance->runs += r.a_stats.runs + r.b_stats.runs;
            disturbance->slow_runs += r.a_stats.slow_runs + r.b_stats.slow_runs;
        }
        (st.confirmed ? kept : a.unconfirmed).push_back(st);
    }
    if (disturbance) {
        disturbance->candidate_steps += int(a.steps.size());
        disturbance->unconfirmed_steps += int(a.unconfirmed.size());
    }
    a.confirmation_run = true;
    a.steps = kept;
    if (a.unconfirmed.empty()) return;
    a.segments = segments_between(curve, a.steps);
    // A period stands on its steps: it goes when most of them did not reproduce.
    std::vector<Period> periods;
    for (const Period& p : a.periods) {
        auto on = [&](const Step& st) {
            return st.from_tokens == st.to_tokens + 1 && ((st.to_tokens % p.period) + p.period) % p.period == p.phase;
        };
        const long good = std::count_if(a.steps.begin(), a.steps.end(), on);
        const long bad = std::count_if(a.unconfirmed.begin(), a.unconfirmed.end(), on);
        if (good >= 1 && good >= bad) periods.push_back(p);
    }
    a.periods = periods;
}

namespace {
std::string fmt(const char* f, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

// "2 candidate steps did not reproduce ... : 129 → 128 (−73.7% in the sweep, +0.4% side by side)".
std::string unconfirmed_text(const StepAnalysis& a) {
    if (a.unconfirmed.empty()) return "";
    const size_t n = a.unconfirmed.size();
    std::string s = std::to_string(n) + " candidate step" + (n == 1 ? " does" : "s do") +
                    " not reproduce when the two counts are re-measured side by side, so " +
                    (n == 1 ? "it is" : "they are") + " not reported:";
    for (auto it = a.unconfirmed.rbegin(); it != a.unconfirmed.rend(); ++it) {
        const double paired = -100 * it->paired_drop_fraction;
        s += std::string(it == a.unconfirmed.rbegin() ? " " : ", ") + std::to_string(it->from_tokens) + " → " +
             std::to_string(it->to_tokens) + " (−" + fmt("%.1f", 100 * it->drop_fraction) + "% in the sweep, " +
             (paired < 0 ? "−" : "+") + fmt("%.1f", std::fabs(paired)) + "% side by side)";
    }
    return s + "\n";
}
}  // namespace

std::string format_step_summary(const std::vector<CurvePoint>& curve, const StepAnalysis& a,
                                const std::string& title) {
    std::string s;
    if (!title.empty()) s += title + "\n";
    if (curve.empty()) return s + "No points measured.\n";
    if (a.steps.empty()) {
        s += "No steps: latency grows smoothly with the token count";
        if (curve.size() > 1)
            s += " (" + fmt("%.4f", robust_slope(curve, 0, curve.size() - 1)) + " ms per token, " +
                 std::to_string(curve.front().tokens) + "–" + std::to_string(curve.back().tokens) + " tokens)";
        return s + ".\nNo count is worth pruning to for latency alone; every token removed saves about the same.\n" +
               unconfirmed_text(a);
    }
    s += "Steps (removing one token drops latency well beyond the cost of a token):\n";
    for (auto it = a.steps.rbegin(); it != a.steps.rend(); ++it)
        s += "  " + std::to_string(it->from_tokens) + " → " + std::to_string(it->to_tokens) +
             " tokens: −" + fmt("%.1f", 100 * it->drop_fraction) + "% latency (" + fmt("%.2f", it->from_ms) +
             " → " + fmt("%.2f", it->to_ms) + " ms" +
             (it->pairs > 0 ? "; side by side −" + fmt("%.1f", 100 * it->paired_drop_fraction) + "%" : "") + ")" +
             (it->periodic ? "  [periodic]" : "") + "\n";
    for (const Period& p : a.periods) {
        s += "Drops recur every " + std::to_string(p.period) + " tokens (";
        s += p.phase == 0 ? "at multiples of " + std::to_string(p.period)
                          : "at counts ≡ " + std::to_string(p.phase) + " mod " + std::to_string(p.period);
        s += ", pooled score " + fmt("%.1f", p.score) + ").\n";
    }
    s += "Cost per token between steps:\n";
    for (const Segment& g : a.segments)
        s += "  " + std::to_string(g.first_tokens) + "–" + std::to_string(g.last_tokens) + " tokens: " +
             fmt("%.4f", g.ms_per_token) + " ms/token\n";
    s += "Token counts worth pruning to:";
    for (auto it = a.steps.rbegin(); it != a.steps.rend(); ++it)
        s += " " + std::to_string(it->prune_to()) + (it + 1 == a.steps.rend() ? "" : ",");
    return s + "\n" + unconfirmed_text(a);
}

}  // namespace profiler
}  // namespace pomt
