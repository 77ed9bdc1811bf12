// Latency-vs-workload data: one row per measured point, the CSV format `pomt profile` writes, and
// a reader that also accepts the 4-column curves of other engines (tokens,median_ms,p10_ms,p90_ms),
// so the same step detector and plot run on both.
#pragma once
#include <string>
#include <vector>

namespace pomt {
namespace profiler {

// One measured point of a curve: what the step detector and the plot need.
struct CurvePoint {
    int tokens = 0;
    double median_ms = 0, p10_ms = 0, p90_ms = 0;
    int runs = 0;  // timed runs behind the median; 0 = unknown (4-column files)
};

// One CSV row. `op` is empty except in op mode; batch/threads/runs are 0 when the file lacks them.
struct LatencyRow {
    std::string mode;  // "model", "block" or "op" ("" when the file has no mode column)
    std::string op;
    int tokens = 0, batch = 0, threads = 0;
    double median_ms = 0, p10_ms = 0, p90_ms = 0;
    int runs = 0;
    int slow_runs = 0;  // runs the interference rule calls slow (profiler/measure.h); 0 when unknown
};

// Columns: mode,tokens,batch,threads,median_ms,p10_ms,p90_ms,runs,slow_runs — plus a trailing `op`
// column when any row has an op. Written to `path.tmp.<pid>` and renamed, so a failed or interrupted run
// never leaves a half-written CSV. Throws pomt::Error when the path cannot be written.
void write_latency_csv(const std::string& path, const std::vector<LatencyRow>& rows);
std::string latency_csv_text(const std::vector<LatencyRow>& rows);

// Reads either format by its header (columns in any order; `tokens`, `median_ms`, `p10_ms` and
// `p90_ms` are required, the rest optional: files from before `slow_runs` existed still read).
// Malformed files throw pomt::Error naming the line.
std::vector<LatencyRow> read_latency_csv(const std::string& path);
std::vector<LatencyRow> parse_latency_csv(const std::string& text, const std::string& what);

// The rows of one curve (empty strings / zeros match anything), sorted by tokens. Throws
// pomt::Error when the selection holds the same token count twice (two curves mixed together).
std::vector<CurvePoint> select_curve(const std::vector<LatencyRow>& rows, const std::string& mode = "",
                                     int batch = 0, int threads = 0, const std::string& op = "");

}  // namespace profiler
}  // namespace pomt
