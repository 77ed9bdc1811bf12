// The measurement engine behind `pomt profile`: times a workload at a list of points (token
// counts) until each point's median is known to ±1%, visiting the points in a fresh shuffled order
// on every sweep so slow drift (clock ramps, thermal throttling, other processes) lands on all
// points alike instead of tilting the curve. Model-independent: the caller supplies the workload.
// Also here: what interference looks like in the runs (InterferenceRule, Disturbance, HostLoad) and
// the paired side-by-side measurement of two points that re-checks a result (measure_paired).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace pomt {
namespace profiler {

// Interference (another process, the hypervisor) can only add time to a run. A run is *slow* when
// it took more than (1 + slow_excess) × its point's p10, the point's fast runs. docs/PROFILING.md,
// "Interference", says how the constants were chosen.
struct InterferenceRule {
    double slow_excess = 0.5;       // over 1.5× the p10: a run that lost its core for a while
    double busy_slow_share = 0.10;  // more slow runs than this share of all runs: the machine was busy,
    int busy_min_slow_runs = 2;     // given at least this many (one in a short measurement says little)
    int remeasures = 1;             // a point whose median is itself slow is measured again this often
};

struct MeasureOptions {
    double target_rel_halfwidth = 0.01;  // stop when the median's CI is within ±1% of it
    double confidence = 0.95;            // of that order-statistic CI
    int min_runs = 7;                    // timed runs per point before the CI is consulted (= sweeps)
    int max_runs = 2000;
    double max_seconds_per_point = 0.5;  // wall time per point (all its runs) before giving up on ±1%
    double budget_seconds = 0;           // whole measurement; 0 = no limit (ends after a full sweep)
    double warmup_seconds = 0.3;         // spin on the largest point first: clocks, caches, page faults
    uint64_t seed = 0x706f6d74;          // the shuffles; same seed, same visiting order
    InterferenceRule interference;
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
    int slow_runs = 0;              // runs over (1 + slow_excess) × p10 (InterferenceRule)
    int remeasured = 0;             // times its runs were thrown away and measured again (median slow)
    bool disturbed = false;         // its median is slow even after the re-measurements
};

struct Progress {
    int points_done = 0, points_total = 0;
    int sweep = 0;                  // 1-based
    double elapsed_seconds = 0, remaining_seconds = 0;  // remaining: an estimate
};

// What else the machine ran meanwhile, from /proc/stat and /proc/self/stat (Linux; known = false
// elsewhere): the CPUs other processes kept busy and the CPU time the hypervisor stole, averaged
// over the interval. Clock-tick resolution (10 ms per CPU): meaningful over a second or more.
struct HostLoad {
    bool known = false;
    double seconds = 0;
    double other_cpus = 0;  // busy time of every other process over wall time
    double steal_cpus = 0;  // time the hypervisor ran something else on our vCPUs
    double busy_threshold = 0.5;
    bool busy() const { return known && other_cpus + steal_cpus >= busy_threshold; }
};

class HostLoadMeter {
public:
    HostLoadMeter();  // starts
    HostLoad read() const;  // since the start

private:
    bool ok_ = false;
    double t0_ = 0;
    long long busy0_ = 0, steal0_ = 0, self0_ = 0;
};

// Whether the runs of one measurement, or of several together, look disturbed: counts gathered
// with add(), the verdict by the InterferenceRule. describe() is one line for a warning.
struct Disturbance {
    InterferenceRule rule;
    int runs = 0, slow_runs = 0;       // timed runs, and those slow by the rule
    int points = 0, remeasured = 0;    // points (configurations), and those measured again
    int disturbed_points = 0;          // points whose median is slow even so
    int candidate_steps = 0, unconfirmed_steps = 0;  // step confirmation (profiler/steps.h)
    HostLoad load;                     // when measured

    void add(const PointStats& p);
    void add(int runs, int slow_runs, bool median_slow, bool remeasured = false);
    void merge(const Disturbance& other);
    double slow_share() const { return runs > 0 ? double(slow_runs) / runs : 0; }
    // Slow runs above busy_slow_share (and busy_min_slow_runs), a point slow even when re-measured,
    // steps that did not reproduce, or other processes busy (HostLoad::busy): the numbers may
    // describe the other load more than the workload.
    bool disturbed() const;
    bool timing_disturbed() const;  // the same from the timings alone (no HostLoad)
    // "12% of 1040 timed runs took over 1.50× their count's fast runs; 3 counts re-measured, 1 still
    // slow; 5 of 6 candidate steps did not reproduce" — only the parts that apply.
    std::string describe(const std::string& point_word = "count") const;
    // "warning: <what> looks disturbed by other load: <describe>; rerun on a quiet machine" when
    // disturbed(), else "". One line, no newline.
    std::string warning(const std::string& what, const std::string& point_word = "count") const;
};

// The counts of every point of one measurement, by `rule`.
Disturbance disturbance_of(const std::vector<PointStats>& stats, const InterferenceRule& rule);

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

// Runs of an ascending sample over (1 + slow_excess) × its p10, and whether its median is one.
int count_slow_runs(const std::vector<double>& sorted, double slow_excess);
bool median_is_slow(const std::vector<double>& sorted, double slow_excess);

// ---- Paired measurement: two points side by side --------------------------------------------

// Pairs alternate their order (a b, b a, a b, ...) so neither side always runs first; the first
// run of each side is discarded. Checked at min_pairs and at every doubling after it, up to
// max_pairs (or max_seconds, but never fewer than min_pairs).
struct PairedOptions {
    int min_pairs = 8, max_pairs = 32;
    double max_seconds = 2.0;
    double confidence = 0.95;  // of the median paired difference's CI (median_ci)
};

struct PairedResult {
    int a = 0, b = 0;
    std::vector<double> a_ms, b_ms;  // pair i: a_ms[i], b_ms[i], in run order
    PointStats a_stats, b_stats;     // each side's median, p10, p90, slow runs
    // b − a per pair: median and its CI (lo = hi = median when too few pairs for `confidence`).
    double diff_median_ms = 0, diff_lo_ms = 0, diff_hi_ms = 0;
    int pairs() const { return int(a_ms.size()); }
};

// Measures a and b in pairs until `decided` (asked at each check) returns true or the pairs run
// out. `decided` may be null: then every check up to max_pairs/max_seconds is made.
PairedResult measure_paired(int a, int b, const RunOnce& run, const PairedOptions& options = PairedOptions(),
                            const std::function<bool(const PairedResult&)>& decided = nullptr,
                            const InterferenceRule& rule = InterferenceRule());

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
