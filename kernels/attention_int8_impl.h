// The fast path of kernels/attention_int8.h, written once over a float vector type V (the fp32
// level's softmax and the per-row float work) and the active int8 variant's tiles (the two
// products); instantiated per level by kernel_table (kernels/ops_impl.h). Included only there.
//
// Per block of R query rows (R = the int8 tile's rows): the Q·Kᵀ tiles write s_kj·(s_qi·acc +
// o_qi·Σ_c K_jc) into a logits row; one vector pass adds o_kj·S_i, scales, adds the key bias and
// takes the max; softmax_row's exp pass follows (its max pass finds the same max again, which
// costs less than a second softmax written here); one pass writes p (when asked), accumulates
// T_i = Σ p·o_v and forms P' = p·s_v; P' is quantized per row; the P'·V tiles write
// s_pi·acc + o_pi·Σ_j V_jc, and T_i is added as the row is stored. No step depends on how rows are
// blocked, so a row's result does not depend on the split.
#pragma once
#include <algorithm>
#include <cstring>

#include "kernels/attention_int8.h"
#include "kernels/gemm_int8_kernels.h"

namespace pomt {
namespace simd {

namespace int8_attention {

constexpr Epilogue kPlain{};

// The tiles of one row block [row0, row0 + rows) over every column of w: floats into c (row
// stride ldc, the tile's row 0 first) or the int32 sums into acc.
inline void row_block(const Int8Kernels& kern, const QuantizedRows& a, int row0, int rows, const Int8Weights& w,
                      float* c, int ldc, int32_t* acc, int ldacc) {
    const int all_panels = (w.n + kGemmPanel - 1) / kGemmPanel;
    for (int p0 = 0; p0 < all_panels; p0 += kern.panels) {
        Int8Tile t;
        t.row0 = row0;
        t.rows = rows;
        t.col0 = p0 * kGemmPanel;
        t.panels = std::min(kern.panels, all_panels - p0);
        t.cols = std::min(t.panels * kGemmPanel, w.n - t.col0);
        t.groups = quantized_row_bytes(w.k) / kInt8Group;
        t.a = a.q + size_t(row0) * a.ld;
        t.lda = a.ld;
        t.a_scale = a.scale + row0;
        t.a_offset = a.offset + row0;
        t.panel_stride = size_t(kGemmPanel) * quantized_row_bytes(w.k);
        t.panel = w.panels + size_t(p0) * t.panel_stride;
        t.w_scale = w.scale + t.col0;
        t.w_sum = w.sum + t.col0;
        t.c = c ? c + t.col0 : nullptr;
        t.ldc = ldc;
        t.ep = &kPlain;
        t.acc = acc ? acc + t.col0 : nullptr;
        t.ldacc = ldacc;
        kern.tile(t);
    }
}

}  // namespace int8_attention

template <class V>
void attention_int8(const AttentionHeadInt8& a, const Int8AttentionTrace* trace) {
    using T = typename V::T;
    using int8_attention::row_block;
    const Int8Head& h = *a.head;
    const int n = h.tokens, d = h.head_dim, L = V::lanes;
    if (n <= 0 || d <= 0 || a.rows_end() <= a.row_begin) return;
    const Int8Kernels& kern = active_int8_kernels();
    const Int8Weights kw = h.k_weights(), vw = h.v_weights();
    const int R = kern.rows;
    // Scratch: logits / p / P' rows [R × npad], P'q [R × ldp], its scales and offsets, T [R], the
    // P'·V rows [R × dpad]. npad and dpad are whole vectors past the last column.
    const int npad = (n + 15) / 16 * 16, dpad = (d + 15) / 16 * 16, ldp = quantized_row_bytes(n);
    const size_t pq_floats = (size_t(R) * ldp + 3) / 4;
    float* logits = thread_scratch(size_t(R) * npad + pq_floats + 3 * size_t(R) + size_t(R) * dpad);
    int8_t* pq_bytes = reinterpret_cast<int8_t*>(logits + size_t(R) * npad);
    float* p_scale = logits + size_t(R) * npad + pq_floats;
    float* p_offset = p_scale + R;
    float* t_row = p_offset + R;
    float* pv = t_row + R;
    QuantizedRows pq;
    pq.rows = R;
    pq.k = n;
    pq.ld = ldp;
    pq.q = pq_bytes;
    pq.scale = p_scale;
    pq.offset = p_offset;

    const int first = a.row_begin, rows = a.rows_end() - first;
    const int blocks = (rows + R - 1) / R;
    const int nv = n / L * L;  // whole vectors; the rest one value at a time
    const T scale = V::set1(a.scale);
    for (int b = 0; b < blocks; ++b) {
        int i0, i1;
        split_range(rows, blocks, b, &i0, &i1);
        const int m = i1 - i0;
        i0 += first;
        row_block(kern, h.q, i0, m, kw, logits, npad, nullptr, 0);
        if (trace && trace->acc_qk) row_block(kern, h.q, i0, m, kw, nullptr, 0, trace->acc_qk + size_t(i0 - first) * n, n);
        for (int r = 0; r < m; ++r) {
            float* x = logits + size_t(r) * npad;
            const int i = i0 + r;
            // S_i = Σ_c q̂_ic = s_qi·Σ_c Q_ic + d·o_qi.
            const int8_t* qrow = h.q.q + size_t(i) * h.q.ld;
            int32_t qsum = 0;
            for (int c = 0; c < d; ++c) qsum += qrow[c];
            const float S = h.q.scale[i] * float(qsum) + float(d) * h.q.offset[i];
            const T vS = V::set1(S);
            int j = 0;
            for (; j < nv; j += L) {
                const T bias = a.key_bias ? V::load(a.key_bias + j) : V::zero();
                V::store(x + j, V::fmadd(V::fmadd(V::load(h.k_offset + j), vS, V::load(x + j)), scale, bias));
            }
            for (; j < n; ++j)
                x[j] = std::fma(std::fma(h.k_offset[j], S, x[j]), a.scale, a.key_bias ? a.key_bias[j] : 0.0f);
            softmax_row<V>(x, n);
            if (a.probs) std::memcpy(a.probs + size_t(i) * n, x, size_t(n) * sizeof(float));
            // T_i = Σ_j p_ij·o_vj (vector lanes, then the lanes and the tail in order), P' = p·s_v.
            T tacc = V::zero();
            for (j = 0; j < nv; j += L) {
                const T p = V::load(x + j);
                tacc = V::fmadd(p, V::load(h.v_offset + j), tacc);
                V::store(x + j, V::mul(p, V::load(h.v_scale + j)));
            }
            float t = V::hsum(tacc);
            for (; j < n; ++j) {
                t = std::fma(x[j], h.v_offset[j], t);
                x[j] *= h.v_scale[j];
            }
            t_row[r] = t;
            int8_t* prow = pq_bytes + size_t(r) * ldp;
            kern.quantize_row(x, n, prow, p_scale + r, p_offset + r);
            std::memset(prow + n, 0, size_t(ldp - n));
        }
        row_block(kern, pq, 0, m, vw, pv, dpad, nullptr, 0);
        if (trace && trace->acc_pv) row_block(kern, pq, 0, m, vw, nullptr, 0, trace->acc_pv + size_t(i0 - first) * d, d);
        for (int r = 0; r < m; ++r) {
            float* o = a.out + size_t(i0 + r) * a.ld_out;
            const float* y = pv + size_t(r) * dpad;
            const T t = V::set1(t_row[r]);
            int c = 0;
            for (; c + L <= d; c += L) V::store(o + c, V::add(V::load(y + c), t));
            for (; c < d; ++c) o[c] = y[c] + t_row[r];
            if (trace && trace->p_q) {
                const size_t row = size_t(i0 - first + r);
                std::memcpy(trace->p_q + row * ldp, pq_bytes + size_t(r) * ldp, size_t(ldp));
                trace->p_scale[row] = p_scale[r];
                trace->p_offset[row] = p_offset[r];
            }
        }
    }
}

}  // namespace simd
}  // namespace pomt
