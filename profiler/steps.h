// Step detection on a latency-vs-tokens curve: the token counts where removing one more token buys
// a latency drop far larger than the curve's local cost per token, and their confirmation by a
// side-by-side re-measurement. The exact rules, their constants and why they are what they are:
// docs/PROFILING.md, "Step detection" and "Interference".
#pragma once
#include <string>
#include <vector>

#include "profiler/latency_curve.h"
#include "profiler/measure.h"

namespace pomt {
namespace profiler {

struct StepOptions {
    int window = 8;                  // neighbouring increments on each side for the local slope
    int noise_window = 16;           // neighbouring points on each side for the fit-residual noise
    double step_z = 4.5;             // excess drop, in noise units, for a step on its own
    double min_drop_fraction = 0.01; // and at least this fraction of the latency above the step
    // Periodic structure: drops recurring on a residue class (tokens ≡ r mod P) are pooled.
    int min_period = 4, max_period = 64;
    int min_lattice_points = 4;
    double lattice_z = 6.0;          // pooled score for accepting a period
    double lattice_step_z = 1.5;     // per-point excess on an accepted period
    int max_lattices = 3;
    int passes = 3;                  // re-estimates of the noise without the steps already found
    int runs_if_unknown = 10;        // for curves whose files carry no run counts
};

// One candidate boundary between neighbouring measured counts (lo → hi = next measured count).
struct StepCandidate {
    int from_tokens = 0, to_tokens = 0;  // from = the higher count, to = the lower one
    bool testable = false;               // false at the curve's ends (too few neighbours)
    double drop_ms = 0;                  // measured: median(from) − median(to)
    double level_drop_ms = 0;            // drop to the persistent upper level (outlier-proof)
    double slope_ms_per_token = 0;       // robust local slope, candidate excluded
    double noise_ms = 0;                 // noise of a difference of two neighbouring medians
    double z = 0;                        // (level drop − slope × gap) / noise
};

struct Step {
    int from_tokens = 0, to_tokens = 0;  // latency drops from `from` to `to` tokens
    double from_ms = 0, to_ms = 0;       // measured medians
    double drop_ms = 0, drop_fraction = 0;  // from_ms − to_ms and that over from_ms
    double z = 0;
    bool periodic = false;               // accepted through a detected period, not on its own
    double slope_ms_per_token = 0;       // the local slope the drop was judged against
    // confirm_steps: the two sides re-measured side by side (pairs = 0: not re-measured).
    int pairs = 0;
    bool confirmed = false;
    double paired_drop_ms = 0;           // median over the pairs of (from − to)
    double paired_drop_fraction = 0;     // that over the from side's paired median
    int prune_to() const { return to_tokens; }  // the largest count just below the step
};

// Least-squares-free, outlier-robust slope (Theil–Sen) of the points between two steps.
struct Segment {
    int first_tokens = 0, last_tokens = 0;
    double ms_per_token = 0;
};

struct Period {
    int period = 0, phase = 0;  // steps at tokens ≡ phase (mod period), `to` side
    double score = 0;           // pooled z
    int points = 0;
};

struct StepAnalysis {
    std::vector<Step> steps;               // ascending by tokens (after confirm_steps: the confirmed ones)
    std::vector<Segment> segments;         // the stretches between steps
    std::vector<Period> periods;           // accepted periodic structures, strongest first
    std::vector<StepCandidate> candidates; // every neighbouring pair, for diagnostics and plots
    bool confirmation_run = false;         // confirm_steps was applied
    std::vector<Step> unconfirmed;         // steps the confirmation did not reproduce (not in `steps`)
};

// `curve` ascending by tokens with distinct counts (select_curve gives that); throws pomt::Error
// otherwise. Curves shorter than a few points yield no steps.
StepAnalysis detect_steps(const std::vector<CurvePoint>& curve, const StepOptions& options = StepOptions());

// Confirmation: every step's two sides (from and to tokens) re-measured in pairs, alternating
// (measure_paired). A step is kept when, over the pairs, the lower end of the 95% CI of the median
// paired drop (from − to) exceeds what the tokens cost (local slope × gap), and the median drop is
// at least min_drop_fraction of the from side's median. Checked at 8, 16 and 32 pairs (stopping
// early once confirmed, or once the CI's upper end rules out a drop of that size).
struct ConfirmOptions {
    PairedOptions paired;             // 8..32 pairs, at most 2 s per step beyond the first 8
    double min_drop_fraction = 0.01;  // as StepOptions::min_drop_fraction
    InterferenceRule interference;    // for counting slow runs
    static ConfirmOptions fast();     // at most 0.5 s per step beyond the first 8 pairs
};

// Re-measures analysis.steps with `run` (the workload that measured `curve`) and keeps those that
// reproduce; the others move to analysis.unconfirmed, the segments are recomputed between the
// steps kept, and a period stays only while at least half of its steps (and one) are confirmed.
// `disturbance` (optional) gains the candidates, the unconfirmed count and the paired runs.
void confirm_steps(const std::vector<CurvePoint>& curve, StepAnalysis& analysis, const RunOnce& run,
                   const ConfirmOptions& options = ConfirmOptions(), Disturbance* disturbance = nullptr);

// The text summary: steps ("193 → 192 tokens: −6.1% latency"), the period if any, ms per token
// between steps, the counts worth pruning to, and the candidates the confirmation dropped.
// `title` heads it (may be empty).
std::string format_step_summary(const std::vector<CurvePoint>& curve, const StepAnalysis& analysis,
                                const std::string& title = "");

// Theil–Sen slope (median of pairwise slopes) of curve[first..last] inclusive; 0 for one point.
double robust_slope(const std::vector<CurvePoint>& curve, size_t first, size_t last);

}  // namespace profiler
}  // namespace pomt
