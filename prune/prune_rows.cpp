// Row operations the pruning methods share (prune/prune_rows.h).
#include "prune/prune_rows.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

namespace pomt {

void compact_rows(float* x, int b, int tokens, int new_tokens, int dim, const int* keep, int k) {
    for (int i = 0; i < k; ++i) {
        const float* src = x + (size_t(b) * tokens + keep[i]) * dim;
        float* dst = x + (size_t(b) * new_tokens + i) * dim;
        if (src != dst) std::memmove(dst, src, size_t(dim) * sizeof(float));
    }
}

void record_moves(const int* keep, int k, int* moved_to, int tokens, const int* merged, int merged_count,
                  int prefix, int merged_row) {
    std::fill(moved_to, moved_to + tokens, -1);
    for (int i = 0; i < k; ++i) moved_to[keep[i]] = i;
    for (int i = 0; i < merged_count; ++i) moved_to[prefix + merged[i]] = merged_row;
}

void rank_descending(const double* score, int begin, int end, std::vector<int>* order) {
    order->resize(size_t(end - begin));
    std::iota(order->begin(), order->end(), begin);
    auto key = [score](int i) { return std::isnan(score[i]) ? -HUGE_VAL : score[i]; };
    // A total order (ties by index), so std::sort gives what a stable sort would, without the
    // stable sort's buffer allocation on every call.
    std::sort(order->begin(), order->end(), [&](int a, int b) {
        const double ka = key(a), kb = key(b);
        return ka > kb || (ka == kb && a < b);
    });
}

void keep_prefix_and_best(const int* ranked, int prefix, int kept, std::vector<int>* keep) {
    keep->resize(size_t(prefix + kept));
    int* k = keep->data();
    for (int i = 0; i < prefix; ++i) k[i] = i;
    for (int i = 0; i < kept; ++i) k[prefix + i] = prefix + ranked[i];
    std::sort(k + prefix, k + prefix + kept);
}

}  // namespace pomt
