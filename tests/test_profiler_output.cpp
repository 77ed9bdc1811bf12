// CSV round trip (both formats), and the SVG plot: well-formed XML with the steps marked.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "profiler/latency_curve.h"
#include "profiler/steps.h"
#include "profiler/svg_plot.h"
#include "tests/test_util.h"
#include "pomt/error.h"

using namespace pomt::profiler;

TEST_CASE("latency CSV: write, read back, select") {
    std::vector<LatencyRow> rows;
    for (int t = 2; t <= 6; ++t) rows.push_back({"model", "", t, 1, 2, 1.25 * t, 1.2 * t, 1.5 * t, 30 + t, t - 2});
    std::string dir = pomt_test::temp_dir();
    std::string path = dir + "/curve.csv";
    write_latency_csv(path, rows);
    CHECK(!pomt_test::file_exists(path + ".tmp." + std::to_string(getpid())));
    std::string text = pomt_test::read_bytes(path);
    CHECK(text.rfind("mode,tokens,batch,threads,median_ms,p10_ms,p90_ms,runs,slow_runs\n", 0) == 0);
    CHECK(text.find("model,2,1,2,2.5000,2.4000,3.0000,32,0\n") != std::string::npos);
    CHECK(text.find("model,6,1,2,7.5000,7.2000,9.0000,36,4\n") != std::string::npos);
    auto back = read_latency_csv(path);
    REQUIRE(back.size() == rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
        CHECK(back[i].mode == "model");
        CHECK(back[i].tokens == rows[i].tokens);
        CHECK(back[i].batch == 1);
        CHECK(back[i].threads == 2);
        CHECK(back[i].median_ms == doctest::Approx(rows[i].median_ms).epsilon(1e-4));
        CHECK(back[i].p10_ms == doctest::Approx(rows[i].p10_ms).epsilon(1e-4));
        CHECK(back[i].p90_ms == doctest::Approx(rows[i].p90_ms).epsilon(1e-4));
        CHECK(back[i].runs == rows[i].runs);
        CHECK(back[i].slow_runs == rows[i].slow_runs);
    }
    auto curve = select_curve(back, "model", 1, 2);
    CHECK(curve.size() == 5);
    CHECK(select_curve(back, "block").empty());
}

TEST_CASE("latency CSV: op mode adds the op column; quoting survives") {
    std::vector<LatencyRow> rows = {{"op", "qkv", 10, 1, 1, 0.5, 0.4, 0.6, 9},
                                    {"op", "attn, scores", 10, 1, 1, 0.2, 0.1, 0.3, 9},
                                    {"op", "qkv", 11, 1, 1, 0.55, 0.45, 0.65, 9}};
    std::string text = latency_csv_text(rows);
    CHECK(text.rfind("mode,tokens,batch,threads,median_ms,p10_ms,p90_ms,runs,slow_runs,op\n", 0) == 0);
    auto back = parse_latency_csv(text, "test");
    REQUIRE(back.size() == 3);
    CHECK(back[1].op == "attn, scores");
    CHECK(select_curve(back, "op", 0, 0, "qkv").size() == 2);
    CHECK_THROWS_AS(select_curve(back, "op"), pomt::Error);  // 10 tokens twice: two ops mixed
}

TEST_CASE("latency CSV: the 4-column format and malformed files") {
    auto rows = parse_latency_csv("tokens,median_ms,p10_ms,p90_ms\n2,3.7745,3.4945,5.9581\r\n3,4.2222,3.8921,6.7201\n", "t");
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].runs == 0);
    CHECK(rows[0].mode.empty());
    CHECK(rows[1].median_ms == doctest::Approx(4.2222));
    CHECK_THROWS_AS(parse_latency_csv("", "t"), pomt::Error);
    CHECK_THROWS_AS(parse_latency_csv("a,b\n1,2\n", "t"), pomt::Error);
    CHECK_THROWS_AS(parse_latency_csv("tokens,median_ms,p10_ms,p90_ms\n2,x,1,1\n", "t"), pomt::Error);
    CHECK_THROWS_AS(parse_latency_csv("tokens,median_ms,p10_ms,p90_ms\n2,1,1\n", "t"), pomt::Error);
    CHECK_THROWS_AS(parse_latency_csv("tokens,median_ms,p10_ms,p90_ms\n2,1,2,3\n", "t"), pomt::Error);  // p10 > median
    CHECK_THROWS_AS(read_latency_csv(pomt_test::temp_dir() + "/missing.csv"), pomt::Error);
    CHECK_THROWS_AS(write_latency_csv(pomt_test::temp_dir() + "/no/such/dir/x.csv", {}), pomt::Error);
}

TEST_CASE("latency CSV: reads the shared curves") {
    POMT_REQUIRE_SHARED("data/latency-curves/pytorch113_openblas_deit_tiny_1thread.csv", path);
    auto c = select_curve(read_latency_csv(path));
    REQUIRE(c.size() == 196);
    CHECK(c.front().tokens == 2);
    CHECK(c.back().tokens == 197);
}

