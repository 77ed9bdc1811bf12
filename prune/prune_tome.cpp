#include "prune/prune_tome.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/gemm.h"
#include "pomt/error.h"
#include "prune/prune_rows.h"

namespace pomt {

int tome_merge(BlockInternals& block, int r_asked, TomeScratch& st, int* moved_to) {
    const int n = block.tokens, p = block.prefix_tokens, H = block.heads, D = block.dim, hd = D / H;
    const int r = tome_effective_r(n, p, r_asked);
    if (r <= 0) return n;
    if (!block.token_sizes) fail("tome: token sizes are not tracked");
    const int na = (n + 1) / 2, nb = n / 2, out = n - r;
    const int first_b = p / 2;  // B tokens 2k+1 < p are prefix tokens
    st.metric.resize(size_t(n) * hd);
    st.scores.resize(size_t(na) * nb);
    st.node_max.resize(size_t(na));
    st.node_idx.resize(size_t(na));
    st.source.resize(size_t(out));
    st.dst_slot.resize(size_t(nb));
    st.merged_sum.resize(size_t(r) * (D + 1));
    st.out_rows.resize(size_t(out) * D);
    st.out_sizes.resize(size_t(out));
    const float inv_heads = 1.0f / float(H);
    for (int b = 0; b < block.batch; ++b) {
        // Metric: keys averaged over heads, L2-normalised (cosine similarity); A rows, then B rows.
        const float* qkv = block.qkv + size_t(b) * n * 3 * D;
        float* metric_a = st.metric.data();            // [na × hd]
        float* metric_b = metric_a + size_t(na) * hd;  // [nb × hd]
        for (int j = 0; j < n; ++j) {
            const float* k = qkv + size_t(j) * 3 * D + D;
            float* m = (j % 2 == 0 ? metric_a : metric_b) + size_t(j / 2) * hd;
            for (int c = 0; c < hd; ++c) m[c] = k[c];
            for (int h = 1; h < H; ++h)
                for (int c = 0; c < hd; ++c) m[c] += k[h * hd + c];
            double norm = 0;
            for (int c = 0; c < hd; ++c) {
                m[c] *= inv_heads;
                norm += double(m[c]) * m[c];
            }
            const float inv = norm > 0 ? float(1.0 / std::sqrt(norm)) : 0.0f;
            for (int c = 0; c < hd; ++c) m[c] *= inv;
        }
        // All A×B cosine similarities with the GEMM kernel (B as the "weight" matrix [nb × hd]).
        float* sim = st.scores.data();  // [na × nb]
        PackedWeights packed = pack_weights(metric_b, nb, hd);
        gemm(na, metric_a, hd, packed, sim, nb, Epilogue(), nullptr);
        // Edges: each A token's (position 2i) most similar B token (position 2k+1). Prefix tokens in
        // A never merge away and prefix tokens in B receive nothing (ToMe's -inf scores).
        for (int i = 0; i < na; ++i) {
            st.node_max[i] = -HUGE_VAL;
            st.node_idx[i] = 0;
            if (2 * i < p || first_b >= nb) continue;
            const float* row = sim + size_t(i) * nb;
            int best = first_b;
            for (int k = first_b + 1; k < nb; ++k)
                if (row[k] > row[best]) best = k;
            st.node_max[i] = row[best];
            st.node_idx[i] = best;
        }
        rank_descending(st.node_max.data(), 0, na, &st.edge_idx);  // [0, r): merged away, the rest stay
        // Size-weighted sums into the B tokens that receive merges.
        const float* xb = block.x + size_t(b) * n * D;
        const float* sb = block.token_sizes + size_t(b) * n;
        std::fill(st.dst_slot.begin(), st.dst_slot.end(), -1);
        int slots = 0;
        for (int e = 0; e < r; ++e) {
            const int i = st.edge_idx[e], k = st.node_idx[i];
            if (st.dst_slot[k] < 0) {
                st.dst_slot[k] = slots;
                double* acc = &st.merged_sum[size_t(slots++) * (D + 1)];
                const float* row = xb + size_t(2 * k + 1) * D;
                const double s = sb[2 * k + 1];
                for (int d = 0; d < D; ++d) acc[d] = row[d] * s;
                acc[D] = s;
            }
            double* acc = &st.merged_sum[size_t(st.dst_slot[k]) * (D + 1)];
            const float* row = xb + size_t(2 * i) * D;
            const double s = sb[2 * i];
            for (int d = 0; d < D; ++d) acc[d] += row[d] * s;
            acc[D] += s;
        }
        // Output order as ToMe's: prefix tokens, the unmerged non-prefix A tokens (position order when
        // there is a prefix, as ToMe sorts them; edge order otherwise), then the non-prefix B tokens.
        // unm_idx is edge_idx[r, na); edge_idx[0, r) (the merged A tokens) stays for moved_to.
        const auto unm = st.edge_idx.begin() + r;
        if (p > 0) std::sort(unm, st.edge_idx.end());
        int o = 0;
        for (int t = 0; t < p; ++t) st.source[o++] = t;
        for (auto i = unm; i != st.edge_idx.end(); ++i)
            if (2 * *i >= p) st.source[o++] = 2 * *i;
        for (int k = first_b; k < nb; ++k) st.source[o++] = 2 * k + 1;
        if (o != out) fail("tome: internal error in the merge count");
        if (moved_to) {
            int* m = moved_to + size_t(b) * n;
            record_moves(st.source.data(), out, m, n);
            for (int e = 0; e < r; ++e) m[2 * st.edge_idx[e]] = m[2 * st.node_idx[st.edge_idx[e]] + 1];
        }
        float* out_rows = st.out_rows.data();
        float* out_sizes = st.out_sizes.data();
        for (int t = 0; t < out; ++t) {
            const int src = st.source[t];
            float* dst = out_rows + size_t(t) * D;
            const int slot = src % 2 == 1 ? st.dst_slot[src / 2] : -1;
            if (slot >= 0) {
                const double* acc = &st.merged_sum[size_t(slot) * (D + 1)];
                const double inv = 1.0 / acc[D];
                for (int d = 0; d < D; ++d) dst[d] = float(acc[d] * inv);
                out_sizes[t] = float(acc[D]);
            } else {
                std::memcpy(dst, xb + size_t(src) * D, size_t(D) * sizeof(float));
                out_sizes[t] = sb[src];
            }
        }
        // Image b's input is fully read: its output may now overwrite it (and earlier images' space).
        std::memcpy(block.x + size_t(b) * out * D, out_rows, size_t(out) * D * sizeof(float));
        std::memcpy(block.token_sizes + size_t(b) * out, out_sizes, size_t(out) * sizeof(float));
    }
    return out;
}

}  // namespace pomt
