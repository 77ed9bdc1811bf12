// The Pareto search's picture: top-1 over the latency ratio, one marker per method, drawn by hand
// in the style of profiler/svg_plot.cpp (whose ticks it reuses).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "core/file_util.h"
#include "pomt/search.h"
#include "profiler/svg_plot.h"

namespace pomt {

namespace {

std::string num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

std::string label(double v, double step) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*f", step >= 1 ? 0 : std::min(6, int(std::ceil(-std::log10(step) - 1e-9))), v);
    return buf;
}

std::string esc(const std::string& s) {
    std::string o;
    for (char c : s) o += c == '<' ? std::string("&lt;") : c == '>' ? std::string("&gt;") : c == '&' ? std::string("&amp;") : c == '"' ? std::string("&quot;") : std::string(1, c);
    return o;
}

struct Style {
    const char* colour;
    const char* shape;  // circle, square, triangle, diamond, cross
};

Style style_of(const std::string& method) {
    static const std::map<std::string, Style> styles = {
        {"none", {"#000000", "square"}},   {"pomt", {"#1f5fa8", "circle"}},    {"topk", {"#c0392b", "triangle"}},
        {"tome", {"#2e8b57", "diamond"}},  {"random", {"#8e44ad", "cross"}},   {"compare", {"#d35400", "square"}}};
    auto it = styles.find(method);
    return it == styles.end() ? Style{"#34495e", "circle"} : it->second;
}

std::string marker(const Style& st, double x, double y, double r, bool filled) {
    const std::string paint = std::string(" fill=\"") + (filled ? st.colour : "none") + "\" stroke=\"" + st.colour +
                              "\" stroke-width=\"1.3\"";
    const std::string shape = st.shape;
    if (shape == "circle") return "<circle cx=\"" + num(x) + "\" cy=\"" + num(y) + "\" r=\"" + num(r) + "\"" + paint + "/>";
    if (shape == "square")
        return "<rect x=\"" + num(x - r) + "\" y=\"" + num(y - r) + "\" width=\"" + num(2 * r) + "\" height=\"" + num(2 * r) +
               "\"" + paint + "/>";
    if (shape == "cross")
        return "<path d=\"M" + num(x - r) + "," + num(y - r) + " L" + num(x + r) + "," + num(y + r) + " M" + num(x - r) + "," +
               num(y + r) + " L" + num(x + r) + "," + num(y - r) + "\" fill=\"none\" stroke=\"" + st.colour +
               "\" stroke-width=\"1.5\"/>";
    const std::string pts = shape == "triangle"
                                ? num(x) + "," + num(y - r * 1.2) + " " + num(x + r * 1.1) + "," + num(y + r * 0.8) + " " +
                                      num(x - r * 1.1) + "," + num(y + r * 0.8)
                                : num(x) + "," + num(y - r * 1.3) + " " + num(x + r) + "," + num(y) + " " + num(x) + "," +
                                      num(y + r * 1.3) + " " + num(x - r) + "," + num(y);
    return "<polygon points=\"" + pts + "\"" + paint + "/>";
}

// What marks a plan's precision inside its method's marker, so precision reads at a glance: fp32
// nothing, int8 a black centre dot, bf16 a black centre bar (visible in hollow markers too).
std::string precision_mark(PlanPrecision p, double x, double y) {
    if (p == PlanPrecision::Int8)
        return "<circle class=\"int8\" cx=\"" + num(x) + "\" cy=\"" + num(y) + "\" r=\"1.6\" fill=\"#000000\"/>";
    if (p == PlanPrecision::Bf16)
        return "<line class=\"bf16\" x1=\"" + num(x - 3) + "\" y1=\"" + num(y) + "\" x2=\"" + num(x + 3) + "\" y2=\"" + num(y) +
               "\" stroke=\"#000000\" stroke-width=\"1.6\"/>";
    return "";
}

}  // namespace

