#include "profiler/measure.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>

#include "core/splitmix64.h"
#include "pomt/error.h"

namespace pomt {
namespace profiler {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

// The visiting order comes from core/splitmix64.h: std::shuffle and the std distributions are
// implementation-defined, and the order should be the same on every platform.
template <class T>
void shuffle(std::vector<T>& v, SplitMix64& rng) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[size_t(rng.below(i))]);
}

struct PointState {
    std::vector<double> samples;  // seconds, kept sorted
    double wall = 0;
    bool done = false, converged = false, first_discarded = false;
    double ci_rel = std::numeric_limits<double>::infinity();
    int remeasured = 0;
};

// One point's statistics (ms) from its sorted samples (seconds).
PointStats point_stats(int point, const std::vector<double>& sorted_seconds, const InterferenceRule& rule) {
    PointStats r;
    r.point = point;
    r.runs = int(sorted_seconds.size());
    r.median_ms = 1e3 * quantile_sorted(sorted_seconds, 0.5);
    r.p10_ms = 1e3 * quantile_sorted(sorted_seconds, 0.1);
    r.p90_ms = 1e3 * quantile_sorted(sorted_seconds, 0.9);
    r.slow_runs = count_slow_runs(sorted_seconds, rule.slow_excess);
    r.disturbed = median_is_slow(sorted_seconds, rule.slow_excess);
    return r;
}

std::string percent_text(double f) {
    char buf[32];
    std::snprintf(buf, sizeof buf, f < 0.1 ? "%.1f%%" : "%.0f%%", 100 * f);
    return buf;
}

std::string clock_text(double s) {
    if (!(s >= 0) || s > 99 * 3600) return "?";
    long t = long(s + 0.5);
    char buf[32];
    if (t >= 3600)
        std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else
        std::snprintf(buf, sizeof buf, "%ld:%02ld", t / 60, t % 60);
    return buf;
}

}  // namespace

MeasureOptions MeasureOptions::fast() {
    MeasureOptions o;
    o.target_rel_halfwidth = 0.03;
    o.confidence = 0.90;
    o.min_runs = 5;
    o.max_seconds_per_point = 0.05;
    o.warmup_seconds = 0.1;
    return o;
}

RunOnce timed(std::function<void(int)> workload) {
    return [workload](int point) {
        auto t0 = Clock::now();
        workload(point);
        return seconds_since(t0);
    };
}

double quantile_sorted(const std::vector<double>& v, double q) {
    if (v.empty()) return 0;
    double pos = std::min(1.0, std::max(0.0, q)) * double(v.size() - 1);
    size_t i = size_t(pos);
    if (i + 1 >= v.size()) return v.back();
    return v[i] + (pos - double(i)) * (v[i + 1] - v[i]);
}

int count_slow_runs(const std::vector<double>& v, double slow_excess) {
    if (v.empty()) return 0;
    const double limit = (1 + slow_excess) * quantile_sorted(v, 0.1);
    return int(v.end() - std::upper_bound(v.begin(), v.end(), limit));
}

bool median_is_slow(const std::vector<double>& v, double slow_excess) {
    return !v.empty() && quantile_sorted(v, 0.5) > (1 + slow_excess) * quantile_sorted(v, 0.1);
}

bool median_ci(const std::vector<double>& v, double confidence, double* lo, double* hi) {
    const size_t n = v.size();
    if (n == 0) return false;
    // Coverage of [x(l), x(n+1−l)] is 1 − 2·P(Bin(n, ½) ≤ l−1); find the largest l that keeps it
    // ≥ confidence. Binomial terms in log space: 0.5^n underflows beyond n ≈ 1074.
    const double tail = (1 - confidence) / 2;
    double cdf = 0;
    size_t l = 0;
    for (size_t k = 0; k < n / 2; ++k) {
        double logp = std::lgamma(double(n) + 1) - std::lgamma(double(k) + 1) - std::lgamma(double(n - k) + 1) -
                      double(n) * std::log(2.0);
        cdf += std::exp(logp);
        if (cdf > tail) break;
        l = k + 1;  // P(Bin ≤ k) ≤ tail, so x(k+1) is a valid lower bound
    }
    if (l == 0) return false;
    *lo = v[l - 1];
    *hi = v[n - l];
    return true;
}

