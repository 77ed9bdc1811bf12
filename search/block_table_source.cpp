#include "search/block_table_source.h"

#include <algorithm>

#include "pomt/error.h"
#include "profiler/workloads.h"

namespace pomt {
namespace search {

namespace {

struct BlockShares {
    double after_prune = 0;  // norm2 and the MLP: a pruning block runs them at the tokens it leaves
    double last_block = 1;   // what the last block computes when only the pooled rows are needed
};

BlockShares block_shares(const SearchSetup& s) {
    profiler::TokenWorkload workload(s.model, s.threads, s.batch, profiler::ProfileMode::Op);
    const int n_full = s.full_tokens;
    for (int i = 0; i < 33; ++i) workload.run(n_full);
    double t[int(BlockOp::Count)] = {}, total = 0;
    const auto& samples = workload.op_samples().at(n_full);
    for (size_t i = 3; i < samples.size(); ++i)  // the first three are warm-up
        for (int op = 0; op < int(BlockOp::Count); ++op) {
            t[op] += samples[i].seconds[op];
            total += samples[i].seconds[op];
        }
    BlockShares shares;
    if (!(total > 0)) return shares;
    double after = 0;
    for (int op = int(BlockOp::Norm2); op < int(BlockOp::Count); ++op) after += t[op];
    shares.after_prune = std::min(0.95, after / total);
    const ModelConfig& c = s.model->config();
    if (c.global_pool == "token") {
        // Every token's norm1 and K/V (2/3 of the qkv columns); the rest for the pooled rows only.
        const double all_rows = (t[int(BlockOp::Norm1)] + t[int(BlockOp::Qkv)] * 2.0 / 3.0) / total;
        const int pooled = c.distilled ? 2 : 1;
        shares.last_block = std::clamp(all_rows + (1 - all_rows) * pooled / double(n_full), 0.01, 1.0);
    }
    return shares;
}

// The model's median latency at N from the model-mode rows of the first of `paths` that has it; 0: none.
double model_latency_from_csvs(const SearchSetup& s, const std::vector<profiler::LatencyRow>& block_rows,
                               const std::string& block_path, const std::string& latency_path, std::string* source) {
    for (const std::string& p : {block_path, latency_path}) {
        if (p.empty()) continue;
        auto m = p == block_path ? profiler::select_curve(block_rows, "model", s.batch, s.threads_filter)
                                 : profiler::select_curve(profiler::read_latency_csv(p), "model", s.batch, s.threads_filter);
        for (const auto& q : m)
            if (q.tokens == s.full_tokens && q.median_ms > 0) {
                *source += "; model latency at " + std::to_string(s.full_tokens) + " tokens from " + p;
                return q.median_ms;
            }
    }
    return 0;
}

}  // namespace

std::vector<profiler::CurvePoint> block_curve_from_csv(const std::vector<profiler::LatencyRow>& rows,
                                                       const std::string& path, const SearchSetup& s) {
    std::vector<profiler::CurvePoint> curve = profiler::select_curve(rows, "block", s.batch, s.threads_filter);
    if (curve.empty())
        fail("'" + path + "' has no block-mode latency for batch " + std::to_string(s.batch) +
             (s.threads_filter ? " and " + std::to_string(s.threads) + " threads" : "") +
             " (write one with pomt profile --mode block --csv FILE)");
    return curve;
}

search::BlockLatencyTable block_latency_table(const SearchSetup& s, const JointSearchOptions& o,
                                                const ProgressReporter& progress, std::string* source) {
    const ModelConfig& c = s.model->config();
    std::vector<profiler::CurvePoint> block;
    double model_full = 0;
    std::vector<int> counts = s.counts;
    if (counts.back() != s.full_tokens) counts.push_back(s.full_tokens);
    if (!o.block_latency_csv.empty()) {
        const std::string& path = o.block_latency_csv;
        std::vector<profiler::LatencyRow> rows = profiler::read_latency_csv(path);
        block = curve_at_counts(block_curve_from_csv(rows, path, s), counts);
        if (block.size() < 2 || block.back().tokens != s.full_tokens)
            fail("'" + path + "' needs block latencies at " + std::to_string(s.full_tokens) +
                 " tokens and at least one lower count in --tokens");
        *source = path;
        // The overhead needs the whole model at N: this CSV's model rows, latency_csv's, or measured here.
        model_full = model_latency_from_csvs(s, rows, path, o.latency_csv, source);
    } else {
        profiler::TokenWorkload workload(s.model, s.threads, s.batch, profiler::ProfileMode::Block);
        block = measure_curve(counts, [&](int n) { return workload.run(n); }, s.measure, "B(n)", progress);
        *source = "measured here (block mode)";
    }
    if (!(model_full > 0)) {
        // One point carries the whole overhead: never the fast rule here (a 0.05 s cap can leave a
        // single run, and one stalled run then becomes the overhead).
        profiler::TokenWorkload workload(s.model, s.threads, s.batch, profiler::ProfileMode::Model);
        profiler::MeasureOptions mo;
        mo.max_seconds_per_point = 2.0;
        auto stats = profiler::measure_points({s.full_tokens}, [&](int n) { return workload.run(n); }, mo);
        model_full = stats[0].median_ms;
        if (!o.block_latency_csv.empty())
            *source += "; model latency at " + std::to_string(s.full_tokens) + " tokens measured here";
    }
    const BlockShares shares = block_shares(s);
    search::BlockLatencyTable table =
        search::make_block_table(block, model_full, c.depth, s.full_tokens, *source, shares.last_block);
    table.after_prune_share = shares.after_prune;
    return table;
}

}  // namespace search
}  // namespace pomt
