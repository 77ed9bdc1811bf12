#include "kernels/attention.h"

#include <cmath>
#include <vector>

#include "kernels/activations.h"
#include "kernels/dispatch.h"

namespace pomt {

void attention_head(const AttentionHead& a) { active_kernels().attention(a); }

void attention_head_reference(const AttentionHead& a) {
    const int n = a.tokens, d = a.head_dim;
    std::vector<float> logits(n), p(n);
    for (int i = a.row_begin; i < a.rows_end(); ++i) {
        for (int j = 0; j < n; ++j) {
            double dot = 0;
            for (int c = 0; c < d; ++c) dot += double(a.q[size_t(i) * a.ld_qkv + c]) * a.k[size_t(j) * a.ld_qkv + c];
            logits[j] = float(dot * a.scale + (a.key_bias ? a.key_bias[j] : 0.0f));
        }
        softmax_reference(logits.data(), p.data(), n);
        if (a.probs)
            for (int j = 0; j < n; ++j) a.probs[size_t(i) * n + j] = p[j];
        for (int c = 0; c < d; ++c) {
            double acc = 0;
            for (int j = 0; j < n; ++j) acc += double(p[j]) * a.v[size_t(j) * a.ld_qkv + c];
            a.out[size_t(i) * a.ld_out + c] = float(acc);
        }
    }
}

}  // namespace pomt
