// Step detection on a latency-vs-tokens curve: the token counts where removing one more token buys
// a latency drop far larger than the curve's local cost per token. The exact rule, its constants
// and why they are what they are: docs/PROFILING.md, "Step detection".
#pragma once
#include <string>
#include <vector>

#include "profiler/latency_curve.h"

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
    std::vector<Step> steps;               // ascending by tokens
    std::vector<Segment> segments;         // the stretches between steps
    std::vector<Period> periods;           // accepted periodic structures, strongest first
    std::vector<StepCandidate> candidates; // every neighbouring pair, for diagnostics and plots
};

// `curve` ascending by tokens with distinct counts (select_curve gives that); throws pomt::Error
// otherwise. Curves shorter than a few points yield no steps.
StepAnalysis detect_steps(const std::vector<CurvePoint>& curve, const StepOptions& options = StepOptions());

// The text summary: steps ("193 → 192 tokens: −6.1% latency"), the period if any, ms per token
// between steps, and the counts worth pruning to. `title` heads it (may be empty).
std::string format_step_summary(const std::vector<CurvePoint>& curve, const StepAnalysis& analysis,
                                const std::string& title = "");

// Theil–Sen slope (median of pairwise slopes) of curve[first..last] inclusive; 0 for one point.
double robust_slope(const std::vector<CurvePoint>& curve, size_t first, size_t last);

}  // namespace profiler
}  // namespace pomt
