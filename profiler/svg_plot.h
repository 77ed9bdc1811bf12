// A self-contained SVG of latency vs tokens, written by hand (no plotting library): median line,
// p10–p90 band, detected steps marked at the count worth pruning to, ticked and labelled axes.
#pragma once
#include <string>
#include <vector>

#include "profiler/latency_curve.h"
#include "profiler/steps.h"

namespace pomt {
namespace profiler {

struct PlotSeries {
    std::string label;              // legend text, e.g. "1 thread"
    std::vector<CurvePoint> curve;  // ascending tokens
    std::vector<Step> steps;        // marked on the plot (may be empty)
};

struct PlotOptions {
    std::string title;
    std::string x_label = "tokens";
    std::string y_label = "latency (ms)";
    int width = 960, height = 540;
};

// Several series share the axes (e.g. 1 and 2 threads). The y axis starts at 0 so relative
// drops look as large as they are; p90 tails far above the medians are clipped at 1.5× the
// largest median instead of squashing the curve.
std::string render_latency_svg(const std::vector<PlotSeries>& series, const PlotOptions& options);
// Atomic write (temporary + rename); throws pomt::Error when the path cannot be written.
void write_latency_svg(const std::string& path, const std::vector<PlotSeries>& series, const PlotOptions& options);

// Round tick values (1, 2 or 5 × 10^k apart) covering [lo, hi], about `target` of them.
std::vector<double> nice_ticks(double lo, double hi, int target);

}  // namespace profiler
}  // namespace pomt
