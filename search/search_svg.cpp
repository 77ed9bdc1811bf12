// The searches' curves as SVG files (profiler/svg_plot.h draws them): L(n) with its steps, A(n),
// U(n), and the joint search's B(n).
#include "core/json.h"
#include "profiler/steps.h"
#include "profiler/svg_plot.h"
#include "search/search_setup.h"

namespace pomt {

namespace {

void write_curve_svg(const std::string& path, const std::string& title, const std::string& y_label,
                     const std::vector<profiler::CurvePoint>& curve, const std::vector<profiler::Step>& steps) {
    profiler::PlotSeries s;
    s.label = y_label;
    s.curve = curve;
    s.steps = steps;
    profiler::PlotOptions po;
    po.title = title;
    po.y_label = y_label;
    profiler::write_latency_svg(path, {s}, po);
}

}  // namespace

void write_search_svgs(const ScheduleSearchResult& r, const std::string& prefix) {
    const std::vector<profiler::CurvePoint> latency = search::curve_points(r.latency);
    std::vector<profiler::CurvePoint> a, u;
    for (const auto& p : r.points) {
        a.push_back({p.tokens, p.accuracy, p.accuracy, p.accuracy, 0});
        u.push_back({p.tokens, p.utility, p.utility, p.utility, 0});
    }
    write_curve_svg(prefix + "-latency.svg", r.architecture + " L(n), model mode", "latency (ms)", latency,
                    profiler::detect_steps(latency).steps);
    write_curve_svg(prefix + "-accuracy.svg", r.architecture + " A(n), random pruning", "top-1 (%)", a, {});
    write_curve_svg(prefix + "-utility.svg", r.architecture + " U(n), alpha " + json::format_number(r.alpha), "U(n)", u,
                    {});
}

void write_search_svgs(const JointSearchResult& r, const std::string& prefix) {
    if (r.paper_computed) write_search_svgs(r.paper_search, prefix);
    const std::vector<profiler::CurvePoint> block = search::curve_points(r.block_latency);
    write_curve_svg(prefix + "-block-latency.svg", r.architecture + " B(n), one block", "block latency (ms)", block,
                    profiler::detect_steps(block).steps);
}

}  // namespace pomt