void write_search_svgs(const ParetoSearchResult& r, const std::string& prefix) {
    // Measured plans at their measured ratio (filled); the rest that saw every image at their
    // predicted ratio (hollow).
    struct Point {
        int plan;
        double x, y;
        bool measured;
    };
    std::vector<Point> pts;
    for (int i = 0; i < int(r.plans.size()); ++i) {
        const ParetoPlan& p = r.plans[size_t(i)];
        if (p.measured) pts.push_back({i, p.measured_ratio, p.top1, true});
        else if (p.dropped_round < 0 && p.images > 0) pts.push_back({i, p.predicted_ratio, p.top1, false});
    }
    double x0 = 1, x1 = 1, y0 = 100, y1 = 0;
    for (const Point& p : pts) x0 = std::min(x0, p.x), x1 = std::max(x1, p.x), y0 = std::min(y0, p.y), y1 = std::max(y1, p.y);
    std::vector<double> xt = profiler::nice_ticks(x0 - 0.02, x1 + 0.02, 8), yt = profiler::nice_ticks(y0 - 0.5, y1 + 0.5, 7);
    const double xa = std::min(xt.front(), x0 - 0.02), xb = std::max(xt.back(), x1 + 0.02);
    const double ya = std::min(yt.front(), y0 - 0.5), yb = std::max(yt.back(), y1 + 0.5);
    const double W = 960, H = 560, left = 72, right = 190, top = 56, bottom = 58, pw = W - left - right, ph = H - top - bottom;
    auto X = [&](double v) { return left + (v - xa) / (xb - xa) * pw; };
    auto Y = [&](double v) { return top + ph - (v - ya) / (yb - ya) * ph; };
    const std::string title = r.architecture + ": accuracy-latency front, " + std::to_string(r.threads) + " thread" +
                              (r.threads == 1 ? "" : "s") + ", " + std::to_string(r.images) + " estimation images";
    std::string s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(W) +
                    "\" height=\"" + num(H) + "\" viewBox=\"0 0 " + num(W) + " " + num(H) +
                    "\" font-family=\"sans-serif\" font-size=\"12\">\n<title>" + esc(title) + "</title>\n" +
                    "<rect x=\"0\" y=\"0\" width=\"" + num(W) + "\" height=\"" + num(H) + "\" fill=\"#ffffff\"/>\n" +
                    "<text x=\"" + num(left + pw / 2) + "\" y=\"28\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">" +
                    esc(title) + "</text>\n<g class=\"axes\" stroke=\"#000000\">\n";
    for (double v : yt)
        s += "<line x1=\"" + num(left) + "\" y1=\"" + num(Y(v)) + "\" x2=\"" + num(left + pw) + "\" y2=\"" + num(Y(v)) +
             "\" stroke=\"#e4e4e4\"/><text x=\"" + num(left - 8) + "\" y=\"" + num(Y(v) + 4) +
             "\" text-anchor=\"end\" stroke=\"none\">" + label(v, yt.size() > 1 ? yt[1] - yt[0] : 1) + "</text>\n";
    for (double v : xt)
        s += "<line x1=\"" + num(X(v)) + "\" y1=\"" + num(top) + "\" x2=\"" + num(X(v)) + "\" y2=\"" + num(top + ph) +
             "\" stroke=\"#e4e4e4\"/><text x=\"" + num(X(v)) + "\" y=\"" + num(top + ph + 19) +
             "\" text-anchor=\"middle\" stroke=\"none\">" + label(v, xt.size() > 1 ? xt[1] - xt[0] : 1) + "</text>\n";
    s += "<line x1=\"" + num(left) + "\" y1=\"" + num(top) + "\" x2=\"" + num(left) + "\" y2=\"" + num(top + ph) + "\"/>" +
         "<line x1=\"" + num(left) + "\" y1=\"" + num(top + ph) + "\" x2=\"" + num(left + pw) + "\" y2=\"" + num(top + ph) +
         "\"/>\n</g>\n";
    s += "<text x=\"" + num(left + pw / 2) + "\" y=\"" + num(H - 14) +
         "\" text-anchor=\"middle\">latency / unpruned latency (filled: measured, interleaved; hollow: predicted)</text>\n";
    s += "<text x=\"18\" y=\"" + num(top + ph / 2) + "\" text-anchor=\"middle\" transform=\"rotate(-90 18 " +
         num(top + ph / 2) + ")\">top-1 % (estimation images)</text>\n";
    // The measured front, joined.
    std::vector<const Point*> front;
    for (const Point& p : pts)
        if (r.plans[size_t(p.plan)].on_front) front.push_back(&p);
    std::sort(front.begin(), front.end(), [](const Point* a, const Point* b) { return a->x < b->x; });
    if (front.size() > 1) {
        std::string line;
        for (const Point* p : front) line += num(X(p->x)) + "," + num(Y(p->y)) + " ";
        line.pop_back();
        s += "<polyline class=\"front\" points=\"" + line + "\" fill=\"none\" stroke=\"#888888\" stroke-dasharray=\"4,3\"/>\n";
    }
    for (const Point& p : pts) {
        const ParetoPlan& plan = r.plans[size_t(p.plan)];
        s += "<g class=\"plan\"><title>" + esc(std::string(plan_precision_name(plan.precision)) + " " + plan.spec) + "</title>" +
             marker(style_of(plan.method), X(p.x), Y(p.y), p.measured ? 4.5 : 3.5, p.measured) +
             precision_mark(plan.precision, X(p.x), Y(p.y)) + "</g>\n";
    }
    auto ring = [&](int plan, const char* text, const char* colour) {
        for (const Point& p : pts)
            if (p.plan == plan)
                s += "<g class=\"mark\"><circle cx=\"" + num(X(p.x)) + "\" cy=\"" + num(Y(p.y)) + "\" r=\"10\" fill=\"none\" stroke=\"" +
                     colour + "\" stroke-width=\"2\"/><text x=\"" + num(X(p.x) + 12) + "\" y=\"" + num(Y(p.y) - 10) +
                     "\" fill=\"" + colour + "\">" + text + "</text></g>\n";
    };
    ring(r.compare_index, "paper", "#d35400");
    ring(r.chosen, "chosen", "#000000");
    // Legend, right of the plot.
    double ly = top + 14;
    s += "<g class=\"legend\" font-size=\"11\">\n";
    for (const char* m : {"none", "pomt", "topk", "tome", "random", "compare"}) {
        const bool present = std::any_of(r.plans.begin(), r.plans.end(), [&](const ParetoPlan& p) { return p.method == m; });
        if (!present) continue;
        s += marker(style_of(m), left + pw + 24, ly - 4, 4.5, true) + "<text x=\"" + num(left + pw + 36) + "\" y=\"" + num(ly) +
             "\">" + (std::string(m) == "none" ? "unpruned" : std::string(m) == "compare" ? "paper (--compare)" : m) + "</text>\n";
        ly += 18;
    }
    for (PlanPrecision q : {PlanPrecision::Int8, PlanPrecision::Bf16}) {
        if (std::none_of(r.plans.begin(), r.plans.end(), [&](const ParetoPlan& p) { return p.precision == q; })) continue;
        s += marker(style_of("none"), left + pw + 24, ly - 4, 4.5, false) + precision_mark(q, left + pw + 24, ly - 4) +
             "<text x=\"" + num(left + pw + 36) + "\" y=\"" + num(ly) + "\">" + plan_precision_name(q) +
             (q == PlanPrecision::Int8 ? " (centre dot)" : " (centre bar)") + "</text>\n";
        ly += 18;
    }
    s += "</g>\n</svg>\n";
    AtomicFileWriter w(prefix + "-front.svg");
    w.write(s.data(), s.size());
    w.commit();
}

}  // namespace pomt