std::vector<PointStats> measure_points(const std::vector<int>& points, const RunOnce& run,
                                       const MeasureOptions& o, const ProgressFn& progress) {
    if (points.empty()) fail("nothing to measure: the list of points is empty");
    if (std::set<int>(points.begin(), points.end()).size() != points.size())
        fail("the list of points to measure holds a point twice");
    if (!run) fail("measure_points: no workload");
    const int min_runs = std::max(1, o.min_runs);
    const int max_runs = std::max(min_runs, o.max_runs);
    // Under the time cap a point still gets a few runs: one run says nothing about spread.
    const int min_runs_capped = std::min(min_runs, 3);
    const InterferenceRule& rule = o.interference;

    const auto t_start = Clock::now();
    SplitMix64 rng{o.seed};

    // Warm-up on the largest point: the heaviest workload touches every page any point will.
    {
        int largest = *std::max_element(points.begin(), points.end());
        auto t0 = Clock::now();
        do run(largest);
        while (seconds_since(t0) < o.warmup_seconds);
    }

    std::vector<PointState> st(points.size());
    std::vector<size_t> order(points.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    int done = 0, total = int(points.size()), sweep = 0;

    auto estimate_remaining = [&]() {
        double sum_t = 0;
        long n_t = 0;
        for (const PointState& s : st)
            if (!s.samples.empty()) {
                sum_t += s.wall;
                n_t += long(s.samples.size()) + 1;  // + the discarded first run
            }
        double mean_run = n_t ? sum_t / double(n_t) : 0;
        double rem = 0;
        for (const PointState& s : st) {
            if (s.done) continue;
            double n = double(s.samples.size());
            double per_run = n > 0 ? s.wall / (n + 1) : mean_run;
            // The CI narrows as 1/√n: runs needed ≈ n·(ci/target)².
            double need = double(min_runs);
            if (std::isfinite(s.ci_rel) && n > 0)
                need = std::max(need, n * (s.ci_rel / o.target_rel_halfwidth) * (s.ci_rel / o.target_rel_halfwidth));
            need = std::min(need, double(max_runs));
            double t = std::max(0.0, need - n) * per_run;
            if (o.max_seconds_per_point > 0) t = std::min(t, std::max(0.0, o.max_seconds_per_point - s.wall));
            rem += t;
        }
        if (o.budget_seconds > 0) rem = std::min(rem, std::max(0.0, o.budget_seconds - seconds_since(t_start)));
        return rem;
    };

    bool out_of_budget = false;
    for (;;) {
        while (done < total && !out_of_budget) {
            ++sweep;
            shuffle(order, rng);
            for (size_t idx : order) {
                PointState& s = st[idx];
                if (s.done) continue;
                if (!s.first_discarded) {
                    // A point's first run pays for first-touch effects at its size; it is not a sample.
                    auto t0 = Clock::now();
                    run(points[idx]);
                    s.wall += seconds_since(t0);
                    s.first_discarded = true;
                }
                auto t0 = Clock::now();
                double secs = run(points[idx]);
                s.wall += seconds_since(t0);
                if (!(secs >= 0) || !std::isfinite(secs)) fail("the workload reported an invalid time");
                s.samples.insert(std::upper_bound(s.samples.begin(), s.samples.end(), secs), secs);

                const int n = int(s.samples.size());
                double lo, hi;
                double med = quantile_sorted(s.samples, 0.5);
                if (median_ci(s.samples, o.confidence, &lo, &hi))
                    s.ci_rel = med > 0 ? std::max(med - lo, hi - med) / med : 0;  // all zero: nothing to learn
                if (n >= min_runs && s.ci_rel <= o.target_rel_halfwidth) {
                    s.done = s.converged = true;
                } else if (n >= max_runs ||
                           (o.max_seconds_per_point > 0 && s.wall >= o.max_seconds_per_point && n >= min_runs_capped)) {
                    s.done = true;
                }
                if (s.done) ++done;
                if (progress) {
                    Progress p;
                    p.points_done = done;
                    p.points_total = total;
                    p.sweep = sweep;
                    p.elapsed_seconds = seconds_since(t_start);
                    p.remaining_seconds = estimate_remaining();
                    progress(p);
                }
            }
            // The budget is checked between sweeps so every point has the same number of sweeps.
            if (o.budget_seconds > 0 && seconds_since(t_start) >= o.budget_seconds) out_of_budget = true;
        }
        if (out_of_budget) break;
        // A point whose median is itself slow had most of its runs slowed down by something else
        // (typically: it was among the last few points, measured back to back during a burst of
        // load). Its runs describe the load, not the workload: they are thrown away and the point is
        // measured again, after every other point is done, so the second try falls at another time.
        int again = 0;
        for (PointState& s : st)
            if (s.remeasured < rule.remeasures && median_is_slow(s.samples, rule.slow_excess)) {
                const int tries = s.remeasured + 1;
                s = PointState();
                s.remeasured = tries;
                ++again;
            }
        if (!again) break;
        total += again;  // progress counts the re-measured points again
    }

    std::vector<PointStats> out(points.size());
    for (size_t i = 0; i < points.size(); ++i) {
        const PointState& s = st[i];
        PointStats& r = out[i];
        r = point_stats(points[i], s.samples, rule);
        r.ci_rel = s.ci_rel;
        r.converged = s.converged;
        r.wall_seconds = s.wall;
        r.remeasured = s.remeasured;
    }
    return out;
}

namespace {

// Median and CI of the paired differences, and each side's statistics.
void summarize_pairs(PairedResult& r, double confidence, const InterferenceRule& rule) {
    std::vector<double> a, b, d;
    for (size_t i = 0; i < r.a_ms.size(); ++i) {
        a.push_back(r.a_ms[i] / 1e3);
        b.push_back(r.b_ms[i] / 1e3);
        d.push_back(r.b_ms[i] - r.a_ms[i]);
    }
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    std::sort(d.begin(), d.end());
    r.a_stats = point_stats(r.a, a, rule);
    r.b_stats = point_stats(r.b, b, rule);
    r.diff_median_ms = quantile_sorted(d, 0.5);
    if (!median_ci(d, confidence, &r.diff_lo_ms, &r.diff_hi_ms)) {
        r.diff_lo_ms = -std::numeric_limits<double>::infinity();
        r.diff_hi_ms = std::numeric_limits<double>::infinity();
    }
}

}  // namespace

PairedResult measure_paired(int a, int b, const RunOnce& run, const PairedOptions& o,
                            const std::function<bool(const PairedResult&)>& decided, const InterferenceRule& rule) {
    if (!run) fail("measure_paired: no workload");
    if (a == b) fail("measure_paired: the two points are the same (" + std::to_string(a) + ")");
    const int min_pairs = std::max(1, o.min_pairs);
    const int max_pairs = std::max(min_pairs, o.max_pairs);
    auto timed_run = [&](int point) {
        double secs = run(point);
        if (!(secs >= 0) || !std::isfinite(secs)) fail("the workload reported an invalid time");
        return 1e3 * secs;
    };
    // Each side's first run pays for first-touch effects at its size (as in measure_points).
    run(a);
    run(b);
    PairedResult r;
    r.a = a;
    r.b = b;
    const auto t0 = Clock::now();
    int next_check = min_pairs;
    for (int n = 1; n <= max_pairs; ++n) {
        double ta, tb;
        if (n % 2) {
            ta = timed_run(a);
            tb = timed_run(b);
        } else {
            tb = timed_run(b);
            ta = timed_run(a);
        }
        r.a_ms.push_back(ta);
        r.b_ms.push_back(tb);
        const bool last = n == max_pairs || (n >= min_pairs && o.max_seconds > 0 && seconds_since(t0) >= o.max_seconds);
        if (n == next_check || last) {
            summarize_pairs(r, o.confidence, rule);
            if (last || (decided && decided(r))) break;
            next_check *= 2;  // few looks: each one is a chance to stop on noise
        }
    }
    return r;
}

void Disturbance::add(int n_runs, int n_slow, bool median_slow, bool was_remeasured) {
    runs += n_runs;
    slow_runs += n_slow;
    ++points;
    remeasured += was_remeasured ? 1 : 0;
    disturbed_points += median_slow ? 1 : 0;
}

void Disturbance::add(const PointStats& p) { add(p.runs, p.slow_runs, p.disturbed, p.remeasured > 0); }

Disturbance disturbance_of(const std::vector<PointStats>& stats, const InterferenceRule& rule) {
    Disturbance d;
    d.rule = rule;
    for (const PointStats& p : stats) d.add(p);
    return d;
}

void Disturbance::merge(const Disturbance& d) {
    runs += d.runs;
    slow_runs += d.slow_runs;
    points += d.points;
    remeasured += d.remeasured;
    disturbed_points += d.disturbed_points;
    candidate_steps += d.candidate_steps;
    unconfirmed_steps += d.unconfirmed_steps;
    if (d.load.known && (!load.known || d.load.seconds > load.seconds)) load = d.load;
}

bool Disturbance::timing_disturbed() const {
    return (slow_runs >= rule.busy_min_slow_runs && slow_share() > rule.busy_slow_share) || disturbed_points > 0 ||
           unconfirmed_steps > 0;
}

bool Disturbance::disturbed() const { return timing_disturbed() || load.busy(); }

std::string Disturbance::describe(const std::string& point_word) const {
    std::vector<std::string> parts;
    char buf[256];
    if (slow_runs > 0) {
        std::snprintf(buf, sizeof buf, "%s of %d timed runs took over %.2f× their %s's fast runs (p10)",
                      percent_text(slow_share()).c_str(), runs, 1 + rule.slow_excess, point_word.c_str());
        parts.push_back(buf);
    } else if (runs > 0 && load.busy()) {
        // A steady load slows every run alike: nothing stands out, the times are all inflated.
        std::snprintf(buf, sizeof buf, "none of %d timed runs stood out from the others, so all may be slowed alike",
                      runs);
        parts.push_back(buf);
    }
    if (remeasured > 0) {
        std::snprintf(buf, sizeof buf, "%d %s%s re-measured for a slow median, %d still slow", remeasured,
                      point_word.c_str(), remeasured == 1 ? "" : "s", disturbed_points);
        parts.push_back(buf);
    } else if (disturbed_points > 0) {
        std::snprintf(buf, sizeof buf, "%d %s%s with a slow median", disturbed_points, point_word.c_str(),
                      disturbed_points == 1 ? "" : "s");
        parts.push_back(buf);
    }
    if (unconfirmed_steps > 0) {
        std::snprintf(buf, sizeof buf, "%d of %d candidate steps did not reproduce side by side", unconfirmed_steps,
                      candidate_steps);
        parts.push_back(buf);
    }
    if (load.known && (load.busy() || disturbed())) {
        std::snprintf(buf, sizeof buf, "other processes kept %.1f CPUs busy", load.other_cpus);
        std::string l = buf;
        if (load.steal_cpus >= 0.05) {
            std::snprintf(buf, sizeof buf, " and the hypervisor stole %.1f", load.steal_cpus);
            l += buf;
        }
        parts.push_back(l);
    }
    std::string out;
    for (const std::string& p : parts) out += (out.empty() ? "" : "; ") + p;
    return out;
}

std::string Disturbance::warning(const std::string& what, const std::string& point_word) const {
    if (!disturbed()) return "";
    return "warning: " + what + " looks disturbed by other load: " + describe(point_word) +
           "; rerun on a quiet machine";
}

namespace {

// Total busy and steal ticks of all CPUs (/proc/stat) and this process's own (/proc/self/stat).
bool read_ticks(long long* busy, long long* steal, long long* self) {
    FILE* f = std::fopen("/proc/stat", "r");
    if (!f) return false;
    char tag[16] = {0};
    long long v[8] = {0};  // user nice system idle iowait irq softirq steal
    int n = std::fscanf(f, "%15s %lld %lld %lld %lld %lld %lld %lld %lld", tag, &v[0], &v[1], &v[2], &v[3], &v[4],
                        &v[5], &v[6], &v[7]);
    std::fclose(f);
    if (n < 9 || std::strcmp(tag, "cpu") != 0) return false;
    *busy = v[0] + v[1] + v[2] + v[5] + v[6];
    *steal = v[7];
    f = std::fopen("/proc/self/stat", "r");
    if (!f) return false;
    char line[1024];
    size_t got = std::fread(line, 1, sizeof line - 1, f);
    std::fclose(f);
    line[got] = 0;
    // The command name may hold spaces and parentheses: fields restart after the last ')'.
    const char* p = std::strrchr(line, ')');
    if (!p) return false;
    long long utime = 0, stime = 0;
    // After ')': state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime
    if (std::sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld", &utime, &stime) != 2) return false;
    *self = utime + stime;
    return true;
}

}  // namespace

HostLoadMeter::HostLoadMeter() {
    ok_ = read_ticks(&busy0_, &steal0_, &self0_);
    t0_ = std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

HostLoad HostLoadMeter::read() const {
    HostLoad l;
    long long busy, steal, self;
    if (!ok_ || !read_ticks(&busy, &steal, &self)) return l;
    const double hz = double(sysconf(_SC_CLK_TCK));
    l.seconds = std::chrono::duration<double>(Clock::now().time_since_epoch()).count() - t0_;
    // Below half a second the 10 ms ticks say too little.
    if (!(hz > 0) || l.seconds < 0.5) return l;
    l.known = true;
    l.other_cpus = std::max(0.0, double((busy - busy0_) - (self - self0_)) / hz / l.seconds);
    l.steal_cpus = std::max(0.0, double(steal - steal0_) / hz / l.seconds);
    return l;
}

std::string progress_line(const Progress& p, int width) {
    width = std::max(1, width);
    double frac = p.points_total > 0 ? double(p.points_done) / p.points_total : 0;
    // Time is the better measure of progress than points (big counts are slower), when known.
    double total = p.elapsed_seconds + p.remaining_seconds;
    if (total > 0) frac = std::max(frac, p.elapsed_seconds / total);
    frac = std::min(1.0, frac);
    int filled = int(frac * width + 0.5);
    std::string s = "[" + std::string(size_t(filled), '#') + std::string(size_t(width - filled), '-') + "] ";
    char buf[128];
    std::snprintf(buf, sizeof buf, "%d/%d points, sweep %d, %s elapsed, ~%s left", p.points_done, p.points_total,
                  p.sweep, clock_text(p.elapsed_seconds).c_str(), clock_text(p.remaining_seconds).c_str());
    return s + buf;
}

bool stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

std::vector<int> parse_cpu_list(const std::string& text) {
    std::vector<int> cpus;
    auto bad = [&]() { fail("invalid CPU list '" + text + "': expected e.g. 3, 0,2 or 4-7"); };
    auto number = [&](const std::string& s) {
        if (s.empty() || s.size() > 6 || s.find_first_not_of("0123456789") != std::string::npos) bad();
        return std::stoi(s);
    };
    if (text.empty()) bad();
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t comma = text.find(',', pos);
        std::string part = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        size_t dash = part.find('-');
        if (dash == std::string::npos) {
            cpus.push_back(number(part));
        } else {
            int a = number(part.substr(0, dash)), b = number(part.substr(dash + 1));
            if (b < a) bad();
            for (int c = a; c <= b; ++c) cpus.push_back(c);
        }
        if (comma == std::string::npos) break;
        pos = comma + 1;
    }
    std::sort(cpus.begin(), cpus.end());
    cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
    return cpus;
}

void pin_to_cpus(const std::vector<int>& cpus) {
    if (cpus.empty()) fail("no CPU to pin to");
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c : cpus) {
        if (c < 0 || c >= CPU_SETSIZE) fail("cannot pin to CPU " + std::to_string(c) + ": no such CPU");
        CPU_SET(c, &set);
    }
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
        std::string list;
        for (int c : cpus) list += (list.empty() ? "" : ",") + std::to_string(c);
        fail("cannot pin to CPU " + list + ": " + std::strerror(errno) + " (not online or not allowed)");
    }
}

}  // namespace profiler
}  // namespace pomt
