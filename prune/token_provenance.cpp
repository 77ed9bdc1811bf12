#include "prune/token_provenance.h"

#include "pomt/error.h"

namespace pomt {

void TokenProvenance::start(int batch_, int tokens_, int prefix_) {
    batch = batch_, tokens = tokens_, prefix = prefix_, current_tokens = tokens_;
    row.resize(size_t(batch) * tokens);
    for (int b = 0; b < batch; ++b)
        for (int t = 0; t < tokens; ++t) row[size_t(b) * tokens + t] = t;
    pomt_merged.assign(size_t(batch) * tokens, 0);
}

void TokenProvenance::apply(const std::vector<int>& moved_to, int old_tokens, int new_tokens, PruneMethod method) {
    if (old_tokens != current_tokens || moved_to.size() < size_t(batch) * old_tokens)
        fail("token provenance: a step's record does not follow the previous one");
    for (int b = 0; b < batch; ++b)
        for (int t = 0; t < tokens; ++t) {
            int& r = row[size_t(b) * tokens + t];
            if (r < 0) continue;
            r = moved_to[size_t(b) * old_tokens + r];
            if (method == PruneMethod::Pomt && r == new_tokens - 1) pomt_merged[size_t(b) * tokens + t] = 1;
        }
    current_tokens = new_tokens;
}

}  // namespace pomt
