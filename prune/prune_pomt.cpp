#include "prune/prune_pomt.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/reductions.h"
#include "kernels/threads.h"
#include "pomt/error.h"
#include "prune/prune_rows.h"

namespace pomt {

int pomt_tokens_after(int tokens, int prefix, int R) {
    const int kept = pomt_kept_patches(tokens, R);
    if (R <= 0 || kept >= tokens - prefix) return tokens;
    return prefix + kept + 1;
}

void pomt_scores(const BlockInternals& block, int image, double* score, std::vector<float>* group_sums) {
    const int n = block.tokens, p = block.prefix_tokens, H = block.heads, D = block.dim, hd = D / H;
    const int P = n - p;
    // a_j: column sums over the non-prefix rows of the head-wise maximum of the attention, in float
    // over groups of 16 rows (the vector kernel), the groups in double. Columns are independent, so
    // the threads take column ranges and the result does not depend on the thread count.
    const float* A = block.attn + size_t(image) * H * n * n;
    group_sums->resize(size_t(P));
    float* group = group_sums->data();
    constexpr int kRowGroup = 16, kColumnBlock = 16;
    const int column_blocks = (P + kColumnBlock - 1) / kColumnBlock;
    parallel_for(block.pool, column_blocks, 4, [&](int b0, int b1) {
        const int j0 = b0 * kColumnBlock, j1 = std::min(P, b1 * kColumnBlock);
        std::fill(score + j0, score + j1, 0.0);
        for (int i0 = p; i0 < n; i0 += kRowGroup) {
            const int rows = std::min(n, i0 + kRowGroup) - i0;
            head_max_column_sums(A + size_t(i0) * n + p + j0, size_t(n) * n, n, H, rows, j1 - j0, group + j0);
            for (int j = j0; j < j1; ++j) score[j] += group[j];
        }
    });
    double amax = 0;
    for (int j = 0; j < P; ++j) amax = std::max(amax, score[j]);
    if (amax > 0)
        for (int j = 0; j < P; ++j) score[j] /= amax;
    // s_j: per channel the head-wise maximum of V, summed over the channels in eight float partial
    // sums (vectorisable) combined in double; then a softmax over all tokens.
    const float* qkv = block.qkv + size_t(image) * n * 3 * D;
    std::vector<double> s(static_cast<size_t>(n));
    parallel_for(block.pool, n, 32, [&](int t0, int t1) {
        std::vector<float> vmax(static_cast<size_t>(hd));
        for (int j = t0; j < t1; ++j) {
            // One row of head-wise maxima (the kernel with a single row sums nothing).
            head_max_column_sums(qkv + size_t(j) * 3 * D + 2 * D, size_t(hd), 0, H, 1, hd, vmax.data());
            float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            int c = 0;
            for (; c + 8 <= hd; c += 8)
                for (int u = 0; u < 8; ++u) part[u] += vmax[size_t(c + u)];
            double sum = 0;
            for (; c < hd; ++c) sum += vmax[size_t(c)];
            for (int u = 0; u < 8; ++u) sum += part[u];
            s[j] = sum;
        }
    });
    double smax = -HUGE_VAL;
    for (int j = 0; j < n; ++j) smax = std::max(smax, s[j]);
    double z = 0;
    for (int j = 0; j < n; ++j) z += (s[j] = std::exp(s[j] - smax));
    for (int j = 0; j < P; ++j) score[j] += s[p + j] / z;
}

int pomt_prune(BlockInternals& block, int R, PomtScratch& st, int* moved_to) {
    const int n = block.tokens, p = block.prefix_tokens, D = block.dim, P = n - p;
    const int kept = pomt_kept_patches(n, R);
    if (R <= 0 || kept >= P) return n;
    if (kept < 1) fail("pomt: R=" + std::to_string(R) + " leaves no patch token at block " + std::to_string(block.layer));
    if (!block.attn) fail("pomt: the attention matrix of block " + std::to_string(block.layer) + " is missing");
    const int merged = P - kept, out = p + kept + 1;
    st.importance.resize(size_t(P));
    st.merged_sum.resize(size_t(D));
    for (int b = 0; b < block.batch; ++b) {
        pomt_scores(block, b, st.importance.data(), &st.group_sums);
        rank_descending(st.importance.data(), 0, P, &st.ranked);
        // Kept: the best `kept`, in position order (the official code keeps score order; the order
        // of tokens does not change a ViT's output). Merged: the rest, as one plain mean.
        keep_prefix_and_best(st.ranked.data(), p, kept, &st.keep);
        const float* xb = block.x + size_t(b) * n * D;
        std::fill(st.merged_sum.begin(), st.merged_sum.end(), 0.0);
        double size_sum = 0;
        for (int i = kept; i < P; ++i) {
            const int t = p + st.ranked[i];
            const float* row = xb + size_t(t) * D;
            for (int d = 0; d < D; ++d) st.merged_sum[d] += row[d];
            if (block.token_sizes) size_sum += block.token_sizes[size_t(b) * n + t];
        }
        if (moved_to)  // the merged rows go to the extra token, the last row
            record_moves(st.keep.data(), p + kept, moved_to + size_t(b) * n, n, st.ranked.data() + kept, merged, p,
                         out - 1);
        compact_rows(block.x, b, n, out, D, st.keep.data(), p + kept);
        float* dst = block.x + (size_t(b) * out + out - 1) * D;
        for (int d = 0; d < D; ++d) dst[d] = float(st.merged_sum[d] / merged);
        if (block.token_sizes) {
            compact_rows(block.token_sizes, b, n, out, 1, st.keep.data(), p + kept);
            block.token_sizes[size_t(b) * out + out - 1] = float(size_sum);
        }
    }
    return out;
}

}  // namespace pomt
