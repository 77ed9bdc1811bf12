// The measurement engine behind `pomt profile`: times a workload at a list of points (token
// counts) until each point's median is known to ±1%, visiting the points in a fresh shuffled order
// on every sweep so slow drift (clock ramps, thermal throttling, other processes) lands on all
// points alike instead of tilting the curve. Model-independent: the caller supplies the workload.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace pomt {
namespace profiler {

struct MeasureOptions {
    double target_rel_halfwidth = 0.01;  // stop when the median's CI is within ±1% of it
    double confidence = 0.95;            // of that order-statistic CI
    int min_runs = 7;                    // timed runs per point before the CI is consulted (= sweeps)
    int max_runs = 2000;
    double max_seconds_per_point = 0.5;  // wall time per point (all its runs) before giving up on ±1%
    double budget_seconds = 0;           // whole measurement; 0 = no limit (ends after a full sweep)
    double warmup_seconds = 0.3;         // spin on the largest point first: clocks, caches, page faults
    uint64_t seed = 0x706f6d74;          // the shuffles; same seed, same visiting order
    // The coarse rule for `--fast`: ±3% at 90% confidence, 5 runs, a tenth of the time per point.
    static MeasureOptions fast();
};

struct PointStats {
    int point = 0;
    double median_ms = 0, p10_ms = 0, p90_ms = 0;
    int runs = 0;                   // timed runs (warm-up and each point's first run excluded)
    double ci_rel = 0;              // half-width of the median's CI over the median (inf if unknown)
    bool converged = false;         // true when the ±target rule ended it, false for a cap
    double wall_seconds = 0;        // time spent in run() at this point, discarded runs included
};

struct Progress {
    int points_done = 0, points_total = 0;
    int sweep = 0;                  // 1-based
    double elapsed_seconds = 0, remaining_seconds = 0;  // remaining: an estimate
};

// Runs the workload once at `point` and returns the seconds to record. The callback measures its
// own time so it can leave setup (buffer allocation, input preparation) out of the timed region
// and so tests can feed synthetic latencies; use timed() when the whole call is the workload.
// The engine separately clocks each call for the per-point and total time caps.
using RunOnce = std::function<double(int point)>;
using ProgressFn = std::function<void(const Progress&)>;

// Wraps a workload so the whole call is timed with steady_clock.
RunOnce timed(std::function<void(int point)> workload);

// Measures every point (duplicates rejected); results in the order of `points`. Exceptions from
// `run` propagate. `progress` (optional) is called after every run.
std::vector<PointStats> measure_points(const std::vector<int>& points, const RunOnce& run,
                                       const MeasureOptions& options = MeasureOptions(),
                                       const ProgressFn& progress = nullptr);

// Distribution-free CI of the median of `sorted` (ascending) from order statistics: the widest
// [x(l), x(n+1−l)] whose binomial coverage is at least `confidence`. Returns false when n is too
// small to reach that confidence at all (n < 6 for 95%).
bool median_ci(const std::vector<double>& sorted, double confidence, double* lo, double* hi);

// Linear-interpolated quantile (q in [0,1]) of an ascending sample.
double quantile_sorted(const std::vector<double>& sorted, double q);

// "[##########----------]  98/196 points  0:41 elapsed, ~0:39 left": one line, no newline, for
// the CLI to print after '\r' on stderr when stderr_is_terminal().
std::string progress_line(const Progress& p, int bar_width = 30);
bool stderr_is_terminal();

// "3", "0,2", "4-7" → CPU numbers; throws pomt::Error on anything else.
std::vector<int> parse_cpu_list(const std::string& text);
// Pins the calling thread — and every thread it creates afterwards, so call it before the thread
// pool exists — to `cpus` (sched_setaffinity). Throws pomt::Error when a CPU is not available.
void pin_to_cpus(const std::vector<int>& cpus);

}  // namespace profiler
}  // namespace pomt