namespace {

// A small XML well-formedness check: declaration, one root, balanced tags, quoted attributes,
// no raw '<' or stray '&' in text. Enough to catch what a hand-written SVG gets wrong.
bool well_formed(const std::string& s, std::string* why) {
    std::vector<std::string> stack;
    size_t i = 0;
    int roots = 0;
    if (s.rfind("<?xml", 0) == 0) i = s.find("?>") + 2;
    while (i < s.size()) {
        if (s[i] == '<') {
            if (s.compare(i, 4, "<!--") == 0) {
                i = s.find("-->", i);
                if (i == std::string::npos) return *why = "open comment", false;
                i += 3;
                continue;
            }
            size_t end = i + 1;
            char q = 0;
            for (; end < s.size(); ++end) {
                if (q) {
                    if (s[end] == q) q = 0;
                    if (s[end] == '<') return *why = "'<' in an attribute", false;
                } else if (s[end] == '"' || s[end] == '\'') {
                    q = s[end];
                } else if (s[end] == '>') {
                    break;
                }
            }
            if (end >= s.size()) return *why = "unterminated tag", false;
            std::string tag = s.substr(i + 1, end - i - 1);
            i = end + 1;
            if (tag.empty()) return *why = "empty tag", false;
            if (tag[0] == '/') {
                std::string name = tag.substr(1);
                if (stack.empty() || stack.back() != name) return *why = "mismatched </" + name + ">", false;
                stack.pop_back();
                continue;
            }
            bool self = tag.back() == '/';
            std::string name = tag.substr(0, tag.find_first_of(" \t\n/"));
            // attributes: name="value" pairs only
            size_t p = name.size();
            std::string rest = tag.substr(p, tag.size() - p - (self ? 1 : 0));
            for (size_t k = 0; k < rest.size();) {
                if (isspace((unsigned char)rest[k])) { ++k; continue; }
                size_t eq = rest.find('=', k);
                if (eq == std::string::npos || eq + 1 >= rest.size() || rest[eq + 1] != '"')
                    return *why = "unquoted attribute in <" + name + ">", false;
                size_t close = rest.find('"', eq + 2);
                if (close == std::string::npos) return *why = "open attribute", false;
                k = close + 1;
            }
            if (stack.empty()) ++roots;
            if (!self) stack.push_back(name);
        } else {
            if (s[i] == '&') {
                size_t semi = s.find(';', i);
                if (semi == std::string::npos || semi - i > 6) return *why = "stray '&'", false;
            }
            if (stack.empty() && !isspace((unsigned char)s[i])) return *why = "text outside the root", false;
            ++i;
        }
    }
    if (!stack.empty()) return *why = "unclosed <" + stack.back() + ">", false;
    if (roots != 1) return *why = "expected one root element", false;
    return true;
}

size_t count(const std::string& s, const std::string& what) {
    size_t n = 0;
    for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
    return n;
}

}  // namespace

TEST_CASE("SVG plot: well-formed, axes, band, steps") {
    std::vector<CurvePoint> c;
    for (int n = 2; n <= 197; ++n) {
        double m = 5.0 + 0.5 * ((n - 1) / 16) + 0.01 * n;
        c.push_back({n, m, m - 0.05, m + 0.2, 20});
    }
    StepAnalysis a = detect_steps(c);
    REQUIRE(a.steps.size() == 12);
    PlotSeries s{"1 thread", c, a.steps};
    PlotOptions o;
    o.title = "deit_tiny <model mode> & 1 thread";
    std::string svg = render_latency_svg({s}, o);
    std::string why;
    CHECK_MESSAGE(well_formed(svg, &why), why);
    CHECK(svg.find("<svg xmlns=\"http://www.w3.org/2000/svg\"") != std::string::npos);
    CHECK(svg.find("deit_tiny &lt;model mode&gt; &amp; 1 thread") != std::string::npos);
    CHECK(svg.find(">tokens</text>") != std::string::npos);
    CHECK(svg.find(">latency (ms)</text>") != std::string::npos);
    CHECK(count(svg, "class=\"band\"") == 1);
    CHECK(count(svg, "class=\"median\"") == 1);
    CHECK(count(svg, "class=\"step\"") == 12);
    CHECK(svg.find("data-from=\"193\" data-to=\"192\"") != std::string::npos);
    CHECK(svg.find("193 → 192 tokens: −") != std::string::npos);
    CHECK(svg.find("nan") == std::string::npos);
    CHECK(svg.find("inf") == std::string::npos);

    // Two series, one without steps; and degenerate inputs still give valid documents.
    std::vector<CurvePoint> flat = {{2, 1, 1, 1, 1}};
    for (const std::string& doc : {render_latency_svg({s, {"2 threads", c, {}}}, o), render_latency_svg({}, o),
                                   render_latency_svg({{"one", flat, {}}}, o)})
        CHECK_MESSAGE(well_formed(doc, &why), why);

    std::string path = pomt_test::temp_dir() + "/plot.svg";
    write_latency_svg(path, {s}, o);
    CHECK(pomt_test::read_bytes(path) == svg);
}

TEST_CASE("SVG plot: nice ticks") {
    CHECK(nice_ticks(0, 26.3, 6) == std::vector<double>{0, 5, 10, 15, 20, 25});
    CHECK(nice_ticks(2, 197, 10) == std::vector<double>{20, 40, 60, 80, 100, 120, 140, 160, 180});
    auto t = nice_ticks(0, 0.9, 5);
    CHECK(t.front() == 0);
    CHECK(t.back() == doctest::Approx(0.8));
}
