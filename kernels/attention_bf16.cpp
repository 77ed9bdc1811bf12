#include "kernels/attention_bf16.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/bf16.h"
#include "kernels/dispatch.h"
#include "kernels/gemm_bf16.h"
#include "kernels/gemm_bf16_kernels.h"

namespace pomt {

namespace {

// 64-byte steps, so both panels start aligned.
size_t aligned_floats(size_t bf16_elems) { return (bf16_elems * 2 + 63) / 64 * 16; }

// Query rows per block: AMX's tile height, so a block's logits (32 × tokens floats) stay in L1/L2
// between the two products.
constexpr int kBlockRows = 32;

}  // namespace

int bf16_head_v_inputs(int tokens) { return (tokens + 31) / 32 * 32; }

size_t bf16_head_floats(int tokens, int head_dim) {
    return aligned_floats(bf16_panel_elems(tokens, head_dim)) +
           aligned_floats(bf16_panel_elems(head_dim, bf16_head_v_inputs(tokens)));
}

Bf16Head bf16_head_in(float* memory, int tokens, int head_dim) {
    Bf16Head h;
    h.tokens = tokens;
    h.head_dim = head_dim;
    h.k_panels = reinterpret_cast<uint16_t*>(memory);
    h.v_panels = reinterpret_cast<uint16_t*>(memory + aligned_floats(bf16_panel_elems(tokens, head_dim)));
    return h;
}

PackedWeights Bf16Head::k_weights() const { return borrow_bf16_panels(k_panels, tokens, head_dim); }
PackedWeights Bf16Head::v_weights() const { return borrow_bf16_panels(v_panels, head_dim, bf16_head_v_inputs(tokens)); }

void bf16_head_pack(const Bf16Head& h, const float* k, const float* v, int ld, int token0, int token1) {
    active_kernels().pack_bf16_head(k, v, ld, h.tokens, h.head_dim, token0, token1, h.k_panels, h.v_panels);
}

namespace {

// The thread's scratch for blocks of `rows` query rows: their logits (npad floats each), their
// bf16 probabilities (P·V's A: bf16_head_v_inputs values each), and Q rounded (the first GEMM's A).
struct Scratch {
    float* logits;
    uint16_t* p;
    void* q;
    size_t npad, kv;
};
Scratch scratch_for(int rows, int n, int d) {
    Scratch s;
    s.npad = size_t(n + 15) / 16 * 16;
    s.kv = size_t(bf16_head_v_inputs(n));
    const size_t p_floats = (size_t(rows) * s.kv * 2 + 63) / 64 * 16;
    const size_t q_floats = (gemm_bf16_scratch_bytes(rows, d) + 63) / 64 * 16;
    s.logits = thread_scratch(size_t(rows) * s.npad + p_floats + q_floats);
    s.p = reinterpret_cast<uint16_t*>(s.logits + size_t(rows) * s.npad);
    s.q = s.logits + size_t(rows) * s.npad + p_floats;
    return s;
}

const Epilogue kPlain{};

}  // namespace

void attention_head_bf16(const AttentionHeadBf16& a, const Bf16AttentionTrace* trace) {
    const Bf16Head& h = *a.head;
    const int n = h.tokens, first = a.row_begin, rows = a.rows_end() - first;
    if (n <= 0 || h.head_dim <= 0 || rows <= 0) return;
    const Bf16Kernels& kern = active_bf16_kernels();
    if (kern.attention) return kern.attention(a, trace);
    const Scratch s = scratch_for(kBlockRows, n, h.head_dim);
    const PackedWeights kw = h.k_weights(), vw = h.v_weights();
    const IsaKernels& level = active_kernels();
    for (int i0 = first; i0 < first + rows; i0 += kBlockRows) {
        const int m = std::min(kBlockRows, first + rows - i0);
        gemm_bf16(m, a.q + size_t(i0) * a.ld_q, a.ld_q, kw, s.logits, int(s.npad), kPlain, nullptr, s.q);
        for (int r = 0; r < m; ++r) {
            float* x = s.logits + size_t(r) * s.npad;
            uint16_t* p = s.p + size_t(r) * s.kv;
            const size_t out_row = size_t(i0 - first + r);
            if (trace && trace->sums) std::memcpy(trace->sums + out_row * n, x, size_t(n) * sizeof(float));
            level.softmax_bf16(x, n, a.scale, a.key_bias, p, int(s.kv));
            if (a.probs) std::memcpy(a.probs + size_t(i0 + r) * n, x, size_t(n) * sizeof(float));
            if (trace && trace->p) std::memcpy(trace->p + out_row * s.kv, p, s.kv * sizeof(uint16_t));
        }
        gemm_bf16_rounded(m, s.p, int(s.kv), vw, a.out + size_t(i0) * a.ld_out, a.ld_out, kPlain);
    }
}

void attention_head_bf16(const AttentionHead& a) {
    const int n = a.tokens, d = a.head_dim;
    if (n <= 0 || d <= 0 || a.rows_end() <= a.row_begin) return;
    // Slot 1: the products below use slot 0 for their rows.
    const Bf16Head h = bf16_head_in(thread_scratch(bf16_head_floats(n, d), 1), n, d);
    bf16_head_pack(h, a.k, a.v, a.ld_qkv, 0, n);
    AttentionHeadBf16 b;
    static_cast<AttentionRows&>(b) = a;
    b.head = &h;
    b.q = a.q;
    b.ld_q = a.ld_qkv;
    attention_head_bf16(b);
}

void attention_bf16_scores(const AttentionHeadBf16& a, float* logits, size_t ld) {
    const Bf16Head& h = *a.head;
    const int rows = a.rows_end() - a.row_begin;
    if (rows <= 0) return;
    const Scratch s = scratch_for(kBlockRows, h.tokens, h.head_dim);
    const PackedWeights kw = h.k_weights();
    Epilogue ep;  // fma(scale, sum, key_bias): the residual at stride 0 (one row for every row), the scale
    std::vector<float> scales(size_t(h.tokens), a.scale), zeros(size_t(h.tokens), 0.0f);
    ep.residual = a.key_bias ? a.key_bias : zeros.data();
    ep.scale = scales.data();
    for (int r0 = 0; r0 < rows; r0 += kBlockRows)
        gemm_bf16(std::min(kBlockRows, rows - r0), a.q + size_t(a.row_begin + r0) * a.ld_q, a.ld_q, kw,
                  logits + size_t(r0) * ld, int(ld), ep, nullptr, s.q);
}

void attention_bf16_pv(const AttentionHeadBf16& a, const float* probs, size_t ld) {
    const Bf16Head& h = *a.head;
    const int rows = a.rows_end() - a.row_begin;
    if (rows <= 0) return;
    const Scratch s = scratch_for(kBlockRows, h.tokens, h.head_dim);
    const PackedWeights vw = h.v_weights();
    const IsaKernels& level = active_kernels();
    for (int r0 = 0; r0 < rows; r0 += kBlockRows) {
        const int m = std::min(kBlockRows, rows - r0);
        for (int r = 0; r < m; ++r) {
            uint16_t* p = s.p + size_t(r) * s.kv;
            level.round_bf16(probs + size_t(r0 + r) * ld, h.tokens, p);
            std::fill(p + h.tokens, p + s.kv, uint16_t(0));
        }
        gemm_bf16_rounded(m, s.p, int(s.kv), vw, a.out + size_t(a.row_begin + r0) * a.ld_out, a.ld_out, kPlain);
    }
}

void attention_head_bf16_reference(const AttentionHead& a) {
    const int n = a.tokens, d = a.head_dim;
    auto bf = [](float x) { return double(round_to_bf16(x)); };
    std::vector<double> k(size_t(n) * d), v(size_t(n) * d), q(static_cast<size_t>(d)), logit(static_cast<size_t>(n));
    for (int j = 0; j < n; ++j)
        for (int c = 0; c < d; ++c) {
            k[size_t(j) * d + c] = bf(a.k[size_t(j) * a.ld_qkv + c]);
            v[size_t(j) * d + c] = bf(a.v[size_t(j) * a.ld_qkv + c]);
        }
    for (int i = a.row_begin; i < a.rows_end(); ++i) {
        for (int c = 0; c < d; ++c) q[size_t(c)] = bf(a.q[size_t(i) * a.ld_qkv + c]);
        for (int j = 0; j < n; ++j) {
            double dot = 0;
            for (int c = 0; c < d; ++c) dot += q[size_t(c)] * k[size_t(j) * d + c];
            logit[size_t(j)] = dot * a.scale + (a.key_bias ? a.key_bias[j] : 0.0);
        }
        const double mx = *std::max_element(logit.begin(), logit.end());
        double sum = 0;
        for (double& l : logit) sum += l = std::exp(l - mx);
        for (int j = 0; j < n; ++j) {
            logit[size_t(j)] /= sum;
            if (a.probs) a.probs[size_t(i) * n + j] = float(logit[size_t(j)]);
        }
        for (int c = 0; c < d; ++c) {
            double acc = 0;
            for (int j = 0; j < n; ++j) acc += bf(float(logit[size_t(j)])) * v[size_t(j) * d + c];
            a.out[size_t(i) * a.ld_out + c] = float(acc);
        }
    }
}

}  // namespace pomt
