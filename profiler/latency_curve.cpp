#include "profiler/latency_curve.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "pomt/error.h"
#include "core/file_util.h"

namespace pomt {
namespace profiler {

namespace {

// %.4f keeps 0.1 µs resolution on millisecond values: finer than any timer noise, short lines.
std::string fmt_ms(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.4f", v);
    return buf;
}

bool needs_quoting(const std::string& s) { return s.find_first_of(",\"\n\r") != std::string::npos; }

std::string csv_field(const std::string& s) {
    if (!needs_quoting(s)) return s;
    std::string q = "\"";
    for (char c : s) {
        if (c == '"') q += '"';
        q += c;
    }
    return q + "\"";
}

// Splits one CSV line (RFC 4180 quoting, no embedded newlines: our fields never hold them).
std::vector<std::string> split_csv_line(const std::string& line, bool* ok) {
    std::vector<std::string> out;
    std::string cur;
    bool quoted = false;
    *ok = true;
    for (size_t i = 0; i < line.size(); ++i) {
        char c = line[i];
        if (quoted) {
            if (c == '"') {
                if (i + 1 < line.size() && line[i + 1] == '"') {
                    cur += '"';
                    ++i;
                } else {
                    quoted = false;
                }
            } else {
                cur += c;
            }
        } else if (c == '"' && cur.empty()) {
            quoted = true;
        } else if (c == ',') {
            out.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    if (quoted) *ok = false;
    out.push_back(cur);
    return out;
}

std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

double parse_double(const std::string& s, const std::string& where, const std::string& col) {
    std::string t = trim(s);
    char* end = nullptr;
    errno = 0;
    double v = std::strtod(t.c_str(), &end);
    if (t.empty() || *end != '\0' || errno != 0 || !std::isfinite(v))
        fail(where + ": column " + col + ": '" + t + "' is not a number");
    return v;
}

int parse_int(const std::string& s, const std::string& where, const std::string& col) {
    std::string t = trim(s);
    char* end = nullptr;
    errno = 0;
    long v = std::strtol(t.c_str(), &end, 10);
    if (t.empty() || *end != '\0' || errno != 0 || v < 0 || v > 1000000000L)
        fail(where + ": column " + col + ": '" + t + "' is not a non-negative integer");
    return int(v);
}

}  // namespace

std::string latency_csv_text(const std::vector<LatencyRow>& rows) {
    bool with_op = std::any_of(rows.begin(), rows.end(), [](const LatencyRow& r) { return !r.op.empty(); });
    std::string out = "mode,tokens,batch,threads,median_ms,p10_ms,p90_ms,runs,slow_runs";
    out += with_op ? ",op\n" : "\n";
    for (const LatencyRow& r : rows) {
        out += csv_field(r.mode) + "," + std::to_string(r.tokens) + "," + std::to_string(r.batch) + "," +
               std::to_string(r.threads) + "," + fmt_ms(r.median_ms) + "," + fmt_ms(r.p10_ms) + "," +
               fmt_ms(r.p90_ms) + "," + std::to_string(r.runs) + "," + std::to_string(r.slow_runs);
        if (with_op) out += "," + csv_field(r.op);
        out += "\n";
    }
    return out;
}

void write_latency_csv(const std::string& path, const std::vector<LatencyRow>& rows) {
    std::string text = latency_csv_text(rows);
    AtomicFileWriter w(path);
    w.write(text.data(), text.size());
    w.commit();
}

std::vector<LatencyRow> parse_latency_csv(const std::string& text, const std::string& what) {
    std::vector<LatencyRow> rows;
    std::map<std::string, size_t> col;
    size_t pos = 0;
    int line_no = 0;
    bool have_header = false;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        pos = nl == std::string::npos ? text.size() : nl + 1;
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (trim(line).empty()) continue;
        std::string where = what + " line " + std::to_string(line_no);
        bool ok;
        std::vector<std::string> f = split_csv_line(line, &ok);
        if (!ok) fail(where + ": unterminated quote");
        if (!have_header) {
            for (size_t i = 0; i < f.size(); ++i) {
                std::string name = trim(f[i]);
                if (col.count(name)) fail(where + ": column '" + name + "' appears twice");
                col[name] = i;
            }
            for (const char* req : {"tokens", "median_ms", "p10_ms", "p90_ms"})
                if (!col.count(req))
                    fail(what + ": not a latency CSV (header lacks the column '" + std::string(req) + "')");
            have_header = true;
            continue;
        }
        if (f.size() != col.size())
            fail(where + ": " + std::to_string(f.size()) + " fields, the header has " + std::to_string(col.size()));
        auto get = [&](const char* name) -> const std::string* {
            auto it = col.find(name);
            return it == col.end() ? nullptr : &f[it->second];
        };
        LatencyRow r;
        if (auto s = get("mode")) r.mode = trim(*s);
        if (auto s = get("op")) r.op = trim(*s);
        r.tokens = parse_int(*get("tokens"), where, "tokens");
        if (auto s = get("batch")) r.batch = parse_int(*s, where, "batch");
        if (auto s = get("threads")) r.threads = parse_int(*s, where, "threads");
        if (auto s = get("runs")) r.runs = parse_int(*s, where, "runs");
        if (auto s = get("slow_runs")) r.slow_runs = parse_int(*s, where, "slow_runs");
        r.median_ms = parse_double(*get("median_ms"), where, "median_ms");
        r.p10_ms = parse_double(*get("p10_ms"), where, "p10_ms");
        r.p90_ms = parse_double(*get("p90_ms"), where, "p90_ms");
        if (r.median_ms < 0 || r.p10_ms < 0 || r.p90_ms < 0) fail(where + ": negative latency");
        // p10 <= median <= p90 up to the 4-decimal rounding of the writer.
        if (r.p10_ms > r.median_ms + 1e-4 || r.median_ms > r.p90_ms + 1e-4)
            fail(where + ": expected p10_ms <= median_ms <= p90_ms");
        rows.push_back(r);
    }
    if (!have_header) fail(what + ": empty file, expected a latency CSV");
    return rows;
}

std::vector<LatencyRow> read_latency_csv(const std::string& path) {
    std::vector<unsigned char> bytes = read_file_bytes(path, "latency CSV");
    return parse_latency_csv(std::string(bytes.begin(), bytes.end()), "latency CSV '" + path + "'");
}

std::vector<CurvePoint> select_curve(const std::vector<LatencyRow>& rows, const std::string& mode, int batch,
                                     int threads, const std::string& op) {
    std::vector<CurvePoint> pts;
    for (const LatencyRow& r : rows) {
        if (!mode.empty() && r.mode != mode) continue;
        if (batch && r.batch != batch) continue;
        if (threads && r.threads != threads) continue;
        if (!op.empty() && r.op != op) continue;
        pts.push_back({r.tokens, r.median_ms, r.p10_ms, r.p90_ms, r.runs});
    }
    std::sort(pts.begin(), pts.end(), [](const CurvePoint& a, const CurvePoint& b) { return a.tokens < b.tokens; });
    for (size_t i = 1; i < pts.size(); ++i)
        if (pts[i].tokens == pts[i - 1].tokens)
            fail("latency curve holds " + std::to_string(pts[i].tokens) +
                 " tokens twice; select one mode, batch, thread count and op");
    return pts;
}

}  // namespace profiler
}  // namespace pomt
