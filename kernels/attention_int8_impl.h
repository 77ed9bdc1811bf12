// The fast path of kernels/attention_int8.h, written once over a float vector type V (the fp32
// level's softmax and the per-row float work) and the active int8 variant's tiles (the two
// products); instantiated per level by kernel_table (kernels/ops_impl.h). Included only there.
//
// Three stages on a block of query rows: (1) the Q·Kᵀ tiles write s_kj·(s_qi·acc + o_qi·Σ_c K_jc)
// into the logits rows, and one vector pass adds o_kj·S_i, scales and adds the key bias; (2) the
// softmax's max and exponentials (softmax_row's steps); (3) one pass normalizes them into p (written
// out when asked), accumulates T_i = Σ p·o_v and forms P' = p·s_v with its range, P' is quantized per
// row, the P'·V tiles write s_pi·acc + o_pi·Σ_j V_jc and T_i is added as the row is stored. The Session runs the three per block of R rows (R = the int8 tile's
// rows) so a block's logits stay in L1; the profiler's op mode runs each stage over every row to
// time it. No stage depends on how rows are blocked, so a row's result does not depend on the split.
#pragma once
#include <algorithm>
#include <cstring>
#include <limits>

#include "kernels/attention_int8.h"
#include "kernels/gemm_int8_kernels.h"

