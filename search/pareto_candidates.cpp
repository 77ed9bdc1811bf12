#include "search/pareto_candidates.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "pomt/error.h"

namespace pomt {
namespace search {

namespace {

std::string list(const std::vector<int>& r) {
    std::string s;
    for (int v : r) s += (s.empty() ? "" : ",") + std::to_string(v);
    return s;
}

// Per-block r over `blocks` blocks (the rest 0) summing to about r·blocks, shaped by weight(b).
template <class Weight>
std::vector<int> shaped(int r, int blocks, int depth, Weight weight) {
    double total = 0;
    for (int b = 0; b < blocks; ++b) total += weight(b);
    std::vector<int> out(size_t(depth), 0);
    if (!(total > 0)) return out;
    for (int b = 0; b < blocks; ++b) out[size_t(b)] = int(std::lround(r * blocks * weight(b) / total));
    return out;
}

}  // namespace

std::vector<CandidateSpec> pareto_candidates(const ModelConfig& c, bool fast, bool last_block_pooled) {
    const int depth = c.depth, n = c.num_tokens(), prefix = c.num_prefix_tokens(), patches = n - prefix;
    const int blocks = last_block_pooled && depth > 1 ? depth - 1 : depth;  // blocks where a prune counts
    std::vector<CandidateSpec> out;
    auto add = [&](const std::string& method, const std::string& family, const std::string& spec) {
        try {
            resolve_schedule(parse_prune_spec(spec), c);
        } catch (const Error&) {
            return;  // too strong for this model
        }
        for (const CandidateSpec& x : out)
            if (x.spec == spec) return;
        out.push_back({method, family, spec});
    };
    // POMT at one block.
    std::set<int> layers;
    for (int twelfths : fast ? std::vector<int>{2, 3, 6} : std::vector<int>{1, 2, 3, 4, 6, 8})
        layers.insert(std::min(blocks - 1, int(std::lround(depth * twelfths / 12.0))));
    const std::vector<double> shares = fast ? std::vector<double>{0.1, 0.3, 0.5, 0.7}
                                            : std::vector<double>{0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7};
    for (int l : layers)
        for (double f : shares) {
            const int r = std::max(1, int(std::lround(f * n)));
            add("pomt", "one block", "pomt:R=" + std::to_string(r) + ",layer=" + std::to_string(l));
        }
    // POMT at two blocks: depth/4, then depth/2.
    const int l1 = std::min(blocks - 1, depth / 4), l2 = std::min(blocks - 1, depth / 2);
    if (l2 > l1)
        for (double f1 : fast ? std::vector<double>{0.3} : std::vector<double>{0.2, 0.4})
            for (double f2 : {0.1, 0.25}) {
                const int r1 = std::max(1, int(std::lround(f1 * n)));
                const int r2 = std::max(1, int(std::lround(f2 * (n - r1))));
                add("pomt", "two blocks", "pomt:R=" + std::to_string(r1) + ",layer=" + std::to_string(l1) +
                                              ";pomt:R=" + std::to_string(r2) + ",layer=" + std::to_string(l2));
            }
    // Top-K and ToMe: constant r in every block, and per-block lists of the same total.
    const int r_max = std::max(1, (patches - 1) / std::max(1, blocks));
    const int constants = fast ? 4 : 8;
    for (const char* m : {"topk", "tome"}) {
        for (int k = 1; k <= constants; ++k) {
            const int r = std::max(1, int(std::lround(double(k) * r_max / constants)));
            add(m, "constant", std::string(m) + ":r=" + std::to_string(r));
        }
        for (int k : fast ? std::vector<int>{2} : std::vector<int>{1, 2, 3}) {
            const int r = std::max(1, int(std::lround(k * r_max / 4.0)));
            const std::string head = std::string(m) + ":r=";
            add(m, "decreasing", head + list(shaped(r, blocks, depth, [&](int b) { return double(blocks - b); })));
            add(m, "increasing", head + list(shaped(r, blocks, depth, [&](int b) { return double(b + 1); })));
            for (int start : {blocks / 4, blocks / 2})
                if (start > 0)
                    add(m, "from block " + std::to_string(start),
                        head + list(shaped(r, blocks, depth, [&](int b) { return b >= start ? 1.0 : 0.0; })));
        }
    }
    // Random pruning after the embedding: the control.
    for (double f : fast ? std::vector<double>{0.85, 0.6} : std::vector<double>{0.9, 0.75, 0.6, 0.45})
        add("random", "keep", "random:keep=" + std::to_string(std::max(prefix + 1, int(std::lround(f * n)))) + ",seed=0");
    return out;
}

double predict_schedule_ms(const search::BlockLatencyTable& t, const ResolvedSchedule& r) {
    double ms = t.overhead_ms;
    for (int b = 0; b < t.depth; ++b) {
        const int in = b == 0 ? r.tokens_after_embedding : r.tokens_after_block[size_t(b - 1)];
        const int out = r.tokens_after_block[size_t(b)];
        if (b == t.depth - 1 && t.last_block_pooled())
            ms += t.last_block_share * t.block_ms(in);
        else if (out < in)
            ms += t.pruning_block_ms(in, out);
        else
            ms += t.block_ms(in);
    }
    return ms;
}

}  // namespace search
}  // namespace pomt
