#include "prune/prune_topk.h"

#include <algorithm>
#include <cmath>

#include "pomt/error.h"
#include "prune/prune_rows.h"

namespace pomt {

void topk_scores(const BlockInternals& block, int image, double* score) {
    const int n = block.tokens, p = block.prefix_tokens, H = block.heads, D = block.dim, hd = D / H;
    const float* qkv = block.qkv + size_t(image) * n * 3 * D;
    const float* sizes = block.token_sizes ? block.token_sizes + size_t(image) * n : nullptr;
    const double scale = 1.0 / std::sqrt(double(hd));
    std::vector<double> logit(static_cast<size_t>(n));
    std::fill(score, score + (n - p), 0.0);
    for (int h = 0; h < H; ++h) {
        const float* q0 = qkv + h * hd;
        double mx = -HUGE_VAL;
        for (int j = 0; j < n; ++j) {
            const float* k = qkv + size_t(j) * 3 * D + D + h * hd;
            // Eight float partial sums (vectorisable, as the attention kernel's own float dot
            // products), combined in double.
            float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            int c = 0;
            for (; c + 8 <= hd; c += 8)
                for (int u = 0; u < 8; ++u) part[u] += q0[c + u] * k[c + u];
            double dot = 0;
            for (; c < hd; ++c) dot += double(q0[c]) * k[c];
            for (int u = 0; u < 8; ++u) dot += part[u];
            double l = dot * scale + (sizes ? std::log(double(sizes[j])) : 0.0);
            logit[j] = l;
            mx = std::max(mx, l);
        }
        double z = 0;
        for (int j = 0; j < n; ++j) z += (logit[j] = std::exp(logit[j] - mx));
        for (int j = p; j < n; ++j) score[j - p] += logit[j] / (z * H);
    }
}

int topk_prune(BlockInternals& block, int r, TopkScratch& st, int* moved_to) {
    const int n = block.tokens, p = block.prefix_tokens, D = block.dim, P = n - p;
    if (r <= 0) return n;
    if (p < 1) fail("topk needs a class token");
    if (r >= P)
        fail("topk: r=" + std::to_string(r) + " leaves no patch token at block " + std::to_string(block.layer));
    const int kept = P - r, out = n - r;
    st.cls_attention.resize(size_t(P));
    for (int b = 0; b < block.batch; ++b) {
        topk_scores(block, b, st.cls_attention.data());
        rank_descending(st.cls_attention.data(), 0, P, &st.ranked);
        keep_prefix_and_best(st.ranked.data(), p, kept, &st.keep);
        if (moved_to) record_moves(st.keep.data(), out, moved_to + size_t(b) * n, n);
        compact_rows(block.x, b, n, out, D, st.keep.data(), out);
        if (block.token_sizes) compact_rows(block.token_sizes, b, n, out, 1, st.keep.data(), out);
    }
    return out;
}

}  // namespace pomt