namespace pomt {
namespace simd {

namespace int8_attention {

constexpr Epilogue kPlain{};

// The tiles of one row block [row0, row0 + rows) over every column of w: floats into c (row
// stride ldc, the block's first row first) or the int32 sums into acc.
inline void row_block(const Int8Kernels& kern, const QuantizedRows& a, int row0, int rows, const Int8Weights& w,
                      float* c, int ldc, int32_t* acc, int ldacc) {
    const int all_panels = (w.n + kGemmPanel - 1) / kGemmPanel;
    const int col_tiles = (all_panels + kern.panels - 1) / kern.panels;
    for (int ct = 0; ct < col_tiles; ++ct)
        kern.tile(int8_tile(kern, a, w, ct, row0, row0 + rows, c, ldc, &kPlain, acc, ldacc));
}

// Stage 1 for query rows [i0, i0 + m): the logits, row r at x + r·ldx (ldx ≥ tokens rounded up to
// 16). `acc_qk` (optional): the int32 sums, row stride tokens.
template <class V>
void logits(const Int8Kernels& kern, const AttentionHeadInt8& a, int i0, int m, float* x, size_t ldx,
            int32_t* acc_qk) {
    using T = typename V::T;
    const Int8Head& h = *a.head;
    const int n = h.tokens, d = h.head_dim, L = V::lanes, nv = n / L * L;
    const Int8Weights kw = h.k_weights();
    row_block(kern, h.q, i0, m, kw, x, int(ldx), nullptr, 0);
    if (acc_qk) row_block(kern, h.q, i0, m, kw, nullptr, 0, acc_qk, n);
    const T scale = V::set1(a.scale);
    for (int r = 0; r < m; ++r) {
        float* row = x + size_t(r) * ldx;
        const int i = i0 + r;
        // S_i = Σ_c q̂_ic = s_qi·Σ_c Q_ic + d·o_qi.
        const int8_t* q = h.q.q + size_t(i) * h.q.ld;
        int32_t qsum = 0;
        for (int c = 0; c < d; ++c) qsum += q[c];
        const float S = h.q.scale[i] * float(qsum) + float(d) * h.q.offset[i];
        const T vS = V::set1(S);
        int j = 0;
        for (; j < nv; j += L) {
            const T bias = a.key_bias ? V::load(a.key_bias + j) : V::zero();
            V::store(row + j, V::fmadd(V::fmadd(V::load(h.k_offset + j), vS, V::load(row + j)), scale, bias));
        }
        for (; j < n; ++j)
            row[j] = std::fma(std::fma(h.k_offset[j], S, row[j]), a.scale, a.key_bias ? a.key_bias[j] : 0.0f);
    }
}

// Stage 3 for rows [i0, i0 + m) of x (row stride ldx; overwritten by P'): T_i, P' quantized into
// pq's rows 0..m−1, the P'·V tiles into pv (row stride dpad), and the output rows. Row r of x holds
// the probabilities p when `inv` is null, else the softmax's exponentials, which this pass
// normalizes first (p = e·inv[r], softmax_row's last step, stored to a.probs when asked for). One
// pass forms p, T_i = Σ_j p_ij·o_vj (vector lanes, then the lanes and the tail in order), P' = p·s_v
// and P''s least and greatest values; quantize_row_in_range then needs no pass of its own for them.
// `trace` (optional) receives the sums and P'.
template <class V>
void probs_times_v(const Int8Kernels& kern, const AttentionHeadInt8& a, int i0, int m, float* x, size_t ldx,
                   const float* inv, const QuantizedRows& pq, float* t_row, float* pv, int dpad,
                   const Int8AttentionTrace* trace) {
    using T = typename V::T;
    const Int8Head& h = *a.head;
    const int n = h.tokens, d = h.head_dim, L = V::lanes, nv = n / L * L;
    const float inf = std::numeric_limits<float>::infinity();
    for (int r = 0; r < m; ++r) {
        float* row = x + size_t(r) * ldx;
        float* probs = inv && a.probs ? a.probs + size_t(i0 + r) * n : nullptr;
        const float scale = inv ? inv[r] : 1.0f;
        const T iv = V::set1(scale);
        T tacc = V::zero(), mn = V::set1(inf), mx = V::set1(-inf);
        int j = 0;
        for (; j < nv; j += L) {
            T p = V::load(row + j);
            if (inv) {
                p = V::mul(p, iv);
                if (probs) V::store(probs + j, p);
            }
            tacc = V::fmadd(p, V::load(h.v_offset + j), tacc);
            const T w = V::mul(p, V::load(h.v_scale + j));
            V::store(row + j, w);
            mn = V::min(mn, w);
            mx = V::max(mx, w);
        }
        float t = V::hsum(tacc);
        // Exact: min = −max(−x), as quantize_row takes it (P' holds no −0: p ≥ 0, s_v ≥ 0).
        float lo = -V::hmax(V::sub(V::zero(), mn)), hi = V::hmax(mx);
        for (; j < n; ++j) {
            float p = row[j];
            if (inv) {
                p *= scale;
                if (probs) probs[j] = p;
            }
            t = std::fma(p, h.v_offset[j], t);
            row[j] = p * h.v_scale[j];
            lo = std::min(lo, row[j]);
            hi = std::max(hi, row[j]);
        }
        t_row[r] = t;
        int8_t* prow = pq.q + size_t(r) * pq.ld;
        kern.quantize_row_in_range(row, n, lo, hi, prow, pq.scale + r, pq.offset + r);
        std::memset(prow + n, 0, size_t(pq.ld - n));
    }
    const Int8Weights vw = h.v_weights();
    row_block(kern, pq, 0, m, vw, pv, dpad, nullptr, 0);
    const int first = a.row_begin;
    if (trace && trace->acc_pv) row_block(kern, pq, 0, m, vw, nullptr, 0, trace->acc_pv + size_t(i0 - first) * d, d);
    for (int r = 0; r < m; ++r) {
        float* o = a.out + size_t(i0 + r) * a.ld_out;
        const float* y = pv + size_t(r) * dpad;
        const T t = V::set1(t_row[r]);
        int c = 0;
        for (; c + L <= d; c += L) V::store(o + c, V::add(V::load(y + c), t));
        for (; c < d; ++c) o[c] = y[c] + t_row[r];
        if (trace && trace->p_q) {
            const size_t out_row = size_t(i0 - first + r);
            std::memcpy(trace->p_q + out_row * pq.ld, pq.q + size_t(r) * pq.ld, size_t(pq.ld));
            trace->p_scale[out_row] = pq.scale[r];
            trace->p_offset[out_row] = pq.offset[r];
        }
    }
}

// Scratch for `rows` rows of P' and the P'·V output, in the thread's buffer after `used` floats.
struct PvScratch {
    QuantizedRows pq;
    float *t_row, *inv, *pv;
    int dpad;
};
inline PvScratch pv_scratch(float* base, int rows, int n, int d) {
    PvScratch s;
    s.dpad = (d + 15) / 16 * 16;
    const int ldp = quantized_row_bytes(n);
    s.pq.rows = rows;
    s.pq.k = n;
    s.pq.ld = ldp;
    s.pq.q = reinterpret_cast<int8_t*>(base);
    const size_t pq_floats = (size_t(rows) * ldp + 3) / 4;
    s.pq.scale = base + pq_floats;
    s.pq.offset = s.pq.scale + rows;
    s.t_row = s.pq.offset + rows;
    s.inv = s.t_row + rows;
    s.pv = s.inv + rows;
    return s;
}
inline size_t pv_scratch_floats(int rows, int n, int d) {
    return (size_t(rows) * quantized_row_bytes(n) + 3) / 4 + 4 * size_t(rows) + size_t(rows) * ((d + 15) / 16 * 16);
}

}  // namespace int8_attention

template <class V>
void attention_int8(const AttentionHeadInt8& a, const Int8AttentionTrace* trace) {
    namespace ia = int8_attention;
    const Int8Head& h = *a.head;
    const int n = h.tokens, d = h.head_dim;
    if (n <= 0 || d <= 0 || a.rows_end() <= a.row_begin) return;
    const Int8Kernels& kern = active_int8_kernels();
    if (kern.begin) kern.begin();
    const int R = kern.rows;
    const size_t npad = size_t(n + 15) / 16 * 16;
    float* logits = thread_scratch(size_t(R) * npad + ia::pv_scratch_floats(R, n, d));
    const ia::PvScratch s = ia::pv_scratch(logits + size_t(R) * npad, R, n, d);
    const int first = a.row_begin, rows = a.rows_end() - first;
    const int blocks = (rows + R - 1) / R;
    for (int b = 0; b < blocks; ++b) {
        int i0, i1;
        split_range(rows, blocks, b, &i0, &i1);
        const int m = i1 - i0;
        i0 += first;
        ia::logits<V>(kern, a, i0, m, logits, npad,
                      trace && trace->acc_qk ? trace->acc_qk + size_t(i0 - first) * n : nullptr);
        // The softmax up to its sums (softmax_row's max and exponentials); its last step, the
        // scaling by 1/sum, is the first of probs_times_v's pass.
        for (int r = 0; r < m; ++r) {
            float* x = logits + size_t(r) * npad;
            s.inv[r] = 1.0f / softmax_exp_sum<V>(x, n, row_max<V>(x, n));
        }
        ia::probs_times_v<V>(kern, a, i0, m, logits, npad, s.inv, s.pq, s.t_row, s.pv, s.dpad, trace);
    }
}

// The profiler's stages (kernels/attention_int8.h, attention_int8_scores / attention_int8_pv):
// stage 1 over every query row into `logits` (row stride ld), and stage 3 from the probabilities
// there. The softmax between them is softmax_row, as in attention_int8.
template <class V>
void attention_int8_scores(const AttentionHeadInt8& a, float* logits, size_t ld) {
    const int rows = a.rows_end() - a.row_begin;
    if (rows <= 0) return;
    const Int8Kernels& kern = active_int8_kernels();
    if (kern.begin) kern.begin();
    for (int i0 = 0; i0 < rows; i0 += kern.rows)
        int8_attention::logits<V>(kern, a, a.row_begin + i0, std::min(kern.rows, rows - i0), logits + size_t(i0) * ld,
                                  ld, nullptr);
}

template <class V>
void attention_int8_pv(const AttentionHeadInt8& a, const float* probs, size_t ld) {
    namespace ia = int8_attention;
    const Int8Head& h = *a.head;
    const int n = h.tokens, rows = a.rows_end() - a.row_begin;
    if (rows <= 0) return;
    const Int8Kernels& kern = active_int8_kernels();
    if (kern.begin) kern.begin();
    const int R = kern.rows;
    // The probabilities stay as they are (a pruner reads them after the block): P' is formed in a
    // copy of each row block.
    const size_t npad = size_t(n + 15) / 16 * 16;
    float* x = thread_scratch(size_t(R) * npad + ia::pv_scratch_floats(R, n, h.head_dim));
    const ia::PvScratch s = ia::pv_scratch(x + size_t(R) * npad, R, n, h.head_dim);
    for (int i0 = 0; i0 < rows; i0 += R) {
        const int m = std::min(R, rows - i0);
        for (int r = 0; r < m; ++r) std::memcpy(x + size_t(r) * npad, probs + size_t(i0 + r) * ld, size_t(n) * sizeof(float));
        ia::probs_times_v<V>(kern, a, a.row_begin + i0, m, x, npad, nullptr, s.pq, s.t_row, s.pv, s.dpad, nullptr);
    }
}

}  // namespace simd
}  // namespace pomt
