#include "kernels/attention_int8.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/activations.h"
#include "kernels/dispatch.h"
#include "kernels/gemm_int8_kernels.h"

namespace pomt {

namespace {

constexpr size_t kGroupBytes = size_t(kGemmPanel) * kInt8Group;  // one group of 4 inputs of a panel

// Byte of (column, input) in panels16x4 with `k` inputs (kernels/gemm_int8.h).
size_t panel_byte(int column, int input, int k) {
    return size_t(column / kGemmPanel) * kGemmPanel * quantized_row_bytes(k) + size_t(input / kInt8Group) * kGroupBytes +
           size_t(column % kGemmPanel) * kInt8Group + size_t(input % kInt8Group);
}

}  // namespace

size_t int8_head_k_bytes(int tokens, int head_dim) { return int8_panel_bytes(tokens, head_dim); }
size_t int8_head_v_bytes(int tokens, int head_dim) { return int8_panel_bytes(head_dim, tokens); }

Int8Weights Int8Head::k_weights() const {
    Int8Weights w;
    w.n = tokens;
    w.k = head_dim;
    w.panels = k_panels;
    w.scale = k_scale;
    w.sum = k_sum;
    return w;
}

Int8Weights Int8Head::v_weights() const {
    static const std::vector<float> ones(size_t(kMaxInt8HeadDim), 1.0f);
    Int8Weights w;
    w.n = head_dim;
    w.k = tokens;
    w.panels = v_panels;
    w.scale = ones.data();
    w.sum = v_sum;
    return w;
}

namespace {
// 64-byte steps, so every array of a head starts aligned.
size_t aligned_floats(size_t bytes) { return (bytes + 63) / 64 * 16; }
}  // namespace

size_t int8_head_floats(int tokens, int head_dim) {
    const size_t n = size_t(tokens);
    return aligned_floats(n * quantized_row_bytes(head_dim)) + aligned_floats(int8_head_k_bytes(tokens, head_dim)) +
           aligned_floats(int8_head_v_bytes(tokens, head_dim)) + aligned_floats(n * size_t(head_dim)) +
           7 * aligned_floats(n * 4) + aligned_floats(size_t(head_dim) * 4);
}

Int8Head int8_head_in(float* memory, int tokens, int head_dim) {
    const size_t n = size_t(tokens);
    Int8Head h;
    h.tokens = tokens;
    h.head_dim = head_dim;
    float* m = memory;
    auto take = [&](size_t bytes) {
        float* p = m;
        m += aligned_floats(bytes);
        return p;
    };
    h.q.rows = tokens;
    h.q.k = head_dim;
    h.q.ld = quantized_row_bytes(head_dim);
    h.q.q = reinterpret_cast<int8_t*>(take(n * h.q.ld));
    h.q.scale = take(n * 4);
    h.q.offset = take(n * 4);
    h.k_panels = reinterpret_cast<int8_t*>(take(int8_head_k_bytes(tokens, head_dim)));
    h.k_scale = take(n * 4);
    h.k_offset = take(n * 4);
    h.k_sum = reinterpret_cast<int32_t*>(take(n * 4));
    h.v_panels = reinterpret_cast<int8_t*>(take(int8_head_v_bytes(tokens, head_dim)));
    h.v_rows = reinterpret_cast<int8_t*>(take(n * size_t(head_dim)));
    h.v_scale = take(n * 4);
    h.v_offset = take(n * 4);
    h.v_sum = reinterpret_cast<int32_t*>(take(size_t(head_dim) * 4));
    return h;
}

void int8_head_clear(const Int8Head& h) { std::memset(h.k_panels, 0, int8_head_k_bytes(h.tokens, h.head_dim)); }

namespace {

void quantize_q(const Int8Kernels& kern, const Int8Head& h, int token, const float* q) {
    int8_t* qrow = h.q.q + size_t(token) * h.q.ld;
    kern.quantize_row(q, h.head_dim, qrow, h.q.scale + token, h.q.offset + token);
    std::memset(qrow + h.head_dim, 0, size_t(h.q.ld - h.head_dim));
}

// K's row is column j of Kᵀ: its groups of 4 inputs are 4 contiguous bytes of the panel, one group
// every kGroupBytes (panel_byte's layout, its offset stepped instead of recomputed). V's row goes
// to v_rows as it is: spreading it over the panels would take a byte store per value.
void quantize_kv(const Int8Kernels& kern, const Int8Head& h, int j, const float* k, const float* v) {
    const int d = h.head_dim;
    int8_t row[kMaxInt8HeadDim];
    kern.quantize_row(k, d, row, h.k_scale + j, h.k_offset + j);
    int8_t* kcol = h.k_panels + panel_byte(j, 0, d);
    int32_t sum = 0;
    for (int c = 0; c < d; ++c) sum += row[c];
    h.k_sum[j] = sum;
    int c = 0;
    for (; c + kInt8Group <= d; c += kInt8Group, kcol += kGroupBytes) std::memcpy(kcol, row + c, kInt8Group);
    if (c < d) std::memcpy(kcol, row + c, size_t(d - c));
    kern.quantize_row(v, d, h.v_rows + size_t(j) * d, h.v_scale + j, h.v_offset + j);
}

}  // namespace

void int8_head_quantize_q(const Int8Head& h, int token, const float* q) { quantize_q(active_int8_kernels(), h, token, q); }

void int8_head_quantize_kv(const Int8Head& h, int token, const float* k, const float* v) {
    quantize_kv(active_int8_kernels(), h, token, k, v);
}

void int8_heads_quantize_token(const Int8Head* heads, int count, int token, const float* q, const float* k,
                               const float* v) {
    const Int8Kernels& kern = active_int8_kernels();
    for (int i = 0; i < count; ++i) {
        const size_t at = size_t(i) * heads[i].head_dim;
        if (q) quantize_q(kern, heads[i], token, q + at);
        if (k) quantize_kv(kern, heads[i], token, k + at, v + at);
    }
}

void int8_head_finish(const Int8Head& h) {
    const int d = h.head_dim, n = h.tokens;
    // Σ_j V_jc, a row at a time.
    int32_t sum[kMaxInt8HeadDim] = {};
    for (int j = 0; j < n; ++j) {
        const int8_t* r = h.v_rows + size_t(j) * d;
        for (int c = 0; c < d; ++c) sum[c] += r[c];
    }
    std::memcpy(h.v_sum, sum, size_t(d) * sizeof(int32_t));
    // The panels, a group of 4 tokens (one kGroupBytes block of each panel) at a time: byte 4·c + i
    // of a block is token 4g + i's value in the panel's column c, zero past the last token or column.
    const int groups = quantized_row_bytes(n) / kInt8Group;
    int8_t* p = h.v_panels;
    for (int c0 = 0; c0 < d; c0 += kGemmPanel) {
        const int cols = std::min(kGemmPanel, d - c0);
        for (int g = 0; g < groups; ++g, p += kGroupBytes) {
            const int j0 = g * kInt8Group;
            if (cols == kGemmPanel && j0 + kInt8Group <= n) {
                const int8_t* r = h.v_rows + size_t(j0) * d + c0;
                for (int c = 0; c < kGemmPanel; ++c)
                    for (int i = 0; i < kInt8Group; ++i) p[c * kInt8Group + i] = r[size_t(i) * d + c];
                continue;
            }
            std::memset(p, 0, kGroupBytes);
            for (int i = 0; i < kInt8Group && j0 + i < n; ++i)
                for (int c = 0; c < cols; ++c) p[c * kInt8Group + i] = h.v_rows[size_t(j0 + i) * d + c0 + c];
        }
    }
}

void attention_head_int8(const AttentionHeadInt8& a, const Int8AttentionTrace* trace) {
    active_kernels().attention_int8(a, trace);
}

void attention_int8_scores(const AttentionHeadInt8& a, float* logits, size_t ld) {
    active_kernels().attention_int8_scores(a, logits, ld);
}

void attention_int8_pv(const AttentionHeadInt8& a, const float* probs, size_t ld) { active_kernels().attention_int8_pv(a, probs, ld); }

void attention_head_int8_reference(const AttentionHeadInt8& a) {
    const Int8Head& h = *a.head;
    const int n = h.tokens, d = h.head_dim;
    std::vector<int8_t> kq(size_t(n) * d), vq(size_t(d) * n);
    unpack_int8_panels(h.k_panels, n, d, kq.data());  // [n × d]
    unpack_int8_panels(h.v_panels, d, n, vq.data());  // [d × n]: vq[c·n + j] = V_jc
    std::vector<double> logit(static_cast<size_t>(n)), p(static_cast<size_t>(n));
    std::vector<float> pf(static_cast<size_t>(n));
    std::vector<int8_t> prow(size_t(quantized_row_bytes(n)));
    float ps, po;
    for (int i = a.row_begin; i < a.rows_end(); ++i) {
        const int8_t* qi = h.q.q + size_t(i) * h.q.ld;
        for (int j = 0; j < n; ++j) {
            double dot = 0;  // q̂_i · k̂_j
            for (int c = 0; c < d; ++c) {
                const double qv = double(h.q.scale[i]) * qi[c] + h.q.offset[i];
                const double kv = double(h.k_scale[j]) * kq[size_t(j) * d + c] + h.k_offset[j];
                dot += qv * kv;
            }
            logit[size_t(j)] = dot * a.scale + (a.key_bias ? a.key_bias[j] : 0.0);
        }
        const double mx = *std::max_element(logit.begin(), logit.end());
        double sum = 0;
        for (int j = 0; j < n; ++j) sum += p[size_t(j)] = std::exp(logit[size_t(j)] - mx);
        double t = 0;
        for (int j = 0; j < n; ++j) {
            p[size_t(j)] /= sum;
            if (a.probs) a.probs[size_t(i) * n + j] = float(p[size_t(j)]);
            t += p[size_t(j)] * h.v_offset[j];
            pf[size_t(j)] = float(p[size_t(j)] * h.v_scale[j]);
        }
        QuantizedRows pr;
        pr.rows = 1;
        pr.k = n;
        pr.ld = int(prow.size());
        pr.q = prow.data();
        pr.scale = &ps;
        pr.offset = &po;
        quantize_rows_reference(pf.data(), n, 1, n, pr);
        for (int c = 0; c < d; ++c) {
            double acc = 0;  // P̂'_i · V_c
            for (int j = 0; j < n; ++j) acc += (double(ps) * prow[size_t(j)] + po) * vq[size_t(c) * n + j];
            a.out[size_t(i) * a.ld_out + c] = float(acc + t);
        }
    }
}

void attention_head_int8_reference(const AttentionHead& a) {
    const int n = a.tokens, d = a.head_dim;
    std::vector<float> memory(int8_head_floats(n, d));
    const Int8Head h = int8_head_in(memory.data(), n, d);
    int8_head_clear(h);
    std::vector<int8_t> row(static_cast<size_t>(quantized_row_bytes(d)));
    QuantizedRows r;
    r.rows = 1;
    r.k = d;
    r.ld = int(row.size());
    r.q = row.data();
    for (int j = 0; j < n; ++j) {
        const float* base = nullptr;
        QuantizedRows qj = h.q;  // Q straight into its row
        qj.q += size_t(j) * h.q.ld, qj.scale += j, qj.offset += j, qj.rows = 1;
        quantize_rows_reference(a.q + size_t(j) * a.ld_qkv, a.ld_qkv, 1, d, qj);
        for (int which = 0; which < 2; ++which) {
            base = (which ? a.v : a.k) + size_t(j) * a.ld_qkv;
            r.scale = which ? h.v_scale + j : h.k_scale + j;
            r.offset = which ? h.v_offset + j : h.k_offset + j;
            quantize_rows_reference(base, a.ld_qkv, 1, d, r);
            int32_t sum = 0;
            for (int c = 0; c < d; ++c) {
                if (which) h.v_rows[size_t(j) * d + c] = row[size_t(c)];
                else h.k_panels[panel_byte(j, c, d)] = row[size_t(c)];
                sum += row[size_t(c)];
            }
            if (!which) h.k_sum[j] = sum;
        }
    }
    int8_head_finish(h);
    AttentionHeadInt8 q;
    q.head = &h;
    q.scale = a.scale;
    q.key_bias = a.key_bias;
    q.out = a.out;
    q.ld_out = a.ld_out;
    q.probs = a.probs;
    q.row_begin = a.row_begin;
    q.row_end = a.row_end;
    attention_head_int8_reference(q);
}

}  // namespace pomt
