#include "profiler/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "pomt/error.h"
#include "core/file_util.h"

namespace pomt {
namespace profiler {

namespace {

const char* const kColours[] = {"#1f5fa8", "#c0392b", "#2e8b57", "#8e44ad", "#d35400", "#34495e"};

std::string esc(const std::string& s) {
    std::string o;
    for (char c : s) {
        switch (c) {
            case '&': o += "&amp;"; break;
            case '<': o += "&lt;"; break;
            case '>': o += "&gt;"; break;
            case '"': o += "&quot;"; break;
            case '\'': o += "&apos;"; break;
            default: o += c;
        }
    }
    return o;
}

std::string num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

// Enough decimals to tell neighbouring ticks apart, no more.
std::string tick_label(double v, double step) {
    int decimals = step >= 1 ? 0 : int(std::ceil(-std::log10(step) - 1e-9));
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*f", std::min(decimals, 6), std::fabs(v) < 1e-12 ? 0.0 : v);
    return buf;
}

std::string pct(double f) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", 100 * f);
    return buf;
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target) {
    if (!(hi > lo)) hi = lo + 1;
    target = std::max(2, target);
    double raw = (hi - lo) / target;
    double mag = std::pow(10.0, std::floor(std::log10(raw)));
    double step = mag;
    for (double m : {1.0, 2.0, 5.0, 10.0})
        if (m * mag >= raw) {
            step = m * mag;
            break;
        }
    std::vector<double> t;
    for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) t.push_back(v);
    return t;
}

std::string render_latency_svg(const std::vector<PlotSeries>& series, const PlotOptions& o) {
    const double W = std::max(320, o.width), H = std::max(240, o.height);
    const double left = 72, right = 24, top = 56, bottom = 58;
    const double pw = W - left - right, ph = H - top - bottom;

    int x_min = 0, x_max = 1;
    double max_med = 0, max_p90 = 0;
    bool any = false;
    for (const PlotSeries& s : series)
        for (const CurvePoint& p : s.curve) {
            if (!any) x_min = x_max = p.tokens;
            any = true;
            x_min = std::min(x_min, p.tokens);
            x_max = std::max(x_max, p.tokens);
            max_med = std::max(max_med, p.median_ms);
            max_p90 = std::max(max_p90, p.p90_ms);
        }
    if (x_max == x_min) x_max = x_min + 1;
    double y_top = std::max(max_med * 1.05, std::min(max_p90, 1.5 * max_med));
    if (!(y_top > 0)) y_top = 1;
    std::vector<double> yt = nice_ticks(0, y_top, 6);
    if (yt.back() < y_top) yt.push_back(yt.back() + (yt.size() > 1 ? yt[1] - yt[0] : y_top));
    const double y_max = yt.back();  // the axis ends on a labelled tick
    std::vector<double> xt = nice_ticks(x_min, x_max, 10);

    auto X = [&](double tokens) { return left + (tokens - x_min) / double(x_max - x_min) * pw; };
    auto Y = [&](double ms) { return top + ph - ms / y_max * ph; };

    std::string s;
    s += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(W) + "\" height=\"" + num(H) +
         "\" viewBox=\"0 0 " + num(W) + " " + num(H) + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
    s += "<title>" + esc(o.title) + "</title>\n";
    s += "<rect x=\"0\" y=\"0\" width=\"" + num(W) + "\" height=\"" + num(H) + "\" fill=\"#ffffff\"/>\n";
    s += "<defs><clipPath id=\"plot-area\"><rect x=\"" + num(left) + "\" y=\"" + num(top) + "\" width=\"" +
         num(pw) + "\" height=\"" + num(ph) + "\"/></clipPath></defs>\n";
    s += "<text x=\"" + num(W / 2) + "\" y=\"28\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">" +
         esc(o.title) + "</text>\n";

    // Grid, ticks and tick labels.
    s += "<g class=\"axes\" stroke=\"#000000\" stroke-width=\"1\">\n";
    for (double v : yt) {
        double y = Y(v);
        s += "<line x1=\"" + num(left) + "\" y1=\"" + num(y) + "\" x2=\"" + num(left + pw) + "\" y2=\"" + num(y) +
             "\" stroke=\"#e4e4e4\"/>\n";
        s += "<line x1=\"" + num(left - 5) + "\" y1=\"" + num(y) + "\" x2=\"" + num(left) + "\" y2=\"" + num(y) + "\"/>\n";
        s += "<text x=\"" + num(left - 8) + "\" y=\"" + num(y + 4) + "\" text-anchor=\"end\" stroke=\"none\">" +
             tick_label(v, yt.size() > 1 ? yt[1] - yt[0] : 1) + "</text>\n";
    }
    for (double v : xt) {
        double x = X(v);
        s += "<line x1=\"" + num(x) + "\" y1=\"" + num(top + ph) + "\" x2=\"" + num(x) + "\" y2=\"" + num(top + ph + 5) +
             "\"/>\n";
        s += "<text x=\"" + num(x) + "\" y=\"" + num(top + ph + 19) + "\" text-anchor=\"middle\" stroke=\"none\">" +
             tick_label(v, xt.size() > 1 ? xt[1] - xt[0] : 1) + "</text>\n";
    }
    s += "<line x1=\"" + num(left) + "\" y1=\"" + num(top) + "\" x2=\"" + num(left) + "\" y2=\"" + num(top + ph) + "\"/>\n";
    s += "<line x1=\"" + num(left) + "\" y1=\"" + num(top + ph) + "\" x2=\"" + num(left + pw) + "\" y2=\"" +
         num(top + ph) + "\"/>\n";
    s += "</g>\n";
    s += "<text class=\"x-label\" x=\"" + num(left + pw / 2) + "\" y=\"" + num(H - 14) + "\" text-anchor=\"middle\">" +
         esc(o.x_label) + "</text>\n";
    s += "<text class=\"y-label\" x=\"18\" y=\"" + num(top + ph / 2) + "\" text-anchor=\"middle\" transform=\"rotate(-90 18 " +
         num(top + ph / 2) + ")\">" + esc(o.y_label) + "</text>\n";

    // Data: bands first so every line is drawn over every band.
    s += "<g clip-path=\"url(#plot-area)\">\n";
    for (size_t k = 0; k < series.size(); ++k) {
        const auto& c = series[k].curve;
        if (c.empty()) continue;
        std::string pts;
        for (const CurvePoint& p : c) pts += num(X(p.tokens)) + "," + num(Y(p.p90_ms)) + " ";
        for (auto it = c.rbegin(); it != c.rend(); ++it) pts += num(X(it->tokens)) + "," + num(Y(it->p10_ms)) + " ";
        pts.pop_back();
        s += "<polygon class=\"band\" points=\"" + pts + "\" fill=\"" + kColours[k % 6] +
             "\" fill-opacity=\"0.18\" stroke=\"none\"/>\n";
    }
    for (size_t k = 0; k < series.size(); ++k) {
        const auto& c = series[k].curve;
        if (c.empty()) continue;
        std::string pts;
        for (const CurvePoint& p : c) pts += num(X(p.tokens)) + "," + num(Y(p.median_ms)) + " ";
        pts.pop_back();
        s += "<polyline class=\"median\" points=\"" + pts + "\" fill=\"none\" stroke=\"" + kColours[k % 6] +
             "\" stroke-width=\"1.6\" stroke-linejoin=\"round\"/>\n";
    }
    s += "</g>\n";

    // Steps: a dashed line between the two counts, a ring on the count worth pruning to, and that
    // count written above the plot area's top edge so labels never cover the curve.
    for (size_t k = 0; k < series.size(); ++k) {
        const char* col = kColours[k % 6];
        for (const Step& st : series[k].steps) {
            double xl = X(st.to_tokens + 0.5 * (st.from_tokens - st.to_tokens));
            double xs = X(st.to_tokens), ys = Y(std::min(st.to_ms, y_max));
            std::string text = std::to_string(st.from_tokens) + " \xE2\x86\x92 " + std::to_string(st.to_tokens) +
                               " tokens: \xE2\x88\x92" + pct(st.drop_fraction) + "% latency";
            s += "<g class=\"step\" data-from=\"" + std::to_string(st.from_tokens) + "\" data-to=\"" +
                 std::to_string(st.to_tokens) + "\">";
            s += "<title>" + esc(text) + "</title>";
            s += "<line x1=\"" + num(xl) + "\" y1=\"" + num(top) + "\" x2=\"" + num(xl) + "\" y2=\"" + num(top + ph) +
                 "\" stroke=\"" + col + "\" stroke-opacity=\"0.45\" stroke-dasharray=\"3,3\"/>";
            s += "<circle cx=\"" + num(xs) + "\" cy=\"" + num(ys) + "\" r=\"4\" fill=\"none\" stroke=\"" + col +
                 "\" stroke-width=\"1.5\"/>";
            s += "<text x=\"" + num(xl) + "\" y=\"" + num(top - 6 - 11.0 * double(k)) +
                 "\" text-anchor=\"middle\" font-size=\"9\" fill=\"" + col + "\">" + std::to_string(st.to_tokens) +
                 "</text>";
            s += "</g>\n";
        }
    }

    // Legend, top left inside the plot where latency curves (rising) leave room.
    double ly = top + 14;
    s += "<g class=\"legend\" font-size=\"11\">\n";
    for (size_t k = 0; k < series.size(); ++k, ly += 16) {
        const char* col = kColours[k % 6];
        s += "<rect x=\"" + num(left + 10) + "\" y=\"" + num(ly - 9) + "\" width=\"22\" height=\"10\" fill=\"" + col +
             "\" fill-opacity=\"0.18\"/>";
        s += "<line x1=\"" + num(left + 10) + "\" y1=\"" + num(ly - 4) + "\" x2=\"" + num(left + 32) + "\" y2=\"" +
             num(ly - 4) + "\" stroke=\"" + col + "\" stroke-width=\"1.6\"/>";
        s += "<text x=\"" + num(left + 38) + "\" y=\"" + num(ly) + "\">" +
             esc((series[k].label.empty() ? std::string("median") : series[k].label) + " (median, p10\xE2\x80\x93p90 band)") +
             "</text>\n";
    }
    s += "<circle cx=\"" + num(left + 21) + "\" cy=\"" + num(ly - 4) + "\" r=\"4\" fill=\"none\" stroke=\"#555555\" stroke-width=\"1.5\"/>";
    s += "<text x=\"" + num(left + 38) + "\" y=\"" + num(ly) + "\">step: count worth pruning to</text>\n";
    s += "</g>\n";
    s += "</svg>\n";
    return s;
}

void write_latency_svg(const std::string& path, const std::vector<PlotSeries>& series, const PlotOptions& options) {
    std::string svg = render_latency_svg(series, options);
    AtomicFileWriter w(path);
    w.write(svg.data(), svg.size());
    w.commit();
}

}  // namespace profiler
}  // namespace pomt
